#include "sweeper.h"

#include <algorithm>
#include <thread>
#include <utility>

namespace threadkv {

void Sweeper::Wake() {
  bool start = false;
  {
    std::lock_guard lock(mu_);
    pending_ = true;
    start = !std::exchange(started_, true);
  }
  if (start)
    std::thread([this] { Run(); }).detach();
  else
    cv_.notify_one();
}

int64_t Sweeper::Plan(int64_t floor) {
  auto target = [&] {
    const int64_t next = next_();
    return next == kNever ? kNever : std::max(next, floor);
  };
  int64_t plan = target();
  for (;;) {
    // Published, then the shards looked at again: a writer publishes its
    // shard's next_due before it reads planned_ (both seq_cst), so either
    // this second look sees its work, or it sees this plan (and wakes the
    // thread if its work is due earlier).
    planned_.store(plan, std::memory_order_seq_cst);
    const int64_t again = target();
    if (again >= plan) return plan;
    plan = again;
  }
}

namespace {
constexpr int64_t kLongestSleepNs = int64_t{3600} * 1'000'000'000;
}  // namespace

void Sweeper::Run() {
  const int64_t interval = std::chrono::duration_cast<std::chrono::nanoseconds>(kSweepInterval).count();
  int64_t floor = std::numeric_limits<int64_t>::min();  // no pass before this (batching)
  for (;;) {
    const int64_t plan = Plan(floor);
    bool woken = false;
    {
      std::unique_lock lock(mu_);
      for (;;) {
        if (pending_) {
          woken = true;
          break;
        }
        if (plan == kNever) {
          cv_.wait(lock);
          continue;
        }
        const int64_t now = SteadyNowNs();
        if (now >= plan) break;
        // At most an hour at a time (a plan years away must not overflow
        // the clock's arithmetic); then it simply looks again.
        cv_.wait_for(lock, std::chrono::nanoseconds(std::min<int64_t>(plan - now, kLongestSleepNs)));
      }
      pending_ = false;
    }
    wakes_.fetch_add(1, std::memory_order_relaxed);
    // A writer made work due earlier than planned: plan again (the floor
    // still holds: at most one pass per interval).
    if (woken && (plan == kNever || SteadyNowNs() < plan)) continue;
    // While the pass runs no writer wakes the thread: it plans again after
    // the pass, from what the shards say then.
    planned_.store(kRunning, std::memory_order_seq_cst);
    const int64_t start = SteadyNowNs();
    pass_();
    passes_.fetch_add(1, std::memory_order_relaxed);
    floor = start + interval;
  }
}

}  // namespace threadkv
