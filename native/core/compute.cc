// The store's side of getOrCompute: each step takes the flight's shard
// write lock and calls the matching step of flights.h on the store's
// FlightHook (compute.h). What a step leaves for later (resolving joined
// callers' slots, waking leaders, freeing replaced entries) is done after
// the lock is released: FlightWork and Retired are declared before the lock
// for that.
#include "compute.h"

#include <utility>

#include "clock.h"
#include "store.h"

namespace threadkv {

namespace {

// What the hook's steps leave for after the writer's locks (AfterLock).
thread_local FlightWork tl_work;

}  // namespace

uint8_t FlightHook::Invalidate(uint32_t shard, uint64_t hash, std::string_view key) noexcept {
  FlightTable& t = tables_[shard];
  if (t.size() == 0) return kNothing;  // the common case: no flight in this shard
  try {
    InvalidateLocked(t, hash, key, &tl_work);
  } catch (...) {
    // No memory to note the leader's wake-up: the flight is invalidated
    // (detached, its value not stored) all the same; its leader only learns
    // it when it completes.
  }
  return kAfter;
}

uint8_t FlightHook::OnChange(uint32_t shard, Change change, const Entry& e) noexcept {
  if (change != Change::kSet && change != Change::kDeleted) return kNothing;
  if (tables_[shard].size() == 0) return kNothing;
  return Invalidate(shard, shards_.Hash(e.key()), e.key());
}

uint8_t FlightHook::OnAbsent(uint32_t shard, uint64_t hash, std::string_view key) noexcept {
  return Invalidate(shard, hash, key);
}

uint8_t FlightHook::OnClear(bool destroy) noexcept {
  uint8_t reply = kNothing;
  for (uint32_t i = 0; i < shards_.count(); ++i) {
    FlightTable& t = tables_[i];
    if (t.size() == 0) continue;
    reply = kAfter;
    try {
      if (destroy)
        LoseAllLocked(t, &tl_work);
      else
        InvalidateAllLocked(t, &tl_work);
    } catch (...) {
      // As in Invalidate: what could be marked is marked.
    }
  }
  return reply;
}

void FlightHook::AfterLock() noexcept { tl_work.Run(); }

FlightHook& Store::Flights() {
  if (FlightHook* f = flights_.load(std::memory_order_acquire)) return *f;
  std::lock_guard guard(features_mu_);
  if (FlightHook* f = flights_.load(std::memory_order_relaxed)) return *f;
  auto hook = std::make_shared<FlightHook>(shards_);
  // Installed under every shard's write lock: a write either reports to it
  // or happened before any flight of this store began. On a destroyed store
  // it is kept all the same (every step then meets the dead shard).
  (void)AddHook(hook);
  flights_.store(hook.get(), std::memory_order_release);
  return *hook;  // owned by the store's hook list from now on
}

Status Store::BeginCompute(std::string_view key, uint64_t hash, const ComputeCaller& caller,
                           const std::shared_ptr<Flight>& fresh, const std::shared_ptr<WaitSlot>& slot,
                           EntryVisitor visit, ComputeStep* step, int64_t* lease_deadline) {
  FlightHook& flights = Flights();
  FlightWork after;
  Shard& s = shards_.For(hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  // Looked up again under the write lock: a value stored since the caller's
  // own miss is a hit (groupcache's "check the cache again").
  if (const Entry* e = Live(s, hash, key)) {
    shards_.Touch(s, *e);
    visit(*e);
    *step = ComputeStep::kHit;
    return Status::kOk;
  }
  switch (LeadOrJoinLocked(flights.table(s.index), caller, fresh, slot, SteadyNowNs(), &after)) {
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
  FlightHook& flights = Flights();
  FlightWork after;  // after the lock: slots resolved, the detached flight released
  Retired retired;   // the replaced and evicted entries, freed after the lock
  Shard& s = shards_.For(f.hash);
  const bool limited = shards_.budget().limited();
  shards_.Fit(value);  // timer links for a deadline, before the lock
  // As Write() stores one entry: room reserved under the shard's lock; when
  // it must come from other shards, the lock is released meanwhile and the
  // whole step is taken again (the flight may have been invalidated or lost).
  for (int tries = 0, stalls = 0;; ++tries) {
    Need need;
    {
      auto lock = WriteLock(s);
      if (s.dead) return Status::kDestroyed;
      if (!f.running()) return Status::kOk;  // lost: the late result is discarded
      FlightTable& t = flights.table(s.index);
      if (f.attached) {
        if (shards_.budget().TooBig(value->charge())) return Status::kTooBigForLimit;  // the leader fails it
        const Status st =
            limited ? shards_.Admit(s, f.hash, *value, &retired, shards_.MayDefer(tries, stalls), &need) : Status::kOk;
        if (st != Status::kOk && st != Status::kNoRoom) return st;  // still running; the leader fails it
        if (st == Status::kOk) {
          // Detached first, so that storing its value is not taken for a
          // write that invalidates it.
          std::shared_ptr<Flight> self = t.Remove(f);
          shards_.Link(s, f.hash, value, &retired);
          after.Keep(std::move(self));
          *stored = true;
          FinishLocked(t, f, FlightState::kDone, std::move(result), &after);
          return Status::kOk;
        }
      } else {
        FinishLocked(t, f, FlightState::kDone, std::move(result), &after);
        return Status::kOk;
      }
    }
    if (!shards_.MakeRoom({&s.index, 1}, need)) ++stalls;
  }
}

void Store::FailCompute(Flight& f, std::shared_ptr<const FlightResult> error) {
  FlightHook& flights = Flights();
  FlightWork after;
  Shard& s = shards_.For(f.hash);
  auto lock = WriteLock(s);
  FinishLocked(flights.table(s.index), f, FlightState::kFailed, std::move(error), &after);
}

void Store::LoseCompute(Flight& f) {
  FlightHook& flights = Flights();
  FlightWork after;
  Shard& s = shards_.For(f.hash);
  auto lock = WriteLock(s);
  LoseLocked(flights.table(s.index), f, &after);
}

int64_t Store::CheckComputeLease(WaitSlot& slot) {
  FlightHook& flights = Flights();
  FlightWork after;
  Shard& s = shards_.For(slot.hash());
  auto lock = WriteLock(s);
  CheckLeaseLocked(flights.table(s.index), slot, SteadyNowNs(), &after);
  const std::shared_ptr<Flight> f = slot.flight.lock();
  return f ? f->lease_deadline : 0;
}

void Store::DetachComputeWait(WaitSlot& slot, bool timed_out) {
  FlightHook& flights = Flights();
  Shard& s = shards_.For(slot.hash());
  auto lock = WriteLock(s);
  DetachLocked(flights.table(s.index), slot, timed_out);
}

Status Store::ComputeStats(FlightCounters* out) const {
  const FlightHook* flights = flights_.load(std::memory_order_acquire);
  FlightCounters sum;
  for (uint32_t i = 0; i < shards_.count(); ++i) {
    const Shard& s = shards_.at(i);
    std::shared_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    if (flights != nullptr) sum += flights->table(i).counters;
  }
  *out = sum;
  return Status::kOk;
}

}  // namespace threadkv
