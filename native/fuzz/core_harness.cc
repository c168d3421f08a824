// The store operation fuzzer: one decoder (class Harness's Decode* methods),
// one model (struct ShardModel and the Expect* rules), one comparison after
// every operation. README.md here describes the input format, the rules and
// what will need changing as the core changes.
#include "core_harness.h"

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/counter.h"
#include "core/entry.h"
#include "core/hash.h"
#include "core/options.h"
#include "core/status.h"
#include "core/store.h"
#include "fuzz_util.h"

namespace threadkv::fuzz {
namespace {

constexpr uint64_t kVersionLimit = uint64_t{1} << 53;
constexpr int64_t kMaxSafe = (int64_t{1} << 53) - 1;
// A deadline this far ahead (about 13 days) never passes during a run.
constexpr int64_t kFarFutureNs = int64_t{1} << 50;
// Bounds the work of one input (keys written by bulk operations, entries
// visited by scans and checks), so that no input runs into libFuzzer's
// timeout. Past it, the heavy operations are decoded but skipped; the final
// full check always runs.
constexpr size_t kWorkBudget = 400'000;
constexpr size_t kMaxOps = 5000;

const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk:
      return "kOk";
    case Status::kNotFound:
      return "kNotFound";
    case Status::kDestroyed:
      return "kDestroyed";
    case Status::kExists:
      return "kExists";
    case Status::kMismatch:
      return "kMismatch";
    case Status::kNotNumber:
      return "kNotNumber";
    case Status::kOutOfRange:
      return "kOutOfRange";
    case Status::kFullEntries:
      return "kFullEntries";
    case Status::kFullBytes:
      return "kFullBytes";
    case Status::kTooBigForLimit:
      return "kTooBigForLimit";
    case Status::kNoRoom:
      return "kNoRoom";
  }
  return "Status(?)";
}

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kBytes:
      return "bytes";
    case Kind::kString:
      return "string";
    case Kind::kFloat64:
      return "float64";
    case Kind::kInt64:
      return "int64";
    case Kind::kTrue:
      return "true";
    case Kind::kFalse:
      return "false";
    case Kind::kNull:
      return "null";
    case Kind::kUndefined:
      return "undefined";
  }
  return "kind(?)";
}

// ---- Time ----
// The store's clock (StoreHost): a fake one that only the AdvanceClock
// operation moves, so that a recorded input expires the same entries at the
// same operation on every run. Deadlines are near (a few ms: they pass when
// the clock is advanced), far (kFarFutureNs: never within a run), or
// already past.
class FakeClock final : public Clock {
 public:
  int64_t NowNs() const override { return now_; }
  int64_t Now() const { return now_; }
  void Advance(int64_t ns) { now_ += ns; }

 private:
  int64_t now_ = int64_t{1} << 40;  // well after 0 (kNoExpiry) and the past deadlines below
};

constexpr int64_t kMs = 1'000'000;

// ---- Key pools ----
// Small pools so that operations meet the same keys, and groups of keys that
// collide on the 20 hash bits a table slot keeps as its tag (so on the home
// slot in every table up to 2^20 slots) and on the shard (for up to 8
// shards): computed once for the fixed seed.
struct KeyPools {
  std::vector<std::string> small;
  std::vector<std::string> collide;
};

std::string Cat(std::string_view prefix, uint64_t n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

const KeyPools& Pools() {
  static const KeyPools pools = [] {
    KeyPools p;
    for (int i = 0; i < 24; ++i) p.small.push_back(Cat("k", static_cast<uint64_t>(i)));
    constexpr uint32_t kCandidates = 1u << 19;
    std::vector<std::pair<uint32_t, uint32_t>> buckets;  // (tag and shard bits, candidate)
    buckets.reserve(kCandidates);
    for (uint32_t i = 0; i < kCandidates; ++i) {
      const std::string k = Cat("c", i);
      const uint64_t h = HashBytes(k.data(), k.size(), kFuzzHashSeed);
      buckets.emplace_back(static_cast<uint32_t>((h & 0xFFFFF) | (((h >> 48) & 7) << 20)), i);
    }
    std::sort(buckets.begin(), buckets.end());
    size_t groups = 0, pairs = 0;
    for (size_t i = 0; i < buckets.size();) {
      size_t j = i;
      while (j < buckets.size() && buckets[j].first == buckets[i].first) ++j;
      const size_t n = j - i;
      if ((n >= 3 && groups < 12) || (n == 2 && pairs < 8)) {
        ++(n >= 3 ? groups : pairs);
        for (size_t k = i; k < j; ++k) p.collide.push_back(Cat("c", buckets[k].second));
      }
      i = j;
    }
    return p;
  }();
  return pools;
}

// ---- Values ----
struct Value {
  std::string bytes;
  Kind kind = Kind::kBytes;
  uint8_t flags = 0;
};

std::string NumberBytes(int64_t v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }
std::string NumberBytes(double v) { return std::string(reinterpret_cast<const char*>(&v), sizeof v); }

// Texts, some of them JSON numbers (which are text, not counters).
constexpr const char* kJsonTexts[] = {"0",
                                      "5",
                                      "-1",
                                      "1.5",
                                      "-1.5e3",
                                      "05",
                                      " 5",
                                      "5 ",
                                      "1e400",
                                      "1e-400",
                                      "123456789012345",
                                      "1234567890123456",
                                      "9007199254740991",
                                      "9007199254740993",
                                      "-0",
                                      "NaN",
                                      "0x1",
                                      "1.",
                                      "",
                                      "1e5",
                                      "2.5E-3",
                                      "-",
                                      "+1",
                                      "1e",
                                      "0.0",
                                      "-9007199254740991",
                                      "4e-320",
                                      "abc",
                                      "1_000",
                                      "1E+2",
                                      "-0.0e-0",
                                      "Infinity"};

constexpr int64_t kInts[] = {0,
                             1,
                             -1,
                             2,
                             42,
                             -42,
                             kMaxSafe,
                             -kMaxSafe,
                             kMaxSafe + 1,
                             -kMaxSafe - 1,
                             std::numeric_limits<int64_t>::max(),
                             std::numeric_limits<int64_t>::min(),
                             1000000,
                             -1000000,
                             7,
                             1 << 30};

const double kDoubles[] = {0.0,
                           -0.0,
                           1.5,
                           -2.25,
                           3.0,
                           0.1,
                           9007199254740992.0,
                           -9007199254740992.0,
                           9007199254740994.0,
                           1e300,
                           -1e300,
                           std::numeric_limits<double>::max(),
                           std::numeric_limits<double>::quiet_NaN(),
                           std::numeric_limits<double>::infinity(),
                           -std::numeric_limits<double>::infinity(),
                           std::numeric_limits<double>::denorm_min(),
                           1e16,
                           -7.0,
                           4503599627370496.5,
                           1e15};

const double kDeltas[] = {1,
                          -1,
                          0,
                          -0.0,
                          2,
                          -2,
                          0.5,
                          -0.5,
                          0.1,
                          100,
                          -100,
                          1e15,
                          static_cast<double>(kMaxSafe),
                          -static_cast<double>(kMaxSafe),
                          9007199254740992.0,
                          -9007199254740992.0,
                          1e308,
                          -1e308,
                          std::numeric_limits<double>::infinity(),
                          -std::numeric_limits<double>::infinity(),
                          std::numeric_limits<double>::quiet_NaN(),
                          std::numeric_limits<double>::denorm_min(),
                          4503599627370496.5,
                          1.5};

// ---- The model's number rules (docs/api.md, increment), written apart
// from the core's ----
struct ModelNumber {
  bool is_int = true;
  int64_t i = 0;
  double d = 0;
  double value() const { return is_int ? static_cast<double>(i) : d; }
};

// What the model can count: an 8-byte int64 or float64. Every codec stores a
// JS number natively, so text (a json store's JSON text included) is not a
// number.
bool ModelReadNumber(Kind kind, const std::string& bytes, ModelNumber* out) {
  if (kind == Kind::kInt64 && bytes.size() == 8) {
    std::memcpy(&out->i, bytes.data(), 8);
    out->is_int = true;
    return true;
  }
  if (kind == Kind::kFloat64 && bytes.size() == 8) {
    std::memcpy(&out->d, bytes.data(), 8);
    out->is_int = false;
    return true;
  }
  return false;
}

// docs/api.md: exact int64 while the value and delta are integers (within
// +-(2^53-1)), a double once either is fractional; non-finite: out of range.
bool ModelAdd(const ModelNumber* cur, double delta, ModelNumber* out) {
  if (!std::isfinite(delta)) return false;
  const ModelNumber c = cur != nullptr ? *cur : ModelNumber{};
  const bool cur_int = c.is_int || (std::isfinite(c.d) && std::trunc(c.d) == c.d);
  const bool delta_int = std::trunc(delta) == delta;
  if (cur_int && delta_int) {
    const double max = static_cast<double>(kMaxSafe);
    if (std::fabs(delta) > max) return false;
    if (!c.is_int && std::fabs(c.d) > max) return false;
    const int64_t a = c.is_int ? c.i : static_cast<int64_t>(c.d);
    if (a > kMaxSafe || a < -kMaxSafe) return false;
    const int64_t sum = a + static_cast<int64_t>(delta);  // both within 2^53: no overflow
    if (sum > kMaxSafe || sum < -kMaxSafe) return false;
    out->is_int = true;
    out->i = sum;
    return true;
  }
  const double sum = c.value() + delta;
  if (!std::isfinite(sum)) return false;
  out->is_int = false;
  out->d = sum;
  return true;
}

// ---- The model ----
struct ModelEntry {
  std::string value;
  Kind kind = Kind::kBytes;
  uint8_t flags = 0;
  uint64_t version = 0;        // 0 while unknown (a batch's versions are learned by the next scan)
  uint64_t version_floor = 0;  // when unknown: the version must be above this
  // expires_at lies in [lo, hi]: equal, unless the store resolved its
  // default TTL against its own clock at an instant the harness only brackets.
  int64_t deadline_lo = 0;
  int64_t deadline_hi = 0;
  // Laid out with timer wheel links (Entry::has_timer: 16 bytes more in its
  // footprint and charge).
  bool timer = false;
};

// What an entry adds to its shard's payload: key, value and timer links.
uint64_t PayloadOf(const std::string& key, const ModelEntry& e) {
  return key.size() + e.value.size() + (e.timer ? kTimerLinkBytes : 0);
}

struct ShardModel {
  std::map<std::string, ModelEntry> live;  // visible (present, not expired) entries
  uint64_t payload = 0;                    // sum of PayloadOf(`live`): key + value (+ timer links)
  // An entry of this shard may be expired but still hold its slot (so the
  // shard's physical counts may exceed the model's): set when one expires,
  // cleared by Clear.
  bool may_hold_expired = false;
};

struct Observed {
  std::string key;
  std::string value;
  Kind kind = Kind::kBytes;
  uint8_t flags = 0;
  uint64_t version = 0;
  int64_t expires_at = 0;
};

Observed Observe(const Entry& e) {
  Observed o;
  o.key.assign(e.key());
  o.value.assign(reinterpret_cast<const char*>(e.value_data()), e.value_size);
  o.kind = e.kind;
  o.flags = e.flags;
  o.version = e.version;
  o.expires_at = e.expires_at;
  return o;
}

class Harness {
 public:
  Harness(const uint8_t* data, size_t size, const HarnessOptions& options)
      : r_(data, size), fault_(options.fault), trace_(options.trace) {}

  ~Harness() {
    // Free every drained entry and the store, so that LeakSanitizer sees
    // nothing left whatever happened.
    drained_.clear();
    store_.reset();
  }

  void Run();

 private:
  // ---- decoding ----
  void DecodeConfig();
  std::string DecodeKey();
  Value DecodeValue();
  int64_t DecodeExpiry();
  double DecodeDelta();
  uint64_t DecodeExpected(const std::string& key);

  // ---- operations ----
  void OpPut(bool swap);
  void OpRead(bool copy);
  void OpErase(bool take);
  void OpInsert(bool read);
  void OpCompareAndPut();
  void OpCompareAndErase();
  void OpIncrement();
  void OpReadMany();
  void OpPutMany();
  void OpEraseMany();
  void OpScan();
  void OpClear();
  void OpExpire();
  void OpSweep();
  void OpBulkPut();
  void OpBulkErase();
  void OpAdvanceClock();
  void OpKill();

  // ---- model ----
  uint64_t HashOf(std::string_view key) const { return store_->Hash(key); }
  uint32_t ShardOf(uint64_t hash) const { return static_cast<uint32_t>((hash >> 48) & (shards_ - 1)); }
  ShardModel& M(uint32_t s) { return model_[s]; }
  const ModelEntry* Live(const std::string& key, uint32_t s) const {
    auto it = model_[s].live.find(key);
    return it == model_[s].live.end() ? nullptr : &it->second;
  }
  // An entry's charge against maxBytes (Entry::charge: queue links in an
  // evicting store), and the store's visible entries and bytes as the limits
  // count them (the limits hold for the whole store).
  uint64_t Cost(size_t key, size_t value, bool timer) const { return EntryChargeFor(key, value, evicting_, timer); }
  uint64_t CostOf(const std::string& key, const ModelEntry& e) const {
    return Cost(key.size(), e.value.size(), e.timer);
  }
  // Whether a write with `expiry` makes an entry with timer links.
  bool TimerFor(int64_t expiry) const { return expiry > 0 || (expiry == kDefaultExpiry && opts_.ttl_ms != 0); }
  // The layout of the entry Increment makes when it cannot update in place.
  bool IncrementTimer(const ModelEntry* cur) const {
    return (cur != nullptr && cur->deadline_hi > 0) || opts_.ttl_ms != 0;
  }
  uint64_t StoreBytes() const;
  size_t LiveCount() const;
  // Some shard may hold an expired entry still in its slot.
  bool MayHoldExpired() const;
  EntryPtr Make(const std::string& key, const Value& v, int64_t expiry) const;
  // The status a write of `key` (cost `cost`, adding or replacing) must get
  // from the limits: kOk, kTooBigForLimit, or (policy none) kFull*.
  Status ExpectLimits(const std::string& key, uint32_t s, uint64_t cost, bool too_big_checked = false) const;
  Status CheckFitsModel(uint64_t add_entries, uint64_t add_cost, uint64_t sub_cost) const;
  bool TooBig(uint64_t cost) const { return max_bytes_ != 0 && cost > max_bytes_; }
  std::pair<int64_t, int64_t> Resolve(int64_t expiry, int64_t t0, int64_t t1) const;
  bool ExpiredAt(int64_t lo, int64_t hi, int64_t now) const;
  // A write of `key` succeeded with `version`: checks the version, updates the model.
  // `timer`: the entry's layout, -1 for that of a write (links when it has
  // a deadline).
  void Linked(const std::string& key, uint32_t s, const Value& v, std::pair<int64_t, int64_t> deadline,
              uint64_t version, bool version_known = true, uint64_t floor = 0, int timer = -1);
  void SetLive(uint32_t s, const std::string& key, ModelEntry e);
  void EraseLive(uint32_t s, const std::string& key);
  void CheckVersion(const std::string& key, uint64_t version, uint64_t floor);
  // Compares an entry the store showed with the model's; with_version false
  // for an entry already unlinked (Retired::previous(): its version word is
  // reused).
  void ExpectEntry(const char* what, const Observed& got, const std::string& key, ModelEntry* want,
                   bool with_version = true);
  // Compares shard s with the model; see the definition.
  std::vector<uint64_t> Reconcile(uint32_t s, bool evict_ok, const std::set<std::string>& pinned);
  void CheckLimitsAfterEviction(const std::vector<uint64_t>& victims, bool minimal);
  // After writes in an evicting store: compares the shards written to
  // (`touched`) with the model, finds what was evicted (anywhere in the
  // store; never a key of `pinned`) and checks the limits.
  void LearnEvictions(const std::set<uint32_t>& touched, const std::set<std::string>& pinned, bool minimal);
  void AfterWrite(const std::string& key);
  void CheckSizes();
  void CheckStats(StoreStats* out = nullptr);
  void FullCheck();

  // ---- reporting ----
  void Expect(bool ok, const std::string& what) {
    if (!ok) Fail(what);
  }
  void ExpectStatus(Status got, Status want, const std::string& what) {
    if (got != want) Fail(what + ": store returned " + StatusName(got) + ", model expects " + StatusName(want));
  }
  [[noreturn]] void Fail(const std::string& what) const;
  void Trace(const std::string& line) const {
    if (trace_) std::fprintf(stderr, "#%zu %s\n", op_index_, line.c_str());
  }
  std::string Config() const;

  Reader r_;
  const int fault_;
  const bool trace_;
  bool fault_done_ = false;
  FakeClock clock_;

  Options opts_;
  uint32_t shards_ = 1;
  bool json_ = false;
  bool limited_ = false;
  bool evicting_ = false;     // SIEVE with a limit
  uint64_t max_entries_ = 0;  // for the whole store, 0: none
  uint64_t max_bytes_ = 0;    // for the whole store, 0: none
  std::unique_ptr<Store> store_;
  std::vector<Table> drained_;
  bool dead_ = false;

  std::vector<ShardModel> model_;
  std::unordered_map<std::string, uint64_t> last_version_;  // per key, never cleared
  uint64_t hits_ = 0, misses_ = 0, sets_ = 0, deletes_ = 0, evictions_ = 0;
  // Evictions the model cannot see: in a sequence of puts (a non-atomic
  // batch, a bulk put) a key's old entry may be evicted and the key then
  // written again, all within one operation. Stats().evictions may exceed
  // evictions_ by at most this.
  uint64_t eviction_slack_ = 0;
  uint64_t evictions_seen_ = 0;  // Stats().evictions when evictions were last reconciled
  uint64_t expired_ = 0;         // entries that expired while holding a slot
  uint64_t dropped_ = 0;         // of those, dropped unswept by Clear

  size_t op_index_ = 0;
  std::string op_name_ = "config";
  std::string op_key_;
  size_t work_ = 0;
};

void Harness::Fail(const std::string& what) const {
  std::string msg(kMismatchBanner);
  msg += "\n  store: " + Config();
  msg += "\n  operation #" + std::to_string(op_index_) + ": " + op_name_;
  if (!op_key_.empty()) msg += " " + op_key_;
  msg += "\n  " + what;
  msg += "\n  (rerun with THREADKV_FUZZ_TRACE=1 to print every operation)\n";
  throw Mismatch(msg);
}

std::string Harness::Config() const {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "shards=%u codec=%s policy=%s maxEntries=%" PRIu64 " maxBytes=%" PRIu64 " ttlMs=%" PRIu64, shards_,
                json_ ? "json" : "v8", opts_.eviction == EvictionPolicy::kSieve ? "sieve" : "none", opts_.max_entries,
                opts_.max_bytes, opts_.ttl_ms);
  return buf;
}

size_t Harness::LiveCount() const {
  size_t n = 0;
  for (const ShardModel& m : model_) n += m.live.size();
  return n;
}

uint64_t Harness::StoreBytes() const {
  uint64_t payload = 0;
  for (const ShardModel& m : model_) payload += m.payload;
  return payload + LiveCount() * Cost(0, 0, false);
}

bool Harness::MayHoldExpired() const {
  return std::any_of(model_.begin(), model_.end(), [](const ShardModel& m) { return m.may_hold_expired; });
}

// ---- decoding ----

void Harness::DecodeConfig() {
  const uint8_t b0 = r_.U8();
  const uint8_t b1 = r_.U8();
  const uint8_t b2 = r_.U8();
  const uint16_t b34 = r_.U16();
  shards_ = ((b0 >> 2) & 7) == 7 ? 64u : 1u << (b0 & 3);
  opts_.shards = shards_;
  opts_.eviction = (b1 & 1) != 0 ? EvictionPolicy::kSieve : EvictionPolicy::kNone;
  json_ = (b1 & 2) != 0;
  opts_.codec = json_ ? Codec::kJson : Codec::kV8;
  const unsigned limits = (b1 >> 2) & 3;
  opts_.max_entries = (limits & 1) != 0 ? 1u + b2 : 0;
  opts_.max_bytes = (limits & 2) != 0 ? 64u + b34 % 16384u : 0;
  // The default TTL: none, 20 ms (passes when the clock is advanced), about
  // 11.6 days (never passes), or so far that it saturates to "never".
  constexpr uint64_t kTtls[] = {0, 20, 1'000'000'000, uint64_t{1} << 62};
  opts_.ttl_ms = kTtls[(b1 >> 4) & 3];
  limited_ = opts_.max_entries != 0 || opts_.max_bytes != 0;
  evicting_ = limited_ && opts_.eviction == EvictionPolicy::kSieve;
  max_entries_ = opts_.max_entries;
  max_bytes_ = opts_.max_bytes;
  store_ = std::make_unique<Store>("fuzz", opts_, StoreHost{&clock_, nullptr});  // no waker: no sweeper thread
  model_.assign(shards_, ShardModel{});

  Expect(store_->Hash("seam") == HashBytes("seam", 4, kFuzzHashSeed),
         "the store does not hash with the fixed fuzz seed (fixed_hash_seed.cc not linked in place of hash.cc?)");
  Expect(store_->shard_count() == shards_, "shard_count() is not the configured shard count");
  Expect(store_->max_entries() == max_entries_, "max_entries() is not maxEntries");
  Expect(store_->max_bytes() == max_bytes_, "max_bytes() is not maxBytes");
  Expect(store_->NewEntry("x", 0, Kind::kNull)->has_links() == evicting_,
         "entries carry SIEVE links exactly in evicting stores");
  Trace("config " + Config());
}

std::string Harness::DecodeKey() {
  const uint8_t b = r_.U8();
  const KeyPools& pools = Pools();
  if (b < 112) return pools.small[b % pools.small.size()];
  if (b < 160) return pools.collide[(b - 112) % pools.collide.size()];
  if (b < 208) return Cat("m", r_.U8());
  if (b < 232) return std::string(r_.Bytes(r_.U8() % 48));  // raw bytes, NULs and all
  switch (b % 4) {
    case 0:
      return "";
    case 1:
      return std::string(100 + r_.U8() % 4, 'L');  // over 48 bytes: the hash's long path
    case 2:
      return std::string("k1\0x", 4);
    default:
      return Cat("g", r_.U8());  // a bulk key
  }
}

Value Harness::DecodeValue() {
  Value v;
  const uint8_t b = r_.U8();
  switch (b % 10) {
    case 0:
    case 1:
    case 2: {  // short bytes
      const size_t len = r_.U8() % 24;
      const uint8_t c = r_.U8();
      v.kind = Kind::kBytes;
      for (size_t i = 0; i < len; ++i) v.bytes.push_back(static_cast<char>(c + i));
      break;
    }
    case 3: {  // long bytes (byte limits)
      v.kind = Kind::kBytes;
      v.bytes.assign(r_.U16() % 3000, static_cast<char>(b));
      break;
    }
    case 4: {  // text: a JSON number or not
      v.kind = Kind::kString;
      const uint8_t t = r_.U8();
      v.bytes = kJsonTexts[t % std::size(kJsonTexts)];
      v.flags = static_cast<uint8_t>((t >> 5) & (kFlagLoneSurrogates | kFlagAscii));
      break;
    }
    case 5: {
      v.kind = Kind::kInt64;
      const uint8_t t = r_.U8();
      v.bytes =
          NumberBytes(t < 128 ? kInts[t % std::size(kInts)] : static_cast<int64_t>(static_cast<int32_t>(r_.U32())));
      break;
    }
    case 6: {
      v.kind = Kind::kFloat64;
      const uint8_t t = r_.U8();
      double d;
      if (t < 160) {
        d = kDoubles[t % std::size(kDoubles)];
      } else {
        const uint64_t bits = r_.U64();
        std::memcpy(&d, &bits, 8);
      }
      v.bytes = NumberBytes(d);
      break;
    }
    case 7:
      v.kind = Kind::kTrue;
      break;
    case 8:
      v.kind = Kind::kNull;
      break;
    default:
      v.kind = (b & 16) != 0 ? Kind::kFalse : Kind::kUndefined;
      break;
  }
  return v;
}

int64_t Harness::DecodeExpiry() {
  const uint8_t b = r_.U8();
  if (b < 128) return kDefaultExpiry;
  if (b < 176) return kNoExpiry;
  if (b < 200) return clock_.Now() + kFarFutureNs + b;
  if (b < 224) return clock_.Now() + (b - 199) * kMs;  // 1-24 ms ahead
  return 1 + (b - 224);                                // already past
}

double Harness::DecodeDelta() {
  const uint8_t b = r_.U8();
  if (b < 128) return kDeltas[b % std::size(kDeltas)];
  if (b < 224) return static_cast<double>(static_cast<int16_t>(r_.U16()));
  const uint64_t bits = r_.U64();
  double d;
  std::memcpy(&d, &bits, 8);
  return d;
}

uint64_t Harness::DecodeExpected(const std::string& key) {
  const uint8_t b = r_.U8();
  const uint32_t s = ShardOf(HashOf(key));
  const ModelEntry* cur = Live(key, s);
  auto lv = last_version_.find(key);
  const uint64_t last = lv == last_version_.end() ? 1 : lv->second;
  switch (b % 8) {
    case 0:
      return kExpectAbsent;
    case 1:
    case 2:
      return cur != nullptr ? cur->version : last;
    case 3:
      return last;
    case 4:
      return kExpectNever;
    case 5:
      return cur != nullptr ? cur->version - 1 : last - 1;
    case 6:
      return cur != nullptr ? cur->version + 1 : last + 1;
    default:
      return r_.U64();
  }
}

// ---- model helpers ----

EntryPtr Harness::Make(const std::string& key, const Value& v, int64_t expiry) const {
  // Laid out for its deadline by NewEntry, or (odd value sizes) made for no
  // deadline and given it after: the store then copies it with timer links
  // when it needs them (Shards::Fit). Either way the same entry is stored.
  if (v.bytes.size() % 2 == 0) {
    EntryPtr e = store_->NewEntry(key, v.bytes.size(), v.kind, v.flags, expiry);
    if (!v.bytes.empty()) std::memcpy(e->value_data(), v.bytes.data(), v.bytes.size());
    return e;
  }
  EntryPtr e = store_->NewEntry(key, v.bytes.size(), v.kind, v.flags, kNoExpiry);
  if (!v.bytes.empty()) std::memcpy(e->value_data(), v.bytes.data(), v.bytes.size());
  e->expires_at = expiry;
  return e;
}

Status Harness::CheckFitsModel(uint64_t add_entries, uint64_t add_cost, uint64_t sub_cost) const {
  if (max_entries_ != 0 && LiveCount() + add_entries > max_entries_) return Status::kFullEntries;
  if (max_bytes_ != 0 && StoreBytes() + add_cost - sub_cost > max_bytes_) return Status::kFullBytes;
  return Status::kOk;
}

Status Harness::ExpectLimits(const std::string& key, uint32_t s, uint64_t cost, bool too_big_checked) const {
  if (!limited_) return Status::kOk;
  if (!too_big_checked && TooBig(cost)) return Status::kTooBigForLimit;
  if (evicting_) return Status::kOk;
  // Policy none: the write must fit beside the store's visible entries.
  // (The store counts expired entries that still hold a slot, but reclaims
  // them, in every shard, before it refuses: an expired entry never makes a
  // write fail.)
  const ModelEntry* cur = Live(key, s);
  return CheckFitsModel(cur == nullptr ? 1 : 0, cost, cur == nullptr ? 0 : CostOf(key, *cur));
}

// Store::DeadlineIn, bracketed by the clock readings before and after the call.
std::pair<int64_t, int64_t> Harness::Resolve(int64_t expiry, int64_t t0, int64_t t1) const {
  if (expiry != kDefaultExpiry) return {expiry, expiry};
  if (opts_.ttl_ms == 0) return {kNoExpiry, kNoExpiry};
  auto in = [&](int64_t now) -> int64_t {
    const double ns = static_cast<double>(opts_.ttl_ms) * 1e6;
    if (!(ns + static_cast<double>(now) < 9.0e18)) return std::numeric_limits<int64_t>::max();
    const int64_t d = now + static_cast<int64_t>(ns);
    return d > 0 ? d : 1;
  };
  return {in(t0), in(t1)};
}

bool Harness::ExpiredAt(int64_t lo, int64_t hi, int64_t now) const {
  if (hi <= 0) return false;
  const bool a = lo <= now;
  const bool b = hi <= now;
  // By construction (past or far-future deadlines) never in between.
  if (a != b) Fail("harness: a deadline straddles the clock (" + std::to_string(lo) + ".." + std::to_string(hi) + ")");
  return b;
}

void Harness::SetLive(uint32_t s, const std::string& key, ModelEntry e) {
  ShardModel& m = model_[s];
  auto it = m.live.find(key);
  if (it != m.live.end()) {
    m.payload -= PayloadOf(key, it->second);
    m.payload += PayloadOf(key, e);
    it->second = std::move(e);
  } else {
    m.payload += PayloadOf(key, e);
    m.live.emplace(key, std::move(e));
  }
}

void Harness::EraseLive(uint32_t s, const std::string& key) {
  ShardModel& m = model_[s];
  auto it = m.live.find(key);
  if (it == m.live.end()) return;
  m.payload -= PayloadOf(key, it->second);
  m.live.erase(it);
}

void Harness::CheckVersion(const std::string& key, uint64_t version, uint64_t floor) {
  if (version == 0 || version >= kVersionLimit)
    Fail("version " + std::to_string(version) + " of " + Printable(key) + " is outside [1, 2^53)");
  auto it = last_version_.find(key);
  const uint64_t last = it == last_version_.end() ? 0 : it->second;
  if (version <= last || version <= floor)
    Fail("version of " + Printable(key) + " went from " + std::to_string(std::max(last, floor)) + " to " +
         std::to_string(version) + ": versions of a key must strictly increase, across delete and clear");
  last_version_[key] = version;
}

void Harness::Linked(const std::string& key, uint32_t s, const Value& v, std::pair<int64_t, int64_t> deadline,
                     uint64_t version, bool version_known, uint64_t floor, int timer) {
  ++sets_;
  if (fault_ == 1 && !fault_done_) {  // deliberately forget this write
    fault_done_ = true;
    return;
  }
  if (version_known) CheckVersion(key, version, floor);
  if (ExpiredAt(deadline.first, deadline.second, clock_.Now())) {
    // Linked already expired: it holds a slot but is absent for every operation.
    EraseLive(s, key);
    ++expired_;
    model_[s].may_hold_expired = true;
    return;
  }
  ModelEntry e;
  e.value = v.bytes;
  e.kind = v.kind;
  e.flags = v.flags;
  e.version = version_known ? version : 0;
  e.version_floor = floor;
  e.deadline_lo = deadline.first;
  e.deadline_hi = deadline.second;
  e.timer = timer < 0 ? deadline.second > 0 : timer != 0;
  SetLive(s, key, std::move(e));
}

void Harness::ExpectEntry(const char* what, const Observed& got, const std::string& key, ModelEntry* want,
                          bool with_version) {
  const std::string where = std::string(what) + " " + Printable(key);
  if (got.key != key) Fail(where + ": the entry's key is " + Printable(got.key));
  if (got.kind != want->kind) Fail(where + ": kind " + KindName(got.kind) + ", model has " + KindName(want->kind));
  if (got.value != want->value)
    Fail(where + ": value " + Printable(got.value) + ", model has " + Printable(want->value));
  if (got.flags != want->flags)
    Fail(where + ": flags " + std::to_string(got.flags) + ", model has " + std::to_string(want->flags));
  if (!with_version) {
    // A retired entry's version word chains the retire list.
  } else if (want->version == 0) {  // written by a batch: learn it
    CheckVersion(key, got.version, want->version_floor);
    want->version = got.version;
  } else if (got.version != want->version) {
    Fail(where + ": version " + std::to_string(got.version) + ", model has " + std::to_string(want->version));
  }
  if (got.expires_at < want->deadline_lo || got.expires_at > want->deadline_hi)
    Fail(where + ": deadline " + std::to_string(got.expires_at) + ", model has [" + std::to_string(want->deadline_lo) +
         ", " + std::to_string(want->deadline_hi) + "]");
}

// Scans shard s and compares it with the model, entry by entry. A key the
// model has and the store lacks is an eviction when `evict_ok` and the key
// is not pinned (dropped from the model, counted), otherwise a mismatch.
// Returns the costs of the evicted entries.
std::vector<uint64_t> Harness::Reconcile(uint32_t s, bool evict_ok, const std::set<std::string>& pinned) {
  std::vector<Observed> got;
  const Status st = store_->Scan(s, "", [&](const Entry& e) { got.push_back(Observe(e)); });
  ExpectStatus(st, Status::kOk, "Scan(shard " + std::to_string(s) + ")");
  work_ += got.size() + 1;
  std::sort(got.begin(), got.end(), [](const Observed& a, const Observed& b) { return a.key < b.key; });
  for (size_t i = 1; i < got.size(); ++i)
    if (got[i].key == got[i - 1].key) Fail("shard " + std::to_string(s) + " holds " + Printable(got[i].key) + " twice");
  std::vector<uint64_t> victims;
  ShardModel& m = model_[s];
  size_t gi = 0;
  for (auto it = m.live.begin(); it != m.live.end();) {
    if (gi < got.size() && got[gi].key < it->first)
      Fail("shard " + std::to_string(s) + " holds " + Printable(got[gi].key) + ", which the model does not");
    if (gi < got.size() && got[gi].key == it->first) {
      ExpectEntry("scanned entry", got[gi], it->first, &it->second);
      ++gi;
      ++it;
      continue;
    }
    if (!evict_ok)
      Fail("shard " + std::to_string(s) + " lost " + Printable(it->first) + " (nothing may evict it here)");
    if (pinned.count(it->first) != 0)
      Fail("shard " + std::to_string(s) + " evicted " + Printable(it->first) + ", which the write itself stored");
    victims.push_back(CostOf(it->first, it->second));
    ++evictions_;
    m.payload -= PayloadOf(it->first, it->second);
    it = m.live.erase(it);
  }
  if (gi < got.size())
    Fail("shard " + std::to_string(s) + " holds " + Printable(got[gi].key) + ", which the model does not");
  return victims;
}

// After a SIEVE write: the store is within its limits, and (when the model
// knows its physical contents, i.e. nothing expired in it) eviction stopped
// as soon as the write fitted: putting back the last victim would pass a
// limit, so some victim must have that property.
void Harness::CheckLimitsAfterEviction(const std::vector<uint64_t>& victims, bool minimal) {
  const size_t live = LiveCount();
  const uint64_t bytes = StoreBytes();
  if (max_entries_ != 0 && live > max_entries_)
    Fail("the store holds " + std::to_string(live) + " entries, over its limit " + std::to_string(max_entries_));
  if (max_bytes_ != 0 && bytes > max_bytes_)
    Fail("the store holds " + std::to_string(bytes) + " bytes, over its limit " + std::to_string(max_bytes_));
  if (!minimal || victims.empty() || MayHoldExpired()) return;
  const bool needed = std::any_of(victims.begin(), victims.end(), [&](uint64_t c) {
    return (max_entries_ != 0 && live + 1 > max_entries_) || (max_bytes_ != 0 && bytes + c > max_bytes_);
  });
  if (!needed)
    Fail("the store evicted " + std::to_string(victims.size()) +
         " entries though the write would fit with any one of them back (evicts more than needed)");
}

void Harness::LearnEvictions(const std::set<uint32_t>& touched, const std::set<std::string>& pinned, bool minimal) {
  // A victim may come from any shard. The store's eviction counter says
  // whether there is any to find (it counts only live entries evicted; an
  // expired one is counted as expired), so the shards are scanned only then.
  StoreStats st;
  ExpectStatus(store_->Stats(&st), Status::kOk, "Stats");
  std::vector<uint64_t> victims;
  const bool any = st.evictions != evictions_seen_;
  for (uint32_t s = 0; s < shards_; ++s) {
    if (touched.count(s) != 0 || (any && !model_[s].live.empty())) {
      const std::vector<uint64_t> v = Reconcile(s, true, pinned);
      victims.insert(victims.end(), v.begin(), v.end());
    }
  }
  evictions_seen_ = st.evictions;
  CheckLimitsAfterEviction(victims, minimal);
}

// After a successful single-key write in an evicting store: learn what SIEVE
// evicted (never the written key) and check the limits.
void Harness::AfterWrite(const std::string& key) {
  if (!evicting_) return;
  LearnEvictions({ShardOf(HashOf(key))}, {key}, true);
}

void Harness::CheckSizes() {
  StoreSizes z;
  ExpectStatus(store_->Sizes(&z), Status::kOk, "Sizes");
  uint64_t live = 0, bytes = 0;
  for (const ShardModel& m : model_) {
    live += m.live.size();
    bytes += m.payload + m.live.size() * (sizeof(Entry) + (evicting_ ? sizeof(EntryLinks) : 0));
  }
  Expect(z.entries == live, "Sizes().entries is " + std::to_string(z.entries) + ", model has " + std::to_string(live));
  Expect(z.bytes == bytes, "Sizes().bytes is " + std::to_string(z.bytes) + ", model has " + std::to_string(bytes));
  Expect(z.slot_bytes % Table::kSlotBytes == 0 && z.slot_bytes >= live * Table::kSlotBytes,
         "Sizes().slot_bytes " + std::to_string(z.slot_bytes) + " cannot hold " + std::to_string(live) + " entries");
}

void Harness::CheckStats(StoreStats* out) {
  StoreStats st;
  ExpectStatus(store_->Stats(&st), Status::kOk, "Stats");
  const uint64_t live = LiveCount();
  const uint64_t bytes = StoreBytes();
  auto num = [](uint64_t v) { return std::to_string(v); };
  if (expired_ - dropped_ < st.expirations)
    Fail("Stats().expirations is " + num(st.expirations) + ", but only " + num(expired_ - dropped_) +
         " entries have expired (and not been cleared)");
  const uint64_t pending = expired_ - dropped_ - st.expirations;  // expired, still holding a slot
  Expect(st.entries == live + pending, "Stats().entries is " + num(st.entries) + ", model has " + num(live) +
                                           " live + " + num(pending) + " expired not yet reclaimed");
  if (pending == 0)
    Expect(st.bytes == bytes, "Stats().bytes is " + num(st.bytes) + ", model has " + num(bytes));
  else
    Expect(st.bytes >= bytes + pending * kEntryOverhead, "Stats().bytes is " + num(st.bytes) + ", below the model's " +
                                                             num(bytes) + " + " + num(pending) + " expired entries");
  Expect(st.hits == hits_, "Stats().hits is " + num(st.hits) + ", model has " + num(hits_));
  Expect(st.misses == misses_, "Stats().misses is " + num(st.misses) + ", model has " + num(misses_));
  Expect(st.sets == sets_, "Stats().sets is " + num(st.sets) + ", model has " + num(sets_));
  Expect(st.deletes == deletes_, "Stats().deletes is " + num(st.deletes) + ", model has " + num(deletes_));
  Expect(st.evictions >= evictions_ && st.evictions <= evictions_ + eviction_slack_,
         "Stats().evictions is " + num(st.evictions) + ", model has " + num(evictions_) +
             (eviction_slack_ != 0 ? " (+ up to " + num(eviction_slack_) + " unseen)" : ""));
  Expect(st.contended_reads == 0 && st.contended_writes == 0, "contention counted on one thread");
  // Expired entries still in their slots count too: never over.
  if (max_entries_ != 0)
    Expect(st.entries <= max_entries_, "Stats().entries " + num(st.entries) + " passes the entry limit");
  if (max_bytes_ != 0) Expect(st.bytes <= max_bytes_, "Stats().bytes " + num(st.bytes) + " passes the byte limit");
  // The sweeper must visit a store that still holds an entry with a deadline.
  bool any_deadline = pending != 0;
  for (const ShardModel& m : model_)
    for (const auto& [k, e] : m.live) any_deadline |= e.deadline_hi > 0;
  if (any_deadline) Expect(store_->has_ttl(), "has_ttl() is false while an entry has a deadline");
  if (out != nullptr) *out = st;
}

void Harness::FullCheck() {
  for (uint32_t s = 0; s < shards_; ++s) Reconcile(s, false, {});
  CheckSizes();
  CheckStats();
}

// ---- operations ----

void Harness::OpPut(bool swap) {
  const std::string key = DecodeKey();
  const Value v = DecodeValue();
  const int64_t expiry = DecodeExpiry();
  op_key_ = Printable(key);
  Trace(std::string(swap ? "Put+replaced " : "Put ") + op_key_ + " " + KindName(v.kind) + "[" +
        std::to_string(v.bytes.size()) + "] expiry=" + std::to_string(expiry));
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  const uint64_t cost = Cost(key.size(), v.bytes.size(), TimerFor(expiry));
  Status want = ExpectLimits(key, s, cost);
  if (dead_ && want != Status::kTooBigForLimit) want = Status::kDestroyed;
  const ModelEntry* prev = Live(key, s);
  const ModelEntry before = prev != nullptr ? *prev : ModelEntry{};
  const bool had = prev != nullptr;
  uint64_t version = 0;
  Retired after;  // the replaced entry, readable until this goes
  const int64_t t0 = clock_.Now();
  const Status got = store_->Put(h, Make(key, v, expiry), &version, swap ? &after : nullptr);
  const int64_t t1 = clock_.Now();
  ExpectStatus(got, want, "Put");
  if (got != Status::kOk) return;
  if (swap) {
    const Entry* old = after.previous();
    if (had != (old != nullptr))
      Fail(std::string("Put handed back ") + (old ? "an entry" : "nothing") + ", model " +
           (had ? "had one" : "has none (absent or expired)"));
    if (old) {
      ModelEntry b = before;
      ExpectEntry("replaced entry", Observe(*old), key, &b, false);
      // With no hook installed, the caller may take it.
      Expect(after.TakePrevious().get() == old, "Retired::TakePrevious() does not hand over the replaced entry");
    }
  }
  Linked(key, s, v, Resolve(expiry, t0, t1), version);
  AfterWrite(key);
}

void Harness::OpRead(bool copy) {
  const std::string key = DecodeKey();
  op_key_ = Printable(key);
  Trace(std::string(copy ? "Read " : "Has ") + op_key_);
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  auto it = model_[s].live.find(key);
  const bool present = it != model_[s].live.end();
  Observed o;
  bool called = false;
  const Status got = copy ? store_->Read(key, h,
                                         [&](const Entry& e) {
                                           o = Observe(e);
                                           called = true;
                                         })
                          : store_->Read(key, h, [&](const Entry&) { called = true; });
  if (dead_) return ExpectStatus(got, Status::kDestroyed, "Read");
  ExpectStatus(got, present ? Status::kOk : Status::kNotFound, "Read");
  Expect(called == present, "Read called its callback on a miss");
  if (present) {
    ++hits_;
    if (copy) ExpectEntry("Read", o, key, &it->second);
  } else {
    ++misses_;
  }
}

void Harness::OpErase(bool take) {
  const std::string key = DecodeKey();
  op_key_ = Printable(key);
  Trace(std::string(take ? "Erase+removed " : "Erase ") + op_key_);
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  Retired after;  // the removed entry, readable until this goes
  const Status got = store_->Erase(key, h, take ? &after : nullptr);
  const Entry* removed = after.previous();
  if (dead_) return ExpectStatus(got, Status::kDestroyed, "Erase");
  auto it = model_[s].live.find(key);
  const bool present = it != model_[s].live.end();
  ExpectStatus(got, present ? Status::kOk : Status::kNotFound, "Erase");
  if (!present) {
    Expect(removed == nullptr, "Erase of an absent key handed back an entry");
    return;
  }
  if (take) {
    Expect(removed != nullptr, "Erase did not hand back the removed entry");
    ExpectEntry("removed entry", Observe(*removed), key, &it->second, false);
    Expect(after.TakePrevious().get() == removed, "Retired::TakePrevious() does not hand over the removed entry");
  }
  ++deletes_;
  EraseLive(s, key);
}

void Harness::OpInsert(bool read) {
  const std::string key = DecodeKey();
  const Value v = DecodeValue();
  const int64_t expiry = DecodeExpiry();
  op_key_ = Printable(key);
  Trace(std::string(read ? "InsertOrRead " : "Insert ") + op_key_ + " " + KindName(v.kind) + "[" +
        std::to_string(v.bytes.size()) + "] expiry=" + std::to_string(expiry));
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  auto it = model_[s].live.find(key);
  const bool present = it != model_[s].live.end();
  Status want;
  if (dead_)
    want = Status::kDestroyed;
  else if (present)
    want = Status::kExists;
  else
    want = ExpectLimits(key, s, Cost(key.size(), v.bytes.size(), TimerFor(expiry)));
  uint64_t version = 0;
  Observed o;
  bool called = false;
  const int64_t t0 = clock_.Now();
  const Status got = read ? store_->InsertOrRead(
                                h, Make(key, v, expiry),
                                [&](const Entry& e) {
                                  o = Observe(e);
                                  called = true;
                                },
                                &version)
                          : store_->Insert(h, Make(key, v, expiry), &version);
  const int64_t t1 = clock_.Now();
  ExpectStatus(got, want, read ? "InsertOrRead" : "Insert");
  if (got == Status::kExists) {
    ++hits_;  // the present entry was read (a hit)
    if (read) {
      Expect(called, "InsertOrRead did not call its callback on the present entry");
      ExpectEntry("InsertOrRead's present entry", o, key, &it->second);
    }
    return;
  }
  Expect(!called, "InsertOrRead called its callback though it inserted");
  if (got != Status::kOk) return;
  Linked(key, s, v, Resolve(expiry, t0, t1), version);
  AfterWrite(key);
}

void Harness::OpCompareAndPut() {
  const std::string key = DecodeKey();
  const uint64_t expected = DecodeExpected(key);
  const Value v = DecodeValue();
  const int64_t expiry = DecodeExpiry();
  op_key_ = Printable(key);
  Trace("CompareAndPut " + op_key_ + " expected=" + std::to_string(expected) + " " + KindName(v.kind));
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  const ModelEntry* cur = Live(key, s);
  const uint64_t cost = Cost(key.size(), v.bytes.size(), TimerFor(expiry));
  const bool match = expected == kExpectAbsent ? cur == nullptr : cur != nullptr && cur->version == expected;
  Status want;
  if (limited_ && TooBig(cost))
    want = Status::kTooBigForLimit;
  else if (dead_)
    want = Status::kDestroyed;
  else if (!match)
    want = Status::kMismatch;
  else
    want = ExpectLimits(key, s, cost, true);
  uint64_t version = 0;
  const int64_t t0 = clock_.Now();
  const Status got = store_->CompareAndPut(h, Make(key, v, expiry), expected, &version);
  const int64_t t1 = clock_.Now();
  ExpectStatus(got, want, "CompareAndPut");
  if (got != Status::kOk) return;
  Linked(key, s, v, Resolve(expiry, t0, t1), version);
  AfterWrite(key);
}

void Harness::OpCompareAndErase() {
  const std::string key = DecodeKey();
  const uint64_t expected = DecodeExpected(key);
  op_key_ = Printable(key);
  Trace("CompareAndErase " + op_key_ + " expected=" + std::to_string(expected));
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  const ModelEntry* cur = Live(key, s);
  Status want;
  if (dead_)
    want = Status::kDestroyed;
  else if (cur == nullptr)
    want = Status::kNotFound;
  else if (cur->version != expected)
    want = Status::kMismatch;
  else
    want = Status::kOk;
  ExpectStatus(store_->CompareAndErase(key, h, expected), want, "CompareAndErase");
  if (want != Status::kOk) return;
  ++deletes_;
  EraseLive(s, key);
}

void Harness::OpIncrement() {
  const std::string key = DecodeKey();
  const double delta = DecodeDelta();
  op_key_ = Printable(key);
  char dbuf[40];
  std::snprintf(dbuf, sizeof dbuf, "%.17g", delta);
  Trace("Increment " + op_key_ + " by " + dbuf);
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  const ModelEntry* cur = Live(key, s);
  const ModelEntry before = cur != nullptr ? *cur : ModelEntry{};
  ModelNumber now, next;
  Status want = Status::kOk;
  bool in_place = false;
  if (dead_) {
    want = Status::kDestroyed;
  } else if (cur != nullptr && !ModelReadNumber(cur->kind, cur->value, &now)) {
    want = Status::kNotNumber;
  } else if (!ModelAdd(cur != nullptr ? &now : nullptr, delta, &next)) {
    want = Status::kOutOfRange;
  } else {
    in_place = cur != nullptr && cur->value.size() == 8 && (cur->kind == Kind::kInt64 || cur->kind == Kind::kFloat64);
    // Otherwise a new 8-byte entry replaces the key's: the limits apply.
    // (with timer links when the counter has a deadline, or the store a ttl)
    if (!in_place) want = ExpectLimits(key, s, Cost(key.size(), 8, IncrementTimer(cur)));
  }
  Number result;
  uint64_t version = 0;
  const int64_t t0 = clock_.Now();
  const Status got = store_->Increment(key, h, delta, &result, &version);
  const int64_t t1 = clock_.Now();
  ExpectStatus(got, want, "Increment");
  if (got != Status::kOk) return;
  const bool same = next.is_int ? result.kind == Kind::kInt64 && result.i == next.i
                                : result.kind == Kind::kFloat64 && std::memcmp(&result.d, &next.d, 8) == 0;
  if (!same) {
    char buf[160];
    std::snprintf(buf, sizeof buf, "Increment gave %s %.17g, model has %s %.17g",
                  result.kind == Kind::kInt64 ? "int" : "double", result.value(), next.is_int ? "int" : "double",
                  next.value());
    Fail(buf);
  }
  Value v;
  v.kind = next.is_int ? Kind::kInt64 : Kind::kFloat64;
  v.bytes = next.is_int ? NumberBytes(next.i) : NumberBytes(next.d);
  // A counter keeps its key's deadline, whether it is updated in place or
  // rewritten; an absent key gets the store's default TTL, as any write.
  const auto deadline =
      cur != nullptr ? std::pair{before.deadline_lo, before.deadline_hi} : Resolve(kDefaultExpiry, t0, t1);
  Linked(key, s, v, deadline, version, true, 0,
         in_place ? before.timer : IncrementTimer(cur != nullptr ? &before : nullptr));
  if (!in_place) AfterWrite(key);
}

void Harness::OpReadMany() {
  const size_t n = 1 + r_.U8() % 8;
  std::vector<std::string> keys;
  std::vector<KeyRef> refs;
  for (size_t i = 0; i < n; ++i) keys.push_back(DecodeKey());
  for (const std::string& k : keys) refs.push_back({k, HashOf(k)});
  Trace("ReadMany of " + std::to_string(n) + " keys, first " + Printable(keys[0]));
  std::vector<std::pair<bool, Observed>> got(n);
  std::vector<int> calls(n, 0);
  const Status st = store_->ReadMany(refs, [&](size_t i, const Entry* e) {
    if (i < n) {
      ++calls[i];
      if (e != nullptr) got[i] = {true, Observe(*e)};
    }
  });
  if (dead_) return ExpectStatus(st, Status::kDestroyed, "ReadMany");
  ExpectStatus(st, Status::kOk, "ReadMany");
  for (size_t i = 0; i < n; ++i) {
    op_key_ = Printable(keys[i]);
    Expect(calls[i] == 1, "ReadMany called back " + std::to_string(calls[i]) + " times for key #" + std::to_string(i));
    const uint32_t s = ShardOf(refs[i].hash);
    auto it = model_[s].live.find(keys[i]);
    const bool present = it != model_[s].live.end();
    Expect(got[i].first == present, std::string("ReadMany says ") + (got[i].first ? "present" : "absent") +
                                        ", model says " + (present ? "present" : "absent"));
    if (present) {
      ++hits_;
      ExpectEntry("ReadMany", got[i].second, keys[i], &it->second);
    } else {
      ++misses_;
    }
  }
}

void Harness::OpPutMany() {
  const uint8_t b = r_.U8();
  const bool atomic = (b & 1) != 0;
  const size_t n = 1 + (b >> 1) % 8;
  struct Item {
    std::string key;
    Value v;
    int64_t expiry;
    uint64_t hash;
    uint32_t shard;
  };
  std::vector<Item> items;
  for (size_t i = 0; i < n; ++i) {
    Item it;
    it.key = DecodeKey();
    it.v = DecodeValue();
    it.expiry = DecodeExpiry();
    it.hash = HashOf(it.key);
    it.shard = ShardOf(it.hash);
    items.push_back(std::move(it));
  }
  op_key_ = Printable(items[0].key);
  Trace(std::string(atomic ? "PutMany(atomic) " : "PutMany ") + std::to_string(n) + " entries, first " + op_key_);

  // The model's outcome, and how many entries (a prefix) are written.
  Status want = Status::kOk;
  size_t written = 0;
  std::set<uint32_t> touched;
  std::vector<uint64_t> floors(n);
  for (size_t i = 0; i < n; ++i) {
    auto lv = last_version_.find(items[i].key);
    floors[i] = lv == last_version_.end() ? 0 : lv->second;
  }
  const int64_t t0 = clock_.Now();
  if (atomic) {
    // The last occurrence of each key wins.
    std::map<std::string, size_t> last;
    for (size_t i = 0; i < n; ++i) last[items[i].key] = i;
    if (limited_) {
      // A batch that alone passes a limit of the store can never fit.
      uint64_t cost = 0;
      for (const auto& [k, i] : last) cost += Cost(k.size(), items[i].v.bytes.size(), TimerFor(items[i].expiry));
      if ((max_entries_ != 0 && last.size() > max_entries_) || TooBig(cost)) want = Status::kTooBigForLimit;
    }
    if (want == Status::kOk && dead_) want = Status::kDestroyed;
    if (want == Status::kOk && limited_ && !evicting_) {
      // The whole batch must fit beside the store's other visible entries.
      uint64_t add = 0, add_cost = 0, sub = 0;
      for (const auto& [k, i] : last) {
        const ModelEntry* cur = Live(k, items[i].shard);
        add_cost += Cost(k.size(), items[i].v.bytes.size(), TimerFor(items[i].expiry));
        if (cur == nullptr)
          ++add;
        else
          sub += CostOf(k, *cur);
      }
      want = CheckFitsModel(add, add_cost, sub);
    }
  } else {
    if (evicting_) eviction_slack_ += n;
    // One Put per entry, stopping at the first refused one: the model takes
    // them in order (before the call; versions are learned after it; the
    // clock does not move during the call).
    for (size_t i = 0; i < n; ++i) {
      const Item& it = items[i];
      Status w = ExpectLimits(it.key, it.shard, Cost(it.key.size(), it.v.bytes.size(), TimerFor(it.expiry)));
      if (dead_ && w != Status::kTooBigForLimit) w = Status::kDestroyed;
      if (w != Status::kOk) {
        want = w;
        break;
      }
      Linked(it.key, it.shard, it.v, Resolve(it.expiry, t0, t0), 0, false, floors[i]);
      touched.insert(it.shard);
      ++written;
    }
  }
  std::vector<HashedEntry> entries;
  for (const Item& it : items) entries.push_back({it.hash, Make(it.key, it.v, it.expiry)});
  size_t stored = 12345;
  const Status got = store_->PutMany(entries, atomic, &stored);
  const int64_t t1 = clock_.Now();
  ExpectStatus(got, want, atomic ? "PutMany(atomic)" : "PutMany");
  if (atomic && got == Status::kOk) {
    for (size_t i = 0; i < n; ++i) {
      Linked(items[i].key, items[i].shard, items[i].v, Resolve(items[i].expiry, t0, t1), 0, false, floors[i]);
      touched.insert(items[i].shard);
    }
    written = n;
  }
  Expect(stored == written,
         "PutMany says it stored " + std::to_string(stored) + " entries, model " + std::to_string(written));
  if (written == 0) return;
  // Learn the versions (and, with SIEVE, the evictions). An atomic batch
  // never evicts its own keys; a non-atomic one is a sequence of puts, each
  // of which may evict an earlier key of the batch, but never the last.
  std::set<std::string> pinned;
  if (atomic)
    for (const Item& it : items) pinned.insert(it.key);
  else
    pinned.insert(items[written - 1].key);
  if (evicting_) {
    LearnEvictions(touched, pinned, atomic);
  } else {
    for (uint32_t s : touched) Reconcile(s, false, pinned);
  }
}

void Harness::OpEraseMany() {
  const uint8_t b = r_.U8();
  const bool atomic = (b & 1) != 0;
  const size_t n = 1 + (b >> 1) % 8;
  std::vector<std::string> keys;
  std::vector<KeyRef> refs;
  for (size_t i = 0; i < n; ++i) keys.push_back(DecodeKey());
  for (const std::string& k : keys) refs.push_back({k, HashOf(k)});
  op_key_ = Printable(keys[0]);
  Trace(std::string(atomic ? "EraseMany(atomic) " : "EraseMany ") + std::to_string(n) + " keys, first " + op_key_);
  size_t erased = 12345;
  const Status st = store_->EraseMany(refs, atomic, &erased);
  if (dead_) return ExpectStatus(st, Status::kDestroyed, "EraseMany");
  ExpectStatus(st, Status::kOk, "EraseMany");
  size_t want = 0;
  for (size_t i = 0; i < n; ++i) {
    const uint32_t s = ShardOf(refs[i].hash);
    if (Live(keys[i], s) != nullptr) {
      ++want;
      EraseLive(s, keys[i]);
    }
  }
  deletes_ += want;
  Expect(erased == want, "EraseMany erased " + std::to_string(erased) + ", model says " + std::to_string(want));
}

void Harness::OpScan() {
  const uint32_t shard = r_.U8() % (shards_ + 1);  // shards_ itself: no such shard
  const uint8_t mode = r_.U8();
  std::string prefix;
  if (mode % 3 == 1) {
    const std::string k = DecodeKey();
    prefix = k.substr(0, k.empty() ? 0 : r_.U8() % (k.size() + 1));
  } else if (mode % 3 == 2) {
    prefix = std::string(r_.Bytes(r_.U8() % 4));
  }
  op_key_ = "shard " + std::to_string(shard) + " prefix " + Printable(prefix);
  Trace("Scan " + op_key_);
  if (work_ > kWorkBudget) return;
  std::vector<Observed> got;
  const Status st = store_->Scan(shard, prefix, [&](const Entry& e) { got.push_back(Observe(e)); });
  if (shard >= shards_) return ExpectStatus(st, Status::kNotFound, "Scan of a shard past the last");
  if (dead_) return ExpectStatus(st, Status::kDestroyed, "Scan");
  ExpectStatus(st, Status::kOk, "Scan");
  work_ += got.size() + 1;
  std::sort(got.begin(), got.end(), [](const Observed& a, const Observed& b) { return a.key < b.key; });
  auto& live = model_[shard].live;
  size_t gi = 0;
  for (auto it = live.lower_bound(prefix); it != live.end() && it->first.starts_with(prefix); ++it, ++gi) {
    if (gi >= got.size() || got[gi].key != it->first)
      Fail("Scan did not yield " + Printable(it->first) +
           (gi < got.size() ? " (yielded " + Printable(got[gi].key) + ")" : ""));
    ExpectEntry("Scan", got[gi], it->first, &it->second);
  }
  if (gi < got.size())
    Fail("Scan yielded " + Printable(got[gi].key) + ", which the model does not have with that prefix");
}

void Harness::OpClear() {
  Trace("Clear");
  if (dead_) return ExpectStatus(store_->Clear(), Status::kDestroyed, "Clear");
  StoreStats st;
  CheckStats(&st);
  // Expired entries still holding a slot go without being counted.
  dropped_ += expired_ - dropped_ - st.expirations;
  ExpectStatus(store_->Clear(), Status::kOk, "Clear");
  for (ShardModel& m : model_) m = ShardModel{};
}

void Harness::OpExpire() {
  const std::string key = DecodeKey();
  const uint8_t b = r_.U8();
  int64_t deadline;
  if (b < 64)
    deadline = kNoExpiry;
  else if (b < 128)
    deadline = clock_.Now() + kFarFutureNs + b;
  else if (b < 192)
    deadline = clock_.Now() + (b - 127) * kMs;  // 1-64 ms ahead
  else
    deadline = 1 + (b - 192);  // already past
  op_key_ = Printable(key);
  Trace("Expire " + op_key_ + " at " + std::to_string(deadline));
  const uint64_t h = HashOf(key);
  const uint32_t s = ShardOf(h);
  auto it = model_[s].live.find(key);
  const bool present = it != model_[s].live.end();
  // A deadline on an entry without timer links replaces it with a copy that
  // has them: 16 bytes more, which must fit under maxBytes as a write's
  // would. (A deadline already past leaves it in its slot until swept.)
  const bool past = ExpiredAt(deadline, deadline, clock_.Now());
  const bool grows = present && deadline > 0 && !it->second.timer;
  Status want = present ? Status::kOk : Status::kNotFound;
  if (grows && limited_) {
    ModelEntry bigger = it->second;
    bigger.timer = true;
    if (TooBig(CostOf(key, bigger)))
      want = Status::kTooBigForLimit;
    else if (!evicting_)
      want = CheckFitsModel(0, CostOf(key, bigger), CostOf(key, it->second));
  }
  const Status got = store_->Expire(key, h, deadline);
  if (dead_) return ExpectStatus(got, Status::kDestroyed, "Expire");
  ExpectStatus(got, want, "Expire");
  if (got != Status::kOk || !present) return;
  if (grows) {
    ModelEntry e = it->second;
    e.timer = true;
    SetLive(s, key, std::move(e));
    it = model_[s].live.find(key);
  }
  it->second.deadline_lo = it->second.deadline_hi = deadline;
  if (past) {
    EraseLive(s, key);
    ++expired_;
    model_[s].may_hold_expired = true;
  }
  // The room for the links, as after a write (Put's AfterWrite).
  if (grows && evicting_) LearnEvictions({s}, {key}, true);
}

void Harness::OpSweep() {
  const size_t batch = 1 + r_.U16() % 512;
  Trace("SweepExpired batch " + std::to_string(batch));
  if (work_ > kWorkBudget) return;
  if (dead_) {
    Expect(store_->SweepExpired(batch) == 0, "SweepExpired removed entries from a destroyed store");
    return;
  }
  StoreStats st;
  CheckStats(&st);
  const uint64_t pending = expired_ - dropped_ - st.expirations;
  work_ += LiveCount() + pending + 1;
  const size_t removed = store_->SweepExpired(batch);
  // One call walks every shard to its end: nothing expired is left.
  Expect(removed == pending, "SweepExpired removed " + std::to_string(removed) + " entries, model has " +
                                 std::to_string(pending) + " expired ones holding a slot");
  CheckStats();
  bool any_deadline = false;
  for (const ShardModel& m : model_)
    for (const auto& [k, e] : m.live) any_deadline |= e.deadline_hi > 0;
  Expect(store_->has_ttl() == any_deadline, std::string("after a sweep has_ttl() is ") +
                                                (store_->has_ttl() ? "true" : "false") + ", model has " +
                                                (any_deadline ? "an entry with a deadline" : "none"));
  for (ShardModel& m : model_) m.may_hold_expired = false;
}

void Harness::OpBulkPut() {
  const size_t count = 1 + r_.U16() % 1024;
  const size_t base = r_.U8() * size_t{61};
  const uint8_t b = r_.U8();
  const size_t vlen = b < 128 ? b % 32 : (b - 128) * size_t{16};
  const int64_t expiry = DecodeExpiry();
  Trace("BulkPut g" + std::to_string(base) + ".. x" + std::to_string(count) + " value bytes " + std::to_string(vlen) +
        " expiry=" + std::to_string(expiry));
  if (work_ > kWorkBudget) return;
  work_ += count;
  Value v;
  v.kind = Kind::kBytes;
  v.bytes.assign(vlen, 'v');
  std::string last;
  for (size_t i = 0; i < count; ++i) {
    const std::string key = Cat("g", base + i);
    op_key_ = Printable(key);
    const uint64_t h = HashOf(key);
    const uint32_t s = ShardOf(h);
    Status want = ExpectLimits(key, s, Cost(key.size(), v.bytes.size(), TimerFor(expiry)));
    if (dead_ && want != Status::kTooBigForLimit) want = Status::kDestroyed;
    uint64_t version = 0;
    const int64_t t0 = clock_.Now();
    if (evicting_ && Live(key, s) != nullptr) ++eviction_slack_;
    const Status got = store_->Put(h, Make(key, v, expiry), &version);
    const int64_t t1 = clock_.Now();
    ExpectStatus(got, want, "BulkPut's Put");
    if (got != Status::kOk) continue;
    Linked(key, s, v, Resolve(expiry, t0, t1), version);
    last = key;
  }
  if (evicting_ && !last.empty()) LearnEvictions({}, {last}, false);
}

void Harness::OpBulkErase() {
  const size_t count = 1 + r_.U16() % 1024;
  const size_t base = r_.U8() * size_t{61};
  Trace("BulkErase g" + std::to_string(base) + ".. x" + std::to_string(count));
  if (work_ > kWorkBudget) return;
  work_ += count;
  for (size_t i = 0; i < count; ++i) {
    const std::string key = Cat("g", base + i);
    op_key_ = Printable(key);
    const uint64_t h = HashOf(key);
    const uint32_t s = ShardOf(h);
    const bool present = Live(key, s) != nullptr;
    const Status got = store_->Erase(key, h);
    if (dead_) {
      ExpectStatus(got, Status::kDestroyed, "BulkErase's Erase");
      continue;
    }
    ExpectStatus(got, present ? Status::kOk : Status::kNotFound, "BulkErase's Erase");
    if (present) {
      ++deletes_;
      EraseLive(s, key);
    }
  }
}

void Harness::OpAdvanceClock() {
  // 1-64 ms (near deadlines pass), or a day (only far ones stay).
  const uint16_t b = r_.U16();
  const int64_t ns = b >= 0xF000 ? int64_t{86'400'000} * kMs : (1 + b % 64) * kMs;
  Trace("AdvanceClock by " + std::to_string(ns / kMs) + " ms");
  clock_.Advance(ns);
  if (dead_) return;
  // Whatever expired is absent from now on, but holds its slot until the
  // store reclaims it.
  const int64_t now = clock_.Now();
  for (ShardModel& m : model_) {
    for (auto it = m.live.begin(); it != m.live.end();) {
      if (!ExpiredAt(it->second.deadline_lo, it->second.deadline_hi, now)) {
        ++it;
        continue;
      }
      m.payload -= PayloadOf(it->first, it->second);
      it = m.live.erase(it);
      ++expired_;
      m.may_hold_expired = true;
    }
  }
}

void Harness::OpKill() {
  const uint8_t b = r_.U8();
  if (b >= 16 || dead_) return;  // rare: the rest of the input only meets a dead store
  Trace("Kill");
  StoreStats st;
  CheckStats(&st);
  store_->Kill(&drained_);
  dead_ = true;
  Expect(store_->destroyed(), "destroyed() is false after Kill");
  drained_.clear();  // frees every entry
  StoreSizes z;
  ExpectStatus(store_->Sizes(&z), Status::kDestroyed, "Sizes after Kill");
  ExpectStatus(store_->Stats(&st), Status::kDestroyed, "Stats after Kill");
}

void Harness::Run() {
  DecodeConfig();
  for (op_index_ = 1; !r_.done() && op_index_ <= kMaxOps; ++op_index_) {
    op_key_.clear();
    const uint8_t op = r_.U8() % 32;
    switch (op) {
      case 0:
        op_name_ = "Put";
        OpPut(false);
        break;
      case 1:
        op_name_ = "Put(replaced)";
        OpPut(true);
        break;
      case 2:
        op_name_ = "Read";
        OpRead(true);
        break;
      case 3:
        op_name_ = "Read(has)";
        OpRead(false);
        break;
      case 4:
        op_name_ = "Erase";
        OpErase(false);
        break;
      case 5:
        op_name_ = "Erase(removed)";
        OpErase(true);
        break;
      case 6:
        op_name_ = "Insert";
        OpInsert(false);
        break;
      case 7:
        op_name_ = "InsertOrRead";
        OpInsert(true);
        break;
      case 8:
        op_name_ = "CompareAndPut";
        OpCompareAndPut();
        break;
      case 9:
        op_name_ = "CompareAndErase";
        OpCompareAndErase();
        break;
      case 10:
        op_name_ = "Increment";
        OpIncrement();
        break;
      case 11:
        op_name_ = "ReadMany";
        OpReadMany();
        break;
      case 12:
        op_name_ = "PutMany";
        OpPutMany();
        break;
      case 13:
        op_name_ = "EraseMany";
        OpEraseMany();
        break;
      case 14:
        op_name_ = "Scan";
        OpScan();
        break;
      case 15:
        op_name_ = "Clear";
        OpClear();
        break;
      case 16:
        op_name_ = "Sizes";
        Trace("Sizes");
        if (!dead_) CheckSizes();
        break;
      case 17:
        op_name_ = "Stats";
        Trace("Stats");
        if (!dead_) CheckStats();
        break;
      case 18:
        op_name_ = "Expire";
        OpExpire();
        break;
      case 19:
        op_name_ = "SweepExpired";
        OpSweep();
        break;
      case 20:
        op_name_ = "BulkPut";
        OpBulkPut();
        break;
      case 21:
        op_name_ = "BulkErase";
        OpBulkErase();
        break;
      case 22:
        op_name_ = "FullCheck";
        Trace("FullCheck");
        if (!dead_ && work_ <= kWorkBudget) FullCheck();
        break;
      case 23:
        op_name_ = "AdvanceClock";
        OpAdvanceClock();
        break;
      case 24:
        op_name_ = "Read";
        OpRead(true);
        break;
      case 25:
        op_name_ = "Put";
        OpPut(false);
        break;
      case 26:
        op_name_ = "Kill";
        OpKill();
        break;
      default:
        op_name_ = "reserved";
        break;  // 27..31: kept free for new operations
    }
  }
  op_name_ = "final check";
  op_key_.clear();
  if (!dead_) FullCheck();
}

}  // namespace

std::string RunCoreOps(const uint8_t* data, size_t size, const HarnessOptions& options) {
  Harness h(data, size, options);
  return RunHarness(h);
}

}  // namespace threadkv::fuzz
