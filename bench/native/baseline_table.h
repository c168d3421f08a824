// BASELINE FOR bench/native/table_growth.cc ONLY: the shard hash table as it
// was before incremental rehashing (native/core/table.h at f207b7c, with its
// namespace renamed to threadkv::baseline and the include paths adjusted):
// growing or shrinking rehashes the whole slot array in one call. Not part
// of the library; do not edit it except to keep it building.

// The hash table inside one shard: open addressing with linear probing over
// an array of one-word slots, and backward-shift deletion (no tombstones, so
// probe lengths do not decay under churn).
//
// A slot is 8 bytes: the Entry pointer with the low 20 bits of the key's
// hash (the tag) packed into bits the pointer does not use: hash bits 0-15
// in its top 16 bits (user-space addresses on x86-64 and arm64 are below
// 2^48) and hash bits 16-19 in its low 4 bits (every entry block is 16-byte
// aligned, see MakeEntry); rotating the hash left by 48 puts them there.
// Zero is an empty slot. A probe compares tags in the slot array and touches
// an entry (one cache miss) only when they match.
// The home slot of a key is `hash & mask`, so while the capacity is at most
// 2^20 the tag holds the whole home index, and growing, shrinking and
// backward-shift deletion never read an entry; the tag bits above the index
// still filter probe matches. In a bigger table (a huge shard: shards: 1
// with millions of keys) those operations recompute the hash from the
// entry's key, with the seed the table was given (Store passes its own).
//
// LeakSanitizer does not recognise a tagged slot as a reference: an entry
// still in a live table at exit is reported as leaked (tests free their
// stores and tables before they end).
//
// Not thread-safe: the owning Shard's lock protects every call.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "core/entry.h"
#include "core/hash.h"

namespace threadkv::baseline {

class Table {
 public:
  using Slot = uint64_t;
  static constexpr size_t kSlotBytes = sizeof(Slot);
  static constexpr size_t kMinCapacity = 8;
  // Hash bits kept in a slot, and the capacity up to which they give the
  // home index.
  static constexpr unsigned kTagBits = 20;
  static constexpr size_t kTagHomeCapacity = size_t{1} << kTagBits;

  // `seed`: the seed of the hashes the caller passes (HashBytes(key, seed)),
  // needed to recompute a key's home index in tables over kTagHomeCapacity;
  // by default HashKey()'s. `tag_home_capacity` (a power of two, at most
  // kTagHomeCapacity) lowers that threshold, so that tests can exercise the
  // path of huge tables with a few thousand keys.
  Table() : Table(HashSeed()) {}
  explicit Table(uint64_t seed, size_t tag_home_capacity = kTagHomeCapacity);
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  // Moves take the entries with the seed they were hashed with; a
  // moved-from table is empty and keeps its own seed.
  Table(Table&& other) noexcept;
  Table& operator=(Table&& other) noexcept;
  ~Table();

  Entry* Find(uint64_t hash, std::string_view key) const {
    if (size_ == 0) return nullptr;
    const Slot tag = TagOf(hash);
    size_t i = hash & mask_;
    for (;;) {
      const Slot s = slots_[i];
      if (s == 0) return nullptr;
      const Slot x = s ^ tag;  // the entry's address when the tags match
      if ((x & kTagMask) == 0) {
        Entry* e = reinterpret_cast<Entry*>(x);
        if (e->key() == key) return e;
      }
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
  uint64_t seed() const { return seed_; }

  // The entry in slot i (i < capacity()), or null (the TTL sweep walks the
  // slots a few at a time).
  Entry* SlotEntry(size_t i) const { return EntryOf(slots_[i]); }

  template <class Fn>
  void ForEach(Fn&& fn) const {
    if (slots_ == nullptr) return;
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i] != 0) fn(*EntryOf(slots_[i]));
  }

 private:
  // Slot bits that hold the tag, and those that hold the pointer.
  static constexpr Slot kTagMask = 0xFFFF'0000'0000'000FULL;
  static constexpr Slot kPointerMask = ~kTagMask;

  // The tag of `hash` where it sits in a slot.
  static Slot TagOf(uint64_t hash) { return std::rotl(hash, 48) & kTagMask; }
  // The low kTagBits bits of the hash of the entry in a full slot.
  static uint64_t TagHashOf(Slot s) { return std::rotl(s & kTagMask, 16); }
  static Entry* EntryOf(Slot s) { return reinterpret_cast<Entry*>(s & kPointerMask); }
  // The slot for `e` whose key hashes to `hash`. Aborts if e's address does
  // not leave the tag bits free.
  static Slot Pack(const Entry* e, uint64_t hash);

  // The home index, in a table of mask `mask`, of the entry in full slot s.
  size_t HomeOf(Slot s, size_t mask) const;
  void Rehash(size_t new_capacity);
  void Free();

  Slot* slots_ = nullptr;
  size_t mask_ = 0;
  size_t size_ = 0;
  uint64_t seed_;
  size_t tag_home_capacity_;
};

}  // namespace threadkv::baseline
