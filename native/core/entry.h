// One stored key-value pair: a single heap block holding a small header,
// then the key bytes, then the value bytes (and, in front of the header, the
// eviction queue links when the store evicts). One allocation per entry,
// made outside any lock by the writer, and freed outside the lock by whoever
// unlinked it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <string_view>

#include "timer_wheel.h"

namespace threadkv {

// How the value bytes are to be read back. The binding picks the kind from
// the JS value; the core only stores it.
enum class Kind : uint8_t {
  kBytes = 0,  // opaque bytes (v8-serialized, or a `buffer` codec value)
  kString,     // WTF-8 text (UTF-8, lone surrogates kept; see wtf8.h)
  kFloat64,    // 8 bytes, a double
  kInt64,      // 8 bytes, a signed 64-bit integer (counters)
  kTrue,       // no bytes
  kFalse,      // no bytes
  kNull,       // no bytes
  kUndefined,  // no bytes
};

// Entry::flags bits.
inline constexpr uint8_t kFlagLoneSurrogates = 1;  // kString holds a lone surrogate
inline constexpr uint8_t kFlagAscii = 2;           // kString is all ASCII (so also its Latin-1 form)

// Entry::expires_at values that are not deadlines.
inline constexpr int64_t kNoExpiry = 0;
inline constexpr int64_t kDefaultExpiry = -1;

// Entry::layout bits: how MakeEntry laid out the entry's block (fixed for
// the entry's life). The block is [EntryLinks][TimerLinks][header][key][value],
// each prefix present only when its bit is set.
inline constexpr uint8_t kLayoutLinks = 1;  // an EntryLinks (SIEVE queue) starts the block
inline constexpr uint8_t kLayoutTimer = 2;  // a TimerLinks (timer wheel) sits right before the header

// What an entry costs beyond its key and value bytes, as the byte limit
// (Options::max_bytes) and stats().bytes count it: its 32-byte header, its
// 8-byte table slot and malloc's 8-byte chunk header, 48 bytes; 16 more for
// an entry that can have a deadline (its timer wheel links: an entry written
// with a TTL, or into a store with a default ttl), and 16 more in a store that
// evicts (SIEVE: the queue links). That is what the store really spends per entry, except what
// the allocator and the table add on top and no entry owns alone: malloc
// rounds each block up to 16 bytes (0 to 15 more), and a slot array runs
// between 3/8 and 3/4 full (docs/operations.md measures both).
inline constexpr size_t kSlotCharge = 8;         // Table::kSlotBytes (checked in shard.h)
inline constexpr size_t kMallocChunkHeader = 8;  // glibc's per-chunk size word
inline constexpr size_t kQueueLinkBytes = 16;    // sizeof(EntryLinks) (checked below)
inline constexpr size_t kTimerLinkBytes = 16;    // sizeof(TimerLinks) (checked below)

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
                           // freed after the lock (class Retired, shard.h)
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
  // Bytes of the block in front of the header (the links `layout` says it
  // has: 0, 16 or 32), set by MakeEntry with it: footprint() and the free of
  // every entry read it, a load where working it out from `layout` took
  // eight instructions on each put's path three times (callgrind). It sits
  // in what was padding: the header stays 32 bytes.
  uint8_t prefix{0};
  // When the entry expires, in nanoseconds on its store's clock (clock.h);
  // kNoExpiry for never, kDefaultExpiry until the store applies its own
  // ttl_ms when linking the entry in. Written under the write lock only;
  // read under either lock. Whether a deadline has passed is the store's
  // question (ShardEnv::Expired), since only the store knows its clock.
  int64_t expires_at{kDefaultExpiry};

  bool HasDeadline() const { return expires_at > 0; }

  // The SIEVE queue links at the start of the block; only when has_links().
  bool has_links() const { return (layout & kLayoutLinks) != 0; }
  EntryLinks& links() {
    // Behind the timer links when there are any (no branch: kLayoutTimer * 8
    // is their size).
    static_assert(kLayoutTimer * 8 == sizeof(TimerLinks));
    char* at = reinterpret_cast<char*>(this) - sizeof(EntryLinks) - (layout & kLayoutTimer) * 8;
    return *std::launder(reinterpret_cast<EntryLinks*>(at));
  }
  // The timer wheel links right before the header; only when has_timer().
  // Every entry with a deadline in a table has them (Shards::Fit).
  bool has_timer() const { return (layout & kLayoutTimer) != 0; }
  TimerLinks& timer() {
    return *std::launder(reinterpret_cast<TimerLinks*>(reinterpret_cast<char*>(this) - sizeof(TimerLinks)));
  }
  static Entry& FromTimer(TimerLinks& l) {
    return *std::launder(reinterpret_cast<Entry*>(reinterpret_cast<char*>(&l) + sizeof(TimerLinks)));
  }
  // Bytes of the block in front of the header (the links it has).
  size_t prefix_size() const { return prefix; }

  const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
  char* key_data() { return reinterpret_cast<char*>(this + 1); }
  const uint8_t* value_data() const { return reinterpret_cast<const uint8_t*>(key_data() + key_size); }
  uint8_t* value_data() { return reinterpret_cast<uint8_t*>(key_data() + key_size); }
  std::string_view key() const { return {key_data(), key_size}; }

  // Bytes of the entry's block: the header (and the links it has), key and
  // value. Not counted: the allocator's bookkeeping and the table slot (see
  // charge()).
  size_t footprint() const { return prefix_size() + sizeof(Entry) + key_size + value_size; }
  // What the entry costs against a byte limit (EntryChargeFor).
  uint64_t charge() const { return footprint() + kSlotCharge + kMallocChunkHeader; }
};

static_assert(sizeof(Entry) == 32, "Entry header grew; update the per-entry charge in docs/operations.md");

// The per-entry charge beyond key and value of an entry without links (add
// kQueueLinkBytes in a store that evicts, kTimerLinkBytes for an entry that
// can have a deadline): 48.
inline constexpr size_t kEntryOverhead = sizeof(Entry) + kSlotCharge + kMallocChunkHeader;
static_assert(kQueueLinkBytes == sizeof(EntryLinks));
static_assert(kTimerLinkBytes == sizeof(TimerLinks));

// The charge of an entry with `key_size` and `value_size` bytes, with queue
// links (`links`: a store that evicts) or not, and with timer links
// (`timer`: an entry that can have a deadline) or not: the one definition
// the core, the binding and lib/ use.
constexpr uint64_t EntryChargeFor(uint64_t key_size, uint64_t value_size, bool links, bool timer = false) {
  return key_size + value_size + kEntryOverhead + (links ? kQueueLinkBytes : 0) + (timer ? kTimerLinkBytes : 0);
}

struct EntryDeleter {
  void operator()(Entry* e) const noexcept;
};
using EntryPtr = std::unique_ptr<Entry, EntryDeleter>;

namespace entry_detail {

// Every entry block is 16-byte aligned: a table slot keeps 4 bits of the
// key's hash in the low bits of the entry's address (table.h). malloc gives
// 16 bytes on every 64-bit platform we build for (glibc, musl, macOS,
// Windows); MakeEntry checks rather than assumes, and hands what malloc gave
// (`mem`, for `size` bytes) here when it is null or not aligned: this throws
// std::bad_alloc, or returns an aligned block (on POSIX it asks for the
// alignment explicitly). Plain malloc first, because rounding the size up to
// 16 for aligned_alloc can cost glibc a bigger chunk.
inline constexpr size_t kEntryAlign = 16;
void* AllocateBlockSlow(void* mem, size_t size);

}  // namespace entry_detail

// Allocates an entry with room for `key` and `value_size` value bytes and
// copies the key in; with `with_links`, the block starts with EntryLinks
// (stores with the SIEVE policy need them), and with `with_timer` a
// TimerLinks comes right before the header (an entry with a deadline needs
// them): use Store::NewEntry, which chooses. The header is always 16-byte
// aligned (table slots rely on it). The caller fills value_data() and kind.
// Inline: every put makes one, and a call with eight arguments (two on the
// stack) cost a put of a short string some 25 instructions (callgrind).
inline EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags = 0,
                          bool with_links = false, bool with_timer = false) {
  const size_t queue = with_links ? sizeof(EntryLinks) : 0;
  const size_t prefix = queue + (with_timer ? sizeof(TimerLinks) : 0);
  const size_t size = prefix + sizeof(Entry) + key.size() + value_size;
  void* mem = std::malloc(size);
  if (mem == nullptr || (reinterpret_cast<uintptr_t>(mem) & (entry_detail::kEntryAlign - 1)) != 0) [[unlikely]]
    mem = entry_detail::AllocateBlockSlow(mem, size);
  char* block = static_cast<char*>(mem);
  if (with_links) new (block) EntryLinks();
  if (with_timer) new (block + queue) TimerLinks();
  auto* e = new (block + prefix) Entry();
  e->version = 0;
  e->key_size = static_cast<uint32_t>(key.size());
  e->value_size = static_cast<uint32_t>(value_size);
  e->kind = kind;
  e->flags = flags;
  e->layout = static_cast<uint8_t>((with_links ? kLayoutLinks : 0) | (with_timer ? kLayoutTimer : 0));
  e->prefix = static_cast<uint8_t>(prefix);
  if (!key.empty()) std::memcpy(e->key_data(), key.data(), key.size());
  return EntryPtr(e);
}

// A copy of `e` (key, value, kind, flags, version, deadline, visited bit)
// laid out with `layout` (kLayout* bits): for an entry that gets a deadline
// but was made without timer links.
EntryPtr CopyEntry(const Entry& e, uint8_t layout);

}  // namespace threadkv
