#include "store.h"

#include <cstring>
#include <utility>

#include "hash.h"

namespace threadkv {

namespace {

// The sum Increment stores: what `cur` holds (null: absent, 0) plus delta.
Status Next(const Entry* cur, double delta, Number* next) {
  Number now;
  if (cur != nullptr && !ReadNumber(*cur, &now)) return Status::kNotNumber;
  return AddToCounter(cur != nullptr ? &now : nullptr, delta, next);
}

}  // namespace

Store::Store(std::string name, const Options& options, StoreHost host)
    : name_(std::move(name)), options_(options), shards_(options, HashSeed(), host, name_) {}

Status Store::Put(uint64_t hash, EntryPtr e, uint64_t* version, Retired* after) {
  Retired retired;  // freed after the lock (as is `e` when refused)
  return Write(shards_.For(hash), hash, e, after != nullptr ? after : &retired, version,
               [](Shard&) { return Status::kOk; });
}

Status Store::CompareAndPut(uint64_t hash, EntryPtr e, uint64_t expected, uint64_t* version) {
  Retired retired;
  auto match = [&](Shard& s) {
    const Entry* cur = Live(s, hash, e->key());
    const bool ok = expected == kExpectAbsent ? cur == nullptr : cur != nullptr && cur->version == expected;
    return ok ? Status::kOk : Status::kMismatch;
  };
  return Write(shards_.For(hash), hash, e, &retired, version, match);
}

Status Store::Erase(std::string_view key, uint64_t hash, Retired* after) {
  Retired retired;
  Shard& s = shards_.For(hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  Retired* r = after != nullptr ? after : &retired;
  const Change done = shards_.Unlink(s, hash, key, Change::kDeleted, r);
  if (done == Change::kDeleted) return Status::kOk;
  shards_.ReportAbsent(s, hash, key, r);  // an expired entry was absent
  return Status::kNotFound;
}

Status Store::CompareAndErase(std::string_view key, uint64_t hash, uint64_t expected) {
  Retired retired;
  Shard& s = shards_.For(hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  const Entry* cur = Live(s, hash, key);
  if (cur == nullptr) return Status::kNotFound;
  if (cur->version != expected) return Status::kMismatch;
  shards_.Unlink(s, hash, key, Change::kDeleted, &retired);
  return Status::kOk;
}

Status Store::Increment(std::string_view key, uint64_t hash, double delta, Number* result, uint64_t* version) {
  Shard& s = shards_.For(hash);
  Number next;
  bool timer = false;  // the new entry needs timer links (the counter has a deadline)
  {
    // The hot path: a present counter, overwritten in place (readers are
    // shut out by the write lock, and copy under their shared lock). A hook
    // must see the old entry leave, so with one the counter is replaced.
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    Entry* cur = Live(s, hash, key);
    const Status st = Next(cur, delta, &next);
    if (st != Status::kOk) return st;
    if (cur != nullptr && HoldsNumberInPlace(*cur) && shards_.hooks() == nullptr) {
      WriteNumber(*cur, next);
      shards_.Rewrote(s, *cur);
      if (version != nullptr) *version = cur->version;
      *result = next;
      return Status::kOk;
    }
    timer = cur != nullptr && cur->HasDeadline();
  }
  // A new entry, allocated outside the lock; the sum is made again under
  // the lock, from what the key holds then. It keeps the counter's
  // deadline, so it needs timer links if the counter has one by then: if
  // it got one meanwhile, once more with them.
  for (;;) {
    EntryPtr fresh =
        MakeEntry(key, kNumberBytes, Kind::kInt64, 0, shards_.sieve(), timer || shards_.NeedsTimer(kDefaultExpiry));
    bool relayout = false;
    Retired retired;
    const Status st = Write(s, hash, fresh, &retired, version, [&](Shard& w) {
      const Entry* cur = Live(w, hash, key);
      if (cur != nullptr && cur->HasDeadline() && !fresh->has_timer()) {
        relayout = true;
        return Status::kMismatch;  // (not returned: tried again below)
      }
      const Status sum = Next(cur, delta, &next);
      if (sum != Status::kOk) return sum;
      WriteNumber(*fresh, next);
      fresh->expires_at = cur != nullptr ? cur->expires_at : kDefaultExpiry;  // a counter keeps its deadline
      return Status::kOk;
    });
    if (relayout) {
      timer = true;
      continue;
    }
    if (st == Status::kOk) *result = next;
    return st;
  }
}

Status Store::DrainAll(bool kill, std::vector<Table>* drained) {
  drained->reserve(drained->size() + shards_.count());  // no allocation under the locks
  Retired retired;
  ShardLocks<true> locks(shards_.data(), shards_.count());
  if (!locks.ok()) return Status::kDestroyed;
  shards_.ReportClear(kill, &retired);
  for (uint32_t i = 0; i < shards_.count(); ++i) shards_.Drain(shards_.at(i), kill, &retired, drained);
  return Status::kOk;
}

Status Store::Clear() {
  std::vector<Table> drained;  // freed after the locks
  return DrainAll(false, &drained);
}

Status Store::RaiseVersions(uint64_t floor) {
  for (uint32_t i = 0; i < shards_.count(); ++i) {
    Shard& s = shards_.at(i);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    Shards::RaiseVersion(s, floor);
  }
  return Status::kOk;
}

Status Store::ReserveMore(std::span<const size_t> more) {
  for (uint32_t i = 0; i < shards_.count() && i < more.size(); ++i) {
    if (more[i] == 0) continue;
    Shard& s = shards_.at(i);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    s.table.Reserve(s.table.size() + more[i]);
  }
  return Status::kOk;
}

void Store::Kill(std::vector<Table>* drained) {
  (void)DrainAll(true, drained);
  destroyed_.store(true, std::memory_order_release);
}

Status Store::Sizes(StoreSizes* out) const {
  ShardLocks<false> locks(shards_.data(), shards_.count());
  if (!locks.ok()) return Status::kDestroyed;
  StoreSizes sum;
  for (uint32_t i = 0; i < shards_.count(); ++i) shards_.AddSizes(shards_.at(i), &sum);
  *out = sum;
  return Status::kOk;
}

Status Store::Stats(StoreStats* out) const {
  StoreStats sum;
  // A limited store keeps its totals in its budget, exact for the whole
  // store at one instant (a sum over the shards read in turn is not: it
  // may count an entry evicted from a shard already read beside the one
  // that replaced it in a later shard).
  const bool limited = shards_.budget().limited();
  if (limited) shards_.budget().Used(&sum.entries, &sum.bytes);
  for (uint32_t i = 0; i < shards_.count(); ++i) {
    const Shard& s = shards_.at(i);
    std::shared_lock lock(s.mu);  // not counted as contention: stats are not the workload
    if (s.dead) return Status::kDestroyed;
    if (!limited) {
      sum.entries += s.table.size();
      sum.bytes += Shards::Charged(s);
    }
    sum.hits += s.hits.load(std::memory_order_relaxed);
    sum.misses += s.misses.load(std::memory_order_relaxed);
    sum.sets += s.sets;
    sum.deletes += s.deletes;
    sum.evictions += s.evictions;
    sum.expirations += s.expirations;
    sum.contended_reads += s.contended_reads.load(std::memory_order_relaxed);
    sum.contended_writes += s.contended_writes.load(std::memory_order_relaxed);
    sum.expiry_cascades += s.cascades;
    sum.sweeps += s.sweeps;
  }
  *out = sum;
  return Status::kOk;
}

Status Store::Expire(std::string_view key, uint64_t hash, int64_t deadline, uint64_t* cost) {
  Retired retired;  // wakes the sweeper after the lock, frees a replaced entry
  Shard& s = shards_.For(hash);
  // An entry without timer links that gets a deadline is replaced by a copy
  // with them: allocated with no lock held, filled under the shared lock,
  // and put in place under the write lock if the entry is still the one
  // copied (same block, same version); otherwise all again.
  EntryPtr copy;
  const Entry* source = nullptr;
  for (int tries = 0, stalls = 0;;) {
    Need need;
    size_t value_size = 0;
    bool make = false;
    {
      auto lock = WriteLock(s);
      if (s.dead) return Status::kDestroyed;
      Entry* cur = Live(s, hash, key);
      if (cur == nullptr) return Status::kNotFound;
      if (cur->has_timer() || deadline <= 0) {
        shards_.SetDeadline(s, *cur, deadline, &retired);
        return Status::kOk;
      }
      if (copy != nullptr && cur == source && copy->version == cur->version) {
        // Room for the links (in a store with maxBytes), as a write makes it.
        if (cost != nullptr) *cost = copy->charge();
        const Status st = shards_.Admit(s, hash, *copy, &retired, shards_.MayDefer(tries, stalls), &need);
        if (st != Status::kOk && st != Status::kNoRoom) return st;
        if (st == Status::kOk) {
          if (s.table.Find(hash, key) != cur || shards_.Expired(*cur)) {
            // It expired while the room was made (and may be gone).
            shards_.mutable_budget().Release(static_cast<uint64_t>(need.entries), static_cast<uint64_t>(need.bytes));
            return Status::kNotFound;
          }
          shards_.Relink(s, hash, cur, std::move(copy), deadline, &retired);
          return Status::kOk;
        }
      } else {
        make = true;
        value_size = cur->value_size;
      }
    }
    if (!make) {
      // No room yet: taken from other shards with no lock held, then again.
      if (!shards_.MakeRoom({&s.index, 1}, need)) ++stalls;
      ++tries;
      continue;
    }
    copy = MakeEntry(key, value_size, Kind::kBytes, 0, shards_.sieve(), /*with_timer=*/true);
    source = nullptr;
    auto lock = ReadLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = Live(s, hash, key);
    if (cur == nullptr) return Status::kNotFound;
    if (cur->value_size != value_size) continue;  // changed meanwhile: made again
    if (value_size != 0) std::memcpy(copy->value_data(), cur->value_data(), value_size);
    copy->kind = cur->kind;
    copy->flags = cur->flags;
    copy->version = cur->version;
    copy->expires_at = cur->expires_at;
    source = cur;
  }
}

std::string Store::CheckTimers() const {
  for (uint32_t i = 0; i < shards_.count(); ++i) {
    auto lock = ReadLock(shards_.at(i));
    if (std::string broken = shards_.CheckTimers(shards_.at(i)); !broken.empty()) return broken;
  }
  return "";
}

Status Store::AddHook(std::shared_ptr<StoreHook> hook) {
  std::lock_guard guard(hooks_mu_);
  hooks_.push_back(hook);  // kept until the store is destroyed
  return InstallHooks(hook.get(), nullptr);
}

Status Store::RemoveHook(const StoreHook* hook) {
  std::lock_guard guard(hooks_mu_);
  return InstallHooks(nullptr, hook);
}

Status Store::InstallHooks(StoreHook* add, const StoreHook* remove) {
  // The new list is made before the locks (no allocation under them).
  auto list = std::make_unique<HookList>();
  if (const HookList* now = lists_.empty() ? nullptr : lists_.back().get()) list->hooks = now->hooks;
  std::erase(list->hooks, remove);
  if (add != nullptr) {
    if (list->hooks.size() == HookList::kMax) return Status::kFullEntries;
    list->hooks.push_back(add);
  }
  list->Sum();
  const HookList* next = list->hooks.empty() ? nullptr : list.get();
  lists_.push_back(std::move(list));
  ShardLocks<true> locks(shards_.data(), shards_.count());
  if (!locks.ok()) return Status::kDestroyed;
  shards_.set_hooks(next);
  // One instant for every shard: the added hook hears every change after it.
  if (add != nullptr)
    for (uint32_t i = 0; i < shards_.count(); ++i) add->OnInstall(i, shards_.at(i).last_version);
  return Status::kOk;
}

}  // namespace threadkv
