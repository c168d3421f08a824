#include "watch.h"

#include <cstring>
#include <string>
#include <utility>

#include "../core/wtf8.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "guard.h"
#include "waker.h"

namespace threadkv::binding {

WatchEnv::Open* WatchEnv::Find(uint64_t token) {
  auto it = open_.find(token);
  return it == open_.end() ? nullptr : &it->second;
}

bool WatchEnv::Close(uint64_t token) {
  auto it = open_.find(token);
  if (it == open_.end()) return false;
  Open open = std::move(it->second);
  open_.erase(it);
  open.store->Unwatch(open.sub.get());
  return true;
}

void WatchEnv::HookTeardown() {
  if (hooked_) return;
  Waker* w = addon_->waker();
  if (w == nullptr) return;
  w->OnTeardown([this] { Teardown(); });
  hooked_ = true;
}

void WatchEnv::Teardown() {
  // The thread is going away (its notifier is already shut down, so no
  // writer signals it any more): its subscriptions leave their stores.
  std::unordered_map<uint64_t, Open> open = std::move(open_);
  open_.clear();
  for (auto& [token, o] : open) o.store->Unwatch(o.sub.get());
}

namespace {

Addon& AddonOf(const Napi::CallbackInfo& info) { return *static_cast<Addon*>(info.Data()); }

uint64_t TokenArg(const Napi::Value& v) { return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue()); }

// watchOpen(handle, scope, text, events, maxQueue)
Napi::Value WatchOpen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon& addon = AddonOf(info);
  std::shared_ptr<Store> store = Addon::Share(env, info[0]);
  WatchFilter filter;
  const uint32_t scope = info[1].As<Napi::Number>().Uint32Value();
  filter.scope = scope == 1   ? WatchFilter::Scope::kKey
                 : scope == 2 ? WatchFilter::Scope::kPrefix
                              : WatchFilter::Scope::kAll;
  if (filter.scope != WatchFilter::Scope::kAll) filter.bytes = TextArg(env, info[2]);  // WTF-8, as keys are stored
  filter.events = static_cast<uint8_t>(info[3].As<Napi::Number>().Uint32Value() & kWatchAllEvents);
  const double max_queue = info[4].As<Napi::Number>().DoubleValue();  // validated in lib/watch.ts
  Waker* waker = addon.waker();
  if (waker == nullptr) throw Napi::Error::New(env, "threadkv: internal error: watch before wakerStart()");
  const uint64_t token = waker->NewToken();
  auto sub =
      std::make_shared<Subscription>(std::move(filter), static_cast<size_t>(max_queue), waker->notifier(), token);
  if (store->Watch(sub) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store->name()});
  WatchEnv& watch = addon.watch();
  watch.HookTeardown();
  try {
    watch.Add(token, {store, sub});
  } catch (...) {
    store->Unwatch(sub.get());
    throw;
  }
  return Napi::Number::New(env, static_cast<double>(token));
}

// Every key of `batch`, in one JS string, with each key's end (in UTF-16
// units) written to ends[i * stride]. `scratch` holds the keys' bytes end to
// end (reused between drains).
napi_value KeysToJs(napi_env env, const WatchBatch& batch, double* ends, size_t stride, std::string* scratch) {
  napi_value out = nullptr;
  scratch->clear();
  size_t i = 0;
  batch.ForEach([&](const WatchRecord& r) {
    scratch->append(r.key());
    ends[i++ * stride] = static_cast<double>(scratch->size());
  });
  // Common case: all ASCII: the bytes are their own Latin-1 string, and
  // byte offsets are UTF-16 offsets.
  bool ascii = true;
  for (unsigned char c : *scratch)
    if (c >= 0x80) {
      ascii = false;
      break;
    }
  if (ascii) {
    TKV_NAPI(env, napi_create_string_latin1(env, scratch->data(), scratch->size(), &out));
    return out;
  }
  std::u16string u16;
  u16.reserve(scratch->size());
  i = 0;
  batch.ForEach([&](const WatchRecord& r) {
    wtf8::DecodeToUtf16(r.key(), &u16);
    ends[i++ * stride] = static_cast<double>(u16.size());
  });
  TKV_NAPI(env, napi_create_string_utf16(env, u16.data(), u16.size(), &out));
  return out;
}

// watchDrain(token)
Napi::Value WatchDrain(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WatchEnv& watch = AddonOf(info).watch();
  WatchEnv::Open* open = watch.Find(TokenArg(info[0]));
  if (open == nullptr) return env.Undefined();
  WatchBatch& batch = watch.batch();
  open->store->DrainWatch(*open->sub, &batch);
  if (batch.empty()) return env.Undefined();
  constexpr size_t kStride = 4;  // type, seq, version, key end
  const size_t n = batch.count;
  Napi::ArrayBuffer buffer = Napi::ArrayBuffer::New(env, n * kStride * sizeof(double));
  auto* nums = static_cast<double*>(buffer.Data());
  size_t i = 0;
  batch.ForEach([&](const WatchRecord& r) {
    nums[i * kStride] = static_cast<double>(r.type);
    nums[i * kStride + 1] = static_cast<double>(r.seq);
    nums[i * kStride + 2] = static_cast<double>(r.version);
    ++i;
  });
  napi_value keys = KeysToJs(env, batch, nums + 3, kStride, &watch.scratch());
  Napi::Array out = Napi::Array::New(env, 5);
  out.Set(0u, Napi::Value(env, keys));
  out.Set(1u, Napi::Float64Array::New(env, n * kStride, buffer, 0));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(batch.lost)));
  out.Set(3u, Napi::Number::New(env, static_cast<double>(batch.lost_seq)));
  out.Set(4u, Napi::Boolean::New(env, batch.closed));
  if (batch.closed) watch.Close(TokenArg(info[0]));  // the store is gone: nothing more
  return out;
}

// watchClose(token)
Napi::Value WatchClose(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), AddonOf(info).watch().Close(TokenArg(info[0])));
}

// watchCount(handle)
Napi::Value WatchCount(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Store> store = Addon::Share(env, info[0]);
  return Napi::Number::New(env, static_cast<double>(store->watchers()));
}

}  // namespace

void WatchEnv::Define(napi_env env, napi_value exports, Addon* addon) {
  Napi::Object target(env, exports);
  struct Method {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static constexpr Method kMethods[] = {
      {"watchOpen", &Guarded<&WatchOpen>},
      {"watchDrain", &Guarded<&WatchDrain>},
      {"watchClose", &Guarded<&WatchClose>},
      {"watchCount", &Guarded<&WatchCount>},
  };
  for (const Method& m : kMethods) target.Set(m.name, Napi::Function::New(env, m.fn, m.name, addon));
}

}  // namespace threadkv::binding
