// Writer fairness of the shard lock (rwlock.h): a writer waiting on a shard
// is not overtaken forever by new readers. Readers of one hot key hold its
// shard's shared lock in overlapping turns, so that some reader holds it at
// every moment: a reader-preferring lock (glibc's default) would let them
// in ahead of the waiting writer for as long as they keep coming. The
// readers stop only once the writer is done, or after a bound; the test
// checks the order of those two events, not a time.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::PutString;

TEST(Fairness, AWriterCompletesWhileReadersSpinOnItsKey) {
  Store s("t", testing::SmallOptions(1));
  ASSERT_EQ(PutString(s, "hot", "v"), Status::kOk);
  const uint64_t h = s.Hash("hot");
  constexpr int kReaders = 4;
  constexpr int kWrites = 50;
  std::atomic<bool> writer_done{false};
  std::atomic<bool> readers_gave_up{false};
  std::atomic<int> reading{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < kReaders; ++t) {
    readers.emplace_back([&] {
      const auto bound = std::chrono::steady_clock::now() + std::chrono::seconds(20);
      while (!writer_done.load()) {
        if (std::chrono::steady_clock::now() > bound) {
          readers_gave_up = true;
          return;
        }
        (void)s.Read("hot", h, [&](const Entry&) {
          // Hold the shared lock for a while (200 us), so that the readers'
          // turns overlap.
          reading.fetch_add(1);
          const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
          while (std::chrono::steady_clock::now() < until) {
          }
          reading.fetch_sub(1);
        });
      }
    });
  }
  while (reading.load() == 0) std::this_thread::yield();  // the readers are in
  for (int i = 0; i < kWrites; ++i) ASSERT_EQ(PutString(s, "hot", std::to_string(i)), Status::kOk);
  // The writer got its turns while the readers were still at it.
  const bool in_time = !readers_gave_up.load();
  writer_done = true;
  for (auto& th : readers) th.join();
  EXPECT_TRUE(in_time) << "the writer was held off until the readers stopped";
  std::string v;
  ASSERT_EQ(testing::GetString(s, "hot", &v), Status::kOk);
  EXPECT_EQ(v, std::to_string(kWrites - 1));
}

}  // namespace
}  // namespace threadkv
