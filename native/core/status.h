// Status codes returned by the core. The binding maps each to a JS error
// (lib/errors.ts holds every message); the core never throws for expected
// outcomes, only std::bad_alloc escapes.
#pragma once

#include <cstdint>

namespace threadkv {

enum class Status : uint8_t {
  kOk = 0,
  kNotFound,        // key absent (not an error for get/has/delete)
  kDestroyed,       // Store::Destroy ran; every handle is now unusable
  kKeyTooLong,      // key longer than Options::max_key_bytes
  kValueTooLarge,   // encoded value longer than Options::max_value_bytes
  kExists,          // Insert: the key was already present (nothing written)
  kMismatch,        // CompareAndPut / CompareAndErase: the expected version did not match
  kNotNumber,       // Increment: the key holds a value that is not a number
  kOutOfRange,      // Increment: the result (or an operand) is outside what a counter holds
  kFullEntries,     // policy kNone: the write would pass the shard's max_entries (nothing written)
  kFullBytes,       // policy kNone: the write would pass the shard's max_bytes (nothing written)
  kTooBigForLimit,  // the entry alone (or an atomic batch's entries in one shard) is over the shard's budget
};

}  // namespace threadkv
