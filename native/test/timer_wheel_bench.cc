// Micro-benchmark of the timer wheel (core/timer_wheel.h): what a shard pays
// for its entries' deadlines. Prints numbers and asserts nothing.
//
//   build-native/plain/native/test/threadkv_timer_wheel_bench [--nodes=N] [--runs=R]
//
// Each row is the median of R runs (default 5) in ns, with the min-max.
// Nodes are separate heap blocks of an entry's size (64 bytes), visited in
// random order, as a shard's entries are. For instruction counts, run it
// under callgrind and read the inclusive cost of the Bench* functions (each
// does exactly `ops` operations; see the report in the output):
//
//   valgrind --tool=callgrind --callgrind-out-file=cg.out
//     threadkv_timer_wheel_bench --nodes=100000 --runs=1   (one line)
//   callgrind_annotate --inclusive=yes cg.out | grep Bench
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "core/timer_wheel.h"

namespace threadkv {
namespace {

constexpr int64_t kSec = 1'000'000'000;
constexpr int64_t kHour = 3600 * kSec;
constexpr size_t kAll = ~size_t{0};

// An entry-sized node: links in front, deadline in the header.
struct Node {
  TimerLinks links;
  int64_t deadline = 0;
  uint64_t payload[5] = {};
};
static_assert(sizeof(Node) == 64);

struct Access {
  static TimerLinks& Links(Node& n) { return n.links; }
  static Node& FromLinks(TimerLinks& l) { return *reinterpret_cast<Node*>(&l); }
  static int64_t Deadline(const Node& n) { return n.deadline; }
};
using Wheel = TimerWheel<Node, Access>;

volatile uint64_t g_sink;

double NsSince(std::chrono::steady_clock::time_point t0) {
  return static_cast<double>(
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

// ---- The measured loops (noinline: each is one callgrind function). ----

__attribute__((noinline)) void BenchSchedule(Wheel& w, const std::vector<Node*>& order) {
  for (Node* n : order) w.Schedule(*n);
}

__attribute__((noinline)) void BenchDeschedule(Wheel& w, const std::vector<Node*>& order) {
  for (Node* n : order) w.Deschedule(*n);
}

// An overwrite of a hot key: the same node off and on again.
__attribute__((noinline)) void BenchHotScheduleDeschedule(Wheel& w, Node& n, size_t ops) {
  for (size_t i = 0; i < ops; ++i) {
    n.deadline += 1000;
    w.Schedule(n);
    w.Deschedule(n);
  }
}

// The sweeper's question while nothing is due.
__attribute__((noinline)) void BenchNextDue(const Wheel& w, size_t ops) {
  uint64_t s = 0;
  for (size_t i = 0; i < ops; ++i) s += static_cast<uint64_t>(w.NextDue());
  g_sink = s;
}

// Advance calls before anything is due (what a sweeper would do if it did
// not sleep until NextDue).
__attribute__((noinline)) void BenchAdvanceIdle(Wheel& w, int64_t now, size_t ops) {
  uint64_t s = 0;
  for (size_t i = 0; i < ops; ++i) s += w.Advance(now, kAll, [](Node&) {}).work;
  g_sink = s;
}

__attribute__((noinline)) TimerAdvance BenchAdvanceExpire(Wheel& w, int64_t now, size_t budget) {
  TimerAdvance total;
  uint64_t s = 0;
  for (;;) {
    const TimerAdvance r = w.Advance(now, budget, [&](Node& n) { s += static_cast<uint64_t>(n.deadline); });
    total.expired += r.expired;
    total.cascaded += r.cascaded;
    total.work += r.work;
    if (r.done) break;
  }
  g_sink = s;
  return total;
}

__attribute__((noinline)) size_t BenchCountDue(const Wheel& w, int64_t now, size_t ops) {
  size_t s = 0;
  for (size_t i = 0; i < ops; ++i) s += w.CountDue(now);
  return s;
}

// ---- Harness ----

struct Row {
  std::string name;
  std::vector<double> samples;  // ns per op
  std::string note;
};

void Print(const Row& r) {
  std::vector<double> v = r.samples;
  std::sort(v.begin(), v.end());
  std::printf("  %-52s %9.1f ns  (%.1f-%.1f)  %s\n", r.name.c_str(), v[v.size() / 2], v.front(), v.back(),
              r.note.c_str());
}

size_t Flag(int argc, char** argv, const char* name, size_t def) {
  const size_t len = std::strlen(name);
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=')
      return std::strtoull(argv[i] + len + 1, nullptr, 10);
  }
  return def;
}

int Main(int argc, char** argv) {
  const size_t n = Flag(argc, argv, "--nodes", 1'000'000);
  const size_t runs = Flag(argc, argv, "--runs", 5);
  std::printf("timer wheel micro-benchmark: %zu nodes of %zu bytes, %zu runs (median, min-max)\n", n, sizeof(Node),
              runs);

  std::mt19937_64 rng(42);
  std::vector<std::unique_ptr<Node>> storage;
  storage.reserve(n);
  for (size_t i = 0; i < n; ++i) storage.push_back(std::make_unique<Node>());
  std::vector<Node*> order;
  order.reserve(n);
  for (auto& p : storage) order.push_back(p.get());

  const int64_t start = 1'000'000 * kSec;  // an uptime of 11.6 days
  Row sched{"Schedule, 1-hour TTLs (level 3)", {}, ""};
  Row sched_short{"Schedule, 0-60 ms TTLs (level 0)", {}, ""};
  Row desched{"Deschedule, random order", {}, ""};
  Row hot{"Schedule + Deschedule of one hot node (overwrite)", {}, ""};
  Row next_due{"NextDue(), 1-hour TTLs on the wheel", {}, ""};
  Row idle{"Advance(now) with nothing due", {}, ""};
  Row count_due{"CountDue(now) mid-hour (size() correction)", {}, ""};
  Row expire_short{"Advance per expired node, 0-60 ms TTLs", {}, ""};
  Row expire_hour{"Advance per expired node, 1-hour TTLs", {}, ""};
  Row expire_budget{"  same, budget 1000 per call", {}, ""};
  Row schedule_alloc{"first Schedule into an empty wheel (allocates)", {}, ""};

  for (size_t run = 0; run < runs; ++run) {
    std::shuffle(order.begin(), order.end(), rng);
    // 1-hour TTLs, written over 10 s (deadlines spread over 10 s an hour ahead).
    for (size_t i = 0; i < n; ++i)
      order[i]->deadline = start + kHour + static_cast<int64_t>(rng() % static_cast<uint64_t>(10 * kSec));
    {
      Wheel w(start);
      auto t0 = std::chrono::steady_clock::now();
      BenchSchedule(w, order);
      sched.samples.push_back(NsSince(t0) / static_cast<double>(n));

      const size_t idle_ops = 1'000'000;
      t0 = std::chrono::steady_clock::now();
      BenchNextDue(w, idle_ops);
      next_due.samples.push_back(NsSince(t0) / static_cast<double>(idle_ops));
      t0 = std::chrono::steady_clock::now();
      BenchAdvanceIdle(w, start + kSec, idle_ops);
      idle.samples.push_back(NsSince(t0) / static_cast<double>(idle_ops));

      std::shuffle(order.begin(), order.end(), rng);
      t0 = std::chrono::steady_clock::now();
      BenchDeschedule(w, order);
      desched.samples.push_back(NsSince(t0) / static_cast<double>(n));
    }
    {
      // A steady state: 1M deadlines spread over the next hour, the clock
      // caught up: CountDue looks at now's 1 ms window only.
      Wheel w(start);
      for (size_t i = 0; i < n; ++i)
        order[i]->deadline = start + static_cast<int64_t>(rng() % static_cast<uint64_t>(kHour));
      BenchSchedule(w, order);
      const int64_t mid = start + kHour / 2 + 12345;
      BenchAdvanceExpire(w, mid, kAll);
      const size_t ops = 10'000;
      const auto t0 = std::chrono::steady_clock::now();
      const size_t due = BenchCountDue(w, mid, ops) / ops;
      count_due.samples.push_back(NsSince(t0) / static_cast<double>(ops));
      count_due.note = "(" + std::to_string(due) + " due of " + std::to_string(w.size()) + ")";
      for (Node* x : order) w.Deschedule(*x);
    }
    {
      Wheel w(start);
      Node& x = *order[0];
      x.deadline = start + kHour;
      w.Schedule(x);  // the buckets exist
      w.Deschedule(x);
      const size_t ops = 10'000'000;
      const auto t0 = std::chrono::steady_clock::now();
      BenchHotScheduleDeschedule(w, x, ops);
      hot.samples.push_back(NsSince(t0) / static_cast<double>(ops));
    }
    {
      const size_t ops = 100'000;
      double total = 0;
      for (size_t i = 0; i < ops; ++i) {
        Wheel w(start);
        order[i % n]->deadline = start + kSec;
        const auto t0 = std::chrono::steady_clock::now();
        w.Schedule(*order[i % n]);
        total += NsSince(t0);
        w.Deschedule(*order[i % n]);
      }
      schedule_alloc.samples.push_back(total / static_cast<double>(ops));
      schedule_alloc.note = "(" + std::to_string(Wheel().MemoryBytes()) + " B before, " + std::to_string([&] {
                              Wheel w(start);
                              w.Schedule(*order[0]);
                              const size_t b = w.MemoryBytes();
                              w.Deschedule(*order[0]);
                              return b;
                            }()) +
                            " B after; includes two clock reads)";
    }
    {
      // Short TTLs: straight into level 0, expired without a cascade.
      Wheel w(start);
      for (size_t i = 0; i < n; ++i)
        order[i]->deadline = start + static_cast<int64_t>(rng() % static_cast<uint64_t>(60'000'000));
      auto t0 = std::chrono::steady_clock::now();
      BenchSchedule(w, order);
      sched_short.samples.push_back(NsSince(t0) / static_cast<double>(n));
      t0 = std::chrono::steady_clock::now();
      const TimerAdvance r = BenchAdvanceExpire(w, start + kSec, kAll);
      expire_short.samples.push_back(NsSince(t0) / static_cast<double>(r.expired));
      expire_short.note = "(" + std::to_string(r.cascaded) + " cascades)";
    }
    for (size_t budget : {kAll, size_t{1000}}) {
      // 1-hour TTLs, one jump past them: each node cascades 3 -> 2 -> 1 -> 0.
      Wheel w(start);
      for (size_t i = 0; i < n; ++i)
        order[i]->deadline = start + kHour + static_cast<int64_t>(rng() % static_cast<uint64_t>(10 * kSec));
      BenchSchedule(w, order);
      const auto t0 = std::chrono::steady_clock::now();
      const TimerAdvance r = BenchAdvanceExpire(w, start + 2 * kHour, budget);
      Row& row = budget == kAll ? expire_hour : expire_budget;
      row.samples.push_back(NsSince(t0) / static_cast<double>(r.expired));
      row.note =
          "(" + std::to_string(r.cascaded / n) + "." + std::to_string(r.cascaded * 10 / n % 10) + " cascades per node)";
    }
  }
  for (const Row* r : {&sched, &sched_short, &desched, &hot, &schedule_alloc, &next_due, &idle, &count_due,
                       &expire_short, &expire_hour, &expire_budget})
    Print(*r);
  return 0;
}

}  // namespace
}  // namespace threadkv

int main(int argc, char** argv) { return threadkv::Main(argc, argv); }
