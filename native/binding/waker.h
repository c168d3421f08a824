// The per-environment wake-up part: lets any thread wake JavaScript in this
// environment (a thread's getOrCompute waiting on another thread's factory;
// a watcher's change events). One per environment, made on first use
// (wakerStart() from lib/waker.ts), so that threads that never wait pay
// nothing.
//
// It adapts the core's Notifier (native/core/notifier.h: the mutex, the
// alive flag, the coalesced "signalled" bit and the pending tokens, all
// TSAN-tested without Node) to one napi_threadsafe_function:
//  - Notifying threads call notifier()->Notify(token). The first token after
//    a drain queues one call of the thread-safe function; later ones only
//    add their token. So JavaScript is called at most once per loop turn,
//    with every token notified since the last call.
//  - call_js drains the tokens and calls the JS dispatcher with them (a
//    Float64Array). It tolerates a null env (items left in the queue at
//    teardown) and does nothing then.
//  - The thread-safe function is unref'd at creation: an idle waker never
//    keeps a thread alive. Ref(true)/Ref(false) (owner thread only, as Node
//    requires) switch that; lib/waker.ts counts its users and calls them on
//    0 -> 1 and 1 -> 0.
//  - Teardown: an env cleanup hook registered right after the thread-safe
//    function was created, so that it runs before Node's own cleanup of that
//    function (cleanup hooks run last-in, first-out). It shuts the notifier
//    down (so that no thread can call the function any more: Notify() and
//    the call are under the notifier's mutex), abort-releases the function,
//    then runs the OnTeardown() callbacks (getOrCompute abandons the flights
//    this thread leads). Nothing ever calls the thread-safe function of an
//    environment that is shutting down (Node 18/20 abort when that happens:
//    nodejs/node#55706). Stop() does the same earlier, from the thread's
//    'exit' event: process.exit() on the main thread does not run its
//    cleanup hooks, while worker threads still run theirs.
#pragma once

#include <node_api.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "../core/notifier.h"

namespace threadkv::binding {

class Addon;

class Waker {
 public:
  // Creates the thread-safe function (calling `dispatch` with the tokens)
  // and registers the cleanup hook. Throws Napi::Error on failure.
  Waker(napi_env env, napi_value dispatch);
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  // What other threads notify. Shared: it outlives this environment.
  const std::shared_ptr<Notifier>& notifier() const { return notifier_; }

  // A token unique within this environment (never 0).
  uint64_t NewToken() { return ++last_token_; }

  // Owner thread: whether the waker keeps the event loop alive.
  void Ref(bool on);

  // Owner thread: `fn` runs once when the environment goes away (or at
  // Stop()), after the notifier is shut down.
  void OnTeardown(std::function<void()> fn) { teardown_.push_back(std::move(fn)); }

  // Owner thread: shuts down now (idempotent); see the header comment.
  void Stop();
  bool stopped() const { return stopped_; }

  // Adds wakerStart(dispatch), wakerRef(on), wakerStop() to `exports`.
  static void Define(napi_env env, napi_value exports, Addon* addon);

 private:
  static void CallJs(napi_env env, napi_value js_cb, void* context, void* data);
  void Dispatch(napi_env env, napi_value js_cb);
  static void Cleanup(void* arg);

  napi_env env_;
  napi_threadsafe_function tsfn_ = nullptr;
  std::shared_ptr<Notifier> notifier_;
  uint64_t last_token_ = 0;
  bool refed_ = false;
  bool stopped_ = false;
  std::vector<std::function<void()>> teardown_;
  std::vector<uint64_t> drained_;  // reused by CallJs
};

}  // namespace threadkv::binding
