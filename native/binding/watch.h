// store.watch's native methods (lib/watch.ts drives them) and this
// environment's subscriptions, by waker token. A subscription's owner is the
// environment that opened it: its events wake this environment's waker
// (waker.h) with the subscription's token, and when the environment goes
// away (the waker's teardown: the thread exits or is terminated) every
// subscription it opened is removed from its store. Writers in other
// threads never call into this environment: they queue events in the core
// and notify the waker's Notifier, which drops the signal once the
// environment is shutting down.
//
// Methods:
//   watchOpen(handle, scope, text, events, maxQueue) -> token
//       scope 0: the whole store; 1: the key `text`; 2: keys starting with
//       `text`. events: WatchBit mask. maxQueue: 1 to 2^32 - 1.
//   watchDrain(token) -> undefined (nothing queued)
//                      | [keys, nums, lost, lostSeq, closed]
//       keys: every event's key, concatenated in one string; nums: a
//       Float64Array of 4 per event (type, seq, version, end of its key in
//       `keys`); lost / lostSeq: the overflow to report after them (lost 0:
//       none); closed: the store was destroyed (nothing more will come).
//   watchClose(token) -> whether it was open
//   watchCount(handle) -> the store's subscriptions, over every thread
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "../core/store.h"
#include "../core/watch.h"

namespace threadkv::binding {

class Addon;

class WatchEnv {
 public:
  explicit WatchEnv(Addon* addon) : addon_(addon) {}
  WatchEnv(const WatchEnv&) = delete;
  WatchEnv& operator=(const WatchEnv&) = delete;

  // Adds the watch* methods to `exports`.
  static void Define(napi_env env, napi_value exports, Addon* addon);

  struct Open {
    std::shared_ptr<Store> store;
    std::shared_ptr<Subscription> sub;
  };

  Open* Find(uint64_t token);
  void Add(uint64_t token, Open open) { open_.emplace(token, std::move(open)); }
  // Removes the subscription from its store and from this environment.
  bool Close(uint64_t token);
  // Registers Teardown with the waker (once).
  void HookTeardown();
  // Reused by every drain of this environment.
  WatchBatch& batch() { return batch_; }
  std::string& scratch() { return scratch_; }

 private:
  void Teardown();

  Addon* addon_;
  std::unordered_map<uint64_t, Open> open_;
  WatchBatch batch_;
  std::string scratch_;  // a drain's keys, end to end
  bool hooked_ = false;
};

}  // namespace threadkv::binding
