// Stress tests of the counter, insert and batch operations, complementing the
// CompoundThreads tests of compound_test.cc: more threads than cores, started
// together, with readers running alongside the writers (so TSAN watches the
// in-place counter writes against shared-lock reads) and invariants that a
// lost update or a torn batch would violate. See stress_test.cc for the
// conventions.
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "core/entry.h"
#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;

using testing::Failures;
using testing::GetString;
using testing::MakeValueEntry;
using testing::Scaled;
using testing::SizesOf;
using testing::SmallOptions;

template <class Fn>
void RunTogether(size_t n, Fn fn) {
  std::latch start(static_cast<std::ptrdiff_t>(n));
  std::vector<std::thread> threads;
  threads.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&start, &fn, i] {
      start.arrive_and_wait();
      fn(i);
    });
  }
  for (auto& t : threads) t.join();
}

// The int64 under `key` (an Increment counter), or -1 when absent.
int64_t CounterOf(const Store& s, std::string_view key) {
  int64_t v = -1;
  (void)s.Read(key, s.Hash(key), [&](const Entry& e) {
    Number n;
    if (ReadNumber(e, &n) && n.kind == Kind::kInt64) v = n.i;
  });
  return v;
}

// Concurrent Increments of a few counters lose nothing; readers copying the
// 8 bytes Increment rewrites in place never see a counter go down.
TEST(StressOps, IncrementsAreExactAndReadersSeeThemInOrder) {
  const size_t kWriters = 10;
  const size_t kReaders = 4;
  const size_t kCounters = 3;
  const size_t kIncrements = Scaled(100000, 300);
  Store store("counters", SmallOptions(2));
  Failures failures;
  std::atomic<size_t> writers_done{0};
  RunTogether(kWriters + kReaders, [&](size_t id) {
    if (id < kWriters) {
      for (size_t i = 0; i < kIncrements; ++i) {
        const std::string key = Cat("c", (id + i) % kCounters);
        Number r;
        if (store.Increment(key, store.Hash(key), 1, &r) != Status::kOk || r.kind != Kind::kInt64 || r.i < 1)
          failures.Add("increment failed");
      }
      writers_done.fetch_add(1);
      return;
    }
    std::vector<int64_t> last(kCounters, 0);
    for (size_t n = 0; writers_done.load() < kWriters || n < 100; ++n) {
      const size_t k = n % kCounters;
      const int64_t v = CounterOf(store, Cat("c", k));
      if (v == -1) continue;  // not created yet
      if (v < last[k]) failures.Add("counter went down");
      last[k] = v;
      if (n % 16 == 0) std::this_thread::yield();
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  int64_t total = 0;
  for (size_t k = 0; k < kCounters; ++k) total += CounterOf(store, Cat("c", k));
  EXPECT_EQ(total, static_cast<int64_t>(kWriters * kIncrements));
}

// Racing Inserts of the same keys: exactly one wins each key, and the stored
// value is the winner's.
TEST(StressOps, RacingInsertsHaveExactlyOneWinnerPerKey) {
  const size_t kThreads = 12;
  const size_t kKeys = Scaled(20000, 100);
  Store store("insert", SmallOptions(8));
  std::vector<std::vector<uint8_t>> won(kThreads, std::vector<uint8_t>(kKeys, 0));
  RunTogether(kThreads, [&](size_t t) {
    for (size_t k = 0; k < kKeys; ++k) {
      const std::string key = Cat("k", k);
      const Status st = store.Insert(store.Hash(key), MakeValueEntry(store, key, std::to_string(t)));
      won[t][k] = st == Status::kOk ? 1 : st == Status::kExists ? 0 : 2;
    }
  });
  for (size_t k = 0; k < kKeys; ++k) {
    size_t winners = 0;
    size_t winner = 0;
    for (size_t t = 0; t < kThreads; ++t) {
      ASSERT_NE(won[t][k], 2) << "unexpected status";
      if (won[t][k] == 1) {
        ++winners;
        winner = t;
      }
    }
    ASSERT_EQ(winners, 1u) << "key " << k;
    std::string v;
    ASSERT_EQ(GetString(store, Cat("k", k), &v), Status::kOk);
    ASSERT_EQ(v, std::to_string(winner));
  }
  EXPECT_EQ(SizesOf(store).entries, kKeys);
}

// Atomic batches are all-or-nothing to ReadMany: writers put one generation
// under every key of a group (keys in different shards) in one atomic
// PutMany, or erase the whole group in one atomic EraseMany; a ReadMany of
// the group must see one generation everywhere, or nothing anywhere.
TEST(StressOps, AtomicBatchesAreSeenWholeByReadMany) {
  const size_t kWriters = 6;
  const size_t kReaders = 6;
  const size_t kGroup = 12;
  const size_t kBatches = Scaled(4000, 100);
  Store store("batches", SmallOptions(16));
  std::vector<std::string> keys;
  for (size_t i = 0; i < kGroup; ++i) keys.push_back(Cat("g", i));
  std::vector<KeyRef> refs;
  for (const auto& k : keys) refs.push_back({k, store.Hash(k)});
  Failures failures;
  std::atomic<size_t> writers_done{0};
  std::atomic<uint64_t> whole_reads{0};
  RunTogether(kWriters + kReaders, [&](size_t id) {
    if (id < kWriters) {
      for (size_t b = 0; b < kBatches; ++b) {
        // Every fifth batch erases the group, but never the last one: the
        // store ends full, so readers that run after the writers (n < 100
        // below) always see a whole batch, however the threads were scheduled.
        if (b % 5 == 4 && b + 1 < kBatches) {
          size_t erased = 0;
          if (store.EraseMany(refs, true, &erased) != Status::kOk) failures.Add("erase-many failed");
          if (erased != 0 && erased != kGroup) failures.Add(Cat("erase-many erased part of a group: ", erased));
          continue;
        }
        const std::string gen = std::to_string(id) + Cat(":", b);
        std::vector<HashedEntry> batch;
        batch.reserve(kGroup);
        for (const auto& k : keys) batch.push_back({store.Hash(k), MakeValueEntry(store, k, gen)});
        if (store.PutMany(batch, true) != Status::kOk) failures.Add("put-many failed");
      }
      writers_done.fetch_add(1);
      return;
    }
    for (size_t n = 0; writers_done.load() < kWriters || n < 100; ++n) {
      std::vector<std::string> seen(kGroup);
      size_t present = 0;
      if (store.ReadMany(refs, [&](size_t i, const Entry* e) {
            if (e != nullptr) {
              seen[i] = testing::ValueOf(*e);
              ++present;
            }
          }) != Status::kOk)
        failures.Add("read-many failed");
      if (present != 0 && present != kGroup) {
        failures.Add(Cat("torn batch: ", present) + Cat(" of ", kGroup) + " keys");
      } else if (present == kGroup) {
        for (size_t i = 1; i < kGroup; ++i)
          if (seen[i] != seen[0]) failures.Add("torn batch: " + seen[0] + " vs " + seen[i]);
        whole_reads.fetch_add(1);
      }
      if (n % 8 == 0) std::this_thread::yield();
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  EXPECT_GT(whole_reads.load(), 0u);
  const StoreSizes s = SizesOf(store);
  EXPECT_TRUE(s.entries == 0 || s.entries == kGroup) << s.entries;
}

}  // namespace
}  // namespace threadkv
