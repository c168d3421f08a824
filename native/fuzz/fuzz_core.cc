// libFuzzer target: the store's operations against a model (core_harness.h).
// Built with -fsanitize=fuzzer,address,undefined by THREADKV_FUZZ=ON (clang),
// and without libFuzzer into fuzz_core_replay, which replays corpus/core and
// regressions/core in every `npm run test:native` build.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "core_harness.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const threadkv::fuzz::CoreHarnessOptions options{threadkv::fuzz::FaultFromEnv(),
                                                          threadkv::fuzz::TraceFromEnv()};
  const std::string report = threadkv::fuzz::RunCoreOps(data, size, options);
  if (!report.empty()) {
    std::fputs(report.c_str(), stderr);
    std::fflush(stderr);
    std::abort();  // libFuzzer saves the input as a crash-* reproducer
  }
  return 0;
}
