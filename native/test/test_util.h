// Helpers shared by the native core's tests.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/entry.h"
#include "core/store.h"

namespace threadkv::testing {

// Which sanitizer this binary was built with (GCC defines __SANITIZE_*__,
// Clang answers __has_feature).
#if defined(__SANITIZE_THREAD__)
inline constexpr bool kTsan = true;
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
inline constexpr bool kTsan = true;
#else
inline constexpr bool kTsan = false;
#endif
#else
inline constexpr bool kTsan = false;
#endif

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAsan = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAsan = true;
#else
inline constexpr bool kAsan = false;
#endif
#else
inline constexpr bool kAsan = false;
#endif

// Multiplier for stress iteration counts: THREADKV_STRESS_SCALE (a positive
// number, default 1) times a built-in reduction under the sanitizers, which
// slow the store down 5-15x (TSAN most). Never returns less than 1/100.
inline double StressScale() {
  double scale = 1.0;
  if (const char* env = std::getenv("THREADKV_STRESS_SCALE")) {
    const double v = std::strtod(env, nullptr);
    if (v > 0) scale = v;
  }
  if (kTsan)
    scale *= 0.12;
  else if (kAsan)
    scale *= 0.4;
  return scale < 0.01 ? 0.01 : scale;
}

// `base * StressScale()`, at least `min`.
inline size_t Scaled(size_t base, size_t min = 1) {
  const double n = static_cast<double>(base) * StressScale();
  return n < static_cast<double>(min) ? min : static_cast<size_t>(n);
}

// prefix + std::to_string(n). (Not `"literal" + std::to_string(n)`: GCC 12
// at -O3 warns about that with a false -Wrestrict, which -Werror turns into an
// error in Release builds.)
template <class N>
std::string Cat(std::string_view prefix, N n) {
  std::string out(prefix);
  out += std::to_string(n);
  return out;
}

inline EntryPtr MakeValueEntry(std::string_view key, std::string_view value, Kind kind = Kind::kBytes,
                               uint8_t flags = 0) {
  EntryPtr e = MakeEntry(key, value.size(), kind, flags);
  if (!value.empty()) std::memcpy(e->value_data(), value.data(), value.size());
  return e;
}

// The same, laid out for `store` (Store::NewEntry): what a store must be given.
inline EntryPtr MakeValueEntry(const Store& store, std::string_view key, std::string_view value,
                               Kind kind = Kind::kBytes, uint8_t flags = 0) {
  EntryPtr e = store.NewEntry(key, value.size(), kind, flags);
  if (!value.empty()) std::memcpy(e->value_data(), value.data(), value.size());
  return e;
}

inline std::string ValueOf(const Entry& e) {
  return std::string(reinterpret_cast<const char*>(e.value_data()), e.value_size);
}

inline uint64_t Footprint(std::string_view key, std::string_view value) {
  return sizeof(Entry) + key.size() + value.size();
}

// Puts key=value into `store` with the store's own hash.
inline Status PutString(Store& store, std::string_view key, std::string_view value, uint64_t* version = nullptr) {
  return store.Put(store.Hash(key), MakeValueEntry(store, key, value), version);
}

// Reads key's value (and version) from `store`.
inline Status GetString(const Store& store, std::string_view key, std::string* value, uint64_t* version = nullptr) {
  return store.Read(key, store.Hash(key), [&](const Entry& e) {
    if (value != nullptr) *value = ValueOf(e);
    if (version != nullptr) *version = e.version;
  });
}

inline Status EraseString(Store& store, std::string_view key) { return store.Erase(key, store.Hash(key)); }

inline StoreSizes SizesOf(const Store& store) {
  StoreSizes s;
  s.entries = s.bytes = s.slot_bytes = ~uint64_t{0};
  (void)store.Sizes(&s);
  return s;
}

inline Options SmallOptions(uint32_t shards = 8) {
  Options o;
  o.shards = shards;
  return o;
}

// A clock that moves only when told (StoreHost::clock): TTL tests without
// sleeps. Starts at an arbitrary positive time.
class ManualClock final : public Clock {
 public:
  int64_t NowNs() const override { return now_.load(std::memory_order_relaxed); }
  void Advance(int64_t ns) { now_.fetch_add(ns, std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> now_{1'000'000'000};
};

// Collects invariant violations seen on worker threads: gtest assertions are
// made on the main thread only, after the workers have joined.
class Failures {
 public:
  void Add(std::string what) {
    if (count_.fetch_add(1, std::memory_order_relaxed) < 10) {
      std::lock_guard lock(mu_);
      first_.push_back(std::move(what));
    }
  }
  size_t count() const { return count_.load(); }
  std::string Summary() const {
    std::lock_guard lock(mu_);
    std::string s = std::to_string(count_.load()) + " violation(s); first ones:";
    for (const auto& f : first_) s += "\n  " + f;
    return s;
  }

 private:
  std::atomic<size_t> count_{0};
  mutable std::mutex mu_;
  std::vector<std::string> first_;
};

}  // namespace threadkv::testing
