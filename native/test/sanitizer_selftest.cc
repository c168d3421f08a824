// The sanitizer self-test: deliberate bugs that the sanitizers MUST report.
// Built only with -DTHREADKV_SANITIZER_SELFTEST=ON (and THREADKV_SANITIZE set),
// never in a normal run. A clean exit from any test here means the sanitizer
// did not run, and so a clean run of the real tests proves nothing.
// scripts/test-native.js --selftest runs each test alone and checks that it
// fails with the expected report.
#include <gtest/gtest.h>

#include <atomic>
#include <climits>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "core/store.h"
#include "core/table.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::MakeValueEntry;

#if defined(THREADKV_SELFTEST_TSAN)
// A Table is protected by its shard's lock. Used from two threads without
// the lock, TSAN must report the race between Upsert (writer) and Find
// (reader) in the core's own code. Replaced entries are kept alive, so the
// race is the only bug.
TEST(SanitizerSelftest, TsanDataRaceOnUnlockedTable) {
  Table table;
  table.Upsert(1, MakeValueEntry("k", "v0"));
  std::vector<EntryPtr> replaced;
  std::atomic<size_t> sink{0};
  std::thread writer([&] {
    for (int i = 0; i < 1000; ++i) replaced.push_back(table.Upsert(1, MakeValueEntry("k", "v1")));
  });
  std::thread reader([&] {
    for (int i = 0; i < 1000; ++i) {
      const Entry* e = table.Find(1, "k");
      if (e != nullptr) sink.fetch_add(e->value_size, std::memory_order_relaxed);
    }
  });
  writer.join();
  reader.join();
  EXPECT_GT(sink.load(), 0u);
}
#endif

#if defined(THREADKV_SELFTEST_ASAN)
// Store::Read's contract: the callback must copy what it needs, the entry may
// be freed once the shard lock is released. Keeping a pointer and using it
// after an Erase is a heap-use-after-free that ASan must report.
TEST(SanitizerSelftest, AsanUseAfterFreeOfReadEntry) {
  Options o;
  o.shards = 2;
  Store store("selftest", o);
  ASSERT_EQ(testing::PutString(store, "k", "value"), Status::kOk);
  const Entry* kept = nullptr;
  ASSERT_EQ(store.Read("k", store.Hash("k"), [&](const Entry& e) { kept = &e; }), Status::kOk);
  ASSERT_EQ(testing::EraseString(store, "k"), Status::kOk);  // frees the entry
  volatile uint32_t size = kept->value_size;                 // use after free
  EXPECT_EQ(size, 5u);
}

// An entry released from its EntryPtr and dropped: LeakSanitizer must report
// it at exit. Leaked on a thread that then exits, so that no register or
// stack slot of a live thread still points at it.
TEST(SanitizerSelftest, LsanLeakedEntry) {
  std::thread([] {
    Entry* e = MakeValueEntry("leaked", std::string(100, 'x')).release();
    e->version = 1;
  }).join();
}
#endif

#if defined(THREADKV_SELFTEST_UBSAN)
// Signed overflow: UBSan (with -fno-sanitize-recover) must stop the test.
TEST(SanitizerSelftest, UbsanSignedOverflow) {
  volatile int32_t big = INT32_MAX;
  const int32_t wrapped = big + 1;
  EXPECT_LT(wrapped, 0);
}
#endif

}  // namespace
}  // namespace threadkv
