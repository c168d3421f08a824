// Expiry on the shards' timer wheels (shard.h, timer_wheel.h): entry layout
// and charge, sweeps and purges driven by a fake clock, Expire() on entries
// with and without timer links, clear(), sizes that leave expired entries out
// without a table walk, the sweeper's planning, and writers racing sweeps.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "../core/registry.h"
#include "../core/store.h"
#include "../core/sweeper.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;
using testing::EraseString;
using testing::GetString;
using testing::MakeValueEntry;
using testing::ManualClock;
using testing::PutString;
using testing::SizesOf;
using testing::SmallOptions;

constexpr int64_t kMs = 1'000'000;

StoreStats StatsOf(const Store& s) {
  StoreStats st;
  EXPECT_EQ(s.Stats(&st), Status::kOk);
  return st;
}

// An entry laid out for its deadline by the store.
EntryPtr Timed(const Store& s, std::string_view key, std::string_view value, int64_t deadline) {
  EntryPtr e = s.NewEntry(key, value.size(), Kind::kBytes, 0, deadline);
  if (!value.empty()) std::memcpy(e->value_data(), value.data(), value.size());
  return e;
}

Status PutTimed(Store& s, std::string_view key, std::string_view value, int64_t deadline) {
  return s.Put(s.Hash(key), Timed(s, key, value, deadline));
}

Options Limited(uint32_t shards, uint64_t max_entries, uint64_t max_bytes, EvictionPolicy p) {
  Options o = SmallOptions(shards);
  o.max_entries = max_entries;
  o.max_bytes = max_bytes;
  o.eviction = p;
  return o;
}

// ---- Layout and charge ----

TEST(ExpiryLayout, OnlyEntriesThatCanExpireCarryTimerLinks) {
  Store plain("p", SmallOptions(2));
  EXPECT_FALSE(plain.NewEntry("k", 1, Kind::kBytes)->has_timer());
  EXPECT_FALSE(plain.NewEntry("k", 1, Kind::kBytes, 0, kNoExpiry)->has_timer());
  EXPECT_TRUE(plain.NewEntry("k", 1, Kind::kBytes, 0, plain.DeadlineIn(1000))->has_timer());
  Options o = SmallOptions(2);
  o.ttl_ms = 1000;
  Store ttl("t", o);
  EXPECT_TRUE(ttl.NewEntry("k", 1, Kind::kBytes)->has_timer());  // the default ttl applies when linked
  EXPECT_FALSE(ttl.NewEntry("k", 1, Kind::kBytes, 0, kNoExpiry)->has_timer());
  Store sieve("s", Limited(2, 10, 0, EvictionPolicy::kSieve));
  EntryPtr both = sieve.NewEntry("key", 5, Kind::kString, 0, sieve.DeadlineIn(1000));
  EXPECT_TRUE(both->has_links());
  EXPECT_TRUE(both->has_timer());
  // Queue links first, then timer links, then the header: three distinct
  // places, and the charge counts both.
  EXPECT_EQ(reinterpret_cast<char*>(&both->timer()) + sizeof(TimerLinks), reinterpret_cast<char*>(both.get()));
  EXPECT_EQ(reinterpret_cast<char*>(&both->links()) + sizeof(EntryLinks), reinterpret_cast<char*>(&both->timer()));
  EXPECT_EQ(&Entry::FromTimer(both->timer()), both.get());
  EXPECT_EQ(both->footprint(), sizeof(Entry) + 16 + 16 + 3 + 5);
  EXPECT_EQ(both->charge(), EntryChargeFor(3, 5, true, true));
  EXPECT_EQ(EntryChargeFor(3, 5, false, true), EntryChargeFor(3, 5, false) + kTimerLinkBytes);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(both.get()) % 16, 0u);
}

TEST(ExpiryLayout, StatsAndLimitsCountTheTimerLinks) {
  Store s("t", Limited(1, 0, 1000, EvictionPolicy::kNone));
  ASSERT_EQ(PutString(s, "a", "v"), Status::kOk);
  ASSERT_EQ(PutTimed(s, "b", "v", s.DeadlineIn(60'000)), Status::kOk);
  EXPECT_EQ(StatsOf(s).bytes, EntryChargeFor(1, 1, false) + EntryChargeFor(1, 1, false, true));
  EXPECT_EQ(SizesOf(s).bytes, 2 * (sizeof(Entry) + 2) + sizeof(TimerLinks));
}

// An entry given its deadline after it was made (no timer links) is copied
// with them before the write's lock: same key, value and deadline.
TEST(ExpiryLayout, AnEntryWithoutLinksGetsThemOnTheWayIn) {
  ManualClock clock;
  Store s("t", SmallOptions(2), {.clock = &clock});
  EntryPtr e = MakeValueEntry(s, "k", "value");
  ASSERT_FALSE(e->has_timer());
  e->expires_at = s.DeadlineIn(10);
  ASSERT_EQ(s.Put(s.Hash("k"), std::move(e)), Status::kOk);
  std::string v;
  ASSERT_EQ(GetString(s, "k", &v), Status::kOk);
  EXPECT_EQ(v, "value");
  EXPECT_EQ(s.CheckTimers(), "");
  EXPECT_EQ(StatsOf(s).bytes, EntryChargeFor(1, 5, false, true));
  clock.Advance(11 * kMs);
  EXPECT_EQ(s.SweepExpired(), 1u);
  EXPECT_EQ(StatsOf(s).entries, 0u);
}

// ---- Sweeps on the fake clock ----

// Each sweep removes exactly the entries whose deadline has passed, however
// far apart the deadlines (every level of the wheel), and no other.
TEST(ExpirySweep, RemovesExactlyTheDueEntries) {
  ManualClock clock;
  Store s("t", SmallOptions(4), {.clock = &clock});
  // Deadlines from 1 ms to ~20 days, a few per decade.
  std::vector<int64_t> offsets;
  for (int64_t d = kMs; d < int64_t{20} * 86'400'000 * kMs; d = d * 3 + 7) offsets.push_back(d);
  const int64_t t0 = clock.NowNs();
  for (size_t i = 0; i < offsets.size(); ++i) ASSERT_EQ(PutTimed(s, Cat("k", i), "v", t0 + offsets[i]), Status::kOk);
  ASSERT_EQ(PutString(s, "forever", "v"), Status::kOk);
  EXPECT_EQ(s.CheckTimers(), "");
  size_t gone = 0;
  for (size_t i = 0; i < offsets.size(); ++i) {
    // To just before the deadline: nothing more goes; to it: exactly one.
    clock.Advance(t0 + offsets[i] - 1 - clock.NowNs());
    EXPECT_EQ(s.SweepExpired(7), 0u) << i;
    EXPECT_LE(s.NextDue(), offsets[i] + t0 + TimerWheelCore::kTick) << i;
    clock.Advance(1);
    EXPECT_EQ(s.SweepExpired(7), 1u) << i;
    ++gone;
    EXPECT_EQ(SizesOf(s).entries, offsets.size() + 1 - gone);
    EXPECT_EQ(GetString(s, Cat("k", i), nullptr), Status::kNotFound);
    EXPECT_EQ(s.CheckTimers(), "") << i;
  }
  EXPECT_EQ(s.NextDue(), TimerWheelCore::kNever);
  EXPECT_FALSE(s.has_ttl());
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(st.expirations, offsets.size());
  EXPECT_GT(st.expiry_cascades, 0u);  // the far deadlines came down the levels
  EXPECT_GT(st.sweeps, 0u);
  EXPECT_EQ(GetString(s, "forever", nullptr), Status::kOk);
}

// size and memory leave expired entries out before any sweep (from the
// wheel's due nodes, no table walk), and match the stats after it.
TEST(ExpirySweep, SizesLeaveOutExpiredEntriesNotYetSwept) {
  ManualClock clock;
  Store s("t", SmallOptions(8), {.clock = &clock});
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(PutTimed(s, Cat("soon", i), "vv", s.DeadlineIn(5)), Status::kOk);
  for (int i = 0; i < 500; ++i) ASSERT_EQ(PutTimed(s, Cat("late", i), "vv", s.DeadlineIn(3'600'000)), Status::kOk);
  for (int i = 0; i < 250; ++i) ASSERT_EQ(PutString(s, Cat("none", i), "vv"), Status::kOk);
  EXPECT_EQ(SizesOf(s).entries, 1750u);
  clock.Advance(6 * kMs);
  const StoreSizes z = SizesOf(s);
  EXPECT_EQ(z.entries, 750u);
  uint64_t bytes = 0;
  for (int i = 0; i < 500; ++i) bytes += sizeof(Entry) + sizeof(TimerLinks) + Cat("late", i).size() + 2;
  for (int i = 0; i < 250; ++i) bytes += sizeof(Entry) + Cat("none", i).size() + 2;
  EXPECT_EQ(z.bytes, bytes);
  EXPECT_EQ(StatsOf(s).entries, 1750u);  // the stats count what still holds memory
  EXPECT_EQ(s.SweepExpired(), 1000u);
  EXPECT_EQ(SizesOf(s).entries, 750u);
  EXPECT_EQ(SizesOf(s).bytes, bytes);
  EXPECT_EQ(StatsOf(s).entries, 750u);
}

// A full shard takes its expired entries out (TimerWheel::ExpireDue) before
// it refuses or evicts: every one, including those whose deadline passed
// within the current wheel tick.
TEST(ExpirySweep, AFullStoreReclaimsExpiredEntriesFirst) {
  ManualClock clock;
  Store s("t", Limited(2, 10, 0, EvictionPolicy::kNone), {.clock = &clock});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(PutTimed(s, Cat("k", i), "v", s.DeadlineIn(1)), Status::kOk);
  EXPECT_EQ(PutString(s, "x", "v"), Status::kFullEntries);
  clock.Advance(kMs);  // exactly the deadlines: due, though their tick has not ended
  for (int i = 0; i < 10; ++i) ASSERT_EQ(PutString(s, Cat("n", i), "v"), Status::kOk) << i;
  EXPECT_EQ(StatsOf(s).expirations, 10u);
  EXPECT_EQ(s.CheckTimers(), "");
  EXPECT_EQ(s.SweepExpired(), 0u);
}

// ---- Expire() ----

TEST(ExpiryExpire, AnEntryWithoutLinksIsReplacedByACopyWithThem) {
  ManualClock clock;
  Store s("t", SmallOptions(2), {.clock = &clock});
  uint64_t v1 = 0;
  ASSERT_EQ(PutString(s, "k", "value", &v1), Status::kOk);
  const uint64_t before = StatsOf(s).bytes;
  ASSERT_EQ(s.Expire("k", s.Hash("k"), s.DeadlineIn(10)), Status::kOk);
  std::string v;
  uint64_t v2 = 0;
  ASSERT_EQ(GetString(s, "k", &v, &v2), Status::kOk);
  EXPECT_EQ(v, "value");
  EXPECT_EQ(v2, v1);  // not a write: same version
  EXPECT_EQ(StatsOf(s).bytes, before + kTimerLinkBytes);
  EXPECT_EQ(StatsOf(s).sets, 1u);
  EXPECT_EQ(s.CheckTimers(), "");
  // With links now: moved in place, and taken off the wheel by "never".
  ASSERT_EQ(s.Expire("k", s.Hash("k"), s.DeadlineIn(20)), Status::kOk);
  ASSERT_EQ(s.Expire("k", s.Hash("k"), kNoExpiry), Status::kOk);
  EXPECT_EQ(s.CheckTimers(), "");
  clock.Advance(30 * kMs);
  EXPECT_EQ(s.SweepExpired(), 0u);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kOk);
  ASSERT_EQ(s.Expire("k", s.Hash("k"), s.DeadlineIn(5)), Status::kOk);
  clock.Advance(5 * kMs);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(s.SweepExpired(), 1u);
  EXPECT_EQ(s.Expire("k", s.Hash("k"), s.DeadlineIn(5)), Status::kNotFound);
  EXPECT_EQ(StatsOf(s).bytes, 0u);
}

TEST(ExpiryExpire, APastDeadlineHidesTheEntryUntilTheSweep) {
  ManualClock clock;
  Store s("t", SmallOptions(2), {.clock = &clock});
  ASSERT_EQ(PutString(s, "k", "v"), Status::kOk);
  ASSERT_EQ(s.Expire("k", s.Hash("k"), clock.NowNs()), Status::kOk);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(SizesOf(s).entries, 0u);
  EXPECT_EQ(StatsOf(s).entries, 1u);
  EXPECT_EQ(s.SweepExpired(), 1u);
  EXPECT_EQ(StatsOf(s).expirations, 1u);
}

// The copy keeps the SIEVE queue's order and the visited bit.
TEST(ExpiryExpire, TheCopyTakesTheOriginalsPlaceInTheEvictionQueue) {
  ManualClock clock;
  Store s("t", Limited(1, 3, 0, EvictionPolicy::kSieve), {.clock = &clock});
  ASSERT_EQ(PutString(s, "a", "v"), Status::kOk);
  ASSERT_EQ(PutString(s, "b", "v"), Status::kOk);
  ASSERT_EQ(PutString(s, "c", "v"), Status::kOk);
  ASSERT_EQ(GetString(s, "a", nullptr), Status::kOk);  // visited
  ASSERT_EQ(s.Expire("a", s.Hash("a"), s.DeadlineIn(60'000)), Status::kOk);
  ASSERT_EQ(s.Expire("b", s.Hash("b"), s.DeadlineIn(60'000)), Status::kOk);
  ASSERT_EQ(PutString(s, "d", "v"), Status::kOk);  // evicts b: the oldest not visited
  EXPECT_EQ(GetString(s, "a", nullptr), Status::kOk);
  EXPECT_EQ(GetString(s, "b", nullptr), Status::kNotFound);
  EXPECT_EQ(GetString(s, "c", nullptr), Status::kOk);
  EXPECT_EQ(s.CheckTimers(), "");
}

// The links cost 16 bytes: under maxBytes they must fit as a write's bytes
// must (refused with nothing changed, policy none; room made, SIEVE).
TEST(ExpiryExpire, TheLinksMustFitUnderMaxBytes) {
  const uint64_t one = EntryChargeFor(1, 1, false);
  Store none("n", Limited(2, 0, 3 * one, EvictionPolicy::kNone));
  for (const char* k : {"a", "b", "c"}) ASSERT_EQ(PutString(none, k, "v"), Status::kOk);
  EXPECT_EQ(none.Expire("a", none.Hash("a"), none.DeadlineIn(60'000)), Status::kFullBytes);
  EXPECT_EQ(StatsOf(none).bytes, 3 * one);
  EXPECT_EQ(none.CheckTimers(), "");
  ASSERT_EQ(EraseString(none, "c"), Status::kOk);
  EXPECT_EQ(none.Expire("a", none.Hash("a"), none.DeadlineIn(60'000)), Status::kOk);
  EXPECT_EQ(StatsOf(none).bytes, 2 * one + kTimerLinkBytes);

  const uint64_t q = EntryChargeFor(1, 1, true);
  Store sieve("s", Limited(2, 0, 3 * q, EvictionPolicy::kSieve));
  for (const char* k : {"a", "b", "c"}) ASSERT_EQ(PutString(sieve, k, "v"), Status::kOk);
  EXPECT_EQ(sieve.Expire("a", sieve.Hash("a"), sieve.DeadlineIn(60'000)), Status::kOk);
  const StoreStats st = StatsOf(sieve);
  EXPECT_EQ(st.evictions, 1u);
  EXPECT_LE(st.bytes, 3 * q);
  EXPECT_EQ(GetString(sieve, "a", nullptr), Status::kOk);  // never its own key
  EXPECT_EQ(sieve.CheckTimers(), "");
}

// A counter keeps its deadline (and so its timer links) through increments,
// in place or replaced (a hook makes every increment a replacement).
TEST(ExpiryExpire, ACounterKeepsItsDeadline) {
  struct Quiet final : StoreHook {
    uint8_t OnChange(uint32_t, Change, const Entry&) noexcept override { return kNothing; }
  };
  ManualClock clock;
  Store s("t", SmallOptions(2), {.clock = &clock});
  Number n;
  ASSERT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kOk);
  ASSERT_EQ(s.Expire("c", s.Hash("c"), s.DeadlineIn(10)), Status::kOk);
  ASSERT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kOk);  // in place
  ASSERT_EQ(s.AddHook(std::make_shared<Quiet>()), Status::kOk);
  ASSERT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kOk);  // replaced
  EXPECT_EQ(n.i, 3);
  EXPECT_EQ(s.CheckTimers(), "");
  clock.Advance(10 * kMs);
  EXPECT_EQ(s.SweepExpired(), 1u);
}

// ---- clear() ----

TEST(ExpiryClear, ClearEmptiesTheWheelsWithAndWithoutHooks) {
  struct Counting final : StoreHook {
    std::atomic<int> cleared{0};
    uint8_t OnChange(uint32_t, Change c, const Entry&) noexcept override {
      if (c == Change::kCleared) ++cleared;
      return kNothing;
    }
  };
  ManualClock clock;
  for (bool hooked : {false, true}) {
    Store s("t", SmallOptions(4), {.clock = &clock});
    auto hook = std::make_shared<Counting>();
    if (hooked) {
      ASSERT_EQ(s.AddHook(hook), Status::kOk);
    }
    for (int i = 0; i < 300; ++i) ASSERT_EQ(PutTimed(s, Cat("k", i), "v", s.DeadlineIn(5 + i % 7)), Status::kOk);
    ASSERT_EQ(s.Clear(), Status::kOk);
    EXPECT_EQ(s.CheckTimers(), "");
    EXPECT_EQ(s.NextDue(), TimerWheelCore::kNever);
    EXPECT_EQ(SizesOf(s).entries, 0u);
    if (hooked) {
      EXPECT_EQ(hook->cleared.load(), 300);
    }
    // The wheels work on after it.
    for (int i = 0; i < 100; ++i) ASSERT_EQ(PutTimed(s, Cat("j", i), "v", s.DeadlineIn(5)), Status::kOk);
    EXPECT_EQ(s.CheckTimers(), "");
    clock.Advance(5 * kMs);
    EXPECT_EQ(s.SweepExpired(), 100u);
    EXPECT_EQ(StatsOf(s).entries, 0u);
  }
}

// ---- Batches ----

TEST(ExpiryBatch, AnAtomicBatchSchedulesItsEntries) {
  ManualClock clock;
  Store s("t", SmallOptions(4), {.clock = &clock});
  std::vector<HashedEntry> batch;
  for (int i = 0; i < 50; ++i) {
    const std::string k = Cat("k", i);
    EntryPtr e = i % 2 == 0 ? Timed(s, k, "v", s.DeadlineIn(3)) : MakeValueEntry(s, k, "v");
    if (i % 2 != 0 && i % 3 == 0) e->expires_at = s.DeadlineIn(3);  // laid out without links: copied
    batch.push_back({s.Hash(k), std::move(e)});
  }
  ASSERT_EQ(s.PutMany(batch, true), Status::kOk);
  EXPECT_EQ(s.CheckTimers(), "");
  clock.Advance(3 * kMs);
  size_t want = 0;
  for (int i = 0; i < 50; ++i) want += (i % 2 == 0 || i % 3 == 0) ? 1 : 0;
  EXPECT_EQ(s.SweepExpired(), want);
  EXPECT_EQ(StatsOf(s).entries, 50 - want);
}

// ---- The waker ----

// A write wakes the waker only when it makes work due before the waker
// planned to look: not once per write.
TEST(ExpiryWaker, AWriteWakesOnlyForEarlierWork) {
  struct Planned final : Waker {
    int wakes = 0;
    int64_t planned = std::numeric_limits<int64_t>::max();
    void Wake() override { ++wakes; }
    int64_t PlannedNs() const override { return planned; }
  } waker;
  ManualClock clock;
  Store s("t", SmallOptions(1), {.clock = &clock, .waker = &waker});
  ASSERT_EQ(PutString(s, "plain", "v"), Status::kOk);
  EXPECT_EQ(waker.wakes, 0);
  ASSERT_EQ(PutTimed(s, "a", "v", s.DeadlineIn(1000)), Status::kOk);  // the first work: wakes
  EXPECT_EQ(waker.wakes, 1);
  waker.planned = s.NextDue();
  for (int i = 0; i < 100; ++i) ASSERT_EQ(PutTimed(s, Cat("b", i), "v", s.DeadlineIn(1000)), Status::kOk);
  EXPECT_EQ(waker.wakes, 1);                                       // the same bucket: known already
  ASSERT_EQ(PutTimed(s, "c", "v", s.DeadlineIn(1)), Status::kOk);  // earlier than planned
  EXPECT_EQ(waker.wakes, 2);
  waker.planned = std::numeric_limits<int64_t>::min();  // looking anyway (a pass runs)
  ASSERT_EQ(PutTimed(s, "d", "v", s.DeadlineIn(0.001)), Status::kOk);
  EXPECT_EQ(waker.wakes, 2);
}

// The sweeper thread sleeps until the stores' next due time (never sooner
// than one interval after its last pass), plans again when woken, and runs
// no pass while nothing is due.
TEST(ExpiryWaker, TheSweeperSleepsUntilWorkIsDue) {
  // Leaked on purpose, as the Registry's: its detached thread never ends,
  // and what its pass and plan use must outlive it.
  struct State {
    std::mutex mu;
    std::condition_variable cv;
    int passes = 0;
    std::atomic<int64_t> next{std::numeric_limits<int64_t>::max()};
  };
  auto* state = new State;
  std::mutex& mu = state->mu;
  std::condition_variable& cv = state->cv;
  int& passes = state->passes;
  std::atomic<int64_t>& next = state->next;
  auto* sweeper = new Sweeper(
      [state] {
        state->next.store(std::numeric_limits<int64_t>::max());  // the pass did the work
        std::lock_guard lock(state->mu);
        ++state->passes;
        state->cv.notify_all();
      },
      [state] { return state->next.load(); });
  EXPECT_EQ(sweeper->PlannedNs(), std::numeric_limits<int64_t>::max());
  sweeper->Wake();  // starts the thread: nothing due, so no pass
  for (int i = 0; i < 200 && sweeper->counters().wakes == 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(sweeper->PlannedNs(), std::numeric_limits<int64_t>::max());
  // Work due in 20 ms: the writer sees it is earlier than planned, wakes it.
  next.store(SteadyNowNs() + 20 * kMs);
  ASSERT_LT(next.load(), sweeper->PlannedNs());
  sweeper->Wake();
  {
    std::unique_lock lock(mu);
    ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return passes == 1; }));
  }
  // Work an hour away: it sleeps (a pass now would be a bug, not a slow machine).
  next.store(SteadyNowNs() + int64_t{3600} * 1000 * kMs);
  sweeper->Wake();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(passes, 1);
  }
  EXPECT_GE(sweeper->PlannedNs(), next.load());
  // Work due now again: at most one interval after the last pass.
  next.store(SteadyNowNs());
  sweeper->Wake();
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, std::chrono::seconds(30), [&] { return passes == 2; }));
  // Nothing due: idle (kNever) again.
  lock.unlock();
  for (int i = 0; i < 400 && sweeper->PlannedNs() != std::numeric_limits<int64_t>::max(); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  EXPECT_EQ(sweeper->PlannedNs(), std::numeric_limits<int64_t>::max());
}

// The Registry's sweeper reclaims expired entries without any access, and
// stays asleep while the other deadlines are far away.
TEST(ExpiryWaker, TheRegistrySweeperReclaimsWithoutAccess) {
  OpenResult r = Registry::Instance().Open("expiry-test-sweeper", SmallOptions(8), 0);
  ASSERT_TRUE(r.store);
  Store& s = *r.store;
  for (int i = 0; i < 2000; ++i) ASSERT_EQ(PutTimed(s, Cat("far", i), "v", s.DeadlineIn(3'600'000)), Status::kOk);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(PutTimed(s, Cat("soon", i), "v", s.DeadlineIn(30)), Status::kOk);
  StoreStats st = StatsOf(s);
  for (int waited = 0; waited < 30000 && st.entries != 2000; waited += 10) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    st = StatsOf(s);
  }
  EXPECT_EQ(st.entries, 2000u);
  EXPECT_EQ(st.expirations, 1000u);
  EXPECT_EQ(st.hits + st.misses, 0u);
  EXPECT_EQ(s.CheckTimers(), "");
  EXPECT_TRUE(Registry::Instance().Destroy("expiry-test-sweeper"));
}

// ---- Concurrency (run under TSAN by test:native) ----

// Writers put, overwrite, delete and re-deadline entries (with and without
// timer links) while a sweeper sweeps with a small budget and readers ask
// for sizes: no race, and at the end the wheels match the tables and every
// entry with a deadline is reclaimed.
TEST(ExpiryConcurrent, WritersExpireAndSizeWhileASweeperSweeps) {
  Store s("t", Limited(4, 0, 1 << 20, EvictionPolicy::kSieve));
  const size_t iterations = testing::Scaled(20000, 400);
  std::atomic<bool> stop{false};
  std::thread sweeper([&] {
    while (!stop.load()) (void)s.SweepExpired(16);
  });
  std::thread sizer([&] {
    while (!stop.load()) {
      StoreSizes z;
      (void)s.Sizes(&z);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 3; ++t) {
    writers.emplace_back([&, t] {
      for (size_t i = 0; i < iterations; ++i) {
        const std::string k = Cat(Cat("w", t % 2) + "-", i % 300);  // two writers share keys
        const int64_t soon = SteadyNowNs() + static_cast<int64_t>(i % 64) * 20'000;
        switch (i % 6) {
          case 0:
            (void)PutTimed(s, k, "value", soon);
            break;
          case 1:
            (void)PutString(s, k, "value");
            break;
          case 2:
            (void)s.Expire(k, s.Hash(k), soon);
            break;
          case 3:
            (void)s.Expire(k, s.Hash(k), kNoExpiry);
            break;
          case 4:
            (void)EraseString(s, k);
            break;
          default: {
            Number n;
            (void)s.Increment(Cat("n", i % 50), s.Hash(Cat("n", i % 50)), 1, &n);
            if (i % 12 == 5) (void)s.Expire(Cat("n", i % 50), s.Hash(Cat("n", i % 50)), soon);
          }
        }
      }
    });
  }
  for (auto& th : writers) th.join();
  stop = true;
  sweeper.join();
  sizer.join();
  EXPECT_EQ(s.CheckTimers(), "");
  // Everything with a deadline is due within ~1.3 ms of the end.
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  (void)s.SweepExpired();
  EXPECT_EQ(s.CheckTimers(), "");
  const StoreSizes z = SizesOf(s);
  const StoreStats st = StatsOf(s);
  EXPECT_EQ(z.entries, st.entries);
  EXPECT_FALSE(s.has_ttl());
  EXPECT_EQ(s.NextDue(), TimerWheelCore::kNever);
}

}  // namespace
}  // namespace threadkv
