#include "sweeper.h"

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

void Sweeper::Run() {
  for (;;) {
    {
      // Idle: no store has an entry with a deadline.
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return pending_; });
      pending_ = false;
    }
    for (;;) {
      const bool more = pass_();
      std::unique_lock lock(mu_);
      if (!more && !pending_) break;  // back to idle
      pending_ = false;
      cv_.wait_for(lock, kSweepInterval);
    }
  }
}

}  // namespace threadkv
