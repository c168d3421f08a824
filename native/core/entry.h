// One stored key-value pair: a single heap block holding a small header,
// then the key bytes, then the value bytes. One allocation per entry, made
// outside any lock by the writer, and freed outside the lock by whoever
// unlinked it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
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

struct Entry {
  uint64_t version;    // set under the shard's write lock; unique per key
  uint32_t key_size;
  uint32_t value_size;
  Kind kind;
  uint8_t flags;
  // Set by readers under the shared lock (eviction policies read it); atomic
  // so that concurrent readers setting it are not a data race.
  std::atomic<uint8_t> visited{0};
  uint8_t reserved{0};

  const char* key_data() const { return reinterpret_cast<const char*>(this + 1); }
  char* key_data() { return reinterpret_cast<char*>(this + 1); }
  const uint8_t* value_data() const { return reinterpret_cast<const uint8_t*>(key_data() + key_size); }
  uint8_t* value_data() { return reinterpret_cast<uint8_t*>(key_data() + key_size); }
  std::string_view key() const { return {key_data(), key_size}; }

  // Bytes the entry costs beyond its key and value: the header here plus the
  // allocator's bookkeeping (estimated as one 16-byte word) plus the table
  // slot (counted by the table, see Table::kSlotBytes).
  size_t footprint() const { return sizeof(Entry) + key_size + value_size; }
};

static_assert(sizeof(Entry) == 24, "Entry header grew; update the memory figures in docs/design.md");

struct EntryDeleter {
  void operator()(Entry* e) const noexcept;
};
using EntryPtr = std::unique_ptr<Entry, EntryDeleter>;

// Allocates an entry with room for `key` and `value_size` value bytes and
// copies the key in. The caller fills value_data() and kind.
EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags = 0);

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
