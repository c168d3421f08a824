// The hash table fuzzer (native/core/table.h): drives one Table directly,
// where the store cannot reach: hashes chosen to collide (same 20-bit tag,
// same home slot, same full hash), a lowered tag_home_capacity so that small
// tables take the path of huge ones (home slots recomputed from keys),
// Reserve's promise, moves, and the erase-while-walking pattern the TTL
// sweep relies on. Compared with a std::map after every operation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"

namespace threadkv::fuzz {

// "" when the table and the model agreed throughout, else a report that
// starts with kMismatchBanner.
std::string RunTableOps(const uint8_t* data, size_t size, const HarnessOptions& options);

}  // namespace threadkv::fuzz
