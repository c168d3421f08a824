// Change notifications (store.watch): per store, the list of subscriptions
// and the events every write pushes into the matching ones.
//
// The hub is a StoreHook (shard.h): the store installs it on its first
// watch() (Store::Hub), and from then on every change of every shard is
// reported to it under that shard's write lock (OnChange, OnClear, OnGroup),
// which turns it into events (Emit). A store never watched pays nothing;
// one whose watchers all closed pays a call and one relaxed load per change.
//
// Writers:
//  - With no subscription a change costs one relaxed load (active() is
//    false) and nothing else.
//  - Otherwise Emit() runs under the changed key's shard write lock: it
//    matches the event against each subscription's filter (no lock), and if
//    any matches, takes the hub's mutex, draws the event's `seq` from the
//    hub's counter and pushes a compact record (type, key bytes, version,
//    seq) into every matching subscription's bounded queue. Because the
//    shard lock is held, one key's events are queued in version order; and
//    because `seq` is drawn inside the write's critical section, seq order
//    is consistent with the linearization order of the writes (a write that
//    finished before another began has the smaller seq).
//  - A subscription whose owner is idle (not signalled since its last
//    Drain() found the queue empty) is put on this thread's wake list; FlushWakes() (AfterLock(), which the
//    store calls once every lock of the operation is released) notifies those owners
//    (Notifier::Notify: never blocks, never calls into a dead thread). A
//    writer never waits for a watcher.
//  - An atomic batch calls BeginBatch() / EndBatch() around its changes,
//    under all its shard locks: the hub's mutex is held across them, so the
//    batch's events get consecutive seqs and a Drain() sees all or none of
//    them (it takes the same mutex).
//  - Clear: one kClear event (key "", version 0) pushed to every
//    subscription whose event mask has it, whatever its key or prefix.
//
// Bounded queues: a subscription holds at most `max_queue` events. When it
// is full (or memory for a record cannot be had: nothing here throws under
// a lock), the event is dropped and counted; so is every later event until
// the owner drains, so that every queued event precedes every lost one in
// seq order. The drain reports the count (`lost`) and the seq of the last
// lost event, which the binding delivers as one `overflow` event after the
// queued ones. Within an atomic batch it is all or nothing: if one of the
// batch's events cannot be queued, those of the batch already queued are
// taken back and counted as lost too, so a batch is never split.
//
// The subscription list is an immutable array, replaced (AddLocked /
// RemoveLocked) only while the store holds every shard's write lock: a
// writer, which reads it under one shard lock, always sees a whole list,
// and an old list can be freed as soon as the store releases those locks.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "notifier.h"
#include "shard.h"

namespace threadkv {

enum class WatchEvent : uint8_t {
  kSet = 0,     // a key got a new value (its new version)
  kDelete = 1,  // a key was deleted (the removed entry's version)
  kExpire = 2,  // an entry past its deadline was removed (its version)
  kEvict = 3,   // an entry was evicted to make room (its version)
  kClear = 4,   // the store was cleared (key "", version 0)
  kOverflow = 5,
};

inline constexpr uint8_t WatchBit(WatchEvent t) { return static_cast<uint8_t>(1u << static_cast<unsigned>(t)); }
// Every event type a filter can ask for (set..clear; an overflow always comes).
inline constexpr uint8_t kWatchAllEvents = 0x1F;

struct WatchFilter {
  enum class Scope : uint8_t { kAll, kKey, kPrefix };
  Scope scope = Scope::kAll;
  std::string bytes;                 // the key, or the prefix (WTF-8, as stored keys)
  uint8_t events = kWatchAllEvents;  // WatchBit()s

  bool Matches(WatchEvent type, std::string_view key) const noexcept {
    if ((events & WatchBit(type)) == 0) return false;
    switch (scope) {
      case Scope::kAll:
        return true;
      case Scope::kKey:
        return type == WatchEvent::kClear || key == bytes;
      case Scope::kPrefix:
        return type == WatchEvent::kClear || key.starts_with(bytes);
    }
    return false;
  }
};

// One queued event, as a queue stores it: this header, then its key's
// bytes, padded to 8 bytes; records lie end to end in WatchChunks.
struct WatchRecord {
  uint64_t seq;
  uint64_t version;
  uint32_t key_size;
  WatchEvent type;

  std::string_view key() const noexcept { return {reinterpret_cast<const char*>(this + 1), key_size}; }
  // The bytes a record of a key of `key_size` bytes takes.
  static constexpr size_t SizeFor(size_t key_size) noexcept {
    return sizeof(WatchRecord) + ((key_size + 7) & ~size_t{7});
  }
};
static_assert(sizeof(WatchRecord) == 24 && alignof(WatchRecord) == 8);

// A block of queued records. A queue grows by whole blocks, never by
// copying what it holds (a copy would run under a shard lock), and the
// blocks a drain hands out come back to the queue at the owner's next drain:
// a steady watcher writes into memory it has used before (no page faults,
// no allocation). Blocks are kBytes; a record of a longer key gets a block
// of its own size, which is freed rather than reused.
class WatchChunk {
 public:
  static constexpr size_t kBytes = 16u << 10;
  static constexpr size_t kCapacity = kBytes - 16;  // after the header

  // A block with room for `bytes` (at least kCapacity), or nullptr (no
  // memory: nothing here throws, it runs under locks).
  static WatchChunk* New(size_t bytes) noexcept;
  // Frees a chain of blocks linked by next.
  static void FreeChain(WatchChunk* c) noexcept;

  unsigned char* data() noexcept { return reinterpret_cast<unsigned char*>(this + 1); }
  const unsigned char* data() const noexcept { return reinterpret_cast<const unsigned char*>(this + 1); }
  bool reusable() const noexcept { return capacity == kCapacity; }

  WatchChunk* next = nullptr;
  uint32_t used = 0;      // bytes of records
  uint32_t capacity = 0;  // bytes of room after the header
};
static_assert(sizeof(WatchChunk) == 16);

// A chain of blocks with its last one and its length, to splice in O(1).
struct WatchChain {
  WatchChunk* head = nullptr;
  WatchChunk* tail = nullptr;
  size_t count = 0;

  void Prepend(WatchChunk* c) noexcept;
  // The reusable blocks of `chain`; the others are put on *rest.
  static WatchChain SplitReusable(WatchChunk* chain, WatchChunk** rest) noexcept;
};

// What Drain() hands the owner: the queued events in seq order (count of
// them, in blocks: ForEach), then, when `lost` is not 0, an overflow to
// report after them (`lost_seq` is the seq of the last lost event, above
// every queued one). `closed`: the store was destroyed; nothing more will
// come. Its blocks go back to the subscription drained next with it.
class WatchBatch {
 public:
  WatchBatch() = default;
  ~WatchBatch() { WatchChunk::FreeChain(head_); }
  WatchBatch(const WatchBatch&) = delete;
  WatchBatch& operator=(const WatchBatch&) = delete;

  size_t count = 0;
  uint64_t lost = 0;
  uint64_t lost_seq = 0;
  bool closed = false;

  bool empty() const { return count == 0 && lost == 0 && !closed; }
  // Calls fn(const WatchRecord&) for each queued event, in seq order.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const WatchChunk* c = head_; c != nullptr; c = c->next)
      for (size_t at = 0; at < c->used;) {
        const auto* r = reinterpret_cast<const WatchRecord*>(c->data() + at);
        fn(*r);
        at += WatchRecord::SizeFor(r->key_size);
      }
  }

 private:
  friend class WatchHub;
  WatchChunk* head_ = nullptr;
};

// One watcher: its filter, its bounded queue, and how to wake its owner.
// Everything mutable is guarded by its hub's mutex.
class Subscription {
 public:
  Subscription(WatchFilter filter, size_t max_queue, std::shared_ptr<Notifier> notifier, uint64_t token);
  ~Subscription();
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;

  const WatchFilter& filter() const { return filter_; }
  size_t max_queue() const { return max_queue_; }
  uint64_t token() const { return token_; }

 private:
  friend class WatchHub;

  // Under the hub's mutex. Queues one event, or counts it lost.
  void Push(WatchEvent type, std::string_view key, uint64_t version, uint64_t seq, uint64_t batch) noexcept;
  void Lose(uint64_t seq) noexcept {
    ++lost_;
    lost_seq_ = seq;
  }
  // Under the hub's mutex: a block with room for `bytes` appended to the
  // queue (a kept one when it fits), or nullptr (no memory).
  WatchChunk* Grow(size_t bytes) noexcept;
  // Under the hub's mutex: keeps `chain` (reusable blocks) for later, then
  // sheds the kept blocks past `keep`; returns those, to be freed.
  WatchChunk* Keep(WatchChain chain, size_t keep) noexcept;
  WatchChunk* Shed(size_t keep) noexcept;

  const WatchFilter filter_;
  const size_t max_queue_;
  // Blocks queued and kept for reuse, together, while the owner is busy:
  // enough for max_queue_ records of short keys. An owner that finds its
  // queue empty keeps fewer (kIdleBlocks), so a burst's memory goes back
  // once it is over.
  const size_t max_blocks_;
  static constexpr size_t kIdleBlocks = 4;
  const std::shared_ptr<Notifier> notifier_;
  const uint64_t token_;
  // Under the hub's mutex:
  WatchChunk* head_ = nullptr;  // the queue: records in seq order
  WatchChunk* tail_ = nullptr;
  size_t count_ = 0;             // records queued
  size_t blocks_ = 0;            // blocks queued
  WatchChunk* spare_ = nullptr;  // blocks kept for reuse
  size_t spares_ = 0;
  size_t last_taken_ = 0;   // blocks the owner's last drain took
  uint64_t lost_ = 0;       // events dropped since the last drain
  uint64_t lost_seq_ = 0;   // the seq of the last of them
  bool signalled_ = false;  // the owner was notified, or is draining: no signal due
  bool closed_ = false;
  // The atomic batch this subscription last queued for (0: none), and the
  // queue as it was before its first event, to take its events back if one
  // is lost.
  uint64_t batch_ = 0;
  WatchChunk* batch_tail_ = nullptr;
  uint32_t batch_used_ = 0;
  size_t batch_count_ = 0;
};

class WatchHub final : public StoreHook {
 public:
  // Told of kSet, kDeleted, kExpired, kEvicted and the groups (interests()):
  // a replaced entry is not an event (the kSet that follows is), nor is a
  // cleared one (OnClear sends one clear event first).
  WatchHub();
  ~WatchHub() override;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // ---- Writers ----

  // True while the store has a subscription. Read under a shard lock (the
  // list changes only under every shard's write lock, so relaxed will do).
  bool active() const noexcept { return list_.load(std::memory_order_relaxed) != nullptr; }

  // Under the key's shard write lock: `type` happened to `key` (version:
  // the new one for kSet, the removed entry's otherwise). Returns true when
  // the writer must call AfterLock() once its locks are released.
  bool Emit(WatchEvent type, std::string_view key, uint64_t version) noexcept {
    return active() && EmitSlow(type, key, version);
  }
  // Under every shard's write lock: the store was cleared.
  bool EmitClear() noexcept { return active() && EmitSlow(WatchEvent::kClear, std::string_view(), 0); }

  // Under the shard locks of an atomic batch (at least one), around its
  // changes; nested calls are allowed. Its events get consecutive seqs and
  // are drained together. Pass EndBatch() what BeginBatch() returned.
  bool BeginBatch() noexcept;
  void EndBatch(bool held) noexcept;

  // The writer's thread, after every lock of its operation is released:
  // signals the owners this thread's Emit() calls queued a first event for.
  static void FlushWakes() noexcept;
  // True when this thread has owners to signal (FlushWakes() would do work).
  static bool WakesPending() noexcept;

  // ---- The store's hook (StoreHook) ----
  // kSet -> set, kDeleted -> delete, kExpired -> expire, kEvicted -> evict
  // (the store tells it nothing else). OnClear(destroy): CloseAllLocked.
  // OnGroup: BeginBatch / EndBatch. AfterLock: FlushWakes.
  uint8_t OnChange(uint32_t shard, Change change, const Entry& e) noexcept override;
  uint8_t OnClear(bool destroy) noexcept override;
  void OnGroup(bool begin) noexcept override;
  void AfterLock() noexcept override { FlushWakes(); }

  // ---- The subscription list ----
  // A change (Store::Watch / Unwatch) holds changes_mu() throughout, makes
  // the new list outside every shard lock (ListWith / ListWithout: they may
  // throw std::bad_alloc, with nothing changed), and publishes it under
  // every shard's write lock (PublishLocked), which hands back the old list
  // for the caller to free once those locks are released.

  using List = std::vector<std::shared_ptr<Subscription>>;

  std::mutex& changes_mu() { return changes_mu_; }
  // The current list plus `sub`.
  std::unique_ptr<const List> ListWith(std::shared_ptr<Subscription> sub) const;
  // The current list without `sub` (null when that leaves it empty); *found
  // says whether `sub` was in it.
  std::unique_ptr<const List> ListWithout(const Subscription* sub, bool* found) const;
  // Makes `next` (null: none) the list writers see; returns the old one.
  std::unique_ptr<const List> PublishLocked(std::unique_ptr<const List> next) noexcept;

  // Under every shard's write lock, the store being destroyed: marks every
  // subscription closed (its next drain says so; a closed one is never
  // pushed to again) after queueing a clear for those that take one. The
  // list stays (no writer reaches it any more: the shards are dead); each
  // owner's Unwatch takes its subscription off. Returns true when
  // FlushWakes() must be called.
  bool CloseAllLocked() noexcept;

  // ---- Owners ----

  // Moves `sub`'s queued events into *out; out's previous blocks go back to
  // the queue for reuse, so a steady drain allocates nothing. When the
  // queue keeps growing (the owner is slower than the writers), the owner
  // also adds fresh blocks, allocated and touched on its own thread outside
  // every lock, for the writers to fill: a watcher's backlog costs its
  // writers no allocation and no page fault under their locks. The signal is re-armed only when there was nothing
  // to move (out->empty()): after a drain that returned events the owner
  // must drain again, without waiting for a signal, until one returns
  // nothing. So a busy watcher costs its writers no wake-ups: they signal
  // an owner once per idle period, not once per drain.
  void Drain(Subscription& sub, WatchBatch* out);

  // Blocks `sub` keeps for reuse now (for tests and debugging).
  size_t spares(const Subscription& sub) const;

  // Subscriptions now (a snapshot), and the last seq handed out.
  size_t count() const noexcept;
  uint64_t last_seq() const noexcept;

 private:
  bool EmitSlow(WatchEvent type, std::string_view key, uint64_t version) noexcept;
  // OnChange past its quick reject.
  uint8_t Deliver(Change change, const Entry& e) noexcept;
  // Under mu_ (taken here): draws the event's seq and pushes it into
  // list[first] (which matches) and every later subscription that matches.
  bool EmitFrom(const List& list, size_t first, WatchEvent type, std::string_view key, uint64_t version) noexcept;
  // Under mu_: pushes into `sub`, and lists it for AfterLock() when its
  // owner needs a signal.
  bool PushLocked(Subscription& sub, WatchEvent type, std::string_view key, uint64_t version, uint64_t seq) noexcept;

  std::mutex changes_mu_;                   // serializes list changes (never taken by writers)
  std::unique_ptr<const List> owned_;       // the current list (changed under every shard lock)
  std::atomic<const List*> list_{nullptr};  // owned_.get(), or null while empty
  // A summary of the list for OnChange's quick reject: a change that no
  // subscription can match costs a few loads and a multiply, without the
  // scan of the list. Remade with the list (under every shard lock; read
  // under one).
  struct Quick {
    uint8_t all = 0;      // event bits of the subscriptions that take every key
    uint8_t keyed = 0;    // event bits of the others (a key, or a prefix)
    uint8_t sig_len = 0;  // bytes a signature covers: the shortest key or prefix, at most 8
    size_t min_len = 0;   // the shortest key or prefix (a shorter key matches none)
    uint64_t sigs = 0;    // bit Signature(key or prefix, sig_len) of each
    static unsigned Signature(std::string_view key, size_t n) noexcept;
    static Quick Of(const List* list) noexcept;
  };
  Quick quick_;
  // Guards every subscription's queue, seq_ and the batch state. Recursive:
  // an atomic batch holds it from BeginBatch() to EndBatch(), and its
  // Emit() calls take it again.
  mutable std::recursive_mutex mu_;
  uint64_t seq_ = 0;          // the last seq handed out
  uint64_t batch_ = 0;        // the atomic batch in progress (0: none)
  uint64_t batches_ = 0;      // atomic batches so far (ids)
  unsigned batch_depth_ = 0;  // nesting of BeginBatch()
  std::atomic<size_t> count_{0};
  // Set by CloseAllLocked: count_ stays 0 from then on. Read by
  // PublishLocked, which after a Kill() runs once Kill() is over (ordered by
  // a shard lock, see Store::Unwatch).
  bool dead_ = false;
};

}  // namespace threadkv
