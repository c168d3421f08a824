// BASELINE FOR bench/native/table_growth.cc ONLY: native/core/table.cc at
// f207b7c (stop-the-world rehashing), namespace renamed to threadkv::baseline.
// See baseline_table.h.

#include "baseline_table.h"

#include <cstdio>
#include <cstdlib>
#include <new>
#include <utility>

namespace threadkv::baseline {

namespace {

Table::Slot* AllocSlots(size_t n) {
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

}  // namespace

Table::Table(uint64_t seed, size_t tag_home_capacity) : seed_(seed), tag_home_capacity_(kTagHomeCapacity) {
  if (tag_home_capacity != 0 && tag_home_capacity < kTagHomeCapacity &&
      (tag_home_capacity & (tag_home_capacity - 1)) == 0)
    tag_home_capacity_ = tag_home_capacity;
}

Table::Table(Table&& other) noexcept
    : slots_(std::exchange(other.slots_, nullptr)),
      mask_(std::exchange(other.mask_, 0)),
      size_(std::exchange(other.size_, 0)),
      seed_(other.seed_),
      tag_home_capacity_(other.tag_home_capacity_) {}

Table& Table::operator=(Table&& other) noexcept {
  if (this != &other) {
    Free();
    slots_ = std::exchange(other.slots_, nullptr);
    mask_ = std::exchange(other.mask_, 0);
    size_ = std::exchange(other.size_, 0);
    seed_ = other.seed_;
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

void Table::Free() {
  if (slots_ == nullptr) return;
  EntryDeleter del;
  for (size_t i = 0; i <= mask_; ++i)
    if (slots_[i] != 0) del(EntryOf(slots_[i]));
  std::free(slots_);
  slots_ = nullptr;
  mask_ = 0;
  size_ = 0;
}

void Table::Rehash(size_t new_capacity) {
  Slot* fresh = AllocSlots(new_capacity);
  const size_t new_mask = new_capacity - 1;
  if (slots_ != nullptr) {
    for (size_t i = 0; i <= mask_; ++i) {
      const Slot s = slots_[i];
      if (s == 0) continue;
      size_t j = HomeOf(s, new_mask);
      while (fresh[j] != 0) j = (j + 1) & new_mask;
      fresh[j] = s;
    }
    std::free(slots_);
  }
  slots_ = fresh;
  mask_ = new_mask;
}

EntryPtr Table::Upsert(uint64_t hash, EntryPtr e) {
  const Slot packed = Pack(e.get(), hash);
  // Grow before probing so that a failed allocation leaves the table as it
  // was. Maximum load factor 3/4.
  const size_t cap = capacity();
  if ((size_ + 1) * 4 > cap * 3) Rehash(cap == 0 ? kMinCapacity : cap * 2);
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

void Table::Reserve(size_t n) {
  // Upsert grows when (size + 1) * 4 > capacity * 3, and size + 1 <= n there.
  if (n == 0) return;
  const size_t cap = capacity();
  size_t want = cap == 0 ? kMinCapacity : cap;
  while (n * 4 > want * 3) want *= 2;
  if (want != cap) Rehash(want);
}

EntryPtr Table::Erase(uint64_t hash, std::string_view key) {
  if (size_ == 0) return nullptr;
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
  --size_;
  // Shrink when mostly empty, so churn does not pin peak memory. Shrinking is
  // best effort: if the smaller array cannot be allocated, keep the big one.
  const size_t cap = capacity();
  if (cap > kMinCapacity && size_ * 8 < cap) {
    try {
      Rehash(cap / 2);
    } catch (const std::bad_alloc&) {
    }
  }
  return removed;
}

void Table::DrainInto(std::vector<EntryPtr>& out) {
  if (slots_ == nullptr) return;
  out.reserve(out.size() + size_);
  for (size_t i = 0; i <= mask_; ++i)
    if (slots_[i] != 0) out.emplace_back(EntryOf(slots_[i]));
  std::free(slots_);
  slots_ = nullptr;
  mask_ = 0;
  size_ = 0;
}

}  // namespace threadkv::baseline
