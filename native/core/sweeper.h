// A background thread that reclaims expired entries, so that their memory
// comes back without any thread touching the store. It knows nothing of
// stores: its owner (the Registry) says what one pass does.
//
// It sleeps on a condition variable (no polling) until woken (Wake(), a
// Waker: a store gained its first entry with a deadline); then it runs a
// pass, and again every kSweepInterval for as long as the last pass says
// work remains, before it goes back to sleep.
//
// Lifetime: the thread is started on the first Wake() and never joined; it
// is detached, and its owner (the Registry) is leaked on purpose: the
// process may exit (and run static destructors) while workers still run, so
// nothing the thread touches is ever destroyed. At exit the thread is
// simply discarded by the OS, whether blocked on its condition variable or
// mid-pass (it holds no lock across passes other than one shard's, and
// nothing waits on it).
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <mutex>
#include <utility>

#include "clock.h"

namespace threadkv {

inline constexpr std::chrono::milliseconds kSweepInterval{100};
inline constexpr size_t kSweepBatch = 256;

class Sweeper final : public Waker {
 public:
  // One pass; returns true while some store still has entries with a
  // deadline (another pass follows after kSweepInterval).
  using Pass = std::function<bool()>;

  explicit Sweeper(Pass pass) : pass_(std::move(pass)) {}
  Sweeper(const Sweeper&) = delete;
  Sweeper& operator=(const Sweeper&) = delete;

  // Wakes the thread (starting it the first time). Called outside every
  // shard lock.
  void Wake() override;

 private:
  void Run();

  const Pass pass_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool pending_ = false;  // woken since the last pass began
  bool started_ = false;
};

}  // namespace threadkv
