// The many-key operations of Store: ReadMany's lock order (its body is a
// template in store.h), PutMany and EraseMany.
#include <algorithm>
#include <vector>

#include "store.h"

namespace threadkv {

namespace {

// The shard indices of n hashes (hash_at(i)), in lock order.
template <class HashAt>
std::vector<uint32_t> OrderOf(const Shards& shards, size_t n, HashAt&& hash_at) {
  std::vector<uint32_t> indices;
  indices.reserve(n);
  for (size_t i = 0; i < n; ++i) indices.push_back(shards.IndexOf(hash_at(i)));
  return LockOrder(std::move(indices));
}

// The position of shard index `shard` in `order`.
size_t SlotOf(const std::vector<uint32_t>& order, uint32_t shard) {
  return static_cast<size_t>(std::lower_bound(order.begin(), order.end(), shard) - order.begin());
}

// The indices of the batch's distinct keys (the last occurrence of each: a
// later duplicate wins).
std::vector<size_t> LastOccurrences(std::span<const HashedEntry> entries) {
  std::vector<size_t> last(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) last[i] = i;
  auto same = [&](size_t x, size_t y) {
    return entries[x].hash == entries[y].hash && entries[x].entry->key() == entries[y].entry->key();
  };
  std::stable_sort(last.begin(), last.end(), [&](size_t x, size_t y) {
    if (entries[x].hash != entries[y].hash) return entries[x].hash < entries[y].hash;
    return entries[x].entry->key() < entries[y].entry->key();
  });
  size_t w = 0;
  for (size_t r = 0; r < last.size(); ++r)
    if (r + 1 == last.size() || !same(last[r], last[r + 1])) last[w++] = last[r];
  last.resize(w);
  return last;
}

// What a batch's distinct keys add to one shard.
struct Need {
  uint64_t entries = 0;  // keys not present yet
  uint64_t cost = 0;     // cost of the batch's entries
  uint64_t freed = 0;    // cost of the entries they replace
};

}  // namespace

std::vector<uint32_t> Store::LockOrderOf(std::span<const KeyRef> keys) const {
  return OrderOf(shards_, keys.size(), [&](size_t i) { return keys[i].hash; });
}

Status Store::PutMany(std::span<HashedEntry> entries, bool atomic, size_t* stored) {
  size_t ignored;
  size_t& n = stored != nullptr ? *stored : ignored;
  n = 0;
  if (atomic) {
    const Status st = PutManyAtomic(entries);
    if (st == Status::kOk) n = entries.size();
    return st;
  }
  // Counted as it goes, so that the count holds if std::bad_alloc escapes.
  for (HashedEntry& he : entries) {
    const Status st = Put(he.hash, std::move(he.entry));
    if (st != Status::kOk) return st;
    ++n;
  }
  return Status::kOk;
}

// An atomic batch, worked out before any lock: the lock order, how many
// entries go into each of its shards, and (with a limit) the batch's
// distinct keys.
struct Store::BatchPlan {
  std::vector<uint32_t> order;
  std::vector<size_t> counts;  // per position in `order`
  std::vector<size_t> last;    // with a limit: the last occurrence of each key
};

Status Store::PlanBatch(std::span<const HashedEntry> entries, BatchPlan* plan) const {
  plan->order = OrderOf(shards_, entries.size(), [&](size_t i) { return entries[i].hash; });
  plan->counts.assign(plan->order.size(), 0);
  for (const HashedEntry& he : entries) ++plan->counts[SlotOf(plan->order, shards_.IndexOf(he.hash))];
  const Budget& budget = shards_.budget();
  if (!budget.limited()) return Status::kOk;
  // A batch that alone passes a shard's budget can never fit (its own keys
  // are never evicted for it): refused up front.
  plan->last = LastOccurrences(entries);
  std::vector<Need> need(plan->order.size());
  for (size_t i : plan->last) {
    const Entry& e = *entries[i].entry;
    Need& k = need[SlotOf(plan->order, shards_.IndexOf(entries[i].hash))];
    ++k.entries;
    k.cost += Budget::Cost(e);
    if (budget.TooBig(e) || budget.Fits(0, 0, k.entries, k.cost, 0) != Status::kOk) return Status::kTooBigForLimit;
  }
  return Status::kOk;
}

Status Store::BatchFits(std::span<const HashedEntry> entries, const BatchPlan& plan, Retired* r) {
  const Budget& budget = shards_.budget();
  for (uint32_t shard : plan.order) {
    Shard& s = shards_.at(shard);
    auto fits = [&] {
      Need n;
      for (size_t i : plan.last) {
        if (shards_.IndexOf(entries[i].hash) != shard) continue;
        const Entry* cur = s.table.Find(entries[i].hash, entries[i].entry->key());
        n.cost += Budget::Cost(*entries[i].entry);
        if (cur == nullptr)
          ++n.entries;
        else
          n.freed += Budget::Cost(*cur);
      }
      return budget.Fits(s.table.size(), Shards::Charged(s), n.entries, n.cost, n.freed);
    };
    Status st = fits();
    if (st != Status::kOk && s.ttl_entries != 0) {
      // Expired entries still take room until swept: purged first
      // (invisible already, so nothing observable changes).
      shards_.PurgeExpired(s, r);
      st = fits();
    }
    if (st != Status::kOk) return st;
  }
  return Status::kOk;
}

Status Store::PutManyAtomic(std::span<HashedEntry> entries) {
  // Everything that allocates happens before the locks.
  BatchPlan plan;
  if (const Status st = PlanBatch(entries, &plan); st != Status::kOk) return st;
  std::vector<Entry*> linked(entries.size(), nullptr);  // to unpin after eviction
  Retired retired;                                      // replaced and evicted entries, freed after the locks
  ShardLocks<true> locks(shards_.data(), plan.order);
  if (!locks.ok()) return Status::kDestroyed;
  // Policy none: the batch must fit as it is, or nothing is written.
  if (shards_.budget().limited() && !shards_.sieve())
    if (const Status st = BatchFits(entries, plan, &retired); st != Status::kOk) return st;
  // Room first: if this throws, no entry has been linked in (a table may
  // have grown, which changes nothing visible).
  for (size_t k = 0; k < plan.order.size(); ++k) {
    Table& t = shards_.at(plan.order[k]).table;
    t.Reserve(t.size() + plan.counts[k]);
  }
  // From here nothing allocates, so nothing can fail halfway. Each entry is
  // pinned so that the eviction below never removes a key of this batch.
  // The hooks see the batch's changes as one group.
  shards_.ReportGroup(true);
  for (size_t i = 0; i < entries.size(); ++i) {
    linked[i] = shards_.LinkOnly(shards_.For(entries[i].hash), entries[i].hash, entries[i].entry, &retired);
    linked[i]->pinned = 1;
  }
  if (shards_.sieve())
    for (uint32_t i : plan.order) shards_.EvictToFit(shards_.at(i), &retired);
  shards_.ReportGroup(false);
  for (Entry* raw : linked) raw->pinned = 0;  // a replaced duplicate is still ours until freed
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
  Retired retired;  // freed after the locks
  ShardLocks<true> locks(shards_.data(), LockOrderOf(keys));
  if (!locks.ok()) return Status::kDestroyed;
  shards_.ReportGroup(true);
  for (const KeyRef& k : keys) {
    Shard& s = shards_.For(k.hash);
    if (shards_.Unlink(s, k.hash, k.key, Change::kDeleted, &retired) == Change::kDeleted)
      ++n;
    else
      shards_.ReportAbsent(s, k.hash, k.key, &retired);
  }
  shards_.ReportGroup(false);
  *erased = n;
  return Status::kOk;
}

}  // namespace threadkv
