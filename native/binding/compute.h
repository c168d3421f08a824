// getOrCompute's native methods (lib/compute.ts drives them) and the
// per-environment record of this thread's calls in progress: the flights it
// leads and the slots it waits on, by token. When the environment goes away
// (the waker's teardown), the flights it leads are lost (their joined
// callers, in other threads, retry: one of them leads) and its slots leave
// their flights.
//
// Methods (token: a waker token of this environment):
//   computeBegin(handle, key, leaseMs, sync) -> [0, value]            hit
//                                            | [1, token, leaseMs]    lead
//                                            | [2, token, leaseLeftMs] join
//                                            | [3]                    recursive (sync only)
//   computeWait(token, sliceMs) -> [0, leaseLeftMs] pending (after at most sliceMs)
//                                | [1, value] | [2, errorBytes] | [3] retry | [4] cancelled
//   computeCancel(token, timedOut) -> true if it stopped waiting (false: the
//                                     outcome is already there, computeWait it)
//   computeComplete(handle, token, key, value, ttlMs) -> stored
//   computeFail(token, errorBytes), computeAbandon(token)
//   computeLeaderState(token) -> LeaderView (0 running, 1 invalidated, 2 lost)
//   computeStats(handle) -> [loads, loadsJoined, loadErrors, loadTimeouts,
//                            leadersLost, flightsInProgress]
#pragma once

#include <napi.h>

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "../core/flights.h"
#include "../core/store.h"

namespace threadkv::binding {

class Addon;

class ComputeEnv {
 public:
  explicit ComputeEnv(Addon* addon) : addon_(addon) {}
  ComputeEnv(const ComputeEnv&) = delete;
  ComputeEnv& operator=(const ComputeEnv&) = delete;

  // Adds the compute* methods to `exports`.
  static void Define(napi_env env, napi_value exports, Addon* addon);

  // One call in progress: a flight this thread leads, or a slot it waits on.
  struct Call {
    std::shared_ptr<Store> store;
    std::shared_ptr<Flight> flight;  // leading
    std::shared_ptr<WaitSlot> slot;  // waiting
    // Waiting: the lease deadline of the flight waited on, as last seen; the
    // store is asked again (under the shard lock) only once it has passed.
    int64_t lease_deadline = 0;
  };

  Call* Find(uint64_t token);
  void Add(uint64_t token, Call call);
  void Remove(uint64_t token) { calls_.erase(token); }
  // Registers Teardown with the waker (once).
  void HookTeardown();

 private:
  void Teardown();

  Addon* addon_;
  std::unordered_map<uint64_t, Call> calls_;
  bool hooked_ = false;
};

}  // namespace threadkv::binding
