// Single-flight computations (Store getOrCompute): for a key that is absent,
// one caller in the whole process *leads* (runs its factory, in its own
// thread, outside every lock) and every other caller, in any thread, *joins*
// the running flight and is handed the leader's outcome.
//
// This file holds the pieces that do not depend on the store's layout:
//  - Flight: one running computation of one key. It is not an entry: the
//    store's tables, sizes, iteration and eviction never see it.
//  - FlightTable: a shard's side table of running flights, keyed like the
//    shard's own table (hash + key bytes). Guarded by the shard's write
//    lock; empty (no allocation) while no flight runs, so that writers can
//    skip it with one test (`size() == 0`).
//  - WaitSlot: one joined caller's outcome, resolved once (first wins),
//    with an optional Notifier that wakes the caller's thread.
//  - FlightWork: what a locked step leaves for after the lock (resolving
//    slots, waking leaders), in the manner of the store's Evicted.
//  - The steps (Lead/Join, Finish, Invalidate, Lose, Cancel, lease check),
//    each a function called under the shard's write lock.
//
// Lifecycle of a flight: created by a leading caller (kRunning, attached to
// its shard's table so that later callers join it). It ends exactly once:
//  - Finish(kDone): the leader's value; joined callers get a copy of the
//    leader's bytes (kept in the FlightResult, not re-read from the table).
//  - Finish(kFailed): the leader's error (serialized by the caller); joined
//    callers get a copy; nothing is cached.
//  - Lose(): the leader went away (its thread exited, its lease ran out, its
//    factory gave up after an abort, the store was destroyed): joined callers
//    get kRetry and call again, so that one of them leads a new flight. A
//    late Finish() by the lost leader is refused (the flight is no longer
//    kRunning: the fencing check).
// Independently of how it ends, a write to the key while it runs
// *invalidates* it (Invalidate()): it leaves the table (later callers start
// a new flight), its value will not be stored, its joined callers still get
// its outcome, and its leader is notified (so that ctx.signal can abort).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "entry.h"
#include "notifier.h"

namespace threadkv {

// What a finished flight hands its joined callers: the leader's value as the
// store keeps values (kind, flags, bytes), or, for a failed flight, the
// leader's error serialized by the binding's caller (bytes, kind kBytes).
struct FlightResult {
  Kind kind = Kind::kUndefined;
  uint8_t flags = 0;
  std::string bytes;
};

// The outcome of one joined caller (WaitSlot).
enum class WaitOutcome : uint8_t {
  kPending = 0,
  kValue,      // the leader's value: WaitSlot::result()
  kError,      // the leader's error: WaitSlot::result()->bytes
  kRetry,      // the leader was lost: call again (one caller will lead)
  kCancelled,  // this caller stopped waiting (timeout, abort, its thread went away)
};

enum class FlightState : uint8_t { kRunning = 0, kDone, kFailed, kLost };

// What the leader may want to know without a lock (Flight::leader_view).
enum class LeaderView : uint8_t {
  kRunning = 0,
  kInvalidated = 1,  // a write to the key: the value will not be stored
  kLost = 2,         // the flight was taken from this leader: its result will be discarded
};

struct Flight;

// The threads blocked in a getOrComputeSync join, each with the thread that
// leads the flight it waits for (process-wide; a thread is known by its
// Notifier). A blocked thread runs no JavaScript, so the flights it leads
// with getOrCompute cannot finish while it waits: a sync join that closes a
// cycle (this thread waits for B, which waits, through any number of
// threads, for this thread) would end only when a lease passes.
// LeadOrJoinLocked refuses such a join (JoinStep::kRecursive), as it refuses
// a wait for a flight the caller's own thread leads (the cycle of one). A
// thread that blocks in WaitFor without getOrComputeSync's join (a leader
// parked in Atomics.wait, say) is not known here.
class SyncWaits {
 public:
  static SyncWaits& Global();

  // Records that `waiter` blocks until a flight that `leader` leads ends.
  // False, recording nothing, if `leader` is `waiter` or waits (through the
  // recorded threads) for `waiter`. May throw std::bad_alloc, recording
  // nothing.
  bool Enter(const Notifier* waiter, const Notifier* leader);
  // `waiter` no longer blocks (its slot was resolved).
  void Leave(const Notifier* waiter) noexcept;
  // How many threads are recorded as blocked (tests).
  size_t size();

 private:
  std::mutex mu_;
  std::unordered_map<const Notifier*, const Notifier*> waits_for_;  // under mu_
};

// One joined caller. Resolved exactly once (the first Resolve wins); the
// owner reads outcome() and result() from its own thread, after Resolve
// (WaitFor, or after its notifier delivered `token`).
class WaitSlot {
 public:
  // `notifier` null: a caller that blocks in WaitFor (getOrComputeSync);
  // otherwise the notifier of the caller's thread, told `token` on Resolve.
  WaitSlot(std::shared_ptr<Notifier> notifier, uint64_t token, uint64_t hash)
      : notifier_(std::move(notifier)), token_(token), hash_(hash) {}
  WaitSlot(const WaitSlot&) = delete;
  WaitSlot& operator=(const WaitSlot&) = delete;

  // Any thread, no store lock held. Sets the outcome unless one is set
  // already; wakes a WaitFor and notifies the owner's thread. Returns
  // whether this call set it.
  bool Resolve(WaitOutcome outcome, std::shared_ptr<const FlightResult> result);

  // Owner. Waits up to `timeout` (zero: just looks) for an outcome and
  // returns it (kPending if none yet).
  WaitOutcome WaitFor(std::chrono::nanoseconds timeout);

  WaitOutcome outcome() const;
  // The result, once outcome() is kValue or kError.
  std::shared_ptr<const FlightResult> result() const;

  uint64_t token() const { return token_; }
  uint64_t hash() const { return hash_; }

  // A getOrComputeSync join: `thread` is recorded in SyncWaits until this
  // slot is resolved (Resolve leaves it). Set under the flight's shard lock,
  // before the slot is in the flight's waiter list.
  void MarkBlocking(const Notifier* thread) {
    std::lock_guard lock(mu_);
    blocking_ = thread;
  }

  // The flight this slot is joined to, while it is in that flight's waiter
  // list; empty once removed. Guarded by the flight's shard write lock. Weak:
  // a flight owns its waiters, not the other way round (the leader's thread
  // keeps its flight alive until the flight ends).
  std::weak_ptr<Flight> flight;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  WaitOutcome outcome_ = WaitOutcome::kPending;  // under mu_
  std::shared_ptr<const FlightResult> result_;   // under mu_
  const Notifier* blocking_ = nullptr;           // under mu_; see MarkBlocking
  const std::shared_ptr<Notifier> notifier_;
  const uint64_t token_;
  const uint64_t hash_;
};

struct Flight {
  Flight(uint64_t flight_id, uint64_t key_hash, std::string_view key_bytes, int64_t lease_until,
         std::shared_ptr<Notifier> leader_env, uint64_t token)
      : id(flight_id),
        hash(key_hash),
        key(key_bytes),
        leader(std::move(leader_env)),
        leader_token(token),
        lease_deadline(lease_until) {}
  Flight(const Flight&) = delete;
  Flight& operator=(const Flight&) = delete;

  const uint64_t id;    // process-unique, never reused (NextFlightId)
  const uint64_t hash;  // the store's hash of `key`
  const std::string key;
  // The leader's thread (its notifier: the identity of the thread, and how
  // it is told about invalidation or loss), and the token it listens on (0:
  // it is not told).
  const std::shared_ptr<Notifier> leader;
  const uint64_t leader_token;

  // Everything below is guarded by the shard's write lock.
  int64_t lease_deadline;  // SteadyNowNs; after it, a caller may take the key over
  FlightState state = FlightState::kRunning;
  bool attached = false;     // in its shard's FlightTable: new callers join it
  bool invalidated = false;  // a write to the key happened: its value is not stored
  std::vector<std::shared_ptr<WaitSlot>> waiters;
  std::shared_ptr<Flight> next_in_bucket;  // FlightTable's chain

  // LeaderView, written under the lock, read by the leader's thread without it.
  std::atomic<uint8_t> leader_view{0};

  bool running() const { return state == FlightState::kRunning; }
  bool LeaseExpired(int64_t now) const { return now >= lease_deadline; }
};

// A new flight id: process-unique, increasing.
uint64_t NextFlightId();

// Counters of a shard's flights (under the shard's write lock; summed by
// Store::ComputeStats).
struct FlightCounters {
  uint64_t loads = 0;         // flights led (factory calls started)
  uint64_t joined = 0;        // callers that joined a running flight
  uint64_t errors = 0;        // flights that ended with the leader's error
  uint64_t timeouts = 0;      // joined callers that stopped waiting at their waitTimeoutMs
  uint64_t leaders_lost = 0;  // flights lost (leader's thread gone, lease passed, gave up)
  uint64_t running = 0;       // flights started and not yet ended (attached or not)

  FlightCounters& operator+=(const FlightCounters& o) {
    loads += o.loads;
    joined += o.joined;
    errors += o.errors;
    timeouts += o.timeouts;
    leaders_lost += o.leaders_lost;
    running += o.running;
    return *this;
  }
};

// A shard's running flights that new callers can join, keyed by (hash, key).
// Not thread-safe: the shard's write lock guards it. A chained hash table
// whose chains run through the flights themselves, so that adding a flight
// allocates only when the bucket array grows; it holds no memory while
// empty and gives its buckets back when it becomes empty.
class FlightTable {
 public:
  FlightTable() = default;
  FlightTable(const FlightTable&) = delete;
  FlightTable& operator=(const FlightTable&) = delete;
  FlightTable(FlightTable&&) noexcept = default;
  FlightTable& operator=(FlightTable&&) noexcept = default;

  size_t size() const { return count_; }

  Flight* Find(uint64_t hash, std::string_view key) const;
  std::shared_ptr<Flight> Get(uint64_t hash, std::string_view key) const;
  // Attaches `f` (whose key must not be in the table). May throw
  // std::bad_alloc (bucket growth) with nothing changed.
  void Insert(std::shared_ptr<Flight> f);
  // Detaches `f` if attached; returns the table's reference (null if not attached).
  std::shared_ptr<Flight> Remove(const Flight& f);
  // Detaches every flight into *out.
  void RemoveAll(std::vector<std::shared_ptr<Flight>>* out);

  FlightCounters counters;

  // Bytes held by the bucket array (0 while empty).
  size_t bucket_bytes() const { return buckets_.capacity() * sizeof(std::shared_ptr<Flight>); }

 private:
  const std::shared_ptr<Flight>* Link(uint64_t hash, std::string_view key) const;
  size_t BucketOf(uint64_t hash) const { return static_cast<size_t>(hash) & (buckets_.size() - 1); }
  std::vector<std::shared_ptr<Flight>> buckets_;
  size_t count_ = 0;
};

// Work that a locked step leaves for after the shard lock: slots to resolve
// and leaders to notify. Done when this goes out of scope, which callers
// arrange to be after the lock is released (declare it before the lock).
class FlightWork {
 public:
  FlightWork() = default;
  FlightWork(const FlightWork&) = delete;
  FlightWork& operator=(const FlightWork&) = delete;
  ~FlightWork();

  // Resolves every slot of `slots` with (outcome, result).
  void Resolve(std::vector<std::shared_ptr<WaitSlot>>&& slots, WaitOutcome outcome,
               std::shared_ptr<const FlightResult> result);
  // Tells `f`'s leader (if it listens) that its flight changed.
  void NotifyLeader(const Flight& f);
  // Keeps `f` alive until after the lock (a flight detached under it).
  void Keep(std::shared_ptr<Flight> f);
  // Does the work now (no lock held) and empties this; the destructor calls it.
  void Run();

 private:
  struct Batch {
    std::vector<std::shared_ptr<WaitSlot>> slots;
    WaitOutcome outcome;
    std::shared_ptr<const FlightResult> result;
  };
  std::vector<Batch> batches_;
  std::vector<std::pair<std::shared_ptr<Notifier>, uint64_t>> leaders_;
  std::vector<std::shared_ptr<Flight>> kept_;
};

// A borrowed callable taking a const Entry& (a lambda that copies a hit out
// under the lock), for the store's non-template steps.
class EntryVisitor {
 public:
  template <class Fn>
  EntryVisitor(Fn& fn)  // NOLINT: implicit on purpose, like std::function_ref
      : obj_(&fn), call_([](void* o, const Entry& e) { (*static_cast<Fn*>(o))(e); }) {}
  void operator()(const Entry& e) const { call_(obj_, e); }

 private:
  void* obj_;
  void (*call_)(void*, const Entry&);
};

// ---- The steps, each under the flight's shard write lock. ----

// Who is calling getOrCompute: its thread (notifier), how it waits, and the
// lease it takes if it leads.
struct ComputeCaller {
  std::shared_ptr<Notifier> env;  // the caller's thread; never null
  bool sync = false;              // blocks in WaitFor: refused on a flight its own thread leads
  int64_t lease_ns = 60'000'000'000;
};

enum class JoinStep : uint8_t { kLead, kJoin, kRecursive };

// The key is absent (the caller checked, under the same lock). Joins the
// key's running flight with `slot` (kJoin), or attaches `fresh` as the key's
// flight (kLead); a flight whose lease has passed is lost first (its waiters
// retry). kRecursive: a sync caller whose own thread leads the flight, or
// whose flight's leader is blocked, through a chain of sync joins, on this
// caller's thread (SyncWaits: blocking would deadlock); nothing changed. `fresh` and `slot` are made
// by the caller before the lock; the one not used is left as is. May throw
// std::bad_alloc with nothing changed.
JoinStep LeadOrJoinLocked(FlightTable& t, const ComputeCaller& caller, const std::shared_ptr<Flight>& fresh,
                          const std::shared_ptr<WaitSlot>& slot, int64_t now, FlightWork* after);

// Ends a running flight with the leader's value (kDone) or error (kFailed):
// detaches it and hands `result` to every joined caller. Returns false (and
// changes nothing) if the flight is not running any more (lost: the late
// result is discarded).
bool FinishLocked(FlightTable& t, Flight& f, FlightState how, std::shared_ptr<const FlightResult> result,
                  FlightWork* after);

// Ends a running flight as lost: detaches it; joined callers get kRetry; the
// leader is told (LeaderView::kLost). False if it was not running.
bool LoseLocked(FlightTable& t, Flight& f, FlightWork* after);

// A write to (hash, key): invalidates the key's attached flight, if any.
void InvalidateLocked(FlightTable& t, uint64_t hash, std::string_view key, FlightWork* after);

// A write to every key (clear): invalidates every attached flight.
void InvalidateAllLocked(FlightTable& t, FlightWork* after);

// The store is being destroyed: loses every attached flight.
void LoseAllLocked(FlightTable& t, FlightWork* after);

// Loses the flight `slot` waits on if its lease has passed.
void CheckLeaseLocked(FlightTable& t, WaitSlot& slot, int64_t now, FlightWork* after);

// Removes `slot` from its flight's waiter list (after the caller resolved it
// kCancelled); counts a timeout if `timed_out`.
void DetachLocked(FlightTable& t, WaitSlot& slot, bool timed_out);

}  // namespace threadkv
