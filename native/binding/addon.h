// Per-environment state of the addon (one instance per thread that loads
// it): the JS error factory, the value path (values.h: the reusable scratch
// buffer that values are copied into on their way out, the result pools),
// and the out-cells (a Float64Array) that versions are returned through. Nothing here is shared between threads;
// the only cross-thread state is the core's Registry.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "../core/store.h"
#include "compute.h"
#include "values.h"
#include "waker.h"
#include "watch.h"

namespace threadkv::binding {

class Addon;

// What a JS handle (an External) points at, deleted by the External's
// finalizer. close() drops the reference; the store itself lives on in the
// Registry (until Store.destroy), so a call that uses `*store` must not let
// JavaScript run in between: JavaScript can close() the handle and destroy
// the store, and the Store is then freed. See "User code" in addon.cc. The functions made by bind() point at it too,
// without a reference of their own: lib/store.ts keeps them only in private fields of the Store object that also holds
// the External, so they become unreachable together and no call can reach a deleted handle.
struct StoreHandle {
  std::shared_ptr<Store> store;
  std::string name;
  Addon* addon;
};

// Cells of the out-array registered by setup().
inline constexpr size_t kOutCells = 2;

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

  Napi::Function error_factory() const { return error_factory_.IsEmpty() ? Napi::Function() : error_factory_.Value(); }

  // This environment's wake-up part (waker.h), made by wakerStart() on
  // first use; null until then. Shared by getOrCompute and watch.
  Waker* waker() const { return waker_.get(); }
  void set_waker(std::unique_ptr<Waker> w) { waker_ = std::move(w); }
  // getOrCompute's calls in progress in this environment (compute.h).
  ComputeEnv& compute() { return compute_; }
  // The value path (values.h), for the methods defined outside this class.
  ValuePath& values() { return values_; }
  // store.watch's subscriptions opened in this environment (watch.h).
  WatchEnv& watch() { return watch_; }

  // The store behind a JS handle argument, as a reference of the call's
  // own: it stays valid whatever JavaScript the call runs (everything but
  // the hot path). Throws the "closed" / "destroyed" error.
  static std::shared_ptr<Store> Share(Napi::Env env, napi_value handle);

 private:
  // Every method of DefineAddon's list goes through this (it hides
  // InstanceWrap's): it registers Guard with the real method as its data,
  // so that no exception but a Napi::Error ever leaves a method (node-addon-api
  // lets any other escape the callback, and the process then aborts in
  // std::terminate). Methods added to the list later are guarded too.
  Napi::ClassPropertyDescriptor<Addon> InstanceMethod(const char* name, InstanceMethodCallback method);
  Napi::Value Guard(const Napi::CallbackInfo& info);
  std::deque<InstanceMethodCallback> methods_;  // Guard's data (a deque: stable addresses)

  Napi::Value Setup(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Memory(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Ttl(const Napi::CallbackInfo& info);
  Napi::Value Expire(const Napi::CallbackInfo& info);
  Napi::Value Names(const Napi::CallbackInfo& info);
  Napi::Value Bind(const Napi::CallbackInfo& info);
  // The per-key hot path (get, set, has, delete, getEntry) is made of plain
  // napi_callbacks, one function per store handle (bind()), rather than
  // node-addon-api methods taking the handle: one napi_get_cb_info for
  // exactly the arguments used, no CallbackInfo object, no External to
  // unwrap (the handle is the callback's data). callgrind: ~150 fewer
  // instructions per call (docs/design.md).
  template <size_t N, napi_value (Addon::*M)(napi_env, StoreHandle&, napi_value*)>
  static napi_value Fast(napi_env env, napi_callback_info info);
  napi_value Get(napi_env env, StoreHandle& h, napi_value* args);
  napi_value Set(napi_env env, StoreHandle& h, napi_value* args);
  napi_value Has(napi_env env, StoreHandle& h, napi_value* args);
  napi_value Delete(napi_env env, StoreHandle& h, napi_value* args);
  napi_value GetEntry(napi_env env, StoreHandle& h, napi_value* args);
  Napi::Value SetIfAbsent(const Napi::CallbackInfo& info);
  Napi::Value GetOrSet(const Napi::CallbackInfo& info);
  Napi::Value Swap(const Napi::CallbackInfo& info);
  Napi::Value Take(const Napi::CallbackInfo& info);
  Napi::Value CompareAndSet(const Napi::CallbackInfo& info);
  Napi::Value CompareAndDelete(const Napi::CallbackInfo& info);
  Napi::Value Increment(const Napi::CallbackInfo& info);
  Napi::Value GetMany(const Napi::CallbackInfo& info);
  Napi::Value SetMany(const Napi::CallbackInfo& info);
  Napi::Value DeleteMany(const Napi::CallbackInfo& info);
  Napi::Value Scan(const Napi::CallbackInfo& info);
  Napi::Value CheckKey(const Napi::CallbackInfo& info);
#ifdef THREADKV_TSAN_SELFTEST
  Napi::Value RacyIncrement(const Napi::CallbackInfo& info);
#endif
#ifdef THREADKV_ASAN_SELFTEST
  Napi::Value UseAfterFree(const Napi::CallbackInfo& info);
#endif

  // The handle behind a JS handle argument, or throws a TypeError.
  static StoreHandle& Handle(Napi::Env env, napi_value handle);
  // The handle's store, or throws the "closed" / "destroyed" error. A
  // reference the handle owns: only for calls that run no JavaScript until
  // they return (the per-key hot path; see "User code" in addon.cc).
  static Store& Resolve(Napi::Env env, const StoreHandle& h);
  // The elements of a JS array argument, read before the store is resolved
  // (reading one may run a getter); refuses a Proxy or a non-array with a
  // TypeError (ERR_THREADKV_INVALID_ARGUMENT) naming `what`.
  static std::vector<napi_value> Elements(Napi::Env env, const StoreHandle& h, napi_value array, const char* what);

  // The value path (values.h): scratch buffer, result pools, the cells
  // that carry value formats, shape ids. CopyOut copies a value out of an
  // entry under its lock (plain memory copies only); ValueToJs makes the JS
  // value after the lock (a kBytes value: see ValuePath::ToJs); RemovedToJs
  // makes the JS value of an entry just removed from the store (take, swap),
  // handing large bytes over rather than copying them.
  using Copied = ValuePath::Copied;
  void CopyOut(const Entry& e, Copied* out) { values_.CopyOut(e, out); }
  napi_value ValueToJs(Napi::Env env, Copied& c) { return values_.ToJs(env, c); }
  napi_value ValueToJs(Napi::Env env, const Entry& e) { return values_.EntryToJs(env, e); }
  napi_value RemovedToJs(napi_env env, EntryPtr e) { return values_.RemovedToJs(env, std::move(e)); }
  // The format of the bytes value the current call was given (values.h).
  int32_t InTag() { return values_.TakeInTag(); }
  size_t InLength() { return values_.TakeInLength(); }
  Napi::Value ValueSetup(const Napi::CallbackInfo& info);
  Napi::Value ValueSlabStats(const Napi::CallbackInfo& info);
  Napi::Value ValueTrimSlabs(const Napi::CallbackInfo& info);

  Napi::FunctionReference error_factory_;
  ValuePath values_;
  // Second results (a version, a flag) go here rather than into a result
  // array: one allocation less per call. One Float64Array per environment,
  // created here and handed to JS by setup(); written only by this
  // environment's thread, and only after every lock is released.
  Napi::Reference<Napi::Float64Array> out_;
  double* out_cells_ = nullptr;
  void SetOut(size_t i, double v) { out_cells_[i] = v; }

  // Declared in this order so that the waker goes first: its teardown (run
  // by its env cleanup hook, before this object is deleted) uses compute_
  // and watch_.
  ComputeEnv compute_{this};
  WatchEnv watch_{this};
  std::unique_ptr<Waker> waker_;
};

// The factory registered by lib/native.ts for this environment (empty if none).
Napi::Function ErrorFactory(Napi::Env env);

// Throws ERR_THREADKV_OUT_OF_MEMORY for a call that ran out of memory, naming
// the store when the call's first argument is a handle.
void ThrowOutOfMemoryInCall(const Napi::CallbackInfo& info) noexcept;

}  // namespace threadkv::binding
