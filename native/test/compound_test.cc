// The compound operations of the core: Insert / InsertOrRead, Put and Erase
// handing back the old entry, CompareAndPut / CompareAndErase, Increment and
// its arithmetic (AddToCounter, ReadNumber), the batches (ReadMany, PutMany,
// EraseMany), Scan, Table::Reserve; and their behaviour under threads.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/entry.h"
#include "core/store.h"
#include "core/table.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Failures;
using testing::Footprint;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::Scaled;
using testing::SizesOf;
using testing::SmallOptions;

// prefix + n (not "literal" + std::to_string(n): GCC 12 at -O3 warns about
// that with a false -Wrestrict).
template <class N>
std::string Cat(std::string_view prefix, N n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

EntryPtr StringEntry(std::string_view key, std::string_view value) { return MakeValueEntry(key, value); }

EntryPtr NumberEntry(std::string_view key, double d) {
  EntryPtr e = MakeEntry(key, sizeof d, Kind::kFloat64);
  std::memcpy(e->value_data(), &d, sizeof d);
  return e;
}

uint64_t VersionOf(const Store& s, std::string_view key) {
  uint64_t v = 0;
  EXPECT_EQ(GetString(s, key, nullptr, &v), Status::kOk) << key;
  return v;
}

// The number stored under `key` (as Increment reads it), or NaN.
double NumberOf(const Store& s, std::string_view key, Kind* kind = nullptr) {
  double out = std::numeric_limits<double>::quiet_NaN();
  (void)s.Read(key, s.Hash(key), [&](const Entry& e) {
    Number n;
    if (ReadNumber(e, &n)) out = n.value();
    if (kind != nullptr) *kind = e.kind;
  });
  return out;
}

// ---- Insert / InsertOrRead ----

TEST(Compound, InsertOnlyWhenAbsent) {
  Store s("t", SmallOptions());
  uint64_t v1 = 0;
  EXPECT_EQ(s.Insert(s.Hash("k"), StringEntry("k", "first"), &v1), Status::kOk);
  EXPECT_GT(v1, 0u);
  uint64_t v2 = 0;
  EXPECT_EQ(s.Insert(s.Hash("k"), StringEntry("k", "second"), &v2), Status::kExists);
  EXPECT_EQ(v2, 0u);  // untouched
  std::string got;
  EXPECT_EQ(GetString(s, "k", &got), Status::kOk);
  EXPECT_EQ(got, "first");
  EXPECT_EQ(VersionOf(s, "k"), v1);
  EXPECT_EQ(SizesOf(s).entries, 1u);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("k", "first"));
}

TEST(Compound, InsertOrReadShowsThePresentEntry) {
  Store s("t", SmallOptions());
  ASSERT_EQ(PutString(s, "k", "there"), Status::kOk);
  std::string seen;
  uint64_t seen_version = 0;
  EXPECT_EQ(s.InsertOrRead(s.Hash("k"), StringEntry("k", "new"),
                           [&](const Entry& e) {
                             seen = testing::ValueOf(e);
                             seen_version = e.version;
                           }),
            Status::kExists);
  EXPECT_EQ(seen, "there");
  EXPECT_EQ(seen_version, VersionOf(s, "k"));
  bool called = false;
  EXPECT_EQ(s.InsertOrRead(s.Hash("j"), StringEntry("j", "new"), [&](const Entry&) { called = true; }), Status::kOk);
  EXPECT_FALSE(called);
}

// ---- Put / Erase handing back the old entry ----

TEST(Compound, PutHandsBackTheReplacedEntry) {
  Store s("t", SmallOptions());
  {
    Retired first;
    EXPECT_EQ(s.Put(s.Hash("k"), StringEntry("k", "a"), nullptr, &first), Status::kOk);
    EXPECT_EQ(first.previous(), nullptr);
  }
  Retired old;  // the replaced entry stays readable until `old` ends
  EXPECT_EQ(s.Put(s.Hash("k"), StringEntry("k", "bb"), nullptr, &old), Status::kOk);
  ASSERT_NE(old.previous(), nullptr);
  EXPECT_EQ(testing::ValueOf(*old.previous()), "a");
  EXPECT_EQ(SizesOf(s).bytes, Footprint("k", "bb"));
  // Or taken out, to be owned by the caller.
  EntryPtr mine = old.TakePrevious();
  ASSERT_TRUE(mine);
  EXPECT_EQ(testing::ValueOf(*mine), "a");
  EXPECT_EQ(old.previous(), nullptr);
  EXPECT_FALSE(old.TakePrevious());
}

TEST(Compound, EraseHandsBackTheRemovedEntry) {
  Store s("t", SmallOptions());
  ASSERT_EQ(PutString(s, "k", "gone"), Status::kOk);
  Retired removed;
  EXPECT_EQ(s.Erase("k", s.Hash("k"), &removed), Status::kOk);
  ASSERT_NE(removed.previous(), nullptr);
  EXPECT_EQ(testing::ValueOf(*removed.previous()), "gone");
  Retired none;
  EXPECT_EQ(s.Erase("k", s.Hash("k"), &none), Status::kNotFound);
  EXPECT_EQ(none.previous(), nullptr);
  EXPECT_EQ(SizesOf(s).bytes, 0u);
}

// ---- CompareAndPut / CompareAndErase ----

TEST(Compound, CompareAndPutAgainstAbsence) {
  Store s("t", SmallOptions());
  uint64_t v = 0;
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "1"), kExpectAbsent, &v), Status::kOk);
  EXPECT_EQ(VersionOf(s, "k"), v);
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "2"), kExpectAbsent), Status::kMismatch);
  std::string got;
  ASSERT_EQ(GetString(s, "k", &got), Status::kOk);
  EXPECT_EQ(got, "1");
}

TEST(Compound, CompareAndPutAgainstAVersion) {
  Store s("t", SmallOptions());
  uint64_t v1 = 0;
  ASSERT_EQ(PutString(s, "k", "1", &v1), Status::kOk);
  uint64_t v2 = 0;
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "2"), v1, &v2), Status::kOk);
  EXPECT_GT(v2, v1);
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "3"), v1), Status::kMismatch);  // stale
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "3"), kExpectNever), Status::kMismatch);
  EXPECT_EQ(s.CompareAndPut(s.Hash("absent"), StringEntry("absent", "3"), v2), Status::kMismatch);
  std::string got;
  ASSERT_EQ(GetString(s, "k", &got), Status::kOk);
  EXPECT_EQ(got, "2");
  EXPECT_EQ(SizesOf(s).entries, 1u);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("k", "2"));
}

TEST(Compound, NoAbaAcrossDeleteReinsertAndClear) {
  Store s("t", SmallOptions(1));
  uint64_t v1 = 0;
  ASSERT_EQ(PutString(s, "k", "same", &v1), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "k"), Status::kOk);
  uint64_t v2 = 0;
  ASSERT_EQ(PutString(s, "k", "same", &v2), Status::kOk);
  EXPECT_GT(v2, v1);
  EXPECT_EQ(s.CompareAndPut(s.Hash("k"), StringEntry("k", "x"), v1), Status::kMismatch);
  ASSERT_EQ(s.Clear(), Status::kOk);
  uint64_t v3 = 0;
  ASSERT_EQ(PutString(s, "k", "same", &v3), Status::kOk);
  EXPECT_GT(v3, v2);  // Clear does not reset the version counters
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), v2), Status::kMismatch);
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), v3), Status::kOk);
}

TEST(Compound, CompareAndErase) {
  Store s("t", SmallOptions());
  uint64_t v = 0;
  ASSERT_EQ(PutString(s, "k", "value", &v), Status::kOk);
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), v + 1), Status::kMismatch);
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), kExpectAbsent), Status::kMismatch);
  EXPECT_EQ(SizesOf(s).entries, 1u);
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), v), Status::kOk);
  EXPECT_EQ(s.CompareAndErase("k", s.Hash("k"), v), Status::kNotFound);
  EXPECT_EQ(SizesOf(s).entries, 0u);
  EXPECT_EQ(SizesOf(s).bytes, 0u);
}

// ---- Counters ----

TEST(Counter, AddToCounterIntegers) {
  Number r;
  EXPECT_EQ(AddToCounter(nullptr, 1, &r), Status::kOk);
  EXPECT_EQ(r.kind, Kind::kInt64);
  EXPECT_EQ(r.i, 1);
  const Number five = Number::Int(5);
  EXPECT_EQ(AddToCounter(&five, -7, &r), Status::kOk);
  EXPECT_EQ(r.i, -2);
  const Number f = Number::Float(3.0);  // an integral double counts as an integer
  EXPECT_EQ(AddToCounter(&f, 2, &r), Status::kOk);
  EXPECT_EQ(r.kind, Kind::kInt64);
  EXPECT_EQ(r.i, 5);
  const Number top = Number::Int(kMaxSafeInteger - 1);
  EXPECT_EQ(AddToCounter(&top, 1, &r), Status::kOk);
  EXPECT_EQ(r.i, kMaxSafeInteger);
  const Number max = Number::Int(kMaxSafeInteger);
  EXPECT_EQ(AddToCounter(&max, 1, &r), Status::kOutOfRange);
  const Number min = Number::Int(-kMaxSafeInteger);
  EXPECT_EQ(AddToCounter(&min, -1, &r), Status::kOutOfRange);
  EXPECT_EQ(AddToCounter(nullptr, 9007199254740992.0, &r), Status::kOutOfRange);  // delta 2^53
  const Number huge = Number::Float(1e20);                                        // integral, but not a safe integer
  EXPECT_EQ(AddToCounter(&huge, 1, &r), Status::kOutOfRange);
}

TEST(Counter, AddToCounterFractions) {
  Number r;
  EXPECT_EQ(AddToCounter(nullptr, 0.5, &r), Status::kOk);
  EXPECT_EQ(r.kind, Kind::kFloat64);
  EXPECT_EQ(r.d, 0.5);
  const Number half = Number::Float(0.5);
  EXPECT_EQ(AddToCounter(&half, 2, &r), Status::kOk);
  EXPECT_EQ(r.kind, Kind::kFloat64);
  EXPECT_EQ(r.d, 2.5);
  const Number huge = Number::Float(1e20);
  EXPECT_EQ(AddToCounter(&huge, 0.5, &r), Status::kOk);  // fractional: plain double arithmetic
  EXPECT_EQ(r.kind, Kind::kFloat64);
  const Number big = Number::Float(1.7e308);
  EXPECT_EQ(AddToCounter(&big, 1.5e308, &r), Status::kOutOfRange);  // infinite
  const Number nan = Number::Float(std::nan(""));
  EXPECT_EQ(AddToCounter(&nan, 1, &r), Status::kOutOfRange);
  const Number inf = Number::Float(INFINITY);
  EXPECT_EQ(AddToCounter(&inf, 1, &r), Status::kOutOfRange);
  EXPECT_EQ(AddToCounter(nullptr, INFINITY, &r), Status::kOutOfRange);
  EXPECT_EQ(AddToCounter(nullptr, std::nan(""), &r), Status::kOutOfRange);
}

TEST(Counter, ReadNumberKinds) {
  Number n;
  EXPECT_TRUE(ReadNumber(*NumberEntry("k", 2.5), &n));
  EXPECT_EQ(n.kind, Kind::kFloat64);
  EXPECT_EQ(n.d, 2.5);
  // Only a number stored as a number counts: JSON is lib/'s business (the
  // json codec stores numbers natively).
  EXPECT_FALSE(ReadNumber(*MakeValueEntry("k", "5", Kind::kString), &n));
  EXPECT_FALSE(ReadNumber(*MakeValueEntry("k", "5", Kind::kBytes), &n));
  EXPECT_FALSE(ReadNumber(*MakeEntry("k", 0, Kind::kTrue), &n));
  EXPECT_FALSE(ReadNumber(*MakeEntry("k", 0, Kind::kNull), &n));
  EXPECT_FALSE(ReadNumber(*MakeValueEntry("k", "1234567", Kind::kInt64), &n));  // not 8 bytes
}

TEST(Counter, IncrementCreatesUpdatesInPlaceAndBumpsVersions) {
  Store s("t", SmallOptions());
  Number r;
  uint64_t v1 = 0;
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 1, &r, &v1), Status::kOk);
  EXPECT_EQ(r.value(), 1);
  Kind kind;
  EXPECT_EQ(NumberOf(s, "c", &kind), 1);
  EXPECT_EQ(kind, Kind::kInt64);
  EXPECT_EQ(VersionOf(s, "c"), v1);
  const StoreSizes before = SizesOf(s);
  uint64_t v2 = 0;
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 41, &r, &v2), Status::kOk);
  EXPECT_EQ(r.value(), 42);
  EXPECT_GT(v2, v1);
  EXPECT_EQ(VersionOf(s, "c"), v2);
  EXPECT_EQ(SizesOf(s).bytes, before.bytes);
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 0.5, &r), Status::kOk);
  EXPECT_EQ(NumberOf(s, "c", &kind), 42.5);
  EXPECT_EQ(kind, Kind::kFloat64);
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 0.5, &r), Status::kOk);
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 1, &r), Status::kOk);
  EXPECT_EQ(NumberOf(s, "c", &kind), 44);
  EXPECT_EQ(kind, Kind::kInt64);
}

TEST(Counter, IncrementOfASetNumber) {
  Store s("t", SmallOptions());
  ASSERT_EQ(s.Put(s.Hash("n"), NumberEntry("n", 10)), Status::kOk);
  Number r;
  EXPECT_EQ(s.Increment("n", s.Hash("n"), 5, &r), Status::kOk);
  EXPECT_EQ(r.value(), 15);
}

TEST(Counter, IncrementRefusesNonNumbersAndChangesNothing) {
  Store s("t", SmallOptions());
  ASSERT_EQ(s.Put(s.Hash("s"), MakeValueEntry(s, "s", "5", Kind::kString)), Status::kOk);
  const uint64_t v = VersionOf(s, "s");
  const StoreSizes before = SizesOf(s);
  Number r;
  EXPECT_EQ(s.Increment("s", s.Hash("s"), 1, &r), Status::kNotNumber);
  EXPECT_EQ(VersionOf(s, "s"), v);
  EXPECT_EQ(SizesOf(s).bytes, before.bytes);
  std::string got;
  ASSERT_EQ(GetString(s, "s", &got), Status::kOk);
  EXPECT_EQ(got, "5");
}

TEST(Counter, IncrementOutOfRangeChangesNothing) {
  Store s("t", SmallOptions());
  Number r;
  ASSERT_EQ(s.Increment("c", s.Hash("c"), static_cast<double>(kMaxSafeInteger), &r), Status::kOk);
  const uint64_t v = VersionOf(s, "c");
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 1, &r), Status::kOutOfRange);
  EXPECT_EQ(VersionOf(s, "c"), v);
  EXPECT_EQ(NumberOf(s, "c"), static_cast<double>(kMaxSafeInteger));
  EXPECT_EQ(s.Increment("absent", s.Hash("absent"), INFINITY, &r), Status::kOutOfRange);
  EXPECT_EQ(SizesOf(s).entries, 1u);
}

TEST(Counter, JsonTextIsNotANumber) {
  Options o = SmallOptions();
  o.codec = Codec::kJson;
  Store s("t", o);
  ASSERT_EQ(s.Put(s.Hash("n"), MakeValueEntry(s, "n", "5", Kind::kString)), Status::kOk);
  Number r;
  EXPECT_EQ(s.Increment("n", s.Hash("n"), 2, &r), Status::kNotNumber);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("n", "5"));
}

TEST(Counter, IncrementAfterKill) {
  Store s("t", SmallOptions());
  std::vector<Table> drained;
  s.Kill(&drained);
  Number r;
  EXPECT_EQ(s.Increment("c", s.Hash("c"), 1, &r), Status::kDestroyed);
}

// ---- Batches ----

std::vector<KeyRef> Refs(const Store& s, const std::vector<std::string>& keys) {
  std::vector<KeyRef> refs;
  for (const std::string& k : keys) refs.push_back({k, s.Hash(k)});
  return refs;
}

std::vector<HashedEntry> Entries(const Store& s, const std::vector<std::pair<std::string, std::string>>& kvs) {
  std::vector<HashedEntry> out;
  for (const auto& [k, v] : kvs) out.push_back({s.Hash(k), StringEntry(k, v)});
  return out;
}

TEST(Batch, ReadManyInKeyOrder) {
  Store s("t", SmallOptions());
  ASSERT_EQ(PutString(s, "a", "1"), Status::kOk);
  ASSERT_EQ(PutString(s, "c", "3"), Status::kOk);
  const std::vector<std::string> keys = {"c", "b", "a", "c"};
  std::vector<std::string> got;
  EXPECT_EQ(s.ReadMany(Refs(s, keys),
                       [&](size_t i, const Entry* e) {
                         EXPECT_EQ(i, got.size());
                         got.push_back(e == nullptr ? "<absent>" : testing::ValueOf(*e));
                       }),
            Status::kOk);
  EXPECT_EQ(got, (std::vector<std::string>{"3", "<absent>", "1", "3"}));
  EXPECT_EQ(s.ReadMany({}, [](size_t, const Entry*) { FAIL(); }), Status::kOk);
}

TEST(Batch, PutManyBothModes) {
  for (bool atomic : {false, true}) {
    Store s("t", SmallOptions());
    ASSERT_EQ(PutString(s, "k1", "old"), Status::kOk);
    std::vector<std::pair<std::string, std::string>> kvs;
    for (int i = 0; i < 200; ++i) kvs.emplace_back(Cat("k", i), Cat("v", i));
    kvs.emplace_back("k5", "last wins");
    auto entries = Entries(s, kvs);
    EXPECT_EQ(s.PutMany(entries, atomic), Status::kOk);
    EXPECT_EQ(SizesOf(s).entries, 200u);
    uint64_t bytes = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string k = Cat("k", i);
      const std::string want = i == 5 ? "last wins" : Cat("v", i);
      std::string got;
      ASSERT_EQ(GetString(s, k, &got), Status::kOk);
      EXPECT_EQ(got, want);
      bytes += Footprint(k, want);
    }
    EXPECT_EQ(SizesOf(s).bytes, bytes) << "atomic=" << atomic;
  }
}

TEST(Batch, PutManyGivesEveryWriteANewVersion) {
  Store s("t", SmallOptions(1));
  uint64_t v0 = 0;
  ASSERT_EQ(PutString(s, "a", "x", &v0), Status::kOk);
  auto entries = Entries(s, {{"a", "1"}, {"b", "2"}});
  ASSERT_EQ(s.PutMany(entries, true), Status::kOk);
  EXPECT_GT(VersionOf(s, "a"), v0);
  EXPECT_NE(VersionOf(s, "a"), VersionOf(s, "b"));  // one shard: one counter
}

TEST(Batch, PutManyAfterKill) {
  for (bool atomic : {false, true}) {
    Store s("t", SmallOptions());
    std::vector<Table> drained;
    s.Kill(&drained);
    auto entries = Entries(s, {{"a", "1"}, {"b", "2"}});
    EXPECT_EQ(s.PutMany(entries, atomic), Status::kDestroyed);
  }
}

TEST(Batch, EraseManyBothModes) {
  for (bool atomic : {false, true}) {
    Store s("t", SmallOptions());
    for (int i = 0; i < 50; ++i) ASSERT_EQ(PutString(s, Cat("k", i), "v"), Status::kOk);
    std::vector<std::string> keys;
    for (int i = 0; i < 60; i += 2) keys.push_back(Cat("k", i));
    keys.push_back("k0");  // a duplicate: counted once
    size_t erased = 0;
    EXPECT_EQ(s.EraseMany(Refs(s, keys), atomic, &erased), Status::kOk);
    EXPECT_EQ(erased, 25u);
    EXPECT_EQ(SizesOf(s).entries, 25u);
    EXPECT_EQ(SizesOf(s).bytes, 25 * Footprint("k11", "v") - 5);  // k1, k3, k5, k7, k9 are a byte shorter
  }
}

// ---- Scan ----

TEST(Scan, EveryShardOnceWithPrefix) {
  Store s("t", SmallOptions(8));
  std::set<std::string> want_all;
  std::set<std::string> want_p;
  for (int i = 0; i < 500; ++i) {
    const std::string k = Cat(i % 3 == 0 ? "p:" : "q:", i);
    ASSERT_EQ(PutString(s, k, Cat("v", i)), Status::kOk);
    want_all.insert(k);
    if (i % 3 == 0) want_p.insert(k);
  }
  std::multiset<std::string> all;
  std::multiset<std::string> p;
  for (uint32_t shard = 0; shard < s.shard_count(); ++shard) {
    EXPECT_EQ(s.Scan(shard, "",
                     [&](const Entry& e) {
                       EXPECT_EQ((s.Hash(e.key()) >> 48) & (s.shard_count() - 1),
                                 shard);  // a key's shard: hash bits 48 up
                       all.insert(std::string(e.key()));
                     }),
              Status::kOk);
    EXPECT_EQ(s.Scan(shard, "p:", [&](const Entry& e) { p.insert(std::string(e.key())); }), Status::kOk);
  }
  EXPECT_EQ(all, std::multiset<std::string>(want_all.begin(), want_all.end()));
  EXPECT_EQ(p, std::multiset<std::string>(want_p.begin(), want_p.end()));
  EXPECT_EQ(s.Scan(s.shard_count(), "", [](const Entry&) {}), Status::kNotFound);
}

// ---- Table::Reserve ----

TEST(TableReserve, UpsertDoesNotGrowBelowTheReservation) {
  Table t;
  t.Reserve(0);
  EXPECT_EQ(t.capacity(), 0u);
  t.Reserve(100);
  const size_t cap = t.capacity();
  EXPECT_GE(cap * 3, 100u * 4);
  for (int i = 0; i < 100; ++i) {
    const std::string k = Cat("k", i);
    (void)t.Upsert(HashKey(k.data(), k.size()), StringEntry(k, "v"));
    EXPECT_EQ(t.capacity(), cap) << i;
  }
  t.Reserve(10);  // never shrinks
  EXPECT_EQ(t.capacity(), cap);
}

// ---- Threads ----

TEST(CompoundThreads, IncrementsAreNeverLost) {
  Store s("t", SmallOptions(4));
  const int threads = 8;
  const size_t per = Scaled(50000, 500);
  std::vector<std::thread> pool;
  std::atomic<int> ready{0};
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      ready.fetch_add(1);
      while (ready.load() < threads) {
      }
      Number r;
      for (size_t i = 0; i < per; ++i) (void)s.Increment("hot", s.Hash("hot"), 1, &r);
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(NumberOf(s, "hot"), static_cast<double>(threads * per));
}

TEST(CompoundThreads, ExactlyOneInsertWins) {
  for (int round = 0; round < 20; ++round) {
    Store s("t", SmallOptions(4));
    const int threads = 8;
    std::atomic<int> wins{0};
    std::atomic<int> ready{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        ready.fetch_add(1);
        while (ready.load() < threads) {
        }
        if (s.Insert(s.Hash("k"), StringEntry("k", std::to_string(t))) == Status::kOk) wins.fetch_add(1);
      });
    }
    for (auto& th : pool) th.join();
    EXPECT_EQ(wins.load(), 1);
  }
}

TEST(CompoundThreads, CasLoopSumsExactly) {
  Store s("t", SmallOptions(4));
  ASSERT_EQ(s.Put(s.Hash("k"), NumberEntry("k", 0)), Status::kOk);
  const int threads = 8;
  const size_t per = Scaled(5000, 100);
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = 0; i < per; ++i) {
        for (;;) {
          double cur = 0;
          uint64_t v = 0;
          (void)s.Read("k", s.Hash("k"), [&](const Entry& e) {
            std::memcpy(&cur, e.value_data(), sizeof cur);
            v = e.version;
          });
          if (s.CompareAndPut(s.Hash("k"), NumberEntry("k", cur + 1), v) == Status::kOk) break;
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  EXPECT_EQ(NumberOf(s, "k"), static_cast<double>(threads * per));
}

// Atomic batches over overlapping key sets, listed in different orders, from
// several threads, with snapshot readers: no deadlock (the test finishes),
// and no reader ever sees two keys from different batches.
TEST(CompoundThreads, AtomicBatchesAreAllOrNothingAndNeverDeadlock) {
  Store s("t", SmallOptions(16));
  const int keys = 12;
  std::vector<std::string> names;
  for (int k = 0; k < keys; ++k) names.push_back(Cat("key", k));
  {
    std::vector<std::pair<std::string, std::string>> init;
    for (const auto& n : names) init.emplace_back(n, "init");
    auto e = Entries(s, init);
    ASSERT_EQ(s.PutMany(e, true), Status::kOk);
  }
  const int writers = 4;
  const int readers = 2;
  const size_t rounds = Scaled(3000, 50);
  std::atomic<bool> done{false};
  Failures failures;
  std::vector<std::thread> pool;
  for (int w = 0; w < writers; ++w) {
    pool.emplace_back([&, w] {
      for (size_t r = 0; r < rounds; ++r) {
        // Every batch writes ALL keys with one tag, in a writer-specific order.
        const std::string tag = std::to_string(w) + Cat("/", r);
        std::vector<std::pair<std::string, std::string>> kvs;
        for (int k = 0; k < keys; ++k) kvs.emplace_back(names[(w % 2 == 0 ? k : keys - 1 - k + w) % keys], tag);
        auto e = Entries(s, kvs);
        if (s.PutMany(e, true) != Status::kOk) failures.Add("PutMany failed");
      }
    });
  }
  for (int r = 0; r < readers; ++r) {
    pool.emplace_back([&, r] {
      std::vector<std::string> order = names;
      if (r % 2 == 1) std::reverse(order.begin(), order.end());
      const std::vector<KeyRef> refs = Refs(s, order);
      while (!done.load()) {
        std::set<std::string> tags;
        (void)s.ReadMany(
            refs, [&](size_t, const Entry* e) { tags.insert(e == nullptr ? "<absent>" : testing::ValueOf(*e)); });
        if (tags.size() != 1) failures.Add(Cat("a snapshot saw ", tags.size()) + " batches");
      }
    });
  }
  for (int i = 0; i < writers; ++i) pool[static_cast<size_t>(i)].join();
  done.store(true);
  for (size_t i = static_cast<size_t>(writers); i < pool.size(); ++i) pool[i].join();
  EXPECT_EQ(failures.count(), 0u) << failures.Summary();
}

// Scanning while other threads insert and erase: each key at most once per
// pass, and every key that is present throughout is seen.
TEST(CompoundThreads, ScanIsWeaklyConsistent) {
  Store s("t", SmallOptions(8));
  const int stable = 300;
  for (int i = 0; i < stable; ++i) ASSERT_EQ(PutString(s, Cat("stable", i), "v"), Status::kOk);
  std::atomic<bool> done{false};
  std::vector<std::thread> churn;
  for (int t = 0; t < 2; ++t) {
    churn.emplace_back([&, t] {
      size_t i = 0;
      while (!done.load()) {
        const std::string k = Cat("churn", t) + Cat(":", i++ % 2000);
        if (i % 3 == 0)
          (void)testing::EraseString(s, k);
        else
          (void)PutString(s, k, "x");
      }
    });
  }
  const size_t passes = Scaled(200, 5);
  for (size_t p = 0; p < passes; ++p) {
    std::map<std::string, int> seen;
    for (uint32_t shard = 0; shard < s.shard_count(); ++shard)
      ASSERT_EQ(s.Scan(shard, "", [&](const Entry& e) { ++seen[std::string(e.key())]; }), Status::kOk);
    int stable_seen = 0;
    for (const auto& [k, n] : seen) {
      ASSERT_EQ(n, 1) << k;
      if (k.starts_with("stable")) ++stable_seen;
    }
    ASSERT_EQ(stable_seen, stable);
  }
  done.store(true);
  for (auto& th : churn) th.join();
}

}  // namespace
}  // namespace threadkv
