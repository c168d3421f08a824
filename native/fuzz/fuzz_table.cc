// libFuzzer target: one hash table driven directly, with colliding hashes
// and the huge-table code path (table_harness.h). Built like fuzz_core.cc.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "table_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const threadkv::fuzz::HarnessOptions options = threadkv::fuzz::HarnessOptions::FromEnv();
  threadkv::fuzz::AbortOnReport(threadkv::fuzz::RunTableOps(data, size, options));
  return 0;
}
