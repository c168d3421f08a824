// Capacity limits and SIEVE eviction in the core: per-shard budgets, the
// kNone policy's refusal, a write never evicting its own key, atomic batches
// never evicting each other, the hot set surviving scans, stats counters,
// and readers marking entries visited concurrently with evicting writers.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/registry.h"
#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;

Options Limited(uint32_t shards, uint64_t max_entries, uint64_t max_bytes,
                EvictionPolicy policy = EvictionPolicy::kSieve) {
  Options o;
  o.shards = shards;
  o.max_entries = max_entries;
  o.max_bytes = max_bytes;
  o.eviction = policy;
  return o;
}

StoreStats StatsOf(const Store& s) {
  StoreStats st;
  EXPECT_EQ(s.Stats(&st), Status::kOk);
  return st;
}

TEST(Limits, PerShardBudgetIsCeilOfLimitOverShards) {
  Store s("t", Limited(8, 100, 1001));
  EXPECT_EQ(s.shard_max_entries(), 13u);
  EXPECT_EQ(s.shard_max_bytes(), 126u);
  Store u("u", Limited(8, 0, 0));
  EXPECT_EQ(u.shard_max_entries(), 0u);
  EXPECT_EQ(u.shard_max_bytes(), 0u);
}

TEST(Limits, EntryOverheadFigure) {
  EXPECT_EQ(kEntryOverhead, 72u);
  EntryPtr e = MakeValueEntry("abc", "hello");
  EXPECT_EQ(Store::Cost(*e), 3u + 5u + 72u);
}

TEST(Limits, SieveKeepsEntryCountAtTheLimit) {
  Store s("t", Limited(1, 50, 0));
  for (int i = 0; i < 1000; ++i) {
    ASSERT_EQ(PutString(s, Cat("k", i), "v"), Status::kOk);
    ASSERT_LE(StatsOf(s).entries, 50u);
  }
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.entries, 50u);
  EXPECT_EQ(st.evictions, 950u);
  EXPECT_EQ(st.sets, 1000u);
}

TEST(Limits, SieveKeepsBytesAtTheLimit) {
  Store s("t", Limited(1, 0, 5000));
  const std::string value(100, 'x');
  for (int i = 0; i < 500; ++i) {
    ASSERT_EQ(PutString(s, Cat("key", 1000 + i), value), Status::kOk);
    ASSERT_LE(StatsOf(s).bytes, 5000u);
  }
  EXPECT_EQ(StatsOf(s).entries, 5000u / (7 + 100 + 72));
}

TEST(Limits, WriteNeverEvictsItsOwnKey) {
  Store s("t", Limited(1, 3, 0));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(PutString(s, Cat("pre", i), "v"), Status::kOk);
  for (int round = 0; round < 100; ++round) {
    for (int i = 0; i < 3; ++i) (void)GetString(s, Cat("pre", i), nullptr);  // every other entry visited
    const std::string key = Cat("new", round);
    ASSERT_EQ(PutString(s, key, "v"), Status::kOk);
    ASSERT_EQ(GetString(s, key, nullptr), Status::kOk) << round;
  }
}

TEST(Limits, TooBigEntryIsRefusedWhateverThePolicy) {
  for (EvictionPolicy p : {EvictionPolicy::kNone, EvictionPolicy::kSieve}) {
    Store s("t", Limited(2, 0, 400, p));  // 200 bytes per shard
    ASSERT_EQ(PutString(s, "a", "small"), Status::kOk);
    EXPECT_EQ(PutString(s, "big", std::string(200, 'x')), Status::kTooBigForLimit);
    EXPECT_EQ(s.Insert(s.Hash("big"), MakeValueEntry(s, "big", std::string(200, 'x'))), Status::kTooBigForLimit);
    EXPECT_EQ(GetString(s, "big", nullptr), Status::kNotFound);
    EXPECT_EQ(StatsOf(s).entries, 1u);
  }
}

TEST(Limits, PolicyNoneRefusesAndChangesNothing) {
  Store s("t", Limited(1, 2, 0, EvictionPolicy::kNone));
  ASSERT_EQ(PutString(s, "a", "1"), Status::kOk);
  ASSERT_EQ(PutString(s, "b", "2"), Status::kOk);
  EXPECT_EQ(PutString(s, "c", "3"), Status::kFullEntries);
  EXPECT_EQ(s.Insert(s.Hash("c"), MakeValueEntry(s, "c", "3")), Status::kFullEntries);
  EXPECT_EQ(s.CompareAndPut(s.Hash("c"), MakeValueEntry(s, "c", "3"), kExpectAbsent), Status::kFullEntries);
  Number n;
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kFullEntries);
  EXPECT_EQ(PutString(s, "a", "replaced"), Status::kOk);  // a replacement does not grow the count
  std::vector<HashedEntry> batch;
  batch.push_back({s.Hash("b"), MakeValueEntry(s, "b", "x")});
  batch.push_back({s.Hash("c"), MakeValueEntry(s, "c", "x")});
  EXPECT_EQ(s.PutMany(batch, true), Status::kFullEntries);
  std::string v;
  EXPECT_EQ(GetString(s, "b", &v), Status::kOk);
  EXPECT_EQ(v, "2");
  EXPECT_EQ(GetString(s, "c", nullptr), Status::kNotFound);
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.entries, 2u);
  EXPECT_EQ(st.evictions, 0u);
}

TEST(Limits, PolicyNoneBytes) {
  Store s("t", Limited(1, 0, 300, EvictionPolicy::kNone));
  ASSERT_EQ(PutString(s, "a", std::string(100, 'x')), Status::kOk);  // 173
  EXPECT_EQ(PutString(s, "b", std::string(100, 'x')), Status::kFullBytes);
  EXPECT_EQ(PutString(s, "a", std::string(200, 'x')), Status::kOk);              // 273: a replacement that fits
  EXPECT_EQ(PutString(s, "b", std::string(10, 'x')), Status::kFullBytes);        // 273 + 83 > 300
  EXPECT_EQ(PutString(s, "a", std::string(240, 'x')), Status::kTooBigForLimit);  // 313 alone
}

TEST(Limits, AtomicBatchNeverEvictsItsOwnKeys) {
  Store s("t", Limited(1, 10, 0));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(PutString(s, Cat("old", i), "v"), Status::kOk);
  std::vector<HashedEntry> batch;
  for (int i = 0; i < 10; ++i) {
    const std::string k = Cat("b", i);
    batch.push_back({s.Hash(k), MakeValueEntry(s, k, "v")});
  }
  ASSERT_EQ(s.PutMany(batch, true), Status::kOk);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(GetString(s, Cat("b", i), nullptr), Status::kOk) << i;
  EXPECT_EQ(StatsOf(s).entries, 10u);
  // Eleven keys can never fit one shard of ten: refused whole.
  std::vector<HashedEntry> too_many;
  for (int i = 0; i < 11; ++i) {
    const std::string k = Cat("c", i);
    too_many.push_back({s.Hash(k), MakeValueEntry(s, k, "v")});
  }
  EXPECT_EQ(s.PutMany(too_many, true), Status::kTooBigForLimit);
  EXPECT_EQ(GetString(s, "c0", nullptr), Status::kNotFound);
}

TEST(Limits, HotSetSurvivesScansLargerThanTheCapacity) {
  Store s("t", Limited(1, 100, 0));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(PutString(s, Cat("hot", i), "v"), Status::kOk);
  int scan = 0;
  for (int round = 0; round < 50; ++round) {
    for (int i = 0; i < 20; ++i) ASSERT_EQ(GetString(s, Cat("hot", i), nullptr), Status::kOk) << round << " " << i;
    for (int j = 0; j < 60; ++j) ASSERT_EQ(PutString(s, Cat("scan", scan++), "v"), Status::kOk);
  }
  EXPECT_EQ(StatsOf(s).entries, 100u);
}

TEST(Limits, EraseClearAndReplaceKeepTheQueueConsistent) {
  Store s("t", Limited(1, 8, 0));
  for (int i = 0; i < 5000; ++i) {
    ASSERT_EQ(PutString(s, Cat("k", i % 41), "v"), Status::kOk);
    if (i % 3 == 0) (void)testing::EraseString(s, Cat("k", (i * 7) % 41));
    if (i % 97 == 0) {
      ASSERT_EQ(s.Clear(), Status::kOk);
    }
    if (i % 5 == 0) (void)GetString(s, Cat("k", (i * 3) % 41), nullptr);
    ASSERT_LE(StatsOf(s).entries, 8u);
  }
}

TEST(Limits, StatsCountHitsMissesSetsDeletes) {
  Store s("t", testing::SmallOptions(4));
  ASSERT_EQ(PutString(s, "a", "1"), Status::kOk);
  (void)GetString(s, "a", nullptr);
  (void)GetString(s, "zz", nullptr);
  (void)testing::EraseString(s, "a");
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.misses, 1u);
  EXPECT_EQ(st.sets, 1u);
  EXPECT_EQ(st.deletes, 1u);
}

// Readers set visited bits under the shared lock while writers evict (and
// clear the bits) under the write lock: TSAN must see no race, and the
// limit must hold throughout.
TEST(Limits, ConcurrentReadersAndEvictingWriters) {
  Store s("t", Limited(4, 200, 0));
  const size_t iterations = testing::Scaled(50000, 500);
  std::atomic<bool> over{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < iterations; ++i) {
        const std::string k = Cat(Cat("w", t) + "-", i % 1000);
        if (i % 2 == 0)
          (void)PutString(s, k, "value");
        else
          (void)GetString(s, Cat(Cat("w", (t + 1) % 4) + "-", i % 1000), nullptr);
        if (i % 512 == 0) {
          StoreStats st;
          (void)s.Stats(&st);
          if (st.entries > 200) over = true;
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_FALSE(over.load());
  EXPECT_LE(StatsOf(s).entries, 200u);
}

// ---- Time to live ----

EntryPtr WithDeadline(const Store& s, std::string_view key, std::string_view value, int64_t deadline) {
  EntryPtr e = MakeValueEntry(s, key, value);
  e->expires_at = deadline;
  return e;
}

TEST(Ttl, ExpiredEntryIsInvisibleToEveryOperation) {
  Store s("t", testing::SmallOptions(2));
  const int64_t past = SteadyNowNs() - 1;
  ASSERT_EQ(s.Put(s.Hash("k"), WithDeadline(s, "k", "v", SteadyNowNs() + 1'000'000'000)), Status::kOk);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kOk);
  ASSERT_EQ(s.Expire("k", s.Hash("k"), past), Status::kOk);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(s.Expire("k", s.Hash("k"), kNoExpiry), Status::kNotFound);
  EXPECT_EQ(testing::EraseString(s, "k"), Status::kNotFound);  // removed, as an expiration
  ASSERT_EQ(s.Put(s.Hash("j"), WithDeadline(s, "j", "v", past)), Status::kOk);
  EXPECT_EQ(testing::SizesOf(s).entries, 0u);
  EXPECT_EQ(s.Insert(s.Hash("j"), MakeValueEntry(s, "j", "new")), Status::kOk);  // absent: inserts
  std::string v;
  EXPECT_EQ(GetString(s, "j", &v), Status::kOk);
  EXPECT_EQ(v, "new");
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.expirations, 2u);
  EXPECT_EQ(st.deletes, 0u);
}

TEST(Ttl, DefaultTtlAppliesAtLinkAndInfinityOverrides) {
  Options o = testing::SmallOptions(1);
  o.ttl_ms = 1;
  Store s("t", o);
  ASSERT_EQ(PutString(s, "default", "v"), Status::kOk);
  ASSERT_EQ(s.Put(s.Hash("never"), WithDeadline(s, "never", "v", kNoExpiry)), Status::kOk);
  Number n;
  ASSERT_EQ(s.Increment("ctr", s.Hash("ctr"), 1, &n), Status::kOk);
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(GetString(s, "default", nullptr), Status::kNotFound);
  EXPECT_EQ(GetString(s, "ctr", nullptr), Status::kNotFound);
  EXPECT_EQ(GetString(s, "never", nullptr), Status::kOk);
}

TEST(Ttl, SweepReclaimsExpiredEntriesAndClearsTheFlag) {
  Store s("t", testing::SmallOptions(4));
  const int64_t later = SteadyNowNs() + 3'600'000'000'000;  // an hour
  for (int i = 0; i < 2000; ++i) {
    const std::string k = Cat("k", i);
    ASSERT_EQ(s.Put(s.Hash(k), WithDeadline(s, k, "v", later)), Status::kOk);
  }
  ASSERT_EQ(PutString(s, "stay", "v"), Status::kOk);
  EXPECT_TRUE(s.has_ttl());
  EXPECT_EQ(s.SweepExpired(16), 0u);  // nothing expired yet
  EXPECT_TRUE(s.has_ttl());
  const int64_t past = SteadyNowNs() - 1;
  for (int i = 0; i < 2000; ++i) {
    const std::string k = Cat("k", i);
    ASSERT_EQ(s.Expire(k, s.Hash(k), past), Status::kOk);
  }
  EXPECT_EQ(s.SweepExpired(16), 2000u);
  EXPECT_FALSE(s.has_ttl());
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.entries, 1u);
  EXPECT_EQ(st.expirations, 2000u);
  EXPECT_EQ(st.bytes, Store::Cost(*MakeValueEntry("stay", "v")));
}

TEST(Ttl, SieveEvictsExpiredEntriesFirst) {
  Store s("t", Limited(1, 3, 0));
  ASSERT_EQ(PutString(s, "a", "v"), Status::kOk);
  ASSERT_EQ(s.Put(s.Hash("b"), WithDeadline(s, "b", "v", SteadyNowNs() - 1)), Status::kOk);
  ASSERT_EQ(PutString(s, "c", "v"), Status::kOk);
  (void)GetString(s, "a", nullptr);
  (void)GetString(s, "c", nullptr);
  ASSERT_EQ(PutString(s, "d", "v"), Status::kOk);
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.expirations, 1u);
  EXPECT_EQ(st.evictions, 0u);
  EXPECT_EQ(GetString(s, "a", nullptr), Status::kOk);
}

// Writers add entries with deadlines a few microseconds out while readers
// read them and a sweeper thread sweeps: no race (TSAN), and the byte
// accounting adds up at the end.
TEST(Ttl, ConcurrentSweepReadsAndWrites) {
  Store s("t", Limited(4, 500, 0));
  const size_t iterations = testing::Scaled(30000, 300);
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load()) (void)s.SweepExpired(32);
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = 0; i < iterations; ++i) {
        const std::string k = Cat(Cat("w", t) + "-", i % 700);
        if (i % 2 == 0)
          (void)s.Put(s.Hash(k), WithDeadline(s, k, "v", SteadyNowNs() + static_cast<int64_t>(i % 50) * 1000));
        else
          (void)GetString(s, k, nullptr);
      }
    });
  }
  for (auto& th : threads) th.join();
  stop = true;
  sweeper.join();
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  (void)s.SweepExpired();
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.entries, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_FALSE(s.has_ttl());
}

// The background sweeper (one thread for the process, woken by the first
// entry with a deadline) reclaims a registered store's expired entries with
// no call on the store at all.
TEST(Ttl, BackgroundSweeperReclaimsWithoutAccess) {
  OpenResult r = Registry::Instance().Open("limits-test-sweeper", testing::SmallOptions(4), 0);
  ASSERT_TRUE(r.store);
  Store& s = *r.store;
  const int64_t soon = SteadyNowNs() + 20'000'000;  // 20 ms
  for (int i = 0; i < 1000; ++i) {
    const std::string k = Cat("k", i);
    ASSERT_EQ(s.Put(s.Hash(k), WithDeadline(s, k, "v", soon)), Status::kOk);
  }
  StoreStats st = StatsOf(s);
  for (int waited = 0; waited < 5000 && st.entries != 0; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    st = StatsOf(s);
  }
  EXPECT_EQ(st.entries, 0u);
  EXPECT_EQ(st.bytes, 0u);
  EXPECT_EQ(st.expirations, 1000u);
  EXPECT_EQ(st.hits + st.misses, 0u);
  EXPECT_TRUE(Registry::Instance().Destroy("limits-test-sweeper"));
}

}  // namespace
}  // namespace threadkv
