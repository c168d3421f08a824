// Table: the open-addressing hash table inside one shard. It takes the hash
// as an argument, so these tests choose hashes directly to force collisions
// (same full hash, same home slot, same slot tag, clusters that wrap around
// the array end). The tables that recompute home slots from keys (capacity
// above Table::kTagHomeCapacity, or a lowered threshold) are given the real
// hashes of their keys.
#include "core/table.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/hash.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;

using testing::MakeValueEntry;
using testing::ValueOf;

std::string Key(size_t i) { return Cat("key-", i); }
std::string Val(size_t i) { return Cat("value-", i * 7919); }

// The value stored under `key`, or "<absent>".
std::string Lookup(const Table& t, uint64_t hash, const std::string& key) {
  const Entry* e = t.Find(hash, key);
  return e == nullptr ? "<absent>" : ValueOf(*e);
}

// Load and capacity invariants that hold after every operation.
void ExpectShape(const Table& t) {
  const size_t cap = t.capacity();
  if (cap == 0) {
    EXPECT_EQ(t.size(), 0u);
    return;
  }
  EXPECT_GE(cap, Table::kMinCapacity);
  EXPECT_EQ(cap & (cap - 1), 0u) << "capacity " << cap << " is not a power of two";
  EXPECT_LE(t.size() * 4, cap * 3) << "load above 3/4";
  EXPECT_EQ(t.slot_bytes(), cap * Table::kSlotBytes);
  size_t visited = 0;
  t.ForEach([&](const Entry&) { ++visited; });
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
    // Shrinks at 1/8 load, never below the minimum, never below 3/4 load.
    ASSERT_TRUE(cap == Table::kMinCapacity || t.size() * 8 >= cap) << "size " << t.size() << " cap " << cap;
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
  for (const auto& [steps, insert_pct] : std::vector<std::pair<int, unsigned>>{
           {6000, 80}, {8000, 50}, {9000, 15}, {5000, 70}, {3000, 5}}) {
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

}  // namespace
}  // namespace threadkv
