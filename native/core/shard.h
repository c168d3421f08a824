// The shards of a store, and the only code that changes what a shard holds.
//
// A store is a fixed array of shards, each a hash table (table.h) behind its
// own reader-writer lock. Every change to a shard's contents goes through
// Shards::Link (an entry in) or Shards::Unlink (an entry out, with its
// cause): they alone touch the byte count, the timer wheel of entries with a
// deadline, the eviction queue, the version counter and the write counters,
// and they alone report to the store's hook (the seam the optional features
// attach to; see StoreHook). Every unlinked entry then goes into a Retired
// list, which frees it after the lock is released.
//
// Lock order: a thread holds at most one shard lock, or several taken in
// ascending shard index (ShardLocks), never any other way.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "entry.h"
#include "eviction.h"
#include "expiry.h"
#include "hash.h"
#include "options.h"
#include "rwlock.h"
#include "status.h"
#include "table.h"
#include "timer_wheel.h"

namespace threadkv {

// Where an entry keeps its timer wheel links and its deadline (TimerWheel's
// Access): the links right before the header (Entry::timer()).
struct EntryTimerAccess {
  static TimerLinks& Links(Entry& e) { return e.timer(); }
  static Entry& FromLinks(TimerLinks& l) { return Entry::FromTimer(l); }
  static int64_t Deadline(const Entry& e) { return e.expires_at; }
};
using EntryWheel = TimerWheel<Entry, EntryTimerAccess>;

// The per-entry charge (entry.h) counts one table slot.
static_assert(kSlotCharge == Table::kSlotBytes, "an entry's charge must count one table slot");

// What happened to an entry (StoreHook::OnChange; Unlink's cause).
enum class Change : uint8_t {
  kSet,       // linked in with a new version (insert, replace, increment)
  kReplaced,  // unlinked: a write of the same key took its place
  kDeleted,   // unlinked: deleted
  kExpired,   // unlinked: its deadline had passed
  kEvicted,   // unlinked: made room under a capacity limit
  kCleared,   // unlinked: clear() or destroy()
};

// The seam of a store's optional features (change events, invalidation of
// loads in flight, point-in-time snapshots): every change to every shard is
// reported to each installed hook that wants it (interests()), under that
// shard's write lock, in the order the shard saw them. A store without hooks
// pays one relaxed load and a branch per change; one whose hooks want none
// of a change's kind, that and one test of a bit. Installed with
// Store::AddHook.
class StoreHook {
 public:
  // What a hook is told of (bits, fixed when it is made): the changes
  // OnChange hears (Wants(change)), and whether OnAbsent and OnGroup are
  // called. A store makes no call a hook did not ask for, and skips a
  // change's whole report (and, for kCleared, the entry-by-entry drain) when
  // no installed hook wants it. OnClear and AfterLock are always called.
  using Interests = uint16_t;
  static constexpr Interests Wants(Change change) {
    return static_cast<Interests>(1u << static_cast<unsigned>(change));
  }
  static constexpr Interests kAbsent = 1u << 6;  // OnAbsent
  static constexpr Interests kGroups = 1u << 7;  // OnGroup
  static constexpr Interests kEverything = 0xFF;
  // OnDeadline (outside kEverything: only a hook that asks is told).
  static constexpr Interests kDeadlines = 1u << 8;

  // What OnChange asks for (bits).
  enum Reply : uint8_t {
    kNothing = 0,
    kKeep = 1,   // an unlinked entry: hand it to Adopt() instead of freeing it
    kAfter = 2,  // call AfterLock() once this operation has released its locks
  };

  explicit StoreHook(Interests interests = kEverything) : interests_(interests) {}
  virtual ~StoreHook() = default;
  Interests interests() const { return interests_; }
  // Under shard `shard`'s write lock: `e` was linked in (kSet, e.version is
  // its new version) or unlinked (any other change; e.version is the
  // version it had). Must not call into the store, and must not allocate
  // where a failure would leave the hook inconsistent (it cannot throw).
  // kKeep on an unlinked entry keeps it: it is handed to Adopt() once the
  // lock is released (its version word is overwritten meanwhile, so read
  // the version here); the first hook (in installation order) that keeps an
  // entry gets it, and kKeep on a kSet is ignored. kAfter asks for one call
  // of AfterLock() when the operation is done (to wake waiting threads
  // outside the lock).
  virtual uint8_t OnChange(uint32_t shard, Change change, const Entry& e) noexcept = 0;
  // An entry OnChange kept, after every lock is released: the hook owns it.
  virtual void Adopt(EntryPtr e) noexcept { (void)e; }
  // Writes that change no entry, or many at once (Shards::ReportAbsent,
  // ReportClear, ReportGroup); the reply is OnChange's (kKeep means nothing).
  // Under shard `shard`'s write lock: a delete or take of `key` found no
  // live entry (an expired one was reported as kExpired first).
  virtual uint8_t OnAbsent(uint32_t shard, uint64_t hash, std::string_view key) noexcept {
    (void)shard, (void)hash, (void)key;
    return kNothing;
  }
  // Under every shard's write lock, before the entries leave (each is then
  // reported as kCleared): the store is cleared, or destroyed (`destroy`).
  virtual uint8_t OnClear(bool destroy) noexcept {
    (void)destroy;
    return kNothing;
  }
  // Under the locks of an atomic batch: its changes follow (begin) or are
  // done (!begin); they form one group.
  virtual void OnGroup(bool begin) noexcept { (void)begin; }
  // After every lock of an operation in which OnChange replied kAfter.
  virtual void AfterLock() noexcept {}
  // Under every shard's write lock, as this hook is installed (the instant
  // from which it hears every change): shard `shard` has handed out
  // versions up to `last_version`, so every entry it holds has one at most
  // that, and every entry it links in from now on gets a greater one (a
  // point-in-time snapshot's cut). Once per shard; must not allocate.
  virtual void OnInstall(uint32_t shard, uint64_t last_version) noexcept { (void)shard, (void)last_version; }
  // kDeadlines: under shard `shard`'s write lock, before expire() changes
  // the deadline of the live entry `e` in place (e.expires_at is still the
  // old one). No other report is made of such a change (the entry stays,
  // with its version). The reply is OnChange's (kKeep means nothing).
  virtual uint8_t OnDeadline(uint32_t shard, const Entry& e) noexcept {
    (void)shard, (void)e;
    return kNothing;
  }

 private:
  const Interests interests_;
};

// A shard's lock. Readers share it; writers hold it alone; a waiting writer
// goes ahead of new readers (rwlock.h).
using ShardMutex = WriterPreferringSharedMutex;

// Cache-line aligned so that two shards' locks never share a line. Layout,
// by who writes what while other threads may be reading:
//  - line 0: the lock word (a 56-byte pthread_rwlock_t on glibc), and
//    `hits`, bumped (relaxed) by readers under the shared lock: that line
//    already bounces between readers for the lock itself, so a hit costs no
//    extra cache-line transfer.
//  - line 1: the other counters readers bump (misses, contention), so that
//    they never dirty the line the table's fields live on, and `next_due`,
//    which the sweeper reads without the lock.
//  - line 2 on: the table and everything written only under the write lock
//    (by Shards' members alone).
struct alignas(64) Shard {
  mutable ShardMutex mu;
  mutable std::atomic<uint64_t> hits{0};
  alignas(64) mutable std::atomic<uint64_t> misses{0};
  mutable std::atomic<uint64_t> contended_reads{0};   // try_lock_shared failed before blocking
  mutable std::atomic<uint64_t> contended_writes{0};  // try_lock failed before blocking
  // When the wheel next has work (a lower bound of wheel.NextDue(); kNever
  // for none): lowered by a write that schedules an earlier bucket, set to
  // wheel.NextDue() after every sweep. Written under the write lock, read by
  // the sweeper without it (Shards::NextDue).
  std::atomic<int64_t> next_due{EntryWheel::kNever};
  alignas(64) Table table;
  uint64_t bytes = 0;         // sum of Entry::footprint() of live entries (see Charged())
  uint64_t last_version = 0;  // versions handed out by this shard (never reset)
  uint32_t index = 0;         // this shard's place in its store
  bool dead = false;          // set by Store::Kill under the write lock
  // Write-side counters (stats() reads them under the shared lock).
  uint64_t sets = 0;
  uint64_t deletes = 0;
  uint64_t evictions = 0;
  uint64_t expirations = 0;
  SieveQueue queue;  // every live entry, when the store's policy is SIEVE
  // Every entry of the table with a deadline (and, while a sweep or a purge
  // delivers them, none that has left it); read by AddSizes under the
  // shared lock (its const members only).
  EntryWheel wheel;
  // Sweep work (stats): entries moved down the wheel's levels, and holds of
  // the write lock by the background sweep.
  uint64_t cascades = 0;
  uint64_t sweeps = 0;
};

// Shard locks, taken with a try first so that stats() can count how often a
// thread found the lock held (and had to block).
inline std::shared_lock<ShardMutex> ReadLock(const Shard& s) {
  std::shared_lock<ShardMutex> lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    s.contended_reads.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
  return lock;
}

inline std::unique_lock<ShardMutex> WriteLock(Shard& s) {
  std::unique_lock<ShardMutex> lock(s.mu, std::try_to_lock);
  if (!lock.owns_lock()) {
    s.contended_writes.fetch_add(1, std::memory_order_relaxed);
    lock.lock();
  }
  return lock;
}

// Entries unlinked under a shard lock, freed when this goes out of scope,
// which its owner arranges to be after the lock is released (declare it
// before the lock). Chained through their `next_unlinked` word: no
// allocation under the lock. Entries the hook kept are handed to it instead,
// and the store's waker is told if the operation gave the store its first
// deadline. A caller that wants the entry its write replaced or its erase
// removed passes its own Retired and reads previous() before it ends.
class Retired {
 public:
  Retired() = default;
  Retired(const Retired&) = delete;
  Retired& operator=(const Retired&) = delete;
  ~Retired() {
    if (freed_ != nullptr || rare_) Finish();
  }

  // The entry a Put replaced or an Erase removed (never an expired one),
  // readable until this is destroyed; null if there was none. Its version
  // word is no longer its version (the list is chained through it).
  const Entry* previous() const { return previous_; }
  // Takes that entry out of the list: the caller owns it (a large value can
  // then leave without another copy). Null when there is none, or when a
  // hook kept it (previous() still shows it then).
  EntryPtr TakePrevious();

 private:
  friend class Shards;
  void Finish();
  // `e` is freed when this ends (chained through its next_unlinked word).
  void Free(Entry* e) {
    e->next_unlinked = freed_;
    freed_ = e;
  }
  // `e` goes to `keeper` (its Adopt) when this ends, not freed.
  void Keep(StoreHook* keeper, Entry* e) {
    adopter_ = keeper;  // one keeping hook at a time per operation (Store::AddHook's contract)
    e->next_unlinked = kept_;
    kept_ = e;
  }

  // The rest of the work, which most operations never have: set up on
  // first use (so that a plain write initializes three words, not eight).
  void Rare() {
    if (rare_) return;
    rare_ = true;
    kept_ = nullptr;
    adopter_ = nullptr;
    waker_ = nullptr;
    hooks_ = nullptr;
    after_ = 0;
  }

  Entry* freed_ = nullptr;
  const Entry* previous_ = nullptr;
  bool rare_ = false;
  // Valid only when rare_:
  Entry* kept_;
  StoreHook* adopter_;
  Waker* waker_;
  const struct HookList* hooks_;  // the hooks that were told, and
  uint32_t after_;                // which of them asked for AfterLock()
};

// Holds the locks of a set of shards, shared or exclusive, taken in
// ascending index order (the one lock order) and released when this goes
// out of scope. ok() is false, with every lock already released, when a
// shard is dead (the store was destroyed).
template <bool kExclusive>
class ShardLocks {
 public:
  // Every shard of `shards` (count of them).
  ShardLocks(Shard* shards, size_t count) : shards_(shards) {
    held_.reserve(count);
    for (size_t i = 0; i < count; ++i)
      if (!Take(static_cast<uint32_t>(i))) break;
  }
  // The shards at `ascending` (sorted, distinct indices).
  ShardLocks(Shard* shards, std::span<const uint32_t> ascending) : shards_(shards) {
    held_.reserve(ascending.size());
    for (uint32_t i : ascending)
      if (!Take(i)) break;
  }
  ShardLocks(const ShardLocks&) = delete;
  ShardLocks& operator=(const ShardLocks&) = delete;
  ~ShardLocks() { Release(); }

  bool ok() const { return ok_; }

 private:
  bool Take(uint32_t i) {
    Shard& s = shards_[i];
    if constexpr (kExclusive)
      WriteLock(s).release();
    else
      ReadLock(s).release();
    held_.push_back(i);
    if (s.dead) {
      ok_ = false;
      Release();
    }
    return ok_;
  }
  void Release() {
    for (auto it = held_.rbegin(); it != held_.rend(); ++it) {
      if constexpr (kExclusive)
        shards_[*it].mu.unlock();
      else
        shards_[*it].mu.unlock_shared();
    }
    held_.clear();
  }

  Shard* shards_;
  std::vector<uint32_t> held_;
  bool ok_ = true;
};

// The distinct shard indices in `indices`, ascending: the order in which a
// multi-shard operation takes their locks.
std::vector<uint32_t> LockOrder(std::vector<uint32_t> indices);

// The hooks installed on a store, as one immutable list (Store::AddHook
// makes a new one for every change, and keeps every list it made until the
// store is destroyed, so a list loaded under a shard lock stays valid).
struct HookList {
  static constexpr size_t kMax = 32;  // hooks per store (Retired keeps a bit per hook)
  std::vector<StoreHook*> hooks;
  StoreHook::Interests wants = 0;  // every hook's interests(), or'ed (Sum())
  StoreHook* only = nullptr;       // the hook, when there is exactly one (Sum())

  // Sets `wants` and `only` from `hooks` (once they are all in).
  void Sum() {
    wants = 0;
    for (const StoreHook* h : hooks) wants |= h->interests();
    only = hooks.size() == 1 ? hooks[0] : nullptr;
  }
  // Tells every hook that wants `change`; returns the first that keeps the
  // entry, or null, and sets bit i of *after when hook i asked for
  // AfterLock().
  StoreHook* Report(uint32_t shard, Change change, const Entry& e, uint32_t* after) const;
  // Tells every hook that wants `interest` `call(hook)` (an OnAbsent /
  // OnClear reply) and sets the AfterLock() bits of *after as Report does.
  template <class Call>
  void ReportEach(StoreHook::Interests interest, Call&& call, uint32_t* after) const {
    for (size_t i = 0; i < hooks.size(); ++i)
      if ((hooks[i]->interests() & interest) == interest && (call(*hooks[i]) & StoreHook::kAfter) != 0)
        *after |= uint32_t{1} << i;
  }
};

// Entry count and memory of some shards (Shards::AddSizes).
struct ShardSizes {
  uint64_t entries = 0;
  uint64_t bytes = 0;       // entry headers (with their links) + keys + values
  uint64_t slot_bytes = 0;  // hash table slot arrays
};

// Room a write wants in the budget (Shards::Admit).
struct Need {
  int64_t entries = 0;
  int64_t bytes = 0;
};

// A store's shards and what they share: the budget, the eviction policy,
// the default TTL, the clock, the hook. The members that take a Shard& run
// under that shard's write lock (held by the caller) unless they say
// otherwise.
class Shards {
 public:
  // `name` (the store's, for messages) must outlive this.
  Shards(const Options& options, uint64_t seed, StoreHost host, std::string_view name);

  uint32_t count() const { return static_cast<uint32_t>(mask_ + 1); }
  uint32_t IndexOf(uint64_t hash) const { return static_cast<uint32_t>((hash >> 48) & mask_); }
  Shard& For(uint64_t hash) { return shards_[IndexOf(hash)]; }
  const Shard& For(uint64_t hash) const { return shards_[IndexOf(hash)]; }
  Shard& at(uint32_t i) { return shards_[i]; }
  const Shard& at(uint32_t i) const { return shards_[i]; }
  Shard* data() const { return shards_.get(); }

  const Budget& budget() const { return budget_; }
  bool sieve() const { return sieve_; }
  // The installed hooks, or null for none. Read under a shard lock; changed
  // only under every shard's write lock (Store::AddHook), so relaxed will do.
  const HookList* hooks() const { return hooks_.load(std::memory_order_relaxed); }
  void set_hooks(const HookList* hooks) { hooks_.store(hooks, std::memory_order_relaxed); }
  // Whether some installed hook wants `interest` (StoreHook::Interests).
  bool Wants(StoreHook::Interests interest) const {
    const HookList* list = hooks();
    return list != nullptr && (list->wants & interest) != 0;
  }

  // "Now" on the store's clock; whether `e`'s deadline has passed (the clock
  // is read only for entries that have one).
  int64_t Now() const { return host_.clock == nullptr ? SteadyNowNs() : host_.clock->NowNs(); }
  bool Expired(const Entry& e) const { return e.expires_at > 0 && e.expires_at <= Now(); }
  uint64_t Hash(std::string_view key) const { return HashBytes(key.data(), key.size(), seed_); }

  // True while some entry of the store may have a deadline.
  bool has_ttl() const { return has_ttl_.load(std::memory_order_acquire); }

  // Whether an entry with `expires_at` needs timer links (it has a
  // deadline, or will get the store's default one when linked).
  bool NeedsTimer(int64_t expires_at) const { return expires_at > 0 || (expires_at == kDefaultExpiry && ttl_ms_ != 0); }
  // With no lock held, before a write links `e` in: gives it the layout its
  // deadline needs (a copy with timer links, for an entry made without
  // them that has a deadline: Store::NewEntry makes entries that need none).
  void Fit(EntryPtr& e) const {
    if (NeedsTimer(e->expires_at) && !e->has_timer()) [[unlikely]]
      e = CopyEntry(*e, static_cast<uint8_t>(e->layout | kLayoutTimer));
  }
  // The earliest time (store's clock) at which a sweep of some shard has
  // work: the minimum of the shards' next_due. O(shards), no lock.
  int64_t NextDue() const;

  // A read hit, under the shared lock: counted, and marked visited for SIEVE
  // (a relaxed store, and only when not already set, so re-reads do not
  // write the entry's line).
  void Touch(const Shard& s, const Entry& e) const {
    s.hits.fetch_add(1, std::memory_order_relaxed);
    if (sieve_ && e.visited.load(std::memory_order_relaxed) == 0) e.visited.store(1, std::memory_order_relaxed);
  }

  // Reserves room in the store's budget for a write of `e` (replacing the
  // entry of its key, if any): kOk, and Link() must follow under the same
  // lock. Without a limit that is all. With one, expired entries of s go
  // first, then (SIEVE) other entries of s, never the key's own. Otherwise:
  //  - kTooBigForLimit: `e` alone passes maxBytes;
  //  - kNoRoom (only when `may_defer`): s has nothing more to give; the
  //    caller releases s's lock, calls MakeRoom(s, *need) and tries again;
  //  - kFullEntries / kFullBytes: the store is full (policy none; or SIEVE
  //    when nothing is left to evict: entries pinned by writes in flight).
  Status Admit(Shard& s, uint64_t hash, const Entry& e, Retired* r, bool may_defer, Need* need) {
    if (!budget_.limited()) return Status::kOk;
    return Reserve(s, hash, e, r, may_defer, need);
  }
  // Whether Admit may still answer kNoRoom, after `tries` calls of MakeRoom
  // of which `stalls` evicted nothing: once for policy none (the expired
  // entries of other shards), for as long as evictions make progress for
  // SIEVE.
  bool MayDefer(int tries, int stalls) const { return sieve_ ? stalls < kMaxStalls : tries == 0; }
  static constexpr int kMaxStalls = 100;
  // With no lock held: makes room elsewhere for a write that Admit (or
  // ReserveBatch) answered kNoRoom, after it took what it could from the
  // shards it writes to (`done`, ascending: they are skipped, so that an
  // atomic batch never evicts the keys it replaces): policy none takes the
  // expired entries out of every other shard; SIEVE evicts from other shards
  // until `need` fits. Returns false when it found nothing to take.
  bool MakeRoom(std::span<const uint32_t> done, Need need);
  // Links `e` (moved from) in with a new version, replacing and retiring
  // the entry of the same key; returns it. The room must be reserved
  // (Admit, or ReserveBatch for an atomic batch).
  Entry* Link(Shard& s, uint64_t hash, EntryPtr& e, Retired* r);
  // A limited store's fast path: Link() when the budget has room for what
  // `e` adds (reserving it), or nothing (null; `e` is left with the caller
  // and s as it was) when it has not: then Admit() makes the room.
  Entry* LinkIfItFits(Shard& s, uint64_t hash, EntryPtr& e, Retired* r);
  // Removes the entry of `key` and retires it for `cause`; an entry whose
  // deadline had passed is retired as kExpired whatever `cause`. Returns the
  // cause it was retired for, or kSet if the key was absent.
  Change Unlink(Shard& s, uint64_t hash, std::string_view key, Change cause, Retired* r);
  // A counter updated in place (only while no hook is installed: a hook
  // must see every entry it was shown leave): a new version.
  void Rewrote(Shard& s, Entry& e);
  // Sets e's deadline (kNoExpiry: none). e must have timer links, or get no
  // deadline (see Relink). May throw std::bad_alloc (the shard's wheel's
  // first allocation) before it changes anything.
  void SetDeadline(Shard& s, Entry& e, int64_t deadline, Retired* r);
  // Puts `copy` (a copy of `cur`, the live entry of its key, with timer
  // links: CopyEntry) in cur's place with the deadline `deadline` (> 0): same
  // version and value, no report to the hooks (a new deadline is no change
  // of value); cur is retired silently. The room copy adds (its links) must
  // be reserved (Admit). May throw std::bad_alloc before it changes anything.
  void Relink(Shard& s, uint64_t hash, Entry* cur, EntryPtr copy, int64_t deadline, Retired* r);
  // Raises s's version counter to at least `floor`, so that every version s
  // hands out from now on is greater (a restored snapshot's highest).
  static void RaiseVersion(Shard& s, uint64_t floor) {
    if (s.last_version < floor) s.last_version = floor;
  }
  // Gives `e` the store's default deadline if it still has kDefaultExpiry.
  void ResolveExpiry(Entry& e) const;

  // SIEVE: evicts unpinned entries of s until `need` can be reserved, and
  // reserves it: false when s ran out of entries to evict first.
  bool EvictFor(Shard& s, Need need, Retired* r);
  // Unlinks every expired entry of s (TimerWheel::ExpireDue: O(the expired
  // entries), no table walk).
  void PurgeExpired(Shard& s, Retired* r);
  // One pass of the background sweep over every shard (no lock may be
  // held): takes each shard's write lock for up to `budget` units of wheel
  // work at a time (an entry expired or moved down a level), releasing it
  // in between, until every entry whose deadline is <= now is unlinked.
  // Clears has_ttl() when no entry with a deadline is left. Returns how
  // many entries it removed.
  size_t SweepAll(size_t budget);

  // The writes that change no single entry, told to the hooks (StoreHook):
  // a delete or take of an absent key (under s's write lock), a clear or a
  // destroy (under every shard's write lock, before Drain), and the bounds
  // of an atomic batch (under its locks).
  void ReportAbsent(const Shard& s, uint64_t hash, std::string_view key, Retired* r) const {
    const HookList* list = hooks();
    if (list != nullptr && (list->wants & StoreHook::kAbsent) != 0)
      ReportEachTo(*list, StoreHook::kAbsent, r, [&](StoreHook& h) { return h.OnAbsent(s.index, hash, key); });
  }
  void ReportClear(bool destroy, Retired* r) const {
    if (const HookList* list = hooks()) ReportEachTo(*list, 0, r, [&](StoreHook& h) { return h.OnClear(destroy); });
  }
  void ReportGroup(bool begin) const {
    const HookList* list = hooks();
    if (list != nullptr && (list->wants & StoreHook::kGroups) != 0)
      for (StoreHook* h : list->hooks)
        if ((h->interests() & StoreHook::kGroups) != 0) h->OnGroup(begin);
  }

  // Empties s (its entries retired as kCleared); with `kill`, marks it dead.
  // Without a hook the whole table moves into `drained` (O(1) under the
  // lock; the caller frees it after).
  void Drain(Shard& s, bool kill, Retired* r, std::vector<Table>* drained);

  // Checks s's wheel against its table (tests): the wheel's invariants, and
  // every entry with a deadline on it (with timer links), none other. Under
  // s's lock, no sweep running. Empty when all hold, else what broke.
  std::string CheckTimers(const Shard& s) const;

  // Adds s's entries and memory to *out (expired entries left out: those
  // still on the wheel, TimerWheel::ForEachDue, so O(1) plus the expired
  // entries not yet swept). Under s's shared lock.
  void AddSizes(const Shard& s, ShardSizes* out) const;
  Budget& mutable_budget() { return budget_; }
  // Bytes of s as the byte limit counts them (the sum of its entries'
  // Entry::charge()). Under s's lock.
  static uint64_t Charged(const Shard& s) { return s.bytes + s.table.size() * (kSlotCharge + kMallocChunkHeader); }

 private:
  // The one function every change goes through: reports it to the hooks
  // that want it, if any; returns the hook that keeps an unlinked entry, or
  // null.
  StoreHook* Report(const Shard& s, Change change, const Entry& e, Retired* r) const {
    const HookList* list = hooks();
    if (list == nullptr || (list->wants & StoreHook::Wants(change)) == 0) return nullptr;
    if (list->only == nullptr) return ReportTo(*list, s, change, e, r);
    // One hook (the common case), which wants this change: called directly.
    const uint8_t reply = list->only->OnChange(s.index, change, e);
    return reply == StoreHook::kNothing ? nullptr : Replied(*list, change, reply, r);
  }
  // What the single hook's `reply` asks for: noted in r; the keeper, if any.
  static StoreHook* Replied(const HookList& list, Change change, uint8_t reply, Retired* r) {
    NoteAfter(list, (reply & StoreHook::kAfter) != 0 ? 1u : 0u, r);
    return (reply & StoreHook::kKeep) != 0 && change != Change::kSet ? list.only : nullptr;
  }
  StoreHook* ReportTo(const HookList& list, const Shard& s, Change change, const Entry& e, Retired* r) const;
  // SetDeadline's report (StoreHook::OnDeadline), before e's deadline changes.
  void ReportDeadline(const Shard& s, const Entry& e, Retired* r) const {
    const HookList* list = hooks();
    if (list != nullptr && (list->wants & StoreHook::kDeadlines) != 0)
      ReportEachTo(*list, StoreHook::kDeadlines, r, [&](StoreHook& h) { return h.OnDeadline(s.index, e); });
  }
  template <class Call>
  void ReportEachTo(const HookList& list, StoreHook::Interests interest, Retired* r, Call&& call) const {
    uint32_t after = 0;
    list.ReportEach(interest, call, &after);
    if (after != 0) NoteAfter(list, after, r);
  }
  // Hooks (bits of `list`) that asked for AfterLock(): r calls them once
  // the operation's locks are released. One list per operation: the list
  // changes only under every shard lock, and an operation's locks are held
  // across all of its reports.
  static void NoteAfter(const HookList& list, uint32_t after, Retired* r) {
    r->Rare();
    r->hooks_ = &list;
    r->after_ |= after;
  }
  // Link()'s bookkeeping of `raw`, just put in s's table in place of `old`.
  Entry* Linked(Shard& s, Entry* raw, Entry* old, Retired* r);
  // Admit() of a limited store.
  Status Reserve(Shard& s, uint64_t hash, const Entry& e, Retired* r, bool may_defer, Need* need);
  // MakeRoom's halves.
  void PurgeOthers(std::span<const uint32_t> done);
  bool EvictOthers(std::span<const uint32_t> done, Need need);
  // Which shards hold entries, one bit each (SIEVE with a limit: where
  // EvictOthers looks). Set and cleared under the shard's write lock; read
  // without it, as a hint.
  void MarkOccupied(const Shard& s, bool occupied);
  // Bookkeeping of an entry just taken out of s's table.
  // `release`: give its room back to the budget (not for an entry a write
  // replaces: the write reserved the difference).
  Change Retire(Shard& s, Entry* gone, Change cause, Retired* r, bool release = true);
  // Puts `e` (with a deadline, and timer links) on s's wheel, and wakes the
  // sweeper through r when that makes work due before it planned to look.
  void Schedule(Shard& s, Entry& e, Retired* r);
  // After s's wheel changed by a sweep, a purge or a clear: its next_due.
  static void Publish(Shard& s) { s.next_due.store(s.wheel.NextDue(), std::memory_order_seq_cst); }
  // Sweeps s (SweepAll); *left is set when entries with a deadline remain.
  size_t Sweep(Shard& s, size_t budget, bool* left);
  // Aborts: an entry not laid out by the store's NewEntry.
  [[noreturn]] void WrongLayout() const;
  // Aborts: an entry with a deadline and no timer links (not Fit()).
  [[noreturn]] void NoTimerLinks() const;

  const uint64_t mask_;
  const uint64_t seed_;
  const uint64_t ttl_ms_;
  Budget budget_;
  const bool sieve_;
  const StoreHost host_;
  const std::string_view name_;
  std::atomic<bool> has_ttl_{false};
  std::atomic<const HookList*> hooks_{nullptr};
  std::atomic<uint32_t> evict_cursor_{0};  // where EvictOthers starts looking
  std::unique_ptr<std::atomic<uint64_t>[]> occupied_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace threadkv
