// Time to live: deadlines, and the one walk over a table's entries that
// finds expired ones (used both by a full shard's purge and by the background
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

// Calls unlink(e) for every entry of `table` for which expired(e) is true,
// over about `budget` slots of the walk pass `cursor` describes (Table::Walk;
// ~size_t{0}: the rest of the pass at once); unlink must erase e from the
// table and change it no other way. Returns true when the pass is complete.
// Between calls the caller may release the lock and writers may insert,
// erase, grow or shrink the table: every entry in it for the whole pass is
// still looked at in that pass, and an entry is never skipped because a
// backward shift or a migration moved it.
template <class Expired, class Unlink>
bool WalkExpired(Table& table, Table::WalkCursor& cursor, size_t budget, Expired&& expired, Unlink&& unlink) {
  return table.Walk(cursor, budget, [&](Entry& e) {
    if (expired(e)) unlink(&e);
  });
}

}  // namespace threadkv
