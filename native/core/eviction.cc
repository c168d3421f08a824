#include "eviction.h"

#include <thread>

namespace threadkv {

void Budget::LockSlow() const {
  // Held for a few instructions: spin, then yield (the holder may have been
  // preempted on a machine with more threads than cores).
  for (unsigned spins = 0; busy_.exchange(true, std::memory_order_acquire);) {
    while (busy_.load(std::memory_order_relaxed)) {
      if (++spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }
}

}  // namespace threadkv
