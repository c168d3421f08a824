// Capacity limits and the SIEVE eviction queue, as plain data structures:
// what a store may hold (Budget) and which entry goes first when it must
// make room (SieveQueue). The shard (shard.h) applies them under its write
// lock; nothing here takes a lock or unlinks an entry.
#pragma once

#include <cstddef>
#include <cstdint>

#include "entry.h"
#include "options.h"
#include "status.h"

namespace threadkv {

// A store's capacity limits as each shard enforces them: the store-wide
// Options::max_entries / max_bytes split evenly, ceil(limit / shards) per
// shard (0: no limit).
struct Budget {
  uint64_t max_entries = 0;
  uint64_t max_bytes = 0;

  static Budget PerShard(const Options& options, uint64_t shards) {
    auto share = [&](uint64_t limit) { return limit == 0 ? 0 : (limit + shards - 1) / shards; };
    return {share(options.max_entries), share(options.max_bytes)};
  }

  bool limited() const { return max_entries != 0 || max_bytes != 0; }

  // What `e` costs against the byte limit.
  static uint64_t Cost(const Entry& e) { return uint64_t{e.key_size} + e.value_size + kEntryOverhead; }
  // The bytes of `entries` entries whose footprints sum to `footprints`, as
  // the byte limit counts them.
  static uint64_t Charged(uint64_t entries, uint64_t footprints) {
    return footprints + entries * (kEntryOverhead - sizeof(Entry));
  }

  // True when `e` alone passes the byte budget: it can never be stored.
  bool TooBig(const Entry& e) const { return max_bytes != 0 && Cost(e) > max_bytes; }
  // True when `entries` entries charged `bytes` pass a limit.
  bool Over(uint64_t entries, uint64_t bytes) const {
    return (max_entries != 0 && entries > max_entries) || (max_bytes != 0 && bytes > max_bytes);
  }
  // Whether `add_entries` more entries, costing `add_cost` and freeing
  // `sub_cost`, fit beside `entries` entries charged `bytes`: kOk, or the
  // limit they would pass (policy none's refusal).
  Status Fits(uint64_t entries, uint64_t bytes, uint64_t add_entries, uint64_t add_cost, uint64_t sub_cost) const {
    if (max_entries != 0 && entries + add_entries > max_entries) return Status::kFullEntries;
    if (max_bytes != 0 && bytes + add_cost - sub_cost > max_bytes) return Status::kFullBytes;
    return Status::kOk;
  }
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
