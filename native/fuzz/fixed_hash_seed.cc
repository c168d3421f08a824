// Replaces native/core/hash.cc in the fuzz and replay builds (see
// CMakeLists.txt here): the core's HashSeed() is random per process, which
// would make a recorded input take a different path through shards and probe
// sequences on every run. Here it is a constant, so every reproducer
// reproduces. Only HashSeed() lives in hash.cc; if the core ever defines
// something else there, the link fails loudly rather than silently.
#include "core/hash.h"
#include "fuzz_util.h"

namespace threadkv {

uint64_t HashSeed() { return fuzz::kFuzzHashSeed; }

}  // namespace threadkv
