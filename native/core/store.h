// A named store: a fixed array of shards, each a hash table behind its own
// std::shared_mutex. Readers of a shard share its lock; writers take it
// exclusively, and only for the table update itself: entries are allocated
// before the lock and freed after it.
//
// Concurrency: every member function may be called from any thread at any
// time, including concurrently with Destroy(). Each single-key operation
// takes exactly one shard lock; Clear() and Size() take every shard lock in
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
// Capacity limits (Options::max_entries / max_bytes) are split evenly over
// the shards (ceil(limit / shards) each) and enforced by each write inside
// its own shard, under the write lock it already holds: policy kNone
// refuses a write that would pass a limit (kFullEntries / kFullBytes,
// nothing changed); kSieve evicts other entries of the shard first (SIEVE:
// readers only set Entry::visited; the writer's hand walks the shard's
// queue). An entry whose cost alone passes a shard's byte budget is refused
// (kTooBigForLimit). A write never evicts its own key; an atomic PutMany
// never evicts a key of its batch.
//
// Time to live: Entry::expires_at (SteadyNowNs). Every operation checks it
// under the lock, so an expired entry is absent for all of them at once; its
// memory is reclaimed by the process's sweeper thread (sweeper.h) through
// SweepExpired(), or earlier by a write that meets it.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "entry.h"
#include "flights.h"
#include "hash.h"
#include "options.h"
#include "status.h"
#include "table.h"
#include "watch.h"

namespace threadkv {

// Cache-line aligned so that two shards' locks never share a line. Layout,
// by who writes what while other threads may be reading:
//  - line 0: the lock word (a 56-byte pthread_rwlock_t on glibc), and
//    `hits`, bumped (relaxed) by readers under the shared lock: that line
//    already bounces between readers for the lock itself, so a hit costs no
//    extra cache-line transfer. (Were the lock larger, `hits` would move to
//    line 1: still off the table's line.)
//  - line 1: the other counters readers bump (misses, contention), so that
//    they never dirty the line the table's fields live on.
//  - line 2 on: the table and everything written only under the write lock.
struct alignas(64) Shard {
  mutable std::shared_mutex mu;
  mutable std::atomic<uint64_t> hits{0};
  alignas(64) mutable std::atomic<uint64_t> misses{0};
  mutable std::atomic<uint64_t> contended_reads{0};   // try_lock_shared failed before blocking
  mutable std::atomic<uint64_t> contended_writes{0};  // try_lock failed before blocking
  alignas(64) Table table;
  uint64_t bytes = 0;         // sum of Entry::footprint() of live entries (without queue links)
  uint64_t last_version = 0;  // versions handed out by this shard (never reset)
  bool dead = false;          // set by Store::Destroy under the write lock
  // Write-side counters (under the write lock; stats() reads them under the
  // shared lock).
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t evictions = 0;
  uint64_t expirations = 0;
  // SIEVE queue (only when the store's policy is kSieve), linked through the
  // entries' EntryLinks: every live entry, newest at `head`; `hand` is where
  // the next eviction resumes its walk from the tail toward the head (null:
  // start at the tail).
  Entry* head = nullptr;
  Entry* tail = nullptr;
  Entry* hand = nullptr;
  // Live entries with a deadline, and where the TTL sweep resumes.
  uint64_t ttl_entries = 0;
  size_t sweep_cursor = 0;
  // getOrCompute's running flights of this shard's keys (flights.h): empty,
  // holding no memory, while none runs; writers look at it only then.
  FlightTable flights;
};

// Shard locks, taken with a try first so that stats() can count how often a
// thread found the lock held (and had to block).
inline std::shared_lock<std::shared_mutex> ReadLock(const Shard& s) {
  std::shared_lock<std::shared_mutex> lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    s.contended_reads.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
  return lock;
}

inline std::unique_lock<std::shared_mutex> WriteLock(Shard& s) {
  std::unique_lock<std::shared_mutex> lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    s.contended_writes.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
  return lock;
}

// Work a write leaves for after its shard lock: entries evicted or expired
// under the lock, chained through their `next_unlinked` word (no allocation
// under the lock; an unlinked entry's version is dead), and whether the TTL
// sweeper must be woken. Done when this goes out of scope, which the callers
// arrange to be after the lock is released.
class Evicted {
 public:
  Evicted() = default;
  Evicted(const Evicted&) = delete;
  Evicted& operator=(const Evicted&) = delete;
  ~Evicted();
  void Push(EntryPtr e) {
    Entry* raw = e.release();
    raw->next_unlinked = head_;
    head_ = raw;
  }
  void WakeSweeper() { wake_sweeper_ = true; }
  // The write queued change events whose watchers must be signalled
  // (WatchHub::AfterLock).
  void WakeWatchers() { wake_watchers_ = true; }

 private:
  Entry* head_ = nullptr;
  bool wake_sweeper_ = false;
  bool wake_watchers_ = false;
};

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
};

struct StoreSizes {
  uint64_t entries = 0;
  uint64_t bytes = 0;       // entry headers + keys + values
  uint64_t slot_bytes = 0;  // hash table slot arrays
};

// CompareAndPut's `expected` for "only if the key is absent".
inline constexpr uint64_t kExpectAbsent = 0;
// An `expected` version that matches no entry (versions are below 2^53).
inline constexpr uint64_t kExpectNever = ~uint64_t{0};
// Counters hold integers within +-kMaxSafeInteger exactly (JS's
// Number.MAX_SAFE_INTEGER, 2^53 - 1).
inline constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// The fixed per-entry charge (entry.h) covers what an entry really costs:
// the widest header, a table slot and malloc's 8-byte chunk header.
static_assert(kEntryOverhead >= sizeof(EntryLinks) + sizeof(Entry) + Table::kSlotBytes + 8,
              "kEntryOverhead no longer covers an entry's real overhead");

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

// The arithmetic of Store::Increment: `current` (null when the key is
// absent, which counts as 0) plus `delta`, into `result`.
//  - Integer counter: when `delta` and the current value are both integers
//    (a kInt64, or a kFloat64 with no fraction), the sum is exact in int64
//    and stored as kInt64. Both operands and the result must be within
//    +-kMaxSafeInteger: kOutOfRange otherwise.
//  - Fractional counter: otherwise the sum is a double, stored as kFloat64;
//    it must be finite: kOutOfRange otherwise (so is a NaN or infinite
//    current value or delta).
Status AddToCounter(const Number* current, double delta, Number* result);

class Store {
 public:
  Store(std::string name, const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  const std::string& name() const { return name_; }
  const Options& options() const { return options_; }
  uint32_t shard_count() const { return static_cast<uint32_t>(shard_mask_ + 1); }

  uint64_t Hash(std::string_view key) const { return HashBytes(key.data(), key.size(), seed_); }
  bool KeyFits(size_t key_size) const { return key_size <= options_.max_key_bytes; }
  bool ValueFits(size_t value_size) const { return value_size <= options_.max_value_bytes; }

  // Calls fn(const Entry&) under the shard's shared lock when `key` is
  // present. fn must copy what it needs: the entry may be freed as soon as
  // the lock is released.
  template <class Fn>
  Status Read(std::string_view key, uint64_t hash, Fn&& fn) const {
    const Shard& s = ShardFor(hash);
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* e = s.table.Find(hash, key);
    if (e == nullptr || e->Expired()) {
      s.misses.fetch_add(1, std::memory_order_relaxed);
      return Status::kNotFound;
    }
    Touch(s, *e);
    fn(*e);
    return Status::kOk;
  }

  // Inserts or replaces the entry for e->key(). The entry gets a new version
  // (written to *version if given). The replaced entry is freed after the
  // lock is released, or handed to the caller in *replaced if given (null
  // when the key was absent).
  Status Put(uint64_t hash, EntryPtr e, uint64_t* version = nullptr, EntryPtr* replaced = nullptr);

  // Inserts `e` only if its key is absent: kOk (inserted, with a new
  // version in *version), or kExists (nothing written; `e` is freed after
  // the lock).
  Status Insert(uint64_t hash, EntryPtr e, uint64_t* version = nullptr) {
    return InsertOrRead(hash, std::move(e), [](const Entry&) {}, version);
  }

  // Insert(), but when the key is present calls fn(const Entry&) on the
  // present entry under the shard lock (and returns kExists). fn must copy
  // what it needs, as for Read().
  template <class Fn>
  Status InsertOrRead(uint64_t hash, EntryPtr e, Fn&& fn, uint64_t* version = nullptr) {
    Shard& s = ShardFor(hash);
    {
      // Present already (the common case of get-or-set): a shared lock will do.
      auto lock = ReadLock(s);
      if (s.dead) return Status::kDestroyed;
      const Entry* cur = s.table.Find(hash, e->key());
      if (cur != nullptr && !cur->Expired()) {
        Touch(s, *cur);
        fn(*cur);
        return Status::kExists;
      }
    }
    if (TooBig(*e)) return Status::kTooBigForLimit;
    Evicted evicted;  // freed after `lock`
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = s.table.Find(hash, e->key());
    if (cur != nullptr && !cur->Expired()) {
      fn(*cur);
      return Status::kExists;  // `e` is freed after `lock` is released
    }
    EntryPtr none;  // absent: nothing is replaced
    return LinkLocked(s, hash, e, &none, &evicted, version);
  }

  // Puts `e` only if the key's current version is `expected`, or, with
  // expected == kExpectAbsent, only if the key is absent. kOk (written, new
  // version in *version) or kMismatch (nothing written).
  Status CompareAndPut(uint64_t hash, EntryPtr e, uint64_t expected, uint64_t* version = nullptr);

  // Removes `key`. kOk if it was present, kNotFound if not. The removed
  // entry is freed after the lock, or handed to the caller in *removed.
  Status Erase(std::string_view key, uint64_t hash, EntryPtr* removed = nullptr);

  // Removes `key` only if its current version is `expected`: kOk, kMismatch
  // (present with another version) or kNotFound.
  Status CompareAndErase(std::string_view key, uint64_t hash, uint64_t expected);

  // Adds `delta` to the number under `key` (absent counts as 0), in one
  // step under the shard's write lock; see AddToCounter for the arithmetic.
  // kOk with the new value in *result and its version in *version;
  // kNotNumber when the key holds another kind of value (ReadNumber; a json
  // store's JSON-number text counts as a number); kOutOfRange when the sum
  // is not representable. Nothing changes unless kOk. A counter already
  // stored as a number is updated in place; otherwise the new entry is
  // allocated outside the lock.
  Status Increment(std::string_view key, uint64_t hash, double delta, Number* result, uint64_t* version = nullptr);

  // ---- Batches ----

  // Reads every key as one snapshot: takes the shared locks of all the
  // shards involved (ascending), then calls fn(index, const Entry* or null)
  // for each key in order, and releases them. fn must copy what it needs.
  template <class Fn>
  Status ReadMany(std::span<const KeyRef> keys, Fn&& fn) const {
    const std::vector<uint32_t> order = ShardsInOrder(keys.size(), [&](size_t i) { return keys[i].hash; });
    std::vector<std::shared_lock<std::shared_mutex>> locks;
    locks.reserve(order.size());
    for (uint32_t i : order) {
      locks.push_back(ReadLock(shards_[i]));
      if (shards_[i].dead) return Status::kDestroyed;
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      const Shard& s = ShardFor(keys[i].hash);
      const Entry* e = s.table.Find(keys[i].hash, keys[i].key);
      if (e != nullptr && e->Expired()) e = nullptr;
      if (e != nullptr)
        Touch(s, *e);
      else
        s.misses.fetch_add(1, std::memory_order_relaxed);
      fn(i, e);
    }
    return Status::kOk;
  }

  // Puts every entry (moved out of `entries`; a later duplicate key wins).
  // Not atomic: one Put per entry, each atomic alone. Atomic: all or
  // nothing, visible at once: the write locks of every shard involved are
  // taken (ascending), room is reserved in each table first (a failed
  // allocation throws std::bad_alloc with nothing changed), then every
  // entry is linked in. Replaced entries are freed after the locks.
  Status PutMany(std::span<HashedEntry> entries, bool atomic);

  // Removes every key that is present; *erased counts them. Not atomic: one
  // Erase per key. Atomic: under the write locks of every shard involved.
  Status EraseMany(std::span<const KeyRef> keys, bool atomic, size_t* erased);

  // ---- Iteration ----

  // Calls fn(const Entry&) for every entry of shard `shard` whose key starts
  // with the bytes `prefix`, under that shard's shared lock (one lock, one
  // table walk: the caller copies the entries out and iterates shard by
  // shard, so no lock is held between calls and a rehash between calls
  // cannot show a key twice). kNotFound if there is no such shard.
  template <class Fn>
  Status Scan(uint32_t shard, std::string_view prefix, Fn&& fn) const {
    if (shard > shard_mask_) return Status::kNotFound;
    const Shard& s = shards_[shard];
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    s.table.ForEach([&](const Entry& e) {
      if (e.key().starts_with(prefix) && !e.Expired()) fn(e);
    });
    return Status::kOk;
  }

  // The shard a key's hash falls in (Scan's index space).
  uint32_t ShardIndex(uint64_t hash) const { return static_cast<uint32_t>((hash >> 48) & shard_mask_); }

  // A new entry for this store, with the layout the store needs (every
  // entry of a store is made here, so the core decides what a header holds):
  // with the SIEVE policy, the entry carries its queue links. The store takes
  // only entries made here (or by MakeEntry with the same layout); it aborts
  // on any other. The caller fills value_data(); see MakeEntry.
  EntryPtr NewEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags = 0) const {
    return MakeEntry(key, value_size, kind, flags, sieve_);
  }
  // Whether this store's entries carry queue links (NewEntry's layout).
  bool entries_have_links() const { return sieve_; }

  // Removes every entry, atomically with respect to every other operation.
  Status Clear();

  // Entry count and memory, atomically with respect to every other operation.
  Status Sizes(StoreSizes* out) const;

  // Counters and sizes summed over the shards, each read under its shard's
  // shared lock in turn (not one atomic snapshot of the whole store).
  Status Stats(StoreStats* out) const;

  // ---- Time to live ----

  // Sets the deadline of `key` (kNoExpiry: never expires): kOk, or
  // kNotFound when absent (or already expired).
  Status Expire(std::string_view key, uint64_t hash, int64_t deadline);

  // The deadline `ttl_ms` milliseconds from now (ttl_ms > 0), on SteadyNowNs.
  static int64_t DeadlineIn(double ttl_ms);

  // True while some entry of the store may have a deadline (the sweeper
  // visits only such stores).
  bool has_ttl() const { return has_ttl_.load(std::memory_order_acquire); }

  // One sweep pass: walks every shard with entries that have a deadline,
  // `batch` slots per hold of its write lock, and removes the expired
  // entries (freed after each lock hold). Clears has_ttl() when no entry
  // with a deadline is left. Returns how many entries it removed.
  size_t SweepExpired(size_t batch = 256);

  // Per-shard capacity limits: ceil(limit / shards), 0 for none.
  uint64_t shard_max_entries() const { return shard_max_entries_; }
  uint64_t shard_max_bytes() const { return shard_max_bytes_; }
  bool limited() const { return shard_max_entries_ != 0 || shard_max_bytes_ != 0; }
  // What `e` costs against the byte limit.
  static uint64_t Cost(const Entry& e) { return uint64_t{e.key_size} + e.value_size + kEntryOverhead; }
  // True when `e` alone is over a shard's byte budget: never storable.
  bool TooBig(const Entry& e) const { return shard_max_bytes_ != 0 && Cost(e) > shard_max_bytes_; }

  // ---- getOrCompute flights (flights.h; defined in compute.cc) ----

  enum class ComputeStep : uint8_t { kHit, kLead, kJoin, kRecursive };

  // One step under the key's shard write lock: if the key is present,
  // visit(entry) copies it (kHit); otherwise the caller joins the key's
  // running flight with `slot` (kJoin; *lease_deadline = that flight's) or
  // leads with `fresh` (kLead), or is refused (kRecursive: a sync caller
  // whose own thread leads the flight). `fresh` (made for this key's hash and
  // bytes) and `slot` are allocated by the caller before the lock.
  Status BeginCompute(std::string_view key, uint64_t hash, const ComputeCaller& caller,
                      const std::shared_ptr<Flight>& fresh, const std::shared_ptr<WaitSlot>& slot,
                      EntryVisitor visit, ComputeStep* step, int64_t* lease_deadline);

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

  // ---- Change notifications (watch.h) ----

  // Adds `sub`: every change it matches from now on is queued for it (a
  // write that takes its shard lock after this returns is seen). Takes every
  // shard's write lock. kDestroyed once the store is destroyed.
  Status Watch(std::shared_ptr<Subscription> sub);
  // Removes `sub` (nothing more is queued for it); false if it was not
  // there. Takes every shard's write lock.
  bool Unwatch(const Subscription* sub);
  // The owner's side: see WatchHub::Drain.
  void DrainWatch(Subscription& sub, WatchBatch* out) { watch_.Drain(sub, out); }
  // Subscriptions now, over every thread.
  size_t watchers() const { return watch_.count(); }

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
  Shard& ShardFor(uint64_t hash) { return shards_[(hash >> 48) & shard_mask_]; }
  const Shard& ShardFor(uint64_t hash) const { return shards_[(hash >> 48) & shard_mask_]; }

  // The distinct shard indices of n hashes (hash_at(i)), ascending: the
  // order in which a multi-shard operation takes their locks.
  template <class HashAt>
  std::vector<uint32_t> ShardsInOrder(size_t n, HashAt&& hash_at) const {
    std::vector<uint32_t> order;
    order.reserve(n);
    for (size_t i = 0; i < n; ++i) order.push_back(ShardIndex(hash_at(i)));
    std::sort(order.begin(), order.end());
    order.erase(std::unique(order.begin(), order.end()), order.end());
    return order;
  }

  // A read hit: counted, and marked visited for SIEVE (a relaxed store, and
  // only when not already set, so re-reads do not write the entry's line).
  void Touch(const Shard& s, const Entry& e) const {
    s.hits.fetch_add(1, std::memory_order_relaxed);
    if (sieve_ && e.visited.load(std::memory_order_relaxed) == 0) e.visited.store(1, std::memory_order_relaxed);
  }

  // Under s's write lock: bookkeeping of an entry just linked into / just
  // unlinked from s's table (the SIEVE queue, the count of entries with a
  // deadline).
  void OnLink(Shard& s, Entry* e, Evicted* after);
  void OnUnlink(Shard& s, Entry* e) const;
  // Gives `e` the store's default deadline if it still has kDefaultExpiry.
  void ResolveExpiry(Entry* e) const;
  // Under s's write lock: removes every expired entry of s into `out`.
  void PurgeExpiredLocked(Shard& s, Evicted* out);

  // Under s's write lock: links `e` in with a new version (into *version),
  // replacing the entry of the same key (handed back in *old), and keeps
  // the shard within its limits: with policy kNone it refuses a write past
  // a limit (kFullEntries / kFullBytes, nothing changed, `e` kept); with
  // kSieve it evicts other entries into `evicted` (never `e` itself).
  Status LinkLocked(Shard& s, uint64_t hash, EntryPtr& e, EntryPtr* old, Evicted* evicted, uint64_t* version);
  // kNone's check: would linking `e` (replacing `cur`, or null) pass a limit?
  Status CheckFits(const Shard& s, uint64_t add_entries, uint64_t add_cost, uint64_t sub_cost) const;
  // Bytes of a shard as the byte limit counts them (s.bytes holds the
  // entries' footprints: header, key and value).
  static uint64_t Charged(const Shard& s) {
    return s.bytes + s.table.size() * (kEntryOverhead - sizeof(Entry));
  }
  // Aborts unless `e` has the layout of NewEntry's entries.
  void CheckLayout(const Entry& e) const {
    if (e.has_links() != sieve_) [[unlikely]]
      WrongLayout();
  }
  [[noreturn]] void WrongLayout() const;
  bool OverLimit(const Shard& s) const {
    return (shard_max_entries_ != 0 && s.table.size() > shard_max_entries_) ||
           (shard_max_bytes_ != 0 && Charged(s) > shard_max_bytes_);
  }
  // SIEVE queue maintenance (no-ops unless the policy is kSieve).
  void Enqueue(Shard& s, Entry* e) const;
  void Dequeue(Shard& s, Entry* e) const;
  // Evicts unpinned entries (SIEVE) until the shard is within its limits.
  void EvictToFit(Shard& s, Evicted* evicted);

  // Takes every shard's write lock in index order and moves every table into
  // `tables` (marking the shards dead if `kill`); the caller frees them after
  // the locks are released. Watchers get one clear event; with `kill` they
  // are closed too, and the old subscription list goes into *watchers (to
  // free after the locks). *wake: WatchHub::AfterLock() is due after.
  Status DrainAll(bool kill, std::vector<Table>* tables, std::unique_ptr<const WatchHub::List>* watchers, bool* wake);

  // A change event for `e` (read before `e` is pushed onto an Evicted,
  // which overwrites its version), under its shard's write lock.
  void Emit(WatchEvent type, const Entry& e, Evicted* after) {
    if (watch_.Emit(type, e.key(), e.version)) [[unlikely]]
      after->WakeWatchers();
  }

  const std::string name_;
  const Options options_;
  const uint64_t seed_;
  const uint64_t shard_mask_;
  const uint64_t shard_max_entries_;
  const uint64_t shard_max_bytes_;
  const bool sieve_;
  std::atomic<bool> has_ttl_{false};
  std::unique_ptr<Shard[]> shards_;
  std::atomic<bool> destroyed_{false};
  WatchHub watch_;
};

}  // namespace threadkv
