#include "flights.h"

#include <algorithm>
#include <utility>

namespace threadkv {

uint64_t NextFlightId() {
  static std::atomic<uint64_t> next{1};
  return next.fetch_add(1, std::memory_order_relaxed);
}

// ---- WaitSlot ----

SyncWaits& SyncWaits::Global() {
  static SyncWaits* const waits = new SyncWaits();  // never destroyed: threads may outlive static destructors
  return *waits;
}

bool SyncWaits::Enter(const Notifier* waiter, const Notifier* leader) {
  std::lock_guard lock(mu_);
  // Each thread waits for at most one other, so the chain from `leader` is a
  // path; it ends at a thread that is not blocked, or at `waiter` (a cycle),
  // within size() + 1 steps (the recorded edges have no cycle).
  const Notifier* at = leader;
  for (size_t steps = 0; steps <= waits_for_.size(); ++steps) {
    if (at == waiter) return false;
    auto it = waits_for_.find(at);
    if (it == waits_for_.end()) break;
    at = it->second;
  }
  waits_for_[waiter] = leader;  // may throw: nothing recorded
  return true;
}

void SyncWaits::Leave(const Notifier* waiter) noexcept {
  std::lock_guard lock(mu_);
  waits_for_.erase(waiter);
}

size_t SyncWaits::size() {
  std::lock_guard lock(mu_);
  return waits_for_.size();
}

bool WaitSlot::Resolve(WaitOutcome outcome, std::shared_ptr<const FlightResult> result) {
  const Notifier* blocking = nullptr;
  {
    std::lock_guard lock(mu_);
    if (outcome_ != WaitOutcome::kPending) return false;
    outcome_ = outcome;
    result_ = std::move(result);
    blocking = std::exchange(blocking_, nullptr);
  }
  if (blocking != nullptr) SyncWaits::Global().Leave(blocking);
  cv_.notify_all();
  // A cancelled slot is resolved by its owner: nobody to wake.
  if (notifier_ && outcome != WaitOutcome::kCancelled) notifier_->Notify(token_);
  return true;
}

WaitOutcome WaitSlot::WaitFor(std::chrono::nanoseconds timeout) {
  std::unique_lock lock(mu_);
  if (outcome_ == WaitOutcome::kPending && timeout.count() > 0) {
    cv_.wait_for(lock, timeout, [&] { return outcome_ != WaitOutcome::kPending; });
  }
  return outcome_;
}

WaitOutcome WaitSlot::outcome() const {
  std::lock_guard lock(mu_);
  return outcome_;
}

std::shared_ptr<const FlightResult> WaitSlot::result() const {
  std::lock_guard lock(mu_);
  return result_;
}

// ---- FlightTable ----

Flight* FlightTable::Find(uint64_t hash, std::string_view key) const {
  const std::shared_ptr<Flight>* link = Link(hash, key);
  return link == nullptr ? nullptr : link->get();
}

std::shared_ptr<Flight> FlightTable::Get(uint64_t hash, std::string_view key) const {
  const std::shared_ptr<Flight>* link = Link(hash, key);
  return link == nullptr ? nullptr : *link;
}

const std::shared_ptr<Flight>* FlightTable::Link(uint64_t hash, std::string_view key) const {
  if (count_ == 0) return nullptr;
  for (const std::shared_ptr<Flight>* link = &buckets_[BucketOf(hash)]; *link; link = &(*link)->next_in_bucket) {
    if ((*link)->hash == hash && (*link)->key == key) return link;
  }
  return nullptr;
}

void FlightTable::Insert(std::shared_ptr<Flight> f) {
  if (count_ + 1 > buckets_.size()) {
    // Grow to twice the flights (at least 8 buckets): allocate first, so
    // that a failure changes nothing; then rechain.
    std::vector<std::shared_ptr<Flight>> grown(std::max<size_t>(8, buckets_.size() * 2));
    std::swap(grown, buckets_);
    for (std::shared_ptr<Flight>& head : grown) {
      while (head) {
        std::shared_ptr<Flight> cur = std::move(head);
        head = std::move(cur->next_in_bucket);
        std::shared_ptr<Flight>& slot = buckets_[BucketOf(cur->hash)];
        cur->next_in_bucket = std::move(slot);
        slot = std::move(cur);
      }
    }
  }
  std::shared_ptr<Flight>& head = buckets_[BucketOf(f->hash)];
  f->attached = true;
  f->next_in_bucket = std::move(head);
  head = std::move(f);
  ++count_;
}

std::shared_ptr<Flight> FlightTable::Remove(const Flight& f) {
  if (!f.attached || count_ == 0) return nullptr;
  std::shared_ptr<Flight>* link = &buckets_[BucketOf(f.hash)];
  while (*link && link->get() != &f) link = &(*link)->next_in_bucket;
  if (!*link) return nullptr;
  std::shared_ptr<Flight> out = std::move(*link);
  *link = std::move(out->next_in_bucket);
  out->attached = false;
  if (--count_ == 0) {
    // No flight left: give the buckets back, so that an idle shard holds
    // nothing for flights (swap, so the memory is freed with `empty` here;
    // callers keep the detached flight itself alive past their lock).
    std::vector<std::shared_ptr<Flight>> empty;
    empty.swap(buckets_);
  }
  return out;
}

void FlightTable::RemoveAll(std::vector<std::shared_ptr<Flight>>* out) {
  if (count_ == 0) return;
  out->reserve(out->size() + count_);
  for (std::shared_ptr<Flight>& head : buckets_) {
    while (head) {
      std::shared_ptr<Flight> cur = std::move(head);
      head = std::move(cur->next_in_bucket);
      cur->attached = false;
      out->push_back(std::move(cur));
    }
  }
  count_ = 0;
  std::vector<std::shared_ptr<Flight>> empty;
  empty.swap(buckets_);
}

// ---- FlightWork ----

FlightWork::~FlightWork() { Run(); }

void FlightWork::Run() {
  // Moved out first, so that this can be filled again meanwhile (a resolved
  // slot's notifier never calls back here, but keep it consistent anyway).
  std::vector<Batch> batches = std::move(batches_);
  std::vector<std::pair<std::shared_ptr<Notifier>, uint64_t>> leaders = std::move(leaders_);
  std::vector<std::shared_ptr<Flight>> kept = std::move(kept_);
  batches_.clear();
  leaders_.clear();
  kept_.clear();
  for (Batch& b : batches) {
    for (const std::shared_ptr<WaitSlot>& s : b.slots) s->Resolve(b.outcome, b.result);
  }
  for (auto& [notifier, token] : leaders) notifier->Notify(token);
}

void FlightWork::Resolve(std::vector<std::shared_ptr<WaitSlot>>&& slots, WaitOutcome outcome,
                         std::shared_ptr<const FlightResult> result) {
  if (slots.empty()) return;
  batches_.push_back({std::move(slots), outcome, std::move(result)});
}

void FlightWork::NotifyLeader(const Flight& f) {
  if (f.leader_token != 0 && f.leader) leaders_.emplace_back(f.leader, f.leader_token);
}

void FlightWork::Keep(std::shared_ptr<Flight> f) {
  if (f) kept_.push_back(std::move(f));
}

// ---- Steps ----

namespace {

// Takes the waiter list of `f` (the slots forget the flight).
std::vector<std::shared_ptr<WaitSlot>> TakeWaiters(Flight& f) {
  std::vector<std::shared_ptr<WaitSlot>> slots = std::move(f.waiters);
  f.waiters.clear();
  for (const std::shared_ptr<WaitSlot>& s : slots) s->flight.reset();
  return slots;
}

}  // namespace

JoinStep LeadOrJoinLocked(FlightTable& t, const ComputeCaller& caller, const std::shared_ptr<Flight>& fresh,
                          const std::shared_ptr<WaitSlot>& slot, int64_t now, FlightWork* after) {
  std::shared_ptr<Flight> f = t.Get(fresh->hash, fresh->key);
  if (f && f->LeaseExpired(now)) {
    LoseLocked(t, *f, after);  // its waiters retry; this caller leads below
    after->Keep(std::move(f));
  }
  if (f) {
    if (caller.sync) {
      // Blocking on a flight whose leader is this thread, or waits (through
      // other blocked threads) for this thread, would never end.
      if (f->leader == caller.env || !SyncWaits::Global().Enter(caller.env.get(), f->leader.get()))
        return JoinStep::kRecursive;
      try {
        f->waiters.push_back(slot);
      } catch (...) {
        SyncWaits::Global().Leave(caller.env.get());  // nothing changed
        throw;
      }
      slot->MarkBlocking(caller.env.get());
    } else {
      f->waiters.push_back(slot);  // may throw: nothing changed yet
    }
    slot->flight = f;
    ++t.counters.joined;
    return JoinStep::kJoin;
  }
  t.Insert(fresh);  // may throw: nothing changed yet
  ++t.counters.loads;
  ++t.counters.running;
  return JoinStep::kLead;
}

bool FinishLocked(FlightTable& t, Flight& f, FlightState how, std::shared_ptr<const FlightResult> result,
                  FlightWork* after) {
  if (!f.running()) return false;
  f.state = how;
  --t.counters.running;
  if (how == FlightState::kFailed) ++t.counters.errors;
  after->Keep(t.Remove(f));
  after->Resolve(TakeWaiters(f), how == FlightState::kDone ? WaitOutcome::kValue : WaitOutcome::kError,
                 std::move(result));
  return true;
}

bool LoseLocked(FlightTable& t, Flight& f, FlightWork* after) {
  if (!f.running()) return false;
  f.state = FlightState::kLost;
  --t.counters.running;
  ++t.counters.leaders_lost;
  f.leader_view.store(static_cast<uint8_t>(LeaderView::kLost), std::memory_order_release);
  after->Keep(t.Remove(f));
  after->Resolve(TakeWaiters(f), WaitOutcome::kRetry, nullptr);
  after->NotifyLeader(f);
  return true;
}

namespace {

void Invalidate(Flight& f, FlightWork* after) {
  f.invalidated = true;
  f.leader_view.store(static_cast<uint8_t>(LeaderView::kInvalidated), std::memory_order_release);
  after->NotifyLeader(f);
}

}  // namespace

void InvalidateLocked(FlightTable& t, uint64_t hash, std::string_view key, FlightWork* after) {
  Flight* f = t.Find(hash, key);
  if (f == nullptr) return;
  // Detached: later callers start a new flight; the joined ones stay with
  // this one and get its outcome.
  std::shared_ptr<Flight> kept = t.Remove(*f);
  Invalidate(*kept, after);
  after->Keep(std::move(kept));
}

namespace {

// Detaches every attached flight, calls fn(flight) on each, and keeps them
// alive until after the lock.
template <class Fn>
void DetachAll(FlightTable& t, FlightWork* after, Fn&& fn) {
  if (t.size() == 0) return;
  std::vector<std::shared_ptr<Flight>> all;
  t.RemoveAll(&all);
  for (std::shared_ptr<Flight>& f : all) {
    fn(*f);
    after->Keep(std::move(f));
  }
}

}  // namespace

void InvalidateAllLocked(FlightTable& t, FlightWork* after) {
  DetachAll(t, after, [&](Flight& f) { Invalidate(f, after); });
}

void LoseAllLocked(FlightTable& t, FlightWork* after) {
  DetachAll(t, after, [&](Flight& f) { LoseLocked(t, f, after); });
}

void CheckLeaseLocked(FlightTable& t, WaitSlot& slot, int64_t now, FlightWork* after) {
  const std::shared_ptr<Flight> f = slot.flight.lock();
  if (f && f->running() && f->LeaseExpired(now)) LoseLocked(t, *f, after);
}

void DetachLocked(FlightTable& t, WaitSlot& slot, bool timed_out) {
  const std::shared_ptr<Flight> f = slot.flight.lock();
  slot.flight.reset();
  if (!f) return;  // its flight ended first (and took the slot off its list)
  auto it = std::find_if(f->waiters.begin(), f->waiters.end(),
                         [&](const std::shared_ptr<WaitSlot>& s) { return s.get() == &slot; });
  if (it != f->waiters.end()) f->waiters.erase(it);
  if (timed_out) ++t.counters.timeouts;
}

}  // namespace threadkv
