// A wake-up point owned by one thread (one Node environment) that any thread
// may notify: the cross-thread half of waking JavaScript in another thread.
// The binding adapts it to one napi_threadsafe_function per environment
// (native/binding/waker.h); this class holds everything that is shared
// between threads, so that it can be tested (and ThreadSanitizer-checked)
// without Node.
//
// Protocol:
//  - Any thread calls Notify(token): the token is appended to the pending
//    list, and if the owner has not been signalled since its last Drain(),
//    the signal callback is called (once) to make the owner drain. So at most
//    one signal is outstanding at a time, however many threads notify: the
//    owner's wake-ups are coalesced, one per Drain().
//  - The owner calls Drain(): takes every pending token (in notification
//    order; a token notified k times appears k times) and re-arms the signal.
//  - The owner calls Shutdown() when its environment goes away: from then on
//    Notify() drops its token and returns false, and the signal callback is
//    never called again. Shutdown() waits for a signal callback that is
//    running in another thread, so when it returns no thread is inside the
//    callback or will enter it: the owner may then destroy what the callback
//    touches (the thread-safe function of an environment that is tearing
//    down, nodejs/node#55706).
//
// The signal callback runs in the notifying thread with the notifier's mutex
// held: it must only queue the wake-up (napi_call_threadsafe_function with
// napi_tsfn_nonblocking), never block, and never call back into this
// notifier. Notifiers are shared (std::shared_ptr) between the owner and
// everything that may notify it, so a notifier outlives its owner's
// environment: notifying a dead owner is safe and does nothing.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <vector>

namespace threadkv {

class Notifier {
 public:
  // `signal` returns false if the wake-up could not be queued (the owner is
  // closing); the notifier then re-arms, so a later Notify() tries again.
  using Signal = std::function<bool()>;

  explicit Notifier(Signal signal);
  Notifier(const Notifier&) = delete;
  Notifier& operator=(const Notifier&) = delete;

  // Any thread. Queues `token` for the owner and signals it unless a signal
  // is already outstanding. Returns false (and drops the token) once the
  // notifier is shut down.
  bool Notify(uint64_t token);

  // Owner thread. Moves the pending tokens into *out (appended; *out is not
  // cleared) and re-arms the signal: the next Notify() signals again.
  // Returns how many tokens it moved.
  size_t Drain(std::vector<uint64_t>* out);

  // Owner thread, once, when the owner goes away: see the header comment.
  // Pending tokens are dropped.
  void Shutdown();

  // False once Shutdown() has run. A snapshot: a notifier may be shut down
  // right after this returns true.
  bool alive() const { return alive_.load(std::memory_order_acquire); }

  // Signals sent so far (for tests and debugging).
  uint64_t signals() const { return signals_.load(std::memory_order_relaxed); }

  // A process-unique id (never reused), for telling owners apart.
  uint64_t id() const { return id_; }

 private:
  const Signal signal_;
  const uint64_t id_;
  mutable std::mutex mu_;
  std::vector<uint64_t> pending_;  // under mu_
  bool signalled_ = false;         // under mu_: a signal is outstanding
  std::atomic<bool> alive_{true};  // written under mu_
  std::atomic<uint64_t> signals_{0};
};

}  // namespace threadkv
