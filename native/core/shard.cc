#include "shard.h"

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <utility>

namespace threadkv {

void Retired::Finish() {
  EntryDeleter del;
  while (freed_ != nullptr) {
    Entry* next = freed_->next_unlinked;
    del(freed_);
    freed_ = next;
  }
  if (!rare_) return;
  while (kept_ != nullptr) {
    Entry* next = kept_->next_unlinked;
    adopter_->Adopt(EntryPtr(kept_));
    kept_ = next;
  }
  if (waker_ != nullptr) std::exchange(waker_, nullptr)->Wake();
  for (uint32_t after = std::exchange(after_, 0); after != 0; after &= after - 1)
    hooks_->hooks[static_cast<size_t>(std::countr_zero(after))]->AfterLock();
}

StoreHook* HookList::Report(uint32_t shard, Change change, const Entry& e, uint32_t* after) const {
  StoreHook* keeper = nullptr;
  for (size_t i = 0; i < hooks.size(); ++i) {
    if ((hooks[i]->interests() & StoreHook::Wants(change)) == 0) continue;
    const uint8_t reply = hooks[i]->OnChange(shard, change, e);
    if ((reply & StoreHook::kKeep) != 0 && keeper == nullptr && change != Change::kSet) keeper = hooks[i];
    if ((reply & StoreHook::kAfter) != 0) *after |= uint32_t{1} << i;
  }
  return keeper;
}

StoreHook* Shards::ReportTo(const HookList& list, const Shard& s, Change change, const Entry& e, Retired* r) const {
  // Retired's rare part is set up only for a hook that asked for something
  // (a change nobody acts on costs the writer the calls and nothing else).
  uint32_t after = 0;
  StoreHook* keeper = list.Report(s.index, change, e, &after);
  if (after != 0 || keeper != nullptr) NoteAfter(list, after, r);
  return keeper;
}

EntryPtr Retired::TakePrevious() {
  for (Entry** link = &freed_; previous_ != nullptr && *link != nullptr; link = &(*link)->next_unlinked) {
    if (*link != previous_) continue;
    Entry* e = *link;
    *link = e->next_unlinked;
    previous_ = nullptr;
    return EntryPtr(e);
  }
  return nullptr;
}

std::vector<uint32_t> LockOrder(std::vector<uint32_t> indices) {
  std::sort(indices.begin(), indices.end());
  indices.erase(std::unique(indices.begin(), indices.end()), indices.end());
  return indices;
}

Shards::Shards(const Options& options, uint64_t seed, StoreHost host, std::string_view name)
    : mask_(options.shards == 0 ? 0 : options.shards - 1),
      seed_(seed),
      ttl_ms_(options.ttl_ms),
      budget_(options.max_entries, options.max_bytes),
      sieve_(options.eviction == EvictionPolicy::kSieve && budget_.limited()),
      host_(host),
      name_(name),
      shards_(new Shard[mask_ + 1]) {
  const int64_t now = Now();
  for (size_t i = 0; i <= mask_; ++i) {
    // Huge tables recompute home slots from keys: with this store's seed.
    shards_[i].table = Table(seed_);
    shards_[i].index = static_cast<uint32_t>(i);
    // The wheel's clock from now, so that the first deadlines land on the
    // level their distance calls for (no allocation: a clock only).
    shards_[i].wheel = EntryWheel(now);
  }
  if (sieve_) {
    const size_t words = (mask_ >> 6) + 1;
    occupied_.reset(new std::atomic<uint64_t>[words]);
    for (size_t w = 0; w < words; ++w) occupied_[w].store(0, std::memory_order_relaxed);
  }
}

void Shards::WrongLayout() const {
  std::fprintf(stderr,
               "threadkv: store \"%.*s\" was given an entry not made by its NewEntry (%s queue links); aborting\n",
               static_cast<int>(name_.size()), name_.data(), sieve_ ? "without" : "with");
  std::abort();
}

void Shards::NoTimerLinks() const {
  std::fprintf(stderr,
               "threadkv: store \"%.*s\" was given an entry with a deadline and no timer links (not made by its "
               "NewEntry); aborting\n",
               static_cast<int>(name_.size()), name_.data());
  std::abort();
}

void Shards::ResolveExpiry(Entry& e) const {
  if (e.expires_at != kDefaultExpiry) return;
  e.expires_at = ttl_ms_ == 0 ? kNoExpiry : DeadlineAfter(Now(), static_cast<double>(ttl_ms_));
}

void Shards::Schedule(Shard& s, Entry& e, Retired* r) {
  if (!e.has_timer()) [[unlikely]]
    NoTimerLinks();
  const int64_t due = s.wheel.Schedule(e);  // never throws: the caller reserved the wheel
  // Set under the lock, so that a sweep pass that clears the flag (before
  // it takes this shard's lock) either sees this entry or leaves the flag
  // set for it (see SweepAll). Read first: no write to a shared line per
  // write once set.
  if (!has_ttl_.load(std::memory_order_acquire)) has_ttl_.store(true, std::memory_order_release);
  if (due >= s.next_due.load(std::memory_order_relaxed)) return;  // the sweeper knows of earlier work already
  // Stored before the sweeper's plan is read, and the sweeper stores its
  // plan before it reads next_due again (Sweeper::Plan): one of the two sees
  // the other, so an earlier due time is never missed.
  s.next_due.store(due, std::memory_order_seq_cst);
  if (host_.waker != nullptr && due < host_.waker->PlannedNs()) {
    r->Rare();
    r->waker_ = host_.waker;  // woken after the lock
  }
}

int64_t Shards::NextDue() const {
  int64_t next = EntryWheel::kNever;
  for (size_t i = 0; i <= mask_; ++i) next = std::min(next, shards_[i].next_due.load(std::memory_order_seq_cst));
  return next;
}

Status Shards::Reserve(Shard& s, uint64_t hash, const Entry& e, Retired* r, bool may_defer, Need* need) {
  const uint64_t cost = e.charge();
  if (budget_.TooBig(cost)) return Status::kTooBigForLimit;
  // What the write adds, with the key's current entry (if any) replaced.
  Entry* cur = nullptr;
  auto reserve = [&] {
    cur = s.table.Find(hash, e.key());
    need->entries = cur == nullptr ? 1 : 0;
    need->bytes = static_cast<int64_t>(cost) - (cur == nullptr ? 0 : static_cast<int64_t>(cur->charge()));
    return budget_.TryReserve(need->entries, need->bytes);
  };
  if (reserve()) return Status::kOk;
  if (!s.wheel.empty()) {
    // Expired entries still take room until swept: they go first.
    PurgeExpired(s, r);
    if (reserve()) return Status::kOk;
  }
  if (sieve_) {
    // Never the key's own entry: the write replaces it (its room is counted).
    if (cur != nullptr) cur->pinned = 1;
    const bool done = EvictFor(s, *need, r);
    if (cur != nullptr) cur->pinned = 0;
    if (done) return Status::kOk;
  }
  // Other shards may have room to give: expired entries, or entries to
  // evict (SIEVE).
  if (may_defer && (sieve_ || has_ttl())) return Status::kNoRoom;
  return budget_.Refusal(need->entries);
}

bool Shards::EvictFor(Shard& s, Need need, Retired* r) {
  while (!budget_.TryReserve(need.entries, need.bytes)) {
    Entry* victim = s.queue.NextVictim(s.table.size(), [this](const Entry& e) { return Expired(e); });
    if (victim == nullptr) return false;  // only pinned entries left
    Unlink(s, Hash(victim->key()), victim->key(), Change::kEvicted, r);
  }
  return true;
}

namespace {

bool Among(std::span<const uint32_t> ascending, uint32_t i) {
  return std::binary_search(ascending.begin(), ascending.end(), i);
}

}  // namespace

bool Shards::MakeRoom(std::span<const uint32_t> done, Need need) {
  if (!sieve_) {
    PurgeOthers(done);
    return true;
  }
  return EvictOthers(done, need);
}

void Shards::PurgeOthers(std::span<const uint32_t> done) {
  for (uint32_t i = 0; i <= mask_; ++i) {
    if (Among(done, i)) continue;
    Retired r;
    auto lock = WriteLock(shards_[i]);
    if (shards_[i].dead) return;
    PurgeExpired(shards_[i], &r);
  }
}

bool Shards::EvictOthers(std::span<const uint32_t> done, Need need) {
  // Occupied shards, from a cursor that moves on with every call, so that
  // concurrent writers spread their evictions over the store.
  const size_t words = (mask_ >> 6) + 1;
  const uint32_t start = evict_cursor_.fetch_add(1, std::memory_order_relaxed) & static_cast<uint32_t>(mask_);
  bool evicted = false;
  for (size_t k = 0; k <= words && !budget_.WouldFit(need.entries, need.bytes); ++k) {
    const size_t w = ((start >> 6) + k) % words;
    uint64_t bits = occupied_[w].load(std::memory_order_relaxed);
    if (k == 0) bits &= ~uint64_t{0} << (start & 63);         // from the cursor on
    if (k == words) bits &= ~(~uint64_t{0} << (start & 63));  // wrapped: up to it
    for (; bits != 0 && !budget_.WouldFit(need.entries, need.bytes); bits &= bits - 1) {
      const uint32_t i = static_cast<uint32_t>(w * 64 + static_cast<size_t>(std::countr_zero(bits)));
      if (i > mask_ || Among(done, i)) continue;
      Shard& o = shards_[i];
      Retired r;
      auto lock = WriteLock(o);
      if (o.dead) return false;
      while (!budget_.WouldFit(need.entries, need.bytes)) {
        Entry* victim = o.queue.NextVictim(o.table.size(), [this](const Entry& e) { return Expired(e); });
        if (victim == nullptr) break;
        Unlink(o, Hash(victim->key()), victim->key(), Change::kEvicted, &r);
        evicted = true;
      }
    }
  }
  // Nothing to evict anywhere: what is left is pinned by writes in flight.
  if (!evicted) std::this_thread::yield();
  return evicted;
}

void Shards::MarkOccupied(const Shard& s, bool occupied) {
  const uint64_t bit = uint64_t{1} << (s.index & 63);
  if (occupied)
    occupied_[s.index >> 6].fetch_or(bit, std::memory_order_relaxed);
  else
    occupied_[s.index >> 6].fetch_and(~bit, std::memory_order_relaxed);
}

// Inline in Link and LinkIfItFits: a call more per write was measurable
// (callgrind, put of a short string: about 20 instructions of 1,850).
inline Entry* Shards::Linked(Shard& s, Entry* raw, Entry* old, Retired* r) {
  ResolveExpiry(*raw);
  raw->version = ++s.last_version;
  s.bytes += raw->footprint();
  ++s.sets;
  if (old != nullptr) {
    if (!sieve_ && !old->HasDeadline() && !Wants(StoreHook::Wants(Change::kReplaced))) [[likely]] {
      // The common replacement (no eviction queue, no deadline, no hook
      // that hears of it): all that Retire(kReplaced) does then, without
      // its call and its checks (about 45 instructions of a put's 1,850).
      s.bytes -= old->footprint();
      r->previous_ = old;
      r->Free(old);
    } else {
      Retire(s, old, Change::kReplaced, r, /*release=*/false);
    }
  } else if (sieve_ && s.table.size() == 1) {
    MarkOccupied(s, true);
  }
  if (sieve_) s.queue.Push(raw);
  if (raw->HasDeadline()) Schedule(s, *raw, r);
  (void)Report(s, Change::kSet, *raw, r);
  return raw;
}

Entry* Shards::Link(Shard& s, uint64_t hash, EntryPtr& e, Retired* r) {
  Entry* raw = e.get();
  if (raw->has_links() != sieve_) [[unlikely]]
    WrongLayout();
  if (raw->has_timer()) s.wheel.Reserve();            // may throw std::bad_alloc: nothing linked
  EntryPtr old = s.table.Upsert(hash, std::move(e));  // may throw std::bad_alloc: nothing linked
  return Linked(s, raw, old.release(), r);
}

Entry* Shards::LinkIfItFits(Shard& s, uint64_t hash, EntryPtr& e, Retired* r) {
  Entry* raw = e.get();
  if (raw->has_links() != sieve_) [[unlikely]]
    WrongLayout();
  if (raw->has_timer()) s.wheel.Reserve();  // may throw std::bad_alloc: nothing linked
  // One probe: in first, then the room for what it adds (the entry it
  // replaced is known now), and out again if there is none. Nobody can see
  // the table meanwhile: this thread holds its write lock.
  EntryPtr old = s.table.Upsert(hash, std::move(e));  // may throw std::bad_alloc: nothing linked
  const int64_t entries = old ? 0 : 1;
  const int64_t bytes = static_cast<int64_t>(raw->charge()) - (old ? static_cast<int64_t>(old->charge()) : 0);
  if (budget_.TryReserve(entries, bytes)) return Linked(s, raw, old.release(), r);
  e = old ? s.table.Upsert(hash, std::move(old)) : s.table.Erase(hash, raw->key());  // a replacement: no allocation
  return nullptr;
}

Change Shards::Unlink(Shard& s, uint64_t hash, std::string_view key, Change cause, Retired* r) {
  EntryPtr gone = s.table.Erase(hash, key);
  if (!gone) return Change::kSet;
  return Retire(s, gone.release(), cause, r);
}

Change Shards::Retire(Shard& s, Entry* e, Change cause, Retired* r, bool release) {
  s.bytes -= e->footprint();
  if (release && budget_.limited()) budget_.Release(1, e->charge());
  if (sieve_) {
    s.queue.Remove(e);
    if (s.table.size() == 0) MarkOccupied(s, false);
  }
  if (e->HasDeadline()) {
    s.wheel.Deschedule(*e);  // nothing when a sweep already took it off
    // Gone already, whatever the caller meant to do with it.
    if ((cause == Change::kReplaced || cause == Change::kDeleted || cause == Change::kEvicted) && Expired(*e))
      cause = Change::kExpired;
  }
  switch (cause) {
    case Change::kReplaced:
      r->previous_ = e;
      break;
    case Change::kDeleted:
      ++s.deletes;
      r->previous_ = e;
      break;
    case Change::kExpired:
      ++s.expirations;
      break;
    case Change::kEvicted:
      ++s.evictions;
      break;
    default:
      break;
  }
  if (StoreHook* keeper = Report(s, cause, *e, r)) {
    r->Keep(keeper, e);
  } else {
    r->Free(e);
  }
  return cause;
}

void Shards::Rewrote(Shard& s, Entry& e) {
  e.version = ++s.last_version;
  ++s.sets;
}

void Shards::SetDeadline(Shard& s, Entry& e, int64_t deadline, Retired* r) {
  if (deadline > 0) {
    if (!e.has_timer()) [[unlikely]]
      NoTimerLinks();
    s.wheel.Reserve();  // may throw std::bad_alloc: nothing changed yet
    ReportDeadline(s, e, r);
    e.expires_at = deadline;
    Schedule(s, e, r);  // moves it when it was on the wheel
  } else {
    ReportDeadline(s, e, r);
    if (e.HasDeadline()) s.wheel.Deschedule(e);
    e.expires_at = deadline;
  }
}

void Shards::Relink(Shard& s, uint64_t hash, Entry* cur, EntryPtr copy, int64_t deadline, Retired* r) {
  Entry* raw = copy.get();
  s.wheel.Reserve();  // may throw std::bad_alloc: nothing changed yet
  // The same key: the table replaces the slot's entry (no allocation).
  EntryPtr old = s.table.Upsert(hash, std::move(copy));
  Entry* gone = old.release();
  s.bytes += raw->footprint() - gone->footprint();
  if (sieve_) {
    s.queue.Replace(gone, raw);
    raw->visited.store(gone->visited.load(std::memory_order_relaxed), std::memory_order_relaxed);
  }
  if (gone->HasDeadline()) s.wheel.Deschedule(*gone);  // (an entry without timer links has none)
  raw->version = cur->version;
  raw->expires_at = deadline;
  Schedule(s, *raw, r);
  // Not a change of value, but the old block leaves: hooks are told so as
  // kReplaced (which watch and flights ignore), so that a hook that keeps
  // entries (a snapshot reading them with no lock held) can keep it.
  if (StoreHook* keeper = Report(s, Change::kReplaced, *gone, r)) {
    r->Keep(keeper, gone);
  } else {
    r->Free(gone);
  }
}

void Shards::PurgeExpired(Shard& s, Retired* r) {
  if (s.wheel.empty()) return;
  // Every entry whose deadline is <= now, so that no expired entry is left
  // to make the caller refuse a write that fits.
  const TimerAdvance a =
      s.wheel.ExpireDue(Now(), ~size_t{0}, [&](Entry& e) { Unlink(s, Hash(e.key()), e.key(), Change::kExpired, r); });
  s.cascades += a.cascaded;
  Publish(s);
}

size_t Shards::Sweep(Shard& s, size_t budget, bool* left) {
  size_t removed = 0;
  for (;;) {
    Retired r;  // freed (and the hooks' AfterLock run) after each hold of the lock
    auto lock = WriteLock(s);
    if (s.dead) return removed;
    ++s.sweeps;
    // Up to `budget` units of work per hold; the wheel resumes where it
    // stopped (whatever writers did in between).
    const TimerAdvance a =
        s.wheel.ExpireDue(Now(), budget, [&](Entry& e) { Unlink(s, Hash(e.key()), e.key(), Change::kExpired, &r); });
    removed += a.expired;
    s.cascades += a.cascaded;
    Publish(s);
    if (!a.done) continue;
    if (!s.wheel.empty()) *left = true;
    return removed;
  }
}

size_t Shards::SweepAll(size_t budget) {
  // Cleared first: a writer that links an entry with a deadline after this
  // pass has looked at its shard sets the flag again (under that shard's
  // lock), so the flag ends up false only if no such entry is left.
  has_ttl_.store(false, std::memory_order_release);
  // Every shard, each under its own lock (a shard with nothing due costs a
  // lock and an O(1) look at its wheel): so the flag and each shard's
  // next_due are exact after the pass. The sweeper runs a pass only when
  // some shard has work due.
  bool left = false;
  size_t removed = 0;
  for (size_t i = 0; i <= mask_; ++i) removed += Sweep(shards_[i], budget, &left);
  if (left) has_ttl_.store(true, std::memory_order_release);
  return removed;
}

void Shards::Drain(Shard& s, bool kill, Retired* r, std::vector<Table>* drained) {
  if (Wants(StoreHook::Wants(Change::kCleared))) {
    // Entry by entry, so that the hook sees each leave (allocates under the
    // lock: only while a hook that wants kCleared is installed).
    std::vector<EntryPtr> all;
    s.table.DrainInto(all);
    for (EntryPtr& e : all) Retire(s, e.release(), Change::kCleared, r);
  } else {
    if (budget_.limited()) budget_.Release(s.table.size(), Charged(s));
    if (sieve_) MarkOccupied(s, false);
    drained->push_back(std::move(s.table));  // capacity reserved by the caller
    s.bytes = 0;
    s.queue.Reset();
  }
  // Every entry has left (and the hook path took each off the wheel): the
  // wheel forgets the nodes without touching them (they are freed after the
  // lock) and gives back its block.
  s.wheel.Reset();
  Publish(s);
  if (kill) s.dead = true;
}

std::string Shards::CheckTimers(const Shard& s) const {
  std::string broken = s.wheel.CheckInvariants();
  if (!broken.empty()) return "wheel of shard " + std::to_string(s.index) + ": " + broken;
  size_t with_deadline = 0;
  s.table.ForEach([&](const Entry& e) {
    if (!e.HasDeadline()) return;
    ++with_deadline;
    if (!e.has_timer())
      broken = "an entry with a deadline has no timer links";
    else if (!EntryWheel::IsScheduled(const_cast<Entry&>(e)))
      broken = "an entry with a deadline is not on its shard's wheel";
  });
  if (broken.empty() && with_deadline != s.wheel.size())
    broken =
        std::to_string(with_deadline) + " entries have a deadline, the wheel holds " + std::to_string(s.wheel.size());
  if (broken.empty() && s.next_due.load(std::memory_order_relaxed) > s.wheel.NextDue())
    broken = "next_due is later than the wheel's NextDue()";
  return broken.empty() ? broken : "shard " + std::to_string(s.index) + ": " + broken;
}

void Shards::AddSizes(const Shard& s, ShardSizes* out) const {
  uint64_t entries = s.table.size();
  uint64_t bytes = s.bytes;
  if (!s.wheel.empty()) {
    // Expired entries not yet swept are invisible here too: they are the
    // wheel's due nodes (no table walk).
    s.wheel.ForEachDue(Now(), [&](const Entry& e) {
      --entries;
      bytes -= e.footprint();
    });
  }
  out->entries += entries;
  out->bytes += bytes;
  out->slot_bytes += s.table.slot_bytes();
}

}  // namespace threadkv
