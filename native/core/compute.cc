// The store's side of getOrCompute: each step takes the flight's shard
// write lock and calls the matching step of flights.h. What a step leaves
// for later (resolving joined callers' slots, waking leaders, freeing
// replaced entries) is done after the lock is released: FlightWork and
// Evicted are declared before the lock for that.
#include <utility>

#include "store.h"

namespace threadkv {

Status Store::BeginCompute(std::string_view key, uint64_t hash, const ComputeCaller& caller,
                           const std::shared_ptr<Flight>& fresh, const std::shared_ptr<WaitSlot>& slot,
                           EntryVisitor visit, ComputeStep* step, int64_t* lease_deadline) {
  FlightWork after;
  Shard& s = ShardFor(hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  // Looked up again under the write lock: a value stored since the caller's
  // own miss is a hit (groupcache's "check the cache again").
  const Entry* e = s.table.Find(hash, key);
  if (e != nullptr && !e->Expired()) {
    Touch(s, *e);
    visit(*e);
    *step = ComputeStep::kHit;
    return Status::kOk;
  }
  switch (LeadOrJoinLocked(s.flights, caller, fresh, slot, SteadyNowNs(), &after)) {
    case JoinStep::kLead:
      *step = ComputeStep::kLead;
      *lease_deadline = fresh->lease_deadline;
      break;
    case JoinStep::kJoin: {
      *step = ComputeStep::kJoin;
      const std::shared_ptr<Flight> f = slot->flight.lock();
      *lease_deadline = f ? f->lease_deadline : 0;
      break;
    }
    case JoinStep::kRecursive:
      *step = ComputeStep::kRecursive;
      break;
  }
  return Status::kOk;
}

Status Store::CompleteCompute(Flight& f, EntryPtr value, std::shared_ptr<const FlightResult> result, bool* stored) {
  *stored = false;
  FlightWork after;  // after the lock: slots resolved, the detached flight released
  EntryPtr old;      // the replaced entry (an expired one): freed after the lock
  Evicted evicted;
  Shard& s = ShardFor(f.hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  if (!f.running()) return Status::kOk;  // lost: the late result is discarded
  if (f.attached) {
    // Detached first, so that storing its value is not taken for a write
    // that invalidates it.
    std::shared_ptr<Flight> self = s.flights.Remove(f);
    const Status st = LinkLocked(s, f.hash, value, &old, &evicted, nullptr);
    if (st != Status::kOk) {
      s.flights.Insert(std::move(self));  // still running; the leader fails it
      return st;
    }
    after.Keep(std::move(self));
    *stored = true;
  }
  FinishLocked(s.flights, f, FlightState::kDone, std::move(result), &after);
  return Status::kOk;
}

void Store::FailCompute(Flight& f, std::shared_ptr<const FlightResult> error) {
  FlightWork after;
  Shard& s = ShardFor(f.hash);
  auto lock = WriteLock(s);
  FinishLocked(s.flights, f, FlightState::kFailed, std::move(error), &after);
}

void Store::LoseCompute(Flight& f) {
  FlightWork after;
  Shard& s = ShardFor(f.hash);
  auto lock = WriteLock(s);
  LoseLocked(s.flights, f, &after);
}

int64_t Store::CheckComputeLease(WaitSlot& slot) {
  FlightWork after;
  Shard& s = ShardFor(slot.hash());
  auto lock = WriteLock(s);
  CheckLeaseLocked(s.flights, slot, SteadyNowNs(), &after);
  const std::shared_ptr<Flight> f = slot.flight.lock();
  return f ? f->lease_deadline : 0;
}

void Store::DetachComputeWait(WaitSlot& slot, bool timed_out) {
  Shard& s = ShardFor(slot.hash());
  auto lock = WriteLock(s);
  DetachLocked(s.flights, slot, timed_out);
}

Status Store::ComputeStats(FlightCounters* out) const {
  FlightCounters sum;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    const Shard& s = shards_[i];
    std::shared_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    sum += s.flights.counters;
  }
  *out = sum;
  return Status::kOk;
}

}  // namespace threadkv
