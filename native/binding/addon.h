// Per-environment state of the addon (one instance per thread that loads
// it): the JS error factory, the reusable scratch buffer that small values
// are copied into on their way out, and the out-cells (a Float64Array) that
// versions are returned through. Nothing here is shared between threads;
// the only cross-thread state is the core's Registry.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../core/store.h"
#include "compute.h"
#include "waker.h"
#include "watch.h"

namespace threadkv::binding {

class Addon;

// What a JS handle (an External) points at, deleted by the External's
// finalizer. close() drops the reference; the store itself lives on in the
// Registry. The functions made by bind() point at it too, without a
// reference of their own: lib/store.ts keeps them only in private fields of
// the Store object that also holds the External, so they become unreachable
// together and no call can reach a deleted handle.
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
  // store.watch's subscriptions opened in this environment (watch.h).
  WatchEnv& watch() { return watch_; }

 private:
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
#ifdef THREADKV_TSAN_SELFTEST
  Napi::Value RacyIncrement(const Napi::CallbackInfo& info);
#endif

  // The handle's store, or throws the "closed" error.
  Store& Resolve(Napi::Env env, napi_value handle);
  static Store& Resolve(Napi::Env env, const StoreHandle& h);
  // Makes sure the scratch buffer holds at least `size` bytes.
  void GrowScratch(Napi::Env env, size_t size);

  // A value copied out of an entry under its lock (CopyOut: plain memory
  // copies only), to be made a JS value after the lock (ValueToJs).
  struct Copied {
    Kind kind = Kind::kUndefined;
    uint8_t flags = 0;
    size_t size = 0;
    uint64_t version = 0;
    const uint8_t* bytes = nullptr;  // the scratch buffer, or big.data()
    std::string big;                 // values larger than the scratch buffer
  };
  void CopyOut(const Entry& e, Copied* out) const;
  // The JS value of stored bytes. A kBytes value becomes a Uint8Array view
  // of the scratch buffer (valid until the next call; lib/codec.ts decodes
  // or copies it at once), or a Buffer of its own when over kScratchMax.
  napi_value ValueToJs(Napi::Env env, Kind kind, uint8_t flags, const uint8_t* bytes,
                       size_t size);
  napi_value ValueToJs(Napi::Env env, const Copied& c) {
    return ValueToJs(env, c.kind, c.flags, c.bytes, c.size);
  }
  napi_value ValueToJs(Napi::Env env, const Entry& e) {
    return ValueToJs(env, e.kind, e.flags, e.value_data(), e.value_size);
  }

  Napi::FunctionReference error_factory_;
  Napi::Reference<Napi::ArrayBuffer> scratch_;
  uint8_t* scratch_data_ = nullptr;
  size_t scratch_size_ = 0;
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

}  // namespace threadkv::binding
