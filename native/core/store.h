// A named store: the operations of the API over a fixed array of shards
// (shard.h), each a hash table behind its own reader-writer lock. Readers of
// a shard share its lock; writers take it exclusively, and only for the
// table update itself: entries are allocated before the lock and freed after
// it.
//
// Concurrency: every member function may be called from any thread at any
// time, including concurrently with Kill(). Each single-key operation takes
// exactly one shard lock; Clear() and Sizes() take every shard lock in
// ascending index order (the one global lock order), so they are atomic.
// The multi-key operations (ReadMany, and PutMany / EraseMany when atomic)
// take the locks of the shards their keys fall in, also in ascending index
// order, so no two operations can deadlock. No callback passed to Read(),
// InsertOrRead(), ReadMany() or Scan() may call back into the store.
//
// Versions: every write to a key (Put, Insert, CompareAndPut, Increment,
// PutMany) gives it a new version, taken from its shard's counter under the
// shard's write lock. A key always falls in the same shard and the counter
// never goes back (Clear keeps it), so one key's versions strictly increase
// and are never reused, across erase and re-insert too (no ABA). Versions
// start at 1 (0, kExpectAbsent, is never a version) and are only compared:
// two keys may share one. They stay below 2^53 (exact as JS numbers) for
// 2^53 writes to one shard: centuries at any real write rate.
//
// Capacity limits (Options::max_entries / max_bytes) hold for the whole
// store exactly as given (Budget, eviction.h): a write reserves its room in
// the store's budget under the write lock of its shard before it links its
// entry in, so the totals are never passed, and no write is refused or
// evicts while the store is below them. Policy kNone refuses a write that
// would pass a limit (kFullEntries / kFullBytes, nothing changed), after
// taking out expired entries; kSieve evicts first, from the writer's own
// shard, then (with that lock released: never two shard locks but in
// ascending order) from others. An entry whose charge alone passes
// max_bytes is refused (kTooBigForLimit). A write never evicts its own key;
// an atomic PutMany never evicts a key of its batch.
//
// Time to live: Entry::expires_at, on the store's clock (StoreHost). Every
// operation checks it under the lock, so an expired entry is absent for all
// of them at once; its memory is reclaimed by SweepExpired() (the Registry's
// background sweeper calls it), or earlier by a write that meets it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "counter.h"
#include "entry.h"
#include "flights.h"
#include "options.h"
#include "shard.h"
#include "status.h"
#include "watch.h"

namespace threadkv {

class FlightHook;

// Counters and sizes of a store (Store::Stats).
struct StoreStats {
  uint64_t entries = 0;
  uint64_t bytes = 0;  // as the byte limit counts them: keys + values + kEntryOverhead each
  uint64_t hits = 0;
  uint64_t misses = 0;
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t evictions = 0;
  uint64_t expirations = 0;
  uint64_t contended_reads = 0;
  uint64_t contended_writes = 0;
  // Expiry work: entries moved down a level of a shard's timer wheel, and
  // holds of a shard's write lock by the background sweep.
  uint64_t expiry_cascades = 0;
  uint64_t sweeps = 0;
};

// Entry count and memory of a store (Store::Sizes).
using StoreSizes = ShardSizes;

// CompareAndPut's `expected` for "only if the key is absent".
inline constexpr uint64_t kExpectAbsent = 0;
// An `expected` version that matches no entry (versions are below 2^53).
inline constexpr uint64_t kExpectNever = ~uint64_t{0};

// A key and its hash (Store::Hash), for the batch operations.
struct KeyRef {
  std::string_view key;
  uint64_t hash;
};

// An entry and its key's hash, for PutMany.
struct HashedEntry {
  uint64_t hash;
  EntryPtr entry;
};

class Store {
 public:
  Store(std::string name, const Options& options, StoreHost host = {});
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& name() const { return name_; }
  const Options& options() const { return options_; }
  uint32_t shard_count() const { return shards_.count(); }
  uint64_t Hash(std::string_view key) const { return shards_.Hash(key); }
  bool ValueFits(size_t value_size) const { return value_size <= options_.max_value_bytes; }
  // The index of the shard `hash` falls in.
  uint32_t ShardOf(uint64_t hash) const { return shards_.IndexOf(hash); }

  // A new entry for this store, with the layout the store needs (with the
  // SIEVE policy, the entry carries its queue links) and the deadline
  // `expires_at` (kDefaultExpiry: the store's ttl; kNoExpiry: none): one
  // with a deadline, or in a store with a default ttl, carries timer links
  // (16 bytes, counted in its charge). The store aborts on an entry whose
  // queue links do not match it; one given a deadline after it was made
  // without timer links is copied with them before the write's lock
  // (Shards::Fit: correct, one copy slower). The caller fills value_data();
  // see MakeEntry.
  EntryPtr NewEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags = 0,
                    int64_t expires_at = kDefaultExpiry) const {
    EntryPtr e = MakeEntry(key, value_size, kind, flags, shards_.sieve(), shards_.NeedsTimer(expires_at));
    e->expires_at = expires_at;
    return e;
  }

  // ---- Single keys ----

  // Calls fn(const Entry&) under the shard's shared lock when `key` is
  // present. fn must copy what it needs: the entry may be freed as soon as
  // the lock is released.
  template <class Fn>
  Status Read(std::string_view key, uint64_t hash, Fn&& fn) const {
    const Shard& s = shards_.For(hash);
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* e = s.table.Find(hash, key);
    if (e == nullptr || shards_.Expired(*e)) {
      s.misses.fetch_add(1, std::memory_order_relaxed);
      return Status::kNotFound;
    }
    shards_.Touch(s, *e);
    fn(*e);
    return Status::kOk;
  }

  // Inserts or replaces the entry for e->key(), with a new version (into
  // *version if given). The replaced entry is freed after the lock, or, with
  // `after`, when `after` is destroyed: after->previous() shows it until then.
  Status Put(uint64_t hash, EntryPtr e, uint64_t* version = nullptr, Retired* after = nullptr);

  // Inserts `e` only if its key is absent: kOk (inserted, with a new
  // version in *version), or kExists (nothing written).
  Status Insert(uint64_t hash, EntryPtr e, uint64_t* version = nullptr) {
    return InsertOrRead(
        hash, std::move(e), [](const Entry&) {}, version);
  }

  // Insert(), but when the key is present calls fn(const Entry&) on the
  // present entry under the shard lock (and returns kExists). fn must copy
  // what it needs, as for Read().
  template <class Fn>
  Status InsertOrRead(uint64_t hash, EntryPtr e, Fn&& fn, uint64_t* version = nullptr) {
    Shard& s = shards_.For(hash);
    {
      // Present already (the common case of get-or-set): a shared lock will do.
      auto lock = ReadLock(s);
      if (s.dead) return Status::kDestroyed;
      if (const Entry* cur = Live(s, hash, e->key())) {
        shards_.Touch(s, *cur);
        fn(*cur);
        return Status::kExists;
      }
    }
    Retired retired;  // freed after the lock, as is `e` when not linked
    return Write(s, hash, e, &retired, version, [&](Shard& w) {
      const Entry* cur = Live(w, hash, e->key());
      if (cur == nullptr) return Status::kOk;
      fn(*cur);
      return Status::kExists;
    });
  }

  // Puts `e` only if the key's current version is `expected`, or, with
  // expected == kExpectAbsent, only if the key is absent. kOk (written, new
  // version in *version) or kMismatch (nothing written).
  Status CompareAndPut(uint64_t hash, EntryPtr e, uint64_t expected, uint64_t* version = nullptr);

  // Removes `key`. kOk if it was present, kNotFound if not. The removed
  // entry is freed after the lock, or, with `after`, when `after` is
  // destroyed: after->previous() shows it until then.
  Status Erase(std::string_view key, uint64_t hash, Retired* after = nullptr);

  // Removes `key` only if its current version is `expected`: kOk, kMismatch
  // (present with another version) or kNotFound.
  Status CompareAndErase(std::string_view key, uint64_t hash, uint64_t expected);

  // Adds `delta` to the number under `key` (absent counts as 0), in one
  // step under the shard's write lock; see AddToCounter (counter.h) for the
  // arithmetic. kOk with the new value in *result and its version in
  // *version; kNotNumber when the key holds another kind of value;
  // kOutOfRange when the sum is not representable. Nothing changes unless
  // kOk. A present counter keeps its deadline and is updated in place; a new
  // one is allocated outside the lock.
  Status Increment(std::string_view key, uint64_t hash, double delta, Number* result, uint64_t* version = nullptr);

  // ---- Batches (batch.cc) ----

  // Reads every key as one snapshot: takes the shared locks of all the
  // shards involved (ascending), then calls fn(index, const Entry* or null)
  // for each key in order, and releases them. fn must copy what it needs.
  template <class Fn>
  Status ReadMany(std::span<const KeyRef> keys, Fn&& fn) const {
    ShardLocks<false> locks(shards_.data(), LockOrderOf(keys));
    if (!locks.ok()) return Status::kDestroyed;
    for (size_t i = 0; i < keys.size(); ++i) {
      const Shard& s = shards_.For(keys[i].hash);
      const Entry* e = Live(s, keys[i].hash, keys[i].key);
      if (e != nullptr)
        shards_.Touch(s, *e);
      else
        s.misses.fetch_add(1, std::memory_order_relaxed);
      fn(i, e);
    }
    return Status::kOk;
  }

  // Puts every entry (moved out of `entries`; a later duplicate key wins).
  // Not atomic: one Put per entry, each atomic alone, stopping at the first
  // refused one; *stored (if given) counts the entries stored before it,
  // kept up to date as they are stored (so it holds if std::bad_alloc
  // escapes).
  // Atomic: all or nothing, visible at once: the write locks of every shard
  // involved are taken (ascending), room is reserved in each table first (a
  // failed allocation throws std::bad_alloc with nothing changed), then
  // every entry is linked in. Replaced entries are freed after the locks.
  Status PutMany(std::span<HashedEntry> entries, bool atomic, size_t* stored = nullptr);

  // Removes every key that is present; *erased counts them. Not atomic: one
  // Erase per key. Atomic: under the write locks of every shard involved.
  Status EraseMany(std::span<const KeyRef> keys, bool atomic, size_t* erased);

  // ---- Whole store ----

  // Calls fn(const Entry&) for every entry of shard `shard` whose key starts
  // with the bytes `prefix`, under that shard's shared lock (one lock, one
  // table walk: the caller copies the entries out and iterates shard by
  // shard, so no lock is held between calls and a rehash between calls
  // cannot show a key twice). kNotFound if there is no such shard.
  template <class Fn>
  Status Scan(uint32_t shard, std::string_view prefix, Fn&& fn) const {
    if (shard >= shards_.count()) return Status::kNotFound;
    const Shard& s = shards_.at(shard);
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    s.table.ForEach([&](const Entry& e) {
      if (e.key().starts_with(prefix) && !shards_.Expired(e)) fn(e);
    });
    return Status::kOk;
  }

  // fn(const Entry&) for every entry in shard `shard`'s table, expired or
  // not, then after(), both under one hold of the shard's shared lock (a
  // snapshot collects what its hook recorded for the shard at the same
  // instant as the shard's entries, and judges deadlines by its own time).
  template <class Fn, class After>
  Status ScanThen(uint32_t shard, Fn&& fn, After&& after) const {
    if (shard >= shards_.count()) return Status::kNotFound;
    const Shard& s = shards_.at(shard);
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    s.table.ForEach(fn);
    after();
    return Status::kOk;
  }

  // Removes every entry, atomically with respect to every other operation.
  Status Clear();

  // Makes every version handed out from now on greater than `floor` (each
  // shard's counter raised to at least `floor` under its write lock; never
  // lowered): a restore passes the saved store's highest version, so that a
  // version kept from before the snapshot never matches a restored entry.
  // `floor` must stay below 2^53.
  Status RaiseVersions(uint64_t floor);

  // Makes room in shard i's table for more[i] more entries (a restore, before
  // it links a known number in), so that each table grows once instead of
  // doubling its way up. Each shard's write lock in turn. May throw
  // std::bad_alloc (a table that grew is only bigger: nothing is lost).
  Status ReserveMore(std::span<const size_t> more);

  // Entry count and memory, atomically with respect to every other operation.
  // O(shards) (plus the expired entries no sweep has reclaimed yet, which it
  // leaves out: TimerWheel::ForEachDue), with or without TTL entries.
  Status Sizes(StoreSizes* out) const;

  // Counters summed over the shards, each read under its shard's shared lock
  // in turn (not one atomic snapshot of the whole store). entries and bytes
  // are exact at one instant in a store with a limit (its budget), summed
  // with the counters otherwise.
  Status Stats(StoreStats* out) const;

  // ---- Time to live ----

  // "Now" on the store's clock, and the deadline `ttl_ms` (> 0) from now.
  int64_t NowNs() const { return shards_.Now(); }
  int64_t DeadlineIn(double ttl_ms) const { return DeadlineAfter(NowNs(), ttl_ms); }

  // Sets the deadline of `key` (kNoExpiry: never expires): kOk, or
  // kNotFound when absent (or already expired). An entry made without timer
  // links that gets a deadline is replaced by a copy with them (made outside
  // the lock; same version and value; no change reported): that adds 16
  // bytes to its charge, so in a store with maxBytes it makes room as a
  // write does, or fails as a write does (kFullBytes, nothing changed).
  // *cost (if given) is the charge of the entry with its links.
  Status Expire(std::string_view key, uint64_t hash, int64_t deadline, uint64_t* cost = nullptr);

  // True while some entry of the store may have a deadline.
  bool has_ttl() const { return shards_.has_ttl(); }

  // The earliest time (the store's clock) at which SweepExpired() has work:
  // an entry due, or a cascade of a timer wheel level; INT64_MAX for none.
  // O(shards), no lock.
  int64_t NextDue() const { return shards_.NextDue(); }

  // Checks every shard's timer wheel against its table (Shards::CheckTimers;
  // tests): empty when all hold.
  std::string CheckTimers() const;

  // One sweep pass (Shards::SweepAll): removes every entry whose deadline
  // has passed, `budget` units of timer wheel work per hold of a shard's
  // write lock. Returns how many.
  size_t SweepExpired(size_t budget = 512) { return shards_.SweepAll(budget); }

  // ---- Limits ----

  // The store's capacity limits (Options), 0 for none.
  uint64_t max_entries() const { return shards_.budget().max_entries(); }
  uint64_t max_bytes() const { return shards_.budget().max_bytes(); }
  // What `e` costs against the byte limit (Entry::charge), and what an
  // entry of this store with these sizes would.
  static uint64_t Cost(const Entry& e) { return e.charge(); }
  uint64_t ChargeFor(size_t key_size, size_t value_size) const {
    return EntryChargeFor(key_size, value_size, shards_.sieve());
  }

  // ---- Features, lifetime ----

  // Installs `hook` to be told of every change from now on (StoreHook),
  // after those already installed; RemoveHook stops telling it. Both take
  // every shard's write lock, so that each shard reports a change to a hook
  // either from a given change on or not at all, and a change's report is
  // never half done. The store keeps every hook it was given until it is
  // destroyed (a Retired may still hand it entries after its removal). At
  // most one installed hook may keep entries. kDestroyed after Kill();
  // kFullEntries when HookList::kMax hooks are installed already.
  Status AddHook(std::shared_ptr<StoreHook> hook);
  Status RemoveHook(const StoreHook* hook);

  // ---- getOrCompute flights (flights.h, compute.h; defined in compute.cc) ----

  enum class ComputeStep : uint8_t { kHit, kLead, kJoin, kRecursive };

  // One step under the key's shard write lock: if the key is present,
  // visit(entry) copies it (kHit); otherwise the caller joins the key's
  // running flight with `slot` (kJoin; *lease_deadline = that flight's) or
  // leads with `fresh` (kLead), or is refused (kRecursive: a sync caller
  // whose own thread leads the flight). `fresh` (made for this key's hash and
  // bytes) and `slot` are allocated by the caller before the lock.
  Status BeginCompute(std::string_view key, uint64_t hash, const ComputeCaller& caller,
                      const std::shared_ptr<Flight>& fresh, const std::shared_ptr<WaitSlot>& slot, EntryVisitor visit,
                      ComputeStep* step, int64_t* lease_deadline);

  // The leader's value: stores `value` (an entry for f.key, with its TTL)
  // unless the flight was invalidated, and hands `result` (a copy of its
  // bytes) to every joined caller. *stored says whether it was stored. A
  // flight that is no longer running (lost: its lease passed, or it was
  // abandoned) changes nothing: kOk, *stored false (the late result is
  // discarded). A write refused by a limit (kFullEntries, kFullBytes,
  // kTooBigForLimit) or kDestroyed leaves the flight running: the leader
  // then fails it with that error.
  Status CompleteCompute(Flight& f, EntryPtr value, std::shared_ptr<const FlightResult> result, bool* stored);

  // The leader's error (serialized in `error`): every joined caller gets it;
  // nothing is stored. No effect on a flight that is no longer running.
  void FailCompute(Flight& f, std::shared_ptr<const FlightResult> error);

  // The leader is gone (its thread exited, or it gave up): its joined
  // callers retry. No effect on a flight that is no longer running.
  void LoseCompute(Flight& f);

  // A joined caller looks at its flight's lease: if it has passed, the flight
  // is lost (every joined caller, this one included, retries). Returns the
  // lease deadline of the flight the slot is still joined to (0: none).
  int64_t CheckComputeLease(WaitSlot& slot);

  // A joined caller that stopped waiting (it resolved its slot kCancelled
  // first): off its flight's waiter list; a timeout is counted.
  void DetachComputeWait(WaitSlot& slot, bool timed_out);

  // The flight counters summed over the shards (each under its lock in turn).
  Status ComputeStats(FlightCounters* out) const;

  // ---- Change notifications (watch.h; defined in watch.cc) ----

  // Adds `sub`: every change it matches from now on is queued for it (a
  // write that takes its shard lock after this returns is seen). Takes every
  // shard's write lock. kDestroyed once the store is destroyed.
  Status Watch(std::shared_ptr<Subscription> sub);
  // Removes `sub` (nothing more is queued for it); false if it was not
  // there. Takes every shard's write lock.
  bool Unwatch(const Subscription* sub);
  // The owner's side: see WatchHub::Drain. `sub` must have been added.
  void DrainWatch(Subscription& sub, WatchBatch* out) { watch_.load(std::memory_order_acquire)->Drain(sub, out); }
  // Subscriptions now, over every thread.
  size_t watchers() const {
    const WatchHub* hub = watch_.load(std::memory_order_acquire);
    return hub == nullptr ? 0 : hub->count();
  }

  // Marks every shard dead and moves all entries into `drained`, for the
  // caller to free outside its locks. Called once, by the Registry, under its
  // lock, so that no open() can see the name between removal and death.
  // Operations on any handle return kDestroyed afterwards.
  void Kill(std::vector<Table>* drained);

  // True once Kill() has run. A hint read without a lock, so that argument
  // errors are not reported ahead of "destroyed"; every operation still
  // checks the shard's own flag under its lock, which is what is atomic.
  bool destroyed() const { return destroyed_.load(std::memory_order_acquire); }

 private:
  // The live (present, not expired) entry of `key` in s, or null.
  const Entry* Live(const Shard& s, uint64_t hash, std::string_view key) const {
    const Entry* e = s.table.Find(hash, key);
    return e != nullptr && !shards_.Expired(*e) ? e : nullptr;
  }
  Entry* Live(Shard& s, uint64_t hash, std::string_view key) {
    Entry* e = s.table.Find(hash, key);
    return e != nullptr && !shards_.Expired(*e) ? e : nullptr;
  }
  // The write of `e` into s (shard of `hash`): under s's write lock, when
  // go(s) (its precondition) says kOk, reserves room (Shards::Admit) and
  // links `e` in (its version into *version); any other answer of go() is
  // returned, with nothing written. When the room has to come from other
  // shards, the lock is released meanwhile and the whole step is tried
  // again, go() included.
  template <class Go>
  Status Write(Shard& s, uint64_t hash, EntryPtr& e, Retired* r, uint64_t* version, Go&& go) {
    shards_.Fit(e);  // timer links for a deadline, before the lock
    if (!shards_.budget().limited()) {
      auto lock = WriteLock(s);
      if (s.dead) return Status::kDestroyed;
      if (const Status pre = go(s); pre != Status::kOk) return pre;
      Entry* linked = shards_.Link(s, hash, e, r);
      if (version != nullptr) *version = linked->version;
      return Status::kOk;
    }
    if (shards_.budget().TooBig(e->charge())) return Status::kTooBigForLimit;
    for (int tries = 0, stalls = 0;; ++tries) {
      Need need;
      {
        auto lock = WriteLock(s);
        if (s.dead) return Status::kDestroyed;
        if (const Status pre = go(s); pre != Status::kOk) return pre;
        if (tries == 0) {
          if (Entry* linked = shards_.LinkIfItFits(s, hash, e, r)) {
            if (version != nullptr) *version = linked->version;
            return Status::kOk;
          }
        }
        const Status st = shards_.Admit(s, hash, *e, r, shards_.MayDefer(tries, stalls), &need);
        if (st != Status::kNoRoom) {
          if (st != Status::kOk) return st;
          Entry* linked = shards_.Link(s, hash, e, r);
          if (version != nullptr) *version = linked->version;
          return Status::kOk;
        }
      }
      if (!shards_.MakeRoom({&s.index, 1}, need)) ++stalls;
    }
  }
  // The shards of `keys`, in lock order.
  std::vector<uint32_t> LockOrderOf(std::span<const KeyRef> keys) const;
  // An atomic PutMany: planned before any lock (refused there when it alone
  // passes a limit), then linked in under the locks of its shards
  // (LinkBatch), after reserving its room in the budget (ReserveBatch: as
  // Shards::Admit does for one entry, over the batch's shards).
  struct BatchPlan;
  Status PlanBatch(std::span<const HashedEntry> entries, BatchPlan* plan) const;
  Status ReserveBatch(std::span<const HashedEntry> entries, const BatchPlan& plan, Retired* r, bool may_defer,
                      Need* need);
  void PinBatchKeys(std::span<const HashedEntry> entries, const BatchPlan& plan, uint8_t pin);
  Status LinkBatch(std::span<HashedEntry> entries, const BatchPlan& plan, Retired* r, bool may_defer, Need* need);
  Status PutManyAtomic(std::span<HashedEntry> entries);
  // Under every shard's write lock: empties every shard (and kills them).
  Status DrainAll(bool kill, std::vector<Table>* drained);
  // The installed hooks, plus `add` (if any), minus `remove` (if any).
  Status InstallHooks(StoreHook* add, const StoreHook* remove);
  // The optional features' hooks, installed on first use (features_mu_).
  FlightHook& Flights();
  WatchHub& Hub();

  const std::string name_;
  const Options options_;
  Shards shards_;
  std::atomic<bool> destroyed_{false};
  std::mutex hooks_mu_;
  std::vector<std::shared_ptr<StoreHook>> hooks_;  // every hook ever installed
  std::vector<std::unique_ptr<HookList>> lists_;   // every list ever installed, the current one last
  std::mutex features_mu_;                         // installs the hooks below
  std::atomic<FlightHook*> flights_{nullptr};      // getOrCompute's (compute.h), once used
  std::atomic<WatchHub*> watch_{nullptr};          // watch's (watch.h), once used
};

}  // namespace threadkv
