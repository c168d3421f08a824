// Capacity limits and the SIEVE eviction queue, as plain data structures:
// what a store may hold (Budget) and which entry goes first when it must
// make room (SieveQueue). The shard (shard.h) applies them under its write
// lock; nothing here takes a lock or unlinks an entry.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "entry.h"
#include "options.h"
#include "status.h"

namespace threadkv {

// A store's capacity limits, for the whole store exactly as the user gave
// them (Options::max_entries / max_bytes; 0: no limit), and what its
// entries use of them.
//
// Writers reserve room here under the write lock of the shard they write
// to, before they link an entry in, and give it back when an entry is
// unlinked: so the total never passes a limit, and a write is refused (or
// evicts) only when the store as a whole is full. The counters sit on their
// own cache line behind a small spin lock (the two limits are checked
// together, so that a write refused by one never holds a reservation of the
// other that could refuse a third): only writers of limited stores touch
// it, never a reader, and never a store without limits.
class Budget {
 public:
  Budget(uint64_t max_entries, uint64_t max_bytes) : max_entries_(max_entries), max_bytes_(max_bytes) {}
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

  uint64_t max_entries() const { return max_entries_; }
  uint64_t max_bytes() const { return max_bytes_; }
  bool limited() const { return max_entries_ != 0 || max_bytes_ != 0; }
  // True when an entry charged `charge` passes the byte limit alone: it can
  // never be stored.
  bool TooBig(uint64_t charge) const { return max_bytes_ != 0 && charge > max_bytes_; }

  // Reserves `entries` more entries and `bytes` more bytes (either may be
  // negative: a replacement by a smaller value), or nothing: false when that
  // would pass a limit. Growth of zero or less always fits.
  bool TryReserve(int64_t entries, int64_t bytes) {
    Guard g(this);
    if (!Fits(entries, bytes)) return false;
    entries_ += static_cast<uint64_t>(entries);
    bytes_ += static_cast<uint64_t>(bytes);
    return true;
  }
  // Gives back what unlinked entries held.
  void Release(uint64_t entries, uint64_t bytes) {
    Guard g(this);
    entries_ -= entries;
    bytes_ -= bytes;
  }
  // Whether TryReserve(entries, bytes) would succeed now (room made for one
  // writer may be taken by another before it tries).
  bool WouldFit(int64_t entries, int64_t bytes) const {
    Guard g(this);
    return Fits(entries, bytes);
  }
  // What the store's entries hold now (expired ones still in their slots
  // included), as one consistent reading of both counts.
  void Used(uint64_t* entries, uint64_t* bytes) const {
    Guard g(this);
    *entries = entries_;
    *bytes = bytes_;
  }
  // The limit a refused reservation would pass.
  Status Refusal(int64_t entries) const {
    Guard g(this);
    return max_entries_ != 0 && entries > 0 && entries_ + static_cast<uint64_t>(entries) > max_entries_
               ? Status::kFullEntries
               : Status::kFullBytes;
  }

 private:
  struct Guard {
    explicit Guard(const Budget* b) : b_(b) { b_->Lock(); }
    ~Guard() { b_->busy_.store(false, std::memory_order_release); }
    const Budget* b_;
  };
  void Lock() const {
    if (busy_.exchange(true, std::memory_order_acquire)) LockSlow();
  }
  void LockSlow() const;
  bool Fits(int64_t entries, int64_t bytes) const {
    if (entries > 0 && max_entries_ != 0 && entries_ + static_cast<uint64_t>(entries) > max_entries_) return false;
    if (bytes > 0 && max_bytes_ != 0 && bytes_ + static_cast<uint64_t>(bytes) > max_bytes_) return false;
    return true;
  }

  const uint64_t max_entries_;
  const uint64_t max_bytes_;
  alignas(64) mutable std::atomic<bool> busy_{false};
  uint64_t entries_ = 0;  // under busy_
  uint64_t bytes_ = 0;    // under busy_
  char pad_[64 - sizeof(std::atomic<bool>) - 2 * sizeof(uint64_t)];
};

// SIEVE (Zhang et al., NSDI '24) over one shard's entries: a FIFO queue
// linked through the entries' own EntryLinks (no allocation), newest at
// `head`, and a hand that walks from the tail toward the head. Readers only
// set Entry::visited (under the shared lock); everything here runs under
// the shard's write lock.
class SieveQueue {
 public:
  // A newly linked entry, at the head.
  void Push(Entry* e) {
    EntryLinks& l = e->links();
    l.older = head_;
    l.newer = nullptr;
    if (head_ != nullptr) head_->links().newer = e;
    head_ = e;
    if (tail_ == nullptr) tail_ = e;
  }
  // An entry being unlinked (the hand moves past it).
  void Remove(Entry* e) {
    EntryLinks& l = e->links();
    if (hand_ == e) hand_ = l.newer;
    if (l.newer != nullptr)
      l.newer->links().older = l.older;
    else
      head_ = l.older;
    if (l.older != nullptr)
      l.older->links().newer = l.newer;
    else
      tail_ = l.newer;
    l.newer = l.older = nullptr;
  }
  void Reset() { head_ = tail_ = hand_ = nullptr; }
  // `to` takes `from`'s place in the queue (a copy of the same entry).
  void Replace(Entry* from, Entry* to) {
    EntryLinks& f = from->links();
    EntryLinks& t = to->links();
    t = f;
    if (f.newer != nullptr)
      f.newer->links().older = to;
    else
      head_ = to;
    if (f.older != nullptr)
      f.older->links().newer = to;
    else
      tail_ = to;
    if (hand_ == from) hand_ = to;
    f.newer = f.older = nullptr;
  }

  // The next entry to evict: from the hand (or the tail), clearing visited
  // bits on the way, the first entry not visited since the hand last passed
  // it, or the first for which expired(e) is true, visited or not. Pinned
  // entries are skipped. Null if none is found within two passes over
  // `size` entries (only pinned entries left). The hand stays at the victim
  // (Remove moves it on).
  template <class Expired>
  Entry* NextVictim(size_t size, Expired&& expired) {
    Entry* o = hand_ != nullptr ? hand_ : tail_;
    for (size_t budget = 2 * size + 2; o != nullptr && budget > 0; --budget) {
      if (o->pinned == 0) {
        if (o->visited.load(std::memory_order_relaxed) == 0 || expired(*o)) {
          hand_ = o;
          return o;
        }
        o->visited.store(0, std::memory_order_relaxed);
      }
      o = o->links().newer != nullptr ? o->links().newer : tail_;
    }
    return nullptr;
  }

 private:
  Entry* head_ = nullptr;
  Entry* tail_ = nullptr;
  Entry* hand_ = nullptr;
};

}  // namespace threadkv
