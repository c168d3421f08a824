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

TEST(Limits, TheLimitsAreTheStoresAsGiven) {
  Store s("t", Limited(8, 100, 1001));
  EXPECT_EQ(s.max_entries(), 100u);
  EXPECT_EQ(s.max_bytes(), 1001u);
  Store u("u", Limited(8, 0, 0));
  EXPECT_EQ(u.max_entries(), 0u);
  EXPECT_EQ(u.max_bytes(), 0u);
}

// Exact whatever the shard count: the n-th distinct key is refused (policy
// none) or evicts (SIEVE) only when n - 1 are held, never earlier or later.
TEST(Limits, MaxEntriesIsExactAcrossShards) {
  for (uint32_t shards : {1u, 64u, 4096u}) {
    if (testing::kTsan && shards > 64) continue;  // TSAN's lock-order detector holds at most 64 locks
    for (EvictionPolicy p : {EvictionPolicy::kNone, EvictionPolicy::kSieve}) {
      SCOPED_TRACE(Cat("shards ", shards) + (p == EvictionPolicy::kNone ? " none" : " sieve"));
      Store s("t", Limited(shards, 10, 0, p));
      for (int i = 0; i < 10; ++i) ASSERT_EQ(PutString(s, Cat("k", i), "v"), Status::kOk) << i;
      EXPECT_EQ(StatsOf(s).entries, 10u);
      EXPECT_EQ(StatsOf(s).evictions, 0u);
      const Status eleventh = PutString(s, "k10", "v");
      if (p == EvictionPolicy::kNone) {
        EXPECT_EQ(eleventh, Status::kFullEntries);
      } else {
        EXPECT_EQ(eleventh, Status::kOk);
        EXPECT_EQ(StatsOf(s).evictions, 1u);
      }
      EXPECT_EQ(StatsOf(s).entries, 10u);
    }
  }
}

// An entry fits if it fits the store's byte budget, not a shard's share.
TEST(Limits, MaxBytesIsExactAcrossShards) {
  Store s("t", Limited(64, 0, 1 << 20, EvictionPolicy::kNone));
  const std::string big(50 << 10, 'x');
  uint64_t held = 0;
  for (int i = 0; i < 20; ++i) {
    const std::string k = Cat("big", i);
    ASSERT_EQ(PutString(s, k, big), Status::kOk) << i;
    held += EntryChargeFor(k.size(), big.size(), false);
  }
  EXPECT_EQ(StatsOf(s).bytes, held);  // 1,025,050 of 1,048,576
  EXPECT_EQ(PutString(s, "big20", big), Status::kFullBytes);
  // A maxBytes of 4000 takes entries until 4000, not until a shard's 63 bytes.
  Store small("u", Limited(64, 0, 4000, EvictionPolicy::kNone));
  uint64_t want = 0;
  int n = 0;
  for (uint64_t used = 0;; ++want) {
    used += EntryChargeFor(Cat("k", want).size(), 1, false);
    if (used > 4000) break;
  }
  while (PutString(small, Cat("k", n), "v") == Status::kOk) ++n;
  EXPECT_EQ(static_cast<uint64_t>(n), want);
  EXPECT_EQ(want, 77u);
}

// 8 writers at once, distinct keys: with policy none exactly max_entries
// writes succeed (none refused while the store was below the limit, none
// accepted past it); with SIEVE the store ends exactly full and a sampler
// never sees it over. Bytes likewise.
TEST(Limits, ExactUnderConcurrentWriters) {
  for (uint32_t shards : {1u, 64u, 4096u}) {
    if (testing::kTsan && shards > 64) continue;  // TSAN's lock-order detector holds at most 64 locks
    for (EvictionPolicy p : {EvictionPolicy::kNone, EvictionPolicy::kSieve}) {
      SCOPED_TRACE(Cat("shards ", shards) + (p == EvictionPolicy::kNone ? " none" : " sieve"));
      constexpr uint64_t kMax = 500;
      const uint64_t max_bytes = 300 * EntryChargeFor(8, 10, p == EvictionPolicy::kSieve);
      Store s("t", Limited(shards, kMax, max_bytes, p));
      const size_t per_thread = testing::Scaled(2000, 200);
      std::atomic<uint64_t> stored{0};
      std::atomic<bool> stop{false};
      std::atomic<bool> over{false};
      std::atomic<bool> odd_status{false};
      // Sizes() is atomic over the whole store (Stats() is not: it reads
      // the shards in turn, and may count an entry evicted from a shard it
      // read earlier beside the one that took its place in a later shard).
      std::thread sampler([&] {
        while (!stop.load()) {
          StoreSizes z;
          if (s.Sizes(&z) != Status::kOk) continue;
          const uint64_t charged = z.bytes + z.entries * (kSlotCharge + kMallocChunkHeader);
          if (z.entries > kMax || charged > max_bytes) over = true;
        }
      });
      std::vector<std::thread> writers;
      for (int t = 0; t < 8; ++t) {
        writers.emplace_back([&, t] {
          for (size_t i = 0; i < per_thread; ++i) {
            // Keys of 8 bytes, values of 10: every entry costs the same.
            std::string k = Cat(Cat("", t), i % 1000000);
            k.resize(8, '_');
            const Status st = PutString(s, k, "0123456789");
            if (st == Status::kOk)
              stored.fetch_add(1);
            else if (st != Status::kFullEntries && st != Status::kFullBytes)
              odd_status = true;
          }
        });
      }
      for (auto& th : writers) th.join();
      stop = true;
      sampler.join();
      EXPECT_FALSE(over.load()) << "the store held more than its limits";
      EXPECT_FALSE(odd_status.load()) << "a write failed with neither kOk nor kFull*";
      const StoreStats st = StatsOf(s);
      EXPECT_EQ(st.entries, 300u);  // the byte limit binds first: 300 entries
      EXPECT_EQ(st.bytes, max_bytes);
      if (p == EvictionPolicy::kNone)
        EXPECT_EQ(stored.load(), 300u);
      else
        EXPECT_EQ(stored.load(), 8 * per_thread);
    }
  }
}

TEST(Limits, EntryChargeIsWhatAnEntrySpends) {
  // Header 32 + slot 8 + malloc's chunk header 8; queue links 16 more.
  EXPECT_EQ(kEntryOverhead, 48u);
  EXPECT_EQ(kQueueLinkBytes, 16u);
  EntryPtr e = MakeValueEntry("abc", "hello");
  EXPECT_EQ(Store::Cost(*e), 3u + 5u + 48u);
  EXPECT_EQ(e->charge(), EntryChargeFor(3, 5, false));
  Store sieve("t", Limited(1, 10, 0));
  EntryPtr l = MakeValueEntry(sieve, "abc", "hello");
  EXPECT_EQ(Store::Cost(*l), 3u + 5u + 64u);
  EXPECT_EQ(l->charge(), EntryChargeFor(3, 5, true));
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
  EXPECT_EQ(StatsOf(s).entries, 5000u / EntryChargeFor(7, 100, true));
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
    Store s("t", Limited(2, 0, 400, p));
    ASSERT_EQ(PutString(s, "a", "small"), Status::kOk);
    EXPECT_EQ(PutString(s, "big", std::string(400, 'x')), Status::kTooBigForLimit);
    EXPECT_EQ(s.Insert(s.Hash("big"), MakeValueEntry(s, "big", std::string(400, 'x'))), Status::kTooBigForLimit);
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
  ASSERT_EQ(PutString(s, "a", std::string(100, 'x')), Status::kOk);              // 1 + 100 + 48 = 149
  EXPECT_EQ(PutString(s, "b", std::string(110, 'x')), Status::kFullBytes);       // 149 + 159 > 300
  EXPECT_EQ(PutString(s, "a", std::string(200, 'x')), Status::kOk);              // 249: a replacement that fits
  EXPECT_EQ(PutString(s, "b", std::string(10, 'x')), Status::kFullBytes);        // 249 + 59 > 300
  EXPECT_EQ(PutString(s, "a", std::string(300, 'x')), Status::kTooBigForLimit);  // 349 alone
  EXPECT_EQ(StatsOf(s).bytes, EntryChargeFor(1, 200, false));
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
  // Eleven keys can never fit a store of ten: refused whole.
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
