#include "compute.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <utility>

#include "../core/clock.h"
#include "../core/expiry.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"
#include "guard.h"
#include "waker.h"

namespace threadkv::binding {

ComputeEnv::Call* ComputeEnv::Find(uint64_t token) {
  auto it = calls_.find(token);
  return it == calls_.end() ? nullptr : &it->second;
}

void ComputeEnv::Add(uint64_t token, Call call) { calls_.emplace(token, std::move(call)); }

void ComputeEnv::HookTeardown() {
  if (hooked_) return;
  Waker* w = addon_->waker();
  if (w == nullptr) return;
  w->OnTeardown([this] { Teardown(); });
  hooked_ = true;
}

void ComputeEnv::Teardown() {
  // The thread is going away: the flights it leads are lost (their joined
  // callers retry), and its own waits end.
  std::unordered_map<uint64_t, Call> calls = std::move(calls_);
  calls_.clear();
  for (auto& [token, call] : calls) {
    if (call.flight) {
      call.store->LoseCompute(*call.flight);
    } else if (call.slot && call.slot->Resolve(WaitOutcome::kCancelled, nullptr)) {
      call.store->DetachComputeWait(*call.slot, false);
    }
  }
}

namespace {

Addon& AddonOf(const Napi::CallbackInfo& info) { return *static_cast<Addon*>(info.Data()); }

uint64_t TokenArg(const Napi::Value& v) { return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue()); }

Waker& WakerOf(Napi::Env env, Addon& addon) {
  Waker* w = addon.waker();
  if (w == nullptr) throw Napi::Error::New(env, "threadkv: internal error: getOrCompute before wakerStart()");
  return *w;
}

// Milliseconds from now to `deadline` (Infinity for none / the far future).
double MsUntil(int64_t deadline) {
  if (deadline <= 0 || deadline == std::numeric_limits<int64_t>::max()) return std::numeric_limits<double>::infinity();
  const double ms = static_cast<double>(deadline - SteadyNowNs()) / 1e6;
  return ms > 0 ? ms : 0;
}

// The leader's error (lib/compute.ts serializeError's bytes) as a Buffer of
// its own.
napi_value ErrorToJs(napi_env env, const FlightResult& r) {
  napi_value out;
  void* copy = nullptr;
  TKV_NAPI(env, napi_create_buffer_copy(env, r.bytes.size(), r.bytes.data(), &copy, &out));
  return out;
}

Napi::Array Tuple(Napi::Env env, std::initializer_list<napi_value> items) {
  Napi::Array a = Napi::Array::New(env, items.size());
  uint32_t i = 0;
  for (napi_value v : items) a.Set(i++, Napi::Value(env, v));
  return a;
}

napi_value Num(Napi::Env env, double d) { return Napi::Number::New(env, d); }

// computeBegin(handle, key, leaseMs, sync)
Napi::Value Begin(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon& addon = AddonOf(info);
  std::shared_ptr<Store> store = Addon::Share(env, info[0]);
  KeyArg key(env, info[1], *store);
  const double lease_ms = info[2].As<Napi::Number>().DoubleValue();
  const bool sync = info[3].ToBoolean().Value();
  Waker& waker = WakerOf(env, addon);
  const uint64_t token = waker.NewToken();
  ComputeCaller caller{waker.notifier(), sync};
  // Both made before the lock; the step uses one of them.
  auto fresh = std::make_shared<Flight>(NextFlightId(), key.hash(), key.view(), DeadlineAfter(SteadyNowNs(), lease_ms),
                                        waker.notifier(), sync ? 0 : token);
  auto slot = std::make_shared<WaitSlot>(sync ? nullptr : waker.notifier(), token, key.hash());
  // A hit is copied out under the lock as get copies it, and made a JS
  // value after it (lib/ decodes it at once, as a get's).
  ValuePath::Copied hit;
  auto copy = [&](const Entry& e) { addon.values().CopyOut(e, &hit); };
  Store::ComputeStep step;
  int64_t lease_deadline = 0;
  const Status st = store->BeginCompute(key.view(), key.hash(), caller, fresh, slot, copy, &step, &lease_deadline);
  if (st == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store->name()});
  switch (step) {
    case Store::ComputeStep::kHit:
      return Tuple(env, {Num(env, 0), addon.values().ToJs(env, hit)});
    case Store::ComputeStep::kLead:
      addon.compute().HookTeardown();
      addon.compute().Add(token, {store, std::move(fresh), nullptr});
      return Tuple(env, {Num(env, 1), Num(env, static_cast<double>(token)), Num(env, MsUntil(lease_deadline))});
    case Store::ComputeStep::kJoin:
      addon.compute().HookTeardown();
      addon.compute().Add(token, {store, nullptr, std::move(slot), lease_deadline});
      return Tuple(env, {Num(env, 2), Num(env, static_cast<double>(token)), Num(env, MsUntil(lease_deadline))});
    case Store::ComputeStep::kRecursive:
      break;
  }
  return Tuple(env, {Num(env, 3)});
}

// computeWait(token, sliceMs)
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Addon& addon = AddonOf(info);
  ComputeEnv& compute = addon.compute();
  const uint64_t token = TokenArg(info[0]);
  const double slice_ms = info[1].As<Napi::Number>().DoubleValue();
  ComputeEnv::Call* call = compute.Find(token);
  if (call == nullptr || !call->slot) return Tuple(env, {Num(env, 4)});  // gone (teardown): cancelled
  WaitSlot& slot = *call->slot;
  WaitOutcome o = slot.WaitFor(std::chrono::nanoseconds(static_cast<int64_t>(slice_ms * 1e6)));
  if (o == WaitOutcome::kPending && SteadyNowNs() >= call->lease_deadline) {
    // Still running past its leader's lease: the store loses it (under the
    // shard lock, if nobody did yet), and this caller, with every other
    // one, retries.
    call->lease_deadline = call->store->CheckComputeLease(slot);
    o = slot.outcome();
  }
  const int64_t lease_deadline = call->lease_deadline;
  switch (o) {
    case WaitOutcome::kPending:
      return Tuple(env, {Num(env, 0), Num(env, MsUntil(lease_deadline))});
    case WaitOutcome::kValue:
    case WaitOutcome::kError: {
      const std::shared_ptr<const FlightResult> r = slot.result();
      compute.Remove(token);  // `slot` is gone with it; `r` is ours
      if (o == WaitOutcome::kError) return Tuple(env, {Num(env, 2), ErrorToJs(env, *r)});
      // The leader's value, made a JS value as a get makes one (lib/ decodes
      // it at once).
      ValuePath::Copied c;
      addon.values().CopyOutRaw(r->kind, r->flags, reinterpret_cast<const uint8_t*>(r->bytes.data()), r->bytes.size(),
                                &c);
      return Tuple(env, {Num(env, 1), addon.values().ToJs(env, c)});
    }
    case WaitOutcome::kRetry:
      compute.Remove(token);
      return Tuple(env, {Num(env, 3)});
    case WaitOutcome::kCancelled:
      break;
  }
  compute.Remove(token);
  return Tuple(env, {Num(env, 4)});
}

// computeCancel(token, timedOut)
Napi::Value Cancel(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ComputeEnv& compute = AddonOf(info).compute();
  const uint64_t token = TokenArg(info[0]);
  ComputeEnv::Call* call = compute.Find(token);
  if (call == nullptr || !call->slot) return Napi::Boolean::New(env, false);
  if (!call->slot->Resolve(WaitOutcome::kCancelled, nullptr)) return Napi::Boolean::New(env, false);
  call->store->DetachComputeWait(*call->slot, info[1].ToBoolean().Value());
  compute.Remove(token);
  return Napi::Boolean::New(env, true);
}

// The flight this thread leads under `token` (throws if there is none).
ComputeEnv::Call& LeaderCall(Napi::Env env, ComputeEnv& compute, uint64_t token) {
  ComputeEnv::Call* call = compute.Find(token);
  if (call == nullptr || !call->flight)
    throw Napi::Error::New(env, "threadkv: internal error: no flight led under this token");
  return *call;
}

// computeComplete(handle, token, key, value, ttlMs)
Napi::Value Complete(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ComputeEnv& compute = AddonOf(info).compute();
  const uint64_t token = TokenArg(info[1]);
  ComputeEnv::Call& call = LeaderCall(env, compute, token);
  const std::shared_ptr<Store> store = call.store;
  const std::shared_ptr<Flight> flight = call.flight;
  KeyArg key(env, info[2], *store);
  if (key.view() != flight->key) throw Napi::Error::New(env, "threadkv: internal error: completing another key");
  int64_t expiry = kDefaultExpiry;
  if (info[4].IsNumber()) {  // validated in lib/: undefined for the store's default
    const double ms = info[4].As<Napi::Number>().DoubleValue();
    expiry = std::isinf(ms) ? kNoExpiry : store->DeadlineIn(ms);
  }
  EntryPtr e = MakeValueEntry(env, key, info[3], *store, AddonOf(info).values().TakeInTag(),
                              AddonOf(info).values().TakeInLength(), expiry);
  auto result = std::make_shared<FlightResult>();
  result->kind = e->kind;
  result->flags = e->flags;
  result->bytes.assign(reinterpret_cast<const char*>(e->value_data()), e->value_size);
  const double cost = static_cast<double>(Store::Cost(*e));
  bool stored = false;
  const Status st = store->CompleteCompute(*flight, std::move(e), std::move(result), &stored);
  if (st != Status::kOk) {  // still running: the caller fails it
    CheckWrite(env, *store, st, key.js(), cost);
    Throw(env, kErrInternal, {.store = store->name(), .key = key.js()});
  }
  compute.Remove(token);
  return Napi::Boolean::New(env, stored);
}

// The flight this thread leads under `token`, taken off the records (the
// caller ends it).
ComputeEnv::Call TakeLeaderCall(Napi::Env env, ComputeEnv& compute, uint64_t token) {
  ComputeEnv::Call call = LeaderCall(env, compute, token);
  compute.Remove(token);
  return call;
}

// computeFail(token, errorBytes)
Napi::Value Fail(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto error = std::make_shared<FlightResult>();
  error->kind = Kind::kBytes;
  Napi::Uint8Array bytes = info[1].As<Napi::Uint8Array>();
  error->bytes.assign(reinterpret_cast<const char*>(bytes.Data()), bytes.ByteLength());
  const ComputeEnv::Call call = TakeLeaderCall(env, AddonOf(info).compute(), TokenArg(info[0]));
  call.store->FailCompute(*call.flight, std::move(error));
  return env.Undefined();
}

// computeAbandon(token): the leader gives up (its factory stopped after an
// abort): its joined callers retry.
Napi::Value Abandon(const Napi::CallbackInfo& info) {
  const ComputeEnv::Call call = TakeLeaderCall(info.Env(), AddonOf(info).compute(), TokenArg(info[0]));
  call.store->LoseCompute(*call.flight);
  return info.Env().Undefined();
}

// computeLeaderState(token)
Napi::Value LeaderState(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ComputeEnv::Call* call = AddonOf(info).compute().Find(TokenArg(info[0]));
  if (call == nullptr || !call->flight) return Napi::Number::New(env, static_cast<double>(LeaderView::kLost));
  return Napi::Number::New(env, call->flight->leader_view.load(std::memory_order_acquire));
}

// computeStats(handle)
Napi::Value Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::shared_ptr<Store> store = Addon::Share(env, info[0]);
  FlightCounters c;
  if (store->ComputeStats(&c) == Status::kDestroyed) Throw(env, kErrDestroyed, {.store = store->name()});
  const uint64_t fields[] = {c.loads, c.joined, c.errors, c.timeouts, c.leaders_lost, c.running};
  Napi::Array out = Napi::Array::New(env, std::size(fields));
  for (uint32_t i = 0; i < std::size(fields); ++i) out.Set(i, Napi::Number::New(env, static_cast<double>(fields[i])));
  return out;
}

}  // namespace

void ComputeEnv::Define(napi_env env, napi_value exports, Addon* addon) {
  Napi::Object target(env, exports);
  struct Method {
    const char* name;
    Napi::Value (*fn)(const Napi::CallbackInfo&);
  };
  static constexpr Method kMethods[] = {
      {"computeBegin", &Guarded<&Begin>},
      {"computeWait", &Guarded<&Wait>},
      {"computeCancel", &Guarded<&Cancel>},
      {"computeComplete", &Guarded<&Complete>},
      {"computeFail", &Guarded<&Fail>},
      {"computeAbandon", &Guarded<&Abandon>},
      {"computeLeaderState", &Guarded<&LeaderState>},
      {"computeStats", &Guarded<&Stats>},
  };
  for (const Method& m : kMethods) target.Set(m.name, Napi::Function::New(env, m.fn, m.name, addon));
}

}  // namespace threadkv::binding
