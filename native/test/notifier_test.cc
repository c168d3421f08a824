// Notifier: the cross-thread half of the per-environment wake-up part
// (native/binding/waker.h adapts it to a napi_threadsafe_function). Checked
// here without Node: coalescing (one signal per drain however many threads
// notify), no lost token, and nothing signalled after Shutdown() even while
// other threads keep notifying, which the TSAN build checks for races.
#include "core/notifier.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "test_util.h"

namespace threadkv {
namespace {

using testing::Scaled;

TEST(Notifier, SignalsOncePerDrain) {
  int signals = 0;
  Notifier n([&] {
    ++signals;
    return true;
  });
  EXPECT_TRUE(n.Notify(1));
  EXPECT_TRUE(n.Notify(2));
  EXPECT_TRUE(n.Notify(1));
  EXPECT_EQ(signals, 1);  // coalesced until the owner drains
  std::vector<uint64_t> got;
  EXPECT_EQ(n.Drain(&got), 3u);
  EXPECT_EQ(got, (std::vector<uint64_t>{1, 2, 1}));  // in order, duplicates kept
  EXPECT_TRUE(n.Notify(3));
  EXPECT_EQ(signals, 2);  // re-armed by the drain
  got.clear();
  n.Drain(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{3}));
  EXPECT_EQ(n.signals(), 2u);
}

TEST(Notifier, DrainAppendsAndEmptyDrainRearms) {
  int signals = 0;
  Notifier n([&] {
    ++signals;
    return true;
  });
  std::vector<uint64_t> got{7};
  EXPECT_EQ(n.Drain(&got), 0u);
  EXPECT_EQ(got, (std::vector<uint64_t>{7}));
  n.Notify(8);
  n.Drain(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{7, 8}));
  EXPECT_EQ(signals, 1);
}

TEST(Notifier, NothingAfterShutdown) {
  int signals = 0;
  Notifier n([&] {
    ++signals;
    return true;
  });
  n.Notify(1);
  n.Shutdown();
  EXPECT_FALSE(n.alive());
  EXPECT_FALSE(n.Notify(2));
  std::vector<uint64_t> got;
  EXPECT_EQ(n.Drain(&got), 0u);  // pending tokens were dropped
  EXPECT_FALSE(n.Notify(3));
  EXPECT_EQ(signals, 1);
}

TEST(Notifier, FailedSignalRearms) {
  int attempts = 0;
  bool accept = false;
  Notifier n([&] {
    ++attempts;
    return accept;
  });
  n.Notify(1);
  n.Notify(2);  // the first signal failed: this one tries again
  EXPECT_EQ(attempts, 2);
  accept = true;
  n.Notify(3);
  n.Notify(4);
  EXPECT_EQ(attempts, 3);
  std::vector<uint64_t> got;
  n.Drain(&got);
  EXPECT_EQ(got.size(), 4u);
}

TEST(Notifier, IdsAreUnique) {
  Notifier a([] { return true; });
  Notifier b([] { return true; });
  EXPECT_NE(a.id(), b.id());
}

// Many threads notify while the owner drains: every token arrives exactly
// once, and the signal count never exceeds the drain count + 1 (at most one
// outstanding signal).
TEST(NotifierStress, NoLostTokenAndCoalescedSignals) {
  const int kThreads = 4;
  const uint64_t kPerThread = Scaled(50'000, 2'000);
  std::atomic<int> outstanding{0};
  std::atomic<int> max_outstanding{0};
  std::atomic<bool> wake{false};
  auto n = std::make_shared<Notifier>([&] {
    const int now = outstanding.fetch_add(1) + 1;
    int seen = max_outstanding.load();
    while (now > seen && !max_outstanding.compare_exchange_weak(seen, now)) {
    }
    wake.store(true, std::memory_order_release);
    return true;
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t i = 0; i < kPerThread; ++i) n->Notify((static_cast<uint64_t>(t) << 32) | i);
    });
  }
  std::vector<uint64_t> all;
  uint64_t drains = 0;
  const uint64_t total = kPerThread * kThreads;
  while (all.size() < total) {
    if (!wake.exchange(false, std::memory_order_acquire)) {
      std::this_thread::yield();
      continue;
    }
    // The owner handles the signal: one drain per signal, as call_js does.
    outstanding.fetch_sub(1);
    n->Drain(&all);
    ++drains;
  }
  for (std::thread& th : threads) th.join();
  std::vector<uint64_t> extra;
  n->Drain(&extra);
  EXPECT_TRUE(extra.empty());
  EXPECT_EQ(all.size(), total);
  std::sort(all.begin(), all.end());
  EXPECT_TRUE(std::adjacent_find(all.begin(), all.end()) == all.end()) << "a token arrived twice";
  EXPECT_LE(max_outstanding.load(), 1) << "two signals were outstanding at once";
  EXPECT_LE(n->signals(), drains + 1);
}

// The owner shuts down while other threads keep notifying: after Shutdown()
// returns, the signal callback never runs again (it would touch a dead
// thread-safe function). The callback checks a flag that the owner clears,
// under the test's own mutex, right after Shutdown() returns.
TEST(NotifierStress, NoSignalAfterShutdownUnderConcurrentNotify) {
  const int kCycles = static_cast<int>(Scaled(300, 20));
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    std::mutex owner_mu;
    bool owner_alive = true;
    std::atomic<int> violations{0};
    auto n = std::make_shared<Notifier>([&] {
      // A signal takes a while (as napi_call_threadsafe_function may): the
      // owner must not be able to finish Shutdown() meanwhile.
      std::this_thread::sleep_for(std::chrono::microseconds(30));
      std::lock_guard lock(owner_mu);
      if (!owner_alive) violations.fetch_add(1);
      return true;
    });
    std::atomic<bool> stop{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < 3; ++t) {
      threads.emplace_back([&, t] {
        uint64_t i = 0;
        while (!stop.load(std::memory_order_relaxed)) {
          n->Notify(static_cast<uint64_t>(t) * 1'000'000 + ++i);
          if (i % 64 == 0) std::this_thread::yield();
        }
        // Notifying a dead owner is harmless.
        EXPECT_FALSE(n->Notify(0));
      });
    }
    std::vector<uint64_t> got;
    for (int i = 0; i < (cycle % 7) * 5; ++i) {
      n->Drain(&got);
      std::this_thread::yield();
    }
    // Re-armed right before the shutdown: a signal is likely on its way.
    n->Drain(&got);
    std::this_thread::sleep_for(std::chrono::microseconds(cycle % 3 == 0 ? 0 : 10));
    n->Shutdown();
    {
      std::lock_guard lock(owner_mu);
      owner_alive = false;  // what the owner frees after Shutdown()
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    stop.store(true);
    for (std::thread& th : threads) th.join();
    ASSERT_EQ(violations.load(), 0) << "signalled after Shutdown() in cycle " << cycle;
  }
}

}  // namespace
}  // namespace threadkv
