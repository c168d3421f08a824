// What a store needs from the process around it: a clock for TTL deadlines,
// and a way to wake whoever reclaims expired entries in the background.
// Both are given to a Store at construction (StoreHost) and never change.
// Nothing here depends on any other part of the core.
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>

namespace threadkv {

// The monotonic clock deadlines are measured on by default, in nanoseconds.
inline int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Another source of "now" for a store's deadlines (tests and fuzzers drive
// expiry with a fake one). NowNs() must never go backwards, and may be
// called from any thread, under a shard lock.
class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowNs() const = 0;
};

// Whoever reclaims expired entries in the background. A write that puts
// work on a shard's timer wheel due before PlannedNs() calls Wake(), after
// the shard lock is released; no other write calls anything.
class Waker {
 public:
  virtual ~Waker() = default;
  virtual void Wake() = 0;
  // When the waker next looks at the stores unless woken, on their clock
  // (the Registry's stores use the steady clock); INT64_MAX when it will
  // not (idle); INT64_MIN while it will look again anyway. Any thread, no
  // lock: read after the shard's next_due is published (seq_cst).
  virtual int64_t PlannedNs() const { return std::numeric_limits<int64_t>::max(); }
};

// A store's surroundings. Both may be null: no clock is the steady clock,
// read directly (no indirection on the hot path); no waker leaves expired
// entries to writes that meet them and to explicit SweepExpired() calls.
// Whatever is given must outlive the store.
struct StoreHost {
  const Clock* clock = nullptr;
  Waker* waker = nullptr;
};

}  // namespace threadkv
