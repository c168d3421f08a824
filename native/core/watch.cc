#include "watch.h"

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <new>
#include <utility>

#include "store.h"

namespace threadkv {

namespace {

// The owners this thread's Emit() calls must signal once the writer's locks
// are released (AfterLock). Per thread, so that no writer waits for another
// to signal; it holds the notifiers themselves (not the subscriptions), so a
// subscription may go away before its signal is sent.
struct PendingWake {
  std::shared_ptr<Notifier> notifier;
  uint64_t token;
};
thread_local std::vector<PendingWake> tl_wakes;

}  // namespace

WatchChunk* WatchChunk::New(size_t bytes) noexcept {
  const size_t capacity = std::max(bytes, kCapacity);
  if (capacity > std::numeric_limits<uint32_t>::max()) return nullptr;
  void* mem = std::malloc(sizeof(WatchChunk) + capacity);
  if (mem == nullptr) return nullptr;
  auto* c = new (mem) WatchChunk;
  c->capacity = static_cast<uint32_t>(capacity);
  return c;
}

void WatchChunk::FreeChain(WatchChunk* c) noexcept {
  while (c != nullptr) {
    WatchChunk* next = c->next;
    c->~WatchChunk();
    std::free(c);
    c = next;
  }
}

Subscription::Subscription(WatchFilter filter, size_t max_queue, std::shared_ptr<Notifier> notifier, uint64_t token)
    : filter_(std::move(filter)),
      max_queue_(max_queue == 0 ? 1 : max_queue),
      // max_queue_ records of at most an 8-byte key, and the block being filled.
      max_blocks_(std::max(kIdleBlocks, max_queue_ / (WatchChunk::kCapacity / WatchRecord::SizeFor(8)) + 1)),
      notifier_(std::move(notifier)),
      token_(token) {}

Subscription::~Subscription() {
  WatchChunk::FreeChain(head_);
  WatchChunk::FreeChain(spare_);
}

WatchChunk* Subscription::Grow(size_t bytes) noexcept {
  WatchChunk* c;
  if (spare_ != nullptr && bytes <= WatchChunk::kCapacity) {
    c = spare_;
    spare_ = c->next;
    --spares_;
  } else {
    c = WatchChunk::New(bytes);
    if (c == nullptr) return nullptr;
  }
  c->next = nullptr;
  c->used = 0;
  ++blocks_;
  if (tail_ == nullptr)
    head_ = c;
  else
    tail_->next = c;
  tail_ = c;
  return c;
}

WatchChain WatchChain::SplitReusable(WatchChunk* chain, WatchChunk** rest) noexcept {
  WatchChain kept;
  while (chain != nullptr) {
    WatchChunk* next = chain->next;
    if (chain->reusable()) {
      kept.Prepend(chain);
    } else {
      chain->next = *rest;
      *rest = chain;
    }
    chain = next;
  }
  return kept;
}

void WatchChain::Prepend(WatchChunk* c) noexcept {
  c->next = head;
  head = c;
  if (tail == nullptr) tail = c;
  ++count;
}

WatchChunk* Subscription::Keep(WatchChain chain, size_t keep) noexcept {
  // One splice, then whatever is over `keep` comes off the front (usually
  // nothing): the owner holds the hub's mutex for O(1), not for the chain.
  if (chain.head != nullptr) {
    chain.tail->next = spare_;
    spare_ = chain.head;
    spares_ += chain.count;
  }
  return Shed(keep);
}

WatchChunk* Subscription::Shed(size_t keep) noexcept {
  WatchChunk* over = nullptr;
  while (spares_ > keep) {
    WatchChunk* c = spare_;
    spare_ = c->next;
    --spares_;
    c->next = over;
    over = c;
  }
  return over;
}

void Subscription::Push(WatchEvent type, std::string_view key, uint64_t version, uint64_t seq,
                        uint64_t batch) noexcept {
  if (batch != 0 && batch_ != batch) {
    batch_ = batch;
    batch_tail_ = tail_;
    batch_used_ = tail_ == nullptr ? 0 : tail_->used;
    batch_count_ = count_;
  }
  // Once an event is lost, every later one is too until the owner drains:
  // every queued event then precedes every lost one in seq order.
  if (lost_ == 0 && count_ < max_queue_ && key.size() <= std::numeric_limits<uint32_t>::max()) {
    const size_t bytes = WatchRecord::SizeFor(key.size());
    WatchChunk* c = tail_;
    if (c == nullptr || c->capacity - c->used < bytes) c = Grow(bytes);
    if (c != nullptr) {  // else no memory: lost like an event that did not fit
      auto* r = reinterpret_cast<WatchRecord*>(c->data() + c->used);
      r->seq = seq;
      r->version = version;
      r->key_size = static_cast<uint32_t>(key.size());
      r->type = type;
      if (!key.empty()) std::memcpy(r + 1, key.data(), key.size());
      c->used += static_cast<uint32_t>(bytes);
      ++count_;
      return;
    }
  }
  if (batch != 0 && lost_ == 0) {
    // All or nothing for an atomic batch: take back its events queued so
    // far (their blocks are kept for reuse; no free() under the locks).
    lost_ += count_ - batch_count_;
    count_ = batch_count_;
    WatchChunk* after = batch_tail_ == nullptr ? head_ : batch_tail_->next;
    if (batch_tail_ == nullptr) {
      head_ = nullptr;
    } else {
      batch_tail_->used = batch_used_;
      batch_tail_->next = nullptr;
    }
    tail_ = batch_tail_;
    for (WatchChunk* c = after; c != nullptr;) {
      WatchChunk* next = c->next;
      c->next = spare_;
      spare_ = c;
      ++spares_;
      --blocks_;
      c = next;
    }
  }
  Lose(seq);
}

WatchHub::WatchHub()
    : StoreHook(Wants(Change::kSet) | Wants(Change::kDeleted) | Wants(Change::kExpired) | Wants(Change::kEvicted) |
                kGroups) {}

WatchHub::~WatchHub() = default;

bool WatchHub::PushLocked(Subscription& sub, WatchEvent type, std::string_view key, uint64_t version,
                          uint64_t seq) noexcept {
  if (sub.closed_) return false;
  sub.Push(type, key, version, seq, batch_);
  // Queued or lost, the owner must hear of it (a loss becomes an overflow).
  if (sub.signalled_) return false;
  try {
    tl_wakes.push_back(PendingWake{sub.notifier_, sub.token_});
  } catch (...) {
    // No memory to note the signal: the event stays queued, and the next
    // event for this subscription tries again.
    return false;
  }
  sub.signalled_ = true;
  return true;
}

bool WatchHub::EmitSlow(WatchEvent type, std::string_view key, uint64_t version) noexcept {
  const List* list = list_.load(std::memory_order_relaxed);
  if (list == nullptr) return false;
  const size_t n = list->size();
  for (size_t i = 0; i < n; ++i)
    if ((*list)[i]->filter().Matches(type, key)) return EmitFrom(*list, i, type, key, version);
  return false;  // nobody watches this: no seq, no lock
}

bool WatchHub::EmitFrom(const List& list, size_t first, WatchEvent type, std::string_view key,
                        uint64_t version) noexcept {
  std::lock_guard lock(mu_);
  const uint64_t seq = ++seq_;
  // Whether this call listed an owner to signal (the thread's earlier calls
  // in the same operation said so themselves).
  bool wake = PushLocked(*list[first], type, key, version, seq);
  for (size_t i = first + 1; i < list.size(); ++i) {
    Subscription& sub = *list[i];
    if (sub.filter().Matches(type, key)) wake |= PushLocked(sub, type, key, version, seq);
  }
  return wake;
}

bool WatchHub::BeginBatch() noexcept {
  if (!active()) return false;
  mu_.lock();
  if (batch_depth_++ == 0) batch_ = ++batches_;
  return true;
}

void WatchHub::EndBatch(bool held) noexcept {
  if (!held) return;
  if (--batch_depth_ == 0) batch_ = 0;
  mu_.unlock();
}

void WatchHub::FlushWakes() noexcept {
  if (tl_wakes.empty()) return;
  // Swapped out first: Notify() never calls back here, but keep the list
  // consistent whatever it does.
  std::vector<PendingWake> wakes;
  wakes.swap(tl_wakes);
  for (PendingWake& w : wakes) w.notifier->Notify(w.token);
  wakes.clear();
  if (tl_wakes.empty()) tl_wakes.swap(wakes);  // keep the buffer for next time
}

bool WatchHub::WakesPending() noexcept { return !tl_wakes.empty(); }

std::unique_ptr<const WatchHub::List> WatchHub::ListWith(std::shared_ptr<Subscription> sub) const {
  auto next = std::make_unique<List>();
  if (const List* now = owned_.get()) {
    next->reserve(now->size() + 1);
    *next = *now;
  }
  next->push_back(std::move(sub));
  return next;
}

std::unique_ptr<const WatchHub::List> WatchHub::ListWithout(const Subscription* sub, bool* found) const {
  *found = false;
  const List* now = owned_.get();
  if (now == nullptr) return nullptr;
  auto next = std::make_unique<List>();
  next->reserve(now->size());
  for (const std::shared_ptr<Subscription>& s : *now) {
    if (s.get() == sub)
      *found = true;
    else
      next->push_back(s);
  }
  if (next->empty()) return nullptr;
  return next;
}

std::unique_ptr<const WatchHub::List> WatchHub::PublishLocked(std::unique_ptr<const List> next) noexcept {
  std::unique_ptr<const List> old = std::move(owned_);
  owned_ = std::move(next);
  list_.store(owned_.get(), std::memory_order_relaxed);
  quick_ = Quick::Of(owned_.get());
  count_.store(owned_ && !dead_ ? owned_->size() : 0, std::memory_order_relaxed);
  return old;
}

bool WatchHub::CloseAllLocked() noexcept {
  const List* list = owned_.get();
  if (list == nullptr) return false;
  EmitSlow(WatchEvent::kClear, std::string_view(), 0);
  {
    std::lock_guard lock(mu_);
    for (const std::shared_ptr<Subscription>& sub : *list) {
      if (!sub->signalled_) {
        try {
          tl_wakes.push_back(PendingWake{sub->notifier_, sub->token_});
          sub->signalled_ = true;
        } catch (...) {
          // Without memory to note the signal, this owner learns that the
          // store is gone at its next drain, or when it closes its watcher.
        }
      }
      sub->closed_ = true;
    }
  }
  dead_ = true;
  count_.store(0, std::memory_order_relaxed);
  return !tl_wakes.empty();
}

void WatchHub::Drain(Subscription& sub, WatchBatch* out) {
  // The previous batch's blocks go back to this queue for reuse (sorted
  // out here, before the lock; what is not kept is freed after it).
  WatchChunk* unkept = nullptr;
  const WatchChain used = WatchChain::SplitReusable(out->head_, &unkept);
  out->head_ = nullptr;
  WatchChunk* over;  // kept blocks shed, freed after the lock
  size_t fresh = 0;  // blocks to add for the writers (see below)
  {
    std::lock_guard lock(mu_);
    out->head_ = sub.head_;
    out->count = sub.count_;
    out->lost = sub.lost_;
    out->lost_seq = sub.lost_seq_;
    out->closed = sub.closed_;
    const size_t taken = sub.blocks_;
    sub.head_ = sub.tail_ = nullptr;
    sub.count_ = 0;
    sub.blocks_ = 0;
    sub.lost_ = 0;
    sub.batch_ = 0;
    // A drain that took something leaves the signal off: the owner drains
    // again (its contract), so writers that keep it busy never signal it (no
    // wake list entry, no Notify, no wake-up of its thread per drain). Only a
    // drain that finds the queue empty re-arms it; under mu_, like the
    // writers' Push, so no event can slip between the look and the re-arm.
    const bool idle = out->empty();
    sub.signalled_ = !idle;
    // When idle the burst is over: keep a few blocks, free the others.
    over = sub.Keep(used, idle ? Subscription::kIdleBlocks : sub.max_blocks_);
    // Until the next drain the writers will likely fill as many blocks as
    // this drain took, times the growth since the last one (a backlog grows
    // when its owner is slower than its writers): have that many spare.
    if (taken > sub.last_taken_ && !sub.closed_) {
      // taken x (taken / last taken): at most 4 x taken (a jump from a few
      // blocks is no trend), and 2 x taken after an idle drain.
      const size_t next = sub.last_taken_ == 0 ? 2 * taken : std::min(4 * taken, taken * taken / sub.last_taken_);
      const size_t want = std::min(sub.max_blocks_, next);
      if (want > sub.spares_) fresh = want - sub.spares_;
    }
    sub.last_taken_ = taken;
  }
  WatchChunk::FreeChain(unkept);
  WatchChunk::FreeChain(over);
  if (fresh == 0) return;
  // Outside every lock, on the owner's thread: allocated and touched here
  // (each page written once), so that the writer that fills them neither
  // allocates nor takes a page fault while it holds its shard lock.
  WatchChain made;
  for (size_t i = 0; i < fresh; ++i) {
    WatchChunk* c = WatchChunk::New(WatchChunk::kCapacity);
    if (c == nullptr) break;  // no memory: the writers allocate for themselves
    volatile unsigned char* bytes = c->data();
    for (size_t at = 0; at < c->capacity; at += 4096) bytes[at] = 0;
    bytes[c->capacity - 1] = 0;
    made.Prepend(c);
  }
  WatchChunk* extra;
  {
    std::lock_guard lock(mu_);
    // Queued and kept blocks together stay within max_blocks_.
    extra = sub.Keep(made, sub.max_blocks_ - std::min(sub.max_blocks_, sub.blocks_));
  }
  WatchChunk::FreeChain(extra);
}

unsigned WatchHub::Quick::Signature(std::string_view key, size_t n) noexcept {
  // The first n (<= 8, <= key.size()) bytes as a little-endian number,
  // hashed to 6 bits. One load when the key has 8 bytes.
  uint64_t v = 0;
  if (std::endian::native == std::endian::little && key.size() >= 8) {
    std::memcpy(&v, key.data(), 8);
    if (n < 8) v &= (uint64_t{1} << (8 * n)) - 1;
  } else {
    for (size_t i = 0; i < n; ++i) v |= uint64_t{static_cast<unsigned char>(key[i])} << (8 * i);
  }
  return static_cast<unsigned>((v * 0x9E3779B97F4A7C15ull) >> 58);
}

WatchHub::Quick WatchHub::Quick::Of(const List* list) noexcept {
  Quick q;
  if (list == nullptr) return q;
  bool keyed = false;
  for (const std::shared_ptr<Subscription>& sub : *list) {
    const WatchFilter& f = sub->filter();
    if (f.scope == WatchFilter::Scope::kAll || (f.scope == WatchFilter::Scope::kPrefix && f.bytes.empty())) {
      q.all |= f.events;
    } else {
      q.keyed |= f.events;
      q.min_len = keyed ? std::min(q.min_len, f.bytes.size()) : f.bytes.size();
      keyed = true;
    }
  }
  q.sig_len = static_cast<uint8_t>(std::min<size_t>(q.min_len, 8));
  for (const std::shared_ptr<Subscription>& sub : *list) {
    const WatchFilter& f = sub->filter();
    if (f.scope == WatchFilter::Scope::kKey || (f.scope == WatchFilter::Scope::kPrefix && !f.bytes.empty()))
      q.sigs |= uint64_t{1} << Signature(f.bytes, q.sig_len);
  }
  return q;
}

uint8_t WatchHub::OnChange(uint32_t, Change change, const Entry& e) noexcept {
  // The common case first, and cheap: a change that no subscription can
  // match (none of them takes its kind; or all that do want a key or a
  // prefix, and the key is shorter than all of them, or its first bytes'
  // signature is none of theirs). Only the four kinds of interests() come.
  static constexpr uint8_t kBits[8] = {WatchBit(WatchEvent::kSet), 0, WatchBit(WatchEvent::kDelete),
                                       WatchBit(WatchEvent::kExpire), WatchBit(WatchEvent::kEvict)};
  const uint8_t bit = kBits[static_cast<unsigned>(change) & 7];
  if ((quick_.all & bit) == 0) {
    if ((quick_.keyed & bit) == 0) return kNothing;
    const std::string_view key = e.key();
    if (key.size() < quick_.min_len || ((quick_.sigs >> Quick::Signature(key, quick_.sig_len)) & 1) == 0)
      return kNothing;
  }
  return Deliver(change, e);
}

uint8_t WatchHub::Deliver(Change change, const Entry& e) noexcept {
  const List* list = list_.load(std::memory_order_relaxed);
  if (list == nullptr) return kNothing;
  WatchEvent type;
  switch (change) {
    case Change::kSet:
      type = WatchEvent::kSet;
      break;
    case Change::kDeleted:
      type = WatchEvent::kDelete;
      break;
    case Change::kExpired:
      type = WatchEvent::kExpire;
      break;
    case Change::kEvicted:
      type = WatchEvent::kEvict;
      break;
    default:  // not in interests(): never reported
      return kNothing;
  }
  const std::string_view key = e.key();
  for (size_t i = 0, n = list->size(); i < n; ++i)
    if ((*list)[i]->filter().Matches(type, key)) return EmitFrom(*list, i, type, key, e.version) ? kAfter : kNothing;
  return kNothing;
}

uint8_t WatchHub::OnClear(bool destroy) noexcept {
  return (destroy ? CloseAllLocked() : EmitClear()) ? kAfter : kNothing;
}

void WatchHub::OnGroup(bool begin) noexcept {
  // Under the group's shard locks the list cannot change (that takes every
  // shard lock), so active() answers the same at both ends.
  if (begin)
    (void)BeginBatch();
  else
    EndBatch(active());
}

size_t WatchHub::spares(const Subscription& sub) const {
  std::lock_guard lock(mu_);
  return sub.spares_;
}

size_t WatchHub::count() const noexcept { return count_.load(std::memory_order_relaxed); }

uint64_t WatchHub::last_seq() const noexcept {
  std::lock_guard lock(mu_);
  return seq_;
}

}  // namespace threadkv

namespace threadkv {

WatchHub& Store::Hub() {
  if (WatchHub* hub = watch_.load(std::memory_order_acquire)) return *hub;
  std::lock_guard guard(features_mu_);
  if (WatchHub* hub = watch_.load(std::memory_order_relaxed)) return *hub;
  auto hub = std::make_shared<WatchHub>();
  (void)AddHook(hub);  // kept by the store until it is destroyed
  watch_.store(hub.get(), std::memory_order_release);
  return *hub;
}

Status Store::Watch(std::shared_ptr<Subscription> sub) {
  WatchHub& hub = Hub();
  std::lock_guard changes(hub.changes_mu());
  std::unique_ptr<const WatchHub::List> list = hub.ListWith(std::move(sub));  // allocated before the locks
  {
    ShardLocks<true> locks(shards_.data(), shards_.count());
    if (!locks.ok()) return Status::kDestroyed;
    list = hub.PublishLocked(std::move(list));
  }
  return Status::kOk;  // the old list is freed here, after the locks
}

bool Store::Unwatch(const Subscription* sub) {
  WatchHub* hub = watch_.load(std::memory_order_acquire);
  if (hub == nullptr) return false;
  std::lock_guard changes(hub->changes_mu());
  bool found = false;
  std::unique_ptr<const WatchHub::List> list = hub->ListWithout(sub, &found);
  if (!found) return false;
  {
    // On a destroyed store the locks are not held (ok() is false), but then
    // no writer reads the list any more and Kill() is over (it held every
    // lock while it marked the shards dead): publishing is safe either way.
    ShardLocks<true> locks(shards_.data(), shards_.count());
    list = hub->PublishLocked(std::move(list));
  }
  return true;
}

}  // namespace threadkv
