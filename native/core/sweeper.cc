#include "sweeper.h"

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "registry.h"

namespace threadkv {

namespace {

struct SweeperState {
  std::mutex mu;
  std::condition_variable cv;
  bool pending = false;  // a store gained an entry with a deadline
  bool started = false;
  std::atomic<uint64_t> removed{0};
};

SweeperState& State() {
  // Leaked on purpose (see the header): never destroyed at exit.
  static SweeperState* const state = new SweeperState();
  return *state;
}

}  // namespace

Sweeper& Sweeper::Instance() {
  static Sweeper* const instance = new Sweeper();
  return *instance;
}

uint64_t Sweeper::Removed() { return State().removed.load(std::memory_order_relaxed); }

void Sweeper::Notify() {
  SweeperState& st = State();
  bool start = false;
  {
    std::lock_guard lock(st.mu);
    st.pending = true;
    if (!st.started) {
      st.started = true;
      start = true;
    }
  }
  if (start) {
    std::thread([] { Instance().Run(); }).detach();
  } else {
    st.cv.notify_one();
  }
}

void Sweeper::Run() {
  SweeperState& st = State();
  for (;;) {
    {
      // Idle: no store has an entry with a deadline.
      std::unique_lock lock(st.mu);
      st.cv.wait(lock, [&] { return st.pending; });
      st.pending = false;
    }
    for (;;) {
      bool any = false;
      for (const std::shared_ptr<Store>& store : Registry::Instance().Stores()) {
        if (!store->has_ttl()) continue;
        st.removed.fetch_add(store->SweepExpired(kSweepBatch), std::memory_order_relaxed);
        if (store->has_ttl()) any = true;
      }
      std::unique_lock lock(st.mu);
      if (!any && !st.pending) break;  // back to idle
      st.pending = false;
      st.cv.wait_for(lock, kSweepInterval);
    }
  }
}

}  // namespace threadkv
