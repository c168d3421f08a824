// The table fuzzer: one decoder, one model (std::map key -> serial), the
// shape checks in CheckShape(). README.md here describes the input format.
#include "table_harness.h"

#include <cstdio>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/entry.h"
#include "core/hash.h"
#include "core/table.h"
#include "fuzz_util.h"

namespace threadkv::fuzz {
namespace {

constexpr size_t kMaxOps = 5000;
constexpr size_t kWorkBudget = 300'000;

std::string Cat(std::string_view prefix, uint64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

uint64_t SerialOf(const Entry& e) {
  uint64_t v;
  std::memcpy(&v, e.value_data(), sizeof v);
  return v;
}

class TableHarness {
 public:
  TableHarness(const uint8_t* data, size_t size, const HarnessOptions& o)
      : r_(data, size), fault_(o.fault), trace_(o.trace) {}
  void Run();

 private:
  void DecodeConfig();
  std::string DecodeKey();
  uint64_t HashOf(std::string_view key) const;

  void Upsert(const std::string& key);
  void Erase(const std::string& key);
  void Find(const std::string& key);
  void Reserve(size_t n);
  void SweepWalk(uint64_t k, uint64_t r);
  void WalkWhileWriting(size_t budget, uint64_t k, uint64_t r);
  bool Matches(const Entry& e, uint64_t k, uint64_t r) const { return SerialOf(e) % k == r; }
  void Drain();
  void Move();
  void CheckShape();
  void CheckAll();

  [[noreturn]] void Fail(const std::string& what) const {
    std::string msg(kMismatchBanner);
    msg += "\n  table: " + config_;
    msg += "\n  operation #" + std::to_string(op_index_) + ": " + op_;
    msg += "\n  " + what + "\n  (rerun with THREADKV_FUZZ_TRACE=1 to print every operation)\n";
    throw Mismatch(msg);
  }
  void Expect(bool ok, const std::string& what) const {
    if (!ok) Fail(what);
  }
  void Trace() const {
    if (trace_) std::fprintf(stderr, "#%zu %s\n", op_index_, op_.c_str());
  }

  Reader r_;
  const int fault_;
  const bool trace_;
  bool fault_done_ = false;

  // Hashes: 0 the real hash; 1 the real hash with a lowered
  // tag_home_capacity (home slots recomputed from keys past it); 2 the real
  // hash with only `collide_mask_` of its 20 tag bits kept (tags and home
  // slots collide); 3 only `collide_mask_` of the whole hash (full-hash
  // collisions). step_slots_ / step_moves_: the table's migration step (0:
  // the defaults; tiny steps keep a migration running across many calls).
  int mode_ = 0;
  size_t step_slots_ = 0;
  size_t step_moves_ = 0;
  uint64_t collide_mask_ = 0;
  size_t tag_home_ = Table::kTagHomeCapacity;
  std::string config_;
  Table table_{kFuzzHashSeed};
  std::map<std::string, uint64_t> model_;
  uint64_t next_serial_ = 1;
  // Reserve(n)'s promise: no Upsert allocates while size() < reserved_ (so
  // the capacity stays reserved_cap_), until an Erase (which may shrink).
  size_t reserved_ = 0;
  size_t reserved_cap_ = 0;
  size_t op_index_ = 0;
  std::string op_ = "config";
  size_t work_ = 0;
};

void TableHarness::DecodeConfig() {
  const uint8_t b0 = r_.U8();
  const uint8_t b1 = r_.U8();
  mode_ = b0 % 4;
  collide_mask_ = (uint64_t{1} << (b1 % 5)) - 1;
  if (mode_ == 1) tag_home_ = size_t{8} << (b1 % 6);
  // Bits 2-3 of the first byte: the migration step.
  static constexpr size_t kSteps[4][2] = {{0, 0}, {1, 1}, {4, 1}, {16, 2}};
  step_slots_ = kSteps[(b0 >> 2) % 4][0];
  step_moves_ = kSteps[(b0 >> 2) % 4][1];
  table_ = Table(kFuzzHashSeed, mode_ == 1 ? tag_home_ : 0, step_slots_ == 0 ? Table::kStepSlots : step_slots_,
                 step_moves_ == 0 ? Table::kStepMoves : step_moves_);
  config_ =
      "mode " + std::to_string(mode_) + (mode_ == 1 ? " tag_home_capacity " + std::to_string(tag_home_) : "") +
      (mode_ >= 2 ? " collide_mask " + std::to_string(collide_mask_) : "") +
      (step_slots_ != 0 ? " step_slots " + std::to_string(step_slots_) + " step_moves " + std::to_string(step_moves_)
                        : "");
  if (trace_) std::fprintf(stderr, "config %s\n", config_.c_str());
}

std::string TableHarness::DecodeKey() {
  const uint8_t b = r_.U8();
  if (b < 128) return Cat("t", b % 32);
  if (b < 224) return Cat("u", r_.U16() % 2048);
  if (b < 240) return std::string(r_.Bytes(r_.U8() % 40));
  return std::string(60 + b % 8, 'x');
}

uint64_t TableHarness::HashOf(std::string_view key) const {
  const uint64_t h = HashBytes(key.data(), key.size(), kFuzzHashSeed);
  switch (mode_) {
    case 2:
      return (h & ~uint64_t{0xFFFFF}) | (h & collide_mask_);
    case 3:
      return h & collide_mask_;
    default:
      return h;
  }
}

void TableHarness::CheckShape() {
  const size_t cap = table_.capacity();
  const size_t old_cap = table_.old_capacity();
  Expect(table_.size() == model_.size(),
         "size() is " + std::to_string(table_.size()) + ", model has " + std::to_string(model_.size()));
  Expect(table_.slot_bytes() == (cap + old_cap) * Table::kSlotBytes,
         "slot_bytes() is not (capacity + old capacity) * 8");
  Expect(table_.migrating() == (old_cap != 0), "migrating() disagrees with old_capacity()");
  if (old_cap != 0) {
    Expect(cap != 0, "a migration without a current array");
    Expect(old_cap >= Table::kMinCapacity && (old_cap & (old_cap - 1)) == 0,
           "old capacity " + std::to_string(old_cap) + " is not a power of two >= 8");
  }
  if (cap == 0) return;
  Expect(cap >= Table::kMinCapacity && (cap & (cap - 1)) == 0,
         "capacity " + std::to_string(cap) + " is not a power of two >= 8");
  Expect(table_.size() * 4 <= cap * 3,
         "load above 3/4: " + std::to_string(table_.size()) + " in " + std::to_string(cap));
}

void TableHarness::CheckAll() {
  work_ += table_.capacity() + table_.old_capacity() + 1;
  std::map<std::string, uint64_t> seen;
  table_.ForEach([&](const Entry& e) {
    if (!seen.emplace(std::string(e.key()), SerialOf(e)).second)
      Fail("ForEach visits " + Printable(e.key()) + " twice");
  });
  if (seen != model_) {
    for (const auto& [k, v] : model_) {
      auto it = seen.find(k);
      if (it == seen.end()) Fail("ForEach does not visit " + Printable(k));
      if (it->second != v)
        Fail("ForEach gives " + Printable(k) + " serial " + std::to_string(it->second) + ", model " +
             std::to_string(v));
    }
    for (const auto& [k, v] : seen)
      if (model_.count(k) == 0) Fail("ForEach visits " + Printable(k) + ", which the model does not have");
  }
  // Every entry is found from its hash (the probe sequence of whichever
  // array holds it reaches it).
  table_.ForEach([&](const Entry& e) {
    Expect(table_.Find(HashOf(e.key()), e.key()) == &e, Printable(e.key()) + " is not found by its hash");
  });
  // A whole walk pass in one call gives every entry exactly once (nothing
  // changes during it).
  std::map<std::string, uint64_t> walked;
  Table::WalkCursor c;
  Expect(table_.Walk(c, ~size_t{0},
                     [&](Entry& e) {
                       if (!walked.emplace(std::string(e.key()), SerialOf(e)).second)
                         Fail("a walk visits " + Printable(e.key()) + " twice");
                     }),
         "a walk with an unbounded budget does not end its pass");
  Expect(walked == model_, "a walk visits " + std::to_string(walked.size()) + " entries other than the model's " +
                               std::to_string(model_.size()));
  CheckShape();
}

void TableHarness::Upsert(const std::string& key) {
  const uint64_t serial = next_serial_++;
  op_ = "Upsert " + Printable(key) + " serial " + std::to_string(serial);
  Trace();
  EntryPtr e = MakeEntry(key, 8, Kind::kInt64);
  std::memcpy(e->value_data(), &serial, 8);
  const size_t size_before = table_.size();
  const size_t cap_before = table_.capacity();
  const bool migrating_before = table_.migrating();
  EntryPtr old = table_.Upsert(HashOf(key), std::move(e));
  // With the default steps a migration always ends before the current array
  // must grow (table.h, kStepSlots): Upsert's fallback (finish the migration
  // at once, then grow) is never taken.
  if (step_slots_ == 0 && migrating_before)
    Expect(table_.capacity() == cap_before, "an Upsert grew the table while a migration ran (capacity " +
                                                std::to_string(cap_before) + " -> " +
                                                std::to_string(table_.capacity()) + ")");
  auto it = model_.find(key);
  if (it == model_.end()) {
    Expect(old == nullptr, "Upsert of a new key replaced " + (old ? Printable(old->key()) : std::string()));
  } else {
    Expect(old != nullptr, "Upsert of a present key replaced nothing");
    Expect(old->key() == key && SerialOf(*old) == it->second, "Upsert replaced " + Printable(old->key()) + " serial " +
                                                                  std::to_string(SerialOf(*old)) +
                                                                  ", model has serial " + std::to_string(it->second));
  }
  if (size_before < reserved_)
    Expect(table_.capacity() == reserved_cap_ && cap_before == reserved_cap_,
           "Upsert reallocated (capacity " + std::to_string(cap_before) + " -> " + std::to_string(table_.capacity()) +
               ") below the size reserved (" + std::to_string(reserved_) + ")");
  if (fault_ == 1 && !fault_done_ && it == model_.end()) {
    fault_done_ = true;  // deliberately forget this insert
  } else {
    model_[key] = serial;
  }
  const Entry* found = table_.Find(HashOf(key), key);
  Expect(found != nullptr && SerialOf(*found) == serial, "Find after Upsert does not give the new entry");
  CheckShape();
}

void TableHarness::Erase(const std::string& key) {
  op_ = "Erase " + Printable(key);
  Trace();
  EntryPtr old = table_.Erase(HashOf(key), key);
  reserved_ = 0;  // an erase may shrink: Reserve's promise ends
  auto it = model_.find(key);
  if (it == model_.end()) {
    Expect(old == nullptr, "Erase of an absent key removed " + (old ? Printable(old->key()) : std::string()));
  } else {
    Expect(old != nullptr && old->key() == key && SerialOf(*old) == it->second,
           "Erase did not remove the model's entry");
    model_.erase(it);
  }
  Expect(table_.Find(HashOf(key), key) == nullptr, "Find after Erase still finds the key");
  CheckShape();
}

void TableHarness::Find(const std::string& key) {
  op_ = "Find " + Printable(key);
  Trace();
  const Entry* e = table_.Find(HashOf(key), key);
  auto it = model_.find(key);
  if (it == model_.end()) {
    Expect(e == nullptr, "Find of an absent key found " + (e ? Printable(e->key()) : std::string()));
  } else {
    Expect(e != nullptr, "Find does not find a present key");
    Expect(e->key() == key && SerialOf(*e) == it->second, "Find gives another entry");
  }
}

void TableHarness::Reserve(size_t n) {
  op_ = "Reserve " + std::to_string(n);
  Trace();
  table_.Reserve(n);
  reserved_ = n;
  reserved_cap_ = table_.capacity();
  if (n > 0)
    Expect(n * 4 <= reserved_cap_ * 3,
           "Reserve(" + std::to_string(n) + ") left capacity " + std::to_string(reserved_cap_));
  CheckShape();
}

// The TTL sweep's pattern (Shards::PurgeExpired): one walk pass (Table::Walk)
// that erases the matching entries as it meets them (the erases shift
// entries back and may start a shrink). Afterwards no matching entry may be
// left.
void TableHarness::SweepWalk(uint64_t k, uint64_t r) {
  op_ = "SweepWalk serial % " + std::to_string(k) + " == " + std::to_string(r);
  Trace();
  reserved_ = 0;
  Table::WalkCursor c;
  const bool done = table_.Walk(c, ~size_t{0}, [&](Entry& e) {
    ++work_;
    if (!Matches(e, k, r)) return;
    const std::string key(e.key());
    EntryPtr gone = table_.Erase(HashOf(key), key);
    Expect(gone.get() == &e, "Erase of the entry the walk gave removed another");
    model_.erase(key);
  });
  Expect(done, "a walk with an unbounded budget does not end its pass");
  table_.ForEach([&](const Entry& e) {
    if (Matches(e, k, r))
      Fail("SweepWalk left " + Printable(e.key()) + " (serial " + std::to_string(SerialOf(e)) + ")");
  });
  CheckShape();
}

// The background sweep's pattern (Shards::Sweep): a walk pass in calls of
// `budget` slots, erasing matching entries, with writes between the calls
// (each round reads one byte w: by w % 5 nothing, an upsert, an erase, or a
// bulk of 64 upserts or erases from key w / 5 * 37, which grow or shrink the
// table and start migrations).
// Every entry in the table for the whole pass must have been given to the
// walk: so none that was there at the start, is still there, and matches
// may be left.
void TableHarness::WalkWhileWriting(size_t budget, uint64_t k, uint64_t r) {
  const std::string name = "WalkWhileWriting budget " + std::to_string(budget) + " serial % " + std::to_string(k) +
                           " == " + std::to_string(r);
  op_ = name;
  Trace();
  reserved_ = 0;
  const std::map<std::string, uint64_t> at_start = model_;
  std::map<std::string, uint64_t> visited;
  Table::WalkCursor c;
  for (size_t round = 0;; ++round) {
    op_ = name + " round " + std::to_string(round);
    // Writes stop once the work budget is spent, and then the pass ends
    // within two passes over the arrays (one restart at most).
    Expect(round < (size_t{1} << 24), "the walk does not end");
    work_ += budget;
    const bool done = table_.Walk(c, budget, [&](Entry& e) {
      ++work_;
      visited[std::string(e.key())] = SerialOf(e);
      if (!Matches(e, k, r)) return;
      const std::string key(e.key());
      EntryPtr gone = table_.Erase(HashOf(key), key);
      Expect(gone.get() == &e, "Erase of the entry the walk gave removed another");
      model_.erase(key);
    });
    CheckShape();
    if (done) break;
    if (r_.done() || work_ > kWorkBudget) continue;  // the rest of the pass without writes
    const uint8_t w = r_.U8();
    switch (w % 5) {
      case 1:
        Upsert(DecodeKey());
        break;
      case 2:
        Erase(DecodeKey());
        break;
      case 3:
      case 4: {
        const size_t base = (w / 5) * size_t{37};
        work_ += 64 * (mode_ >= 2 ? 16 : 1);
        for (size_t i = 0; i < 64; ++i) {
          if (w % 5 == 3)
            Upsert(Cat("b", base + i));
          else
            Erase(Cat("b", base + i));
        }
        break;
      }
      default:
        break;
    }
    op_ = name + " round " + std::to_string(round);
  }
  for (const auto& [key, serial] : at_start) {
    auto it = model_.find(key);
    if (it == model_.end() || it->second != serial) continue;  // erased or replaced during the pass
    Expect(visited.count(key) != 0, "the walk never gave " + Printable(key) + ", in the table for the whole pass");
    Expect(serial % k != r, "the walk left " + Printable(key) + " (serial " + std::to_string(serial) + ")");
  }
}

void TableHarness::Drain() {
  op_ = "DrainInto";
  Trace();
  std::vector<EntryPtr> out;
  table_.DrainInto(out);
  reserved_ = 0;
  Expect(table_.size() == 0 && table_.capacity() == 0, "DrainInto left the table non-empty");
  std::map<std::string, uint64_t> seen;
  for (const EntryPtr& e : out)
    if (!seen.emplace(std::string(e->key()), SerialOf(*e)).second)
      Fail("DrainInto gave " + Printable(e->key()) + " twice");
  Expect(seen == model_, "DrainInto gave " + std::to_string(seen.size()) + " entries other than the model's " +
                             std::to_string(model_.size()));
  model_.clear();
}

void TableHarness::Move() {
  op_ = "Move";
  Trace();
  const size_t cap = table_.capacity();
  Table other(std::move(table_));
  Expect(table_.size() == 0 && table_.capacity() == 0, "a moved-from table is not empty");
  Expect(other.size() == model_.size() && other.capacity() == cap, "a move lost entries or slots");
  Expect(other.seed() == kFuzzHashSeed, "a move lost the seed");
  table_ = std::move(other);
  Expect(other.size() == 0, "a moved-from table is not empty");
}

void TableHarness::Run() {
  DecodeConfig();
  const size_t bulk_max = mode_ >= 2 ? 256 : 2048;  // colliding hashes make every probe a long one
  for (op_index_ = 1; !r_.done() && op_index_ <= kMaxOps; ++op_index_) {
    const uint8_t op = r_.U8() % 16;
    switch (op) {
      case 0:
      case 1:
      case 2:
      case 14:
        Upsert(DecodeKey());
        break;
      case 3:
      case 15:
        Find(DecodeKey());
        break;
      case 4:
      case 5:
        Erase(DecodeKey());
        break;
      case 6:
        Reserve(table_.size() + r_.U16() % 512);
        break;
      case 7: {
        const size_t n = 1 + r_.U16() % bulk_max;
        const size_t base = r_.U8() * size_t{37};
        if (work_ > kWorkBudget) break;
        work_ += n * (mode_ >= 2 ? 16 : 1);
        for (size_t i = 0; i < n; ++i) Upsert(Cat("b", base + i));
        break;
      }
      case 8: {
        const size_t n = 1 + r_.U16() % bulk_max;
        const size_t base = r_.U8() * size_t{37};
        if (work_ > kWorkBudget) break;
        work_ += n * (mode_ >= 2 ? 16 : 1);
        for (size_t i = 0; i < n; ++i) Erase(Cat("b", base + i));
        break;
      }
      case 9:
        op_ = "CheckAll";
        Trace();
        if (work_ <= kWorkBudget) CheckAll();
        break;
      case 10: {
        const uint64_t k = 1 + r_.U8() % 4;
        const uint64_t r = r_.U8() % k;
        if (work_ <= kWorkBudget) SweepWalk(k, r);
        break;
      }
      case 11:
        Drain();
        break;
      case 12:
        Move();
        break;
      case 13: {
        const size_t budget = 1 + r_.U8() % 64;
        const uint64_t k = 1 + r_.U8() % 4;
        const uint64_t r = r_.U8() % k;
        if (work_ <= kWorkBudget) WalkWhileWriting(budget, k, r);
        break;
      }
      default:
        break;
    }
  }
  op_ = "final check";
  CheckAll();
}

}  // namespace

std::string RunTableOps(const uint8_t* data, size_t size, const HarnessOptions& options) {
  TableHarness h(data, size, options);
  return RunHarness(h);
}

}  // namespace threadkv::fuzz
