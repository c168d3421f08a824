// Numbers as counters see them (Store::Increment): reading and writing the
// number an entry holds, and the arithmetic of an increment. Values only:
// no shard, no lock.
#pragma once

#include <cstddef>
#include <cstdint>

#include "entry.h"
#include "status.h"

namespace threadkv {

// Counters hold integers within +-kMaxSafeInteger exactly (JS's
// Number.MAX_SAFE_INTEGER, 2^53 - 1).
inline constexpr int64_t kMaxSafeInteger = (int64_t{1} << 53) - 1;

// Bytes of a number's value (either kind).
inline constexpr size_t kNumberBytes = 8;

// A number held by an entry: kind kInt64 (in `i`) or kFloat64 (in `d`).
struct Number {
  Kind kind = Kind::kInt64;
  int64_t i = 0;
  double d = 0;

  static Number Int(int64_t v) { return {Kind::kInt64, v, 0}; }
  static Number Float(double v) { return {Kind::kFloat64, 0, v}; }
  double value() const { return kind == Kind::kInt64 ? static_cast<double>(i) : d; }
};

// Reads the number `e` holds (a kInt64 or kFloat64 value). Returns false for
// any other kind of value: a counter is a number stored as a number (every
// codec stores a JS number natively).
bool ReadNumber(const Entry& e, Number* out);

// True if `e` can take a number in place (same size, a number kind).
inline bool HoldsNumberInPlace(const Entry& e) {
  return e.value_size == kNumberBytes && (e.kind == Kind::kInt64 || e.kind == Kind::kFloat64);
}

// Writes `n` as e's value and kind. e.value_size must be kNumberBytes.
void WriteNumber(Entry& e, const Number& n);

// The arithmetic of Store::Increment: `current` (null when the key is
// absent, which counts as 0) plus `delta`, into `result`.
//  - Integer counter: when `delta` and the current value are both integers
//    (a kInt64, or a kFloat64 with no fraction), the sum is exact in int64
//    and stored as kInt64. Both operands and the result must be within
//    +-kMaxSafeInteger: kOutOfRange otherwise.
//  - Fractional counter: otherwise the sum is a double, stored as kFloat64;
//    it must be finite: kOutOfRange otherwise (so is a NaN or infinite
//    current value or delta).
Status AddToCounter(const Number* current, double delta, Number* result);

}  // namespace threadkv
