// The N-API surface: each method converts its arguments, makes one call into
// the core, and converts the result. No N-API call and no JS allocation
// happens while a shard lock is held: Store::Read's callback only copies
// bytes into memory this environment owns.
//
// User code. Some N-API calls can run JavaScript the user wrote: reading an
// array element (a getter on the array, or on Array.prototype for a hole),
// setting one on a new array (a setter on Array.prototype), and calling the
// error factory (lib/errors.ts, which a user can tamper with: see Throw in
// errors.h). That JavaScript may close() the handle and Store.destroy() the
// store, which frees the Store. So:
//  - The per-key hot path (get, set, has, delete, getEntry: Fast below)
//    uses the handle's own reference (Resolve) and runs no such call
//    between Resolve and its return: it reads a string (no coercion), typed
//    array or number, calls the core, and creates a primitive, string or
//    typed array. The only user code it can reach is the error factory, and
//    every Throw ends the call. No reference count is bumped per call: a
//    shared count would bounce one cache line between all threads.
//  - Every other method holds its own std::shared_ptr<Store> for the whole
//    call (Share): whatever JavaScript runs, the Store stays valid (a store
//    destroyed meanwhile answers kDestroyed).
//  - Array arguments are read element by element (Elements) before the
//    store is resolved, and converted after: user code runs before the call
//    touches the store, never in the middle of it.
#include "addon.h"

#include <cmath>
#include <cstring>
#include <iterator>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "../core/registry.h"
#include "../core/wtf8.h"
#include "convert.h"
#include "errors.h"
#include "snapshot.h"

namespace threadkv::binding {

namespace {

// Names of the core's Codec and EvictionPolicy values (index = the enum's
// value), as lib/ and every message spell them.
constexpr const char* kCodecNames[] = {"v8", "json", "string", "buffer"};
constexpr const char* kPolicyNames[] = {"none", "sieve"};
static_assert(std::size(kCodecNames) == static_cast<size_t>(Codec::kBuffer) + 1);
static_assert(std::size(kPolicyNames) == static_cast<size_t>(EvictionPolicy::kSieve) + 1);

// The index of a name in `names` (lib/ validated it first).
template <size_t N>
uint32_t NameIndex(Napi::Env env, napi_value v, const char* const (&names)[N]) {
  const std::string name = TextArg(env, v);
  for (uint32_t i = 0; i < N; ++i)
    if (name == names[i]) return i;
  throw Napi::TypeError::New(env, "threadkv: unknown name " + name);
}

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
    case kOptMaxEntries:
      return "maxEntries";
    case kOptMaxBytes:
      return "maxBytes";
    case kOptEvictionPolicy:
      return "evictionPolicy";
    case kOptTtlMs:
      return "ttlMs";
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
    case kOptMaxEntries:
      return static_cast<double>(o.max_entries);
    case kOptMaxBytes:
      return static_cast<double>(o.max_bytes);
    case kOptEvictionPolicy:
      return static_cast<double>(o.eviction);
    case kOptTtlMs:
      return static_cast<double>(o.ttl_ms);
    default:
      return -1;
  }
}

napi_value Undefined(napi_env env) {
  napi_value v = nullptr;
  TKV_NAPI(env, napi_get_undefined(env, &v));
  return v;
}

napi_value Boolean(napi_env env, bool b) {
  napi_value v;
  TKV_NAPI(env, napi_get_boolean(env, b, &v));
  return v;
}

uint32_t U32(const Napi::Value& v) { return v.As<Napi::Number>().Uint32Value(); }

// An expected version from JS: null is "absent"; a number is a version only
// if it is an integer from 1 to 2^53 (anything else matches nothing).
uint64_t ExpectedVersion(Napi::Env env, napi_value v) {
  napi_valuetype type;
  TKV_NAPI(env, napi_typeof(env, v, &type));
  if (type == napi_null) return kExpectAbsent;
  if (type != napi_number) return kExpectNever;
  double d;
  TKV_NAPI(env, napi_get_value_double(env, v, &d));
  if (!(d >= 1 && d <= 9007199254740992.0) || std::trunc(d) != d) return kExpectNever;
  return static_cast<uint64_t>(d);
}

[[noreturn]] void ThrowDestroyed(Napi::Env env, const Store& store) {
  Throw(env, kErrDestroyed, {.store = store.name()});
}

// A per-write time to live (validated in lib/store.ts): a positive number of
// milliseconds, Infinity for "never expires", anything else (undefined, or
// null for an argument left out) for the store's default.
int64_t ExpiryArg(napi_env env, napi_value v, const Store& store) {
  if (v == nullptr) return kDefaultExpiry;  // left out
  double ms;
  if (napi_get_value_double(env, v, &ms) != napi_ok) return kDefaultExpiry;  // not a number
  if (std::isinf(ms)) return kNoExpiry;
  return store.DeadlineIn(ms);
}

}  // namespace

Napi::Function ErrorFactory(Napi::Env env) {
  Addon* addon = env.GetInstanceData<Addon>();
  return addon == nullptr ? Napi::Function() : addon->error_factory();
}

Addon::Addon(Napi::Env env, Napi::Object exports) : values_(env) {
  DefineAddon(exports, {
                           InstanceMethod("setup", &Addon::Setup),
                           InstanceMethod("open", &Addon::Open),
                           InstanceMethod("destroy", &Addon::Destroy),
                           InstanceMethod("close", &Addon::Close),
                           InstanceMethod("bind", &Addon::Bind),
                           InstanceMethod("clear", &Addon::Clear),
                           InstanceMethod("size", &Addon::Size),
                           InstanceMethod("memory", &Addon::Memory),
                           InstanceMethod("stats", &Addon::Stats),
                           InstanceMethod("ttl", &Addon::Ttl),
                           InstanceMethod("expire", &Addon::Expire),
                           InstanceMethod("names", &Addon::Names),
                           InstanceMethod("setIfAbsent", &Addon::SetIfAbsent),
                           InstanceMethod("getOrSet", &Addon::GetOrSet),
                           InstanceMethod("swap", &Addon::Swap),
                           InstanceMethod("take", &Addon::Take),
                           InstanceMethod("compareAndSet", &Addon::CompareAndSet),
                           InstanceMethod("compareAndDelete", &Addon::CompareAndDelete),
                           InstanceMethod("increment", &Addon::Increment),
                           InstanceMethod("getMany", &Addon::GetMany),
                           InstanceMethod("setMany", &Addon::SetMany),
                           InstanceMethod("deleteMany", &Addon::DeleteMany),
                           InstanceMethod("scan", &Addon::Scan),
                           InstanceMethod("valueSetup", &Addon::ValueSetup),
                           InstanceMethod("valueSlabStats", &Addon::ValueSlabStats),
                           InstanceMethod("valueTrimSlabs", &Addon::ValueTrimSlabs),
                           InstanceMethod("checkKey", &Addon::CheckKey),
#ifdef THREADKV_TSAN_SELFTEST
                           InstanceMethod("racyIncrement", &Addon::RacyIncrement),
#endif
#ifdef THREADKV_ASAN_SELFTEST
                           InstanceMethod("useAfterFree", &Addon::UseAfterFree),
#endif
                       });
  Waker::Define(env, exports, this);       // wakerStart, wakerRef, wakerStop
  ComputeEnv::Define(env, exports, this);  // compute* (getOrCompute)
  WatchEnv::Define(env, exports, this);    // watch* (store.watch)
  RegisterSnapshot(env, exports);          // snapshot, snapshotSync, restore, restoreSync
  Napi::ArrayBuffer cells = Napi::ArrayBuffer::New(env, kOutCells * sizeof(double));
  out_ = Napi::Persistent(Napi::Float64Array::New(env, kOutCells, cells, 0));
  out_cells_ = static_cast<double*>(cells.Data());
}

template <size_t N, napi_value (Addon::*M)(napi_env, StoreHandle&, napi_value*)>
napi_value Addon::Fast(napi_env env, napi_callback_info info) {
  napi_value args[N];
  size_t argc = N;  // missing arguments read as undefined
  void* data = nullptr;
  if (napi_get_cb_info(env, info, &argc, args, nullptr, &data) != napi_ok) return nullptr;
  // Arguments left out are null rather than undefined, so that an optional
  // one costs nothing to skip (see ExpiryArg); lib/ always passes the others.
  for (size_t i = argc; i < N; ++i) args[i] = nullptr;
  auto* h = static_cast<StoreHandle*>(data);
  try {
    return (h->addon->*M)(env, *h, args);
  } catch (const Napi::Error& e) {
    e.ThrowAsJavaScriptException();
  } catch (const std::bad_alloc&) {
    // Before anything was linked: every allocation of a single-key write
    // (the entry, a table growth) happens before it changes the store.
    ThrowOutOfMemory(env, {.store = h->name, .key = args[0]});
  } catch (const std::length_error&) {
    ThrowOutOfMemory(env, {.store = h->name, .key = args[0]});
  }
  return nullptr;
}

Napi::ClassPropertyDescriptor<Addon> Addon::InstanceMethod(const char* name, InstanceMethodCallback method) {
  methods_.push_back(method);
  return Napi::Addon<Addon>::InstanceMethod(name, &Addon::Guard, napi_default, &methods_.back());
}

Napi::Value Addon::Guard(const Napi::CallbackInfo& info) {
  const InstanceMethodCallback method = *static_cast<const InstanceMethodCallback*>(info.Data());
  try {
    return (this->*method)(info);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  ThrowOutOfMemoryInCall(info);
  return Napi::Value();
}

void ThrowOutOfMemoryInCall(const Napi::CallbackInfo& info) noexcept {
  void* data = nullptr;
  std::string_view store;
  if (info.Length() > 0 && napi_get_value_external(info.Env(), info[0], &data) == napi_ok && data != nullptr)
    store = static_cast<StoreHandle*>(data)->name;
  ThrowOutOfMemory(info.Env(), {.store = store});
}

// bind(handle) -> [get, set, has, delete, getEntry]: the handle's per-key
// methods, as functions whose callback data is the handle: get(key),
// set(key, value, ttlMs?), has(key), delete(key), getEntry(key). Costs
// ~8 us per handle (five functions), repaid after a few hundred calls; see
// StoreHandle for their lifetime.
Napi::Value Addon::Bind(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  void* data = nullptr;
  if (napi_get_value_external(env, info[0], &data) != napi_ok || data == nullptr)
    throw Napi::TypeError::New(env, "threadkv: not a store handle");
  auto* h = static_cast<StoreHandle*>(data);
  struct Method {
    const char* name;
    napi_callback cb;
  };
  static constexpr Method kMethods[] = {
      {"get", &Fast<1, &Addon::Get>},       {"set", &Fast<3, &Addon::Set>},           {"has", &Fast<1, &Addon::Has>},
      {"delete", &Fast<1, &Addon::Delete>}, {"getEntry", &Fast<1, &Addon::GetEntry>},
  };
  Napi::Array out = Napi::Array::New(env, std::size(kMethods));
  for (uint32_t i = 0; i < std::size(kMethods); ++i) {
    napi_value fn;
    TKV_NAPI(env, napi_create_function(env, kMethods[i].name, NAPI_AUTO_LENGTH, kMethods[i].cb, h, &fn));
    out.Set(i, Napi::Value(env, fn));
  }
  return out;
}

StoreHandle& Addon::Handle(Napi::Env env, napi_value handle) {
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == nullptr)
    throw Napi::TypeError::New(env, "threadkv: not a store handle");
  return *static_cast<StoreHandle*>(data);
}

Store& Addon::Resolve(Napi::Env env, const StoreHandle& h) {
  if (!h.store) Throw(env, kErrClosed, {.store = h.name});
  if (h.store->destroyed()) Throw(env, kErrDestroyed, {.store = h.name});
  return *h.store;
}

std::shared_ptr<Store> Addon::Share(Napi::Env env, napi_value handle) {
  const StoreHandle& h = Handle(env, handle);
  Resolve(env, h);
  return h.store;
}

std::vector<napi_value> Addon::Elements(Napi::Env env, const StoreHandle& h, napi_value array, const char* what) {
  bool is_array = false;
  TKV_NAPI(env, napi_is_array(env, array, &is_array));  // false for a Proxy: no trap runs
  if (!is_array) Throw(env, kErrInvalidArgument, {.store = h.name, .key = array, .option = what});
  uint32_t n = 0;
  TKV_NAPI(env, napi_get_array_length(env, array, &n));
  std::vector<napi_value> out(n);
  for (uint32_t i = 0; i < n; ++i) TKV_NAPI(env, napi_get_element(env, array, i, &out[i]));  // may run user code
  return out;
}

// setup(makeError) -> { out, constants }: registers the JS error factory for
// this environment; returns its out-cells (a Float64Array of 2; the same one
// to every caller in this environment) and the facts lib/ must agree on,
// defined once, here and in the core: the error codes, the option bits, the
// codec and eviction policy names (index = the core's enum value), the
// defaults of Options, and the per-entry byte charge.
Napi::Value Addon::Setup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  error_factory_ = Napi::Persistent(info[0].As<Napi::Function>());
  Napi::Object codes = Napi::Object::New(env);
  for (const NamedCode& c : kErrorCodes) codes.Set(c.name, c.code);
  Napi::Object bits = Napi::Object::New(env);
  for (uint32_t bit = 1; bit <= kOptTtlMs; bit <<= 1) bits.Set(OptionName(bit), static_cast<double>(bit));
  Napi::Array codecs = Napi::Array::New(env, std::size(kCodecNames));
  for (uint32_t i = 0; i < std::size(kCodecNames); ++i) codecs.Set(i, kCodecNames[i]);
  Napi::Array policies = Napi::Array::New(env, std::size(kPolicyNames));
  for (uint32_t i = 0; i < std::size(kPolicyNames); ++i) policies.Set(i, kPolicyNames[i]);
  const Options defaults;
  Napi::Object def = Napi::Object::New(env);
  def.Set("codec", kCodecNames[static_cast<size_t>(defaults.codec)]);
  def.Set("shards", static_cast<double>(defaults.shards));
  def.Set("maxKeyBytes", static_cast<double>(defaults.max_key_bytes));
  def.Set("maxValueBytes", static_cast<double>(defaults.max_value_bytes));
  Napi::Object constants = Napi::Object::New(env);
  constants.Set("errorCodes", codes);
  constants.Set("optionBits", bits);
  constants.Set("codecs", codecs);
  constants.Set("evictionPolicies", policies);
  constants.Set("defaults", def);
  constants.Set("entryOverhead", static_cast<double>(kEntryOverhead));
  constants.Set("queueLinkBytes", static_cast<double>(kQueueLinkBytes));
  constants.Set("timerLinkBytes", static_cast<double>(kTimerLinkBytes));
  Napi::Object result = Napi::Object::New(env);
  result.Set("out", out_.Value());
  result.Set("constants", constants);
  return result;
}

// open({ name, codec, shards, maxKeyBytes, maxValueBytes, maxEntries,
//        maxBytes, evictionPolicy, ttlMs, specified })
//   -> { handle, created, codec, shards, maxKeyBytes, maxValueBytes,
//        maxEntries, maxBytes, evictionPolicy, ttlMs }
// codec and evictionPolicy by name; `specified` is the OptionBit mask of
// the options the caller gave; 0 is "none" for maxEntries, maxBytes, ttlMs.
// The request is lib/'s own object literal (no getter); the result's
// properties are defined, not set, so no setter on Object.prototype runs.
Napi::Value Addon::Open(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object req = info[0].As<Napi::Object>();
  const std::string name = TextArg(env, req.Get("name"));  // WTF-8: lone surrogates kept
  Options opts;
  opts.codec = static_cast<Codec>(NameIndex(env, req.Get("codec"), kCodecNames));
  opts.shards = U32(req.Get("shards"));
  opts.max_key_bytes = U32(req.Get("maxKeyBytes"));
  opts.max_value_bytes = U32(req.Get("maxValueBytes"));
  const uint32_t specified = U32(req.Get("specified"));
  opts.max_entries = static_cast<uint64_t>(req.Get("maxEntries").As<Napi::Number>().DoubleValue());
  opts.max_bytes = static_cast<uint64_t>(req.Get("maxBytes").As<Napi::Number>().DoubleValue());
  opts.eviction = static_cast<EvictionPolicy>(NameIndex(env, req.Get("evictionPolicy"), kPolicyNames));
  opts.ttl_ms = static_cast<uint64_t>(req.Get("ttlMs").As<Napi::Number>().DoubleValue());
  OpenResult r = Registry::Instance().Open(name, opts, specified);
  if (!r.store) {
    Throw(env, kErrOptionMismatch,
          {.store = name,
           .limit = OptionValue(opts, r.mismatch),
           .actual = OptionValue(r.existing, r.mismatch),
           .option = OptionName(r.mismatch)});
  }
  const Options have = r.store->options();  // a copy: nothing below reads the store
  auto* h = new StoreHandle{std::move(r.store), name, this};
  Napi::External<StoreHandle> ext =
      Napi::External<StoreHandle>::New(env, h, [](Napi::Env, StoreHandle* p) { delete p; });
  auto num = [&](double v) { return Napi::Number::New(env, v); };
  const std::pair<const char*, napi_value> fields[] = {
      {"handle", ext},
      {"created", Napi::Boolean::New(env, r.created)},
      {"codec", Napi::String::New(env, kCodecNames[static_cast<size_t>(have.codec)])},
      {"shards", num(have.shards)},
      {"maxKeyBytes", num(have.max_key_bytes)},
      {"maxValueBytes", num(have.max_value_bytes)},
      {"maxEntries", num(static_cast<double>(have.max_entries))},
      {"maxBytes", num(static_cast<double>(have.max_bytes))},
      {"evictionPolicy", Napi::String::New(env, kPolicyNames[static_cast<size_t>(have.eviction)])},
      {"ttlMs", num(static_cast<double>(have.ttl_ms))},
  };
  napi_value out;
  TKV_NAPI(env, napi_create_object(env, &out));
  napi_property_descriptor props[std::size(fields)];
  for (size_t i = 0; i < std::size(fields); ++i) {
    props[i] = napi_property_descriptor{};
    props[i].utf8name = fields[i].first;
    props[i].value = fields[i].second;
    props[i].attributes = static_cast<napi_property_attributes>(napi_writable | napi_enumerable | napi_configurable);
  }
  TKV_NAPI(env, napi_define_properties(env, out, std::size(props), props));
  return Napi::Value(env, out);
}

Napi::Value Addon::Destroy(const Napi::CallbackInfo& info) {
  const std::string name = TextArg(info.Env(), info[0]);  // WTF-8: lone surrogates kept
  return Napi::Boolean::New(info.Env(), Registry::Instance().Destroy(name));
}

Napi::Value Addon::Close(const Napi::CallbackInfo& info) {
  void* data = nullptr;
  if (napi_get_value_external(info.Env(), info[0], &data) == napi_ok && data != nullptr)
    static_cast<StoreHandle*>(data)->store.reset();
  return info.Env().Undefined();
}

// valueSetup(newSlab, recycle) -> cells: see ValuePath::Setup.
Napi::Value Addon::ValueSetup(const Napi::CallbackInfo& info) {
  return Napi::Value(info.Env(), values_.Setup(info.Env(), info[0], info[1]));
}

// valueTrimSlabs() -> blocks still held: see ValuePath::TrimSlabs.
Napi::Value Addon::ValueTrimSlabs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(values_.TrimSlabs()));
}

// valueSlabStats() -> [blocks, lent, spare, reused, recycling]: see ValuePath::SlabStats.
Napi::Value Addon::ValueSlabStats(const Napi::CallbackInfo& info) {
  return Napi::Value(info.Env(), values_.SlabStats(info.Env()));
}

napi_value Addon::Get(napi_env env, StoreHandle& h, napi_value* args) {
  Store& store = Resolve(env, h);
  KeyArg key(env, args[0], store);
  Copied c;
  const Status st = store.Read(key.view(), key.hash(), [&](const Entry& e) { CopyOut(e, &c); });
  if (st == Status::kNotFound) return Undefined(env);
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  // The lock is released: now build the JS value.
  return ValueToJs(env, c);
}

napi_value Addon::Set(napi_env env, StoreHandle& h, napi_value* args) {
  Store& store = Resolve(env, h);
  KeyArg key(env, args[0], store);
  const int64_t expiry = ExpiryArg(env, args[2], store);
  EntryPtr e = MakeValueEntry(env, key, args[1], store, InTag(), InLength(), expiry);
  const double cost = static_cast<double>(Store::Cost(*e));
  CheckWrite(env, store, store.Put(key.hash(), std::move(e)), key.js(), cost);
  return nullptr;  // undefined
}

napi_value Addon::Has(napi_env env, StoreHandle& h, napi_value* args) {
  Store& store = Resolve(env, h);
  KeyArg key(env, args[0], store);
  const Status st = store.Read(key.view(), key.hash(), [](const Entry&) {});
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  return Boolean(env, st == Status::kOk);
}

napi_value Addon::Delete(napi_env env, StoreHandle& h, napi_value* args) {
  Store& store = Resolve(env, h);
  KeyArg key(env, args[0], store);
  const Status st = store.Erase(key.view(), key.hash());
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  return Boolean(env, st == Status::kOk);
}

Napi::Value Addon::Clear(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  if (store.Clear() == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return env.Undefined();
}

Napi::Value Addon::Size(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  StoreSizes sizes;
  if (store.Sizes(&sizes) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  return Napi::Number::New(env, static_cast<double>(sizes.entries));
}

// memory(handle) -> [entries, entryBytes, slotBytes]
Napi::Value Addon::Memory(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  StoreSizes sizes;
  if (store.Sizes(&sizes) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store.name()});
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, Napi::Number::New(env, static_cast<double>(sizes.entries)));
  out.Set(1u, Napi::Number::New(env, static_cast<double>(sizes.bytes)));
  out.Set(2u, Napi::Number::New(env, static_cast<double>(sizes.slot_bytes)));
  return out;
}

// ttl(handle, key) -> milliseconds left (Infinity: no expiry), or undefined
// when absent
Napi::Value Addon::Ttl(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  int64_t deadline = kNoExpiry;
  const Status st = store.Read(key.view(), key.hash(), [&](const Entry& e) { deadline = e.expires_at; });
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  if (st == Status::kNotFound) return env.Undefined();
  if (deadline <= 0 || deadline == std::numeric_limits<int64_t>::max())
    return Napi::Number::New(env, std::numeric_limits<double>::infinity());
  const double left = static_cast<double>(deadline - store.NowNs()) / 1e6;
  return Napi::Number::New(env, left > 0 ? left : 0);
}

// expire(handle, key, ttlMs) -> whether the key was present
Napi::Value Addon::Expire(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  const double ms = info[2].As<Napi::Number>().DoubleValue();
  const int64_t deadline = std::isinf(ms) ? kNoExpiry : store.DeadlineIn(ms);
  uint64_t cost = 0;
  const Status st = store.Expire(key.view(), key.hash(), deadline, &cost);
  // An entry without timer links gains them (16 bytes): under maxBytes the
  // limits apply as to a write (`cost`: the entry's charge with them).
  if (st != Status::kNotFound) CheckWrite(env, store, st, key.js(), static_cast<double>(cost));
  return Napi::Boolean::New(env, st == Status::kOk);
}

// stats(handle) -> [entries, bytes, hits, misses, sets, deletes, evictions,
//   expirations, contendedReads, contendedWrites, shards, expiryCascades,
//   sweeps]
Napi::Value Addon::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  StoreStats st;
  if (store.Stats(&st) == Status::kDestroyed) ThrowDestroyed(env, store);
  const uint64_t fields[] = {
      st.entries,          st.bytes,           st.hits,        st.misses,          st.sets,
      st.deletes,          st.evictions,       st.expirations, st.contended_reads, st.contended_writes,
      store.shard_count(), st.expiry_cascades, st.sweeps};
  Napi::Array out = Napi::Array::New(env, std::size(fields));
  for (uint32_t i = 0; i < std::size(fields); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(fields[i])));
  return out;
}

Napi::Value Addon::Names(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const auto names = Registry::Instance().Names();
  Napi::Array out = Napi::Array::New(env, names.size());
  for (size_t i = 0; i < names.size(); ++i) out.Set(static_cast<uint32_t>(i), Napi::Value(env, KeyToJs(env, names[i])));
  return out;
}

// getEntry(handle, key) -> value; out[0] = its version, or 0 when absent
napi_value Addon::GetEntry(napi_env env, StoreHandle& h, napi_value* args) {
  Store& store = Resolve(env, h);
  KeyArg key(env, args[0], store);
  Copied c;
  const Status st = store.Read(key.view(), key.hash(), [&](const Entry& e) { CopyOut(e, &c); });
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  if (st == Status::kNotFound) {
    SetOut(0, 0);
    return Undefined(env);
  }
  napi_value v = ValueToJs(env, c);
  SetOut(0, static_cast<double>(c.version));
  return v;
}

// setIfAbsent(handle, key, value) -> inserted
Napi::Value Addon::SetIfAbsent(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  const int64_t expiry = ExpiryArg(env, info[3], store);
  EntryPtr e = MakeValueEntry(env, key, info[2], store, InTag(), InLength(), expiry);
  const double cost = static_cast<double>(Store::Cost(*e));
  const Status st = store.Insert(key.hash(), std::move(e));
  CheckWrite(env, store, st, key.js(), cost);
  return Napi::Boolean::New(env, st == Status::kOk);
}

// getOrSet(handle, key, value) -> the present value, or undefined when it
// inserted; out[0] = 1 when it inserted, else 0; out[1] = the version
// (inserted or present).
Napi::Value Addon::GetOrSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  const int64_t expiry = ExpiryArg(env, info[3], store);
  EntryPtr e = MakeValueEntry(env, key, info[2], store, InTag(), InLength(), expiry);
  const double cost = static_cast<double>(Store::Cost(*e));
  Copied c;
  uint64_t version = 0;
  const Status st = store.InsertOrRead(
      key.hash(), std::move(e), [&](const Entry& cur) { CopyOut(cur, &c); }, &version);
  CheckWrite(env, store, st, key.js(), cost);
  if (st == Status::kOk) {
    SetOut(0, 1);
    SetOut(1, static_cast<double>(version));
    return env.Undefined();
  }
  napi_value v = ValueToJs(env, c);
  SetOut(0, 0);
  SetOut(1, static_cast<double>(c.version));
  return Napi::Value(env, v);
}

// swap(handle, key, value) -> previous value | undefined
Napi::Value Addon::Swap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  EntryPtr e = MakeValueEntry(env, key, info[2], store, InTag(), InLength());
  Retired old;  // the replaced entry: read after the lock, freed when `old` ends
  const double cost = static_cast<double>(Store::Cost(*e));
  CheckWrite(env, store, store.Put(key.hash(), std::move(e), nullptr, &old), key.js(), cost);
  if (EntryPtr mine = old.TakePrevious()) return Napi::Value(env, RemovedToJs(env, std::move(mine)));
  if (old.previous() == nullptr) return env.Undefined();
  return Napi::Value(env, ValueToJs(env, *old.previous()));  // kept by a hook: copied
}

// take(handle, key) -> removed value | undefined
Napi::Value Addon::Take(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  Retired old;  // the removed entry: read after the lock, freed when `old` ends
  const Status st = store.Erase(key.view(), key.hash(), &old);
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  if (st == Status::kNotFound) return env.Undefined();
  if (EntryPtr mine = old.TakePrevious()) return Napi::Value(env, RemovedToJs(env, std::move(mine)));
  return Napi::Value(env, ValueToJs(env, *old.previous()));  // kept by a hook: copied
}

// compareAndSet(handle, key, expected: number | null, value) -> written
Napi::Value Addon::CompareAndSet(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  const uint64_t expected = ExpectedVersion(env, info[2]);
  EntryPtr e = MakeValueEntry(env, key, info[3], store, InTag(), InLength());
  const double cost = static_cast<double>(Store::Cost(*e));
  const Status st = store.CompareAndPut(key.hash(), std::move(e), expected);
  CheckWrite(env, store, st, key.js(), cost);
  return Napi::Boolean::New(env, st == Status::kOk);
}

// compareAndDelete(handle, key, expected: number) -> deleted
Napi::Value Addon::CompareAndDelete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  uint64_t expected = ExpectedVersion(env, info[2]);
  if (expected == kExpectAbsent) expected = kExpectNever;
  const Status st = store.CompareAndErase(key.view(), key.hash(), expected);
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  return Napi::Boolean::New(env, st == Status::kOk);
}

// increment(handle, key, delta) -> the new value
Napi::Value Addon::Increment(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyArg key(env, info[1], store);
  const double delta = info[2].As<Napi::Number>().DoubleValue();
  if (!store.ValueFits(kNumberBytes)) {
    Throw(env, kErrValueTooLarge,
          {.store = store.name(),
           .key = key.js(),
           .limit = static_cast<double>(store.options().max_value_bytes),
           .actual = static_cast<double>(kNumberBytes)});
  }
  Number result;
  const Status st = store.Increment(key.view(), key.hash(), delta, &result);
  CheckWrite(env, store, st, key.js(), static_cast<double>(store.ChargeFor(key.view().size(), kNumberBytes)));
  switch (st) {
    case Status::kOk:
      return Napi::Number::New(env, result.value());
    case Status::kNotNumber:
      Throw(env, kErrNotANumber, {.store = store.name(), .key = key.js(), .actual = delta});
    case Status::kOutOfRange:
      Throw(env, kErrCounterRange,
            {.store = store.name(), .key = key.js(), .limit = static_cast<double>(kMaxSafeInteger), .actual = delta});
    default:
      Throw(env, kErrInternal, {.store = store.name(), .key = key.js()});
  }
}

// getMany(handle, keys) -> values (undefined where absent), from one snapshot
Napi::Value Addon::GetMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StoreHandle& h = Handle(env, info[0]);
  Resolve(env, h);  // a closed handle or a destroyed store is reported first
  const std::vector<napi_value> elements = Elements(env, h, info[1], "keys");
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyList keys(env, elements, store);
  ValueList values;
  values.Reserve(keys.refs().size());
  const Status st = store.ReadMany(keys.refs(), [&](size_t, const Entry* e) {
    if (e != nullptr)
      values.Add(*e);
    else
      values.AddAbsent();
  });
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  // The store is not used below (setting an element may run a setter).
  Napi::Array out = Napi::Array::New(env, values.size());
  for (size_t i = 0; i < values.size(); ++i)
    out.Set(static_cast<uint32_t>(i), Napi::Value(env, values.ToJs(env, values_, i)));
  return out;
}

// setMany(handle, keys, values, atomic, ttlMs?, tags?): every key and value
// is converted (and so checked) before the store is touched; tags[i] is the
// format of values[i] when it is bytes (values.h), a Uint8Array lib/ made.
Napi::Value Addon::SetMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StoreHandle& h = Handle(env, info[0]);
  Resolve(env, h);
  const std::vector<napi_value> keys = Elements(env, h, info[1], "keys");
  const std::vector<napi_value> vals = Elements(env, h, info[2], "values");
  const bool atomic = info[3].ToBoolean().Value();
  if (vals.size() != keys.size())
    Throw(env, kErrInvalidArgument, {.store = h.name, .key = info[2], .option = "values"});
  // The format of each bytes value (values.h), when any value is bytes.
  const uint8_t* tags = nullptr;
  if (info[5].IsTypedArray()) {
    Napi::Uint8Array t = info[5].As<Napi::Uint8Array>();
    if (t.ElementLength() >= keys.size()) tags = t.Data();
  }
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  const int64_t expiry = ExpiryArg(env, info[4], store);
  std::vector<HashedEntry> entries;
  entries.reserve(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    KeyArg key(env, keys[i], store);
    EntryPtr e = MakeValueEntry(env, key, vals[i], store, tags != nullptr ? tags[i] : 0, 0, expiry);
    entries.push_back({key.hash(), std::move(e)});
  }
  if (atomic) {
    CheckWrite(env, store, store.PutMany(entries, true), nullptr, kNoFact);
    return env.Undefined();
  }
  // Not atomic: entry by entry, stopping at the first one refused, whose
  // error says how many were stored before it (a limit, or memory for a
  // table's growth). One PutMany of one entry each: the core's non-atomic
  // PutMany, with the count it does not report yet.
  for (size_t i = 0; i < entries.size(); ++i) {
    const double cost = static_cast<double>(Store::Cost(*entries[i].entry));
    Status st;
    try {
      st = store.PutMany(std::span<HashedEntry>(&entries[i], 1), false);
    } catch (const std::bad_alloc&) {
      ThrowOutOfMemory(env, {.store = store.name(), .key = keys[i], .stored = static_cast<double>(i)});
      return Napi::Value();
    }
    CheckWrite(env, store, st, keys[i], cost, static_cast<double>(i));
  }
  return env.Undefined();
}

// deleteMany(handle, keys, atomic) -> how many were present
Napi::Value Addon::DeleteMany(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const StoreHandle& h = Handle(env, info[0]);
  Resolve(env, h);
  const std::vector<napi_value> elements = Elements(env, h, info[1], "keys");
  const bool atomic = info[2].ToBoolean().Value();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  KeyList keys(env, elements, store);
  size_t erased = 0;
  if (store.EraseMany(keys.refs(), atomic, &erased) == Status::kDestroyed) ThrowDestroyed(env, store);
  return Napi::Number::New(env, static_cast<double>(erased));
}

// checkKey(handle, key): throws what a call with this key would throw first
// (closed handle, destroyed store, then a bad key), without reading any
// entry: lib/ calls it before reporting an error of another argument, so
// that the order of errors is the same whichever argument is bad, and a
// refused call touches nothing (no hit counter, no SIEVE bit).
Napi::Value Addon::CheckKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  KeyArg key(env, info[1], *owned);
  return env.Undefined();
}

// scan(handle, shard, prefix, withValues) -> [key, value, key, value, ...]
// (or [key, key, ...] without values): every entry of one shard whose key
// starts with `prefix`, copied out under the shard's read lock in one go.
Napi::Value Addon::Scan(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::shared_ptr<Store> owned = Share(env, info[0]);
  Store& store = *owned;
  const uint32_t shard = U32(info[1]);
  const std::string prefix = TextArg(env, info[2]);
  const bool with_values = info[3].ToBoolean().Value();
  std::string key_bytes;
  std::vector<size_t> key_ends;
  ValueList values;
  const Status st = store.Scan(shard, prefix, [&](const Entry& e) {
    key_bytes.append(e.key());
    key_ends.push_back(key_bytes.size());
    if (with_values) values.Add(e);
  });
  if (st == Status::kDestroyed) ThrowDestroyed(env, store);
  const size_t per = with_values ? 2 : 1;
  Napi::Array out = Napi::Array::New(env, key_ends.size() * per);
  size_t begin = 0;
  for (size_t i = 0; i < key_ends.size(); ++i) {
    const std::string_view k(key_bytes.data() + begin, key_ends[i] - begin);
    begin = key_ends[i];
    out.Set(static_cast<uint32_t>(i * per), Napi::Value(env, KeyToJs(env, k)));
    if (with_values) out.Set(static_cast<uint32_t>(i * per + 1), Napi::Value(env, values.ToJs(env, values_, i)));
  }
  return out;
}

#ifdef THREADKV_ASAN_SELFTEST
// Deliberately reads freed memory. Only compiled into the AddressSanitizer
// build, where test/asan/selftest.test.ts shows that the ASan run reports it.
Napi::Value Addon::UseAfterFree(const Napi::CallbackInfo& info) {
  auto* p = new std::vector<int>(16, 7);
  int* volatile data = p->data();  // volatile: the compiler cannot see the read below is after the free
  delete p;
  const int read = data[3];  // heap-use-after-free
  return Napi::Number::New(info.Env(), read);
}
#endif

#ifdef THREADKV_TSAN_SELFTEST
// Deliberately racy: a plain int bumped from many threads with no lock. Only
// compiled into the ThreadSanitizer build, where test/tsan/selftest.test.ts shows
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
