#include "store.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <utility>

#include "sweeper.h"

namespace threadkv {

Store::Store(std::string name, const Options& options)
    : name_(std::move(name)),
      options_(options),
      seed_(HashSeed()),
      shard_mask_(options.shards == 0 ? 0 : options.shards - 1),
      shard_max_entries_(options.max_entries == 0 ? 0 : (options.max_entries + shard_mask_) / (shard_mask_ + 1)),
      shard_max_bytes_(options.max_bytes == 0 ? 0 : (options.max_bytes + shard_mask_) / (shard_mask_ + 1)),
      sieve_(options.eviction == EvictionPolicy::kSieve && (options.max_entries != 0 || options.max_bytes != 0)),
      shards_(new Shard[shard_mask_ + 1]) {
  // Huge tables recompute home slots from keys: with this store's seed.
  for (size_t i = 0; i <= shard_mask_; ++i) shards_[i].table = Table(seed_);
}

Store::~Store() = default;

Evicted::~Evicted() {
  EntryDeleter del;
  while (head_ != nullptr) {
    Entry* next = head_->next_unlinked;
    del(head_);
    head_ = next;
  }
  if (wake_sweeper_) Sweeper::Notify();
  if (wake_watchers_) WatchHub::AfterLock();
}

void Store::OnLink(Shard& s, Entry* e, Evicted* after) {
  Enqueue(s, e);
  if (e->HasDeadline()) {
    ++s.ttl_entries;
    // Set under the lock, so that a sweep pass that clears the flag either
    // sees this entry or leaves the flag set for it (see SweepExpired).
    if (!has_ttl_.exchange(true, std::memory_order_acq_rel)) after->WakeSweeper();
  }
}

void Store::OnUnlink(Shard& s, Entry* e) const {
  Dequeue(s, e);
  if (e->HasDeadline()) --s.ttl_entries;
}

void Store::ResolveExpiry(Entry* e) const {
  if (e->expires_at != kDefaultExpiry) return;
  e->expires_at = options_.ttl_ms == 0 ? kNoExpiry : DeadlineIn(static_cast<double>(options_.ttl_ms));
}

int64_t Store::DeadlineIn(double ttl_ms) {
  const double ns = ttl_ms * 1e6;
  const double now = static_cast<double>(SteadyNowNs());
  // Far deadlines (past ~292 years of uptime) saturate: never reached.
  if (!(ns + now < 9.0e18)) return std::numeric_limits<int64_t>::max();
  const int64_t d = SteadyNowNs() + static_cast<int64_t>(ns);
  return d > 0 ? d : 1;
}

void Store::PurgeExpiredLocked(Shard& s, Evicted* out) {
  if (s.ttl_entries == 0) return;
  const size_t cap = s.table.capacity();
  for (size_t i = 0; i < s.table.capacity();) {
    Entry* e = s.table.SlotEntry(i);
    if (e == nullptr || !e->Expired()) {
      ++i;
      continue;
    }
    // Backward-shift deletion may pull a later entry into slot i: look at it
    // again. A shrink (capacity change) ends the walk; what is left waits
    // for the sweeper.
    OnUnlink(s, e);
    EntryPtr gone = s.table.Erase(Hash(e->key()), e->key());
    s.bytes -= gone->footprint();
    ++s.expirations;
    Emit(WatchEvent::kExpire, *gone, out);
    out->Push(std::move(gone));
    if (s.table.capacity() != cap) return;
  }
}

void Store::WrongLayout() const {
  std::fprintf(stderr, "threadkv: store \"%s\" was given an entry not made by its NewEntry (%s queue links); aborting\n",
               name_.c_str(), sieve_ ? "without" : "with");
  std::abort();
}

void Store::Enqueue(Shard& s, Entry* e) const {
  if (!sieve_) return;
  EntryLinks& l = e->links();
  l.older = s.head;
  l.newer = nullptr;
  if (s.head != nullptr) s.head->links().newer = e;
  s.head = e;
  if (s.tail == nullptr) s.tail = e;
}

void Store::Dequeue(Shard& s, Entry* e) const {
  if (!sieve_ || e == nullptr) return;
  EntryLinks& l = e->links();
  if (s.hand == e) s.hand = l.newer;
  if (l.newer != nullptr) l.newer->links().older = l.older;
  else s.head = l.older;
  if (l.older != nullptr) l.older->links().newer = l.newer;
  else s.tail = l.newer;
  l.newer = l.older = nullptr;
}

void Store::EvictToFit(Shard& s, Evicted* evicted) {
  while (OverLimit(s)) {
    // SIEVE: walk from the hand (or the tail, the oldest) toward the head,
    // clearing visited bits, and take the first entry not visited since the
    // hand last passed it. Pinned entries (this write's own) are skipped.
    // Two passes over the queue always find one unless every entry is pinned.
    // An expired entry goes first, visited or not.
    Entry* victim = nullptr;
    Entry* o = s.hand != nullptr ? s.hand : s.tail;
    for (size_t budget = 2 * s.table.size() + 2; o != nullptr && budget > 0; --budget) {
      if (o->pinned == 0 && (o->visited.load(std::memory_order_relaxed) == 0 || o->Expired())) {
        victim = o;
        break;
      }
      if (o->pinned == 0) o->visited.store(0, std::memory_order_relaxed);
      o = o->links().newer != nullptr ? o->links().newer : s.tail;
    }
    if (victim == nullptr) return;  // only pinned entries left (callers make this impossible)
    s.hand = victim->links().newer;
    const bool expired = victim->Expired();
    OnUnlink(s, victim);
    EntryPtr gone = s.table.Erase(Hash(victim->key()), victim->key());
    s.bytes -= gone->footprint();
    if (expired)
      ++s.expirations;
    else
      ++s.evictions;
    Emit(expired ? WatchEvent::kExpire : WatchEvent::kEvict, *gone, evicted);
    evicted->Push(std::move(gone));
  }
}

Status Store::CheckFits(const Shard& s, uint64_t add_entries, uint64_t add_cost, uint64_t sub_cost) const {
  if (shard_max_entries_ != 0 && s.table.size() + add_entries > shard_max_entries_) return Status::kFullEntries;
  if (shard_max_bytes_ != 0 && Charged(s) + add_cost - sub_cost > shard_max_bytes_) return Status::kFullBytes;
  return Status::kOk;
}

Status Store::LinkLocked(Shard& s, uint64_t hash, EntryPtr& e, EntryPtr* old, Evicted* evicted, uint64_t* version) {
  CheckLayout(*e);
  if (limited()) {
    if (TooBig(*e)) return Status::kTooBigForLimit;
    if (!sieve_) {
      const Entry* cur = s.table.Find(hash, e->key());
      Status st = CheckFits(s, cur == nullptr ? 1 : 0, Cost(*e), cur == nullptr ? 0 : Cost(*cur));
      if (st != Status::kOk && s.ttl_entries != 0) {
        // Expired entries still take room until swept: reclaim them first.
        PurgeExpiredLocked(s, evicted);
        cur = s.table.Find(hash, e->key());
        st = CheckFits(s, cur == nullptr ? 1 : 0, Cost(*e), cur == nullptr ? 0 : Cost(*cur));
      }
      if (st != Status::kOk) return st;
    }
  }
  Entry* raw = e.get();
  ResolveExpiry(raw);
  const uint64_t v = ++s.last_version;
  raw->version = v;
  const uint64_t added = raw->footprint();
  *old = s.table.Upsert(hash, std::move(e));
  s.bytes += added;
  if (*old) {
    s.bytes -= (*old)->footprint();
    OnUnlink(s, old->get());
    if ((*old)->Expired()) {  // it was already gone: no "previous value"
      ++s.expirations;
      Emit(WatchEvent::kExpire, **old, evicted);
      evicted->Push(std::move(*old));
    }
  }
  ++s.sets;
  Emit(WatchEvent::kSet, *raw, evicted);
  OnLink(s, raw, evicted);
  if (sieve_) {
    raw->pinned = 1;
    EvictToFit(s, evicted);
    raw->pinned = 0;
  }
  if (version != nullptr) *version = v;
  return Status::kOk;
}

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
  if (TooBig(*e)) return Status::kTooBigForLimit;
  EntryPtr old;  // destroyed after the lock guard below: frees outside the lock
  Evicted evicted;
  {
    Shard& s = ShardFor(hash);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    const Status st = LinkLocked(s, hash, e, &old, &evicted, version);
    if (st != Status::kOk) return st;
  }
  if (replaced != nullptr) *replaced = std::move(old);
  return Status::kOk;
}

Status Store::CompareAndPut(uint64_t hash, EntryPtr e, uint64_t expected, uint64_t* version) {
  if (TooBig(*e)) return Status::kTooBigForLimit;
  EntryPtr old;  // the replaced entry: freed after the lock (as is `e` on a mismatch)
  Evicted evicted;
  {
    Shard& s = ShardFor(hash);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = s.table.Find(hash, e->key());
    if (cur != nullptr && cur->Expired()) cur = nullptr;
    const bool match = expected == kExpectAbsent ? cur == nullptr : cur != nullptr && cur->version == expected;
    if (match) return LinkLocked(s, hash, e, &old, &evicted, version);
  }
  return Status::kMismatch;
}

Status Store::Erase(std::string_view key, uint64_t hash, EntryPtr* removed) {
  Evicted after;     // watchers signalled after the lock
  EntryPtr expired;  // freed after the lock
  EntryPtr old;
  {
    Shard& s = ShardFor(hash);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    old = s.table.Erase(hash, key);
    if (!old) return Status::kNotFound;
    s.bytes -= old->footprint();
    OnUnlink(s, old.get());
    if (old->Expired()) {
      ++s.expirations;
      Emit(WatchEvent::kExpire, *old, &after);
      expired = std::move(old);
      return Status::kNotFound;
    }
    ++s.deletes;
    Emit(WatchEvent::kDelete, *old, &after);
  }
  if (removed != nullptr) *removed = std::move(old);
  return Status::kOk;
}

Status Store::CompareAndErase(std::string_view key, uint64_t hash, uint64_t expected) {
  Evicted after;  // watchers signalled after the lock
  EntryPtr old;
  {
    Shard& s = ShardFor(hash);
    auto lock = WriteLock(s);
    if (s.dead) return Status::kDestroyed;
    const Entry* cur = s.table.Find(hash, key);
    if (cur == nullptr || cur->Expired()) return Status::kNotFound;
    if (cur->version != expected) return Status::kMismatch;
    old = s.table.Erase(hash, key);
    s.bytes -= old->footprint();
    OnUnlink(s, old.get());
    ++s.deletes;
    Emit(WatchEvent::kDelete, *old, &after);
  }
  return Status::kOk;
}

Status Store::Increment(std::string_view key, uint64_t hash, double delta, Number* result, uint64_t* version) {
  const bool json_text = options_.codec == Codec::kJson;
  EntryPtr fresh;  // a new entry, allocated outside the lock when one is needed
  EntryPtr old;    // a replaced entry: freed after the lock
  Evicted evicted;
  for (;;) {
    {
      Shard& s = ShardFor(hash);
      auto lock = WriteLock(s);
      if (s.dead) return Status::kDestroyed;
      Entry* cur = s.table.Find(hash, key);
      if (cur != nullptr && cur->Expired()) cur = nullptr;  // absent: replaced below
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
        ++s.sets;
        Emit(WatchEvent::kSet, *cur, &evicted);
        if (version != nullptr) *version = cur->version;
        *result = next;
        return Status::kOk;
      }
      if (fresh) {
        WriteNumber(*fresh, next);
        const Status put = LinkLocked(s, hash, fresh, &old, &evicted, version);
        if (put != Status::kOk) return put;
        *result = next;
        return Status::kOk;
      }
    }
    // The key is absent (or holds a number in another form, as JSON text):
    // allocate outside the lock, then look again.
    fresh = NewEntry(key, kNumberBytes, Kind::kInt64);
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
  auto slot_of = [&](uint64_t hash) {
    return static_cast<size_t>(std::lower_bound(order.begin(), order.end(), ShardIndex(hash)) - order.begin());
  };
  std::vector<size_t> counts(order.size(), 0);
  for (const HashedEntry& he : entries) {
    CheckLayout(*he.entry);
    ++counts[slot_of(he.hash)];
  }
  // With a limit: the batch's distinct keys (a later duplicate wins), and
  // what they add per shard. A batch that alone passes a shard's budget can
  // never fit (its own keys are never evicted for it): refused up front.
  std::vector<size_t> last;  // indices of the last occurrence of each key
  if (limited()) {
    std::vector<uint64_t> add_entries(order.size(), 0), add_cost(order.size(), 0);
    last.resize(entries.size());
    for (size_t i = 0; i < entries.size(); ++i) last[i] = i;
    std::stable_sort(last.begin(), last.end(), [&](size_t x, size_t y) {
      if (entries[x].hash != entries[y].hash) return entries[x].hash < entries[y].hash;
      return entries[x].entry->key() < entries[y].entry->key();
    });
    size_t w = 0;
    for (size_t r = 0; r < last.size(); ++r) {
      const bool dup_of_next = r + 1 < last.size() && entries[last[r]].hash == entries[last[r + 1]].hash &&
                               entries[last[r]].entry->key() == entries[last[r + 1]].entry->key();
      if (!dup_of_next) last[w++] = last[r];
    }
    last.resize(w);
    for (size_t i : last) {
      const Entry& e = *entries[i].entry;
      if (TooBig(e)) return Status::kTooBigForLimit;
      const size_t k = slot_of(entries[i].hash);
      ++add_entries[k];
      add_cost[k] += Cost(e);
      if ((shard_max_entries_ != 0 && add_entries[k] > shard_max_entries_) ||
          (shard_max_bytes_ != 0 && add_cost[k] > shard_max_bytes_))
        return Status::kTooBigForLimit;
    }
  }
  std::vector<Entry*> linked(entries.size(), nullptr);  // to unpin after eviction
  std::vector<EntryPtr> replaced;  // declared before the locks: freed after them
  replaced.reserve(entries.size());
  Evicted evicted;
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(order.size());
    for (uint32_t i : order) {
      locks.push_back(WriteLock(shards_[i]));
      if (shards_[i].dead) return Status::kDestroyed;
    }
    // Policy kNone: the batch must fit as it is, or nothing is written.
    if (limited() && !sieve_) {
      for (size_t k = 0; k < order.size(); ++k) {
        Shard& s = shards_[order[k]];
        auto check = [&] {
          uint64_t add_entries = 0, add_cost = 0, sub_cost = 0;
          for (size_t i : last) {
            if (ShardIndex(entries[i].hash) != order[k]) continue;
            const Entry* cur = s.table.Find(entries[i].hash, entries[i].entry->key());
            add_cost += Cost(*entries[i].entry);
            if (cur == nullptr)
              ++add_entries;
            else
              sub_cost += Cost(*cur);
          }
          return CheckFits(s, add_entries, add_cost, sub_cost);
        };
        Status st = check();
        if (st != Status::kOk && s.ttl_entries != 0) {
          // Expired entries still take room until swept: reclaim them first
          // (invisible already, so this changes nothing observable).
          PurgeExpiredLocked(s, &evicted);
          st = check();
        }
        if (st != Status::kOk) return st;
      }
    }
    // Room first: if this throws, no entry has been linked in (a table may
    // have grown, which changes nothing visible).
    for (size_t k = 0; k < order.size(); ++k) {
      Table& t = shards_[order[k]].table;
      t.Reserve(t.size() + counts[k]);
    }
    // From here nothing allocates, so nothing can fail halfway. Watchers
    // get the batch's events with consecutive seqs, in one drain.
    const bool watched = watch_.BeginBatch();
    for (size_t i = 0; i < entries.size(); ++i) {
      HashedEntry& he = entries[i];
      Shard& s = ShardFor(he.hash);
      Entry* raw = he.entry.get();
      ResolveExpiry(raw);
      raw->version = ++s.last_version;
      s.bytes += raw->footprint();
      ++s.sets;
      EntryPtr old = s.table.Upsert(he.hash, std::move(he.entry));
      if (old) {
        s.bytes -= old->footprint();
        OnUnlink(s, old.get());
        if (old->Expired()) {
          ++s.expirations;
          Emit(WatchEvent::kExpire, *old, &evicted);
        }
        replaced.push_back(std::move(old));
      }
      Emit(WatchEvent::kSet, *raw, &evicted);
      OnLink(s, raw, &evicted);
      raw->pinned = 1;
      linked[i] = raw;
    }
    // Then each shard is brought back within its limits, never evicting a
    // key of this batch (they are pinned; the check above makes room for
    // them among the rest).
    if (sieve_)
      for (uint32_t i : order) EvictToFit(shards_[i], &evicted);
    watch_.EndBatch(watched);
    for (Entry* raw : linked) raw->pinned = 0;  // a replaced duplicate is still ours until freed
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
  Evicted after;  // watchers signalled after the locks
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(order.size());
    for (uint32_t i : order) {
      locks.push_back(WriteLock(shards_[i]));
      if (shards_[i].dead) return Status::kDestroyed;
    }
    const bool watched = !order.empty() && watch_.BeginBatch();
    for (const KeyRef& k : keys) {
      Shard& s = ShardFor(k.hash);
      EntryPtr old = s.table.Erase(k.hash, k.key);  // never throws (shrinking is best effort)
      if (!old) continue;
      s.bytes -= old->footprint();
      OnUnlink(s, old.get());
      if (old->Expired()) {
        ++s.expirations;
        Emit(WatchEvent::kExpire, *old, &after);
        removed.push_back(std::move(old));
        continue;
      }
      ++s.deletes;
      Emit(WatchEvent::kDelete, *old, &after);
      removed.push_back(std::move(old));
      ++n;
    }
    watch_.EndBatch(watched);
  }
  *erased = n;
  return Status::kOk;
}

Status Store::DrainAll(bool kill, std::vector<Table>* tables, std::unique_ptr<const WatchHub::List>* watchers,
                       bool* wake) {
  const size_t n = shard_mask_ + 1;
  std::vector<std::unique_lock<std::shared_mutex>> locks;
  locks.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    locks.push_back(WriteLock(shards_[i]));
    if (shards_[i].dead) return Status::kDestroyed;  // unlocks what was taken
  }
  // Tables are moved out under the locks; the caller frees them after.
  tables->reserve(tables->size() + n);
  for (size_t i = 0; i < n; ++i) {
    Shard& s = shards_[i];
    tables->push_back(std::move(s.table));
    s.bytes = 0;
    s.head = s.tail = s.hand = nullptr;
    s.ttl_entries = 0;
    s.sweep_cursor = 0;
    if (kill) s.dead = true;
  }
  if (kill) {
    *wake = watch_.CloseAllLocked(watchers);
  } else {
    *wake = watch_.EmitClear();
  }
  return Status::kOk;
}

Status Store::Clear() {
  std::vector<Table> drained;
  std::unique_ptr<const WatchHub::List> watchers;
  bool wake = false;
  const Status st = DrainAll(false, &drained, &watchers, &wake);  // locks are released before `drained` is freed
  if (wake) WatchHub::AfterLock();
  return st;
}

void Store::Kill(std::vector<Table>* drained) {
  std::lock_guard changes(watch_.changes_mu());  // the subscription list changes too
  std::unique_ptr<const WatchHub::List> watchers;  // freed after the locks
  bool wake = false;
  (void)DrainAll(true, drained, &watchers, &wake);
  if (wake) WatchHub::AfterLock();
  destroyed_.store(true, std::memory_order_release);
}

Status Store::Watch(std::shared_ptr<Subscription> sub) {
  std::lock_guard changes(watch_.changes_mu());
  std::unique_ptr<const WatchHub::List> list = watch_.ListWith(std::move(sub));  // allocated before the locks
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(shard_mask_ + 1);
    for (size_t i = 0; i <= shard_mask_; ++i) {
      locks.push_back(WriteLock(shards_[i]));
      if (shards_[i].dead) return Status::kDestroyed;
    }
    list = watch_.PublishLocked(std::move(list));
  }
  return Status::kOk;  // the old list is freed here, after the locks
}

bool Store::Unwatch(const Subscription* sub) {
  std::lock_guard changes(watch_.changes_mu());
  bool found = false;
  std::unique_ptr<const WatchHub::List> list = watch_.ListWithout(sub, &found);
  if (!found) return false;
  {
    std::vector<std::unique_lock<std::shared_mutex>> locks;
    locks.reserve(shard_mask_ + 1);
    for (size_t i = 0; i <= shard_mask_; ++i) locks.push_back(WriteLock(shards_[i]));
    list = watch_.PublishLocked(std::move(list));
  }
  return true;
}

Status Store::Sizes(StoreSizes* out) const {
  const size_t n = shard_mask_ + 1;
  std::vector<std::shared_lock<std::shared_mutex>> locks;
  locks.reserve(n);
  StoreSizes sum;
  for (size_t i = 0; i < n; ++i) {
    locks.push_back(ReadLock(shards_[i]));
    const Shard& s = shards_[i];
    if (s.dead) return Status::kDestroyed;
    sum.entries += s.table.size();
    sum.bytes += s.bytes;
    sum.slot_bytes += s.table.slot_bytes();
    if (s.ttl_entries != 0) {
      // Expired entries not yet swept are invisible here too.
      s.table.ForEach([&](const Entry& e) {
        if (!e.Expired()) return;
        --sum.entries;
        sum.bytes -= e.footprint();
      });
    }
  }
  // Each entry's queue links, for a store whose entries have them.
  if (sieve_) sum.bytes += sum.entries * sizeof(EntryLinks);
  *out = sum;
  return Status::kOk;
}

Status Store::Stats(StoreStats* out) const {
  StoreStats sum;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    const Shard& s = shards_[i];
    std::shared_lock lock(s.mu);  // not counted as contention: stats are not the workload
    if (s.dead) return Status::kDestroyed;
    sum.entries += s.table.size();
    sum.bytes += Charged(s);
    sum.hits += s.hits.load(std::memory_order_relaxed);
    sum.misses += s.misses.load(std::memory_order_relaxed);
    sum.sets += s.sets;
    sum.deletes += s.deletes;
    sum.evictions += s.evictions;
    sum.expirations += s.expirations;
    sum.contended_reads += s.contended_reads.load(std::memory_order_relaxed);
    sum.contended_writes += s.contended_writes.load(std::memory_order_relaxed);
  }
  *out = sum;
  return Status::kOk;
}

Status Store::Expire(std::string_view key, uint64_t hash, int64_t deadline) {
  Evicted after;
  Shard& s = ShardFor(hash);
  auto lock = WriteLock(s);
  if (s.dead) return Status::kDestroyed;
  Entry* cur = s.table.Find(hash, key);
  if (cur == nullptr || cur->Expired()) return Status::kNotFound;
  if (cur->HasDeadline()) --s.ttl_entries;
  cur->expires_at = deadline;
  if (cur->HasDeadline()) {
    ++s.ttl_entries;
    if (!has_ttl_.exchange(true, std::memory_order_acq_rel)) after.WakeSweeper();
  }
  return Status::kOk;
}

size_t Store::SweepExpired(size_t batch) {
  // Cleared first: a writer that links an entry with a deadline after this
  // pass has looked at its shard sets the flag again (under that shard's
  // lock), so the flag ends up false only if no such entry is left.
  has_ttl_.store(false, std::memory_order_release);
  bool left = false;
  size_t removed = 0;
  for (size_t i = 0; i <= shard_mask_; ++i) {
    Shard& s = shards_[i];
    for (;;) {
      Evicted gone;  // freed after each lock hold
      auto lock = WriteLock(s);
      if (s.dead || s.ttl_entries == 0) {
        s.sweep_cursor = 0;
        break;
      }
      // Up to `batch` slots from the cursor. Erasing shifts later entries
      // back, possibly past the cursor: those are met on the next pass.
      const size_t cap = s.table.capacity();
      size_t pos = s.sweep_cursor < cap ? s.sweep_cursor : 0;
      const size_t end = pos + batch < cap ? pos + batch : cap;
      while (pos < end && s.table.capacity() == cap) {
        Entry* e = s.table.SlotEntry(pos);
        if (e == nullptr || !e->Expired()) {
          ++pos;
          continue;
        }
        OnUnlink(s, e);
        EntryPtr dead = s.table.Erase(Hash(e->key()), e->key());
        s.bytes -= dead->footprint();
        ++s.expirations;
        ++removed;
        Emit(WatchEvent::kExpire, *dead, &gone);
        gone.Push(std::move(dead));
      }
      if (s.table.capacity() != cap) {
        // The table shrank under the erases: walk the new slot array from
        // its start (shrinks are bounded, so this ends).
        s.sweep_cursor = 0;
        continue;
      }
      const bool done = pos >= cap;
      s.sweep_cursor = done ? 0 : pos;
      if (done) {
        if (s.ttl_entries != 0) left = true;
        break;
      }
    }
  }
  if (left) has_ttl_.store(true, std::memory_order_release);
  return removed;
}

}  // namespace threadkv
