// The operation fuzzer of the store (native/core/store.h): decodes a fuzz
// input into a store configuration and a sequence of operations, runs them
// on a fresh Store and, side by side, on a model (a std::map plus the rules
// the store documents), and compares every result. See README.md here for
// the input format and what is checked.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"

namespace threadkv::fuzz {

// Runs one input. Returns "" when the store and the model agreed on every
// result, else a report that starts with kMismatchBanner (fuzz_util.h). A
// memory error or undefined behaviour is left to the sanitizers.
std::string RunCoreOps(const uint8_t* data, size_t size, const HarnessOptions& options);

}  // namespace threadkv::fuzz
