// Time to live: deadlines, and the one walk over a table's slots that finds
// expired entries (used both by a full shard's purge and by the background
// sweep's short batches). No lock is taken here: the shard (shard.h) runs
// these under its write lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "entry.h"
#include "table.h"

namespace threadkv {

// The deadline `ttl_ms` milliseconds (> 0) after `now`, in nanoseconds on
// the same clock. Deadlines past ~292 years of uptime saturate to
// INT64_MAX (never reached); a deadline is always > 0 (kNoExpiry is 0).
int64_t DeadlineAfter(int64_t now, double ttl_ms);

// Where a slot walk stopped.
struct SlotWalk {
  size_t next;   // the first slot not looked at
  bool resized;  // the table changed capacity under the unlinks (next is 0)
};

// Walks slots [from, end) of `table`, calling unlink(e) for every entry for
// which expired(e) is true; unlink must erase e from the table. Backward-
// shift deletion can pull a later entry into the slot just emptied, so that
// slot is looked at again; an entry shifted back past `from` is met on a
// later walk. A shrink (the table's capacity changes) ends the walk at once.
template <class Expired, class Unlink>
SlotWalk WalkExpiredSlots(const Table& table, size_t from, size_t end, Expired&& expired, Unlink&& unlink) {
  const size_t cap = table.capacity();
  size_t pos = from;
  while (pos < end) {
    Entry* e = table.SlotEntry(pos);
    if (e == nullptr || !expired(*e)) {
      ++pos;
      continue;
    }
    unlink(e);
    if (table.capacity() != cap) return {0, true};
  }
  return {pos, false};
}

}  // namespace threadkv
