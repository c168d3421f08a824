#include "table.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

#if defined(__unix__) || defined(__APPLE__)
#include <sys/mman.h>
#define THREADKV_TABLE_MMAP 1
#else
#define THREADKV_TABLE_MMAP 0
#endif

namespace threadkv {

namespace {

// Table::SetSlotAllocHookForTesting; read only when an array is allocated.
std::atomic<Table::SlotAllocHook> g_slot_alloc_hook{nullptr};

// Slot arrays of at least kMapBytes are mapped from the OS directly (where
// there is mmap): the kernel zeroes their pages lazily, at first touch, so
// allocating even a 32 MiB array costs a system call, not a memset of it
// (calloc clears memory it reuses from its heap, and glibc raises the size
// from which it maps after every big free). An array of at least
// 2 * kReleaseBytes is given back kReleaseBytes at a time as a migration
// passes it (MADV_DONTNEED), because unmapping a big touched array at once
// takes milliseconds (the kernel frees each page: 1.5 ms for 16 MiB on a
// 2-core VM). Pieces of 256 KiB, because Linux invalidates the TLB page by
// page below 33 pages, and on that VM a 64 KiB piece cost more than a
// 256 KiB one (~290 vs ~100 us). Smaller arrays go at once.
constexpr size_t kMapBytes = size_t{128} << 10;
constexpr size_t kReleaseBytes = size_t{256} << 10;  // a multiple of every page size in use (4, 16, 64 KiB)
constexpr size_t kReleaseSlots = kReleaseBytes / sizeof(Table::Slot);

bool Mapped(size_t slots) { return THREADKV_TABLE_MMAP && slots * sizeof(Table::Slot) >= kMapBytes; }
// Given back in pieces (capacities are powers of two, so a multiple of
// kReleaseSlots).
bool Pieced(size_t slots) { return THREADKV_TABLE_MMAP && slots >= 2 * kReleaseSlots; }

Table::Slot* AllocSlots(size_t n) {
  const Table::SlotAllocHook hook = g_slot_alloc_hook.load(std::memory_order_relaxed);
  if (hook != nullptr && !hook(n)) throw std::bad_alloc();
#if THREADKV_TABLE_MMAP
  if (Mapped(n)) {
    void* mem = mmap(nullptr, n * sizeof(Table::Slot), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) throw std::bad_alloc();
    return static_cast<Table::Slot*>(mem);
  }
#endif
  void* mem = std::calloc(n, sizeof(Table::Slot));
  if (mem == nullptr) throw std::bad_alloc();
  return static_cast<Table::Slot*>(mem);
}

void FreeSlots(Table::Slot* slots, size_t n) noexcept {
  if (slots == nullptr) return;
#if THREADKV_TABLE_MMAP
  if (Mapped(n)) {
    munmap(slots, n * sizeof(Table::Slot));
    return;
  }
#endif
  std::free(slots);
}

// Gives slots [from, to) of a mapped array back to the OS (both multiples
// of kReleaseSlots). They are never read again (see FindSlotInOld).
void ReleaseSlots([[maybe_unused]] Table::Slot* slots, [[maybe_unused]] size_t from, [[maybe_unused]] size_t to) {
#if THREADKV_TABLE_MMAP
  if (to > from) madvise(slots + from, (to - from) * sizeof(Table::Slot), MADV_DONTNEED);
#endif
}

[[noreturn]] void DoesNotFit(const Entry* e) {
  std::fprintf(stderr,
               "threadkv: entry address %p does not fit an 8-byte table slot (it must be 16-byte aligned and "
               "below 2^48); aborting\n",
               static_cast<const void*>(e));
  std::abort();
}

// For the steady-state paths, which must cost what they did before
// migrations existed (callgrind: bench/native/table-growth.js).
#if defined(__GNUC__)
#define THREADKV_TABLE_INLINE __attribute__((always_inline)) inline
#else
#define THREADKV_TABLE_INLINE inline
#endif

uint16_t StepValue(size_t v) { return static_cast<uint16_t>(std::clamp<size_t>(v, 1, 65535)); }

}  // namespace

void Table::SetSlotAllocHookForTesting(SlotAllocHook hook) { g_slot_alloc_hook.store(hook, std::memory_order_relaxed); }

Table::Table(uint64_t seed, size_t tag_home_capacity, size_t step_slots, size_t step_moves)
    : seed_(seed),
      step_slots_(StepValue(step_slots)),
      step_moves_(StepValue(step_moves)),
      tag_home_capacity_(kTagHomeCapacity) {
  if (tag_home_capacity != 0 && tag_home_capacity < kTagHomeCapacity &&
      (tag_home_capacity & (tag_home_capacity - 1)) == 0)
    tag_home_capacity_ = static_cast<uint32_t>(tag_home_capacity);
}

Table::Table(Table&& other) noexcept
    : slots_(std::exchange(other.slots_, const_cast<Slot*>(kNoArray))),
      mask_(std::exchange(other.mask_, 0)),
      size_(std::exchange(other.size_, 0)),
      old_(std::exchange(other.old_, nullptr)),
      seed_(other.seed_),
      step_slots_(other.step_slots_),
      step_moves_(other.step_moves_),
      tag_home_capacity_(other.tag_home_capacity_),
      old_mask_(std::exchange(other.old_mask_, 0)),
      old_next_(std::exchange(other.old_next_, 0)),
      old_live_(std::exchange(other.old_live_, 0)),
      gen_(other.gen_),
      moves_(other.moves_) {}

Table& Table::operator=(Table&& other) noexcept {
  if (this != &other) {
    Free();
    slots_ = std::exchange(other.slots_, const_cast<Slot*>(kNoArray));
    mask_ = std::exchange(other.mask_, 0);
    size_ = std::exchange(other.size_, 0);
    old_ = std::exchange(other.old_, nullptr);
    old_mask_ = std::exchange(other.old_mask_, 0);
    old_next_ = std::exchange(other.old_next_, 0);
    old_live_ = std::exchange(other.old_live_, 0);
    seed_ = other.seed_;
    // New numbers for the arrays taken over (keeping old = current - 1), so
    // that no walk cursor of this table's own past matches them.
    gen_ = std::max(gen_, other.gen_) + 2;
    moves_ = other.moves_;
    step_slots_ = other.step_slots_;
    step_moves_ = other.step_moves_;
    tag_home_capacity_ = other.tag_home_capacity_;
  }
  return *this;
}

Table::~Table() { Free(); }

Table::Slot Table::Pack(const Entry* e, uint64_t hash) {
  const auto p = reinterpret_cast<uintptr_t>(e);
  if ((p & kTagMask) != 0) [[unlikely]]
    DoesNotFit(e);
  return static_cast<Slot>(p) | TagOf(hash);
}

size_t Table::HomeOf(Slot s, size_t mask) const {
  if (mask < tag_home_capacity_) return TagHashOf(s) & mask;
  const std::string_view key = EntryOf(s)->key();
  return HashBytes(key.data(), key.size(), seed_) & mask;
}

void Table::Free() noexcept {
  EntryDeleter del;
  if (HasArray()) {
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i] != 0) del(EntryOf(slots_[i]));
    FreeSlots(slots_, mask_ + 1);
    slots_ = const_cast<Slot*>(kNoArray);
  }
  if (old_ != nullptr) {
    for (size_t i = old_next_; i <= old_mask_; ++i)
      if (Live(old_[i])) del(EntryOf(old_[i]));
    EndMigration();
  }
  mask_ = 0;
  size_ = 0;
}

// ---- Migration ----

void Table::Install(Slot* fresh, size_t fresh_capacity) noexcept {
  ++gen_;
  if (HasArray() && (size_ != 0 || Pieced(mask_ + 1))) {
    // The array in use becomes the old one: its entries move over step by
    // step, and a big one is given back in pieces (even if empty).
    old_ = slots_;
    old_mask_ = mask_;
    old_next_ = 0;
    old_live_ = size_;
  } else if (HasArray()) {
    FreeSlots(slots_, capacity());  // nothing to move, cheap to free
  }
  slots_ = fresh;
  mask_ = fresh_capacity - 1;
}

bool Table::Migrate(size_t max_slots, size_t max_moves) {
  if (old_ == nullptr) return false;
  const size_t old_cap = old_mask_ + 1;
  const size_t from = old_next_;
  size_t i = from;
  while (max_slots != 0 && old_live_ != 0) {
    const Slot s = old_[i];
    if (Live(s)) {
      if (max_moves == 0) break;
      // Not in the current array (every key is in one array only), so the
      // first free slot from its home is where an insert would put it. The
      // old slot needs no tombstone: every slot below old_next_ counts as
      // one.
      size_t j = HomeOf(s, mask_);
      while (slots_[j] != 0) j = (j + 1) & mask_;
      slots_[j] = s;
      --old_live_;
      --max_moves;
      ++moves_;
    }
    ++i;
    --max_slots;
  }
  if (old_live_ == 0) {
    // No entry left (the last ones may have left by erases, wherever the
    // scan is). A small array goes now; a big one is given back a piece per
    // call (all at once only when the caller asked for everything).
    if (!Pieced(old_cap) || max_slots == ~size_t{0}) {
      EndMigration();
      return false;
    }
    i = std::min(old_cap, (i / kReleaseSlots + 1) * kReleaseSlots);
  }
  old_next_ = i;
  if (Pieced(old_cap)) {
    if (i == old_cap) {
      EndMigration();  // at most two pieces left to unmap
      return false;
    }
    ReleaseSlots(old_, from / kReleaseSlots * kReleaseSlots, i / kReleaseSlots * kReleaseSlots);
  }
  return true;
}

void Table::FinishMigration() noexcept { Migrate(~size_t{0}, ~size_t{0}); }

void Table::EndMigration() noexcept {
  FreeSlots(old_, old_mask_ + 1);
  old_ = nullptr;
  old_mask_ = 0;
  old_next_ = 0;
  old_live_ = 0;
}

void Table::Grow() {
  const size_t cap = capacity();
  const size_t want = cap == 0 ? kMinCapacity : cap * 2;
  Slot* fresh = AllocSlots(want);  // the only thing that can fail: first
  // Never with the default steps (see kStepSlots): a migration ends before
  // the current array fills.
  if (old_ != nullptr) [[unlikely]]
    FinishMigration();
  Install(fresh, want);
}

void Table::MaybeShrink() noexcept {
  if (old_ != nullptr) return;  // one migration at a time; the next erase checks again
  const size_t cap = capacity();
  if (cap <= kMinCapacity || size_ * 8 >= cap) return;
  // Halve (a smaller target could not be migrated in time before it must
  // grow again, see kStepSlots); an emptied table has nothing to migrate.
  const size_t want = size_ == 0 ? kMinCapacity : cap / 2;
  Slot* fresh;
  try {
    fresh = AllocSlots(want);
  } catch (const std::bad_alloc&) {
    return;  // keep the big array
  }
  Install(fresh, want);
}

// ---- Lookups ----

// The current array's slot holding `key` (*found), or the empty slot where
// its probe ended (where an insert of it goes).
THREADKV_TABLE_INLINE size_t Table::ProbeCurrent(uint64_t hash, std::string_view key, bool* found) const {
  const Slot tag = TagOf(hash);
  size_t i = hash & mask_;
  for (;;) {
    const Slot s = slots_[i];
    if (s == 0) {
      *found = false;
      return i;
    }
    const Slot x = s ^ tag;  // the entry's address when the tags match
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) {
      *found = true;
      return i;
    }
    i = (i + 1) & mask_;
  }
}

size_t Table::FindSlotInOld(uint64_t hash, std::string_view key) const {
  if (old_live_ == 0) return kNoSlot;
  // Every slot below old_next_ has migrated and counts as a tombstone
  // without being read (a mapped array may have given those pages back):
  // a probe that starts or wraps into them goes on at old_next_, and ends
  // at an empty slot or where it started.
  const Slot tag = TagOf(hash);
  size_t i = hash & old_mask_;
  if (i < old_next_) i = old_next_;
  const size_t start = i;
  for (;;) {
    const Slot s = old_[i];
    if (s == 0) return kNoSlot;
    if (s != kMoved) {
      const Slot x = s ^ tag;
      if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) return i;
    }
    i = (i + 1) & old_mask_;
    if (i < old_next_) i = old_next_;
    if (i == start) return kNoSlot;
  }
}

Entry* Table::FindMigrating(uint64_t hash, std::string_view key) const {
  bool found;
  const size_t i = ProbeCurrent(hash, key, &found);
  if (found) return EntryOf(slots_[i]);
  const size_t j = FindSlotInOld(hash, key);
  return j == kNoSlot ? nullptr : EntryOf(old_[j]);
}

// ---- Upsert ----

EntryPtr Table::Upsert(uint64_t hash, EntryPtr e) {
  const Slot packed = Pack(e.get(), hash);
  // Grow before probing so that a failed allocation leaves the table as it
  // was. Maximum load factor 3/4 (of the current array, which holds at most
  // every entry; kNoArray counts as one slot, so the first insert grows).
  if ((size_ + 1) * 4 > (mask_ + 1) * 3) Grow();
  if (old_ != nullptr) [[unlikely]]
    return UpsertMigrating(hash, packed, std::move(e));
  const Slot tag = packed & kTagMask;
  const std::string_view key = e->key();
  size_t i = hash & mask_;
  for (;;) {
    Slot& s = slots_[i];
    if (s == 0) {
      s = packed;
      e.release();
      ++size_;
      return nullptr;
    }
    const Slot x = s ^ tag;  // the entry's address when the tags match
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) {
      EntryPtr old(reinterpret_cast<Entry*>(x));
      s = packed;
      e.release();
      return old;
    }
    i = (i + 1) & mask_;
  }
}

EntryPtr Table::UpsertMigrating(uint64_t hash, Slot packed, EntryPtr e) {
  const std::string_view key = e->key();
  EntryPtr old;
  // The current array: the key, or the free slot an insert takes.
  bool found;
  const size_t i = ProbeCurrent(hash, key, &found);
  if (found) {
    old.reset(EntryOf(slots_[i]));
    slots_[i] = packed;
    e.release();
    Step();
    return old;
  }
  // The old array: replaced where it is (it migrates with its slot).
  const size_t j = FindSlotInOld(hash, key);
  if (j != kNoSlot) {
    old.reset(EntryOf(old_[j]));
    old_[j] = packed;
  } else {
    slots_[i] = packed;
    ++size_;
  }
  e.release();
  Step();
  return old;
}

void Table::Reserve(size_t n) {
  // Upsert grows when (size + 1) * 4 > capacity * 3, and size + 1 <= n there.
  if (n == 0) return;
  const size_t cap = capacity();
  size_t want = cap == 0 ? kMinCapacity : cap;
  while (n * 4 > want * 3) want *= 2;
  if (want == cap) return;
  Slot* fresh = AllocSlots(want);  // the only thing that can fail: first
  if (old_ != nullptr) FinishMigration();
  Install(fresh, want);
}

// ---- Erase ----

THREADKV_TABLE_INLINE void Table::RemoveAt(size_t i) {
  // Backward-shift deletion: pull later members of the cluster back into the
  // hole when their home slot lies at or before it (cyclically).
  size_t hole = i;
  size_t j = i;
  for (;;) {
    j = (j + 1) & mask_;
    const Slot s = slots_[j];
    if (s == 0) break;
    const size_t home = HomeOf(s, mask_);
    // Distance from home to j versus from home to hole (mod capacity): the
    // entry may move into the hole only if the hole is on its probe path.
    if (((j - home) & mask_) >= ((j - hole) & mask_)) {
      slots_[hole] = s;
      hole = j;
    }
  }
  slots_[hole] = 0;
}

EntryPtr Table::Erase(uint64_t hash, std::string_view key) {
  if (old_ != nullptr) [[unlikely]]
    return EraseMigrating(hash, key);  // steps even when empty: an old array may wait to be given back
  if (size_ == 0) return nullptr;
  bool found;
  const size_t i = ProbeCurrent(hash, key, &found);
  if (!found) return nullptr;
  EntryPtr removed(EntryOf(slots_[i]));
  RemoveAt(i);
  --size_;
  // Shrink when mostly empty, so churn does not pin peak memory.
  if (size_ * 8 < mask_ + 1 && mask_ + 1 > kMinCapacity) [[unlikely]]
    MaybeShrink();
  return removed;
}

EntryPtr Table::EraseMigrating(uint64_t hash, std::string_view key) {
  EntryPtr removed;
  bool found;
  const size_t i = ProbeCurrent(hash, key, &found);
  if (found) {
    removed.reset(EntryOf(slots_[i]));
    RemoveAt(i);
    --size_;
  } else {
    const size_t j = FindSlotInOld(hash, key);
    if (j != kNoSlot) {
      removed.reset(EntryOf(old_[j]));
      old_[j] = kMoved;  // a tombstone: the probe chains through it stay whole
      --old_live_;
      --size_;
    }
  }
  Step();  // ends the migration if the old array is now empty
  MaybeShrink();
  return removed;
}

// ---- Drain ----

void Table::DrainInto(std::vector<EntryPtr>& out) {
  out.reserve(out.size() + size_);
  if (HasArray()) {
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i] != 0) out.emplace_back(EntryOf(slots_[i]));
    FreeSlots(slots_, mask_ + 1);
    slots_ = const_cast<Slot*>(kNoArray);
  }
  if (old_ != nullptr) {
    for (size_t i = old_next_; i <= old_mask_; ++i)
      if (Live(old_[i])) out.emplace_back(EntryOf(old_[i]));
    EndMigration();
  }
  mask_ = 0;
  size_ = 0;
}

// ---- Walk ----

Table::WalkArray Table::Resolve(WalkCursor& c) const {
  if (c.array == 0 || (c.array != gen_ && !(old_ != nullptr && c.array == gen_ - 1))) {
    // A new pass, or the walk's array is gone (its migration ended, moving
    // every entry it held into the current array): start at the oldest
    // array.
    c.pos = 0;
    c.array = old_ != nullptr ? gen_ - 1 : HasArray() ? gen_ : 0;
    if (c.array == 0) return {nullptr, 0, false};
  }
  if (c.array == gen_) return HasArray() ? WalkArray{slots_, mask_ + 1, false} : WalkArray{nullptr, 0, false};
  // In the old array: what lies below old_next_ has migrated (and is not
  // read); once the old array holds no entry, on to the current one.
  if (old_live_ == 0) {
    c = WalkCursor{gen_, 0};
    return {slots_, mask_ + 1, false};
  }
  if (c.pos < old_next_) c.pos = old_next_;
  return {old_, old_mask_ + 1, true};
}

Table::Slot Table::SlotAt(const WalkCursor& c) const {
  if (old_ != nullptr && c.array == gen_ - 1) return c.pos < old_next_ ? 0 : old_[c.pos];
  if (HasArray() && c.array == gen_) return slots_[c.pos];
  return 0;
}

}  // namespace threadkv
