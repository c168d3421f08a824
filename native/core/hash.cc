#include "hash.h"

#include <random>

namespace threadkv {

uint64_t HashSeed() {
  // Function-local static: initialised once, thread-safely, and trivially
  // destructible, so it is safe to read during process exit.
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd();
  }();
  return seed;
}

}  // namespace threadkv
