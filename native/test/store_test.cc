// Store: sharded tables with per-key versions and byte accounting, and the
// dead state after Kill.
#include "core/store.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <new>
#include <set>
#include <string>
#include <vector>

#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;

using testing::EraseString;
using testing::Footprint;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::SizesOf;
using testing::SmallOptions;

TEST(Store, PutReadEraseRoundTrip) {
  Store s("t", SmallOptions());
  EXPECT_EQ(s.name(), "t");
  EXPECT_EQ(s.shard_count(), 8u);
  std::string v;
  EXPECT_EQ(GetString(s, "k", &v), Status::kNotFound);
  EXPECT_EQ(PutString(s, "k", "hello"), Status::kOk);
  EXPECT_EQ(GetString(s, "k", &v), Status::kOk);
  EXPECT_EQ(v, "hello");
  EXPECT_EQ(PutString(s, "k", "world!"), Status::kOk);
  EXPECT_EQ(GetString(s, "k", &v), Status::kOk);
  EXPECT_EQ(v, "world!");
  EXPECT_EQ(EraseString(s, "k"), Status::kOk);
  EXPECT_EQ(EraseString(s, "k"), Status::kNotFound);
  EXPECT_EQ(GetString(s, "k", &v), Status::kNotFound);
}

TEST(Store, ReadSeesKindFlagsAndVersion) {
  Store s("t", SmallOptions());
  uint64_t version = 0;
  const uint64_t h = s.Hash("k");
  EXPECT_EQ(s.Put(h, MakeValueEntry(s, "k", "\xED\xA0\x80", Kind::kString, kFlagLoneSurrogates), &version),
            Status::kOk);
  bool called = false;
  EXPECT_EQ(s.Read("k", h,
                   [&](const Entry& e) {
                     called = true;
                     EXPECT_EQ(e.kind, Kind::kString);
                     EXPECT_EQ(e.flags, kFlagLoneSurrogates);
                     EXPECT_EQ(e.version, version);
                     EXPECT_EQ(e.key(), "k");
                     EXPECT_EQ(e.value_size, 3u);
                   }),
            Status::kOk);
  EXPECT_TRUE(called);
  // The callback is not called for an absent key.
  EXPECT_EQ(s.Read("absent", s.Hash("absent"), [](const Entry&) { ADD_FAILURE() << "called"; }), Status::kNotFound);
  // Value-less kinds.
  EXPECT_EQ(s.Put(s.Hash("t"), MakeValueEntry(s, "t", "", Kind::kTrue)), Status::kOk);
  EXPECT_EQ(s.Read("t", s.Hash("t"),
                   [](const Entry& e) {
                     EXPECT_EQ(e.kind, Kind::kTrue);
                     EXPECT_EQ(e.value_size, 0u);
                   }),
            Status::kOk);
}

TEST(Store, EmptyKeyAndBinaryKeys) {
  Store s("t", SmallOptions());
  const std::string nul1("a\0b", 3);
  const std::string nul2("a\0c", 3);
  EXPECT_EQ(PutString(s, "", "empty"), Status::kOk);
  EXPECT_EQ(PutString(s, nul1, "1"), Status::kOk);
  EXPECT_EQ(PutString(s, nul2, "2"), Status::kOk);
  EXPECT_EQ(PutString(s, "a", "3"), Status::kOk);
  std::string v;
  EXPECT_EQ(GetString(s, "", &v), Status::kOk);
  EXPECT_EQ(v, "empty");
  EXPECT_EQ(GetString(s, nul1, &v), Status::kOk);
  EXPECT_EQ(v, "1");
  EXPECT_EQ(GetString(s, nul2, &v), Status::kOk);
  EXPECT_EQ(v, "2");
  EXPECT_EQ(SizesOf(s).entries, 4u);
}

TEST(Store, VersionsStrictlyIncreasePerKeyAndAreNeverReused) {
  Store s("t", SmallOptions(1));  // one shard: one version counter for every key
  std::map<std::string, uint64_t> last;
  uint64_t previous = 0;
  std::vector<uint64_t> all;
  for (int round = 0; round < 50; ++round) {
    for (int k = 0; k < 10; ++k) {
      const std::string key = Cat("k", k);
      uint64_t v = 0;
      ASSERT_EQ(PutString(s, key, std::to_string(round)), Status::kOk);
      ASSERT_EQ(GetString(s, key, nullptr, &v), Status::kOk);
      EXPECT_GT(v, last[key]) << key;
      EXPECT_GT(v, previous);
      last[key] = previous = v;
      all.push_back(v);
      if ((round + k) % 3 == 0) {
        EXPECT_EQ(EraseString(s, key), Status::kOk);
      }
    }
    if (round % 10 == 9) {
      EXPECT_EQ(s.Clear(), Status::kOk);
    }
  }
  // Erase + reinsert and Clear never restart the counter.
  EXPECT_EQ(std::set<uint64_t>(all.begin(), all.end()).size(), all.size());
}

TEST(Store, PutReturnsTheVersionItStored) {
  Store s("t", SmallOptions(64));
  for (int i = 0; i < 200; ++i) {
    const std::string key = Cat("key", i % 13);
    uint64_t put_version = 0;
    uint64_t read_version = 1;
    ASSERT_EQ(PutString(s, key, "v", &put_version), Status::kOk);
    ASSERT_EQ(GetString(s, key, nullptr, &read_version), Status::kOk);
    EXPECT_EQ(put_version, read_version);
    EXPECT_NE(put_version, 0u);
  }
}

TEST(Store, ByteAccountingIsExact) {
  Store s("t", SmallOptions(4));
  StoreSizes z = SizesOf(s);
  EXPECT_EQ(z.entries, 0u);
  EXPECT_EQ(z.bytes, 0u);
  EXPECT_EQ(z.slot_bytes, 0u);

  ASSERT_EQ(PutString(s, "abc", "12345"), Status::kOk);
  StoreSizes one = SizesOf(s);
  EXPECT_EQ(one.entries, 1u);
  EXPECT_EQ(one.bytes, Footprint("abc", "12345"));
  EXPECT_EQ(one.bytes, sizeof(Entry) + 3 + 5);
  EXPECT_EQ(one.slot_bytes, Table::kMinCapacity * Table::kSlotBytes);

  // Replacing with a smaller, then a larger value.
  ASSERT_EQ(PutString(s, "abc", "1"), Status::kOk);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("abc", "1"));
  ASSERT_EQ(PutString(s, "abc", std::string(1000, 'x')), Status::kOk);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("abc", std::string(1000, 'x')));

  // Many keys, then erase them all.
  uint64_t expect = Footprint("abc", std::string(1000, 'x'));
  for (int i = 0; i < 1000; ++i) {
    const std::string k = Cat("key", i);
    const std::string v(static_cast<size_t>(i % 37), 'v');
    ASSERT_EQ(PutString(s, k, v), Status::kOk);
    expect += Footprint(k, v);
  }
  StoreSizes many = SizesOf(s);
  EXPECT_EQ(many.entries, 1001u);
  EXPECT_EQ(many.bytes, expect);
  EXPECT_GE(many.slot_bytes, 1001 * Table::kSlotBytes * 4 / 3);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(EraseString(s, Cat("key", i)), Status::kOk);
  ASSERT_EQ(EraseString(s, "abc"), Status::kOk);
  StoreSizes after = SizesOf(s);
  EXPECT_EQ(after.entries, 0u);
  EXPECT_EQ(after.bytes, 0u);
  EXPECT_LE(after.slot_bytes, 4 * Table::kMinCapacity * Table::kSlotBytes);  // shrank

  // Clear returns everything, slot arrays included.
  uint64_t filled = 0;
  for (int i = 0; i < 300; ++i) {
    const std::string k = Cat("c", i);
    ASSERT_EQ(PutString(s, k, "value"), Status::kOk);
    filled += Footprint(k, "value");
  }
  EXPECT_EQ(SizesOf(s).bytes, filled);
  EXPECT_EQ(s.Clear(), Status::kOk);
  StoreSizes cleared = SizesOf(s);
  EXPECT_EQ(cleared.entries, 0u);
  EXPECT_EQ(cleared.bytes, 0u);
  EXPECT_EQ(cleared.slot_bytes, 0u);
  // Usable after Clear.
  ASSERT_EQ(PutString(s, "again", "v"), Status::kOk);
  EXPECT_EQ(SizesOf(s).bytes, Footprint("again", "v"));
}

TEST(Store, ValueFitsAndDefaultSizeLimits) {
  Options o = SmallOptions();
  o.max_value_bytes = 100;
  Store s("t", o);
  EXPECT_TRUE(s.ValueFits(0));
  EXPECT_TRUE(s.ValueFits(100));
  EXPECT_FALSE(s.ValueFits(101));
  EXPECT_FALSE(s.ValueFits(SIZE_MAX));

  Store d("defaults", Options{});
  EXPECT_EQ(d.options().max_key_bytes, 64u << 10);
  EXPECT_TRUE(d.ValueFits(64u << 20));
  EXPECT_FALSE(d.ValueFits((64u << 20) + 1));
  EXPECT_EQ(d.shard_count(), 64u);
}

TEST(Store, ShardCounts) {
  for (uint32_t shards : {1u, 2u, 16u, 64u, 1024u}) {
    if (testing::kTsan && shards > 64) continue;  // TSAN's lock-order detector holds at most 64 locks
    Store s("t", SmallOptions(shards));
    EXPECT_EQ(s.shard_count(), shards);
    for (int i = 0; i < 500; ++i) ASSERT_EQ(PutString(s, Cat("k", i), "v"), Status::kOk);
    EXPECT_EQ(SizesOf(s).entries, 500u) << shards;
    for (int i = 0; i < 500; ++i) ASSERT_EQ(GetString(s, Cat("k", i), nullptr), Status::kOk);
    EXPECT_EQ(s.Clear(), Status::kOk);
    EXPECT_EQ(SizesOf(s).entries, 0u);
  }
}

TEST(Store, CallerChosenHashCollisions) {
  // The binding passes the hash in; the store must cope with every key having
  // the same one (one shard, one probe cluster).
  Store s("t", SmallOptions(8));
  for (int i = 0; i < 300; ++i)
    ASSERT_EQ(s.Put(0xABCD'0000'0000'0007ULL, MakeValueEntry(s, Cat("k", i), std::to_string(i))), Status::kOk);
  for (int i = 0; i < 300; i += 2) ASSERT_EQ(s.Erase(Cat("k", i), 0xABCD'0000'0000'0007ULL), Status::kOk);
  for (int i = 0; i < 300; ++i) {
    const std::string k = Cat("k", i);
    std::string v;
    const Status st = s.Read(k, 0xABCD'0000'0000'0007ULL, [&](const Entry& e) { v = testing::ValueOf(e); });
    if (i % 2 == 0) {
      EXPECT_EQ(st, Status::kNotFound) << k;
    } else {
      EXPECT_EQ(st, Status::kOk) << k;
      EXPECT_EQ(v, std::to_string(i));
    }
  }
  EXPECT_EQ(SizesOf(s).entries, 150u);
}

TEST(Store, EveryOperationAfterKillReturnsDestroyed) {
  Store s("t", SmallOptions(8));
  for (int i = 0; i < 100; ++i) ASSERT_EQ(PutString(s, Cat("k", i), "value"), Status::kOk);
  std::vector<Table> drained;
  s.Kill(&drained);
  EXPECT_EQ(drained.size(), 8u);
  size_t entries = 0;
  for (const Table& t : drained) entries += t.size();
  EXPECT_EQ(entries, 100u);

  std::string v;
  EXPECT_EQ(GetString(s, "k1", &v), Status::kDestroyed);
  EXPECT_EQ(GetString(s, "never-there", &v), Status::kDestroyed);
  EXPECT_EQ(PutString(s, "k1", "x"), Status::kDestroyed);  // the entry is freed (LSan)
  EXPECT_EQ(PutString(s, "new", "x"), Status::kDestroyed);
  EXPECT_EQ(EraseString(s, "k2"), Status::kDestroyed);
  EXPECT_EQ(EraseString(s, "never-there"), Status::kDestroyed);
  EXPECT_EQ(s.Clear(), Status::kDestroyed);
  StoreSizes sizes;
  sizes.entries = 12345;
  EXPECT_EQ(s.Sizes(&sizes), Status::kDestroyed);
  EXPECT_EQ(sizes.entries, 12345u);  // untouched

  // A second Kill is a no-op.
  std::vector<Table> again;
  s.Kill(&again);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(PutString(s, "k1", "x"), Status::kDestroyed);
}

TEST(Store, CompoundOperationsAfterKillReturnDestroyed) {
  // (Increment and PutMany after Kill: compound_test.cc.)
  Store s("t", SmallOptions(4));
  ASSERT_EQ(PutString(s, "k", "v"), Status::kOk);
  std::vector<Table> drained;
  s.Kill(&drained);
  const uint64_t h = s.Hash("k");
  EXPECT_EQ(s.Insert(h, MakeValueEntry(s, "k", "v")), Status::kDestroyed);
  EXPECT_EQ(s.Insert(s.Hash("new"), MakeValueEntry(s, "new", "v")), Status::kDestroyed);
  EXPECT_EQ(s.InsertOrRead(h, MakeValueEntry(s, "k", "v"), [](const Entry&) { ADD_FAILURE() << "called"; }),
            Status::kDestroyed);
  EXPECT_EQ(s.CompareAndPut(h, MakeValueEntry(s, "k", "v"), kExpectAbsent), Status::kDestroyed);
  EXPECT_EQ(s.CompareAndErase("k", h, 1), Status::kDestroyed);
  const KeyRef refs[] = {{"k", h}, {"other", s.Hash("other")}};
  for (const bool atomic : {false, true}) {
    size_t erased = 99;
    EXPECT_EQ(s.EraseMany(refs, atomic, &erased), Status::kDestroyed);
  }
  EXPECT_EQ(s.ReadMany(refs, [](size_t, const Entry*) { ADD_FAILURE() << "called"; }), Status::kDestroyed);
  for (uint32_t shard = 0; shard < s.shard_count(); ++shard)
    EXPECT_EQ(s.Scan(shard, "", [](const Entry&) { ADD_FAILURE() << "called"; }), Status::kDestroyed);
}

TEST(Store, KillOfAnEmptyStore) {
  Store s("t", SmallOptions(2));
  std::vector<Table> drained;
  s.Kill(&drained);
  EXPECT_EQ(drained.size(), 2u);
  EXPECT_EQ(s.Clear(), Status::kDestroyed);
}

// ---- Entry layout: SIEVE stores' entries carry queue links, others not ----

Options WithPolicy(uint64_t max_entries, EvictionPolicy policy) {
  Options o = SmallOptions(2);
  o.max_entries = max_entries;
  o.eviction = policy;
  return o;
}

TEST(Store, EntryLayoutFollowsTheEvictionPolicy) {
  EXPECT_EQ(sizeof(Entry), 32u);
  struct Case {
    const char* what;
    Options options;
    bool links;
  };
  const Case cases[] = {
      {"no limit", SmallOptions(2), false},
      {"sieve without a limit (never evicts)", WithPolicy(0, EvictionPolicy::kSieve), false},
      {"limit, policy none", WithPolicy(1000, EvictionPolicy::kNone), false},
      {"limit, sieve", WithPolicy(1000, EvictionPolicy::kSieve), true},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    Store s("t", c.options);
    EntryPtr e = s.NewEntry("key", 5, Kind::kString, kFlagLoneSurrogates);
    EXPECT_EQ(e->has_links(), c.links);
    EXPECT_EQ(e->footprint(), (c.links ? 48u : 32u) + 3 + 5);  // the whole block
    EXPECT_EQ(e->key(), "key");
    EXPECT_EQ(e->flags, kFlagLoneSurrogates);
    EXPECT_EQ(e->kind, Kind::kString);
    EXPECT_EQ(e->expires_at, kDefaultExpiry);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(e.get()) % 16, 0u);
    if (c.links) {
      EXPECT_EQ(e->links().newer, nullptr);
      EXPECT_EQ(e->links().older, nullptr);
    }
    // memory() counts the real block; the byte charge adds a slot and
    // malloc's chunk header: 48 per entry, 64 with queue links.
    ASSERT_EQ(PutString(s, "abc", "12345"), Status::kOk);
    ASSERT_EQ(PutString(s, "de", ""), Status::kOk);
    EXPECT_EQ(SizesOf(s).bytes, (c.links ? 48u : 32u) * 2 + 3 + 5 + 2);
    StoreStats st;
    ASSERT_EQ(s.Stats(&st), Status::kOk);
    EXPECT_EQ(st.bytes, 3u + 5u + 2u + 2 * (kEntryOverhead + (c.links ? kQueueLinkBytes : 0)));
    // Entries of either layout survive replacement, erase and clear (ASan
    // checks that each block is freed from its start).
    ASSERT_EQ(PutString(s, "abc", "x"), Status::kOk);
    ASSERT_EQ(EraseString(s, "de"), Status::kOk);
    std::string v;
    ASSERT_EQ(GetString(s, "abc", &v), Status::kOk);
    EXPECT_EQ(v, "x");
    EXPECT_EQ(s.Clear(), Status::kOk);
  }
}

TEST(StoreDeathTest, EntryOfTheWrongLayoutAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Store s("sieve", WithPolicy(10, EvictionPolicy::kSieve));
        (void)s.Put(s.Hash("k"), MakeValueEntry("k", "v"));  // no links
      },
      "not made by its NewEntry");
  EXPECT_DEATH(
      {
        Store s("plain", SmallOptions(2));
        (void)s.Put(s.Hash("k"), MakeEntry("k", 0, Kind::kNull, 0, true));  // links it never uses
      },
      "not made by its NewEntry");
  EXPECT_DEATH(
      {
        Store s("sieve", WithPolicy(10, EvictionPolicy::kSieve));
        std::vector<HashedEntry> batch;
        batch.push_back({s.Hash("k"), MakeValueEntry("k", "v")});
        (void)s.PutMany(batch, true);
      },
      "not made by its NewEntry");
}

TEST(Store, HugeShardPastTheTagHomeCapacity) {
  // One shard with more keys than 3/4 of 2^20: its table recomputes home
  // slots from keys with the store's seed. Erases (backward shifts) and a
  // TTL sweep run on the huge table, then it shrinks back under it.
  Options o = SmallOptions(1);
  Store s("huge", o);
  const size_t n = Table::kTagHomeCapacity * 3 / 4 + 1000;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(PutString(s, Cat("k:", i), "v"), Status::kOk) << i;
  // 2^21 slots, and the 2^20 of the array they are being migrated from
  // until enough writes have moved every entry over (table.h).
  EXPECT_GE(SizesOf(s).slot_bytes, 2 * Table::kTagHomeCapacity * Table::kSlotBytes);
  EXPECT_LE(SizesOf(s).slot_bytes, 3 * Table::kTagHomeCapacity * Table::kSlotBytes);
  // Keys i % 4 == 0, 1 erased, 2 expired and swept, 3 kept: a quarter of
  // the keys is below the 1/8 load of 2^21 slots, so the table shrinks.
  for (size_t i = 0; i < n; ++i) {
    const std::string k = Cat("k:", i);
    if (i % 4 < 2) {
      ASSERT_EQ(EraseString(s, k), Status::kOk) << i;
    } else if (i % 4 == 2) {
      ASSERT_EQ(s.Expire(k, s.Hash(k), 1), Status::kOk) << i;  // a deadline long past
    }
  }
  EXPECT_EQ(s.SweepExpired(1 << 16), (n + 1) / 4);
  const StoreSizes z = SizesOf(s);
  EXPECT_EQ(z.entries, n / 4);
  EXPECT_LE(z.slot_bytes, Table::kTagHomeCapacity * Table::kSlotBytes);
  for (size_t i = 0; i < n; ++i) {
    std::string v;
    ASSERT_EQ(GetString(s, Cat("k:", i), &v), i % 4 == 3 ? Status::kOk : Status::kNotFound) << i;
  }
}

}  // namespace
}  // namespace threadkv
