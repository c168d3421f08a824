// The TTL sweeper: one background thread for the whole process that removes
// expired entries from every store, so that their memory comes back without
// any thread touching the store.
//
// It sleeps on a condition variable (no polling) while no store has an
// entry with a deadline; the first write of such an entry to a store wakes
// it (Notify). While some store has one, it makes a pass every
// kSweepInterval: over the stores in the Registry whose has_ttl() is set,
// each shard in turn, `kSweepBatch` table slots per hold of the shard's
// write lock (so a writer waits at most one short batch). Expired entries
// are invisible to every operation before the sweep reaches them (each
// operation checks the deadline under the lock); the sweep only reclaims
// their memory.
//
// Lifetime: the thread is started on the first Notify() and never joined;
// it is detached, and like the Registry its state is leaked on purpose: the
// process may exit (and run static destructors) while workers still run, so
// nothing the thread touches is ever destroyed. At exit the thread is
// simply discarded by the OS, whether blocked on its condition variable or
// mid-pass (it holds no lock across passes other than one shard's, and
// nothing waits on it).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace threadkv {

inline constexpr std::chrono::milliseconds kSweepInterval{100};
inline constexpr size_t kSweepBatch = 256;

class Sweeper {
 public:
  // Wakes the sweeper (starting its thread the first time). Called after a
  // store's has_ttl() went from false to true, outside every shard lock.
  static void Notify();

  // Entries the sweeper has removed so far, over every store (for tests
  // and debug logging).
  static uint64_t Removed();

 private:
  Sweeper() = default;
  static Sweeper& Instance();
  void Run();
};

}  // namespace threadkv
