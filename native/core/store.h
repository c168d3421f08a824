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
#include "hash.h"
#include "options.h"
#include "status.h"
#include "table.h"

namespace threadkv {

// Cache-line sized so that two shards' locks never share a line.
struct alignas(64) Shard {
  mutable std::shared_mutex mu;
  Table table;
  uint64_t bytes = 0;         // sum of Entry::footprint() of live entries
  uint64_t last_version = 0;  // versions handed out by this shard (never reset)
  bool dead = false;          // set by Store::Destroy under the write lock
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
    std::shared_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    const Entry* e = s.table.Find(hash, key);
    if (e == nullptr) return Status::kNotFound;
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
      std::shared_lock lock(s.mu);
      if (s.dead) return Status::kDestroyed;
      if (const Entry* cur = s.table.Find(hash, e->key())) {
        fn(*cur);
        return Status::kExists;
      }
    }
    const uint64_t added = e->footprint();
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    if (const Entry* cur = s.table.Find(hash, e->key())) {
      fn(*cur);
      return Status::kExists;  // `e` is freed after `lock` is released
    }
    const uint64_t v = ++s.last_version;
    e->version = v;
    (void)s.table.Upsert(hash, std::move(e));  // absent: nothing is replaced
    s.bytes += added;
    if (version != nullptr) *version = v;
    return Status::kOk;
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
      locks.emplace_back(shards_[i].mu);
      if (shards_[i].dead) return Status::kDestroyed;
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      const Entry* e = ShardFor(keys[i].hash).table.Find(keys[i].hash, keys[i].key);
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
    std::shared_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    s.table.ForEach([&](const Entry& e) {
      if (e.key().starts_with(prefix)) fn(e);
    });
    return Status::kOk;
  }

  // The shard a key's hash falls in (Scan's index space).
  uint32_t ShardIndex(uint64_t hash) const { return static_cast<uint32_t>((hash >> 48) & shard_mask_); }

  // Removes every entry, atomically with respect to every other operation.
  Status Clear();

  // Entry count and memory, atomically with respect to every other operation.
  Status Sizes(StoreSizes* out) const;

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

  // Takes every shard's write lock in index order and moves every table into
  // `tables` (marking the shards dead if `kill`); the caller frees them after
  // the locks are released.
  Status DrainAll(bool kill, std::vector<Table>* tables);

  const std::string name_;
  const Options options_;
  const uint64_t seed_;
  const uint64_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
  std::atomic<bool> destroyed_{false};
};

}  // namespace threadkv
