// Table growth: how long each Upsert takes while one shard's table grows to
// 2M keys (a `shards: 1` store), with incremental rehashing (threadkv::Table)
// and with the stop-the-world rehash it replaced (baseline_table.h), and the
// steady-state cost of the hot paths, for callgrind.
//
//   table_growth latency [--keys=2000000] [--trials=5] [--clock=wall|cpu] [--slowest]
//   table_growth steady --impl=new|old --op=find-hit|find-miss|replace|churn
//                       [--keys=150000] [--ops=150000] [--tag-home=N]
//
// `latency`: every Upsert is timed, with the monotonic clock (--clock=wall,
// the default: a reading costs ~20 ns, in both columns alike) or with the
// thread's CPU clock (--clock=cpu: a system call per reading, so the small
// percentiles mean little, but time the thread spent preempted is left out:
// on a loaded machine the worst cases are then the table's own). The entries
// and hashes are made before the clock starts, so an Upsert is a probe, a
// store, and whatever rehashing it does (page faults on a fresh slot array
// included). A third row fills the incremental table reserved up front, so
// with no resize at all: what the machine adds to the same calls (page
// faults, preemption, other processes) is in it too, which tells what part
// of the other rows' tails is the table's. The trials alternate the order;
// the medians and the minima over the trials are printed last (the minimum
// of the worst case is the least disturbed by other processes).
// `steady`: fills a table with --keys keys (and lets a migration finish),
// then runs --ops operations of one kind inside MeasuredOps(). Under
//   valgrind --tool=callgrind --toggle-collect='*MeasuredOps*' table_growth steady ...
// the instructions collected divided by --ops is the cost of one operation,
// the loop around it being the same code for both tables
// (`node bench/native/table-growth.js` does both and prints the tables).
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "baseline_table.h"
#include "core/entry.h"
#include "core/hash.h"
#include "core/table.h"

namespace {

using threadkv::EntryPtr;
bool g_cpu_clock = false;
bool g_slowest = false;  // --slowest: list each fill's 20 slowest Upserts

int64_t NowNs() {
  if (!g_cpu_clock)
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch())
        .count();
  timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

constexpr uint64_t kSeed = 0x7AB1'E000'0000'0001ULL;

std::string KeyOf(size_t i) {
  std::string k = "key:";
  k += std::to_string(i);
  return k;
}

uint64_t HashOf(const std::string& k) { return threadkv::HashBytes(k.data(), k.size(), kSeed); }

EntryPtr MakeValue(const std::string& key) {
  EntryPtr e = threadkv::MakeEntry(key, 16, threadkv::Kind::kBytes);
  std::memset(e->value_data(), 'v', 16);
  return e;
}

struct Keys {
  std::vector<std::string> keys;
  std::vector<uint64_t> hashes;
  explicit Keys(size_t n, size_t from = 0) {
    keys.reserve(n);
    hashes.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      keys.push_back(KeyOf(from + i));
      hashes.push_back(HashOf(keys.back()));
    }
  }
};

// ---- latency ----

struct Summary {
  double max_us, p999_us, p99_us, p50_us, mean_us, total_ms;
  size_t over_100us, over_1ms;
  size_t worst_at;  // the size of the table when the worst Upsert ran
};

Summary Summarize(const std::vector<uint32_t>& ns) {
  Summary s{};
  std::vector<uint32_t> v = ns;
  auto at = [&](double q) {
    const size_t k = std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())));
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
    return v[k] / 1e3;
  };
  s.p50_us = at(0.5);
  s.p99_us = at(0.99);
  s.p999_us = at(0.999);
  const auto worst = std::max_element(ns.begin(), ns.end());
  s.max_us = *worst / 1e3;
  s.worst_at = static_cast<size_t>(worst - ns.begin());
  double total = 0;
  for (uint32_t x : ns) {
    total += x;
    if (x > 100'000) ++s.over_100us;
    if (x > 1'000'000) ++s.over_1ms;
  }
  s.total_ms = total / 1e6;
  s.mean_us = total / static_cast<double>(ns.size()) / 1e3;
  return s;
}

// `reserved`: the table is reserved for every key first, so no Upsert
// resizes it: the same calls without any rehashing, the machine's noise
// floor for the other rows.
template <class T>
Summary FillTimed(const Keys& k, bool reserved = false) {
  const size_t n = k.keys.size();
  std::vector<EntryPtr> entries;
  entries.reserve(n);
  for (size_t i = 0; i < n; ++i) entries.push_back(MakeValue(k.keys[i]));
  std::vector<uint32_t> ns(n);
  Summary s;
  {
    T t(kSeed);
    if (reserved) t.Reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t0 = NowNs();
      EntryPtr old = t.Upsert(k.hashes[i], std::move(entries[i]));
      const int64_t t1 = NowNs();
      ns[i] = static_cast<uint32_t>(std::min<int64_t>(t1 - t0, UINT32_MAX));
      if (old) std::abort();
    }
    s = Summarize(ns);
    if (g_slowest) {
      // The slowest Upserts and the table size they ran at.
      std::vector<size_t> idx(n);
      for (size_t i = 0; i < n; ++i) idx[i] = i;
      const size_t top = std::min<size_t>(20, n);
      std::partial_sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(top), idx.end(),
                        [&](size_t a, size_t b) { return ns[a] > ns[b]; });
      std::sort(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(top));
      std::printf("  slowest:");
      for (size_t i = 0; i < top; ++i) std::printf(" %zu:%.0fus", idx[i], ns[idx[i]] / 1e3);
      std::printf("\n");
    }
  }  // the table and its entries are freed outside the timing
  return s;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

constexpr const char* kFloorName = "no resize (noise floor)";

void PrintRow(const char* name, const Summary& s) {
  std::printf("| %-26s | %10.1f | %9.2f | %8.2f | %7.3f | %7.3f | %9.0f | %6zu | %5zu | %10zu |\n", name, s.max_us,
              s.p999_us, s.p99_us, s.p50_us, s.mean_us, s.total_ms, s.over_100us, s.over_1ms, s.worst_at);
}

void PrintHeader() {
  std::printf(
      "| table                      | worst (us) | p99.9 (us) | p99 (us) | p50 (us) | mean (us) | fill (ms) | >100us | "
      ">1ms "
      "| worst at size |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
}

int Latency(size_t keys, int trials) {
  const Keys k(keys);
  std::vector<Summary> olds, news, floors;
  for (int t = 0; t < trials; ++t) {
    std::printf("trial %d of %d (%zu keys)\n", t + 1, trials, keys);
    PrintHeader();
    if (t % 2 == 0) {
      olds.push_back(FillTimed<threadkv::baseline::Table>(k));
      news.push_back(FillTimed<threadkv::Table>(k));
      floors.push_back(FillTimed<threadkv::Table>(k, true));
    } else {
      floors.push_back(FillTimed<threadkv::Table>(k, true));
      news.push_back(FillTimed<threadkv::Table>(k));
      olds.push_back(FillTimed<threadkv::baseline::Table>(k));
    }
    PrintRow("stop-the-world (before)", olds.back());
    PrintRow("incremental (now)", news.back());
    PrintRow(kFloorName, floors.back());
    std::fflush(stdout);
  }
  auto agg = [](const std::vector<Summary>& v, bool minimum) {
    Summary m{};
    auto col = [&](auto field) {
      std::vector<double> x;
      for (const Summary& s : v) x.push_back(static_cast<double>(s.*field));
      return minimum ? *std::min_element(x.begin(), x.end()) : Median(x);
    };
    m.max_us = col(&Summary::max_us);
    m.p999_us = col(&Summary::p999_us);
    m.p99_us = col(&Summary::p99_us);
    m.p50_us = col(&Summary::p50_us);
    m.mean_us = col(&Summary::mean_us);
    m.total_ms = col(&Summary::total_ms);
    m.over_100us = static_cast<size_t>(col(&Summary::over_100us));
    m.over_1ms = static_cast<size_t>(col(&Summary::over_1ms));
    m.worst_at = v.front().worst_at;
    return m;
  };
  const char* clock = g_cpu_clock ? "thread CPU time" : "wall-clock time";
  std::printf("\nmedians of %d trials, filling one table to %zu keys, %s (worst at size: first trial)\n", trials, keys,
              clock);
  PrintHeader();
  PrintRow("stop-the-world (before)", agg(olds, false));
  PrintRow("incremental (now)", agg(news, false));
  PrintRow(kFloorName, agg(floors, false));
  std::printf("\nminima of %d trials (each column on its own)\n", trials);
  PrintHeader();
  PrintRow("stop-the-world (before)", agg(olds, true));
  PrintRow("incremental (now)", agg(news, true));
  PrintRow(kFloorName, agg(floors, true));
  const Summary mo = agg(olds, false), mn = agg(news, false);
  std::printf("\nmedians: worst Upsert %.1fx lower; p99.9 %.2fx; whole fill %.2fx the time\n", mo.max_us / mn.max_us,
              mn.p999_us / mo.p999_us, mn.total_ms / mo.total_ms);
  return 0;
}

// ---- steady (callgrind) ----

enum class Op { kFindHit, kFindMiss, kReplace, kChurn };

// The calls measured, behind one interface, so that the loop around them is
// the same machine code for both tables and callgrind's difference is the
// tables' own. Each call is opaque to the loop, as in the store, where
// every table call sits between lock operations the compiler cannot see
// through (an inlined Find in a loop could keep the table's fields in
// registers across lookups, which no real caller gets).
struct TableOps {
  virtual ~TableOps() = default;
  virtual bool Find(uint64_t hash, std::string_view key) const = 0;
  virtual EntryPtr Upsert(uint64_t hash, EntryPtr e) = 0;
  virtual EntryPtr Erase(uint64_t hash, std::string_view key) = 0;
};

template <class T>
struct TableOpsOf final : TableOps {
  T& t;
  explicit TableOpsOf(T& table) : t(table) {}
  __attribute__((noinline)) bool Find(uint64_t hash, std::string_view key) const override {
    return t.Find(hash, key) != nullptr;
  }
  __attribute__((noinline)) EntryPtr Upsert(uint64_t hash, EntryPtr e) override { return t.Upsert(hash, std::move(e)); }
  __attribute__((noinline)) EntryPtr Erase(uint64_t hash, std::string_view key) override { return t.Erase(hash, key); }
};

__attribute__((noinline)) uint64_t MeasuredOps(TableOps& t, Op op, const Keys& present, const Keys& absent,
                                               const std::vector<uint32_t>& order, std::vector<EntryPtr>& fresh,
                                               std::vector<EntryPtr>& out) {
  uint64_t found = 0;
  const size_t ops = order.size();
  switch (op) {
    case Op::kFindHit:
      for (size_t i = 0; i < ops; ++i) {
        const uint32_t j = order[i];
        found += t.Find(present.hashes[j], present.keys[j]);
      }
      break;
    case Op::kFindMiss:
      for (size_t i = 0; i < ops; ++i) found += t.Find(absent.hashes[i], absent.keys[i]);
      break;
    case Op::kReplace:
      for (size_t i = 0; i < ops; ++i) {
        const uint32_t j = order[i];
        out[i] = t.Upsert(present.hashes[j], std::move(fresh[i]));
        found += out[i] != nullptr;
      }
      break;
    case Op::kChurn:  // an erase and an insert of the same key: size stays put
      for (size_t i = 0; i < ops; ++i) {
        const uint32_t j = order[i];
        out[i] = t.Erase(present.hashes[j], present.keys[j]);
        found += t.Upsert(present.hashes[j], std::move(fresh[i])) == nullptr;
      }
      break;
  }
  return found;
}

template <class T>
int Steady(Op op, size_t keys, size_t ops, size_t tag_home) {
  const Keys present(keys);
  const Keys absent(op == Op::kFindMiss ? ops : 0, keys);
  std::mt19937_64 rng(42);
  std::vector<uint32_t> order(ops);
  std::vector<bool> used(keys, false);
  if (ops > keys) {
    std::fprintf(stderr, "--ops must not exceed --keys\n");
    return 2;
  }
  // Distinct keys in random order: with --ops = --keys every key once, so
  // that both tables do the same probes (with linear probing the total
  // probe length does not depend on the order the keys went in, but each
  // key's does).
  for (size_t i = 0; i < ops; ++i) {
    uint32_t j = static_cast<uint32_t>(rng() % keys);
    while (used[j]) j = (j + 1) % static_cast<uint32_t>(keys);
    used[j] = true;
    order[i] = j;
  }
  std::vector<EntryPtr> fresh;
  if (op == Op::kReplace || op == Op::kChurn)
    for (size_t i = 0; i < ops; ++i) fresh.push_back(MakeValue(present.keys[order[i]]));
  std::vector<EntryPtr> out(ops);
  // Reserved first, so that the keys go into one array in the same order
  // in both tables: the same layout, the same probes.
  T t(kSeed, tag_home);
  t.Reserve(keys);
  for (size_t i = 0; i < keys; ++i) t.Upsert(present.hashes[i], MakeValue(present.keys[i]));
  TableOpsOf<T> ops_of(t);
  const uint64_t found = MeasuredOps(ops_of, op, present, absent, order, fresh, out);
  std::printf("ops %zu found %llu capacity %zu size %zu\n", ops, static_cast<unsigned long long>(found), t.capacity(),
              t.size());
  return 0;
}

const char* Arg(int argc, char** argv, const char* name, const char* def) {
  const size_t len = std::strlen(name);
  for (int i = 2; i < argc; ++i)
    if (std::strncmp(argv[i], name, len) == 0 && argv[i][len] == '=') return argv[i] + len + 1;
  return def;
}

int Usage() {
  std::fprintf(stderr,
               "usage: table_growth latency [--keys=2000000] [--trials=5] [--clock=wall|cpu] [--slowest]\n"
               "       table_growth steady --impl=new|old --op=find-hit|find-miss|replace|churn [--keys=150000] "
               "[--ops=150000] [--tag-home=N]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return Usage();
  const std::string mode = argv[1];
  if (mode == "latency") {
    const size_t keys = std::strtoull(Arg(argc, argv, "--keys", "2000000"), nullptr, 10);
    const int trials = std::atoi(Arg(argc, argv, "--trials", "5"));
    const std::string clock = Arg(argc, argv, "--clock", "wall");
    if (keys == 0 || trials <= 0 || (clock != "wall" && clock != "cpu")) return Usage();
    g_cpu_clock = clock == "cpu";
    for (int i = 2; i < argc; ++i)
      if (std::strcmp(argv[i], "--slowest") == 0) g_slowest = true;
    return Latency(keys, trials);
  }
  if (mode == "steady") {
    const std::string impl = Arg(argc, argv, "--impl", "new");
    const std::string op_name = Arg(argc, argv, "--op", "find-hit");
    const size_t keys = std::strtoull(Arg(argc, argv, "--keys", "150000"), nullptr, 10);
    const size_t ops = std::strtoull(Arg(argc, argv, "--ops", "150000"), nullptr, 10);
    const size_t tag_home = std::strtoull(Arg(argc, argv, "--tag-home", "1048576"), nullptr, 10);
    Op op;
    if (op_name == "find-hit")
      op = Op::kFindHit;
    else if (op_name == "find-miss")
      op = Op::kFindMiss;
    else if (op_name == "replace")
      op = Op::kReplace;
    else if (op_name == "churn")
      op = Op::kChurn;
    else
      return Usage();
    if (keys == 0 || ops == 0) return Usage();
    if (impl == "new") return Steady<threadkv::Table>(op, keys, ops, tag_home);
    if (impl == "old") return Steady<threadkv::baseline::Table>(op, keys, ops, tag_home);
    return Usage();
  }
  return Usage();
}
