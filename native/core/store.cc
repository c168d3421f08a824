#include "store.h"

#include <cmath>
#include <utility>

namespace threadkv {

Store::Store(std::string name, const Options& options)
    : name_(std::move(name)),
      options_(options),
      seed_(HashSeed()),
      shard_mask_(options.shards == 0 ? 0 : options.shards - 1),
      shards_(new Shard[shard_mask_ + 1]) {}

Store::~Store() = default;

Status AddToCounter(const Number* current, double delta, Number* result) {
  if (!std::isfinite(delta)) return Status::kOutOfRange;
  const Number cur = current != nullptr ? *current : Number::Int(0);
  const double cur_value = cur.value();
  const bool cur_integral =
      cur.kind == Kind::kInt64 || (std::isfinite(cur_value) && std::trunc(cur_value) == cur_value);
  const bool delta_integral = std::trunc(delta) == delta;
  if (cur_integral && delta_integral) {
    constexpr double kMax = static_cast<double>(kMaxSafeInteger);
    if (std::fabs(delta) > kMax) return Status::kOutOfRange;
    int64_t a;
    if (cur.kind == Kind::kInt64) {
      a = cur.i;
    } else {
      if (std::fabs(cur_value) > kMax) return Status::kOutOfRange;
      a = static_cast<int64_t>(cur_value);
    }
    if (a > kMaxSafeInteger || a < -kMaxSafeInteger) return Status::kOutOfRange;
    const int64_t sum = a + static_cast<int64_t>(delta);  // |a|, |delta| < 2^53: no overflow
    if (sum > kMaxSafeInteger || sum < -kMaxSafeInteger) return Status::kOutOfRange;
    *result = Number::Int(sum);
    return Status::kOk;
  }
  const double sum = cur_value + delta;
  if (!std::isfinite(sum)) return Status::kOutOfRange;
  *result = Number::Float(sum);
  return Status::kOk;
}

Status Store::Put(uint64_t hash, EntryPtr e, uint64_t* version, EntryPtr* replaced) {
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
  if (replaced != nullptr) *replaced = std::move(old);
  return Status::kOk;
}

Status Store::CompareAndPut(uint64_t hash, EntryPtr e, uint64_t expected, uint64_t* version) {
  const uint64_t added = e->footprint();
  EntryPtr old;  // the replaced entry, or `e` itself on a mismatch: freed after the lock
  {
    Shard& s = ShardFor(hash);
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = s.table.Find(hash, e->key());
    const bool match = expected == kExpectAbsent ? cur == nullptr : cur != nullptr && cur->version == expected;
    if (!match) {
      old = std::move(e);
    } else {
      const uint64_t v = ++s.last_version;
      e->version = v;
      old = s.table.Upsert(hash, std::move(e));
      s.bytes += added;
      if (old) s.bytes -= old->footprint();
      if (version != nullptr) *version = v;
      return Status::kOk;
    }
  }
  return Status::kMismatch;
}

Status Store::Erase(std::string_view key, uint64_t hash, EntryPtr* removed) {
  EntryPtr old;
  {
    Shard& s = ShardFor(hash);
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    old = s.table.Erase(hash, key);
    if (!old) return Status::kNotFound;
    s.bytes -= old->footprint();
  }
  if (removed != nullptr) *removed = std::move(old);
  return Status::kOk;
}

Status Store::CompareAndErase(std::string_view key, uint64_t hash, uint64_t expected) {
  EntryPtr old;
  {
    Shard& s = ShardFor(hash);
    std::unique_lock lock(s.mu);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = s.table.Find(hash, key);
    if (cur == nullptr) return Status::kNotFound;
    if (cur->version != expected) return Status::kMismatch;
    old = s.table.Erase(hash, key);
    s.bytes -= old->footprint();
  }
  return Status::kOk;
}

Status Store::Increment(std::string_view key, uint64_t hash, double delta, Number* result, uint64_t* version) {
  const bool json_text = options_.codec == Codec::kJson;
  EntryPtr fresh;  // a new entry, allocated outside the lock when one is needed
  EntryPtr old;    // a replaced entry: freed after the lock
  for (;;) {
    {
      Shard& s = ShardFor(hash);
      std::unique_lock lock(s.mu);
      if (s.dead) return Status::kDestroyed;
      Entry* cur = s.table.Find(hash, key);
      Number now;
      if (cur != nullptr && !ReadNumber(*cur, json_text, &now)) return Status::kNotNumber;
      Number next;
      const Status st = AddToCounter(cur != nullptr ? &now : nullptr, delta, &next);
      if (st != Status::kOk) return st;
      if (cur != nullptr && HoldsNumberInPlace(*cur)) {
        // The hot path: overwrite the 8 bytes in place (readers are shut out
        // by the write lock, and copy under their shared lock).
        WriteNumber(*cur, next);
        cur->version = ++s.last_version;
        if (version != nullptr) *version = cur->version;
        *result = next;
        return Status::kOk;
      }
      if (fresh) {
        WriteNumber(*fresh, next);
        const uint64_t added = fresh->footprint();
        const uint64_t v = ++s.last_version;
        fresh->version = v;
        old = s.table.Upsert(hash, std::move(fresh));
        s.bytes += added;
        if (old) s.bytes -= old->footprint();
        if (version != nullptr) *version = v;
        *result = next;
        return Status::kOk;
      }
    }
    // The key is absent (or holds a number in another form, as JSON text):
    // allocate outside the lock, then look again.
    fresh = MakeEntry(key, kNumberBytes, Kind::kInt64);
  }
}

Status Store::PutMany(std::span<HashedEntry> entries, bool atomic) {
  if (!atomic) {
    for (HashedEntry& he : entries) {
      const Status st = Put(he.hash, std::move(he.entry));
      if (st != Status::kOk) return st;
    }
    return Status::kOk;
  }
  // Everything that allocates happens before the locks: the lock order, the
  // per-shard counts, room for the replaced entries.
  const std::vector<uint32_t> order = ShardsInOrder(entries.size(), [&](size_t i) { return entries[i].hash; });
  std::vector<size_t> counts(order.size(), 0);
  for (const HashedEntry& he : entries) {
    const auto it = std::lower_bound(order.begin(), order.end(), ShardIndex(he.hash));
    ++counts[static_cast<size_t>(it - order.begin())];
  }
  std::vector<EntryPtr> replaced;  // declared before the locks: freed after them
  replaced.reserve(entries.size());
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(order.size());
    for (uint32_t i : order) {
      locks.emplace_back(shards_[i].mu);
      if (shards_[i].dead) return Status::kDestroyed;
    }
    // Room first: if this throws, no entry has been linked in (a table may
    // have grown, which changes nothing visible).
    for (size_t k = 0; k < order.size(); ++k) {
      Table& t = shards_[order[k]].table;
      t.Reserve(t.size() + counts[k]);
    }
    // From here nothing allocates, so nothing can fail halfway.
    for (HashedEntry& he : entries) {
      Shard& s = ShardFor(he.hash);
      he.entry->version = ++s.last_version;
      s.bytes += he.entry->footprint();
      EntryPtr old = s.table.Upsert(he.hash, std::move(he.entry));
      if (old) {
        s.bytes -= old->footprint();
        replaced.push_back(std::move(old));
      }
    }
  }
  return Status::kOk;
}

Status Store::EraseMany(std::span<const KeyRef> keys, bool atomic, size_t* erased) {
  size_t n = 0;
  if (!atomic) {
    for (const KeyRef& k : keys) {
      const Status st = Erase(k.key, k.hash);
      if (st == Status::kOk) ++n;
      if (st == Status::kDestroyed) return st;
    }
    *erased = n;
    return Status::kOk;
  }
  const std::vector<uint32_t> order = ShardsInOrder(keys.size(), [&](size_t i) { return keys[i].hash; });
  std::vector<EntryPtr> removed;  // freed after the locks
  removed.reserve(keys.size());
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(order.size());
    for (uint32_t i : order) {
      locks.emplace_back(shards_[i].mu);
      if (shards_[i].dead) return Status::kDestroyed;
    }
    for (const KeyRef& k : keys) {
      Shard& s = ShardFor(k.hash);
      EntryPtr old = s.table.Erase(k.hash, k.key);  // never throws (shrinking is best effort)
      if (!old) continue;
      s.bytes -= old->footprint();
      removed.push_back(std::move(old));
      ++n;
    }
  }
  *erased = n;
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

void Store::Kill(std::vector<Table>* drained) {
  (void)DrainAll(true, drained);
  destroyed_.store(true, std::memory_order_release);
}

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
