// Multi-threaded stress tests of the core: more threads than cores, started
// together behind a latch, each checking invariants that a lost update, a torn
// read, a broken lock or a use-after-free would violate. Under TSAN and ASan
// the same runs also check for races and memory errors.
//
// Worker threads never call gtest assertions: they record violations in a
// Failures object, and the main thread asserts after joining.
//
// Iteration counts are scaled by THREADKV_STRESS_SCALE (default 1) and are
// smaller under the sanitizers (see StressScale in test_util.h).
#include <gtest/gtest.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <latch>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/hash.h"
#include "core/registry.h"
#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;

using testing::Failures;
using testing::Footprint;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::Scaled;
using testing::SizesOf;
using testing::SmallOptions;

// Runs fn(0..n-1) on n threads that start together.
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

std::string Str(const char* what, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return std::string(what) + Cat(" (", a) + Cat(", ", b) + Cat(", ", c) + ")";
}

// ---------------------------------------------------------------------------
// Disjoint writers: each thread owns its keys and keeps a model of them; the
// store must end up holding exactly the union of the models, byte for byte.

std::string OwnedValue(size_t thread, size_t key, uint64_t gen) {
  // 0..80 bytes, content derived from (thread, key, generation).
  std::string v((thread * 7 + key * 13 + gen * 3) % 81, '\0');
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<char>('a' + (thread + key + gen + i) % 26);
  return v;
}

TEST(Stress, DisjointWritersEveryKeyHasItsExactValue) {
  const size_t kThreads = 16;
  const size_t kKeys = Scaled(4000, 100);
  const size_t kOps = Scaled(50000, 300);
  Store store("disjoint", SmallOptions(4));  // few shards: contention, and tables grow and shrink under it
  Failures failures;
  std::vector<std::map<size_t, std::string>> models(kThreads);
  RunTogether(kThreads, [&](size_t t) {
    std::mt19937_64 rng(t + 1);
    auto& model = models[t];
    auto key_of = [t](size_t k) { return Cat("t", t) + Cat("/", k); };
    for (size_t op = 0; op < kOps; ++op) {
      const size_t k = rng() % kKeys;
      const std::string key = key_of(k);
      const uint64_t r = rng() % 10;
      if (r < 6) {
        const std::string v = OwnedValue(t, k, op);
        if (PutString(store, key, v) != Status::kOk) failures.Add("put failed: " + key);
        model[k] = v;
      } else if (r < 9) {
        const Status st = testing::EraseString(store, key);
        const bool had = model.erase(k) == 1;
        if (st != (had ? Status::kOk : Status::kNotFound)) failures.Add("erase status: " + key);
      } else {
        std::string got;
        const Status st = GetString(store, key, &got);
        auto it = model.find(k);
        if (it == model.end() ? st != Status::kNotFound : (st != Status::kOk || got != it->second))
          failures.Add("read mismatch while running: " + key);
      }
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();

  uint64_t entries = 0;
  uint64_t bytes = 0;
  for (size_t t = 0; t < kThreads; ++t) {
    for (size_t k = 0; k < kKeys; ++k) {
      const std::string key = Cat("t", t) + Cat("/", k);
      std::string got;
      const Status st = GetString(store, key, &got);
      auto it = models[t].find(k);
      if (it == models[t].end()) {
        ASSERT_EQ(st, Status::kNotFound) << key;
      } else {
        ASSERT_EQ(st, Status::kOk) << key;
        ASSERT_EQ(got, it->second) << key;
        ++entries;
        bytes += Footprint(key, got);
      }
    }
  }
  const StoreSizes sizes = SizesOf(store);
  EXPECT_EQ(sizes.entries, entries);
  EXPECT_EQ(sizes.bytes, bytes);
  EXPECT_EQ(store.Clear(), Status::kOk);
  const StoreSizes cleared = SizesOf(store);
  EXPECT_EQ(cleared.entries, 0u);
  EXPECT_EQ(cleared.bytes, 0u);
  EXPECT_EQ(cleared.slot_bytes, 0u);
}

// ---------------------------------------------------------------------------
// Hot keys: writers overwrite a few keys with values encoding (writer, seq),
// seq increasing per writer; readers check that, per key, the versions they
// see never go backwards, the sequence of any one writer never goes
// backwards, and no value is torn.

constexpr size_t kHeader = 16;

std::string HotValue(uint64_t writer, uint64_t seq) {
  std::string v(kHeader + seq % 48, '\0');
  std::memcpy(v.data(), &writer, 8);
  std::memcpy(v.data() + 8, &seq, 8);
  for (size_t i = kHeader; i < v.size(); ++i) v[i] = static_cast<char>(writer * 31 + seq * 7 + i);
  return v;
}

// Parses a HotValue; false if it is torn or malformed.
bool ParseHot(const std::string& v, uint64_t* writer, uint64_t* seq) {
  if (v.size() < kHeader) return false;
  std::memcpy(writer, v.data(), 8);
  std::memcpy(seq, v.data() + 8, 8);
  return v == HotValue(*writer, *seq);
}

TEST(Stress, HotKeysReadersNeverSeeTimeGoBackwards) {
  const size_t kWriters = 8;
  const size_t kReaders = 8;
  const size_t kHotKeys = 4;
  const size_t kWrites = Scaled(60000, 300);
  // Readers stop when the writers are done, or after this many reads: the
  // rwlock prefers readers, and on a busy machine eight readers can hold the
  // writers off for long stretches.
  const size_t kMaxReads = Scaled(600000, 3000);
  Store store("hot", SmallOptions(2));
  Failures failures;
  std::atomic<size_t> writers_done{0};
  std::atomic<uint64_t> reads{0};
  RunTogether(kWriters + kReaders, [&](size_t id) {
    if (id < kWriters) {
      std::mt19937_64 rng(id);
      for (uint64_t seq = 1; seq <= kWrites; ++seq) {
        const std::string key = Cat("hot", rng() % kHotKeys);
        if (seq % 97 == 0) {
          const Status st = testing::EraseString(store, key);
          if (st != Status::kOk && st != Status::kNotFound) failures.Add("erase status");
        } else if (PutString(store, key, HotValue(id, seq)) != Status::kOk) {
          failures.Add("put failed");
        }
      }
      writers_done.fetch_add(1);
      return;
    }
    // Reader.
    std::vector<std::vector<uint64_t>> last_seq(kHotKeys, std::vector<uint64_t>(kWriters, 0));
    std::vector<uint64_t> last_version(kHotKeys, 0);
    std::vector<std::string> last_value(kHotKeys);
    uint64_t n = 0;
    while ((writers_done.load() < kWriters || n < 1000) && n < kMaxReads) {
      const size_t k = n++ % kHotKeys;
      const std::string key = Cat("hot", k);
      std::string v;
      uint64_t version = 0;
      const Status st = GetString(store, key, &v, &version);
      if (st == Status::kNotFound) continue;
      if (st != Status::kOk) {
        failures.Add("read status");
        continue;
      }
      uint64_t w = 0;
      uint64_t seq = 0;
      if (!ParseHot(v, &w, &seq) || w >= kWriters) {
        failures.Add("torn or foreign value under " + key);
        continue;
      }
      if (version < last_version[k]) failures.Add(Str("version went backwards", k, last_version[k], version));
      if (version == last_version[k] && v != last_value[k]) failures.Add(Str("one version, two values", k, version));
      if (seq < last_seq[k][w]) failures.Add(Str("writer's sequence went backwards", w, last_seq[k][w], seq));
      last_version[k] = version;
      last_value[k] = v;
      last_seq[k][w] = seq;
      if (n % 16 == 0) std::this_thread::yield();  // let the writers in
    }
    reads.fetch_add(n);
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  EXPECT_GT(reads.load(), kReaders * 1000 - 1);
  // Every hot key that is present holds the value of some writer's last write
  // to it, with a well-formed encoding.
  for (size_t k = 0; k < kHotKeys; ++k) {
    std::string v;
    if (GetString(store, Cat("hot", k), &v) != Status::kOk) continue;
    uint64_t w = 0;
    uint64_t seq = 0;
    EXPECT_TRUE(ParseHot(v, &w, &seq));
  }
}

// ---------------------------------------------------------------------------
// Clear and Sizes racing with writers. Every key and every value has one
// fixed length, so every entry has the same footprint F, and an atomic Sizes
// must report bytes == entries * F exactly; entries never exceed the
// keyspace.

TEST(Stress, ClearAndSizesAreAtomicUnderWrites) {
  const size_t kWriters = 8;
  const size_t kClearers = 2;
  const size_t kSizers = 4;
  const size_t kReaders = 2;
  const size_t kKeys = 256;
  const size_t kWrites = Scaled(60000, 300);
  const uint32_t kShards = 16;  // <= 64: TSAN's deadlock detector tracks at most 64 held locks
  Store store("clear-sizes", SmallOptions(kShards));
  auto key_of = [](size_t k) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "key%05zu", k);
    return std::string(buf);
  };
  auto value_of = [&](size_t k, size_t writer) {
    std::string v = key_of(k) + Cat("|w", writer % 10);
    v.resize(32, '.');
    return v;
  };
  const uint64_t kFootprint = Footprint(key_of(0), value_of(0, 0));
  const uint64_t kMaxSlotBytes = uint64_t{kShards} * 512 * Table::kSlotBytes;  // 256 keys fit 512 slots
  Failures failures;
  std::atomic<size_t> writers_done{0};
  std::atomic<uint64_t> clears{0};
  std::atomic<uint64_t> sizes_calls{0};
  RunTogether(kWriters + kClearers + kSizers + kReaders, [&](size_t id) {
    std::mt19937_64 rng(id * 77);
    if (id < kWriters) {
      for (size_t i = 0; i < kWrites; ++i) {
        const size_t k = rng() % kKeys;
        if (rng() % 4 == 0) {
          const Status st = testing::EraseString(store, key_of(k));
          if (st != Status::kOk && st != Status::kNotFound) failures.Add("erase status");
        } else if (PutString(store, key_of(k), value_of(k, id)) != Status::kOk) {
          failures.Add("put failed");
        }
      }
      writers_done.fetch_add(1);
      return;
    }
    id -= kWriters;
    size_t n = 0;
    auto running = [&] { return writers_done.load() < kWriters || n < 20; };
    if (id < kClearers) {
      for (; running(); ++n) {
        if (store.Clear() != Status::kOk) failures.Add("clear failed");
        clears.fetch_add(1);
        std::this_thread::yield();
      }
      return;
    }
    id -= kClearers;
    if (id < kSizers) {
      for (; running(); ++n) {
        StoreSizes s;
        if (store.Sizes(&s) != Status::kOk) {
          failures.Add("sizes failed");
          continue;
        }
        sizes_calls.fetch_add(1);
        if (s.entries > kKeys) failures.Add(Str("more entries than keys", s.entries));
        if (s.bytes != s.entries * kFootprint) failures.Add(Str("bytes != entries * footprint", s.bytes, s.entries));
        if (s.slot_bytes % Table::kSlotBytes != 0 || s.slot_bytes < s.entries * Table::kSlotBytes ||
            s.slot_bytes > kMaxSlotBytes)
          failures.Add(Str("absurd slot bytes", s.slot_bytes, s.entries));
        std::this_thread::yield();
      }
      return;
    }
    // Readers: a value is always the one written for its own key.
    for (; running(); ++n) {
      const size_t k = rng() % kKeys;
      std::string v;
      const Status st = GetString(store, key_of(k), &v);
      if (st == Status::kOk && (v.size() != 32 || v.compare(0, 8, key_of(k)) != 0))
        failures.Add("value under the wrong key: " + key_of(k) + " -> " + v);
      else if (st != Status::kOk && st != Status::kNotFound)
        failures.Add("read status");
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  EXPECT_GT(clears.load(), 0u);
  EXPECT_GT(sizes_calls.load(), 0u);

  // After the join: the count of readable keys, Sizes, and the bytes agree.
  uint64_t present = 0;
  for (size_t k = 0; k < kKeys; ++k) present += GetString(store, key_of(k), nullptr) == Status::kOk;
  const StoreSizes s = SizesOf(store);
  EXPECT_EQ(s.entries, present);
  EXPECT_EQ(s.bytes, present * kFootprint);
  EXPECT_EQ(store.Clear(), Status::kOk);
  const StoreSizes z = SizesOf(store);
  EXPECT_EQ(z.entries, 0u);
  EXPECT_EQ(z.bytes, 0u);
  EXPECT_EQ(z.slot_bytes, 0u);
}

// ---------------------------------------------------------------------------
// Sizes is a snapshot. Each writer owns one token that hops from key to key
// (put the new key, then erase the old one), so at every instant each writer
// has one or two keys in the store: an atomic count lies in [W, 2W]. A count
// taken shard by shard without holding every lock at once sees a token that
// hops backwards past the scan zero times, or one that hops forwards twice.

TEST(Stress, SizesIsASnapshotWhileKeysMoveBetweenShards) {
  const size_t kWriters = 8;
  const size_t kSizers = 4;
  const size_t kHops = Scaled(40000, 500);
  Store store("snapshot", SmallOptions(32));
  Failures failures;
  std::atomic<size_t> writers_done{0};
  std::atomic<uint64_t> snapshots{0};
  for (size_t w = 0; w < kWriters; ++w) ASSERT_EQ(PutString(store, Cat("w", w) + "/0", "t"), Status::kOk);
  RunTogether(kWriters + kSizers, [&](size_t id) {
    if (id < kWriters) {
      const std::string prefix = Cat("w", id) + "/";
      for (size_t hop = 1; hop <= kHops; ++hop) {
        if (PutString(store, prefix + std::to_string(hop), "t") != Status::kOk) failures.Add("put failed");
        if (testing::EraseString(store, prefix + std::to_string(hop - 1)) != Status::kOk) failures.Add("erase failed");
      }
      writers_done.fetch_add(1);
      return;
    }
    for (size_t n = 0; writers_done.load() < kWriters || n < 20; ++n) {
      StoreSizes s;
      if (store.Sizes(&s) != Status::kOk) failures.Add("sizes failed");
      snapshots.fetch_add(1);
      if (s.entries < kWriters || s.entries > 2 * kWriters) failures.Add(Str("count outside [W, 2W]", s.entries));
      std::this_thread::yield();
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  EXPECT_GT(snapshots.load(), 0u);
  EXPECT_EQ(SizesOf(store).entries, kWriters);
}

// ---------------------------------------------------------------------------
// Shared keys, values of every size: after the join, Sizes().bytes must equal
// the sum of the footprints of the entries actually present.

TEST(Stress, ByteAccountingIsExactAfterSharedChurn) {
  const size_t kThreads = 12;
  const size_t kKeys = 512;
  const size_t kOps = Scaled(50000, 300);
  Store store("churn", SmallOptions(8));
  RunTogether(kThreads, [&](size_t t) {
    std::mt19937_64 rng(t * 1000 + 3);
    for (size_t i = 0; i < kOps; ++i) {
      const std::string key = Cat("k", rng() % kKeys);
      const uint64_t r = rng() % 100;
      if (r < 60) {
        (void)PutString(store, key, std::string(rng() % 300, static_cast<char>('a' + t)));
      } else if (r < 95) {
        (void)testing::EraseString(store, key);
      } else if (r < 96) {
        (void)store.Clear();
      } else {
        (void)GetString(store, key, nullptr);
      }
    }
  });
  uint64_t entries = 0;
  uint64_t bytes = 0;
  for (size_t k = 0; k < kKeys; ++k) {
    const std::string key = Cat("k", k);
    std::string v;
    if (GetString(store, key, &v) == Status::kOk) {
      ++entries;
      bytes += Footprint(key, v);
    }
  }
  const StoreSizes s = SizesOf(store);
  EXPECT_EQ(s.entries, entries);
  EXPECT_EQ(s.bytes, bytes);
  for (size_t k = 0; k < kKeys; ++k) (void)testing::EraseString(store, Cat("k", k));
  const StoreSizes z = SizesOf(store);
  EXPECT_EQ(z.entries, 0u);
  EXPECT_EQ(z.bytes, 0u);
}

// ---------------------------------------------------------------------------
// Versions under concurrency: every Put on one shard gets a distinct version,
// and each thread sees its own puts' versions strictly increase.

TEST(Stress, ConcurrentPutsGetDistinctIncreasingVersions) {
  const size_t kThreads = 12;
  const size_t kPuts = Scaled(20000, 200);
  Store store("versions", SmallOptions(1));  // one shard: one counter shared by every thread
  Failures failures;
  std::vector<std::vector<uint64_t>> seen(kThreads);
  RunTogether(kThreads, [&](size_t t) {
    uint64_t last = 0;
    seen[t].reserve(kPuts);
    for (size_t i = 0; i < kPuts; ++i) {
      uint64_t v = 0;
      // Half the threads share one key, half use their own.
      const std::string key = t % 2 == 0 ? "shared" : Cat("own", t);
      if (PutString(store, key, "v", &v) != Status::kOk) failures.Add("put failed");
      if (v <= last) failures.Add(Str("version did not increase", t, last, v));
      last = v;
      seen[t].push_back(v);
      if (i % 3 == 0) (void)testing::EraseString(store, key);
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  std::set<uint64_t> all;
  for (const auto& s : seen) all.insert(s.begin(), s.end());
  EXPECT_EQ(all.size(), kThreads * kPuts) << "a version was handed out twice";
}

// ---------------------------------------------------------------------------
// Registry: racing opens of one new name create exactly one store.

TEST(Stress, RacingOpensOfANewNameCreateExactlyOneStore) {
  const size_t kThreads = 16;
  const size_t kRounds = Scaled(300, 15);
  Registry& registry = Registry::Instance();
  for (size_t round = 0; round < kRounds; ++round) {
    const std::string name = Cat("open-race-", round);
    std::vector<OpenResult> results(kThreads);
    RunTogether(kThreads, [&](size_t t) {
      // Equal options; half the threads name them all, half name none.
      results[t] = registry.Open(name, SmallOptions(4), t % 2 == 0 ? 0xFu : 0u);
    });
    size_t created = 0;
    for (size_t t = 0; t < kThreads; ++t) {
      ASSERT_NE(results[t].store, nullptr) << "round " << round << " thread " << t;
      EXPECT_EQ(results[t].store, results[0].store) << "round " << round << ": two stores for one name";
      EXPECT_EQ(results[t].mismatch, 0u);
      created += results[t].created;
    }
    ASSERT_EQ(created, 1u) << "round " << round;
    ASSERT_TRUE(registry.Destroy(name));
  }
}

TEST(Stress, RacingOpenAndDestroyOfOneName) {
  // Opens and destroys of the same name interleave: every open returns a live
  // or just-killed store, never null with matching options, and the registry
  // ends consistent.
  const size_t kThreads = 12;
  const size_t kOps = Scaled(12000, 100);
  Registry& registry = Registry::Instance();
  Failures failures;
  std::atomic<uint64_t> created{0};
  std::atomic<uint64_t> destroyed{0};
  RunTogether(kThreads, [&](size_t t) {
    std::mt19937_64 rng(t);
    for (size_t i = 0; i < kOps; ++i) {
      if (rng() % 8 == 0) {
        destroyed += registry.Destroy("open-destroy");
        continue;
      }
      OpenResult r = registry.Open("open-destroy", SmallOptions(2), 0xF);
      if (r.store == nullptr) {
        failures.Add("open returned no store");
        continue;
      }
      created += r.created;
      const Status st = PutString(*r.store, Cat("k", t), "v");
      if (st != Status::kOk && st != Status::kDestroyed) failures.Add("put status");
    }
  });
  ASSERT_EQ(failures.count(), 0u) << failures.Summary();
  // Every store created was destroyed, except possibly the one still there.
  const bool remains = registry.Destroy("open-destroy");
  EXPECT_EQ(created.load(), destroyed.load() + (remains ? 1 : 0));
}

// ---------------------------------------------------------------------------
// Destroy racing with operations on other threads: every operation returns
// one of its expected statuses; once Destroy has returned, and once a thread
// has seen kDestroyed, every later operation returns kDestroyed.

TEST(Stress, DestroyRacingWithOperations) {
  const size_t kThreads = 12;
  const size_t kRounds = Scaled(100, 5);
  Registry& registry = Registry::Instance();
  Failures failures;
  for (size_t round = 0; round < kRounds; ++round) {
    const std::string name = Cat("destroy-race-", round);
    std::shared_ptr<Store> store = registry.Open(name, SmallOptions(8), 0).store;
    ASSERT_NE(store, nullptr);
    for (int i = 0; i < 200; ++i) ASSERT_EQ(PutString(*store, Cat("k", i), "v"), Status::kOk);
    std::atomic<bool> destroy_returned{false};
    std::atomic<uint64_t> ops{0};
    const uint64_t destroy_after = 200 + (round * 997) % 2000;  // vary the moment of death
    RunTogether(kThreads + 1, [&](size_t t) {
      if (t == kThreads) {  // the destroyer
        while (ops.load() < destroy_after) std::this_thread::yield();
        if (!registry.Destroy(name)) failures.Add("destroy returned false");
        destroy_returned.store(true);
        return;
      }
      std::mt19937_64 rng(round * 100 + t);
      bool seen_dead = false;
      size_t after_death = 0;
      while (after_death < 50) {
        const bool was_destroyed = destroy_returned.load();
        const std::string key = Cat("k", rng() % 300);
        const uint64_t r = rng() % 100;
        Status st;
        bool ok;
        if (r < 35) {
          st = PutString(*store, key, "value");
          ok = st == Status::kOk || st == Status::kDestroyed;
        } else if (r < 70) {
          st = GetString(*store, key, nullptr);
          ok = st == Status::kOk || st == Status::kNotFound || st == Status::kDestroyed;
        } else if (r < 95) {
          st = testing::EraseString(*store, key);
          ok = st == Status::kOk || st == Status::kNotFound || st == Status::kDestroyed;
        } else if (r < 99) {
          StoreSizes s;
          st = store->Sizes(&s);
          ok = st == Status::kOk || st == Status::kDestroyed;
        } else {
          st = store->Clear();
          ok = st == Status::kOk || st == Status::kDestroyed;
        }
        ops.fetch_add(1);
        if (!ok) failures.Add(Str("unexpected status", static_cast<uint64_t>(st), r));
        if ((was_destroyed || seen_dead) && st != Status::kDestroyed)
          failures.Add(Str("operation succeeded after destroy", static_cast<uint64_t>(st), r, was_destroyed));
        if (st == Status::kDestroyed) seen_dead = true;
        if (seen_dead || was_destroyed) ++after_death;
      }
    });
    ASSERT_EQ(failures.count(), 0u) << "round " << round << ": " << failures.Summary();
    // The dead handle stays dead; the name is free for a fresh store.
    EXPECT_EQ(PutString(*store, "k", "v"), Status::kDestroyed);
    OpenResult fresh = registry.Open(name, SmallOptions(8), 0);
    ASSERT_NE(fresh.store, nullptr);
    EXPECT_TRUE(fresh.created);
    EXPECT_EQ(SizesOf(*fresh.store).entries, 0u);
    EXPECT_TRUE(registry.Destroy(name));
  }
}

// ---------------------------------------------------------------------------
// The hash seed and the registry are initialised on first use, possibly by
// many threads at once (ctest runs this test in a fresh process).

TEST(Stress, FirstUseFromManyThreads) {
  const size_t kThreads = 16;
  std::vector<uint64_t> seeds(kThreads);
  std::vector<Registry*> registries(kThreads);
  RunTogether(kThreads, [&](size_t t) {
    seeds[t] = HashSeed();
    registries[t] = &Registry::Instance();
  });
  for (size_t t = 1; t < kThreads; ++t) {
    EXPECT_EQ(seeds[t], seeds[0]);
    EXPECT_EQ(registries[t], registries[0]);
  }
}

}  // namespace
}  // namespace threadkv
