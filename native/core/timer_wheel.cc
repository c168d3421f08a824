#include "timer_wheel.h"

#include <bit>
#include <new>
#include <string>

namespace threadkv {

namespace {

// The bitmap word of a level of 2^bits buckets, with the bits of no bucket
// cleared, rotated so that bit 0 is the bucket of the clock's window
// (`tick`): bit j is then the bucket of window tick + j.
uint64_t Rotated(uint64_t word, unsigned bits, uint64_t tick) {
  if (bits == 6) return std::rotr(word, static_cast<int>(tick & 63));
  const unsigned nb = 1u << bits;
  const uint64_t mask = (uint64_t{1} << nb) - 1;
  const unsigned r = static_cast<unsigned>(tick & (nb - 1));
  word &= mask;
  return r == 0 ? word : ((word >> r) | (word << (nb - r))) & mask;
}

}  // namespace

TimerWheelCore& TimerWheelCore::operator=(TimerWheelCore&& other) noexcept {
  if (this != &other) {
    Free();
    word_ = std::exchange(other.word_, 0);
  }
  return *this;
}

TimerWheelCore::State* TimerWheelCore::Allocate() {
  const uint64_t clock = ClockU();
  State* st = new State;  // default-initialized: the sentinels are not written
  st->clock = clock;
  word_ = reinterpret_cast<uintptr_t>(st);
  return st;
}

void TimerWheelCore::Free() {
  State* st = state();
  if (st == nullptr) return;
  word_ = TagClock(st->clock & ~uint64_t{1});
  delete st;
}

bool TimerWheelCore::NextBucket(const State& st, size_t* bucket, int* level, uint64_t* due) {
  bool found = false;
  uint64_t best = 0;
  for (int i = 0; i < kLevels; ++i) {
    const uint64_t word = st.occupied[i];
    if (word == 0) continue;
    const uint64_t tick = st.clock >> kShift[i];
    const uint64_t rot = Rotated(word, kBits[i], tick);
    if (rot == 0) continue;  // the top level's word: only the overdue bit
    const uint64_t t = tick + static_cast<uint64_t>(std::countr_zero(rot));
    const uint64_t when = i == 0 ? (t << kShift[0]) | (kTick - 1) : t << kShift[i];
    // Levels go up, so on a tie the higher level wins: its cascade may add
    // nodes to the lower level's bucket that is due at the same time.
    if (!found || when <= best) {
      found = true;
      best = when;
      *level = i;
      *bucket = static_cast<size_t>(i) * kBucketsPerLevel + (t & ((uint64_t{1} << kBits[i]) - 1));
    }
  }
  *due = best;
  return found;
}

int64_t TimerWheelCore::NextDue() const {
  const State* st = state();
  if (st == nullptr || st->count == 0) return kNever;
  if ((st->occupied[kOverdue / kBucketsPerLevel] & kOverdueBit) != 0) return ToX(st->clock);
  size_t bucket;
  int level;
  uint64_t due;
  if (!NextBucket(*st, &bucket, &level, &due)) return kNever;
  return ToX(due);
}

TimerAdvance TimerWheelCore::Advance(int64_t now, size_t budget, DeadlineFn deadline_of, ExpireFn on_expired,
                                     void* ctx) {
  TimerAdvance r;
  const uint64_t un = ToU(now);
  State* st = state();
  if (st == nullptr) {
    // Nothing on the wheel: only the clock moves (kept in the word).
    if (un > ClockU()) word_ = TagClock(un & ~uint64_t{1});
    return r;
  }
  // Nothing is due before the clock (a `now` from the past: no work).
  if (un < st->clock) return r;

  st->advancing = true;
  struct Done {  // clears the flag if on_expired throws
    State* st;
    ~Done() {
      if (st != nullptr) st->advancing = false;
    }
  } done_guard{st};

  uint64_t& overdue_word = st->occupied[kOverdue / kBucketsPerLevel];
  for (;;) {
    // Nodes scheduled with a deadline the clock had reached: all due.
    if ((overdue_word & kOverdueBit) != 0) {
      if (r.work >= budget) {
        r.done = false;
        break;
      }
      TimerLinks& l = *st->buckets.at[kOverdue].next;
      Unlink(*st, l);
      ++r.work;
      ++r.expired;
      on_expired(ctx, l);
      continue;
    }
    size_t b;
    int level;
    uint64_t due;
    if (!NextBucket(*st, &b, &level, &due) || due > un) break;
    // due >= clock: every bucket due earlier has been emptied.
    st->clock = due;
    bool out_of_budget = false;
    while ((Word(*st, b) & Bit(b)) != 0) {
      if (r.work >= budget) {
        out_of_budget = true;
        break;
      }
      TimerLinks& l = *st->buckets.at[b].next;
      Unlink(*st, l);
      ++r.work;
      if (level == 0) {
        // The clock is the last nanosecond of this bucket's window: every
        // node in it has deadline <= clock <= now.
        ++r.expired;
        on_expired(ctx, l);
      } else {
        // The bucket's window begins at the clock: each node goes to a lower
        // level (never back here, see BucketFor).
        ++r.cascaded;
        uint64_t ignored;
        Insert(*st, BucketFor(*st, ToU(deadline_of(l)), &ignored), l);
      }
    }
    if (out_of_budget) {
      r.done = false;
      break;
    }
  }
  if (r.done && un > st->clock) st->clock = un;
  st->advancing = false;
  done_guard.st = nullptr;
  if (st->count == 0) Free();
  return r;
}

TimerAdvance TimerWheelCore::ExpireDue(int64_t now, size_t budget, DeadlineFn deadline_of, ExpireFn on_expired,
                                       void* ctx) {
  TimerAdvance r = Advance(now, budget, deadline_of, on_expired, ctx);
  State* st = state();
  const uint64_t un = ToU(now);
  if (!r.done || st == nullptr || un != st->clock) return r;
  // Done: the clock is at `now`, the overdue list is empty, and every node
  // with deadline <= now is in now's level-0 bucket. Move those to the
  // overdue list (no callback runs while the bucket is walked), then let
  // Advance deliver them.
  const size_t b = static_cast<size_t>((un >> kShift[0]) & (kBucketsPerLevel - 1));
  if ((Word(*st, b) & Bit(b)) == 0) return r;
  size_t moved = 0;
  TimerLinks* s = &st->buckets.at[b];
  for (TimerLinks* p = s->next; p != s;) {
    TimerLinks* next = p->next;
    if (ToU(deadline_of(*p)) <= un) {
      Unlink(*st, *p);
      Insert(*st, kOverdue, *p);
      ++moved;
    }
    p = next;
  }
  if (moved == 0) return r;
  const TimerAdvance more = Advance(now, budget - r.work, deadline_of, on_expired, ctx);
  r.expired += more.expired;
  r.cascaded += more.cascaded;
  r.work += more.work;
  r.done = more.done;
  return r;
}

size_t TimerWheelCore::ForEachDue(int64_t now, DeadlineFn deadline_of, VisitFn visit, void* ctx) const {
  const State* st = state();
  if (st == nullptr || st->count == 0) return 0;
  const uint64_t un = ToU(now);
  size_t looked = 0;
  auto walk = [&](size_t b) {
    const TimerLinks* s = &st->buckets.at[b];
    for (const TimerLinks* p = s->next; p != s; p = p->next) {
      ++looked;
      if (ToU(deadline_of(*p)) <= un) visit(ctx, *p);
    }
  };
  if ((st->occupied[kOverdue / kBucketsPerLevel] & kOverdueBit) != 0) walk(kOverdue);
  // In each level, the buckets from the clock's window up to now's: those
  // whose window has begun (the others hold only later deadlines).
  for (int i = 0; i < kLevels; ++i) {
    const uint64_t word = st->occupied[i];
    if (word == 0) continue;
    const uint64_t nb = uint64_t{1} << kBits[i];
    const uint64_t tick = st->clock >> kShift[i];
    const uint64_t now_tick = un >> kShift[i];
    const uint64_t span = now_tick <= tick ? 0 : now_tick - tick;
    uint64_t rot = Rotated(word, kBits[i], tick);
    if (span < nb - 1) rot &= (uint64_t{2} << span) - 1;
    while (rot != 0) {
      const uint64_t j = static_cast<uint64_t>(std::countr_zero(rot));
      rot &= rot - 1;
      walk(static_cast<size_t>(i) * kBucketsPerLevel + ((tick + j) & (nb - 1)));
    }
  }
  return looked;
}

bool TimerWheelCore::ReleaseIfEmpty() {
  State* st = state();
  if (st == nullptr || st->count != 0 || st->advancing) return false;
  Free();
  return true;
}

void TimerWheelCore::Reset() {
  State* st = state();
  if (st == nullptr) return;
  if (st->advancing) {
    // Called from on_expired: the running Advance still uses the block, so
    // empty it instead; Advance frees it on its way out.
    for (uint64_t& w : st->occupied) w = 0;
    st->count = 0;
    return;
  }
  Free();
}

std::string TimerWheelCore::CheckInvariants(DeadlineFn deadline_of) const {
  const State* st = state();
  if (st == nullptr) return "";
  if (st->advancing) return "advancing flag left set";
  const uint64_t c = st->clock;
  if ((st->occupied[kLevels - 1] & ~((uint64_t{1} << (1u << kBits[kLevels - 1])) - 1) & ~kOverdueBit) != 0)
    return "top level bitmap has stray bits";
  size_t total = 0;
  for (size_t b = 0; b <= kBuckets; ++b) {
    if ((st->occupied[b / kBucketsPerLevel] & Bit(b)) == 0) continue;
    const TimerLinks* s = &st->buckets.at[b];
    if (s->next == s) return "bucket " + std::to_string(b) + " is marked occupied but empty";
    const int level = b == kOverdue ? -1 : static_cast<int>(b / kBucketsPerLevel);
    size_t n = 0;
    for (const TimerLinks* p = s->next; p != s; p = p->next) {
      if (p->next->prev != p || p->prev->next != p) return "broken links in bucket " + std::to_string(b);
      if (++n > st->count) return "bucket " + std::to_string(b) + " holds more nodes than the count";
      const uint64_t u = ToU(deadline_of(*p));
      auto where = [&] {
        return "node in bucket " + std::to_string(b) + " (deadline " + std::to_string(ToX(u)) + ", clock " +
               std::to_string(ToX(c)) + "): ";
      };
      if (level < 0) {
        if (u > c) return where() + "on the overdue list but not due by the clock";
        continue;
      }
      const uint64_t nb = uint64_t{1} << kBits[level];
      const uint64_t t = u >> kShift[level];
      const uint64_t tc = c >> kShift[level];
      if ((t & (nb - 1)) != b % kBucketsPerLevel) return where() + "wrong bucket for its deadline";
      if (t < tc || t - tc >= nb) return where() + "window outside the level's reach";
      // Above level 0, the clock's own window is cascaded when it begins, so
      // only a bucket being cascaded right now (clock at its start) has one.
      if (level > 0 && t == tc && (t << kShift[level]) != c) return where() + "window begun but not cascaded";
    }
    total += n;
  }
  if (total != st->count) return "count " + std::to_string(st->count) + " but " + std::to_string(total) + " nodes";
  return "";
}

}  // namespace threadkv
