// Change notifications (watch.h) without Node: filters, seq order, bounded
// queues with overflow accounting, atomic batches never split, one clear per
// clear(), every write path of the store emitting its event, and (under
// TSAN) writers, drains, subscribe/unsubscribe and dead owners racing.
#include "core/watch.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;
using testing::EraseString;
using testing::Failures;
using testing::MakeValueEntry;
using testing::PutString;
using testing::Scaled;
using testing::SmallOptions;

struct Ev {
  WatchEvent type;
  std::string key;
  uint64_t version;
  uint64_t seq;
  bool operator==(const Ev&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Ev& e) {
  return os << "{" << static_cast<int>(e.type) << " '" << e.key << "' v" << e.version << " s" << e.seq << "}";
}

// One watcher: a notifier that counts its signals, a subscription, and what
// its drains returned.
struct Watcher {
  // The notifier may outlive the watcher (a writer's pending signal holds
  // it): its callback counts into a cell of its own.
  explicit Watcher(WatchFilter filter = {}, size_t max_queue = 10'000, uint64_t token = 1)
      : notifier(std::make_shared<Notifier>([count = count] {
          count->fetch_add(1, std::memory_order_relaxed);
          return true;
        })),
        sub(std::make_shared<Subscription>(std::move(filter), max_queue, notifier, token)) {}
  ~Watcher() { WatchHub::FlushWakes(); }  // no signal of this test left for the next one
  int signals() const { return count->load(std::memory_order_relaxed); }

  // Drains (the notifier too, re-arming it) and returns the events; the
  // overflow, if any, is last with its count in `version`.
  std::vector<Ev> Drain(Store& store, bool* closed = nullptr) {
    std::vector<uint64_t> tokens;
    notifier->Drain(&tokens);
    store.DrainWatch(*sub, &batch);
    return Collect(closed);
  }
  std::vector<Ev> Drain(WatchHub& hub) {
    std::vector<uint64_t> tokens;
    notifier->Drain(&tokens);
    hub.Drain(*sub, &batch);
    return Collect(nullptr);
  }
  std::vector<Ev> Collect(bool* closed) {
    std::vector<Ev> out;
    batch.ForEach([&](const WatchRecord& r) { out.push_back({r.type, std::string(r.key()), r.version, r.seq}); });
    if (batch.lost != 0) out.push_back({WatchEvent::kOverflow, "", batch.lost, batch.lost_seq});
    if (closed != nullptr) *closed = batch.closed;
    return out;
  }

  std::shared_ptr<std::atomic<int>> count = std::make_shared<std::atomic<int>>(0);
  std::shared_ptr<Notifier> notifier;
  std::shared_ptr<Subscription> sub;
  WatchBatch batch;
};

WatchFilter KeyFilter(std::string key, uint8_t events = kWatchAllEvents) {
  return WatchFilter{WatchFilter::Scope::kKey, std::move(key), events};
}
WatchFilter PrefixFilter(std::string prefix, uint8_t events = kWatchAllEvents) {
  return WatchFilter{WatchFilter::Scope::kPrefix, std::move(prefix), events};
}

// A hub on its own, with its list changed as a store would (no shard locks
// here: single-threaded).
void Add(WatchHub& hub, std::shared_ptr<Subscription> sub) {
  std::lock_guard changes(hub.changes_mu());
  hub.PublishLocked(hub.ListWith(std::move(sub)));
}
void Remove(WatchHub& hub, const Subscription* sub) {
  std::lock_guard changes(hub.changes_mu());
  bool found = false;
  auto next = hub.ListWithout(sub, &found);
  hub.PublishLocked(std::move(next));
}

constexpr auto kSet = WatchEvent::kSet;
constexpr auto kDelete = WatchEvent::kDelete;
constexpr auto kExpire = WatchEvent::kExpire;
constexpr auto kEvict = WatchEvent::kEvict;
constexpr auto kClear = WatchEvent::kClear;
constexpr auto kOverflow = WatchEvent::kOverflow;

TEST(WatchFilter, ScopesAndEventMasks) {
  const WatchFilter all;
  EXPECT_TRUE(all.Matches(kSet, "anything"));
  EXPECT_TRUE(all.Matches(kClear, ""));
  const WatchFilter key = KeyFilter("a:1");
  EXPECT_TRUE(key.Matches(kSet, "a:1"));
  EXPECT_FALSE(key.Matches(kSet, "a:10"));
  EXPECT_FALSE(key.Matches(kSet, "a:"));
  EXPECT_TRUE(key.Matches(kClear, ""));  // a clear removes every key
  const WatchFilter prefix = PrefixFilter("a:");
  EXPECT_TRUE(prefix.Matches(kDelete, "a:"));
  EXPECT_TRUE(prefix.Matches(kDelete, "a:xyz"));
  EXPECT_FALSE(prefix.Matches(kDelete, "a"));
  EXPECT_FALSE(prefix.Matches(kDelete, "b:1"));
  EXPECT_TRUE(prefix.Matches(kClear, ""));
  const WatchFilter sets_only = PrefixFilter("", WatchBit(kSet));
  EXPECT_TRUE(sets_only.Matches(kSet, "k"));
  EXPECT_FALSE(sets_only.Matches(kDelete, "k"));
  EXPECT_FALSE(sets_only.Matches(kClear, ""));  // the mask is obeyed for clear too
  const WatchFilter binary = KeyFilter(std::string("\0\xff", 2));
  EXPECT_TRUE(binary.Matches(kSet, std::string_view("\0\xff", 2)));
  EXPECT_FALSE(binary.Matches(kSet, std::string_view("\0", 1)));
}

TEST(WatchHub, NoSubscriptionNoWorkNoSeq) {
  WatchHub hub;
  EXPECT_FALSE(hub.active());
  EXPECT_FALSE(hub.Emit(kSet, "k", 1));
  EXPECT_FALSE(hub.EmitClear());
  EXPECT_EQ(hub.last_seq(), 0u);
  EXPECT_FALSE(hub.BeginBatch());
  hub.EndBatch(false);
  EXPECT_EQ(hub.count(), 0u);
}

TEST(WatchHub, OnlyMatchedEventsTakeASeq) {
  WatchHub hub;
  Watcher a(PrefixFilter("a:"));
  Add(hub, a.sub);
  EXPECT_TRUE(hub.active());
  EXPECT_EQ(hub.count(), 1u);
  EXPECT_FALSE(hub.Emit(kSet, "b:1", 1));  // nobody watches it
  EXPECT_EQ(hub.last_seq(), 0u);
  EXPECT_TRUE(hub.Emit(kSet, "a:1", 7));  // first event: a signal is due
  WatchHub::FlushWakes();
  EXPECT_EQ(a.signals(), 1);
  EXPECT_FALSE(hub.Emit(kDelete, "a:1", 7));  // coalesced until the owner drains
  EXPECT_FALSE(WatchHub::WakesPending());
  EXPECT_EQ(a.Drain(hub), (std::vector<Ev>{{kSet, "a:1", 7, 1}, {kDelete, "a:1", 7, 2}}));
  // That drain took events: the owner drains again, unsignalled.
  EXPECT_FALSE(hub.Emit(kSet, "a:2", 8));
  EXPECT_FALSE(WatchHub::WakesPending());
  EXPECT_EQ(a.Drain(hub), (std::vector<Ev>{{kSet, "a:2", 8, 3}}));
  EXPECT_EQ(a.signals(), 1);
  EXPECT_TRUE(a.Drain(hub).empty());      // nothing: this drain re-arms
  EXPECT_TRUE(hub.Emit(kSet, "a:3", 9));  // the owner is idle: a signal is due
  WatchHub::FlushWakes();
  EXPECT_EQ(a.signals(), 2);
  Remove(hub, a.sub.get());
  EXPECT_FALSE(hub.active());
  EXPECT_EQ(hub.count(), 0u);
}

TEST(WatchHub, OneSeqPerEventAcrossWatchers) {
  WatchHub hub;
  Watcher all;
  Watcher key(KeyFilter("k"));
  Watcher other(KeyFilter("x"));
  Add(hub, all.sub);
  Add(hub, key.sub);
  Add(hub, other.sub);
  hub.Emit(kSet, "j", 1);
  hub.Emit(kSet, "k", 2);
  hub.Emit(kDelete, "k", 2);
  WatchHub::FlushWakes();
  EXPECT_EQ(all.Drain(hub), (std::vector<Ev>{{kSet, "j", 1, 1}, {kSet, "k", 2, 2}, {kDelete, "k", 2, 3}}));
  EXPECT_EQ(key.Drain(hub), (std::vector<Ev>{{kSet, "k", 2, 2}, {kDelete, "k", 2, 3}}));
  EXPECT_TRUE(other.Drain(hub).empty());
  EXPECT_EQ(other.signals(), 0);
}

TEST(WatchHub, FullQueueDropsCountsAndReportsOneOverflowLast) {
  WatchHub hub;
  Watcher w({}, 3);
  Add(hub, w.sub);
  for (uint64_t i = 1; i <= 5; ++i) hub.Emit(kSet, Cat("k", i), i);
  WatchHub::FlushWakes();
  EXPECT_EQ(w.signals(), 1);
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kSet, "k1", 1, 1},
                                           {kSet, "k2", 2, 2},
                                           {kSet, "k3", 3, 3},
                                           {kOverflow, "", 2, 5}}));  // lost 2, the last of them seq 5
  // Room again; the count starts over.
  hub.Emit(kSet, "k6", 6);
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kSet, "k6", 6, 6}}));
}

TEST(WatchHub, AfterALossEverythingIsLostUntilTheDrain) {
  // So that every queued event precedes every lost one: a batch taken back
  // frees room, but the next event must not slip in ahead of the overflow.
  WatchHub hub;
  Watcher w({}, 4);
  Add(hub, w.sub);
  hub.Emit(kSet, "a", 1);
  hub.Emit(kSet, "b", 2);
  const bool held = hub.BeginBatch();
  ASSERT_TRUE(held);
  hub.Emit(kSet, "x", 3);
  hub.Emit(kSet, "y", 4);
  hub.Emit(kSet, "z", 5);  // does not fit: the batch is taken back whole
  hub.EndBatch(held);
  hub.Emit(kSet, "c", 6);  // would fit now, but follows a loss
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kSet, "a", 1, 1}, {kSet, "b", 2, 2}, {kOverflow, "", 4, 6}}));
}

TEST(WatchHub, AtomicBatchGetsConsecutiveSeqsAndIsDrainedWhole) {
  WatchHub hub;
  Watcher w;
  Add(hub, w.sub);
  hub.Emit(kSet, "before", 1);
  const bool held = hub.BeginBatch();
  for (int i = 0; i < 3; ++i) hub.Emit(kSet, Cat("b", i), 10 + i);
  hub.EndBatch(held);
  std::vector<Ev> got = w.Drain(hub);
  ASSERT_EQ(got.size(), 4u);
  for (size_t i = 1; i < got.size(); ++i) EXPECT_EQ(got[i].seq, got[i - 1].seq + 1);
}

TEST(WatchHub, ABatchThatFitsIsKeptAndOneThatDoesNotIsLostWhole) {
  WatchHub hub;
  Watcher small({}, 3);
  Watcher big;
  Add(hub, small.sub);
  Add(hub, big.sub);
  bool held = hub.BeginBatch();
  for (int i = 0; i < 3; ++i) hub.Emit(kSet, Cat("a", i), 1 + i);
  hub.EndBatch(held);
  EXPECT_EQ(small.Drain(hub).size(), 3u);  // exactly fits
  held = hub.BeginBatch();
  for (int i = 0; i < 4; ++i) hub.Emit(kSet, Cat("b", i), 10 + i);
  hub.EndBatch(held);
  EXPECT_EQ(small.Drain(hub), (std::vector<Ev>{{kOverflow, "", 4, 7}}));
  EXPECT_EQ(big.Drain(hub).size(), 7u);  // another watcher's room is its own
}

TEST(WatchHub, QueueSpansBlocksKeysOfEverySizeComeBackIntact) {
  // Records lie end to end in 16 KiB blocks; a key longer than a block gets
  // a block of its own. Drained again and again (the blocks are reused),
  // every event comes back whole, in order.
  WatchHub hub;
  Watcher w({}, 1'000'000);
  Add(hub, w.sub);
  uint64_t seq = 0;
  for (int round = 0; round < 3; ++round) {
    std::vector<Ev> want;
    for (int i = 0; i < 3'000; ++i) {
      // Lengths 0..40, a few of 10-40 KiB (past a block), every byte value.
      const size_t len = i % 500 == 7 ? 10'000 + 10'000 * static_cast<size_t>(i % 3) : static_cast<size_t>(i % 41);
      std::string key(len, '\0');
      for (size_t j = 0; j < len; ++j) key[j] = static_cast<char>((i + j * 31) & 0xff);
      hub.Emit(kSet, key, static_cast<uint64_t>(i));
      want.push_back({kSet, key, static_cast<uint64_t>(i), ++seq});
    }
    EXPECT_EQ(w.Drain(hub), want);
    EXPECT_TRUE(w.Drain(hub).empty());
  }
}

TEST(WatchHub, ABatchTakenBackAcrossBlocksLeavesTheQueueAsItWas) {
  // 600 events of 40-byte keys (64 bytes each: ~256 a block) queued, then
  // an atomic batch of 1,000 that crosses several blocks and does not fit:
  // it is taken back whole, and the queue can grow again after the drain.
  WatchHub hub;
  Watcher w({}, 1'500);
  Add(hub, w.sub);
  auto key = [](const char* tag, int i) {
    std::string k = Cat(tag, i);
    k.resize(40, '.');
    return k;
  };
  std::vector<Ev> want;
  for (int i = 0; i < 600; ++i) {
    hub.Emit(kSet, key("a", i), 1);
    want.push_back({kSet, key("a", i), 1, static_cast<uint64_t>(i + 1)});
  }
  const bool held = hub.BeginBatch();
  for (int i = 0; i < 1'000; ++i) hub.Emit(kSet, key("b", i), 2);
  hub.EndBatch(held);
  want.push_back({kOverflow, "", 1'000, 1'600});
  EXPECT_EQ(w.Drain(hub), want);
  // Room again: a batch that fits (across blocks too) arrives whole.
  const bool again = hub.BeginBatch();
  for (int i = 0; i < 1'500; ++i) hub.Emit(kSet, key("c", i), 3);
  hub.EndBatch(again);
  std::vector<Ev> got = w.Drain(hub);
  ASSERT_EQ(got.size(), 1'500u);
  for (int i = 0; i < 1'500; ++i) {
    EXPECT_EQ(got[i].key, key("c", i));
    EXPECT_EQ(got[i].seq, 1'601u + i);
  }
}

TEST(WatchHub, ABatchTakenBackFromAnEmptyQueue) {
  WatchHub hub;
  Watcher w({}, 300);
  Add(hub, w.sub);
  const bool held = hub.BeginBatch();
  for (int i = 0; i < 301; ++i) hub.Emit(kSet, std::string(100, 'k'), 1);  // 3 blocks, then one too many
  hub.EndBatch(held);
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kOverflow, "", 301, 301}}));
  hub.Emit(kSet, "after", 2);
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kSet, "after", 2, 302}}));
}

TEST(WatchHub, AGrowingBacklogGetsBlocksFromItsOwnerAndAnIdleOneGivesThemBack) {
  // 16-byte keys: 40 bytes a record, 409 a block.
  WatchHub hub;
  Watcher w({}, 1'000'000);
  Add(hub, w.sub);
  auto emit = [&](int n) {
    for (int i = 0; i < n; ++i) hub.Emit(kSet, "sixteen-byte-key", 1);
  };
  EXPECT_EQ(hub.spares(*w.sub), 0u);
  emit(4 * 409);  // 4 blocks, allocated by the writer (nothing kept yet)
  EXPECT_EQ(w.Drain(hub).size(), 4u * 409);
  // The drain took 4 blocks and had none before: the owner adds 8 (2 x 4).
  EXPECT_EQ(hub.spares(*w.sub), 8u);
  emit(12 * 409);  // 12 blocks: the 8 kept, 4 more
  EXPECT_EQ(hub.spares(*w.sub), 0u);
  EXPECT_EQ(w.Drain(hub).size(), 12u * 409);
  // Took 12 after 4 (x3): wants 36 kept; the 4 blocks of the batch handed
  // back, and 32 new ones.
  EXPECT_EQ(hub.spares(*w.sub), 36u);
  EXPECT_TRUE(w.Drain(hub).empty());  // idle: 4 kept, the rest freed
  EXPECT_EQ(hub.spares(*w.sub), 4u);
  emit(2 * 409);  // a new burst: from the kept blocks
  EXPECT_EQ(hub.spares(*w.sub), 2u);
  EXPECT_EQ(w.Drain(hub).size(), 2u * 409);
  EXPECT_EQ(hub.spares(*w.sub), 4u);  // 2 x what it took: the 2 left and 2 new
}

TEST(WatchHub, KeptBlocksStayWithinTheQueueBound) {
  // maxQueue 2,000 records of 8-byte keys fill 4 blocks (511 a block): the
  // owner never keeps more than that, however the backlog grew.
  WatchHub hub;
  Watcher w({}, 2'000);
  Add(hub, w.sub);
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 2'000; ++i) hub.Emit(kSet, "8-bytes!", 1);
    EXPECT_EQ(w.Drain(hub).size(), 2'000u);
    EXPECT_LE(hub.spares(*w.sub), 4u);
  }
}

TEST(WatchHub, MaxQueueOfOne) {
  WatchHub hub;
  Watcher w({}, 1);
  Add(hub, w.sub);
  hub.Emit(kSet, "a", 1);
  hub.Emit(kSet, "b", 2);
  EXPECT_EQ(w.Drain(hub), (std::vector<Ev>{{kSet, "a", 1, 1}, {kOverflow, "", 1, 2}}));
}

TEST(WatchHub, NotifyingADeadOwnerIsHarmless) {
  WatchHub hub;
  Watcher w;
  Add(hub, w.sub);
  w.notifier->Shutdown();  // its thread went away
  EXPECT_TRUE(hub.Emit(kSet, "k", 1));
  WatchHub::FlushWakes();  // Notify returns false; nothing else happens
  EXPECT_EQ(w.signals(), 0);
}

// ---- Store: every write path emits its event ----

struct StoreWatch {
  explicit StoreWatch(Options o = SmallOptions(), WatchFilter f = {}, size_t max_queue = 10'000)
      : store("w", o), w(std::move(f), max_queue) {
    EXPECT_EQ(store.Watch(w.sub), Status::kOk);
  }
  std::vector<Ev> Drain(bool* closed = nullptr) { return w.Drain(store, closed); }
  Store store;
  Watcher w;
};

EntryPtr Expiring(const Store& store, std::string_view key, int64_t ns_from_now) {
  EntryPtr e = MakeValueEntry(store, key, "v");
  e->expires_at = SteadyNowNs() + ns_from_now;
  return e;
}

void SleepMs(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

TEST(StoreWatch, SetReplaceDeleteWithTheirVersions) {
  StoreWatch t;
  uint64_t v1 = 0, v2 = 0;
  ASSERT_EQ(PutString(t.store, "k", "a", &v1), Status::kOk);
  ASSERT_EQ(PutString(t.store, "k", "b", &v2), Status::kOk);
  ASSERT_EQ(EraseString(t.store, "k"), Status::kOk);
  ASSERT_EQ(EraseString(t.store, "k"), Status::kNotFound);  // absent: no event
  EXPECT_EQ(t.w.signals(), 1);
  EXPECT_EQ(t.Drain(), (std::vector<Ev>{{kSet, "k", v1, 1}, {kSet, "k", v2, 2}, {kDelete, "k", v2, 3}}));
}

TEST(StoreWatch, CompoundWritesAndFailedOnes) {
  StoreWatch t;
  const uint64_t h = t.store.Hash("k");
  uint64_t v = 0;
  ASSERT_EQ(t.store.Insert(h, MakeValueEntry(t.store, "k", "a"), &v), Status::kOk);
  ASSERT_EQ(t.store.Insert(h, MakeValueEntry(t.store, "k", "b")), Status::kExists);  // no event
  uint64_t v2 = 0;
  ASSERT_EQ(t.store.CompareAndPut(h, MakeValueEntry(t.store, "k", "c"), v, &v2), Status::kOk);
  ASSERT_EQ(t.store.CompareAndPut(h, MakeValueEntry(t.store, "k", "d"), v, nullptr), Status::kMismatch);
  ASSERT_EQ(t.store.CompareAndErase("k", h, v), Status::kMismatch);
  ASSERT_EQ(t.store.CompareAndErase("k", h, v2), Status::kOk);
  Retired taken;
  uint64_t v3 = 0;
  ASSERT_EQ(PutString(t.store, "k", "e", &v3), Status::kOk);
  ASSERT_EQ(t.store.Erase("k", h, &taken), Status::kOk);  // take()
  EXPECT_EQ(
      t.Drain(),
      (std::vector<Ev>{
          {kSet, "k", v, 1}, {kSet, "k", v2, 2}, {kDelete, "k", v2, 3}, {kSet, "k", v3, 4}, {kDelete, "k", v3, 5}}));
}

TEST(StoreWatch, IncrementInPlaceAndFresh) {
  StoreWatch t;
  const uint64_t h = t.store.Hash("n");
  Number r;
  uint64_t v1 = 0, v2 = 0;
  ASSERT_EQ(t.store.Increment("n", h, 1, &r, &v1), Status::kOk);  // a fresh entry
  ASSERT_EQ(t.store.Increment("n", h, 2, &r, &v2), Status::kOk);  // in place
  ASSERT_EQ(t.store.Increment("n", h, 1e300, &r), Status::kOutOfRange);
  EXPECT_EQ(t.Drain(), (std::vector<Ev>{{kSet, "n", v1, 1}, {kSet, "n", v2, 2}}));
  EXPECT_LT(v1, v2);
}

// The hub's quick reject (a summary of its filters checked before the list)
// never drops an event a filter matches: watchers on keys and prefixes of
// every length from 0 to 10 over a two-letter alphabet (so that signatures
// of different keys collide and differ), beside a whole-store watcher of
// deletes only, and keys of every length from 0 to 12.
TEST(StoreWatch, QuickRejectNeverDropsAMatch) {
  Store store("w", SmallOptions());
  std::vector<std::unique_ptr<Watcher>> watchers;
  std::vector<WatchFilter> filters;
  auto word = [](uint64_t bits, size_t len) {
    std::string w;
    for (size_t i = 0; i < len; ++i) w.push_back((bits >> i) & 1 ? 'b' : 'a');
    return w;
  };
  for (size_t len = 0; len <= 10; ++len) {
    filters.push_back(PrefixFilter(word(len * 37, len)));
    filters.push_back(KeyFilter(word(len * 91 + 5, len)));
  }
  filters.push_back(WatchFilter{WatchFilter::Scope::kAll, "", WatchBit(kDelete)});
  for (const WatchFilter& f : filters) {
    watchers.push_back(std::make_unique<Watcher>(f, 1'000'000));
    ASSERT_EQ(store.Watch(watchers.back()->sub), Status::kOk);
  }
  std::vector<std::vector<Ev>> want(filters.size());
  uint64_t seq = 0;
  for (size_t len = 0; len <= 12; ++len) {
    for (uint64_t bits = 0; bits < (uint64_t{1} << std::min<size_t>(len, 8)); ++bits) {
      const std::string key = word(bits * 2654435761u, len);
      uint64_t version = 0;
      ASSERT_EQ(PutString(store, key, "v", &version), Status::kOk);
      bool any = false;
      for (size_t i = 0; i < filters.size(); ++i) {
        if (!filters[i].Matches(kSet, key)) continue;
        if (!any) ++seq;
        any = true;
        want[i].push_back({kSet, key, version, seq});
      }
    }
  }
  // A whole-store watcher with another event mask lets nothing else through.
  for (size_t i = 0; i < filters.size(); ++i) {
    SCOPED_TRACE(Cat("filter ", i));
    EXPECT_EQ(watchers[i]->Drain(store), want[i]);
  }
  for (auto& w : watchers) EXPECT_TRUE(store.Unwatch(w->sub.get()));
}

TEST(StoreWatch, AtomicPutManyAndEraseManyAreConsecutiveAndWhole) {
  StoreWatch t(SmallOptions(8));
  std::vector<HashedEntry> entries;
  for (int i = 0; i < 20; ++i) {
    const std::string k = Cat("k", i);
    entries.push_back({t.store.Hash(k), MakeValueEntry(t.store, k, "v")});
  }
  ASSERT_EQ(t.store.PutMany(entries, true), Status::kOk);
  std::vector<Ev> got = t.Drain();
  ASSERT_EQ(got.size(), 20u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, kSet);
    EXPECT_EQ(got[i].key, Cat("k", i));  // in the batch's order
    EXPECT_EQ(got[i].seq, i + 1);
  }
  std::vector<std::string> names;
  std::vector<KeyRef> keys;
  for (int i = 0; i < 20; i += 2) names.push_back(Cat("k", i));
  names.push_back("absent");
  for (const std::string& k : names) keys.push_back({k, t.store.Hash(k)});
  size_t erased = 0;
  ASSERT_EQ(t.store.EraseMany(keys, true, &erased), Status::kOk);
  EXPECT_EQ(erased, 10u);
  got = t.Drain();
  ASSERT_EQ(got.size(), 10u);
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].type, kDelete);
    EXPECT_EQ(got[i].seq, 21 + i);
  }
}

TEST(StoreWatch, NonAtomicBatchesEmitPerKey) {
  StoreWatch t;
  std::vector<HashedEntry> entries;
  entries.push_back({t.store.Hash("a"), MakeValueEntry(t.store, "a", "1")});
  entries.push_back({t.store.Hash("b"), MakeValueEntry(t.store, "b", "2")});
  ASSERT_EQ(t.store.PutMany(entries, false), Status::kOk);
  std::vector<KeyRef> keys{{"a", t.store.Hash("a")}, {"zz", t.store.Hash("zz")}};
  size_t erased = 0;
  ASSERT_EQ(t.store.EraseMany(keys, false, &erased), Status::kOk);
  std::vector<Ev> got = t.Drain();
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].type, kSet);
  EXPECT_EQ(got[1].type, kSet);
  EXPECT_EQ(got[2].type, kDelete);
  EXPECT_EQ(got[2].key, "a");
}

TEST(StoreWatch, ClearIsOneEventToEveryWatcherWhateverItsScope) {
  Store store("w", SmallOptions());
  Watcher key(KeyFilter("k"));
  Watcher prefix(PrefixFilter("p:"));
  Watcher no_clear(PrefixFilter("", WatchBit(kSet)));
  ASSERT_EQ(store.Watch(key.sub), Status::kOk);
  ASSERT_EQ(store.Watch(prefix.sub), Status::kOk);
  ASSERT_EQ(store.Watch(no_clear.sub), Status::kOk);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(PutString(store, Cat("x", i), "v"), Status::kOk);
  ASSERT_EQ(store.Clear(), Status::kOk);
  ASSERT_EQ(store.Clear(), Status::kOk);  // an empty store's clear is a write too
  EXPECT_EQ(key.Drain(store), (std::vector<Ev>{{kClear, "", 0, 51}, {kClear, "", 0, 52}}));
  EXPECT_EQ(prefix.Drain(store), (std::vector<Ev>{{kClear, "", 0, 51}, {kClear, "", 0, 52}}));
  EXPECT_EQ(no_clear.Drain(store).size(), 50u);
}

TEST(StoreWatch, ExpiredEntriesSweptReplacedOrErased) {
  StoreWatch t;
  Store& s = t.store;
  uint64_t v1 = 0, v2 = 0, v3 = 0, v4 = 0;
  ASSERT_EQ(s.Put(s.Hash("swept"), Expiring(s, "swept", 1'000'000), &v1), Status::kOk);
  ASSERT_EQ(s.Put(s.Hash("replaced"), Expiring(s, "replaced", 1'000'000), &v2), Status::kOk);
  ASSERT_EQ(s.Put(s.Hash("erased"), Expiring(s, "erased", 1'000'000), &v3), Status::kOk);
  ASSERT_EQ(s.Put(s.Hash("live"), Expiring(s, "live", 60'000'000'000), &v4), Status::kOk);
  t.Drain();
  SleepMs(5);
  uint64_t v5 = 0;
  ASSERT_EQ(PutString(s, "replaced", "new", &v5), Status::kOk);  // expire, then set
  ASSERT_EQ(EraseString(s, "erased"), Status::kNotFound);        // gone already: an expire, not a delete
  EXPECT_EQ(s.SweepExpired(), 1u);                               // "swept"
  EXPECT_EQ(t.Drain(), (std::vector<Ev>{{kExpire, "replaced", v2, 5},
                                        {kSet, "replaced", v5, 6},
                                        {kExpire, "erased", v3, 7},
                                        {kExpire, "swept", v1, 8}}));
}

TEST(StoreWatch, SieveEvictionsAreEvictEvents) {
  Options o = SmallOptions(1);
  o.max_entries = 4;
  o.eviction = EvictionPolicy::kSieve;
  StoreWatch t(o);
  for (int i = 0; i < 6; ++i) ASSERT_EQ(PutString(t.store, Cat("k", i), "v"), Status::kOk);
  std::vector<Ev> got = t.Drain();
  size_t sets = 0, evicts = 0;
  std::map<std::string, uint64_t> live;
  for (const Ev& e : got) {
    if (e.type == kSet) {
      ++sets;
      live[e.key] = e.version;
    } else {
      ASSERT_EQ(e.type, kEvict);
      ++evicts;
      EXPECT_EQ(live.at(e.key), e.version);  // the evicted entry's own version
      live.erase(e.key);
    }
  }
  EXPECT_EQ(sets, 6u);
  EXPECT_EQ(evicts, 2u);
  EXPECT_EQ(live.size(), 4u);
}

TEST(StoreWatch, PolicyNonePurgesExpiredEntriesAsExpireEvents) {
  Options o = SmallOptions(1);
  o.max_entries = 2;
  StoreWatch t(o);
  Store& s = t.store;
  ASSERT_EQ(s.Put(s.Hash("a"), Expiring(s, "a", 1'000'000)), Status::kOk);
  ASSERT_EQ(PutString(s, "b", "v"), Status::kOk);
  SleepMs(5);
  ASSERT_EQ(PutString(s, "c", "v"), Status::kOk);  // room made by purging "a"
  std::vector<Ev> got = t.Drain();
  ASSERT_EQ(got.size(), 4u);
  EXPECT_EQ(got[2].type, kExpire);
  EXPECT_EQ(got[2].key, "a");
  EXPECT_EQ(got[3].key, "c");
}

TEST(StoreWatch, UnwatchStopsEventsAndCounts) {
  StoreWatch t;
  EXPECT_EQ(t.store.watchers(), 1u);
  ASSERT_EQ(PutString(t.store, "a", "v"), Status::kOk);
  EXPECT_TRUE(t.store.Unwatch(t.w.sub.get()));
  EXPECT_FALSE(t.store.Unwatch(t.w.sub.get()));
  EXPECT_EQ(t.store.watchers(), 0u);
  ASSERT_EQ(PutString(t.store, "b", "v"), Status::kOk);
  EXPECT_EQ(t.Drain().size(), 1u);  // what was queued before stays drainable
}

TEST(StoreWatch, KillSendsAClearAndClosesEveryWatcher) {
  StoreWatch t;
  Watcher sets_only(PrefixFilter("", WatchBit(kSet)));
  ASSERT_EQ(t.store.Watch(sets_only.sub), Status::kOk);
  ASSERT_EQ(PutString(t.store, "a", "v"), Status::kOk);
  std::vector<Table> drained;
  t.store.Kill(&drained);
  EXPECT_EQ(t.store.watchers(), 0u);
  bool closed = false;
  std::vector<Ev> got = t.Drain(&closed);
  EXPECT_TRUE(closed);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[1].type, kClear);
  got = sets_only.Drain(t.store, &closed);
  EXPECT_TRUE(closed);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(sets_only.signals(), 1);
  Watcher late;
  EXPECT_EQ(t.store.Watch(late.sub), Status::kDestroyed);
}

// ---- Threads (the TSAN build checks these for races) ----

// Writers on many shards, one owner thread draining when signalled. The
// owner checks every rule a consumer relies on.
TEST(StoreWatchThreads, OrderedContiguousAtomicAndReplayable) {
  Store store("w", SmallOptions(8));
  const size_t writers = 4;
  const size_t ops = Scaled(20'000, 500);
  const size_t keys = 64;
  Failures failures;
  std::atomic<bool> stop{false};
  std::atomic<int> signalled{0};
  Watcher w({}, 1 << 20);  // large enough never to overflow here
  w.notifier = std::make_shared<Notifier>([&] {
    signalled.fetch_add(1, std::memory_order_release);
    return true;
  });
  w.sub = std::make_shared<Subscription>(WatchFilter{}, 1 << 20, w.notifier, 1);
  ASSERT_EQ(store.Watch(w.sub), Status::kOk);

  std::map<std::string, uint64_t> replay;  // key -> version, from the events
  std::map<std::string, uint64_t> last_version;
  uint64_t last_seq = 0;
  size_t batch_events = 0;
  auto consume = [&](const std::vector<Ev>& evs) {
    for (size_t i = 0; i < evs.size(); ++i) {
      const Ev& e = evs[i];
      if (e.seq != last_seq + 1) failures.Add(Cat("seq gap after ", last_seq) + Cat(" to ", e.seq));
      last_seq = e.seq;
      if (e.type == kOverflow) {
        failures.Add("overflow");
        continue;
      }
      uint64_t& lv = last_version[e.key];
      if (e.type == kSet) {
        if (e.version <= lv) failures.Add(Cat("version not increasing for " + e.key + ": ", e.version));
        lv = e.version;
        replay[e.key] = e.version;
      } else {
        if (e.version != lv) failures.Add("a removal with another version than the last set of " + e.key);
        replay.erase(e.key);
      }
      // An atomic batch ("b:<w>:<n>:<j>", j < 4) arrives whole, consecutive.
      if (e.key.starts_with("b:") && e.type == kSet && e.key.ends_with(":0")) {
        if (i + 3 >= evs.size()) {
          failures.Add("atomic batch split across drains");
          continue;
        }
        for (size_t j = 1; j < 4; ++j)
          if (evs[i + j].key != e.key.substr(0, e.key.size() - 1) + std::to_string(j) || evs[i + j].seq != e.seq + j)
            failures.Add("atomic batch not consecutive: " + e.key);
        ++batch_events;
      }
    }
  };

  std::thread owner([&] {
    // As the binding does: drain on a signal, then again until a drain
    // comes back empty (which re-arms the signal).
    bool busy = false;
    while (!stop.load(std::memory_order_acquire)) {
      if (signalled.exchange(0, std::memory_order_acquire) == 0 && !busy) {
        std::this_thread::yield();
        continue;
      }
      std::vector<Ev> got = w.Drain(store);
      busy = !got.empty();
      consume(got);
    }
    consume(w.Drain(store));
  });
  std::vector<std::thread> ts;
  for (size_t t = 0; t < writers; ++t) {
    ts.emplace_back([&, t] {
      for (size_t i = 0; i < ops; ++i) {
        const std::string k = Cat("k", (i * 7 + t) % keys);
        switch (i % 8) {
          case 0:
            (void)EraseString(store, k);
            break;
          case 1: {
            Number r;
            (void)store.Increment(Cat("n", t), store.Hash(Cat("n", t)), 1, &r);
            break;
          }
          case 2: {
            std::vector<HashedEntry> batch;
            const std::string base = Cat(Cat("b:", t) + ":", i) + ":";
            for (int j = 0; j < 4; ++j) {
              const std::string bk = Cat(base, j);
              batch.push_back({store.Hash(bk), MakeValueEntry(store, bk, "v")});
            }
            (void)store.PutMany(batch, true);
            std::vector<KeyRef> del;
            const std::string b0 = Cat(base, 0), b1 = Cat(base, 1), b2 = Cat(base, 2), b3 = Cat(base, 3);
            for (const std::string* bk : {&b0, &b1, &b2, &b3}) del.push_back({*bk, store.Hash(*bk)});
            size_t erased = 0;
            (void)store.EraseMany(del, i % 16 == 2, &erased);
            break;
          }
          default:
            (void)PutString(store, k, "v");
        }
      }
    });
  }
  for (std::thread& t : ts) t.join();
  stop.store(true, std::memory_order_release);
  owner.join();
  EXPECT_EQ(failures.count(), 0u) << failures.Summary();
  EXPECT_GT(batch_events, 0u);
  // The final state replayed from the events is the store's.
  std::map<std::string, uint64_t> actual;
  for (uint32_t sh = 0; sh < store.shard_count(); ++sh)
    ASSERT_EQ(store.Scan(sh, "", [&](const Entry& e) { actual[std::string(e.key())] = e.version; }), Status::kOk);
  EXPECT_EQ(replay, actual);
}

// Watchers come and go, and their owners die, while writers run: nothing is
// signalled after a shutdown, nothing races, nothing leaks (ASan/LSan).
TEST(StoreWatchThreads, SubscribeUnsubscribeAndDeadOwnersUnderWrites) {
  Store store("w", SmallOptions(4));
  std::atomic<bool> stop{false};
  std::vector<std::thread> ts;
  for (int t = 0; t < 2; ++t) {
    ts.emplace_back([&, t] {
      for (size_t i = 0; !stop.load(std::memory_order_relaxed); ++i) {
        const std::string k = Cat(t == 0 ? "a:" : "b:", i % 32);
        (void)PutString(store, k, "v");
        if (i % 5 == 0) (void)EraseString(store, k);
        if (i % 97 == 0) (void)store.Clear();
      }
    });
  }
  const size_t rounds = Scaled(2'000, 100);
  std::atomic<int> after_shutdown{0};
  for (size_t r = 0; r < rounds; ++r) {
    // Owned by the callback: a writer may still hold (and call) this round's
    // notifier after the round is over, when it was never shut down.
    auto dead = std::make_shared<std::atomic<bool>>(false);
    auto notifier = std::make_shared<Notifier>([dead, &after_shutdown] {
      if (dead->load(std::memory_order_relaxed)) after_shutdown.fetch_add(1);
      return true;
    });
    auto sub = std::make_shared<Subscription>(r % 2 ? PrefixFilter("a:") : WatchFilter{}, 1 + r % 50, notifier, r);
    ASSERT_EQ(store.Watch(sub), Status::kOk);
    WatchBatch batch;
    if (r % 3 == 0) store.DrainWatch(*sub, &batch);
    if (r % 2 == 0) {
      // The owner dies first (its thread exits), then its teardown unwatches.
      notifier->Shutdown();
      dead->store(true, std::memory_order_relaxed);
    }
    EXPECT_TRUE(store.Unwatch(sub.get()));
  }
  stop.store(true);
  for (std::thread& t : ts) t.join();
  EXPECT_EQ(store.watchers(), 0u);
  EXPECT_EQ(after_shutdown.load(), 0);
}

}  // namespace
}  // namespace threadkv
