// Time to live: deadlines. The entries with one are kept on their shard's
// timer wheel (timer_wheel.h, shard.h), which finds the expired ones for a
// full shard's purge and for the background sweep without a table walk.
#pragma once

#include <cstddef>
#include <cstdint>

namespace threadkv {

// The deadline `ttl_ms` milliseconds (> 0) after `now`, in nanoseconds on
// the same clock. Deadlines past ~292 years of uptime saturate to
// INT64_MAX (never reached); a deadline is always > 0 (kNoExpiry is 0).
int64_t DeadlineAfter(int64_t now, double ttl_ms);

}  // namespace threadkv
