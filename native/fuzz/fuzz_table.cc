// libFuzzer target: one hash table driven directly, with colliding hashes
// and the huge-table code path (table_harness.h). Built like fuzz_core.cc.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "fuzz_util.h"
#include "table_harness.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const threadkv::fuzz::TableHarnessOptions options{threadkv::fuzz::FaultFromEnv(),
                                                           threadkv::fuzz::TraceFromEnv()};
  const std::string report = threadkv::fuzz::RunTableOps(data, size, options);
  if (!report.empty()) {
    std::fputs(report.c_str(), stderr);
    std::fflush(stderr);
    std::abort();  // libFuzzer saves the input as a crash-* reproducer
  }
  return 0;
}
