// Status codes returned by the core. The binding maps each to a JS error
// (lib/errors.ts holds every message); the core never throws for expected
// outcomes, only std::bad_alloc escapes. Key and value sizes are checked by
// the binding (against Options::max_key_bytes / max_value_bytes) before an
// entry is made, so no status speaks of them.
#pragma once

#include <cstdint>

namespace threadkv {

enum class Status : uint8_t {
  kOk = 0,
  kNotFound,        // key absent (not an error for get/has/delete)
  kDestroyed,       // the store was destroyed (Registry::Destroy); every handle is now unusable
  kExists,          // Insert: the key was already present (nothing written)
  kMismatch,        // CompareAndPut / CompareAndErase: the expected version did not match
  kNotNumber,       // Increment: the key holds a value that is not a number
  kOutOfRange,      // Increment: the result (or an operand) is outside what a counter holds
  kFullEntries,     // the write would pass the store's max_entries (nothing written)
  kFullBytes,       // the write would pass the store's max_bytes (nothing written)
  kTooBigForLimit,  // the entry alone (or an atomic batch) passes max_bytes / max_entries
  kNoRoom,          // internal (Shards::Admit): make room elsewhere and retry; never returned by Store
};

}  // namespace threadkv
