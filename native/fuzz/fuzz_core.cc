// libFuzzer target: the store's operations against a model (core_harness.h).
// Built with -fsanitize=fuzzer,address,undefined by THREADKV_FUZZ=ON (clang),
// and without libFuzzer into fuzz_core_replay, which replays corpus/core and
// regressions/core in every `npm run test:native` build.
#include <cstddef>
#include <cstdint>

#include "core_harness.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const threadkv::fuzz::HarnessOptions options = threadkv::fuzz::HarnessOptions::FromEnv();
  threadkv::fuzz::AbortOnReport(threadkv::fuzz::RunCoreOps(data, size, options));
  return 0;
}
