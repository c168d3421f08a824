// The N-API surface: each method converts its arguments, makes one call into
// the core, and converts the result. No N-API call and no JS allocation
// happens while a shard lock is held: Store::Read's callback only copies
// bytes into memory this environment owns.
#include "addon.h"

#include <cstring>
#include <string>
#include <utility>

#include "../core/registry.h"
#include "../core/wtf8.h"
#include "convert.h"
#include "errors.h"

namespace threadkv::binding {

namespace {

constexpr size_t kScratchInitial = 16 << 10;
// Values up to this size come back through the reused scratch buffer; larger
// ones get a buffer of their own (the copy dominates the allocation there).
constexpr size_t kScratchMax = 1 << 20;

const char* OptionName(uint32_t bit) {
  switch (bit) {
    case kOptCodec:
      return "codec";
    case kOptShards:
      return "shards";
    case kOptMaxKeyBytes:
      return "maxKeyBytes";
    case kOptMaxValueBytes:
      return "maxValueBytes";
    default:
      return "unknown";
  }
}

double OptionValue(const Options& o, uint32_t bit) {
  switch (bit) {
    case kOptCodec:
      return static_cast<double>(o.codec);
    case kOptShards:
      return o.shards;
    case kOptMaxKeyBytes:
      return o.max_key_bytes;
    case kOptMaxValueBytes:
      return o.max_value_bytes;
    default:
      return -1;
  }
}

uint32_t U32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

}  // namespace

Napi::Function ErrorFactory(Napi::Env env) {
  Addon* addon = env.GetInstanceData<Addon>();
  return addon == nullptr ? Napi::Function() : addon->error_factory();
}

Addon::Addon(Napi::Env env, Napi::Object exports) {
  DefineAddon(exports, {
                           InstanceMethod("setup", &Addon::Setup),
                           InstanceMethod("open", &Addon::Open),
                           InstanceMethod("destroy", &Addon::Destroy),
                           InstanceMethod("close", &Addon::Close),
                           InstanceMethod("get", &Addon::Get),
                           InstanceMethod("set", &Addon::Set),
                           InstanceMethod("has", &Addon::Has),
                           InstanceMethod("delete", &Addon::Delete),
                           InstanceMethod("clear", &Addon::Clear),
                           InstanceMethod("size", &Addon::Size),
                           InstanceMethod("memory", &Addon::Memory),
                           InstanceMethod("names", &Addon::Names),
#ifdef THREADKV_TSAN_SELFTEST
                           InstanceMethod("racyIncrement", &Addon::RacyIncrement),
#endif
                       });
  GrowScratch(env, kScratchInitial);
}

void Addon::GrowScratch(Napi::Env env, size_t size) {
  if (size <= scratch_size_) return;
  size_t n = scratch_size_ == 0 ? kScratchInitial : scratch_size_;
  while (n < size) n *= 2;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
  scratch_ = Napi::Persistent(ab);
  scratch_data_ = static_cast<uint8_t*>(ab.Data());
  scratch_size_ = n;
}

Store& Addon::Resolve(Napi::Env env, napi_value handle) {
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == nullptr)
    throw Napi::TypeError::New(env, "threadkv: not a store handle");
  auto* h = static_cast<StoreHandle*>(data);
  if (!h->store) Throw(env, kErrClosed, {.store = h->name});
  return *h->store;
}

// setup(makeError): registers the JS error factory for this environment.
Napi::Value Addon::Setup(const Napi::CallbackInfo& info) {
  error_factory_ = Napi::Persistent(info[0].As<Napi::Function>());
  return info.Env().Undefined();
}

// open(name, codec, shards, maxKeyBytes, maxValueBytes, specifiedMask)
//   -> [handle, codec, shards, maxKeyBytes, maxValueBytes, created]
Napi::Value Addon::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  Options opts;
  opts.codec = static_cast<Codec>(U32(info[1]));
  opts.shards = U32(info[2]);
  opts.max_key_bytes = U32(info[3]);
  opts.max_value_bytes = U32(info[4]);
  const uint32_t specified = U32(info[5]);
  OpenResult r = Registry::Instance().Open(name, opts, specified);
  if (!r.store) {
    Throw(env, kErrOptionMismatch,
          {.store = name,
           .limit = OptionValue(opts, r.mismatch),
           .actual = OptionValue(r.existing, r.mismatch),
           .option = OptionName(r.mismatch)});
  }
  const Options& have = r.store->options();
  auto* h = new StoreHandle{std::move(r.store), name};
  Napi::External<StoreHandle> ext =
      Napi::External<StoreHandle>::New(env, h, [](Napi::Env, StoreHandle* p) { delete p; });
  Napi::Array out = Napi::Array::New(env, 6);
  out.Set(0u, ext);
  out.Set(1u, Napi::Number::New(env, static_cast<double>(have.codec)));
  out.Set(2u, Napi::Number::New(env, have.shards));
  out.Set(3u, Napi::Number::New(env, have.max_key_bytes));
  out.Set(4u, Napi::Number::New(env, have.max_value_bytes));
  out.Set(5u, Napi::Boolean::New(env, r.created));
  return out;
}

Napi::Value Addon::Destroy(const Napi::CallbackInfo& info) {
  const std::string name = info[0].As<Napi::String>().Utf8Value();
  return Napi::Boolean::New(info.Env(), Registry::Instance().Destroy(name));
}

Napi::Value Addon::Close(const Napi::CallbackInfo& info) {
  void* data = nullptr;
  if (napi_get_value_external(info.Env(), info[0], &data) == napi_ok && data != nullptr)
    static_cast<StoreHandle*>(data)->store.reset();
  return info.Env().Undefined();
}

Napi::Value Addon::Get(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  KeyArg key(env, info[1], store);
  Kind kind = Kind::kUndefined;
  uint8_t flags = 0;
  size_t size = 0;
  std::string big;  // only for values larger than the scratch buffer
  uint8_t* const scratch = scratch_data_;
  const size_t room = scratch_size_;
  const Status st = store.Read(key.view(), key.hash(), [&](const Entry& e) {
    kind = e.kind;
    flags = e.flags;
    size = e.value_size;
    if (size <= room)
      std::memcpy(scratch, e.value_data(), size);
    else
      big.assign(reinterpret_cast<const char*>(e.value_data()), size);
  });
  if (st == Status::kNotFound) return env.Undefined();
  if (st == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  // The lock is released: now build the JS value.
  const uint8_t* bytes = big.empty() ? scratch : reinterpret_cast<const uint8_t*>(big.data());
  napi_value result = nullptr;
  switch (kind) {
    case Kind::kString:
      if ((flags & kFlagLoneSurrogates) == 0) {
        TKV_NAPI(env, napi_create_string_utf8(env, reinterpret_cast<const char*>(bytes), size, &result));
      } else {
        std::u16string u16;
        wtf8::DecodeToUtf16({reinterpret_cast<const char*>(bytes), size}, &u16);
        TKV_NAPI(env, napi_create_string_utf16(env, u16.data(), u16.size(), &result));
      }
      return Napi::Value(env, result);
    case Kind::kFloat64: {
      double d;
      std::memcpy(&d, bytes, sizeof d);
      return Napi::Number::New(env, d);
    }
    case Kind::kInt64: {
      int64_t i;
      std::memcpy(&i, bytes, sizeof i);
      return Napi::Number::New(env, static_cast<double>(i));
    }
    case Kind::kTrue:
      return Napi::Boolean::New(env, true);
    case Kind::kFalse:
      return Napi::Boolean::New(env, false);
    case Kind::kNull:
      return env.Null();
    case Kind::kUndefined:
      return env.Undefined();
    case Kind::kBytes:
      break;
  }
  // Opaque bytes. The `buffer` codec hands out a Buffer of its own; the `v8`
  // codec gets a Uint8Array view of the scratch buffer, which lib/codec.ts
  // decodes at once (copying any typed arrays out of it).
  if (store.options().codec == Codec::kBuffer || size > kScratchMax) {
    TKV_NAPI(env, napi_create_buffer_copy(env, size, bytes, nullptr, &result));
    return Napi::Value(env, result);
  }
  if (!big.empty()) {
    GrowScratch(env, size);
    std::memcpy(scratch_data_, big.data(), size);
  }
  TKV_NAPI(env, napi_create_typedarray(env, napi_uint8_array, size, scratch_.Value(), 0, &result));
  return Napi::Value(env, result);
}

Napi::Value Addon::Set(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  KeyArg key(env, info[1], store);
  EntryPtr e = MakeValueEntry(env, key, info[2], store);
  if (store.Put(key.hash(), std::move(e)) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return env.Undefined();
}

Napi::Value Addon::Has(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  KeyArg key(env, info[1], store);
  const Status st = store.Read(key.view(), key.hash(), [](const Entry&) {});
  if (st == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return Napi::Boolean::New(env, st == Status::kOk);
}

Napi::Value Addon::Delete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  KeyArg key(env, info[1], store);
  const Status st = store.Erase(key.view(), key.hash());
  if (st == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return Napi::Boolean::New(env, st == Status::kOk);
}

Napi::Value Addon::Clear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  if (store.Clear() == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return env.Undefined();
}

Napi::Value Addon::Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  StoreSizes sizes;
  if (store.Sizes(&sizes) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return Napi::Number::New(env, static_cast<double>(sizes.entries));
}

// memory(handle) -> [entries, entryBytes, slotBytes]
Napi::Value Addon::Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Store& store = Resolve(env, info[0]);
  StoreSizes sizes;
  if (store.Sizes(&sizes) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(sizes.entries)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(sizes.bytes)));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(sizes.slot_bytes)));
  return out;
}

Napi::Value Addon::Names(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto names = Registry::Instance().Names();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::String::New(env, names[i]));
  return out;
}

#ifdef THREADKV_TSAN_SELFTEST
// Deliberately racy: a plain int bumped from many threads with no lock. Only
// compiled into the ThreadSanitizer build, where test/tsan/selftest.ts shows
// that the TSAN run reports it (a sanitizer job that cannot fail proves
// nothing).
namespace {
int g_racy_counter = 0;
}
Napi::Value Addon::RacyIncrement(const Napi::CallbackInfo& info) {
  const uint32_t n = U32(info[0]);
  for (uint32_t i = 0; i < n; ++i) g_racy_counter = g_racy_counter + 1;
  return Napi::Number::New(info.Env(), g_racy_counter);
}
#endif

}  // namespace threadkv::binding

using ThreadKvAddon = threadkv::binding::Addon;
NODE_API_ADDON(ThreadKvAddon)
