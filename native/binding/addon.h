// Per-environment state of the addon (one instance per thread that loads
// it): the JS error factory and the reusable scratch buffer that small values
// are copied into on their way out. Nothing here is shared between threads;
// the only cross-thread state is the core's Registry.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "../core/store.h"

namespace threadkv::binding {

// What a JS handle (an External) points at. close() drops the reference;
// the store itself lives on in the Registry.
struct StoreHandle {
  std::shared_ptr<Store> store;
  std::string name;
};

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports);

  Napi::Function error_factory() const { return error_factory_.IsEmpty() ? Napi::Function() : error_factory_.Value(); }

 private:
  Napi::Value Setup(const Napi::CallbackInfo& info);
  Napi::Value Open(const Napi::CallbackInfo& info);
  Napi::Value Destroy(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value Set(const Napi::CallbackInfo& info);
  Napi::Value Has(const Napi::CallbackInfo& info);
  Napi::Value Delete(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  Napi::Value Size(const Napi::CallbackInfo& info);
  Napi::Value Memory(const Napi::CallbackInfo& info);
  Napi::Value Names(const Napi::CallbackInfo& info);
#ifdef THREADKV_TSAN_SELFTEST
  Napi::Value RacyIncrement(const Napi::CallbackInfo& info);
#endif

  // The handle's store, or throws the "closed" error.
  Store& Resolve(Napi::Env env, napi_value handle);
  // Makes sure the scratch buffer holds at least `size` bytes.
  void GrowScratch(Napi::Env env, size_t size);

  Napi::FunctionReference error_factory_;
  Napi::Reference<Napi::ArrayBuffer> scratch_;
  uint8_t* scratch_data_ = nullptr;
  size_t scratch_size_ = 0;
};

// The factory registered by lib/native.ts for this environment (empty if none).
Napi::Function ErrorFactory(Napi::Env env);

}  // namespace threadkv::binding
