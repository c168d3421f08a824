// Lock designs for one in-memory table, measured with std::thread in C++
// alone (no Node): what the core can do before N-API and codecs add theirs.
//
//   mutex-1        one std::mutex around one table (local wrapper)
//   shared-1       one shard lock: threadkv::Store with shards = 1
//   mutex-64       64 shards, each a std::mutex + table (local wrapper)
//   rw-64          64 shards, each a std::shared_mutex + table (local
//                  wrapper; on glibc a reader-preferring pthread rwlock)
//   wprw-64        64 shards, each the core's writer-preferring shared mutex
//                  (rwlock.h) + table (local wrapper)
//   shared-64      threadkv::Store with shards = 64 (the shipped design: the
//                  writer-preferring lock, plus everything a store does)
//
// Every variant uses the core's Table, Entry and hash. A get hashes the key,
// takes the lock, finds the entry and copies the value out (as the binding
// does); a set allocates the entry outside the lock, swaps it in under the
// lock, and frees the old one after. 100,000 keys `k:<i>`, 16-byte values;
// keys uniform, Zipfian (s = 0.99) or one hot key; 95% get / 5% set and
// 50/50; 1, 2, 4, 8 threads that meet at a barrier and run for a fixed time.
//
// --fairness: instead, per variant and reader count R, R threads read one
// key in a loop while one thread sets that key in a loop, timing each set:
// the writer's sets per second beside R readers, its p50 / p99 / max
// latency, and the readers' throughput.
//
//   kvbench [--ms=200] [--runs=1] [--threads=1,2,4,8] [--mixes=95,50]
//           [--dists=uniform,zipf,hot] [--variants=mutex-1,shared-1,mutex-64,rw-64,wprw-64,shared-64]
//   kvbench --fairness [--ms=500] [--runs=1] [--readers=1,4] [--variants=mutex-64,rw-64,wprw-64,shared-64]
// Prints one JSON object per line: {"variant","threads","mix","dist","run","mops","ops","ns"}, or with
// --fairness {"mode":"fairness","variant","readers","run","sets_per_s","p50_us","p99_us","max_us","reads_mops"}.

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "core/entry.h"
#include "core/hash.h"
#include "core/options.h"
#include "core/rwlock.h"
#include "core/status.h"
#include "core/store.h"
#include "core/table.h"

namespace {

using threadkv::Entry;
using threadkv::EntryPtr;
using threadkv::Kind;
using threadkv::Table;

constexpr size_t kKeys = 100000;
constexpr size_t kValueSize = 16;
constexpr uint32_t kWriteBit = 0x80000000u;
constexpr size_t kSeqLen = 1u << 18;

EntryPtr NewEntry(std::string_view key, const char* value, size_t n) {
  EntryPtr e = threadkv::MakeEntry(key, n, Kind::kString);
  std::memcpy(e->value_data(), value, n);
  return e;
}

// One std::mutex around one table.
class GlobalMutex {
 public:
  const char* name() const { return "mutex-1"; }
  bool Get(std::string_view key, char* out) {
    const uint64_t h = threadkv::HashKey(key.data(), key.size());
    std::lock_guard lock(mu_);
    const Entry* e = table_.Find(h, key);
    if (e == nullptr) return false;
    std::memcpy(out, e->value_data(), e->value_size);
    return true;
  }
  void Put(std::string_view key, const char* value, size_t n) {
    const uint64_t h = threadkv::HashKey(key.data(), key.size());
    EntryPtr e = NewEntry(key, value, n);
    EntryPtr old;
    {
      std::lock_guard lock(mu_);
      old = table_.Upsert(h, std::move(e));
    }
  }

 private:
  std::mutex mu_;
  Table table_;
};

// 64 shards, each a lock of type M and a table, on its own cache line. Gets
// take the lock shared when M can be.
template <class M>
class Sharded {
 public:
  explicit Sharded(const char* name) : name_(name) {}
  const char* name() const { return name_; }
  bool Get(std::string_view key, char* out) {
    const uint64_t h = threadkv::HashKey(key.data(), key.size());
    Shard& s = shards_[(h >> 48) & 63];
    auto find = [&] {
      const Entry* e = s.table.Find(h, key);
      if (e == nullptr) return false;
      std::memcpy(out, e->value_data(), e->value_size);
      return true;
    };
    if constexpr (requires(M m) { m.lock_shared(); }) {
      std::shared_lock lock(s.mu);
      return find();
    } else {
      std::lock_guard lock(s.mu);
      return find();
    }
  }
  void Put(std::string_view key, const char* value, size_t n) {
    const uint64_t h = threadkv::HashKey(key.data(), key.size());
    EntryPtr e = NewEntry(key, value, n);
    EntryPtr old;
    Shard& s = shards_[(h >> 48) & 63];
    {
      std::lock_guard lock(s.mu);
      old = s.table.Upsert(h, std::move(e));
    }
  }

 private:
  struct alignas(64) Shard {
    M mu;
    Table table;
  };
  std::unique_ptr<Shard[]> shards_{new Shard[64]};
  const char* name_;
};

// threadkv::Store itself: shards of std::shared_mutex + table.
class CoreStore {
 public:
  explicit CoreStore(uint32_t shards)
      : store_("bench", MakeOptions(shards)), name_(shards == 1 ? "shared-1" : "shared-64") {}
  const char* name() const { return name_; }
  bool Get(std::string_view key, char* out) {
    const uint64_t h = store_.Hash(key);
    return store_.Read(key, h, [&](const Entry& e) { std::memcpy(out, e.value_data(), e.value_size); }) ==
           threadkv::Status::kOk;
  }
  void Put(std::string_view key, const char* value, size_t n) {
    const uint64_t h = store_.Hash(key);
    EntryPtr e = store_.NewEntry(key, n, Kind::kString);  // the store's own entry layout
    std::memcpy(e->value_data(), value, n);
    store_.Put(h, std::move(e));
  }

 private:
  static threadkv::Options MakeOptions(uint32_t shards) {
    threadkv::Options o;
    o.shards = shards;
    return o;
  }
  threadkv::Store store_;
  const char* name_;
};

struct Args {
  int ms = 200;
  int runs = 1;
  bool fairness = false;
  std::vector<int> threads{1, 2, 4, 8};
  std::vector<int> readers{1, 4};
  std::vector<int> mixes{95, 50};
  std::vector<std::string> dists{"uniform", "zipf", "hot"};
  std::vector<std::string> variants{"mutex-1", "shared-1", "mutex-64", "rw-64", "wprw-64", "shared-64"};
};

std::vector<std::string> Split(const std::string& s) {
  std::vector<std::string> out;
  size_t a = 0;
  while (a <= s.size()) {
    size_t b = s.find(',', a);
    if (b == std::string::npos) b = s.size();
    if (b > a) out.push_back(s.substr(a, b - a));
    a = b + 1;
  }
  return out;
}

std::vector<int> SplitInts(const std::string& s) {
  std::vector<int> out;
  for (const auto& p : Split(s)) out.push_back(std::atoi(p.c_str()));
  return out;
}

Args Parse(int argc, char** argv) {
  Args a;
  for (int i = 1; i < argc; ++i) {
    std::string s = argv[i];
    auto val = [&](const char* p) -> const char* {
      const size_t n = std::strlen(p);
      return s.compare(0, n, p) == 0 ? s.c_str() + n : nullptr;
    };
    if (const char* v = val("--ms="))
      a.ms = std::atoi(v);
    else if (const char* v2 = val("--runs="))
      a.runs = std::atoi(v2);
    else if (const char* v3 = val("--threads="))
      a.threads = SplitInts(v3);
    else if (const char* v4 = val("--mixes="))
      a.mixes = SplitInts(v4);
    else if (const char* v5 = val("--variants="))
      a.variants = Split(v5);
    else if (const char* v6 = val("--dists="))
      a.dists = Split(v6);
    else if (const char* v7 = val("--readers="))
      a.readers = SplitInts(v7);
    else if (s == "--fairness")
      a.fairness = true;
    else {
      std::fprintf(stderr,
                   "usage: kvbench [--ms=200] [--runs=1] [--threads=1,2,4,8] [--mixes=95,50] "
                   "[--dists=uniform,zipf,hot] [--variants=mutex-1,shared-1,mutex-64,rw-64,wprw-64,shared-64]\n"
                   "       kvbench --fairness [--ms=500] [--runs=1] [--readers=1,4] [--variants=...]\n");
      std::exit(s == "--help" ? 0 : 2);
    }
  }
  return a;
}

uint64_t SplitMix(uint64_t& x) {
  uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// The cumulative Zipf(0.99) distribution over kKeys ranks.
const std::vector<double>& ZipfCdf() {
  static const std::vector<double> cdf = [] {
    std::vector<double> c(kKeys);
    double sum = 0;
    for (size_t i = 0; i < kKeys; ++i) c[i] = (sum += 1.0 / std::pow(static_cast<double>(i + 1), 0.99));
    for (double& x : c) x /= sum;
    return c;
  }();
  return cdf;
}

uint32_t KeyOf(const std::string& dist, uint64_t r) {
  if (dist == "hot") return 0;
  if (dist == "zipf") {
    const double u = static_cast<double>(r >> 11) * 0x1.0p-53;
    const auto& cdf = ZipfCdf();
    const auto rank = static_cast<size_t>(std::lower_bound(cdf.begin(), cdf.end(), u) - cdf.begin());
    return static_cast<uint32_t>(std::min<size_t>(rank, kKeys - 1));
  }
  return static_cast<uint32_t>((r & 0xffffffffu) % kKeys);
}

std::vector<uint32_t> Sequence(int read_pct, uint64_t seed, const std::string& dist) {
  std::vector<uint32_t> seq(kSeqLen);
  for (auto& op : seq) {
    const uint64_t r = SplitMix(seed);
    const uint32_t key = KeyOf(dist, r);
    const bool write = static_cast<int>((r >> 32) % 100) >= read_pct;
    op = write ? (key | kWriteBit) : key;
  }
  return seq;
}

struct ThreadResult {
  uint64_t ops = 0;
  std::chrono::steady_clock::time_point t0, t1;
  uint64_t hits = 0;
};

template <class KV>
void RunCell(KV& kv, const std::vector<std::string>& keys, int threads, int read_pct, const std::string& dist, int ms,
             int run) {
  std::vector<std::vector<uint32_t>> seqs;
  for (int t = 0; t < threads; ++t)
    seqs.push_back(Sequence(read_pct, 1000u * static_cast<uint64_t>(run) + static_cast<uint64_t>(t) + 1, dist));
  std::atomic<int> arrived{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<ThreadResult> res(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const auto& seq = seqs[static_cast<size_t>(t)];
      char out[256];
      char value[kValueSize];
      std::memset(value, 'w', sizeof value);
      value[0] = static_cast<char>('0' + t);
      size_t i = 0;
      uint64_t ops = 0;
      uint64_t hits = 0;
      arrived.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      const auto t0 = std::chrono::steady_clock::now();
      while (!stop.load(std::memory_order_relaxed)) {
        for (int j = 0; j < 64; ++j) {
          const uint32_t op = seq[i];
          i = (i + 1) & (kSeqLen - 1);
          if (op & kWriteBit) {
            kv.Put(keys[op & ~kWriteBit], value, sizeof value);
          } else if (kv.Get(keys[op], out)) {
            ++hits;
          }
        }
        ops += 64;
      }
      const auto t1 = std::chrono::steady_clock::now();
      res[static_cast<size_t>(t)] = {ops, t0, t1, hits};
    });
  }
  while (arrived.load() < threads) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  stop.store(true);
  for (auto& th : pool) th.join();
  uint64_t ops = 0;
  auto t0 = res[0].t0;
  auto t1 = res[0].t1;
  for (const auto& r : res) {
    ops += r.ops;
    if (r.t0 < t0) t0 = r.t0;
    if (r.t1 > t1) t1 = r.t1;
  }
  const double ns = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count());
  std::printf(
      "{\"variant\":\"%s\",\"threads\":%d,\"mix\":\"%d/%d\",\"dist\":\"%s\",\"run\":%d,\"mops\":%.4f,"
      "\"ops\":%llu,\"ns\":%.0f}\n",
      kv.name(), threads, read_pct, 100 - read_pct, dist.c_str(), run, static_cast<double>(ops) / ns * 1e3,
      static_cast<unsigned long long>(ops), ns);
  std::fflush(stdout);
}

// R readers of one key and one writer of it (--fairness).
template <class KV>
void RunFairness(KV& kv, const std::vector<std::string>& keys, int readers, int ms, int run) {
  const std::string& hot = keys[0];
  std::atomic<int> arrived{0};
  std::atomic<bool> go{false};
  std::atomic<bool> stop{false};
  std::vector<uint64_t> reads(static_cast<size_t>(readers));
  std::vector<std::thread> pool;
  for (int t = 0; t < readers; ++t) {
    pool.emplace_back([&, t] {
      char out[256];
      uint64_t n = 0;
      arrived.fetch_add(1);
      while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
      while (!stop.load(std::memory_order_relaxed)) {
        for (int j = 0; j < 16; ++j) (void)kv.Get(hot, out);
        n += 16;
      }
      reads[static_cast<size_t>(t)] = n;
    });
  }
  std::vector<double> lat;
  lat.reserve(1 << 20);
  std::chrono::steady_clock::time_point t0, t1;
  std::thread writer([&] {
    char value[kValueSize];
    std::memset(value, 'w', sizeof value);
    arrived.fetch_add(1);
    while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
    t0 = std::chrono::steady_clock::now();
    while (!stop.load(std::memory_order_relaxed)) {
      const auto a = std::chrono::steady_clock::now();
      kv.Put(hot, value, sizeof value);
      const auto b = std::chrono::steady_clock::now();
      lat.push_back(static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count()) / 1e3);
    }
    t1 = std::chrono::steady_clock::now();
  });
  while (arrived.load() < readers + 1) std::this_thread::yield();
  go.store(true, std::memory_order_release);
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  stop.store(true);
  writer.join();
  for (auto& th : pool) th.join();
  const double secs = static_cast<double>(std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()) / 1e9;
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    return lat.empty() ? 0.0 : lat[std::min(lat.size() - 1, static_cast<size_t>(p * static_cast<double>(lat.size())))];
  };
  uint64_t total_reads = 0;
  for (uint64_t r : reads) total_reads += r;
  std::printf(
      "{\"mode\":\"fairness\",\"variant\":\"%s\",\"readers\":%d,\"run\":%d,\"sets_per_s\":%.1f,\"p50_us\":%.2f,"
      "\"p99_us\":%.2f,\"max_us\":%.2f,\"reads_mops\":%.4f}\n",
      kv.name(), readers, run, static_cast<double>(lat.size()) / secs, pct(0.5), pct(0.99),
      lat.empty() ? 0.0 : lat.back(), static_cast<double>(total_reads) / secs / 1e6);
  std::fflush(stdout);
}

template <class KV>
void RunVariant(KV& kv, const std::vector<std::string>& keys, const Args& a, int run) {
  char value[kValueSize];
  std::memset(value, 'v', sizeof value);
  for (const auto& k : keys) kv.Put(k, value, sizeof value);
  if (a.fairness) {
    for (int r : a.readers) RunFairness(kv, keys, r, a.ms, run);
    return;
  }
  for (const auto& dist : a.dists)
    for (int mix : a.mixes)
      for (int t : a.threads) RunCell(kv, keys, t, mix, dist, a.ms, run);
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  std::vector<std::string> keys;
  keys.reserve(kKeys);
  for (size_t i = 0; i < kKeys; ++i) keys.push_back("k:" + std::to_string(i));
  for (int run = 0; run < a.runs; ++run) {
    for (const auto& v : a.variants) {
      // A fresh table per variant and run.
      if (v == "mutex-1") {
        auto kv = std::make_unique<GlobalMutex>();
        RunVariant(*kv, keys, a, run);
      } else if (v == "mutex-64") {
        auto kv = std::make_unique<Sharded<std::mutex>>("mutex-64");
        RunVariant(*kv, keys, a, run);
      } else if (v == "rw-64") {
        auto kv = std::make_unique<Sharded<std::shared_mutex>>("rw-64");
        RunVariant(*kv, keys, a, run);
      } else if (v == "wprw-64") {
        auto kv = std::make_unique<Sharded<threadkv::WriterPreferringSharedMutex>>("wprw-64");
        RunVariant(*kv, keys, a, run);
      } else if (v == "shared-1") {
        auto kv = std::make_unique<CoreStore>(1);
        RunVariant(*kv, keys, a, run);
      } else if (v == "shared-64") {
        auto kv = std::make_unique<CoreStore>(64);
        RunVariant(*kv, keys, a, run);
      } else {
        std::fprintf(stderr, "unknown variant %s\n", v.c_str());
        return 2;
      }
    }
  }
  return 0;
}
