// Table: the open-addressing hash table inside one shard. It takes the hash
// as an argument, so these tests choose hashes directly to force collisions
// (same full hash, same home slot, same slot tag, clusters that wrap around
// the array end). The tables that recompute home slots from keys (capacity
// above Table::kTagHomeCapacity, or a lowered threshold) are given the real
// hashes of their keys.
#include "core/table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "core/hash.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;
using testing::Scaled;

using testing::EraseString;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::SizesOf;
using testing::SmallOptions;
using testing::ValueOf;

std::string Key(size_t i) { return Cat("key-", i); }
std::string Val(size_t i) { return Cat("value-", i * 7919); }

// The value stored under `key`, or "<absent>".
std::string Lookup(const Table& t, uint64_t hash, const std::string& key) {
  const Entry* e = t.Find(hash, key);
  return e == nullptr ? "<absent>" : ValueOf(*e);
}

// Load and capacity invariants that hold after every operation, also while
// a migration runs (then the current array is the target, and the old one
// is the array before the last resize).
void ExpectShape(const Table& t) {
  const size_t cap = t.capacity();
  const size_t old = t.old_capacity();
  EXPECT_EQ(old != 0, t.migrating());
  if (cap == 0) {
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(old, 0u);
    EXPECT_EQ(t.slot_bytes(), 0u);
    return;
  }
  EXPECT_GE(cap, Table::kMinCapacity);
  EXPECT_EQ(cap & (cap - 1), 0u) << "capacity " << cap << " is not a power of two";
  EXPECT_LE(t.size() * 4, cap * 3) << "load above 3/4";
  if (old != 0) {
    EXPECT_EQ(old & (old - 1), 0u) << "old capacity " << old << " is not a power of two";
    // Growth (by Upsert or Reserve), a halving shrink, or an emptied big
    // table's array waiting to be given back.
    EXPECT_TRUE(old < cap || old == 2 * cap || (t.size() == 0 && cap == Table::kMinCapacity))
        << "old " << old << " current " << cap;
  }
  EXPECT_EQ(t.slot_bytes(), (cap + old) * Table::kSlotBytes);
  // Every entry exactly once.
  std::set<const Entry*> seen;
  size_t visited = 0;
  t.ForEach([&](const Entry& e) {
    ++visited;
    EXPECT_TRUE(seen.insert(&e).second) << "ForEach gave " << e.key() << " twice";
  });
  EXPECT_EQ(visited, t.size());
}

TEST(Table, EmptyTable) {
  Table t;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.slot_bytes(), 0u);
  EXPECT_EQ(t.Find(123, "x"), nullptr);
  EXPECT_EQ(t.Erase(123, "x"), nullptr);
  std::vector<EntryPtr> out;
  t.DrainInto(out);
  EXPECT_TRUE(out.empty());
  t.ForEach([](const Entry&) { ADD_FAILURE() << "ForEach on an empty table"; });
}

TEST(Table, InsertFindReplaceErase) {
  Table t;
  EXPECT_EQ(t.Upsert(1, MakeValueEntry("a", "1")), nullptr);
  EXPECT_EQ(t.Upsert(2, MakeValueEntry("b", "2")), nullptr);
  EXPECT_EQ(t.Upsert(3, MakeValueEntry("c", "")), nullptr);
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(t.capacity(), Table::kMinCapacity);
  EXPECT_EQ(Lookup(t, 1, "a"), "1");
  EXPECT_EQ(Lookup(t, 2, "b"), "2");
  EXPECT_EQ(Lookup(t, 3, "c"), "");
  // A key is found only under its own hash, and a hash only with its own key.
  EXPECT_EQ(t.Find(2, "a"), nullptr);
  EXPECT_EQ(t.Find(1, "b"), nullptr);
  EXPECT_EQ(t.Find(4, "d"), nullptr);

  EntryPtr old = t.Upsert(2, MakeValueEntry("b", "two"));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(old->key(), "b");
  EXPECT_EQ(ValueOf(*old), "2");
  EXPECT_EQ(t.size(), 3u);
  EXPECT_EQ(Lookup(t, 2, "b"), "two");

  EntryPtr gone = t.Erase(1, "a");
  ASSERT_NE(gone, nullptr);
  EXPECT_EQ(ValueOf(*gone), "1");
  EXPECT_EQ(t.size(), 2u);
  EXPECT_EQ(t.Find(1, "a"), nullptr);
  EXPECT_EQ(t.Erase(1, "a"), nullptr);
  EXPECT_EQ(t.Erase(9, "zz"), nullptr);
  EXPECT_EQ(Lookup(t, 2, "b"), "two");
  EXPECT_EQ(Lookup(t, 3, "c"), "");
  ExpectShape(t);
}

TEST(Table, KeysAreComparedByBytes) {
  // Empty key, embedded NUL, and a key that is a prefix of another, all under
  // one full hash: only the bytes tell them apart.
  Table t;
  const std::vector<std::string> keys = {"", std::string("a\0b", 3), std::string("a\0c", 3), "a", "ab", "abc"};
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(t.Upsert(42, MakeValueEntry(keys[i], Val(i))), nullptr);
  EXPECT_EQ(t.size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) EXPECT_EQ(Lookup(t, 42, keys[i]), Val(i)) << i;
  EXPECT_EQ(t.Find(42, "b"), nullptr);
  EXPECT_EQ(t.Find(42, std::string("a\0", 2)), nullptr);
}

// Inserts n keys with hashes from `hash_of`, then erases them in `order`,
// checking after every erase that each remaining key is still found (a broken
// backward shift leaves a hole on some key's probe path, or a key outside it)
// and that erased keys are gone.
void EraseInOrder(size_t n, uint64_t (*hash_of)(size_t), const std::vector<size_t>& order) {
  Table t;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(t.Upsert(hash_of(i), MakeValueEntry(Key(i), Val(i))), nullptr);
  std::vector<bool> present(n, true);
  for (size_t step = 0; step < order.size(); ++step) {
    const size_t victim = order[step];
    EntryPtr e = t.Erase(hash_of(victim), Key(victim));
    ASSERT_NE(e, nullptr) << "step " << step << ": key " << victim << " not found for erase";
    EXPECT_EQ(ValueOf(*e), Val(victim));
    present[victim] = false;
    for (size_t i = 0; i < n; ++i) {
      if (present[i]) {
        ASSERT_EQ(Lookup(t, hash_of(i), Key(i)), Val(i)) << "step " << step << " (erased " << victim << ")";
      } else {
        ASSERT_EQ(t.Find(hash_of(i), Key(i)), nullptr) << "step " << step;
      }
    }
    ExpectShape(t);
  }
}

std::vector<size_t> Orders(size_t n, int which) {
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  if (which == 1) std::reverse(order.begin(), order.end());
  if (which == 2) std::shuffle(order.begin(), order.end(), std::mt19937_64(n));
  if (which == 3) {  // middle first, then alternate outwards
    std::vector<size_t> o;
    for (size_t d = 0; o.size() < n; ++d) {
      if (n / 2 + d < n) o.push_back(n / 2 + d);
      if (d != 0 && d <= n / 2) o.push_back(n / 2 - d);
    }
    order = o;
  }
  return order;
}

// Every key has the same full hash: one cluster, resolved by key compares.
uint64_t SameHash(size_t) { return 0x1234'5678'9abc'def0ULL; }
// Distinct full hashes, same home slot for every capacity up to 2^32.
uint64_t SameHome(size_t i) { return (static_cast<uint64_t>(i + 1) << 32) | 5; }
// Home slot = the last slot for every capacity: the cluster wraps to slot 0.
uint64_t WrapHome(size_t i) { return (static_cast<uint64_t>(i + 1) << 32) | 0xFFFF'FFFFULL; }
// Two interleaved clusters whose homes are the last two slots of a table of
// capacity 16..2^32, plus keys homed at slot 0 and 1: shifted entries must not
// move before their home across the wrap.
uint64_t MixedWrap(size_t i) {
  static const uint64_t homes[] = {0xFFFF'FFFEULL, 0xFFFF'FFFFULL, 0, 1};
  return (static_cast<uint64_t>(i + 1) << 32) | homes[i % 4];
}

TEST(Table, BackwardShiftSameFullHash) {
  for (int o = 0; o < 4; ++o) EraseInOrder(40, SameHash, Orders(40, o));
}

TEST(Table, BackwardShiftSameHomeSlot) {
  for (int o = 0; o < 4; ++o) EraseInOrder(40, SameHome, Orders(40, o));
}

TEST(Table, BackwardShiftClusterWrapsAround) {
  for (int o = 0; o < 4; ++o) EraseInOrder(40, WrapHome, Orders(40, o));
  for (int o = 0; o < 4; ++o) EraseInOrder(44, MixedWrap, Orders(44, o));
}

// Random operations against a std::map model, with hashes drawn from a few
// home slots (heavy clustering), some exact duplicates, and wrap-around.
TEST(Table, RandomOpsMatchModel) {
  std::mt19937_64 rng(20240601);
  Table t;
  std::map<std::string, std::pair<uint64_t, std::string>> model;
  auto hash_for = [](size_t k) -> uint64_t {
    // 5 home slots (0, 1, 2, last, second to last); k and k + 5 share a full
    // hash when k / 10 == (k + 5) / 10.
    static const uint64_t homes[] = {0, 1, 2, ~uint64_t{0}, ~uint64_t{1}};
    return (static_cast<uint64_t>(k / 10) << 40) | (homes[k % 5] & 0xFF'FFFF'FFFFULL);
  };
  const size_t kKeys = 300;
  for (int step = 0; step < 20000; ++step) {
    const size_t k = rng() % kKeys;
    const std::string key = Key(k);
    const uint64_t h = hash_for(k);
    const int op = static_cast<int>(rng() % 10);
    if (op < 6) {
      const std::string v = Val(rng() % 1000);
      EntryPtr old = t.Upsert(h, MakeValueEntry(key, v));
      auto it = model.find(key);
      if (it == model.end()) {
        EXPECT_EQ(old, nullptr) << "step " << step;
        model[key] = {h, v};
      } else {
        ASSERT_NE(old, nullptr) << "step " << step;
        EXPECT_EQ(ValueOf(*old), it->second.second);
        it->second.second = v;
      }
    } else {
      EntryPtr old = t.Erase(h, key);
      auto it = model.find(key);
      if (it == model.end()) {
        EXPECT_EQ(old, nullptr) << "step " << step;
      } else {
        ASSERT_NE(old, nullptr) << "step " << step << " key " << key;
        EXPECT_EQ(ValueOf(*old), it->second.second);
        model.erase(it);
      }
    }
    ASSERT_EQ(t.size(), model.size());
    if (step % 97 == 0 || model.size() < 20) {
      for (const auto& [mk, hv] : model) ASSERT_EQ(Lookup(t, hv.first, mk), hv.second) << "step " << step;
      ExpectShape(t);
    }
  }
}

TEST(Table, GrowthKeepsEveryKeyFindable) {
  Table t;
  const size_t n = 20000;
  size_t last_cap = 0;
  std::set<size_t> capacities;
  for (size_t i = 0; i < n; ++i) {
    const std::string k = Key(i);
    ASSERT_EQ(t.Upsert(HashBytes(k.data(), k.size(), 7), MakeValueEntry(k, Val(i))), nullptr);
    ASSERT_LE(t.size() * 4, t.capacity() * 3);
    ASSERT_GE(t.capacity(), last_cap) << "shrank on insert";
    last_cap = t.capacity();
    capacities.insert(last_cap);
  }
  // 8, 16, ... doubling: the table grew through every power of two.
  EXPECT_EQ(*capacities.begin(), Table::kMinCapacity);
  for (size_t c : capacities) EXPECT_TRUE(c == Table::kMinCapacity || capacities.count(c / 2)) << c;
  // Max load 3/4: 20000 entries need 32768 slots.
  EXPECT_EQ(t.capacity(), 32768u);
  for (size_t i = 0; i < n; ++i) {
    const std::string k = Key(i);
    ASSERT_EQ(Lookup(t, HashBytes(k.data(), k.size(), 7), k), Val(i)) << i;
  }
  ExpectShape(t);
}

TEST(Table, GrowthThresholdIsThreeQuarters) {
  Table t;
  for (size_t i = 0; i < 6; ++i) t.Upsert(i, MakeValueEntry(Key(i), "v"));
  EXPECT_EQ(t.capacity(), 8u);  // 6/8 = 3/4
  t.Upsert(6, MakeValueEntry(Key(6), "v"));
  EXPECT_EQ(t.capacity(), 16u);
}

TEST(Table, ShrinkKeepsEveryKeyFindable) {
  Table t;
  const size_t n = 5000;
  for (size_t i = 0; i < n; ++i) {
    const std::string k = Key(i);
    t.Upsert(HashBytes(k.data(), k.size(), 11), MakeValueEntry(k, Val(i)));
  }
  const size_t peak = t.capacity();
  std::vector<size_t> order = Orders(n, 2);
  std::vector<bool> present(n, true);
  for (size_t step = 0; step < n; ++step) {
    const size_t victim = order[step];
    const std::string k = Key(victim);
    ASSERT_NE(t.Erase(HashBytes(k.data(), k.size(), 11), k), nullptr) << step;
    present[victim] = false;
    const size_t cap = t.capacity();
    // Shrinks at 1/8 load (once no migration runs: one at a time), never
    // below the minimum, never above 3/4 load.
    if (!t.migrating()) {
      ASSERT_TRUE(cap == Table::kMinCapacity || t.size() * 8 >= cap) << "size " << t.size() << " cap " << cap;
    }
    ASSERT_LE(t.size() * 4, cap * 3);
    if (step % 250 == 0 || t.size() < 64) {
      for (size_t i = 0; i < n; ++i) {
        if (!present[i]) continue;
        const std::string ki = Key(i);
        ASSERT_EQ(Lookup(t, HashBytes(ki.data(), ki.size(), 11), ki), Val(i)) << "step " << step;
      }
    }
  }
  EXPECT_LT(t.capacity(), peak);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), Table::kMinCapacity);  // keeps the minimum array
  // Still usable after shrinking to the minimum.
  EXPECT_EQ(t.Upsert(5, MakeValueEntry("again", "v")), nullptr);
  EXPECT_EQ(Lookup(t, 5, "again"), "v");
}

TEST(Table, ChurnDoesNotPinPeakCapacity) {
  Table t;
  for (size_t i = 0; i < 4096; ++i) t.Upsert(i * 0x9E37'79B9'7F4A'7C15ULL, MakeValueEntry(Key(i), "v"));
  for (size_t i = 0; i < 4096 - 10; ++i) ASSERT_NE(t.Erase(i * 0x9E37'79B9'7F4A'7C15ULL, Key(i)), nullptr);
  EXPECT_LE(t.capacity(), 128u);
  for (size_t i = 4096 - 10; i < 4096; ++i) EXPECT_EQ(Lookup(t, i * 0x9E37'79B9'7F4A'7C15ULL, Key(i)), "v");
}

TEST(Table, DrainIntoMovesEveryEntryOut) {
  Table t;
  const size_t n = 1000;
  for (size_t i = 0; i < n; ++i) t.Upsert(i % 17, MakeValueEntry(Key(i), Val(i)));
  std::vector<EntryPtr> out;
  out.push_back(MakeValueEntry("already-there", "x"));
  t.DrainInto(out);
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), 0u);
  EXPECT_EQ(t.slot_bytes(), 0u);
  ASSERT_EQ(out.size(), n + 1);
  EXPECT_EQ(out[0]->key(), "already-there");  // appended, not replaced
  std::set<std::string> seen;
  for (size_t i = 1; i < out.size(); ++i) {
    const std::string k(out[i]->key());
    EXPECT_TRUE(seen.insert(k).second) << "drained twice: " << k;
    const size_t idx = std::stoul(k.substr(4));
    EXPECT_EQ(ValueOf(*out[i]), Val(idx));
  }
  EXPECT_EQ(seen.size(), n);
  // The table is reusable; draining again adds nothing.
  EXPECT_EQ(t.Find(3, Key(3)), nullptr);
  t.Upsert(3, MakeValueEntry(Key(3), "new"));
  EXPECT_EQ(Lookup(t, 3, Key(3)), "new");
  std::vector<EntryPtr> out2;
  t.DrainInto(out2);
  EXPECT_EQ(out2.size(), 1u);
  t.DrainInto(out2);
  EXPECT_EQ(out2.size(), 1u);
}

TEST(Table, MoveTransfersOwnership) {
  Table a;
  for (size_t i = 0; i < 50; ++i) a.Upsert(i, MakeValueEntry(Key(i), Val(i)));
  Table b(std::move(a));
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.capacity(), 0u);
  EXPECT_EQ(b.size(), 50u);
  for (size_t i = 0; i < 50; ++i) EXPECT_EQ(Lookup(b, i, Key(i)), Val(i));
  // Move-assigning over a non-empty table frees its entries (LSan checks).
  Table c;
  for (size_t i = 0; i < 20; ++i) c.Upsert(i, MakeValueEntry(Cat("ckey-", i), "c"));
  c = std::move(b);
  EXPECT_EQ(c.size(), 50u);
  EXPECT_EQ(c.Find(0, Cat("ckey-", 0)), nullptr);
  EXPECT_EQ(Lookup(c, 7, Key(7)), Val(7));
  Table& alias = c;
  c = std::move(alias);  // self-move keeps the entries
  EXPECT_EQ(c.size(), 50u);
  // A moved-from table is usable.
  a.Upsert(1, MakeValueEntry("x", "y"));
  EXPECT_EQ(Lookup(a, 1, "x"), "y");
}

TEST(Table, ForEachVisitsEachEntryOnce) {
  Table t;
  for (size_t i = 0; i < 300; ++i) t.Upsert(i % 3, MakeValueEntry(Key(i), Val(i)));
  std::multiset<std::string> keys;
  t.ForEach([&](const Entry& e) { keys.insert(std::string(e.key())); });
  EXPECT_EQ(keys.size(), 300u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 300u);
}

// ---- 8-byte slots: tags and the huge-table path ----

// Hashes that agree in their low Table::kTagBits bits (the tag kept in the
// slot, and so the home slot in every table) and differ only above them.
uint64_t SameTag(size_t i) { return (static_cast<uint64_t>(i + 1) << Table::kTagBits) | 0xA'BCDEULL; }
// Same home slot in a table of up to 2^12 slots, different tags.
uint64_t SameHomeOtherTag(size_t i) { return (static_cast<uint64_t>(i + 1) << 12) | 0x7FFULL; }

TEST(Table, SlotIsOneWord) {
  EXPECT_EQ(Table::kSlotBytes, 8u);
  Table t;
  for (size_t i = 0; i < 7; ++i) t.Upsert(i, MakeValueEntry(Key(i), "v"));
  EXPECT_EQ(t.slot_bytes(), 16u * 8u);
}

TEST(Table, TagCollisionsAreResolvedByKey) {
  // One tag for every key: only the key bytes tell entries apart, and a
  // probe for an absent key with that tag walks the whole cluster.
  for (int o = 0; o < 4; ++o) EraseInOrder(60, SameTag, Orders(60, o));
  Table t;
  for (size_t i = 0; i < 60; ++i) ASSERT_EQ(t.Upsert(SameTag(i), MakeValueEntry(Key(i), Val(i))), nullptr);
  for (size_t i = 0; i < 60; ++i) EXPECT_EQ(Lookup(t, SameTag(i), Key(i)), Val(i));
  EXPECT_EQ(t.Find(SameTag(1000), Key(1000)), nullptr);
  EXPECT_EQ(t.Find(SameTag(0), "no-such-key"), nullptr);
  EXPECT_EQ(t.Erase(SameTag(0), "no-such-key"), nullptr);
  // Replacing under a colliding tag replaces that key only.
  EntryPtr old = t.Upsert(SameTag(30), MakeValueEntry(Key(30), "new"));
  ASSERT_NE(old, nullptr);
  EXPECT_EQ(ValueOf(*old), Val(30));
  EXPECT_EQ(Lookup(t, SameTag(30), Key(30)), "new");
  EXPECT_EQ(Lookup(t, SameTag(31), Key(31)), Val(31));
  EXPECT_EQ(t.size(), 60u);
}

TEST(Table, TagFiltersSameHomeSlot) {
  // Same home slot, different tags: found under its own tag only.
  for (int o = 0; o < 4; ++o) EraseInOrder(40, SameHomeOtherTag, Orders(40, o));
  Table t;
  ASSERT_EQ(t.Upsert(SameHomeOtherTag(0), MakeValueEntry("a", "1")), nullptr);
  ASSERT_EQ(t.Upsert(SameHomeOtherTag(1), MakeValueEntry("b", "2")), nullptr);
  EXPECT_EQ(Lookup(t, SameHomeOtherTag(0), "a"), "1");
  EXPECT_EQ(Lookup(t, SameHomeOtherTag(1), "b"), "2");
  EXPECT_EQ(t.Find(SameHomeOtherTag(1), "a"), nullptr);  // right key, another tag
  EXPECT_EQ(t.Find(SameHomeOtherTag(0), "b"), nullptr);
}

TEST(Table, EntriesAreSixteenByteAligned) {
  for (size_t k = 0; k < 40; ++k) {
    for (size_t v = 0; v < 40; ++v) {
      for (bool links : {false, true}) {
        EntryPtr e = MakeEntry(std::string(k, 'k'), v, Kind::kBytes, 0, links);
        EXPECT_EQ(reinterpret_cast<uintptr_t>(e.get()) % 16, 0u) << k << " " << v << " " << links;
      }
    }
  }
}

TEST(TableDeathTest, EntryThatDoesNotFitASlotAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  // An entry at an address that is not 16-byte aligned (MakeEntry never
  // makes one): the table refuses to pack it, before it changes anything.
  EXPECT_DEATH(
      {
        alignas(16) static char buf[64];
        Table t;
        t.Upsert(1, EntryPtr(new (buf + 8) Entry()));
      },
      "does not fit an 8-byte table slot");
}

// Random upserts and erases against a std::unordered_map model, checking
// every key after each burst: backward-shift deletion under churn, growth
// and shrinking. `tag_home_capacity` below the table's sizes makes every
// rehash and backward shift recompute home slots from the keys.
void ChurnAgainstModel(size_t tag_home_capacity, uint64_t rng_seed) {
  const uint64_t seed = 0x5EED'0000'0000'0001ULL ^ rng_seed;
  Table t(seed, tag_home_capacity);
  EXPECT_EQ(t.seed(), seed);
  std::unordered_map<std::string, std::string> model;
  std::mt19937_64 rng(rng_seed);
  auto hash = [&](const std::string& k) { return HashBytes(k.data(), k.size(), seed); };
  auto check_all = [&](int step) {
    ASSERT_EQ(t.size(), model.size()) << "step " << step;
    for (const auto& [k, v] : model) ASSERT_EQ(Lookup(t, hash(k), k), v) << "step " << step << " key " << k;
    ExpectShape(t);
  };
  // Phases: grow to ~3000 keys, churn at that size, drain to a handful,
  // regrow: so the table crosses every capacity both ways under churn.
  const size_t kKeySpace = 4000;
  int step = 0;
  for (const auto& [steps, insert_pct] :
       std::vector<std::pair<int, unsigned>>{{6000, 80}, {8000, 50}, {9000, 15}, {5000, 70}, {3000, 5}}) {
    for (int n = 0; n < steps; ++n, ++step) {
      const size_t id = rng() % kKeySpace;
      const std::string k = Key(id);
      if (rng() % 100 < insert_pct) {
        const std::string v = Val(rng() % 100000);
        EntryPtr old = t.Upsert(hash(k), MakeValueEntry(k, v));
        auto it = model.find(k);
        ASSERT_EQ(old != nullptr, it != model.end()) << "step " << step;
        if (old) {
          EXPECT_EQ(ValueOf(*old), it->second);
        }
        model[k] = v;
      } else {
        EntryPtr old = t.Erase(hash(k), k);
        auto it = model.find(k);
        ASSERT_EQ(old != nullptr, it != model.end()) << "step " << step;
        if (old) {
          EXPECT_EQ(ValueOf(*old), it->second);
          model.erase(it);
        }
      }
      if (step % 500 == 0 || model.size() < 16) check_all(step);
    }
    check_all(step);
  }
  // Then erase what is left, in the model's (arbitrary) order.
  std::vector<std::string> left;
  for (const auto& kv : model) left.push_back(kv.first);
  for (const std::string& k : left) {
    ASSERT_NE(t.Erase(hash(k), k), nullptr) << k;
    model.erase(k);
    if (model.size() % 97 == 0) check_all(step);
  }
  EXPECT_EQ(t.size(), 0u);
  EXPECT_EQ(t.capacity(), Table::kMinCapacity);
}

TEST(Table, ChurnMatchesUnorderedMap) {
  for (uint64_t r = 1; r <= 3; ++r) ChurnAgainstModel(Table::kTagHomeCapacity, r);
}

TEST(Table, ChurnMatchesUnorderedMapRecomputingHomes) {
  // Above 16 slots every home slot comes from rehashing the key.
  for (uint64_t r = 1; r <= 3; ++r) ChurnAgainstModel(16, r);
}

TEST(Table, HugeTableRecomputesHomeSlots) {
  // The real threshold: past 3/4 of 2^20 entries the table grows to 2^21
  // slots, where the tag no longer holds the whole home index. Then erase
  // most keys (backward shifts in the huge table) until it shrinks back.
  const size_t n = Table::kTagHomeCapacity * 3 / 4 + 1000;
  Table t;  // HashKey's seed
  auto key = [](size_t i) { return Cat("k:", i); };
  auto hash = [](const std::string& k) { return HashKey(k.data(), k.size()); };
  for (size_t i = 0; i < n; ++i) {
    const std::string k = key(i);
    ASSERT_EQ(t.Upsert(hash(k), MakeValueEntry(k, "v")), nullptr) << i;
  }
  ASSERT_EQ(t.capacity(), 2 * Table::kTagHomeCapacity);
  for (size_t i = 0; i < n; ++i) {
    const std::string k = key(i);
    ASSERT_NE(t.Find(hash(k), k), nullptr) << i;
  }
  std::vector<size_t> order = Orders(n, 2);
  const size_t keep = Table::kTagHomeCapacity / 16;  // 1/16 load: below the 1/8 shrink point
  for (size_t step = 0; step + keep < n; ++step) {
    const std::string k = key(order[step]);
    ASSERT_NE(t.Erase(hash(k), k), nullptr) << "step " << step;
  }
  EXPECT_LE(t.capacity(), Table::kTagHomeCapacity);
  ASSERT_EQ(t.size(), keep);
  for (size_t step = 0; step < n; ++step) {
    const std::string k = key(order[step]);
    const bool present = step + keep >= n;
    ASSERT_EQ(t.Find(hash(k), k) != nullptr, present) << "step " << step;
  }
  ExpectShape(t);
}

// ---- Incremental rehashing (migrations) ----
//
// Tables with tiny migration steps keep a migration running across many
// calls, so that every kind of call meets one; tables with the default
// steps check the bound on work per call and that the fallback (finish a
// migration at once) is never needed.

// What a failed allocation must leave untouched.
struct Shape {
  size_t size;
  size_t capacity;
  size_t old_capacity;
  size_t slot_bytes;
  uint64_t moves;
  bool operator==(const Shape&) const = default;
};
Shape ShapeOf(const Table& t) {
  return {t.size(), t.capacity(), t.old_capacity(), t.slot_bytes(), t.migrated_entries()};
}
void PrintTo(const Shape& s, std::ostream* os) {
  *os << "{size " << s.size << ", capacity " << s.capacity << ", old " << s.old_capacity << ", bytes " << s.slot_bytes
      << ", moves " << s.moves << "}";
}

// Table's allocation seam: counts slot-array allocations and fails them on
// request. One per test at a time (each test runs in its own process).
class AllocSeam {
 public:
  AllocSeam() {
    calls_ = 0;
    fail_ = false;
    Table::SetSlotAllocHookForTesting(&Hook);
  }
  ~AllocSeam() { Table::SetSlotAllocHookForTesting(nullptr); }
  AllocSeam(const AllocSeam&) = delete;
  AllocSeam& operator=(const AllocSeam&) = delete;
  void Fail(bool on) { fail_ = on; }
  size_t calls() const { return calls_; }

 private:
  static bool Hook(size_t) {
    ++calls_;
    return !fail_;
  }
  static inline size_t calls_ = 0;
  static inline bool fail_ = false;
};

struct Tuning {
  size_t tag_home = Table::kTagHomeCapacity;
  size_t step_slots = Table::kStepSlots;
  size_t step_moves = Table::kStepMoves;
};

enum class Hashes {
  kReal,       // HashBytes(key, seed): what the store passes
  kClustered,  // the real high bits, but the low 20 (tag and home) from 16
               // values: long clusters, clusters that wrap around the end
               // of the array, tag collisions (tables of up to 2^20 slots
               // that take homes from tags only)
};

// Counts of calls made while a migration ran, by kind.
struct MidMigration {
  size_t inserts = 0, replaces = 0, erase_hits = 0, erase_misses = 0, finds = 0, reserves = 0, full_checks = 0;
};

// Random calls against a std::unordered_map model. After each call: the
// size, the key touched, the bound on moves per call; every `check_every`
// calls (and whenever the model is small): every key, ForEach against the
// model (exactly once each), and the shape. With `fail_pct`, that share of
// the calls runs with every slot allocation failing: an Upsert or Reserve
// that needs one throws and changes nothing, an Erase skips its shrink.
class ModelRun {
 public:
  ModelRun(Tuning tu, Hashes hashes, uint64_t rng_seed, size_t key_space)
      : seed_(0xC0FF'EE00'0000'0000ULL ^ rng_seed),
        hashes_(hashes),
        key_space_(key_space),
        step_moves_(tu.step_moves),
        t_(seed_, tu.tag_home, tu.step_slots, tu.step_moves),
        rng_(rng_seed) {}

  Table& table() { return t_; }
  const std::unordered_map<std::string, std::string>& model() const { return model_; }
  std::mt19937_64& rng() { return rng_; }
  void set_fail_pct(unsigned pct) { fail_pct_ = pct; }
  void set_check_every(size_t n) { check_every_ = n; }
  const MidMigration& mid() const { return mid_; }
  size_t fallbacks() const { return fallbacks_; }
  size_t failed_allocations() const { return failed_; }
  size_t mutating_calls() const { return mutating_; }
  size_t mutating_mid_migration() const { return mutating_mid_; }
  // Keys upserted or erased since the last ClearTouched (Walk tests).
  const std::unordered_set<std::string>& touched() const { return touched_; }
  void ClearTouched() { touched_.clear(); }

  uint64_t Hash(const std::string& k) const {
    const uint64_t h = HashBytes(k.data(), k.size(), seed_);
    if (hashes_ == Hashes::kReal) return h;
    static constexpr uint64_t kLow[16] = {0,     1,     2,     3,     0xFFFFF, 0xFFFFE, 0xFFFFD, 0x7FF,
                                          0x800, 0x801, 0x3FF, 0x400, 0x1F,    0x20,    0xFF,    0x100};
    return (h & ~uint64_t{0xFFFFF}) | kLow[h >> 60];
  }

  // Erases key `k` the way Walk callbacks do (no checks but the model's).
  EntryPtr EraseKey(const std::string& k) {
    EntryPtr e = t_.Erase(Hash(k), k);
    if (e) model_.erase(k);
    touched_.insert(k);
    return e;
  }

  void Op(unsigned insert_pct) {
    const std::string k = Key(rng_() % key_space_);
    const uint64_t h = Hash(k);
    const bool mid = t_.migrating();
    const Shape before = ShapeOf(t_);
    AllocSeam* seam = seam_.get();
    const bool fail = fail_pct_ != 0 && rng_() % 100 < fail_pct_;
    seam->Fail(fail);
    const size_t allocs = seam->calls();
    const unsigned r = static_cast<unsigned>(rng_() % 100);
    if (r < 2) {
      const size_t n = t_.size() + rng_() % 300;
      const bool needs = n * 4 > t_.capacity() * 3;
      bool threw = false;
      try {
        t_.Reserve(n);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      seam->Fail(false);
      ASSERT_EQ(threw, fail && needs) << "Reserve(" << n << ")";
      if (threw) {
        ++failed_;
        ASSERT_EQ(ShapeOf(t_), before);
        CheckAll();
      } else {
        ASSERT_LE(n * 4, t_.capacity() * 3);
        ASSERT_EQ(seam->calls() != allocs, needs) << "Reserve allocates exactly when it must";
      }
      if (mid) ++mid_.reserves;
      return;
    }
    if (r < 4) {
      seam->Fail(false);
      const bool more = t_.Migrate(1 + rng_() % 8, 1 + rng_() % 4);
      ASSERT_EQ(more, t_.migrating());
      return;
    }
    if (r < 14) {
      seam->Fail(false);
      auto it = model_.find(k);
      ASSERT_EQ(Lookup(t_, h, k), it == model_.end() ? "<absent>" : it->second);
      ASSERT_EQ(t_.migrated_entries(), before.moves) << "a read migrated";
      if (mid) ++mid_.finds;
      return;
    }
    ++mutating_;
    if (mid) ++mutating_mid_;
    touched_.insert(k);
    auto it = model_.find(k);
    if (r < 14 + insert_pct * 86 / 100) {
      const std::string v = Val(rng_() % 100000);
      const bool grows = (t_.size() + 1) * 4 > t_.capacity() * 3;
      EntryPtr old;
      bool threw = false;
      try {
        old = t_.Upsert(h, MakeValueEntry(k, v));
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      seam->Fail(false);
      ASSERT_EQ(threw, fail && grows) << "an Upsert fails exactly when it must grow";
      if (threw) {
        ++failed_;
        ASSERT_EQ(ShapeOf(t_), before) << "a failed Upsert changed the table";
        CheckAll();
        return;
      }
      ASSERT_EQ(old != nullptr, it != model_.end()) << k;
      if (old) {
        ASSERT_EQ(ValueOf(*old), it->second);
      }
      if (mid) ++(old ? mid_.replaces : mid_.inserts);
      model_[k] = v;
      if (mid && t_.capacity() != before.capacity) {
        ++fallbacks_;  // grew while migrating: finished the migration at once
      } else {
        ASSERT_LE(t_.migrated_entries() - before.moves, step_moves_) << "moves in one Upsert";
      }
    } else {
      EntryPtr old = t_.Erase(h, k);
      seam->Fail(false);
      ASSERT_EQ(old != nullptr, it != model_.end()) << k;
      if (old) {
        ASSERT_EQ(ValueOf(*old), it->second);
        model_.erase(it);
      }
      if (mid) ++(old ? mid_.erase_hits : mid_.erase_misses);
      ASSERT_LE(t_.migrated_entries() - before.moves, step_moves_) << "moves in one Erase";
      ASSERT_LE(t_.capacity(), before.capacity) << "an Erase grew the table";
      if (fail) {
        ASSERT_EQ(t_.capacity(), before.capacity) << "a shrink without its allocation";
      }
    }
    ASSERT_EQ(t_.size(), model_.size());
    if (++calls_ % check_every_ == 0 || model_.size() < 16) CheckAll();
  }

  void CheckAll() {
    ASSERT_EQ(t_.size(), model_.size());
    for (const auto& [k, v] : model_) ASSERT_EQ(Lookup(t_, Hash(k), k), v) << "key " << k;
    ExpectShape(t_);
    std::unordered_map<std::string, std::string> seen;
    t_.ForEach([&](const Entry& e) {
      EXPECT_TRUE(seen.emplace(std::string(e.key()), ValueOf(e)).second) << "ForEach gave " << e.key() << " twice";
    });
    ASSERT_TRUE(seen == model_) << "ForEach does not give the model's entries";
    if (t_.migrating()) ++mid_.full_checks;
  }

  // Phases that cross every capacity both ways: grow, churn, drain to a
  // handful, regrow, drain.
  void RunPhases(double scale = 1.0) {
    for (const auto& [steps, insert_pct] :
         std::vector<std::pair<int, unsigned>>{{6000, 80}, {8000, 50}, {9000, 15}, {5000, 70}, {4000, 5}}) {
      const int n = static_cast<int>(steps * scale);
      for (int i = 0; i < n; ++i) {
        Op(insert_pct);
        if (::testing::Test::HasFatalFailure()) return;
      }
      CheckAll();
    }
  }

 private:
  uint64_t seed_;
  Hashes hashes_;
  size_t key_space_;
  size_t step_moves_;
  Table t_;
  std::mt19937_64 rng_;
  std::unordered_map<std::string, std::string> model_;
  std::unique_ptr<AllocSeam> seam_ = std::make_unique<AllocSeam>();
  unsigned fail_pct_ = 0;
  size_t check_every_ = 200;
  size_t calls_ = 0;
  MidMigration mid_;
  size_t fallbacks_ = 0;
  size_t failed_ = 0;
  size_t mutating_ = 0;
  size_t mutating_mid_ = 0;
  std::unordered_set<std::string> touched_;
};

// Every kind of call met a running migration, in a good share of the calls.
void ExpectMigrationsEverywhere(const ModelRun& run) {
  const MidMigration& m = run.mid();
  EXPECT_GT(m.inserts, 0u);
  EXPECT_GT(m.replaces, 0u);
  EXPECT_GT(m.erase_hits, 0u);
  EXPECT_GT(m.erase_misses, 0u);
  EXPECT_GT(m.finds, 0u);
  EXPECT_GT(m.reserves, 0u);
  EXPECT_GT(m.full_checks, 0u);
  EXPECT_GT(run.mutating_mid_migration(), 1000u) << "of " << run.mutating_calls() << " writes";
}

TEST(TableMigration, TinyStepsMatchModel) {
  // Steps of 1-3 slots keep a migration running through most calls (and
  // make the fallback, finishing a migration at once to grow, reachable).
  const std::vector<Tuning> tunings = {
      {Table::kTagHomeCapacity, 1, 1}, {Table::kTagHomeCapacity, 2, 1}, {Table::kTagHomeCapacity, 3, 2}};
  size_t fallbacks = 0;
  for (const Tuning& tu : tunings) {
    for (Hashes h : {Hashes::kReal, Hashes::kClustered}) {
      for (uint64_t r = 1; r <= 2; ++r) {
        ModelRun run(tu, h, r * 31 + tu.step_slots, h == Hashes::kReal ? 3000 : 1200);
        run.RunPhases();
        if (HasFatalFailure()) return;
        ExpectMigrationsEverywhere(run);
        fallbacks += run.fallbacks();
      }
    }
  }
  EXPECT_GT(fallbacks, 0u) << "the fallback path was never exercised";
}

TEST(TableMigration, TinyStepsMatchModelRecomputingHomes) {
  // Above 8 or 16 slots every home comes from rehashing the key: migration,
  // backward shifts and old-array probes on the huge-table path.
  for (const Tuning& tu : std::vector<Tuning>{{16, 1, 1}, {8, 2, 1}, {16, 3, 2}}) {
    for (uint64_t r = 1; r <= 2; ++r) {
      ModelRun run(tu, Hashes::kReal, r * 97 + tu.tag_home, 3000);
      run.RunPhases();
      if (HasFatalFailure()) return;
      ExpectMigrationsEverywhere(run);
    }
  }
}

TEST(TableMigration, DefaultStepsMatchModelAndNeverFallBack) {
  // The default steps: a migration always ends before the current array
  // must grow (table.h's proof at kStepSlots), so no call finishes one at
  // once, and no Upsert or Erase moves more than kStepMoves entries.
  for (const Tuning& tu : std::vector<Tuning>{{}, {64, Table::kStepSlots, Table::kStepMoves}}) {
    for (Hashes h : {Hashes::kReal, Hashes::kClustered}) {
      if (h == Hashes::kClustered && tu.tag_home != Table::kTagHomeCapacity) continue;
      for (uint64_t r = 1; r <= 2; ++r) {
        ModelRun run(tu, h, r * 7 + tu.tag_home, h == Hashes::kReal ? 3000 : 1200);
        run.RunPhases();
        if (HasFatalFailure()) return;
        EXPECT_EQ(run.fallbacks(), 0u);
        EXPECT_GT(run.mid().inserts + run.mid().erase_hits, 0u);
      }
    }
  }
}

TEST(TableMigration, FailedAllocationsChangeNothing) {
  // A third of the calls run with every slot allocation failing: each
  // Upsert that had to grow throws and leaves the table exactly as it was
  // (size, arrays, migration progress, every entry), each Reserve likewise,
  // each Erase skips its shrink. The model run checks all of it.
  size_t failed = 0;
  for (const Tuning& tu : std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}, {16, 2, 1}}) {
    for (uint64_t r = 1; r <= 2; ++r) {
      ModelRun run(tu, Hashes::kReal, r * 13 + tu.step_slots, 2000);
      run.set_fail_pct(33);
      run.RunPhases(0.5);
      if (HasFatalFailure()) return;
      failed += run.failed_allocations();
      // Then with allocations back: the table recovers (grows and shrinks).
      run.set_fail_pct(0);
      run.RunPhases(0.2);
      if (HasFatalFailure()) return;
    }
  }
  EXPECT_GT(failed, 10u);
}

TEST(TableMigration, ReserveMeansNoAllocationUntilN) {
  // After Reserve(n), upserts never allocate while size() < n, whatever the
  // state Reserve found (empty, steady, mid-migration with a target big
  // enough or too small), and a migration left running ends without one.
  for (const Tuning& tu :
       std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}, {Table::kTagHomeCapacity, 2, 1}, {16, 1, 1}}) {
    for (size_t start : {0, 5, 6, 7, 12, 13, 100, 767, 1000}) {
      for (size_t extra : {1, 2, 10, 500, 3000}) {
        const uint64_t seed = 99;
        Table t(seed, tu.tag_home, tu.step_slots, tu.step_moves);
        auto hash = [&](const std::string& k) { return HashBytes(k.data(), k.size(), seed); };
        for (size_t i = 0; i < start; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i)));
        t.Reserve(start + extra);
        EXPECT_LE((start + extra) * 4, t.capacity() * 3);
        AllocSeam seam;
        seam.Fail(true);
        for (size_t i = start; i < start + extra; ++i) {
          ASSERT_NO_THROW(t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i))))
              << "start " << start << " extra " << extra << " i " << i;
          if (i % 3 == 0) {
            // A replace too (of a key in either array).
            const std::string k = Key(i / 2);
            ASSERT_NO_THROW(t.Upsert(hash(k), MakeValueEntry(k, Val(i / 2))));
          }
        }
        while (t.Migrate(5, 3)) {
        }
        EXPECT_EQ(seam.calls(), 0u) << "start " << start << " extra " << extra;
        ASSERT_EQ(t.size(), start + extra);
        for (size_t i = 0; i < start + extra; ++i) ASSERT_EQ(Lookup(t, hash(Key(i)), Key(i)), Val(i)) << i;
        ExpectShape(t);
      }
    }
  }
}

TEST(TableMigration, ReserveFinishesATooSmallMigration) {
  // Mid-migration, a Reserve beyond the running migration's target finishes
  // it and starts one to the bigger array: the work is proportional to the
  // reserve (a few times n - size()).
  Table t(5, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 5); };
  for (size_t i = 0; i < 97; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i)));
  ASSERT_TRUE(t.migrating());
  ASSERT_EQ(t.capacity(), 256u);
  t.Reserve(200);  // more than 3/4 of 256: needs 512 slots
  EXPECT_EQ(t.capacity(), 512u);
  EXPECT_EQ(t.old_capacity(), 256u);
  EXPECT_TRUE(t.migrating());
  t.Reserve(300);  // fits the running migration's target: nothing to do
  EXPECT_EQ(t.capacity(), 512u);
  EXPECT_EQ(t.old_capacity(), 256u);
  for (size_t i = 0; i < 97; ++i) ASSERT_EQ(Lookup(t, hash(Key(i)), Key(i)), Val(i)) << i;
  ExpectShape(t);
}

TEST(TableMigration, FindNeverMigrates) {
  // Readers hold only the shared lock: a lookup never writes, mid-migration
  // either. Four threads look up every key of a half-migrated table at once
  // (TSAN reports any write racing with the other readers).
  Table t(3, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 3); };
  const size_t n = 3000;
  for (size_t i = 0; i < n; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i)));
  ASSERT_TRUE(t.migrating());
  const Shape before = ShapeOf(t);
  std::atomic<size_t> wrong{0};
  std::vector<std::thread> readers;
  for (int r = 0; r < 4; ++r) {
    readers.emplace_back([&] {
      for (size_t i = 0; i < n; ++i) {
        const std::string k = Key(i);
        const Entry* e = t.Find(hash(k), k);
        if (e == nullptr || ValueOf(*e) != Val(i)) wrong.fetch_add(1);
        if (t.Find(hash(Key(n + i)), Key(n + i)) != nullptr) wrong.fetch_add(1);
      }
    });
  }
  for (auto& th : readers) th.join();
  EXPECT_EQ(wrong.load(), 0u);
  EXPECT_EQ(ShapeOf(t), before);
}

TEST(TableMigration, ForEachGivesEachEntryOnceAtEveryStep) {
  // Stop a growth migration and a shrink migration after every single
  // slot: ForEach gives every entry exactly once each time.
  Table t(17, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 17); };
  std::set<std::string> keys;
  size_t i = 0;
  auto check = [&](const char* what) {
    std::multiset<std::string> seen;
    t.ForEach([&](const Entry& e) { seen.insert(std::string(e.key())); });
    ASSERT_EQ(seen.size(), keys.size()) << what;
    ASSERT_TRUE(std::equal(seen.begin(), seen.end(), keys.begin(), keys.end())) << what;
  };
  // Grow until a migration of a 256-slot array starts.
  while (t.old_capacity() != 256) {
    t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i)));
    keys.insert(Key(i++));
    if (t.old_capacity() != 256) t.Migrate(1000, 1000);
  }
  do {
    check("growth");
    if (HasFatalFailure()) return;
  } while (t.Migrate(1, 1));
  check("after growth");
  // Erase down until a shrink starts, then the same.
  for (size_t j = 0; !t.migrating(); ++j) {
    ASSERT_NE(t.Erase(hash(Key(j)), Key(j)), nullptr);
    keys.erase(Key(j));
  }
  do {
    check("shrink");
    if (HasFatalFailure()) return;
  } while (t.Migrate(1, 1));
  check("after shrink");
}

TEST(TableMigration, WorkPerCallIsBoundedWhileGrowingAndShrinking) {
  // The default steps on a big table: fill it (through every doubling),
  // erase most of it (through the shrinks), refill. No Upsert or Erase
  // moves more than kStepMoves entries, no Upsert meets a full current
  // array mid-migration, and the migrations keep up: at the end of the fill
  // no migration is left running, and shrinks follow the erases.
  for (size_t tag_home : {Table::kTagHomeCapacity, size_t{1024}}) {
    const uint64_t seed = 1234;
    Table t(seed, tag_home);
    auto hash = [&](const std::string& k) { return HashBytes(k.data(), k.size(), seed); };
    const size_t n = Scaled(200000, 20000);
    uint64_t max_moves = 0;
    size_t migrations = 0;
    auto upsert = [&](size_t i) {
      const bool mid = t.migrating();
      const size_t cap = t.capacity();
      const uint64_t m = t.migrated_entries();
      t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "v"));
      max_moves = std::max(max_moves, t.migrated_entries() - m);
      if (t.capacity() != cap) {
        ++migrations;
        EXPECT_FALSE(mid) << "grew mid-migration at size " << t.size();
      }
    };
    auto erase = [&](size_t i) {
      const size_t cap = t.capacity();
      const uint64_t m = t.migrated_entries();
      ASSERT_NE(t.Erase(hash(Key(i)), Key(i)), nullptr);
      max_moves = std::max(max_moves, t.migrated_entries() - m);
      if (t.capacity() != cap) ++migrations;
    };
    for (size_t i = 0; i < n; ++i) upsert(i);
    const size_t grown = migrations;
    for (size_t i = 0; i + n / 100 < n; ++i) {
      erase(i);
      if (HasFatalFailure()) return;
      // Shrinks keep pace: never more than two halvings behind.
      ASSERT_LE(t.capacity(), std::max<size_t>(Table::kMinCapacity, 32 * std::bit_ceil(t.size() + 1)));
    }
    EXPECT_GT(migrations, grown) << "no shrink";
    for (size_t i = 0; i + n / 100 < n; ++i) upsert(i);
    EXPECT_LE(max_moves, Table::kStepMoves);
    EXPECT_GT(t.migrated_entries(), n);
    for (size_t i = 0; i < n; ++i) ASSERT_NE(t.Find(hash(Key(i)), Key(i)), nullptr) << i;
    ExpectShape(t);
  }
}

TEST(TableMigration, EmptiedTableDropsToTheMinimum) {
  Table t(21, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 21); };
  for (size_t i = 0; i < 1000; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "v"));
  ASSERT_TRUE(t.migrating());
  // Erasing every key ends the migration (its old array empties by erases
  // as much as by moves) and leaves the minimal array, no migration.
  for (size_t i = 0; i < 1000; ++i) ASSERT_NE(t.Erase(hash(Key(i)), Key(i)), nullptr) << i;
  EXPECT_EQ(t.size(), 0u);
  EXPECT_FALSE(t.migrating());
  EXPECT_EQ(t.capacity(), Table::kMinCapacity);
  EXPECT_EQ(t.slot_bytes(), Table::kMinCapacity * Table::kSlotBytes);
}

TEST(TableMigration, BigArraysAreGivenBackInPieces) {
  // A table of 2^17 slots (1 MiB: mapped) emptied by erases faster than
  // its migrations run (tiny steps) drops to the minimal array; the big
  // arrays left without entries are given back 256 KiB per later call, not
  // in one call, and lookups meanwhile skip them.
  Table t(12, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 12); };
  const size_t n = 90000;
  for (size_t i = 0; i < n; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "v"));
  while (t.Migrate(1 << 20, 1 << 20)) {
  }
  ASSERT_EQ(t.capacity(), size_t{1} << 17);
  for (size_t i = 0; i < n; ++i) ASSERT_NE(t.Erase(hash(Key(i)), Key(i)), nullptr) << i;
  EXPECT_EQ(t.size(), 0u);
  const size_t left = t.old_capacity() + t.capacity();
  EXPECT_GT(left, Table::kMinCapacity) << "the last arrays went at once";
  size_t calls = 0;
  while (t.migrating()) {
    EXPECT_EQ(t.Find(hash(Key(1)), Key(1)), nullptr);
    EXPECT_EQ(t.Erase(hash(Key(1)), Key(1)), nullptr);
    ASSERT_LT(++calls, 100u);
  }
  EXPECT_GE(calls, 2u);
  EXPECT_EQ(t.capacity(), Table::kMinCapacity);
  EXPECT_EQ(t.slot_bytes(), Table::kMinCapacity * Table::kSlotBytes);
  // Growing back into a mapped size and migrating through it works the same.
  for (size_t i = 0; i < n; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "w"));
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(Lookup(t, hash(Key(i)), Key(i)), "w") << i;
  ExpectShape(t);
}

TEST(TableMigration, MoveAndDrainMidMigration) {
  Table a(8, Table::kTagHomeCapacity, 1, 1);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 8); };
  for (size_t i = 0; i < 500; ++i) a.Upsert(hash(Key(i)), MakeValueEntry(Key(i), Val(i)));
  ASSERT_TRUE(a.migrating());
  Table b(std::move(a));
  EXPECT_FALSE(a.migrating());  // NOLINT(bugprone-use-after-move): moved-from state is specified
  EXPECT_EQ(a.slot_bytes(), 0u);
  ASSERT_TRUE(b.migrating());
  for (size_t i = 0; i < 500; ++i) ASSERT_EQ(Lookup(b, hash(Key(i)), Key(i)), Val(i)) << i;
  // The moved-to table keeps migrating, with the moved-from table's steps.
  const uint64_t m = b.migrated_entries();
  b.Upsert(hash(Key(500)), MakeValueEntry(Key(500), Val(500)));
  EXPECT_EQ(b.migrated_entries() - m, 1u);
  // Move-assign over a table that is itself migrating (LSan checks that
  // its entries, in both arrays, are freed).
  Table c(8, Table::kTagHomeCapacity, 1, 1);
  for (size_t i = 0; i < 300; ++i) c.Upsert(hash(Cat("c", i)), MakeValueEntry(Cat("c", i), "c"));
  ASSERT_TRUE(c.migrating());
  c = std::move(b);
  ASSERT_EQ(c.size(), 501u);
  for (size_t i = 0; i <= 500; ++i) ASSERT_EQ(Lookup(c, hash(Key(i)), Key(i)), Val(i)) << i;
  EXPECT_EQ(c.Find(hash(Cat("c", 1)), Cat("c", 1)), nullptr);
  ExpectShape(c);
  // Drain mid-migration: every entry once, from both arrays.
  ASSERT_TRUE(c.migrating());
  std::vector<EntryPtr> out;
  c.DrainInto(out);
  EXPECT_EQ(out.size(), 501u);
  std::set<std::string> seen;
  for (const EntryPtr& e : out) EXPECT_TRUE(seen.insert(std::string(e->key())).second) << e->key();
  EXPECT_EQ(seen.size(), 501u);
  EXPECT_EQ(c.size(), 0u);
  EXPECT_FALSE(c.migrating());
  EXPECT_EQ(c.slot_bytes(), 0u);
  ExpectShape(c);
  // Destroying a table mid-migration frees both arrays' entries (LSan).
  Table d(8, Table::kTagHomeCapacity, 1, 1);
  for (size_t i = 0; i < 300; ++i) d.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "d"));
  ASSERT_TRUE(d.migrating());
}

// ---- Walk ----

// Walks a whole pass with `budget` per call, counting visits per key.
std::map<std::string, int> WalkPass(Table& t, size_t budget) {
  std::map<std::string, int> visits;
  Table::WalkCursor c;
  size_t calls = 0;
  while (!t.Walk(c, budget, [&](Entry& e) { ++visits[std::string(e.key())]; })) {
    if (++calls > 10 * (t.capacity() + t.old_capacity()) + 10) {
      ADD_FAILURE() << "the pass does not end";
      break;
    }
  }
  return visits;
}

TEST(TableWalk, StaticTableVisitsEveryEntryOnce) {
  for (const Tuning& tu : std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}}) {
    for (size_t n : {0, 1, 5, 6, 7, 50, 97, 1000}) {
      Table t(4, tu.tag_home, tu.step_slots, tu.step_moves);
      auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 4) & 0xFFFF'FFFF'FFF0'000FULL; };
      for (size_t i = 0; i < n; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "v"));
      for (size_t budget : {size_t{0}, size_t{1}, size_t{3}, size_t{64}, size_t{1} << 20}) {
        const std::map<std::string, int> visits = WalkPass(t, budget);
        ASSERT_EQ(visits.size(), n) << "n " << n << " budget " << budget << " migrating " << t.migrating();
        for (const auto& [k, count] : visits) ASSERT_EQ(count, 1) << k;
      }
    }
  }
  Table empty;
  Table::WalkCursor c;
  EXPECT_TRUE(empty.Walk(c, 10, [](Entry&) { ADD_FAILURE(); }));
}

TEST(TableWalk, ErasingInTheCallbackMidMigration) {
  // fn erases what it is given (every other key by value): backward shifts
  // in the current array, tombstones in the old one, migration steps and
  // shrinks started by the erases. Every entry is given at least once, the
  // ones erased exactly once, and the rest is intact.
  for (const Tuning& tu : std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}, {16, 2, 1}}) {
    for (Hashes h : {Hashes::kReal, Hashes::kClustered}) {
      if (h == Hashes::kClustered && tu.tag_home != Table::kTagHomeCapacity) continue;
      for (size_t budget : {size_t{1}, size_t{7}, size_t{100}, size_t{1} << 30}) {
        ModelRun run(tu, h, budget + tu.step_slots, 2000);
        for (int i = 0; i < 2500; ++i) run.Op(90);
        if (HasFatalFailure()) return;
        const std::unordered_map<std::string, std::string> before = run.model();
        std::map<std::string, int> visits;
        Table::WalkCursor c;
        bool done = false;
        while (!done) {
          done = run.table().Walk(c, budget, [&](Entry& e) {
            const std::string k(e.key());
            ++visits[k];
            if (std::stoul(ValueOf(e).substr(6)) % 2 == 0) {
              ASSERT_NE(run.EraseKey(k), nullptr);
            }
          });
          if (HasFatalFailure()) return;
        }
        for (const auto& [k, v] : before) {
          ASSERT_GE(visits[k], 1) << "never visited: " << k;
          const bool erased = std::stoul(v.substr(6)) % 2 == 0;
          if (erased) {
            ASSERT_EQ(visits[k], 1) << k;
          }
          ASSERT_EQ(run.model().count(k) == 0, erased) << k;
        }
        run.CheckAll();
        if (HasFatalFailure()) return;
      }
    }
  }
}

TEST(TableWalk, EveryEntryPresentThroughoutAPassIsVisited) {
  // Random upserts, erases, Reserves and migration steps between the calls
  // of a pass (and erases in its callback), with small budgets, through
  // growth and shrinks: each key whose entry stayed the same for the whole
  // pass is visited at least once.
  for (const Tuning& tu :
       std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}, {Table::kTagHomeCapacity, 3, 2}, {16, 1, 1}}) {
    for (Hashes h : {Hashes::kReal, Hashes::kClustered}) {
      if (h == Hashes::kClustered && tu.tag_home != Table::kTagHomeCapacity) continue;
      ModelRun run(tu, h, 555 + tu.step_slots + tu.tag_home, 1500);
      run.set_check_every(1000);
      size_t passes = 0;
      size_t passes_mid = 0;
      for (unsigned phase = 0; phase < 12; ++phase) {
        const unsigned insert_pct = phase % 3 == 0 ? 85 : phase % 3 == 1 ? 50 : 12;
        for (int p = 0; p < 6; ++p) {
          std::unordered_set<std::string> visited;
          const std::unordered_map<std::string, std::string> at_start = run.model();
          run.ClearTouched();
          Table::WalkCursor c;
          const size_t budget = 1 + run.rng()() % 12;
          bool done = false;
          bool mid = false;
          while (!done) {
            mid = mid || run.table().migrating();
            done = run.table().Walk(c, budget, [&](Entry& e) {
              const std::string k(e.key());
              visited.insert(k);
              if (run.rng()() % 16 == 0) {
                ASSERT_NE(run.EraseKey(k), nullptr);
              }
            });
            if (HasFatalFailure()) return;
            const int between = static_cast<int>(run.rng()() % 6);
            for (int i = 0; i < between; ++i) run.Op(insert_pct);
            if (HasFatalFailure()) return;
          }
          for (const auto& [k, v] : at_start) {
            if (run.touched().count(k) != 0) continue;  // replaced or erased during the pass
            ASSERT_EQ(visited.count(k), 1u) << "pass " << passes << ": never visited " << k;
          }
          ++passes;
          if (mid) ++passes_mid;
        }
      }
      run.CheckAll();
      EXPECT_GT(passes_mid * 10, passes) << "too few passes met a migration";
    }
  }
}

TEST(TableWalk, OneCallErasingEverything) {
  // What the store's purge does: one pass with an unbounded budget whose
  // callback erases everything, through the shrinks that starts.
  for (const Tuning& tu : std::vector<Tuning>{{}, {Table::kTagHomeCapacity, 1, 1}}) {
    Table t(6, tu.tag_home, tu.step_slots, tu.step_moves);
    auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 6); };
    for (size_t i = 0; i < 5000; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "v"));
    size_t erased = 0;
    Table::WalkCursor c;
    EXPECT_TRUE(t.Walk(c, ~size_t{0}, [&](Entry& e) {
      const std::string k(e.key());
      if (t.Erase(hash(k), k) != nullptr) ++erased;
    }));
    EXPECT_EQ(erased, 5000u);
    EXPECT_EQ(t.size(), 0u);
    EXPECT_EQ(t.capacity(), Table::kMinCapacity);
  }
}

TEST(TableWalk, MovedToTableRestartsThePass) {
  // A cursor from before a move-assign must not read the new arrays at its
  // old positions: the pass restarts and still visits everything.
  Table t(2);
  auto hash = [](const std::string& k) { return HashBytes(k.data(), k.size(), 2); };
  for (size_t i = 0; i < 100; ++i) t.Upsert(hash(Key(i)), MakeValueEntry(Key(i), "t"));
  Table::WalkCursor c;
  size_t visits = 0;
  EXPECT_FALSE(t.Walk(c, 16, [&](Entry&) { ++visits; }));
  Table other(2);
  for (size_t i = 0; i < 100; ++i) other.Upsert(hash(Cat("o", i)), MakeValueEntry(Cat("o", i), "o"));
  t = std::move(other);
  std::set<std::string> seen;
  while (!t.Walk(c, 16, [&](Entry& e) { seen.insert(std::string(e.key())); })) {
  }
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(seen.count(Cat("o", 0)), 1u);
}

// ---- In a store: what a caller of one shard sees ----

TEST(TableInStore, ASetThatGrowsAShardMovesNoMoreThanAStep) {
  // A shards: 1 store at exactly 3/4 of its slots: the next new key grows
  // its table. That set allocates an array twice as big and moves at most
  // kStepMoves entries (counted, not timed: the store's slot_bytes shows
  // both arrays alive after it), and the migration then takes thousands of
  // writes. Meanwhile reads, a Scan (the walk behind keys()/entries()),
  // erases and TTL sweeps see every entry exactly once.
  Options o = SmallOptions(1);
  Store s("growth", o);
  // 2^16 slots (512 KiB: mapped, given back in pieces), fewer under the
  // sanitizers.
  const size_t small = std::bit_floor(Scaled(size_t{1} << 16, 1024));
  const size_t n = small * 3 / 4;
  for (size_t i = 0; i < n; ++i) ASSERT_EQ(PutString(s, Key(i), Val(i)), Status::kOk) << i;
  ASSERT_EQ(SizesOf(s).slot_bytes, small * Table::kSlotBytes);
  ASSERT_EQ(PutString(s, Key(n), Val(n)), Status::kOk);
  EXPECT_EQ(SizesOf(s).slot_bytes, 3 * small * Table::kSlotBytes) << "the growth did not start a migration";
  auto scan = [&](const char* when) {
    std::map<std::string, size_t> seen;
    ASSERT_EQ(s.Scan(0, "", [&](const Entry& e) { ++seen[std::string(e.key())]; }), Status::kOk);
    const uint64_t entries = SizesOf(s).entries;
    ASSERT_EQ(seen.size(), entries) << when;
    for (const auto& [k, times] : seen) ASSERT_EQ(times, 1u) << when << ": " << k;
  };
  scan("right after the growth");
  // Reads do not migrate (readers share the lock): the old array stays.
  for (size_t i = 0; i <= n; ++i) {
    std::string v;
    ASSERT_EQ(GetString(s, Key(i), &v), Status::kOk) << i;
    ASSERT_EQ(v, Val(i)) << i;
  }
  EXPECT_EQ(SizesOf(s).slot_bytes, 3 * small * Table::kSlotBytes);
  // Erases (every 7th key, wherever it is) and replaces (every 7th + 1)
  // migrate steps; count the writes until the old array is gone.
  size_t writes = 0;
  size_t erased = 0;
  for (size_t i = 0; SizesOf(s).slot_bytes != 2 * small * Table::kSlotBytes; i += 7) {
    ASSERT_LT(i + 1, n) << "the migration did not end";
    ASSERT_EQ(EraseString(s, Key(i)), Status::kOk) << i;
    ASSERT_EQ(PutString(s, Key(i + 1), "replaced"), Status::kOk) << i;
    writes += 2;
    ++erased;
    if (writes % 4096 == 0) scan("mid-migration");
    if (HasFatalFailure()) return;
  }
  // Each write moves at most kStepMoves entries: at least n / kStepMoves
  // writes less the entries erased before they moved.
  EXPECT_GE(writes + erased, n / Table::kStepMoves);
  scan("after the migration");
  for (size_t i = 0; i <= n; ++i) {
    std::string v;
    const bool gone = i % 7 == 0 && i / 7 < erased;
    const bool replaced = i % 7 == 1 && i / 7 < erased;
    ASSERT_EQ(GetString(s, Key(i), &v), gone ? Status::kNotFound : Status::kOk) << i;
    if (!gone) {
      ASSERT_EQ(v, replaced ? std::string("replaced") : Val(i)) << i;
    }
  }
}

TEST(TableInStore, SweepDuringAMigrationMeetsEveryExpiredEntry) {
  // Half the keys of a one-shard store are expired, and its table is
  // mid-migration (its growth has just begun), when the TTL
  // sweep runs in batches of 64 slots, each a separate hold of the lock,
  // while another thread sets new keys (which move the migration on and
  // shift entries between the holds). Every expired entry is reclaimed in
  // one pass, and no live one.
  Options o = SmallOptions(1);
  Store s("sweep", o);
  const size_t small = std::bit_floor(Scaled(size_t{1} << 16, 1024));
  const size_t n = small * 3 / 4;
  for (size_t i = 0; i <= n; ++i) {
    ASSERT_EQ(PutString(s, Key(i), "v"), Status::kOk) << i;
    if (i % 2 == 0) {
      ASSERT_EQ(s.Expire(Key(i), s.Hash(Key(i)), 1), Status::kOk) << i;  // a deadline long past
    }
  }
  ASSERT_EQ(SizesOf(s).slot_bytes, 3 * small * Table::kSlotBytes) << "no migration running";
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (size_t i = 0; i < Scaled(200000, 20000) && !stop.load(std::memory_order_relaxed); ++i)
      (void)PutString(s, Cat("extra-", i), "x");
  });
  const size_t swept = s.SweepExpired(64);
  stop.store(true, std::memory_order_relaxed);
  writer.join();
  EXPECT_EQ(swept, n / 2 + 1);
  for (size_t i = 0; i <= n; ++i)
    ASSERT_EQ(GetString(s, Key(i), nullptr), i % 2 == 0 ? Status::kNotFound : Status::kOk) << i;
}

}  // namespace
}  // namespace threadkv
