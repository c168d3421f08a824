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
  bool timers = false;         // some entry has timer links (the wheels are reserved)
};

Status Store::PlanBatch(std::span<const HashedEntry> entries, BatchPlan* plan) const {
  plan->order = OrderOf(shards_, entries.size(), [&](size_t i) { return entries[i].hash; });
  plan->counts.assign(plan->order.size(), 0);
  for (const HashedEntry& he : entries) {
    ++plan->counts[SlotOf(plan->order, shards_.IndexOf(he.hash))];
    plan->timers = plan->timers || he.entry->has_timer();
  }
  const Budget& budget = shards_.budget();
  if (!budget.limited()) return Status::kOk;
  // A batch that alone passes a limit can never fit (its own keys are never
  // evicted for it): refused up front.
  plan->last = LastOccurrences(entries);
  uint64_t bytes = 0;
  for (size_t i : plan->last) bytes += entries[i].entry->charge();
  if ((budget.max_entries() != 0 && plan->last.size() > budget.max_entries()) || budget.TooBig(bytes))
    return Status::kTooBigForLimit;
  return Status::kOk;
}

Status Store::ReserveBatch(std::span<const HashedEntry> entries, const BatchPlan& plan, Retired* r, bool may_defer,
                           Need* need) {
  // What the batch adds, its keys' current entries replaced.
  auto reserve = [&] {
    *need = Need{};
    for (size_t i : plan.last) {
      const Entry* cur = shards_.For(entries[i].hash).table.Find(entries[i].hash, entries[i].entry->key());
      need->entries += cur == nullptr ? 1 : 0;
      need->bytes +=
          static_cast<int64_t>(entries[i].entry->charge()) - (cur == nullptr ? 0 : static_cast<int64_t>(cur->charge()));
    }
    return shards_.mutable_budget().TryReserve(need->entries, need->bytes);
  };
  if (reserve()) return Status::kOk;
  // Expired entries of the batch's shards go first, then (SIEVE) other
  // entries of those shards, never a key of the batch.
  for (uint32_t shard : plan.order) shards_.PurgeExpired(shards_.at(shard), r);
  if (reserve()) return Status::kOk;
  if (shards_.sieve()) {
    PinBatchKeys(entries, plan, 1);
    bool done = false;
    for (size_t k = 0; k < plan.order.size() && !done; ++k)
      done = shards_.EvictFor(shards_.at(plan.order[k]), *need, r);
    PinBatchKeys(entries, plan, 0);
    if (done) return Status::kOk;
  }
  if (may_defer && (shards_.sieve() || shards_.has_ttl())) return Status::kNoRoom;
  return shards_.budget().Refusal(need->entries);
}

void Store::PinBatchKeys(std::span<const HashedEntry> entries, const BatchPlan& plan, uint8_t pin) {
  for (size_t i : plan.last)
    if (Entry* cur = shards_.For(entries[i].hash).table.Find(entries[i].hash, entries[i].entry->key()))
      cur->pinned = pin;
}

Status Store::LinkBatch(std::span<HashedEntry> entries, const BatchPlan& plan, Retired* r, bool may_defer, Need* need) {
  ShardLocks<true> locks(shards_.data(), plan.order);
  if (!locks.ok()) return Status::kDestroyed;
  // Room in the tables first: if this throws, nothing has changed (a table
  // may have grown, which nothing can see).
  for (size_t k = 0; k < plan.order.size(); ++k) {
    Shard& s = shards_.at(plan.order[k]);
    s.table.Reserve(s.table.size() + plan.counts[k]);
    if (plan.timers) s.wheel.Reserve();
  }
  if (shards_.budget().limited())
    if (const Status st = ReserveBatch(entries, plan, r, may_defer, need); st != Status::kOk) return st;
  // From here nothing allocates, so nothing can fail halfway. The hooks see
  // the batch's changes as one group (watch: consecutive seqs in one batch).
  shards_.ReportGroup(true);
  for (HashedEntry& he : entries) shards_.Link(shards_.For(he.hash), he.hash, he.entry, r);
  shards_.ReportGroup(false);
  return Status::kOk;
}

Status Store::PutManyAtomic(std::span<HashedEntry> entries) {
  // Everything that allocates happens before the locks.
  for (HashedEntry& he : entries) shards_.Fit(he.entry);
  BatchPlan plan;
  if (const Status st = PlanBatch(entries, &plan); st != Status::kOk) return st;
  Retired retired;  // replaced and evicted entries, freed after the locks
  for (int tries = 0, stalls = 0;; ++tries) {
    Need need;
    const Status st = LinkBatch(entries, plan, &retired, shards_.MayDefer(tries, stalls), &need);
    if (st != Status::kNoRoom) return st;
    // With every lock released: room from the other shards, then again.
    if (!shards_.MakeRoom(plan.order, need)) ++stalls;
  }
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
