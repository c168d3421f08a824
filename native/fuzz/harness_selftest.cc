// The harnesses can fail: a deliberately wrong model (THREADKV_FUZZ_FAULT's
// faults, see fuzz_util.h) must be reported as a mismatch on an input that
// passes without it. Also checks that the fixed hash seed is in effect.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "core/hash.h"
#include "core_harness.h"
#include "fuzz_util.h"
#include "table_harness.h"

namespace threadkv::fuzz {
namespace {

TEST(FuzzHarness, UsesTheFixedHashSeed) { EXPECT_EQ(HashSeed(), kFuzzHashSeed); }

// Store config (shards 1, v8, policy none, no limits, no TTL), then
// Put "k0" = 3 short bytes with the default expiry, then Read "k0".
constexpr uint8_t kCoreInput[] = {
    0,          0,       0, 0, 0, /*Put*/ 0, /*k0*/ 0, /*short bytes*/ 0, 3, 'a', /*expiry*/ 0,
    /*Read*/ 2, /*k0*/ 0};

TEST(FuzzHarness, CoreInputPasses) { EXPECT_EQ(RunCoreOps(kCoreInput, sizeof kCoreInput, {}), ""); }

TEST(FuzzHarness, CoreModelThatForgetsAWriteIsCaught) {
  const std::string report = RunCoreOps(kCoreInput, sizeof kCoreInput, {.fault = 1});
  EXPECT_EQ(report.rfind(kMismatchBanner, 0), 0u) << report;
  EXPECT_NE(report.find("operation #2: Read"), std::string::npos) << report;
}

// Table config (mode 0), then Upsert "t0", Find "t0".
constexpr uint8_t kTableInput[] = {0, 0, /*Upsert*/ 0, /*t0*/ 0, /*Find*/ 3, /*t0*/ 0};

TEST(FuzzHarness, TableInputPasses) { EXPECT_EQ(RunTableOps(kTableInput, sizeof kTableInput, {}), ""); }

TEST(FuzzHarness, TableModelThatForgetsAnInsertIsCaught) {
  const std::string report = RunTableOps(kTableInput, sizeof kTableInput, {.fault = 1});
  EXPECT_EQ(report.rfind(kMismatchBanner, 0), 0u) << report;
}

}  // namespace
}  // namespace threadkv::fuzz
