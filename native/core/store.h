// A named store: a fixed array of shards, each a hash table behind its own
// std::shared_mutex. Readers of a shard share its lock; writers take it
// exclusively, and only for the table update itself: entries are allocated
// before the lock and freed after it.
//
// Concurrency: every member function may be called from any thread at any
// time, including concurrently with Destroy(). Each single-key operation
// takes exactly one shard lock; Clear() and Size() take every shard lock in
// ascending index order (the one global lock order), so they are atomic.
// No callback passed to Read() may call back into the store.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
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
  uint64_t last_version = 0;  // versions handed out by this shard
  bool dead = false;          // set by Store::Destroy under the write lock
};

struct StoreSizes {
  uint64_t entries = 0;
  uint64_t bytes = 0;       // entry headers + keys + values
  uint64_t slot_bytes = 0;  // hash table slot arrays
};

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
  // lock is released.
  Status Put(uint64_t hash, EntryPtr e, uint64_t* version = nullptr);

  // Removes `key`. kOk if it was present, kNotFound if not.
  Status Erase(std::string_view key, uint64_t hash);

  // Removes every entry, atomically with respect to every other operation.
  Status Clear();

  // Entry count and memory, atomically with respect to every other operation.
  Status Sizes(StoreSizes* out) const;

  // Marks every shard dead and moves all entries into `drained`, for the
  // caller to free outside its locks. Called once, by the Registry, under its
  // lock, so that no open() can see the name between removal and death.
  // Operations on any handle return kDestroyed afterwards.
  void Kill(std::vector<Table>* drained);

 private:
  Shard& ShardFor(uint64_t hash) { return shards_[(hash >> 48) & shard_mask_]; }
  const Shard& ShardFor(uint64_t hash) const { return shards_[(hash >> 48) & shard_mask_]; }

  // Takes every shard's write lock in index order and moves every table into
  // `tables` (marking the shards dead if `kill`); the caller frees them after
  // the locks are released.
  Status DrainAll(bool kill, std::vector<Table>* tables);

  const std::string name_;
  const Options options_;
  const uint64_t seed_;
  const uint64_t shard_mask_;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace threadkv
