// The reader-writer lock of a shard: std::shared_mutex's interface, with a
// writer-preferring policy, so that a writer waiting on a shard is not
// overtaken forever by new readers (readers still share the lock, and never
// block each other, while no writer waits).
//
// On glibc std::shared_mutex is a pthread_rwlock_t with the default policy,
// PTHREAD_RWLOCK_PREFER_READER_NP: a reader gets in whenever another reader
// holds the lock, so a steady stream of readers of one shard (a hot key read
// by a pool of threads) can hold a writer off for as long as it lasts. This
// is the same pthread_rwlock_t (same size, same uncontended cost: one atomic
// read-modify-write per acquisition) created with
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: once a writer waits, new
// readers queue behind it. "Nonrecursive": a thread must not take the shared
// lock of a shard it already holds shared (it would wait behind a waiting
// writer that waits for it); the store never does, and callbacks run under
// a shard lock must not call back into the store (store.h).
//
// Elsewhere std::shared_mutex is used as it is: the pthread rwlocks of macOS
// and the BSDs already prefer writers, and Windows' SRW locks do not let
// readers overtake a waiting writer.
//
// Measured against std::mutex and std::shared_mutex in docs/design.md
// (bench/native/kvbench: uniform, Zipfian and one hot key).
#pragma once

#if defined(__GLIBC__)
#include <pthread.h>

#include <cstdio>
#include <cstdlib>
#else
#include <shared_mutex>
#endif

namespace threadkv {

#if defined(__GLIBC__)

class WriterPreferringSharedMutex {
 public:
  WriterPreferringSharedMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    const int rc = pthread_rwlock_init(&rw_, &attr);
    pthread_rwlockattr_destroy(&attr);
    if (rc != 0) Fail("pthread_rwlock_init", rc);
  }
  ~WriterPreferringSharedMutex() { pthread_rwlock_destroy(&rw_); }
  WriterPreferringSharedMutex(const WriterPreferringSharedMutex&) = delete;
  WriterPreferringSharedMutex& operator=(const WriterPreferringSharedMutex&) = delete;

  void lock() {
    if (const int rc = pthread_rwlock_wrlock(&rw_); rc != 0) Fail("pthread_rwlock_wrlock", rc);
  }
  bool try_lock() { return pthread_rwlock_trywrlock(&rw_) == 0; }
  void unlock() { pthread_rwlock_unlock(&rw_); }

  void lock_shared() {
    if (const int rc = pthread_rwlock_rdlock(&rw_); rc != 0) Fail("pthread_rwlock_rdlock", rc);
  }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&rw_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&rw_); }

 private:
  // A failure here (EDEADLK, EAGAIN: more than 2^30 readers) is a bug with
  // no way back: std::shared_mutex would throw std::system_error, which
  // the store's callers cannot handle under a lock either.
  [[noreturn]] static void Fail(const char* what, int rc) {
    std::fprintf(stderr, "threadkv: %s failed (%d); aborting\n", what, rc);
    std::abort();
  }

  pthread_rwlock_t rw_;
};

#else

using WriterPreferringSharedMutex = std::shared_mutex;

#endif

}  // namespace threadkv
