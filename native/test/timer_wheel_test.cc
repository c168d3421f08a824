// TimerWheel: the hierarchical timer wheel for deadlines (core/timer_wheel.h).
// Tested on its own with a small test node: exact delivery times on every
// level, past and far-future deadlines, clock jumps, huge buckets under a
// budget, re-entrant callbacks, memory, and a long randomised comparison
// against a model (a std::multimap of deadlines) that checks after every
// step that delivery is exactly once, never early and within the lateness
// bound, that NextDue is exact, and that ForEachDue finds exactly the due
// nodes while looking at no more than the lateness window's worth of others.
#include "core/timer_wheel.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <shared_mutex>
#include <thread>
#include <vector>

#include "test_util.h"

namespace threadkv {
namespace {

constexpr int64_t kMs = 1'000'000;
constexpr int64_t kSec = 1000 * kMs;
constexpr int64_t kMin = 60 * kSec;
constexpr int64_t kHour = 60 * kMin;
constexpr int64_t kDay = 24 * kHour;
constexpr int64_t kYear = 365 * kDay;
constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMinT = std::numeric_limits<int64_t>::min();
constexpr size_t kAll = std::numeric_limits<size_t>::max();

struct TestNode {
  TimerLinks links;  // first, so that FromLinks is a cast
  int64_t deadline = 0;
  uint32_t id = 0;
  uint32_t delivered = 0;
};

struct TestAccess {
  static TimerLinks& Links(TestNode& n) { return n.links; }
  static TestNode& FromLinks(TimerLinks& l) { return *reinterpret_cast<TestNode*>(&l); }
  static int64_t Deadline(const TestNode& n) { return n.deadline; }
};

using Wheel = TimerWheel<TestNode, TestAccess>;

constexpr int64_t Due(int64_t d) { return Wheel::DueTime(d); }

// a + b, clamped to the int64 range.
int64_t AddSat(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kMax : kMinT;
  return r;
}

void ExpectValid(const Wheel& w) {
  const std::string why = w.CheckInvariants();
  ASSERT_TRUE(why.empty()) << why;
}

// Advances to `now` with no budget limit; returns the nodes delivered, in order.
std::vector<TestNode*> AdvanceAll(Wheel& w, int64_t now) {
  std::vector<TestNode*> out;
  const TimerAdvance r = w.Advance(now, kAll, [&](TestNode& n) {
    ++n.delivered;
    out.push_back(&n);
  });
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.expired, out.size());
  return out;
}

TEST(TimerWheel, EmptyWheelIsOneWordAndOwnsNothing) {
  static_assert(sizeof(Wheel) == sizeof(void*));
  Wheel w;
  EXPECT_EQ(w.size(), 0u);
  EXPECT_TRUE(w.empty());
  EXPECT_EQ(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.NextDue(), Wheel::kNever);
  EXPECT_EQ(w.CountDue(kMax), 0u);
  EXPECT_FALSE(w.ReleaseIfEmpty());
  // Advancing an empty wheel moves its clock and allocates nothing.
  const TimerAdvance r = w.Advance(10 * kSec, kAll, [](TestNode&) { FAIL(); });
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.work, 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.clock(), 10 * kSec);
}

TEST(TimerWheel, MovesTakeTheBucketsAndTheNodes) {
  Wheel a(0);
  TestNode n;
  n.deadline = kSec;
  a.Schedule(n);
  Wheel b(std::move(a));
  EXPECT_EQ(b.size(), 1u);
  EXPECT_EQ(a.size(), 0u);  // NOLINT(bugprone-use-after-move): a moved-from wheel is empty
  EXPECT_EQ(a.MemoryBytes(), 0u);
  Wheel c(5 * kSec);
  TestNode m;
  m.deadline = 6 * kSec;
  c.Schedule(m);
  c = std::move(b);  // c's own buckets are freed (LeakSanitizer checks); m is forgotten
  EXPECT_EQ(c.size(), 1u);
  ExpectValid(c);
  const auto got = AdvanceAll(c, Due(kSec));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], &n);
}

TEST(TimerWheel, DueTimeIsTheLastNanosecondOfTheLevel0Window) {
  EXPECT_EQ(Wheel::kTick, int64_t{1} << 20);
  EXPECT_EQ(Due(0), Wheel::kTick - 1);
  EXPECT_EQ(Due(Wheel::kTick - 1), Wheel::kTick - 1);
  EXPECT_EQ(Due(Wheel::kTick), 2 * Wheel::kTick - 1);
  EXPECT_EQ(Due(-1), -1);
  EXPECT_EQ(Due(-Wheel::kTick), -1);
  EXPECT_EQ(Due(-Wheel::kTick - 1), -Wheel::kTick - 1);
  EXPECT_EQ(Due(kMax), kMax);
  EXPECT_EQ(Due(kMinT), kMinT + Wheel::kTick - 1);
}

TEST(TimerWheel, DeliversAtItsDueTimeAndNotBefore) {
  Wheel w(0);
  TestNode n;
  n.deadline = 5 * Wheel::kTick + 123;  // the worst case is the window's first ns
  EXPECT_EQ(w.Schedule(n), Due(n.deadline));
  EXPECT_TRUE(Wheel::IsScheduled(n));
  EXPECT_EQ(w.size(), 1u);
  EXPECT_GT(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.NextDue(), Due(n.deadline));
  ExpectValid(w);
  EXPECT_TRUE(AdvanceAll(w, n.deadline - 1).empty());
  EXPECT_TRUE(AdvanceAll(w, n.deadline).empty());  // due, but its window is not over
  EXPECT_EQ(w.CountDue(n.deadline), 1u);           // ... and ForEachDue sees it
  EXPECT_EQ(w.CountDue(n.deadline - 1), 0u);
  EXPECT_TRUE(AdvanceAll(w, Due(n.deadline) - 1).empty());
  const auto got = AdvanceAll(w, Due(n.deadline));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], &n);
  EXPECT_FALSE(Wheel::IsScheduled(n));
  EXPECT_EQ(n.links.prev, nullptr);
  EXPECT_EQ(n.links.next, nullptr);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);  // freed by the Advance that emptied it
  EXPECT_EQ(w.NextDue(), Wheel::kNever);
}

// Drives the wheel the way a sweeper does (sleep until NextDue, Advance) and
// checks that every node is delivered exactly at Due(deadline), from every
// level, and that the number of wake-ups is bounded by the levels.
TEST(TimerWheel, EveryLevelDeliversExactlyAtTheDueTime) {
  const int64_t start = 1'234'567 * kSec + 89;  // an uptime of two weeks, unaligned
  const std::vector<int64_t> deltas = {0,     1,         kMs,         Wheel::kTick, 3 * kSec, 5 * kSec,
                                       kMin,  10 * kMin, kHour,       6 * kHour,    kDay,     20 * kDay,
                                       kYear, 3 * kYear, 150 * kYear, 200 * kYear,  -kMs,     -kHour};
  for (int64_t delta : deltas) {
    SCOPED_TRACE(::testing::Message() << "delta " << delta);
    Wheel w(start);
    TestNode n;
    n.deadline = start + delta;
    w.Schedule(n);
    ExpectValid(w);
    int64_t now = start;
    int wakeups = 0;
    while (Wheel::IsScheduled(n)) {
      const int64_t next = w.NextDue();
      ASSERT_NE(next, Wheel::kNever);
      // (The clock kept in an empty wheel's word is rounded down to even:
      // NextDue may be the nanosecond before `start`.)
      ASSERT_GE(next, now - 1) << "NextDue went back in time";
      now = std::max(now, next);
      // Nothing happens one nanosecond before NextDue.
      EXPECT_EQ(w.Advance(next - 1, kAll, [](TestNode&) { FAIL(); }).work, 0u);
      const TimerAdvance r = w.Advance(now, kAll, [&](TestNode& x) {
        EXPECT_EQ(&x, &n);
        EXPECT_LE(x.deadline, now) << "delivered early";
        ++x.delivered;
      });
      EXPECT_GE(r.work, 1u) << "NextDue promised work";
      ++wakeups;
      ExpectValid(w);
      ASSERT_LE(wakeups, TimerWheelCore::kLevels + 1);
    }
    EXPECT_EQ(n.delivered, 1u);
    // A deadline the clock has passed is delivered by the first Advance.
    EXPECT_EQ(now, delta >= 0 ? Due(n.deadline) : start);
  }
}

TEST(TimerWheel, PastDeadlinesAreDeliveredByTheNextAdvance) {
  Wheel w(0);
  const int64_t now = 100 * kSec + 7;
  AdvanceAll(w, now);
  ASSERT_EQ(w.clock(), now & ~int64_t{1});  // an empty wheel keeps it rounded down to even
  TestNode old_window, long_ago, same_window, ancient, at_clock, later;
  old_window.deadline = now - Wheel::kTick;  // the previous window
  long_ago.deadline = now - 3 * kHour;
  ancient.deadline = kMinT;
  same_window.deadline = (now & ~(Wheel::kTick - 1));  // in the clock's own window
  at_clock.deadline = w.clock();
  later.deadline = w.clock() + 1;  // not due yet: level 0, its window's end
  for (TestNode* n : {&old_window, &long_ago, &ancient, &same_window, &at_clock, &later}) {
    EXPECT_EQ(w.Schedule(*n), n == &later ? Due(now) : w.clock());
  }
  ExpectValid(w);
  EXPECT_EQ(w.CountDue(now - 1), 5u);
  EXPECT_EQ(w.NextDue(), w.clock());
  auto got = AdvanceAll(w, now - 1);  // the overdue list: everything due by the clock
  EXPECT_EQ(got.size(), 5u);
  EXPECT_EQ(later.delivered, 0u);
  EXPECT_EQ(w.NextDue(), Due(now));
  got = AdvanceAll(w, Due(now));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], &later);
}

TEST(TimerWheel, ExpireDueAlsoTakesTheDueNodesOfNowsWindow) {
  const int64_t window = 1000 * Wheel::kTick;
  Wheel w(window - 5 * kSec);
  std::vector<TestNode> nodes(5);
  const int64_t ds[] = {window + 10, window + 11, window + 500, window + Wheel::kTick - 1, window + Wheel::kTick};
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].id = static_cast<uint32_t>(i);
    nodes[i].deadline = ds[i];
    w.Schedule(nodes[i]);
  }
  // Advance(window + 11) leaves the window alone: it is not over.
  EXPECT_EQ(AdvanceAll(w, window + 11).size(), 0u);
  EXPECT_EQ(w.CountDue(window + 11), 2u);
  std::vector<uint32_t> got;
  int64_t now = window + 11;
  auto collect = [&](TestNode& x) {
    EXPECT_LE(x.deadline, now);
    got.push_back(x.id);
  };
  TimerAdvance r = w.ExpireDue(now, kAll, collect);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(r.expired, 2u);
  EXPECT_EQ(got, (std::vector<uint32_t>{0, 1}));
  EXPECT_EQ(w.CountDue(window + 11), 0u);
  ExpectValid(w);
  // With a budget of 1: one node per call, and done only when none is left.
  got.clear();
  now = window + 600;
  r = w.ExpireDue(now, 1, collect);  // node 2, from the window's middle
  EXPECT_TRUE(r.done);
  EXPECT_EQ(got, (std::vector<uint32_t>{2}));
  now = Due(window);
  r = w.ExpireDue(now, 0, collect);
  EXPECT_FALSE(r.done);
  r = w.ExpireDue(now, 1, collect);
  EXPECT_TRUE(r.done);
  EXPECT_EQ(got, (std::vector<uint32_t>{2, 3}));
  EXPECT_EQ(w.size(), 1u);  // the next window's node
  ExpectValid(w);
}

TEST(TimerWheel, FarFutureAndNeverDeadlines) {
  const int64_t start = 3 * kDay;
  Wheel w(start);
  TestNode never, almost, far;
  never.deadline = kMax;  // the store's "never"
  almost.deadline = kMax - 1;
  far.deadline = start + 100 * kYear;
  for (TestNode* n : {&never, &almost, &far}) w.Schedule(*n);
  ExpectValid(w);
  // Nothing to do for decades: the first work is a cascade of `far`'s bucket.
  EXPECT_GT(w.NextDue(), start + 50 * kYear);
  EXPECT_EQ(AdvanceAll(w, start + 10 * kYear).size(), 0u);
  EXPECT_EQ(w.CountDue(start + 10 * kYear), 0u);
  EXPECT_EQ(w.CountDue(kMax - 1), 2u);
  auto got = AdvanceAll(w, kMax - 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], &far);
  ExpectValid(w);
  EXPECT_EQ(w.NextDue(), kMax);  // the last window ends at INT64_MAX
  got = AdvanceAll(w, kMax);
  EXPECT_EQ(got.size(), 2u);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
}

TEST(TimerWheel, NegativeAndExtremeClocks) {
  Wheel w;  // default clock: INT64_MIN
  EXPECT_EQ(w.clock(), kMinT);
  std::vector<TestNode> nodes(6);
  const int64_t ds[] = {kMinT, kMinT + 1, -kYear, -1, 0, kMax};
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].deadline = ds[i];
    w.Schedule(nodes[i]);
  }
  ExpectValid(w);
  EXPECT_EQ(w.NextDue(), kMinT);  // INT64_MIN is due by the clock
  EXPECT_EQ(AdvanceAll(w, kMinT + Wheel::kTick - 1).size(), 2u);
  EXPECT_EQ(AdvanceAll(w, -1).size(), 2u);
  ExpectValid(w);
  EXPECT_EQ(AdvanceAll(w, Due(0)).size(), 1u);
  EXPECT_EQ(AdvanceAll(w, kMax).size(), 1u);
  for (const TestNode& n : nodes) EXPECT_EQ(n.delivered, 1u);
}

TEST(TimerWheel, ClockJumpOfYearsCostsOnlyTheEventsInIt) {
  const size_t n = testing::Scaled(20'000, 2'000);
  const int64_t start = 42 * kDay;
  Wheel w(start);
  std::vector<TestNode> nodes(n);
  std::mt19937_64 rng(7);
  for (size_t i = 0; i < n; ++i) {
    nodes[i].id = static_cast<uint32_t>(i);
    // Log-uniform over 1 ms .. 10 years.
    const double exp10 = std::uniform_real_distribution<double>(6.0, 17.5)(rng);
    nodes[i].deadline = start + static_cast<int64_t>(std::pow(10.0, exp10));
    w.Schedule(nodes[i]);
  }
  ExpectValid(w);
  // One jump over all of it: each node is cascaded at most once per level
  // and expired once.
  const int64_t now = start + 20 * kYear;
  size_t delivered = 0;
  const TimerAdvance r = w.Advance(now, kAll, [&](TestNode& x) {
    EXPECT_LE(x.deadline, now);
    ++x.delivered;
    ++delivered;
  });
  EXPECT_TRUE(r.done);
  EXPECT_EQ(delivered, n);
  EXPECT_EQ(r.expired, n);
  EXPECT_LE(r.work, n * TimerWheelCore::kLevels);
  EXPECT_EQ(r.work, r.expired + r.cascaded);
  for (const TestNode& x : nodes) ASSERT_EQ(x.delivered, 1u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.clock(), now & ~int64_t{1});
}

TEST(TimerWheel, HugeBucketIsExpiredInBudgetedResumableSteps) {
  const size_t n = testing::Scaled(300'000, 20'000);
  const size_t budget = 1000;
  const int64_t start = 10 * kSec;
  Wheel w(start);
  std::vector<TestNode> nodes(n);
  const int64_t base = start + kHour;  // one level-0 window an hour ahead
  for (size_t i = 0; i < n; ++i) {
    nodes[i].deadline = base + static_cast<int64_t>(i % 1000);
    w.Schedule(nodes[i]);
  }
  // Reach the due time in a few steps; each call respects the budget.
  int64_t now = start;
  size_t calls = 0, delivered = 0, cascaded = 0;
  const int64_t due = Due(base + 999);
  for (;;) {
    const int64_t next = std::min(w.NextDue(), due);
    if (next > now) now = next;
    const TimerAdvance r = w.Advance(now, budget, [&](TestNode& x) {
      ASSERT_LE(x.deadline, now);
      ++x.delivered;
      ++delivered;
    });
    ++calls;
    ASSERT_LE(r.work, budget);
    cascaded += r.cascaded;
    if (!r.done) {
      ASSERT_EQ(r.work, budget);
    }
    if (r.done && now == due) break;
    ASSERT_LT(calls, 10 * n / budget + 100);
  }
  EXPECT_EQ(delivered, n);
  EXPECT_LE(cascaded, n * 3);  // level 2 -> 1 -> 0 at most
  for (const TestNode& x : nodes) ASSERT_EQ(x.delivered, 1u);
  EXPECT_EQ(w.size(), 0u);
}

TEST(TimerWheel, BudgetOfOneMakesProgressEveryCall) {
  Wheel w(0);
  std::vector<TestNode> nodes(50);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].deadline = static_cast<int64_t>(i) * 37 * kSec + 11;  // several levels, cascades
    w.Schedule(nodes[i]);
  }
  const int64_t now = 50 * 37 * kSec;
  size_t delivered = 0, calls = 0;
  for (;;) {
    const TimerAdvance r = w.Advance(now, 1, [&](TestNode& x) {
      ASSERT_LE(x.deadline, now);
      ++x.delivered;
      ++delivered;
    });
    ExpectValid(w);
    ASSERT_LE(r.work, 1u);
    ++calls;
    if (r.done) break;
    ASSERT_EQ(r.work, 1u);
    ASSERT_LT(calls, 1000u);
  }
  EXPECT_EQ(delivered, nodes.size());
  // A zero budget does nothing, and says so.
  TestNode late;
  late.deadline = now + kSec;
  w.Schedule(late);
  const TimerAdvance z = w.Advance(now + kHour, 0, [](TestNode&) { FAIL(); });
  EXPECT_FALSE(z.done);
  EXPECT_EQ(z.work, 0u);
  EXPECT_EQ(AdvanceAll(w, now + kHour).size(), 1u);
}

TEST(TimerWheel, DescheduleAndRescheduleAreConstantTimeAndExact) {
  Wheel w(0);
  std::vector<TestNode> nodes(3);
  for (size_t i = 0; i < 3; ++i) {
    nodes[i].deadline = kSec;  // the same bucket
    w.Schedule(nodes[i]);
  }
  w.Deschedule(nodes[1]);
  EXPECT_FALSE(Wheel::IsScheduled(nodes[1]));
  w.Deschedule(nodes[1]);  // not on the wheel: nothing
  EXPECT_EQ(w.size(), 2u);
  ExpectValid(w);
  nodes[0].deadline = kHour;
  w.Reschedule(nodes[0]);
  EXPECT_EQ(w.size(), 2u);
  ExpectValid(w);
  nodes[2].deadline = 2 * kSec;
  w.Schedule(nodes[2]);  // Schedule of a scheduled node moves it too
  EXPECT_EQ(w.size(), 2u);
  ExpectValid(w);
  EXPECT_LE(w.NextDue(), Due(2 * kSec));  // (a cascade of its level-1 bucket first)
  auto got = AdvanceAll(w, Due(kSec));
  EXPECT_TRUE(got.empty());
  got = AdvanceAll(w, Due(2 * kSec));
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], &nodes[2]);
  // The last node off by Deschedule: the buckets stay until released.
  w.Deschedule(nodes[0]);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_GT(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.NextDue(), Wheel::kNever);
  EXPECT_TRUE(w.ReleaseIfEmpty());
  EXPECT_EQ(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.clock(), Due(2 * kSec) & ~int64_t{1});
}

TEST(TimerWheel, CallbackMayChangeTheWheel) {
  Wheel w(0);
  std::vector<TestNode> nodes(6);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].id = static_cast<uint32_t>(i);
    nodes[i].deadline = 100 + static_cast<int64_t>(i);  // one bucket
    w.Schedule(nodes[i]);
  }
  TestNode extra;
  extra.deadline = 5;  // due in the bucket being expired
  std::vector<uint32_t> order;
  const int64_t now = Due(0);
  const TimerAdvance r = w.Advance(now, kAll, [&](TestNode& x) {
    order.push_back(x.id);
    ++x.delivered;
    EXPECT_FALSE(Wheel::IsScheduled(x));
    if (x.id == 0) {
      w.Deschedule(nodes[3]);   // a later node of the same bucket
      x.deadline = now + kSec;  // back on the wheel, for later
      w.Schedule(x);
      extra.id = 99;
      w.Schedule(extra);
    }
  });
  EXPECT_TRUE(r.done);
  ExpectValid(w);
  EXPECT_EQ(order.size(), 6u);  // 0, 1, 2, 4, 5 and extra (99); not 3
  EXPECT_EQ(std::count(order.begin(), order.end(), 3u), 0);
  EXPECT_EQ(std::count(order.begin(), order.end(), 99u), 1);
  EXPECT_EQ(w.size(), 1u);  // node 0 again
  EXPECT_TRUE(Wheel::IsScheduled(nodes[0]));
  // Reset from inside a callback empties the wheel without freeing it under
  // the running Advance; the Advance frees it on its way out.
  nodes[1].deadline = nodes[0].deadline;
  w.Schedule(nodes[1]);
  bool reset = false;
  w.Advance(Due(nodes[0].deadline), kAll, [&](TestNode&) {
    if (!reset) {
      reset = true;
      w.Reset();
    }
  });
  EXPECT_TRUE(reset);
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
}

TEST(TimerWheel, ResetForgetsEverythingAtOnceAndKeepsTheClock) {
  Wheel w(0);
  std::vector<TestNode> nodes(1000);
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].deadline = static_cast<int64_t>(i) * kMin;
    w.Schedule(nodes[i]);
  }
  AdvanceAll(w, kHour);
  const int64_t clock = w.clock();
  w.Reset();
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
  EXPECT_EQ(w.NextDue(), Wheel::kNever);
  EXPECT_EQ(w.clock(), clock & ~int64_t{1});
  TestNode n;
  n.deadline = kHour + 10 * kMs;
  w.Schedule(n);
  EXPECT_EQ(w.NextDue(), Due(n.deadline));  // placed in level 0 from the kept clock
}

// ---------------------------------------------------------------------------
// The randomised comparison against a model.

struct Model {
  std::multimap<int64_t, uint32_t> by_deadline;
  std::vector<std::multimap<int64_t, uint32_t>::iterator> where;  // by id, end() when off
  explicit Model(size_t n) : where(n, by_deadline.end()) {}
  bool on(uint32_t id) const { return where[id] != by_deadline.end(); }
  void add(uint32_t id, int64_t d) { where[id] = by_deadline.emplace(d, id); }
  void remove(uint32_t id) {
    by_deadline.erase(where[id]);
    where[id] = by_deadline.end();
  }
  // The ids of the nodes with deadline <= t, sorted.
  std::vector<uint32_t> DueBy(int64_t t) const {
    std::vector<uint32_t> out;
    for (auto it = by_deadline.begin(); it != by_deadline.end() && it->first <= t; ++it) out.push_back(it->second);
    std::sort(out.begin(), out.end());
    return out;
  }
};

class Random {
 public:
  explicit Random(uint64_t seed) : rng_(seed) {}
  uint64_t Below(uint64_t n) { return std::uniform_int_distribution<uint64_t>(0, n - 1)(rng_); }
  bool OneIn(uint64_t n) { return Below(n) == 0; }
  int64_t Between(int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng_); }

  // A time offset on every scale the wheel has, biased to the edges.
  int64_t Span() {
    switch (Below(10)) {
      case 0:
        return 0;
      case 1:
        return Between(1, 3);
      case 2:
        return Between(0, Wheel::kTick * 2);
      case 3:
        return Wheel::kTick * Between(1, 70) + Between(-1, 1);  // window edges
      case 4:
        return Between(0, 10 * kSec);
      case 5:
        return Between(0, 10 * kMin);
      case 6:
        return Between(0, 10 * kHour);
      case 7:
        return Between(0, 30 * kDay);
      case 8:
        return (int64_t{1} << Between(26, 62)) + Between(-2, 2);  // level edges
      default:
        return OneIn(4) ? Between(0, 250 * kYear) : Between(0, kSec);
    }
  }

  // How far the clock moves: mostly within a few level-0 windows, now and
  // then by seconds to days, rarely by years (a run covers a few years).
  int64_t Jump() {
    switch (Below(10)) {
      case 0:
      case 1:
      case 2:
      case 3:
        return Between(0, 3 * Wheel::kTick);
      case 4:
        return Wheel::kTick * Between(1, 70) + Between(-1, 1);
      case 5:
        return Between(0, 10 * kSec);
      case 6:
        return Between(0, 10 * kMin);
      case 7:
        return Between(0, 3 * kHour);
      case 8:
        return (int64_t{1} << Between(20, 44)) + Between(-2, 2);  // level edges
      default:
        return OneIn(1000) ? Between(0, 3 * kYear) : Between(0, kDay);
    }
  }

 private:
  std::mt19937_64 rng_;
};

void RunModel(uint64_t seed, int64_t start, size_t pool, size_t steps) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " start " << start);
  Random rnd(seed);
  Wheel w(start);
  Model model(pool);
  std::vector<TestNode> nodes(pool);
  for (size_t i = 0; i < pool; ++i) nodes[i].id = static_cast<uint32_t>(i);
  int64_t now = start;
  // The clock stops short of INT64_MAX, so that a run started near the top
  // does not end with everything delivered.
  const int64_t ceiling = AddSat(start, 200 * kYear) == kMax ? kMax - kDay : start + 200 * kYear;

  auto pick_deadline = [&]() -> int64_t {
    switch (rnd.Below(12)) {
      case 0:
        return AddSat(now, -rnd.Span());  // in the past
      case 1:
        return kMax;  // "never"
      case 2:
        return now;
      default:
        return AddSat(now, rnd.Span());
    }
  };
  auto check_due = [&](int64_t t) {
    std::vector<uint32_t> seen;
    const size_t looked = w.ForEachDue(t, [&](const TestNode& x) { seen.push_back(x.id); });
    std::sort(seen.begin(), seen.end());
    EXPECT_EQ(std::adjacent_find(seen.begin(), seen.end()), seen.end()) << "a node visited twice";
    EXPECT_EQ(seen, model.DueBy(t)) << "ForEachDue(" << t << ")";
    EXPECT_GE(looked, seen.size());
  };

  for (size_t step = 0; step < steps; ++step) {
    const uint64_t op = rnd.Below(100);
    const uint32_t id = static_cast<uint32_t>(rnd.Below(pool));
    TestNode& n = nodes[id];
    if (op < 40) {  // schedule, or reschedule with a new deadline
      n.deadline = pick_deadline();
      const int64_t bucket_due = w.Schedule(n);
      if (model.on(id)) model.remove(id);
      model.add(id, n.deadline);
      // The bucket's due time: never after the node's, never before its
      // deadline's window unless the node was overdue.
      ASSERT_LE(bucket_due, std::max(Due(n.deadline), w.clock()));
      ASSERT_GE(w.NextDue(), w.clock());
      ASSERT_LE(w.NextDue(), bucket_due);
    } else if (op < 55) {  // deschedule
      w.Deschedule(n);
      if (model.on(id)) model.remove(id);
      ASSERT_FALSE(Wheel::IsScheduled(n));
    } else if (op < 95) {  // advance
      const int64_t next = w.NextDue();
      int64_t to;
      // To NextDue (or just before it) when that is near, else a jump.
      const bool near = next != Wheel::kNever && next < AddSat(now, 10 * kMin);
      switch (rnd.Below(5)) {
        case 0:
          to = now;
          break;
        case 1:
          to = near ? std::max(now, next) : AddSat(now, rnd.Jump());
          break;
        case 2:
          to = near ? std::max(now, next - 1) : AddSat(now, rnd.Jump());
          break;
        default:
          to = AddSat(now, rnd.Jump());
          break;
      }
      to = std::min(to, ceiling);
      if (to > now) now = to;
      static constexpr size_t kBudgets[] = {1, 2, 3, 10, 100, kAll};
      const size_t budget = kBudgets[rnd.Below(6)];
      const int64_t next_before = w.NextDue();
      const bool had_nodes = !w.empty();
      auto deliver = [&](TestNode& x) {
        ASSERT_TRUE(model.on(x.id)) << "delivered twice, or after Deschedule: " << x.id;
        ASSERT_LE(x.deadline, now) << "delivered early: " << x.id;
        ASSERT_EQ(model.where[x.id]->first, x.deadline);
        model.remove(x.id);
        ASSERT_FALSE(Wheel::IsScheduled(x));
      };
      const bool exact = rnd.OneIn(4);
      const TimerAdvance r = exact ? w.ExpireDue(now, budget, deliver) : w.Advance(now, budget, deliver);
      ASSERT_LE(r.work, budget);
      ASSERT_EQ(r.work, r.expired + r.cascaded);
      if (!had_nodes || (next_before > now && !exact)) {
        ASSERT_EQ(r.work, 0u) << "work before NextDue";
      } else if (next_before <= now) {
        ASSERT_GE(r.work, 1u) << "NextDue promised work: next " << next_before << " now " << now << " clock "
                              << w.clock() << " size " << w.size();
      }
      if (!r.done) {
        ASSERT_EQ(r.work, budget);
      } else {
        // The lateness bound: everything due by its window's end is out.
        ASSERT_TRUE(w.NextDue() > now || w.empty());  // kNever is INT64_MAX
        // (Due() is monotonic: the earliest deadline decides.) ExpireDue
        // leaves nothing due at all.
        if (!model.by_deadline.empty()) {
          const auto& [d, x] = *model.by_deadline.begin();
          ASSERT_GT(exact ? d : Due(d), now) << "late: node " << x << " deadline " << d;
        }
        // ForEachDue looks only at now's window: the due nodes and their
        // neighbours in the same level-0 window.
        const int64_t window = now & ~(Wheel::kTick - 1);
        const auto same_window =
            std::distance(model.by_deadline.lower_bound(window), model.by_deadline.upper_bound(Due(now)));
        EXPECT_EQ(w.ForEachDue(now, [](const TestNode&) {}), static_cast<size_t>(same_window));
        if (model.by_deadline.empty()) {
          EXPECT_EQ(w.MemoryBytes(), 0u);
        }
      }
    } else if (rnd.OneIn(std::max<uint64_t>(1, pool / 400))) {  // the due nodes, from a few points in time
      check_due(now);
      check_due(AddSat(now, rnd.Span()));
      check_due(AddSat(now, -rnd.Span()));
      check_due(w.NextDue());
    }
    ASSERT_EQ(w.size(), model.by_deadline.size());
    if (step % (pool <= 64 ? 1 : pool <= 500 ? 7 : 101) == 0) ExpectValid(w);
    if (::testing::Test::HasFatalFailure()) return;
  }
  // Drain: everything is delivered once, and the wheel frees its block.
  const TimerAdvance r = w.Advance(kMax, kAll, [&](TestNode& x) {
    ASSERT_TRUE(model.on(x.id));
    model.remove(x.id);
  });
  EXPECT_TRUE(r.done);
  EXPECT_TRUE(model.by_deadline.empty());
  EXPECT_EQ(w.size(), 0u);
  EXPECT_EQ(w.MemoryBytes(), 0u);
  for (const TestNode& x : nodes) EXPECT_FALSE(Wheel::IsScheduled(const_cast<TestNode&>(x)));
}

TEST(TimerWheel, RandomOperationsMatchTheModel) {
  const size_t steps = testing::Scaled(40'000, 2'000);
  const int64_t starts[] = {0, 1'234'567'890'123, -5 * kYear, kMax - 3 * kYear, kMinT + kHour};
  for (uint64_t seed = 1; seed <= 10; ++seed) {
    RunModel(seed, starts[seed % 5], seed % 3 == 0 ? 16 : 400, steps);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

TEST(TimerWheel, RandomOperationsMatchTheModelManyNodes) {
  RunModel(1000, 7 * kDay, 5000, testing::Scaled(150'000, 5'000));
}

// The const members write nothing: readers under a shared lock may run them
// concurrently with each other while the writer waits (TSAN reports any
// write they make).
TEST(TimerWheel, ConstMembersRunConcurrentlyUnderASharedLock) {
  std::shared_mutex mu;
  Wheel w(0);
  std::vector<TestNode> nodes(256);
  std::atomic<size_t> reads{0};
  const size_t rounds = testing::Scaled(20'000, 500);
  std::vector<std::thread> readers;
  for (int t = 0; t < 3; ++t) {
    // Bounded, and yielding between holds: the writer must get its turn
    // whatever the rwlock's preference.
    readers.emplace_back([&] {
      uint64_t sink = 0;  // (unsigned: NextDue() may be kNever)
      for (size_t i = 0; i < rounds / 4; ++i) {
        {
          std::shared_lock lock(mu);
          const int64_t now = w.clock();
          sink += static_cast<uint64_t>(w.NextDue()) + w.size() + w.MemoryBytes() + w.CountDue(now + kSec);
          w.ForEachDue(now + kMin, [&](const TestNode& x) { sink += static_cast<uint64_t>(x.deadline); });
        }
        reads.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::yield();
      }
      (void)sink;
    });
  }
  std::mt19937_64 rng(3);
  int64_t now = 0;
  for (size_t i = 0; i < rounds; ++i) {
    std::unique_lock lock(mu);
    TestNode& n = nodes[rng() % nodes.size()];
    if (rng() % 3 == 0) {
      w.Deschedule(n);
    } else {
      n.deadline = now + static_cast<int64_t>(rng() % (10 * kSec));
      w.Schedule(n);
    }
    now += static_cast<int64_t>(rng() % (20 * kMs));
    w.Advance(now, 8, [](TestNode&) {});
  }
  for (auto& t : readers) t.join();
  EXPECT_GT(reads.load(), 0u);
  ExpectValid(w);
}

}  // namespace
}  // namespace threadkv
