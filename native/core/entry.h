// One stored key-value pair: a single heap block holding a small header,
// then the key bytes, then the value bytes (and, in front of the header, the
// eviction queue links when the store evicts). One allocation per entry,
// made outside any lock by the writer, and freed outside the lock by whoever
// unlinked it.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <string_view>

namespace threadkv {

// How the value bytes are to be read back. The binding picks the kind from
// the JS value; the core only stores it.
enum class Kind : uint8_t {
  kBytes = 0,   // opaque bytes (v8-serialized, or a `buffer` codec value)
  kString,      // WTF-8 text (UTF-8, lone surrogates kept; see wtf8.h)
  kFloat64,     // 8 bytes, a double
  kInt64,       // 8 bytes, a signed 64-bit integer (counters)
  kTrue,        // no bytes
  kFalse,       // no bytes
  kNull,        // no bytes
  kUndefined,   // no bytes
};

// Entry::flags bits.
inline constexpr uint8_t kFlagLoneSurrogates = 1;  // kString holds a lone surrogate
inline constexpr uint8_t kFlagAscii = 2;           // kString is all ASCII (so also its Latin-1 form)

inline constexpr int64_t kNoExpiry = 0;
inline constexpr int64_t kDefaultExpiry = -1;

// The monotonic clock every expiry is measured on, in nanoseconds.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Entry::layout bits: how MakeEntry laid out the entry's block (fixed for
// the entry's life).
inline constexpr uint8_t kLayoutLinks = 1;  // an EntryLinks precedes the header

struct Entry;

// The shard's eviction queue (SIEVE), newest at the head: intrusive links,
// touched only under the shard's write lock. Only stores with the SIEVE
// policy queue their entries, so only their entries carry links: MakeEntry
// puts them in front of the header (Entry::links()), and a plain store's
// entries do without those 16 bytes.
struct EntryLinks {
  Entry* newer{nullptr};
  Entry* older{nullptr};
};
// A multiple of 16, so that the header behind it keeps the block's 16-byte
// alignment (table slots use the low 4 bits of an entry's address as tag).
static_assert(sizeof(EntryLinks) == 16, "EntryLinks must keep the header 16-byte aligned");

struct Entry {
  union {
    uint64_t version;      // set under the shard's write lock; unique per key
    Entry* next_unlinked;  // once unlinked from its table: the chain of entries
                           // a write frees after its lock (class Evicted)
  };
  uint32_t key_size;
  uint32_t value_size;
  Kind kind;
  uint8_t flags;
  // Set by readers under the shared lock (the SIEVE eviction policy reads
  // and clears it under the write lock); atomic so that concurrent readers
  // setting it are not a data race, mutable because readers see a const
  // Entry. Readers store it relaxed, and only when it is not already set, so
  // that a hot entry's cache line is not written on every read.
  mutable std::atomic<uint8_t> visited{0};
  // Under the write lock only: set while an atomic batch links its entries
  // in, so that eviction never removes a key of the same batch.
  uint8_t pinned{0};
  // kLayout* bits, set by MakeEntry.
  uint8_t layout{0};
  // When the entry expires, on std::chrono::steady_clock in nanoseconds
  // (SteadyNowNs); kNoExpiry for never, kDefaultExpiry until the store
  // applies its own ttl_ms when linking the entry in. Written under the
  // write lock only; read under either lock.
  int64_t expires_at{kDefaultExpiry};

  // True when the entry has a deadline and it has passed (the clock is read
  // only for entries that have one).
  bool Expired() const { return expires_at > 0 && expires_at <= SteadyNowNs(); }
  bool HasDeadline() const { return expires_at > 0; }

  // The SIEVE queue links in front of the header; only when has_links().
  bool has_links() const { return (layout & kLayoutLinks) != 0; }
  EntryLinks& links() {
    return *std::launder(reinterpret_cast<EntryLinks*>(reinterpret_cast<char*>(this) - sizeof(EntryLinks)));
  }

  const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
  char* key_data() { return reinterpret_cast<char*>(this + 1); }
  const uint8_t* value_data() const { return reinterpret_cast<const uint8_t*>(key_data() + key_size); }
  uint8_t* value_data() { return reinterpret_cast<uint8_t*>(key_data() + key_size); }
  std::string_view key() const { return {key_data(), key_size}; }

  // Bytes of the entry's block in front of its key: the header, and the
  // queue links when it has them.
  size_t header_bytes() const { return sizeof(Entry) + (has_links() ? sizeof(EntryLinks) : 0); }
  // Bytes of the header, key and value: what every entry has (a store adds
  // its entries' queue links when it reports memory, see Store::Sizes). Not
  // counted: the allocator's bookkeeping and the table slot (Table::kSlotBytes).
  size_t footprint() const { return sizeof(Entry) + key_size + value_size; }
};

static_assert(sizeof(Entry) == 32, "Entry header grew; update the per-entry overhead in docs/operations.md");

// What one entry costs beyond its key and value bytes, as a byte limit
// (Options::max_bytes) and the store's stats count it: a fixed 72 bytes
// (documented in docs/api.md and docs/operations.md). It is at least what
// the store really spends per entry: the 32-byte header, the 16-byte queue
// links of a SIEVE store's entries, one 8-byte table slot (Table::kSlotBytes;
// the slot array runs at most 3/4 full, so this is a floor) and 8 bytes of
// malloc's chunk header (glibc): 48 bytes, 64 with the links (store.h checks
// that it stays a bound).
inline constexpr size_t kEntryOverhead = 72;

struct EntryDeleter {
  void operator()(Entry* e) const noexcept;
};
using EntryPtr = std::unique_ptr<Entry, EntryDeleter>;

// Allocates an entry with room for `key` and `value_size` value bytes and
// copies the key in; with `with_links`, the block starts with EntryLinks
// (stores with the SIEVE policy need them: use Store::NewEntry, which
// chooses). The header is always 16-byte aligned (table slots rely on it).
// The caller fills value_data() and kind.
EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags = 0, bool with_links = false);

// ---- Numbers, as counters (Store::Increment) see them. ----

// A number held by an entry: kind kInt64 (in `i`) or kFloat64 (in `d`).
struct Number {
  Kind kind = Kind::kInt64;
  int64_t i = 0;
  double d = 0;

  static Number Int(int64_t v) { return {Kind::kInt64, v, 0}; }
  static Number Float(double v) { return {Kind::kFloat64, 0, v}; }
  double value() const { return kind == Kind::kInt64 ? static_cast<double>(i) : d; }
};

// Bytes of a number's value (either kind).
inline constexpr size_t kNumberBytes = 8;

// Reads the number `e` holds: a kInt64 or kFloat64 value, or, when
// `json_text` is set (a store with the json codec, whose set() stores a
// number as its JSON text), a kString value whose whole text is a JSON
// number (RFC 8259 grammar: "5", "-1.5e3"; not " 5", "05", "0x1", "NaN").
// JSON integers of up to 15 digits are read exactly as kInt64, other JSON
// numbers as the nearest double. Returns false for anything else.
bool ReadNumber(const Entry& e, bool json_text, Number* out);

// True if `e` can take a number in place (same size, a number kind).
inline bool HoldsNumberInPlace(const Entry& e) {
  return e.value_size == kNumberBytes && (e.kind == Kind::kInt64 || e.kind == Kind::kFloat64);
}

// Writes `n` as e's value and kind. e.value_size must be kNumberBytes.
void WriteNumber(Entry& e, const Number& n);

}  // namespace threadkv
