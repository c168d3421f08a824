// The hash table inside one shard: open addressing with linear probing over
// an array of {hash, Entry*} slots, and backward-shift deletion (no
// tombstones, so probe lengths do not decay under churn). The full 64-bit
// hash is kept in the slot: a probe compares hashes in the slot array and
// touches an entry (one cache miss) only when they match.
//
// Not thread-safe: the owning Shard's lock protects every call.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "entry.h"

namespace threadkv {

class Table {
 public:
  struct Slot {
    uint64_t hash;
    Entry* entry;  // nullptr: empty
  };
  static constexpr size_t kSlotBytes = sizeof(Slot);
  static constexpr size_t kMinCapacity = 8;

  Table() = default;
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  Table(Table&& other) noexcept;
  Table& operator=(Table&& other) noexcept;
  ~Table();

  Entry* Find(uint64_t hash, std::string_view key) const {
    if (size_ == 0) return nullptr;
    size_t i = hash & mask_;
    for (;;) {
      const Slot& s = slots_[i];
      if (s.entry == nullptr) return nullptr;
      if (s.hash == hash && s.entry->key() == key) return s.entry;
      i = (i + 1) & mask_;
    }
  }

  // Inserts `e` (whose key hashes to `hash`), or replaces the entry with the
  // same key. Returns the replaced entry, or null on insert. May grow the
  // slot array (throws std::bad_alloc and changes nothing if that fails).
  EntryPtr Upsert(uint64_t hash, EntryPtr e);

  // Removes and returns the entry for `key`, or null.
  EntryPtr Erase(uint64_t hash, std::string_view key);

  // Grows the slot array, if needed, so that Upsert never allocates while
  // size() stays below `n` (so a batch of upserts can be made all-or-nothing:
  // reserve first, then nothing can fail). Throws std::bad_alloc and changes
  // nothing if the allocation fails.
  void Reserve(size_t n);

  // Moves every entry out (into `out`) and leaves the table empty.
  void DrainInto(std::vector<EntryPtr>& out);

  size_t size() const { return size_; }
  size_t capacity() const { return mask_ == 0 && slots_ == nullptr ? 0 : mask_ + 1; }
  size_t slot_bytes() const { return capacity() * kSlotBytes; }

  // The entry in slot i (i < capacity()), or null (the TTL sweep walks the
  // slots a few at a time).
  Entry* SlotEntry(size_t i) const { return slots_[i].entry; }

  template <class Fn>
  void ForEach(Fn&& fn) const {
    if (slots_ == nullptr) return;
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i].entry != nullptr) fn(*slots_[i].entry);
  }

 private:
  void Rehash(size_t new_capacity);
  void Free();

  Slot* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace threadkv
