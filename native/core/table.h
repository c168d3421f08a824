// The hash table inside one shard: open addressing with linear probing over
// an array of one-word slots, backward-shift deletion (no tombstones in the
// steady state, so probe lengths do not decay under churn), and incremental
// rehashing, so that no single call stalls the shard while the table grows
// or shrinks.
//
// A slot is 8 bytes: the Entry pointer with the low 20 bits of the key's
// hash (the tag) packed into bits the pointer does not use: hash bits 0-15
// in its top 16 bits (user-space addresses on x86-64 and arm64 are below
// 2^48) and hash bits 16-19 in its low 4 bits (every entry block is 16-byte
// aligned, see MakeEntry); rotating the hash left by 48 puts them there.
// Zero is an empty slot. A probe compares tags in the slot array and touches
// an entry (one cache miss) only when they match.
// The home slot of a key is `hash & mask`, so while the capacity is at most
// 2^20 the tag holds the whole home index, and moving an entry between slot
// arrays and backward-shift deletion never read an entry; the tag bits above
// the index still filter probe matches. In a bigger table (a huge shard:
// shards: 1 with millions of keys) those operations recompute the hash from
// the entry's key, with the seed the table was given (Store passes its own).
//
// Growth and shrinking (incremental rehashing, as Redis's dict does it).
// The current slot array is at most 3/4 full; an insert that would pass
// that allocates an array twice as big, and an erase that leaves it under
// 1/8 full allocates one half as big (an emptied table drops straight to
// kMinCapacity). The allocation is the only work done at once: the array in
// use becomes the *old* array and the fresh one the *current* array, and
// the entries move over a few at a time. While such a migration runs:
//  - Every key is in exactly one of the two arrays. Lookups probe the
//    current array, then the old one. Inserts go to the current array; a
//    replace happens where the key is; an erase in the current array is a
//    backward shift, an erase in the old array leaves a tombstone (kMoved).
//  - The old array is frozen: no entry is ever added to it or moved within
//    it. It is migrated in slot order from slot 0, and every slot below the
//    next one to migrate (old_next_) counts as a tombstone, whatever it
//    holds; above it, slots only ever change from an entry to kMoved
//    (erased) or to the replacing entry of the same key. So every probe
//    chain in it stays intact: for an entry at slot p with home h, the slots
//    h..p were full when the migration started and all still count as
//    non-empty, and a probe passes tombstones and stops only at an empty
//    slot at or above old_next_. (Clearing migrated slots instead would cut
//    the probe chains of the later members of a cluster whose start had
//    moved.)
//  - Every Upsert and Erase then migrates a step: it looks at no more than
//    `step_slots` old slots and moves no more than `step_moves` entries
//    (defaults kStepSlots, kStepMoves), each to the first free slot from its
//    home in the current array, which keeps that array a valid linear-
//    probing table. When the old array holds no entry any more it is freed.
//    Find never migrates: readers hold only the shard's shared lock, so a
//    read never writes.
//  - Only one migration at a time. The steps are large enough that a
//    migration always ends before the current array could need to grow
//    (proof at kStepSlots), so the fallback in Upsert (finish the migration
//    at once, then grow) is never taken with the default steps (tests check
//    this by counting moves); a shrink that falls due while one runs waits
//    for it to end (shrinking is best effort anyway). Reserve may finish a
//    migration at once, for a batch of comparable size.
// Slot arrays of 128 KiB and up are mapped from the OS directly, so that
// allocating one costs no memset, and a migration gives an old one of 512
// KiB and up back in 256 KiB pieces as it passes them, so that no single
// call unmaps megabytes (table.cc). What a migration costs otherwise: both
// arrays' memory until it ends (slot_bytes() counts both), and, for keys
// not in the current array, a second probe.
//
// LeakSanitizer does not recognise a tagged slot as a reference: an entry
// still in a live table at exit is reported as leaked (tests free their
// stores and tables before they end).
//
// Not thread-safe: the owning Shard's lock protects every call; the const
// calls (Find, ForEach, size, ...) only read, and may run concurrently.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "entry.h"
#include "hash.h"

namespace threadkv {

class Table {
 public:
  using Slot = uint64_t;
  static constexpr size_t kSlotBytes = sizeof(Slot);
  static constexpr size_t kMinCapacity = 8;
  // Hash bits kept in a slot, and the capacity up to which they give the
  // home index.
  static constexpr unsigned kTagBits = 20;
  static constexpr size_t kTagHomeCapacity = size_t{1} << kTagBits;
  // Migration work per Upsert or Erase while a migration runs: at most
  // kStepSlots old slots looked at, at most kStepMoves entries moved.
  //
  // Why a migration always ends before the current array must grow (C is
  // the old array's capacity; each step either looks at kStepSlots slots or
  // moves kStepMoves entries, so a migration takes at most
  // C / kStepSlots + live / kStepMoves calls):
  //  - growth C -> 2C starts at 3C/4 entries (at most 3C/4 live in the old
  //    array); the new array must grow only at 3/4 of 2C, after at least
  //    3C/4 more inserts, and C/64 + (3C/4)/8 = 7C/64 < 3C/4;
  //  - a shrink C -> C/2 starts under C/8 entries; the new array must grow
  //    only at 3/4 of C/2 = 3C/8 entries, after at least C/4 inserts, and
  //    C/64 + (C/8)/8 = C/32 < C/4;
  //  - Reserve(n) that starts a migration to C' >= 2C: as for growth.
  // The same sums show that a shrink migration ends before the size can
  // halve again (at least C/16 erases), so shrinks keep pace with a stream
  // of erases (and a table emptied by erases is left with a small array,
  // which goes at once). An old array whose entries all left by erases
  // before the scan reached them is given back a 256 KiB piece per call:
  // C/32768 calls, far fewer than any of the above.
  static constexpr size_t kStepSlots = 64;
  static constexpr size_t kStepMoves = 8;

  // `seed`: the seed of the hashes the caller passes (HashBytes(key, seed)),
  // needed to recompute a key's home index in tables over kTagHomeCapacity;
  // by default HashKey()'s. `tag_home_capacity` (a power of two, at most
  // kTagHomeCapacity) lowers that threshold, so that tests can exercise the
  // path of huge tables with a few thousand keys. `step_slots` and
  // `step_moves` (1 to 65535) change the migration step: tests use tiny
  // steps to keep migrations running across many calls (with steps below
  // the defaults, the fallback in Upsert can be taken).
  Table() : Table(HashSeed()) {}
  explicit Table(uint64_t seed, size_t tag_home_capacity = kTagHomeCapacity, size_t step_slots = kStepSlots,
                 size_t step_moves = kStepMoves);
  Table(const Table&) = delete;
  Table& operator=(const Table&) = delete;
  // Moves take the entries (and a migration in progress) with the seed they
  // were hashed with; a moved-from table is empty and keeps its own seed and
  // steps. A walk cursor of the moved-to table restarts its pass.
  Table(Table&& other) noexcept;
  Table& operator=(Table&& other) noexcept;
  ~Table();

  Entry* Find(uint64_t hash, std::string_view key) const {
    // While a migration runs, out of line; otherwise the loop needs neither
    // `this` nor `hash` after its start (fewer registers to keep: callgrind
    // counts this path as it was before migrations existed).
    if (old_ != nullptr) [[unlikely]]
      return FindMigrating(hash, key);
    // (A table without an array points at kNoArray: one empty slot.)
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
  // same key. Returns the replaced entry, or null on insert. May allocate a
  // bigger slot array; if that fails it throws std::bad_alloc and changes
  // nothing (not even a migration's progress). Then migrates one step.
  EntryPtr Upsert(uint64_t hash, EntryPtr e);

  // Removes and returns the entry for `key`, or null. Never throws: a shrink
  // whose allocation fails is skipped. Migrates one step (also on a miss).
  EntryPtr Erase(uint64_t hash, std::string_view key);

  // Makes room so that Upsert never allocates while size() stays below `n`
  // (so a batch of upserts can be made all-or-nothing: reserve first, then
  // nothing can fail). Allocates (at most one array) only when the current
  // array would need to grow before n; a migration left running needs no
  // allocation to end. If a migration is running and a bigger array is
  // needed, it is first finished here: work proportional to the old array,
  // which is at most a few times n - size() (the batch itself). Throws
  // std::bad_alloc and changes nothing if the allocation fails.
  void Reserve(size_t n);

  // Moves every entry out (into `out`) and leaves the table empty, with no
  // slot array.
  void DrainInto(std::vector<EntryPtr>& out);

  size_t size() const { return size_; }
  // The current slot array's capacity (the target of a running migration).
  size_t capacity() const { return HasArray() ? mask_ + 1 : 0; }
  // The capacity of the array a running migration empties; 0 if none runs.
  size_t old_capacity() const { return old_ == nullptr ? 0 : old_mask_ + 1; }
  bool migrating() const { return old_ != nullptr; }
  // Bytes of both slot arrays.
  size_t slot_bytes() const { return (capacity() + old_capacity()) * kSlotBytes; }
  uint64_t seed() const { return seed_; }
  // Entries moved from an old array to a current one so far (a count for
  // tests and statistics: each move is the unit of a migration's work).
  uint64_t migrated_entries() const { return moves_; }

  // Migrates up to `max_slots` old slots / `max_moves` entries now (for a
  // caller holding the write lock with time to spare, e.g. a background
  // task, so that a migration does not wait for writes to end). Returns
  // true while a migration is still running.
  bool Migrate(size_t max_slots, size_t max_moves);

  // Every entry, exactly once (also while a migration runs). fn must not
  // change the table.
  template <class Fn>
  void ForEach(Fn&& fn) const {
    if (HasArray())
      for (size_t i = 0; i <= mask_; ++i)
        if (slots_[i] != 0) fn(*EntryOf(slots_[i]));
    if (old_live_ != 0)
      for (size_t i = old_next_; i <= old_mask_; ++i)
        if (Live(old_[i])) fn(*EntryOf(old_[i]));
  }

  // ---- Walk: a resumable, bounded pass over the entries ----
  //
  // Where a walk resumes. A default-constructed cursor starts a pass.
  struct WalkCursor {
    uint64_t array = 0;  // the generation of the slot array being walked
    size_t pos = 0;      // the next slot of that array
  };

  // Calls fn(Entry&) for the entries in the next slots of the pass `c`
  // describes, and advances `c`. Returns true when the pass is complete
  // (then `c` is reset, so the next call starts a new pass).
  //
  // fn may erase the entry it is given (Erase with its key), which may start
  // or advance a migration; it must not change the table otherwise. Between
  // calls, anything may happen: the caller may release the lock, and other
  // calls may insert, erase, grow, shrink or migrate.
  //
  // Work per call: `budget` slots looked at (at least 1, so that every call
  // makes progress; a slot looked at again after fn erased its entry counts
  // again), then, in the current array, the slots to the end of the cluster
  // where it stopped (at most the longest probe sequence), so that the next
  // call starts at an empty slot.
  //
  // Guarantee: every entry that is in the table for the whole pass (from
  // the call that starts it to the call that returns true) is given to fn at
  // least once in the pass. Entries may be given more than once (a backward
  // shift across the array's end, or a migration, can move a visited entry
  // ahead of the cursor), and entries inserted or erased during the pass
  // may or may not be. If the array the walk is in is freed before the walk
  // leaves it (its migration ended first), the pass starts again from the
  // beginning: at most once per completed migration.
  //
  // Why (the proof the tests exercise): a pass walks the old array, then the
  // current one, each in slot order. An entry only ever moves (1) from the
  // old array to the current one, which the walk visits after it, or (2)
  // within the current array by a backward shift, which never moves it
  // before its home slot. A call stops in the current array only at an
  // empty slot e, so every entry after e that the walk has not visited has
  // its home after e (its probe sequence cannot cross the empty slot, nor
  // wrap around the array's end past it), and no later shift can move it
  // back over e. Within a call, fn's own erase opens a hole at the cursor
  // and shifts only later entries into it, which is why the slot is looked
  // at again. The old array is frozen, so the walk may stop anywhere in it;
  // everything it has not reached yet is either still ahead in it or moved
  // to the current array, which the walk has not begun. When the walk
  // reaches the current array, every entry still in the old array has been
  // visited, so what migrates in later needs no visit.
  template <class Fn>
  bool Walk(WalkCursor& c, size_t budget, Fn&& fn) {
    if (budget == 0) budget = 1;  // every call makes progress
    for (;;) {
      const WalkArray a = Resolve(c);
      if (a.slots == nullptr) {
        c = WalkCursor{};
        return true;
      }
      // To the next entry in this array (fn, which may change the arrays,
      // is not called meanwhile), or a stop.
      Slot s = 0;
      for (; c.pos < a.capacity; ++c.pos) {
        s = a.slots[c.pos];
        if (budget == 0 && (a.old || s == 0)) return false;
        if (budget != 0) --budget;
        if (Live(s)) break;
      }
      if (c.pos >= a.capacity) {
        if (a.old) {
          c = WalkCursor{gen_, 0};  // on to the current array
          continue;
        }
        c = WalkCursor{};
        return true;
      }
      fn(*EntryOf(s));
      // Unless fn erased the entry (or the array is gone), go on; otherwise
      // look at the same slot again: a backward shift may have pulled a
      // later entry into it.
      if (SlotAt(c) == s) ++c.pos;
    }
  }

  // ---- Test seam ----
  //
  // For tests only: when set, called before every slot-array allocation
  // with the number of slots; returning false makes that allocation fail
  // (std::bad_alloc), so tests can check the strong guarantee of Upsert and
  // Reserve and the best-effort shrink. Null (the default) for production.
  // Set it only while no other thread uses a Table.
  using SlotAllocHook = bool (*)(size_t slots);
  static void SetSlotAllocHookForTesting(SlotAllocHook hook);

 private:
  // Slot bits that hold the tag, and those that hold the pointer.
  static constexpr Slot kTagMask = 0xFFFF'0000'0000'000FULL;
  static constexpr Slot kPointerMask = ~kTagMask;
  // An old array's slot whose entry was erased or migrated: probes go on
  // past it. Its pointer bits are zero, which no entry's are.
  static constexpr Slot kMoved = 1;

  // What slots_ points at while the table has no array: one empty slot
  // (mask 0), so that Find needs no test for it. Never written.
  static constexpr Slot kNoArray[1] = {0};
  bool HasArray() const { return slots_ != kNoArray; }

  // The tag of `hash` where it sits in a slot.
  static Slot TagOf(uint64_t hash) { return std::rotl(hash, 48) & kTagMask; }
  // The low kTagBits bits of the hash of the entry in a full slot.
  static uint64_t TagHashOf(Slot s) { return std::rotl(s & kTagMask, 16); }
  static Entry* EntryOf(Slot s) { return reinterpret_cast<Entry*>(s & kPointerMask); }
  static bool Live(Slot s) { return (s & kPointerMask) != 0; }
  // The slot for `e` whose key hashes to `hash`. Aborts if e's address does
  // not leave the tag bits free.
  static Slot Pack(const Entry* e, uint64_t hash);

  // The home index, in a table of mask `mask`, of the entry in full slot s.
  size_t HomeOf(Slot s, size_t mask) const;
  size_t ProbeCurrent(uint64_t hash, std::string_view key, bool* found) const;
  // The old array's slot holding `key`, or kNoSlot.
  static constexpr size_t kNoSlot = ~size_t{0};
  size_t FindSlotInOld(uint64_t hash, std::string_view key) const;
  // Find while a migration runs: the current array, then the old one.
  Entry* FindMigrating(uint64_t hash, std::string_view key) const;
  EntryPtr UpsertMigrating(uint64_t hash, Slot packed, EntryPtr e);
  EntryPtr EraseMigrating(uint64_t hash, std::string_view key);
  // Removes the entry in current slot i by backward shift.
  void RemoveAt(size_t i);
  // Makes `fresh` (of `fresh_capacity` slots) the current array, the array
  // in use the old one (unless it is small and empty: then it is freed). No
  // migration may be running.
  void Install(Slot* fresh, size_t fresh_capacity) noexcept;
  // Allocates an array twice as big (throws, changing nothing), finishes a
  // running migration, and installs it.
  void Grow();
  // Starts a shrink if one is due and no migration runs (best effort).
  void MaybeShrink() noexcept;
  void Step() noexcept { Migrate(step_slots_, step_moves_); }
  void FinishMigration() noexcept;
  void EndMigration() noexcept;
  void Free() noexcept;

  // Walk support: the live array a cursor is in (restarting the pass at the
  // oldest live array if that array is gone), and the slot under a cursor.
  struct WalkArray {
    Slot* slots;
    size_t capacity;
    bool old;
  };
  WalkArray Resolve(WalkCursor& c) const;
  Slot SlotAt(const WalkCursor& c) const;

  // What every call reads comes first (one cache line): the current array,
  // its mask, the number of entries in both arrays, the old array while a
  // migration runs (else null), what home slots need, the steps.
  Slot* slots_ = const_cast<Slot*>(kNoArray);
  size_t mask_ = 0;
  size_t size_ = 0;
  Slot* old_ = nullptr;
  uint64_t seed_;
  uint16_t step_slots_;
  uint16_t step_moves_;
  uint32_t tag_home_capacity_;  // at most kTagHomeCapacity
  // The old array's mask, the next slot to migrate (every slot below it
  // counts as a tombstone and is never read), and how many entries it still
  // holds (0: the array only waits to be given back, a piece per step).
  size_t old_mask_ = 0;
  size_t old_next_ = 0;
  size_t old_live_ = 0;
  // Generation of the current array (each new array gets the next number;
  // the old array's is gen_ - 1), so that a walk cursor can tell whether the
  // array it was in still exists.
  uint64_t gen_ = 0;
  uint64_t moves_ = 0;
};

}  // namespace threadkv
