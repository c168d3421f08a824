// A background thread that reclaims expired entries, so that their memory
// comes back without any thread touching the store, and that costs nothing
// while nothing is due. It knows nothing of stores: its owner (the Registry)
// says what one pass does and when the stores next have work.
//
// It sleeps on a condition variable (no polling) until the earliest time at
// which some store's timer wheels have work (Next(): an expiry, or a
// cascade of a wheel level), but never sooner than kSweepInterval after the
// last pass began: passes are batched, at most one per interval, so a flood
// of short deadlines costs ten passes a second, not one per deadline. A
// writer that schedules work due before the planned wake-up wakes it
// (Waker: PlannedNs(), then Wake()), and it plans again.
//
// Lateness bound. An entry with deadline d is removed by the first pass
// that begins at or after max(d, the wheel's due time for d, which is less
// than 1.05 ms after d), and that pass begins at most kSweepInterval after
// the previous one: so by d + kSweepInterval at the latest (d + 1.05 ms when
// no pass ran in the interval before), plus the time the pass takes to reach
// the entry's shard and the scheduler's wake-up latency.
//
// Lifetime: the thread is started on the first Wake() and never joined; it
// is detached, and its owner (the Registry) is leaked on purpose: the
// process may exit (and run static destructors) while workers still run, so
// nothing the thread touches is ever destroyed. At exit the thread is
// simply discarded by the OS, whether blocked on its condition variable or
// mid-pass (it holds no lock across passes other than one shard's, and
// nothing waits on it).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <utility>

#include "clock.h"

namespace threadkv {

// The least time between the starts of two passes.
inline constexpr std::chrono::milliseconds kSweepInterval{100};
// Units of timer wheel work (an entry expired, or moved down a level) per
// hold of a shard's write lock, then the lock is released: expiring an
// entry (unlink, report, wheel) costs ~0.6 us of CPU with the free after
// the lock, a cascade ~0.1 us, so a hold stays around 0.3 ms at most, well
// under the millisecond a waiting writer may be kept (measured with 1M
// entries expiring at once; docs/design.md).
inline constexpr size_t kSweepBudget = 512;

// What the sweeper has done (Sweeper::counters()).
struct SweeperCounters {
  uint64_t wakes = 0;   // times its thread woke up (a timeout or a Wake())
  uint64_t passes = 0;  // passes run
};

class Sweeper final : public Waker {
 public:
  // One pass over the stores: returns nothing; Next() is asked after it.
  using Pass = std::function<void()>;
  // The earliest time (steady clock, ns) at which some store has work;
  // INT64_MAX for none. No lock held; O(stores x shards).
  using Next = std::function<int64_t()>;

  Sweeper(Pass pass, Next next) : pass_(std::move(pass)), next_(std::move(next)) {}
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Wakes the thread (starting it the first time) so that it plans again.
  // Called outside every shard lock.
  void Wake() override;
  int64_t PlannedNs() const override { return planned_.load(std::memory_order_seq_cst); }

  SweeperCounters counters() const {
    return {wakes_.load(std::memory_order_relaxed), passes_.load(std::memory_order_relaxed)};
  }

 private:
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();
  static constexpr int64_t kRunning = std::numeric_limits<int64_t>::min();

  void Run();
  // The time of the next pass (>= floor; kNever for none), published in
  // planned_ such that a writer that makes work due earlier either is seen
  // here or sees the plan and wakes the thread.
  int64_t Plan(int64_t floor);

  const Pass pass_;
  const Next next_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;  // woken since the thread last planned
  bool started_ = false;
  // kNever until the thread starts, so that the first deadline wakes it.
  std::atomic<int64_t> planned_{kNever};
  std::atomic<uint64_t> wakes_{0};
  std::atomic<uint64_t> passes_{0};
};

}  // namespace threadkv
