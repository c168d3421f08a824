#include "store.h"

#include <utility>

namespace threadkv {

Store::Store(std::string name, const Options& options)
    : name_(std::move(name)),
      options_(options),
      seed_(HashSeed()),
      shard_mask_(options.shards == 0 ? 0 : options.shards - 1),
      shards_(new Shard[shard_mask_ + 1]) {}

Store::~Store() = default;

Status Store::Put(uint64_t hash, EntryPtr e, uint64_t* version) {
  const uint64_t added = e->footprint();
  EntryPtr old;  // destroyed after the lock guard below: frees outside the lock
  {
    Shard& s = ShardFor(hash);
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    const uint64_t v = ++s.last_version;
    e->version = v;
    old = s.table.Upsert(hash, std::move(e));
    s.bytes += added;
    if (old) s.bytes -= old->footprint();
    if (version != nullptr) *version = v;
  }
  return Status::kOk;
}

Status Store::Erase(std::string_view key, uint64_t hash) {
  EntryPtr old;
  {
    Shard& s = ShardFor(hash);
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    old = s.table.Erase(hash, key);
    if (!old) return Status::kNotFound;
    s.bytes -= old->footprint();
  }
  return Status::kOk;
}

Status Store::DrainAll(bool kill, std::vector<Table>* tables) {
  const size_t n = shard_mask_ + 1;
  std::vector<std::unique_lock<std::shared_mutex>> locks;
  locks.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    locks.emplace_back(shards_[i].mu);
    if (shards_[i].dead) return Status::kDestroyed;  // unlocks what was taken
  }
  // Tables are moved out under the locks; the caller frees them after.
  tables->reserve(tables->size() + n);
  for (size_t i = 0; i < n; ++i) {
    Shard& s = shards_[i];
    tables->push_back(std::move(s.table));
    s.bytes = 0;
    if (kill) s.dead = true;
  }
  return Status::kOk;
}

Status Store::Clear() {
  std::vector<Table> drained;
  return DrainAll(false, &drained);  // locks are released before `drained` is freed
}

void Store::Kill(std::vector<Table>* drained) { (void)DrainAll(true, drained); }

Status Store::Sizes(StoreSizes* out) const {
  const size_t n = shard_mask_ + 1;
  std::vector<std::shared_lock<std::shared_mutex>> locks;
  locks.reserve(n);
  StoreSizes sum;
  for (size_t i = 0; i < n; ++i) {
    locks.emplace_back(shards_[i].mu);
    const Shard& s = shards_[i];
    if (s.dead) return Status::kDestroyed;
    sum.entries += s.table.size();
    sum.bytes += s.bytes;
    sum.slot_bytes += s.table.slot_bytes();
  }
  *out = sum;
  return Status::kOk;
}

}  // namespace threadkv
