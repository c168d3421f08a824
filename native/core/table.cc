#include "table.h"

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

namespace threadkv {

namespace {

// Table::SetSlotAllocHookForTesting; read only when an array is allocated.
std::atomic<Table::SlotAllocHook> g_slot_alloc_hook{nullptr};

Table::Slot* AllocSlots(size_t n) {
  const Table::SlotAllocHook hook = g_slot_alloc_hook.load(std::memory_order_relaxed);
  if (hook != nullptr && !hook(n)) throw std::bad_alloc();
  void* mem = std::calloc(n, sizeof(Table::Slot));
  if (mem == nullptr) throw std::bad_alloc();
  return static_cast<Table::Slot*>(mem);
}

[[noreturn]] void DoesNotFit(const Entry* e) {
  std::fprintf(stderr,
               "threadkv: entry address %p does not fit an 8-byte table slot (it must be 16-byte aligned and "
               "below 2^48); aborting\n",
               static_cast<const void*>(e));
  std::abort();
}

uint16_t StepValue(size_t v) { return static_cast<uint16_t>(std::clamp<size_t>(v, 1, 65535)); }

}  // namespace

void Table::SetSlotAllocHookForTesting(SlotAllocHook hook) {
  g_slot_alloc_hook.store(hook, std::memory_order_relaxed);
}

Table::Table(uint64_t seed, size_t tag_home_capacity, size_t step_slots, size_t step_moves)
    : seed_(seed),
      step_slots_(StepValue(step_slots)),
      step_moves_(StepValue(step_moves)),
      tag_home_shift_(kTagBits) {
  if (tag_home_capacity != 0 && tag_home_capacity < kTagHomeCapacity &&
      (tag_home_capacity & (tag_home_capacity - 1)) == 0)
    tag_home_shift_ = static_cast<uint8_t>(std::countr_zero(tag_home_capacity));
}

Table::Table(Table&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)),
      mask_(std::exchange(other.mask_, 0)),
      size_(std::exchange(other.size_, 0)),
      old_(std::exchange(other.old_, nullptr)),
      old_mask_(std::exchange(other.old_mask_, 0)),
      old_next_(std::exchange(other.old_next_, 0)),
      old_live_(std::exchange(other.old_live_, 0)),
      seed_(other.seed_),
      gen_(other.gen_),
      moves_(other.moves_),
      step_slots_(other.step_slots_),
      step_moves_(other.step_moves_),
      tag_home_shift_(other.tag_home_shift_) {}

Table& Table::operator=(Table&& other) noexcept {
  if (this != &other) {
    Free();
    slots_ = std::exchange(other.slots_, nullptr);
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
    tag_home_shift_ = other.tag_home_shift_;
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
  if ((mask >> tag_home_shift_) == 0) return TagHashOf(s) & mask;
  const std::string_view key = EntryOf(s)->key();
  return HashBytes(key.data(), key.size(), seed_) & mask;
}

void Table::Free() noexcept {
  EntryDeleter del;
  if (slots_ != nullptr) {
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i] != 0) del(EntryOf(slots_[i]));
    std::free(slots_);
    slots_ = nullptr;
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

void Table::Install(Slot* fresh, size_t capacity) noexcept {
  ++gen_;
  if (size_ == 0) {
    // Nothing to move: the array in use (if any) simply goes.
    std::free(slots_);
  } else {
    old_ = slots_;
    old_mask_ = mask_;
    old_next_ = 0;
    old_live_ = size_;
  }
  slots_ = fresh;
  mask_ = capacity - 1;
}

bool Table::Migrate(size_t max_slots, size_t max_moves) {
  if (old_ == nullptr) return false;
  size_t i = old_next_;
  while (max_slots != 0 && old_live_ != 0) {
    const Slot s = old_[i];
    if (Live(s)) {
      if (max_moves == 0) break;
      // Not in the current array (every key is in one array only), so the
      // first free slot from its home is where an insert would put it.
      size_t j = HomeOf(s, mask_);
      while (slots_[j] != 0) j = (j + 1) & mask_;
      slots_[j] = s;
      old_[i] = kMoved;
      --old_live_;
      --max_moves;
      ++moves_;
    }
    ++i;
    --max_slots;
  }
  old_next_ = i;
  // The last entries may have left by erases rather than by moves: the
  // array is done once it holds none, wherever the scan is.
  if (old_live_ == 0) EndMigration();
  return old_ != nullptr;
}

void Table::FinishMigration() noexcept { Migrate(~size_t{0}, ~size_t{0}); }

void Table::EndMigration() noexcept {
  std::free(old_);
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

size_t Table::FindSlotInOld(uint64_t hash, std::string_view key) const {
  const Slot tag = TagOf(hash);
  for (size_t i = hash & old_mask_;; i = (i + 1) & old_mask_) {
    const Slot s = old_[i];
    if (s == 0) return kNoSlot;
    if (s == kMoved) continue;
    const Slot x = s ^ tag;
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) return i;
  }
}

Entry* Table::FindInOld(uint64_t hash, std::string_view key) const {
  const size_t i = FindSlotInOld(hash, key);
  return i == kNoSlot ? nullptr : EntryOf(old_[i]);
}

// ---- Upsert ----

EntryPtr Table::Upsert(uint64_t hash, EntryPtr e) {
  const Slot packed = Pack(e.get(), hash);
  // Grow before probing so that a failed allocation leaves the table as it
  // was. Maximum load factor 3/4 (of the current array, which holds at most
  // every entry).
  if ((size_ + 1) * 4 > capacity() * 3) Grow();
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
  const Slot tag = packed & kTagMask;
  const std::string_view key = e->key();
  EntryPtr old;
  // The current array: the key, or the free slot an insert takes.
  size_t i = hash & mask_;
  for (;; i = (i + 1) & mask_) {
    const Slot s = slots_[i];
    if (s == 0) break;
    const Slot x = s ^ tag;
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) {
      old.reset(reinterpret_cast<Entry*>(x));
      slots_[i] = packed;
      e.release();
      Step();
      return old;
    }
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

void Table::RemoveAt(size_t i) {
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
  if (size_ == 0) return nullptr;
  if (old_ != nullptr) [[unlikely]]
    return EraseMigrating(hash, key);
  const Slot tag = TagOf(hash);
  size_t i = hash & mask_;
  for (;;) {
    const Slot s = slots_[i];
    if (s == 0) return nullptr;
    const Slot x = s ^ tag;  // the entry's address when the tags match
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) break;
    i = (i + 1) & mask_;
  }
  EntryPtr removed(EntryOf(slots_[i]));
  RemoveAt(i);
  --size_;
  // Shrink when mostly empty, so churn does not pin peak memory.
  MaybeShrink();
  return removed;
}

EntryPtr Table::EraseMigrating(uint64_t hash, std::string_view key) {
  const Slot tag = TagOf(hash);
  EntryPtr removed;
  for (size_t i = hash & mask_;; i = (i + 1) & mask_) {
    const Slot s = slots_[i];
    if (s == 0) break;
    const Slot x = s ^ tag;
    if ((x & kTagMask) == 0 && reinterpret_cast<Entry*>(x)->key() == key) {
      removed.reset(reinterpret_cast<Entry*>(x));
      RemoveAt(i);
      --size_;
      break;
    }
  }
  if (!removed) {
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
  if (slots_ != nullptr) {
    for (size_t i = 0; i <= mask_; ++i)
      if (slots_[i] != 0) out.emplace_back(EntryOf(slots_[i]));
    std::free(slots_);
    slots_ = nullptr;
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
  if (c.array != 0) {
    if (old_ != nullptr && c.array == gen_ - 1) return {old_, old_mask_ + 1, true};
    if (slots_ != nullptr && c.array == gen_) return {slots_, mask_ + 1, false};
  }
  // A new pass, or the walk's array is gone (its migration ended, moving
  // every entry it held into the current array): start at the oldest array.
  c.pos = 0;
  if (old_ != nullptr) {
    c.array = gen_ - 1;
    return {old_, old_mask_ + 1, true};
  }
  if (slots_ != nullptr) {
    c.array = gen_;
    return {slots_, mask_ + 1, false};
  }
  c.array = 0;
  return {nullptr, 0, false};
}

Table::Slot Table::SlotAt(const WalkCursor& c) const {
  if (old_ != nullptr && c.array == gen_ - 1) return old_[c.pos];
  if (slots_ != nullptr && c.array == gen_) return slots_[c.pos];
  return 0;
}

}  // namespace threadkv
