#include "counter.h"

#include <cmath>
#include <cstring>

namespace threadkv {

bool ReadNumber(const Entry& e, Number* out) {
  if (e.value_size != kNumberBytes) return false;
  if (e.kind == Kind::kInt64) {
    int64_t v;
    std::memcpy(&v, e.value_data(), sizeof v);
    *out = Number::Int(v);
    return true;
  }
  if (e.kind == Kind::kFloat64) {
    double v;
    std::memcpy(&v, e.value_data(), sizeof v);
    *out = Number::Float(v);
    return true;
  }
  return false;
}

void WriteNumber(Entry& e, const Number& n) {
  e.kind = n.kind;
  e.flags = 0;
  if (n.kind == Kind::kInt64)
    std::memcpy(e.value_data(), &n.i, kNumberBytes);
  else
    std::memcpy(e.value_data(), &n.d, kNumberBytes);
}

Status AddToCounter(const Number* current, double delta, Number* result) {
  if (!std::isfinite(delta)) return Status::kOutOfRange;
  const Number cur = current != nullptr ? *current : Number::Int(0);
  const double cur_value = cur.value();
  const bool cur_integral =
      cur.kind == Kind::kInt64 || (std::isfinite(cur_value) && std::trunc(cur_value) == cur_value);
  const bool delta_integral = std::trunc(delta) == delta;
  if (cur_integral && delta_integral) {
    constexpr double kMax = static_cast<double>(kMaxSafeInteger);
    if (std::fabs(delta) > kMax) return Status::kOutOfRange;
    int64_t a;
    if (cur.kind == Kind::kInt64) {
      a = cur.i;
    } else {
      if (std::fabs(cur_value) > kMax) return Status::kOutOfRange;
      a = static_cast<int64_t>(cur_value);
    }
    if (a > kMaxSafeInteger || a < -kMaxSafeInteger) return Status::kOutOfRange;
    const int64_t sum = a + static_cast<int64_t>(delta);  // |a|, |delta| < 2^53: no overflow
    if (sum > kMaxSafeInteger || sum < -kMaxSafeInteger) return Status::kOutOfRange;
    *result = Number::Int(sum);
    return Status::kOk;
  }
  const double sum = cur_value + delta;
  if (!std::isfinite(sum)) return Status::kOutOfRange;
  *result = Number::Float(sum);
  return Status::kOk;
}

}  // namespace threadkv
