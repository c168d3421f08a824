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

}  // namespace threadkv
