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
  // collisions).
  int mode_ = 0;
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
  table_ = Table(kFuzzHashSeed, mode_ == 1 ? tag_home_ : 0);
  config_ = "mode " + std::to_string(mode_) + (mode_ == 1 ? " tag_home_capacity " + std::to_string(tag_home_) : "") +
            (mode_ >= 2 ? " collide_mask " + std::to_string(collide_mask_) : "");
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
  Expect(table_.size() == model_.size(),
         "size() is " + std::to_string(table_.size()) + ", model has " + std::to_string(model_.size()));
  if (cap == 0) return;
  Expect(cap >= Table::kMinCapacity && (cap & (cap - 1)) == 0,
         "capacity " + std::to_string(cap) + " is not a power of two >= 8");
  Expect(table_.size() * 4 <= cap * 3,
         "load above 3/4: " + std::to_string(table_.size()) + " in " + std::to_string(cap));
  Expect(table_.slot_bytes() == cap * Table::kSlotBytes, "slot_bytes() is not capacity * 8");
}

void TableHarness::CheckAll() {
  work_ += table_.capacity() + 1;
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
  size_t slots = 0;
  for (size_t i = 0; i < table_.capacity(); ++i) {
    const Entry* e = table_.SlotEntry(i);
    if (e == nullptr) continue;
    ++slots;
    // Every entry is found from its home slot (the probe sequence reaches it).
    Expect(table_.Find(HashOf(e->key()), e->key()) == e,
           "the entry in slot " + std::to_string(i) + " (" + Printable(e->key()) + ") is not found by its hash");
  }
  Expect(slots == model_.size(),
         "the slots hold " + std::to_string(slots) + " entries, model has " + std::to_string(model_.size()));
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
  EntryPtr old = table_.Upsert(HashOf(key), std::move(e));
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

// The TTL sweep's pattern (Store::SweepExpired): walk the slots, erase the
// matching entries in place (look at the same slot again: backward shift may
// pull a later entry into it), start over when the table shrinks. Afterwards
// no matching entry may be left.
void TableHarness::SweepWalk(uint64_t k, uint64_t r) {
  op_ = "SweepWalk serial % " + std::to_string(k) + " == " + std::to_string(r);
  Trace();
  reserved_ = 0;
  auto match = [&](const Entry& e) { return SerialOf(e) % k == r; };
  size_t pos = 0;
  for (size_t rounds = 0;; ++rounds) {
    Expect(rounds < 64, "SweepWalk does not end");
    const size_t cap = table_.capacity();
    while (pos < cap && table_.capacity() == cap) {
      const Entry* e = table_.SlotEntry(pos);
      ++work_;
      if (e == nullptr || !match(*e)) {
        ++pos;
        continue;
      }
      const std::string key(e->key());
      EntryPtr gone = table_.Erase(HashOf(key), key);
      Expect(gone.get() == e, "Erase of the entry in slot " + std::to_string(pos) + " removed another");
      model_.erase(key);
    }
    if (table_.capacity() != cap) {
      pos = 0;
      continue;
    }
    break;
  }
  table_.ForEach([&](const Entry& e) {
    if (match(e)) Fail("SweepWalk left " + Printable(e.key()) + " (serial " + std::to_string(SerialOf(e)) + ")");
  });
  CheckShape();
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
      default:
        op_ = "reserved";
        break;  // 13: kept free for a new operation
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
