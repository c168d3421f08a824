#include "expiry.h"

#include <limits>

namespace threadkv {

int64_t DeadlineAfter(int64_t now, double ttl_ms) {
  const double ns = ttl_ms * 1e6;
  if (!(ns + static_cast<double>(now) < 9.0e18)) return std::numeric_limits<int64_t>::max();
  const int64_t d = now + static_cast<int64_t>(ns);
  return d > 0 ? d : 1;
}

}  // namespace threadkv
