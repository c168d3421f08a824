// A hierarchical timer wheel for deadlines (after Caffeine's TimerWheel and
// the Linux kernel's timer wheel): one per shard, holding the shard's entries
// that have a deadline, so that expiry costs nothing while nothing is due.
//
// What it gives its owner:
//   Schedule(node)       puts a node on the wheel under its deadline, O(1)
//                        (no loop: the level comes from the bit width of
//                        the distance); returns the time by which Advance
//                        must run for that node's bucket
//   Deschedule(node)     takes it off, O(1) (an overwrite, delete, eviction)
//   Advance(now, budget, on_expired)
//                        delivers due nodes, exactly once and never early,
//                        a level-0 window (1.05 ms) at a time, in resumable
//                        steps of at most `budget` units of work: the sweep
//   ExpireDue(now, budget, on_expired)
//                        the same, and also the due nodes of now's own
//                        window: every node with deadline <= now (for a
//                        write that needs the room)
//   NextDue()            the earliest time at which Advance can have any
//                        work, O(kLevels): the sweeper sleeps until then
//   ForEachDue(now, f)   visits the nodes still on the wheel whose deadline
//                        is <= now, without changing anything (so it may run
//                        under a shared lock): O(kLevels + the nodes of the
//                        buckets whose window has begun)
//   size()               how many nodes are on it
//
// Levels. Times are int64 nanoseconds on a monotonic clock (any value,
// negative included; the store uses SteadyNowNs and INT64_MAX for "never").
// Level i cuts time into aligned windows of 2^kShift[i] ns and has one bucket
// per window for the next 2^kBits[i] windows:
//
//   level  bucket span              buckets  reach (span x buckets)
//   0      2^20 ns = 1.05 ms        64       2^26 ns = 67.1 ms
//   1      2^26 ns = 67.1 ms        64       2^32 ns = 4.29 s
//   2      2^32 ns = 4.29 s         64       2^38 ns = 4.58 min
//   3      2^38 ns = 4.58 min       64       2^44 ns = 4.89 h
//   4      2^44 ns = 4.89 h         64       2^50 ns = 13.0 days
//   5      2^50 ns = 13.0 days      64       2^56 ns = 2.28 years
//   6      2^56 ns = 2.28 years     64       2^62 ns = 146 years
//   7      2^62 ns = 146 years      4        2^64 ns: every int64 deadline
//
// so no deadline ever overflows the wheel and no overflow list is needed. A
// node goes to the lowest level whose buckets reach its deadline from the
// wheel's clock (the time of the last Advance); a deadline the clock has
// already reached goes on an overdue list instead. A bucket of level i >= 1 is
// "cascaded" when its window begins: its nodes move to lower levels, each
// node at most once per level over its life. A bucket of level 0 is expired
// at the last nanosecond of its window, when every node in it is due.
// Occupancy bitmaps (one 64-bit word per level) let NextDue and Advance jump
// over empty buckets, so a clock jump of hours or years costs O(events), not
// O(elapsed windows). The clock moves only in Advance: a node scheduled while
// it lags (the owner slept until NextDue) may land a level higher than it
// would from the true time, which costs one more cascade (and an earlier
// NextDue), never correctness. Advance(now, 0, ...) moves the clock to `now`
// for ~180 instructions when nothing is due by then.
//
// Lateness bound (exact). For a deadline d let
//     Due(d) = floor(d / 2^20) * 2^20 + (2^20 - 1),
// the last nanosecond of d's level-0 window (Due(d) - d < kTick = 1.05 ms).
// With `now` never decreasing from one call to the next (a monotonic clock),
// a node with deadline d is delivered by the first Advance(now) call with
// now >= Due(d) that returns done (one with no budget left returns !done and
// the caller calls again), and by no call with now < d; by ExpireDue, the
// first call with now >= d that returns done delivers it. A node scheduled with a deadline the wheel's
// clock has already reached goes on an overdue list and is delivered by the
// next call that returns done. How long after Due(d) the owner calls
// Advance (a sweeper that sleeps until NextDue, or that batches wake-ups to
// at most one per interval, and its budget) adds to the bound. A level-0
// window is short so that what ExpireDue and ForEachDue look at beyond the
// due nodes (the others of now's window) stays small; how often to wake is
// the owner's choice, not the wheel's.
//
// Cost. An empty wheel (no node ever scheduled, or emptied by Advance or
// ReleaseIfEmpty) is one pointer-sized word and owns no memory. The first
// Schedule allocates the buckets: one block of MemoryBytes() (about 7.2 KiB;
// std::bad_alloc is thrown by Schedule only then, and Reserve() lets the
// owner take that allocation where a throw is harmless). Advance frees the
// block when it leaves the wheel empty; Deschedule never frees it, so an
// overwrite (Deschedule then Schedule) never allocates. The block remembers
// the wheel's clock when it is freed (in the same word), so a wheel emptied
// and refilled does not restart from the past.
//
// Intrusive: a node embeds a TimerLinks (16 bytes: prev/next); being on the
// wheel allocates nothing per node. A node off the wheel has null links.
//
// Not thread-safe: one owner (a shard) calls everything under its own lock.
// The non-const members (Schedule, Deschedule, Advance, Reserve,
// ReleaseIfEmpty, Reset) need the exclusive (write) lock; the const members
// (NextDue, ForEachDue, CountDue, size, empty, MemoryBytes, clock) write
// nothing and may run concurrently with each other under a shared lock.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

namespace threadkv {

// The links a node embeds to be on a TimerWheel. Null while off the wheel;
// only the wheel writes them.
struct TimerLinks {
  TimerLinks* prev{nullptr};
  TimerLinks* next{nullptr};
};
static_assert(sizeof(TimerLinks) == 16, "TimerLinks must stay two pointers (16 bytes in front of an entry)");

// What Advance did.
struct TimerAdvance {
  size_t expired = 0;   // nodes delivered to on_expired
  size_t cascaded = 0;  // nodes moved from a higher level to a lower one
  size_t work = 0;      // units of work done: expired + cascaded (<= budget)
  // True when nothing is left that Advance(now) could do: NextDue() > now.
  // False only when the budget ran out first.
  bool done = true;
};

// The type-independent part of the wheel: it works on TimerLinks and is told
// how to read a node's deadline. Use TimerWheel<Node, Access> below.
class TimerWheelCore {
 public:
  static constexpr int kLevels = 8;
  static constexpr unsigned kShift[kLevels] = {20, 26, 32, 38, 44, 50, 56, 62};
  static constexpr unsigned kBits[kLevels] = {6, 6, 6, 6, 6, 6, 6, 2};
  static_assert(kShift[kLevels - 1] + kBits[kLevels - 1] == 64, "the top level reaches every deadline");
  // The span of a level-0 bucket: the lateness bound (see above) is one
  // nanosecond less.
  static constexpr int64_t kTick = int64_t{1} << kShift[0];
  // NextDue() of a wheel with nothing on it.
  static constexpr int64_t kNever = std::numeric_limits<int64_t>::max();

  // The last nanosecond of the level-0 window of `deadline` (Due(d) above):
  // the time from which Advance delivers a node with that deadline.
  static constexpr int64_t DueTime(int64_t deadline) { return deadline | (kTick - 1); }

  // Reads the deadline of the node whose links these are.
  using DeadlineFn = int64_t (*)(const TimerLinks&);
  // Receives an expired node (already off the wheel: null links).
  using ExpireFn = void (*)(void* ctx, TimerLinks&);
  // Visits a node (ForEachDue).
  using VisitFn = void (*)(void* ctx, const TimerLinks&);

  // The wheel's clock starts at INT64_MIN, or at `clock` (a time not after
  // the `now` of the first Advance call, e.g. the steady clock when the
  // shard is made). It only places nodes: from a clock far behind, the first
  // nodes scheduled are cascaded a few times more than needed.
  TimerWheelCore() = default;
  explicit TimerWheelCore(int64_t clock) : word_(TagClock(ToU(clock))) {}
  TimerWheelCore(const TimerWheelCore&) = delete;
  TimerWheelCore& operator=(const TimerWheelCore&) = delete;
  TimerWheelCore(TimerWheelCore&& other) noexcept : word_(std::exchange(other.word_, 0)) {}
  TimerWheelCore& operator=(TimerWheelCore&& other) noexcept;
  ~TimerWheelCore() { Free(); }

  static bool IsScheduled(const TimerLinks& l) { return l.prev != nullptr; }

  // Puts `l` (with deadline `deadline`) on the wheel; if it is already on
  // it, moves it. Returns the time at which its bucket becomes due (a lower
  // bound of NextDue() after this call, and NextDue() = min(old NextDue(),
  // this)). Throws std::bad_alloc only when the wheel has no buckets yet
  // (see Reserve).
  int64_t Schedule(TimerLinks& l, int64_t deadline) {
    State* st = state();
    if (st == nullptr) st = Allocate();
    if (IsScheduled(l)) Unlink(*st, l);
    uint64_t due;
    const size_t b = BucketFor(*st, ToU(deadline), &due);
    Insert(*st, b, l);
    return ToX(due);
  }

  // Takes `l` off the wheel (nothing if it is not on it). O(1); never frees.
  void Deschedule(TimerLinks& l) {
    if (IsScheduled(l)) Unlink(*state(), l);
  }

  // Allocates the buckets now if the wheel has none (throws std::bad_alloc),
  // so that Schedule cannot throw before the next Advance or ReleaseIfEmpty.
  void Reserve() {
    if (state() == nullptr) Allocate();
  }

  // Delivers due nodes: see TimerWheel::Advance and TimerWheel::ExpireDue.
  TimerAdvance Advance(int64_t now, size_t budget, DeadlineFn deadline_of, ExpireFn on_expired, void* ctx);
  TimerAdvance ExpireDue(int64_t now, size_t budget, DeadlineFn deadline_of, ExpireFn on_expired, void* ctx);

  // The earliest `now` at which Advance(now) has any work (expiring or
  // cascading a bucket, or the overdue list); kNever for an empty wheel.
  // Advance(t) for any t < NextDue() does nothing; Advance(NextDue()) does at
  // least one unit of work. O(kLevels).
  int64_t NextDue() const;

  // Calls visit(ctx, l) for every node on the wheel with deadline <= now;
  // returns how many nodes it looked at (those, and the others in the same
  // buckets). Writes nothing.
  size_t ForEachDue(int64_t now, DeadlineFn deadline_of, VisitFn visit, void* ctx) const;

  size_t size() const {
    const State* st = state();
    return st == nullptr ? 0 : st->count;
  }
  bool empty() const { return size() == 0; }

  // Bytes the wheel has allocated (its bucket block), 0 when it has none.
  size_t MemoryBytes() const { return state() == nullptr ? 0 : sizeof(State); }

  // The wheel's clock: the `now` of the last Advance that finished (or the
  // time of the bucket it is working through).
  int64_t clock() const { return ToX(ClockU()); }

  // Frees the buckets if no node is on the wheel (not while Advance runs,
  // i.e. not from on_expired). Returns true if it freed them.
  bool ReleaseIfEmpty();

  // Forgets every node at once, O(1), without touching the nodes: their
  // links are left as they were, so they must not be given to this wheel
  // again unless their links are reset first (the use: a shard's clear(),
  // which frees all its entries). Frees the buckets; keeps the clock.
  void Reset();

  // Checks every internal invariant (list shape, bitmaps, counts, and each
  // node's bucket against its deadline and the clock). O(nodes + buckets);
  // for tests. Returns an empty string when all hold, else what broke.
  std::string CheckInvariants(DeadlineFn deadline_of) const;

 private:
  static constexpr size_t kBucketsPerLevel = 64;  // bitmap width; the top level uses 4
  static constexpr size_t kBuckets = (kLevels - 1) * kBucketsPerLevel + (size_t{1} << kBits[kLevels - 1]);
  // The overdue list (nodes due by the clock) sits right after the top
  // level's buckets, in its bitmap word at a bit the level does not use;
  // every bucket's bitmap bit is then (index / 64, index % 64).
  static constexpr size_t kOverdue = kBuckets;
  static_assert(kOverdue / 64 == kLevels - 1 && kOverdue % 64 >= (size_t{1} << kBits[kLevels - 1]));
  static constexpr uint64_t kOverdueBit = uint64_t{1} << (kOverdue % 64);

  // Times inside the wheel are unsigned, offset by 2^63 (order-preserving,
  // and a multiple of every bucket span, so windows stay aligned).
  static constexpr uint64_t ToU(int64_t x) { return static_cast<uint64_t>(x) ^ (uint64_t{1} << 63); }
  static constexpr int64_t ToX(uint64_t u) { return static_cast<int64_t>(u ^ (uint64_t{1} << 63)); }
  // The unallocated wheel keeps its clock in its word, rounded down to even,
  // with the low bit set (a State* has it clear).
  static constexpr uintptr_t TagClock(uint64_t u) { return static_cast<uintptr_t>(u | 1); }
  static_assert(sizeof(uintptr_t) == sizeof(uint64_t), "the clock tag needs 64-bit pointers");

  struct State {
    uint64_t clock = 0;  // the wheel's clock c (unsigned time)
    size_t count = 0;
    uint64_t occupied[kLevels] = {};  // bit set <=> bucket non-empty
    bool advancing = false;           // inside Advance: ReleaseIfEmpty waits
    // Bucket sentinels of circular lists, constructed when a bucket first
    // gets a node (a clear bitmap bit means the sentinel is not in use).
    union Sentinels {
      Sentinels() {}
      TimerLinks at[kBuckets + 1];
    } buckets;
  };

  State* state() const { return (word_ & 1) != 0 ? nullptr : reinterpret_cast<State*>(word_); }
  uint64_t ClockU() const {
    const State* st = state();
    if (st != nullptr) return st->clock;
    return word_ & ~uintptr_t{1};
  }
  State* Allocate();
  void Free();

  static uint64_t& Word(State& st, size_t b) { return st.occupied[b / kBucketsPerLevel]; }
  static uint64_t Bit(size_t b) { return uint64_t{1} << (b % kBucketsPerLevel); }

  // The bucket for unsigned deadline `u` relative to st.clock, and the time
  // (unsigned) at which that bucket becomes due: the lowest level i whose
  // reach covers it, i.e. whose window count from the clock's window,
  // (u >> kShift[i]) - (clock >> kShift[i]), is below its bucket count.
  static size_t BucketFor(const State& st, uint64_t u, uint64_t* due) {
    static_assert(kShift[1] - kShift[0] == 6 && kShift[kLevels - 1] - kShift[0] == 6 * (kLevels - 1),
                  "levels are 6 bits apart");
    const uint64_t c = st.clock;
    if (u <= c) {  // due by the clock: the next Advance delivers it
      *due = c;
      return kOverdue;
    }
    const uint64_t t0 = u >> kShift[0];
    const uint64_t d0 = t0 - (c >> kShift[0]);
    if (d0 < kBucketsPerLevel) {
      *due = (t0 << kShift[0]) | (kTick - 1);
      return static_cast<size_t>(t0 & (kBucketsPerLevel - 1));
    }
    // d0 >= 2^(6i) rules out level i - 1 (its count is at least
    // d0 >> 6(i-1) >= 64), and d0 < 2^(6(i+1)) makes level i's count at most
    // 64, so level i or i + 1 (the top level reaches everything).
    unsigned i = (static_cast<unsigned>(std::bit_width(d0)) - 1) / 6;
    if (i >= kLevels - 1) {
      i = kLevels - 1;
    } else if ((u >> kShift[i]) - (c >> kShift[i]) >= kBucketsPerLevel) {
      ++i;
    }
    const unsigned shift = kShift[0] + 6 * i;
    const uint64_t t = u >> shift;
    *due = t << shift;
    const uint64_t mask = i == kLevels - 1 ? (uint64_t{1} << kBits[kLevels - 1]) - 1 : kBucketsPerLevel - 1;
    return i * kBucketsPerLevel + static_cast<size_t>(t & mask);
  }

  static void Insert(State& st, size_t b, TimerLinks& l) {
    TimerLinks* s = &st.buckets.at[b];
    uint64_t& w = Word(st, b);
    const uint64_t bit = Bit(b);
    if ((w & bit) == 0) {
      ::new (static_cast<void*>(s)) TimerLinks{&l, &l};
      l.prev = s;
      l.next = s;
      w |= bit;
    } else {
      TimerLinks* tail = s->prev;
      l.prev = tail;
      l.next = s;
      tail->next = &l;
      s->prev = &l;
    }
    ++st.count;
  }

  static void Unlink(State& st, TimerLinks& l) {
    TimerLinks* p = l.prev;
    TimerLinks* n = l.next;
    p->next = n;
    n->prev = p;
    l.prev = nullptr;
    l.next = nullptr;
    --st.count;
    // Both neighbours the same: only the bucket's sentinel is left.
    if (p == n) Word(st, static_cast<size_t>(p - st.buckets.at)) &= ~Bit(static_cast<size_t>(p - st.buckets.at));
  }

  // The next bucket to work on: the lowest due time, the higher level first
  // on a tie. False when the wheel has no bucket (the overdue list aside).
  static bool NextBucket(const State& st, size_t* bucket, int* level, uint64_t* due);

  uintptr_t word_ = 0;  // State*, or the clock (tagged) when none
};

// The wheel for nodes of type Node. Access tells it where a node keeps its
// links and its deadline:
//
//   struct Access {
//     static TimerLinks& Links(Node& n);
//     static Node& FromLinks(TimerLinks& l);        // inverse of Links
//     static int64_t Deadline(const Node& n);       // ns, the wheel's clock
//   };
//
// The wheel reads a node's deadline when it is scheduled and again when it
// cascades it: change a scheduled node's deadline only through Reschedule
// (set the new deadline, then call it), never behind the wheel's back.
template <class Node, class Access>
class TimerWheel {
 public:
  static constexpr int64_t kTick = TimerWheelCore::kTick;
  static constexpr int64_t kNever = TimerWheelCore::kNever;
  static constexpr int64_t DueTime(int64_t deadline) { return TimerWheelCore::DueTime(deadline); }

  TimerWheel() = default;
  explicit TimerWheel(int64_t clock) : core_(clock) {}

  static bool IsScheduled(Node& n) { return TimerWheelCore::IsScheduled(Access::Links(n)); }

  // Puts `n` on the wheel under Access::Deadline(n) (moving it if it is
  // already on). Returns the time at which its bucket becomes due: when it
  // is earlier than the NextDue() the owner last saw, the sweeper must be
  // woken earlier. Throws std::bad_alloc only if the wheel had no buckets
  // and Reserve() was not called.
  int64_t Schedule(Node& n) { return core_.Schedule(Access::Links(n), Access::Deadline(n)); }
  // After changing n's deadline: moves it (or puts it on the wheel).
  int64_t Reschedule(Node& n) { return Schedule(n); }
  // Takes `n` off the wheel, O(1); nothing if it is not on it.
  void Deschedule(Node& n) { core_.Deschedule(Access::Links(n)); }
  void Reserve() { core_.Reserve(); }

  // Delivers due nodes, doing at most `budget` units of work (a unit: one
  // node expired or cascaded). Every node it delivers has deadline <= now
  // and is off the wheel (null links) when on_expired(Node&) sees it; each
  // node is delivered once. Returns done (see TimerAdvance) when nothing due
  // by `now` is left: then every node with DueTime(deadline) <= now has been
  // delivered. When the budget runs out first, the next call continues where
  // this one stopped (whatever its `now`): call it again, after dropping and
  // retaking the lock if others wait. Frees the buckets when it leaves the
  // wheel empty.
  //
  // on_expired may Schedule, Reschedule or Deschedule any node (including
  // the one it was given, and nodes in the bucket being expired), but must
  // not call Advance, ReleaseIfEmpty or Reset, nor destroy the wheel. A node
  // it reschedules with a deadline <= now is delivered again within the same
  // call's budget. If it throws, the exception propagates; the wheel stays
  // consistent and the node counts as delivered.
  template <class F>
  TimerAdvance Advance(int64_t now, size_t budget, F&& on_expired) {
    return core_.Advance(now, budget, &DeadlineOf, &Deliver<std::remove_reference_t<F>>, Context(on_expired));
  }

  // Advance(now), then also delivers the due nodes of now's own level-0
  // window, which Advance leaves until the window ends: once it returns
  // done, no node with deadline <= now is on the wheel (given now >= the
  // wheel's clock, as with a monotonic clock). It looks at every node of
  // that window (at most kTick of deadlines: few), the due ones counting as
  // work. For a write that must reclaim expired entries now; the sweeper
  // uses Advance. Same contract for on_expired.
  template <class F>
  TimerAdvance ExpireDue(int64_t now, size_t budget, F&& on_expired) {
    return core_.ExpireDue(now, budget, &DeadlineOf, &Deliver<std::remove_reference_t<F>>, Context(on_expired));
  }

  // See TimerWheelCore::NextDue.
  int64_t NextDue() const { return core_.NextDue(); }

  // Calls visit(const Node&) for every node on the wheel whose deadline is
  // <= now (the nodes Advance(now) has not yet delivered: overdue, in a
  // bucket whose window has begun, or in a bucket Advance has not reached
  // yet), writing nothing. Returns how many nodes it looked at: when
  // Advance keeps up, the due ones plus the others whose deadline is in
  // now's level-0 window (at most kTick ahead).
  template <class F>
  size_t ForEachDue(int64_t now, F&& visit) const {
    return core_.ForEachDue(now, &DeadlineOf, &Visit<std::remove_reference_t<F>>, Context(visit));
  }
  // How many nodes on the wheel have deadline <= now (ForEachDue's count).
  size_t CountDue(int64_t now) const {
    size_t n = 0;
    ForEachDue(now, [&](const Node&) { ++n; });
    return n;
  }

  size_t size() const { return core_.size(); }
  bool empty() const { return core_.empty(); }
  size_t MemoryBytes() const { return core_.MemoryBytes(); }
  int64_t clock() const { return core_.clock(); }
  bool ReleaseIfEmpty() { return core_.ReleaseIfEmpty(); }
  void Reset() { core_.Reset(); }
  std::string CheckInvariants() const { return core_.CheckInvariants(&DeadlineOf); }

 private:
  static const Node& NodeOf(const TimerLinks& l) { return Access::FromLinks(const_cast<TimerLinks&>(l)); }
  static int64_t DeadlineOf(const TimerLinks& l) { return Access::Deadline(NodeOf(l)); }
  // The callbacks, type-erased for TimerWheelCore: `ctx` is the caller's
  // function object.
  template <class Fn>
  static void Deliver(void* ctx, TimerLinks& l) {
    (*static_cast<Fn*>(ctx))(Access::FromLinks(l));
  }
  template <class Fn>
  static void Visit(void* ctx, const TimerLinks& l) {
    (*static_cast<Fn*>(ctx))(NodeOf(l));
  }
  template <class Fn>
  static void* Context(Fn& f) {
    return const_cast<void*>(static_cast<const void*>(&f));
  }

  TimerWheelCore core_;
};

}  // namespace threadkv
