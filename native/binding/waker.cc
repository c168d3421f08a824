#include "waker.h"

#include <napi.h>

#include <utility>

#include "addon.h"
#include "guard.h"

namespace threadkv::binding {

Waker::Waker(napi_env env, napi_value dispatch) : env_(env) {
  napi_value name;
  if (napi_create_string_utf8(env, "threadkv:wake", NAPI_AUTO_LENGTH, &name) != napi_ok ||
      napi_create_threadsafe_function(env, dispatch, nullptr, name, 0, 1, nullptr, nullptr, this, &Waker::CallJs,
                                      &tsfn_) != napi_ok) {
    throw Napi::Error::New(env, "threadkv: could not create the thread-safe function of this thread's waker");
  }
  // Idle wakers never keep a thread alive (Ref(true) while something waits).
  napi_unref_threadsafe_function(env, tsfn_);
  napi_threadsafe_function tsfn = tsfn_;
  notifier_ = std::make_shared<Notifier>(
      [tsfn] { return napi_call_threadsafe_function(tsfn, nullptr, napi_tsfn_nonblocking) == napi_ok; });
  // After the thread-safe function: cleanup hooks run in reverse order of
  // registration, so this one runs before Node's cleanup of the function.
  if (napi_add_env_cleanup_hook(env, &Waker::Cleanup, this) != napi_ok) {
    notifier_->Shutdown();
    napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
    stopped_ = true;
    throw Napi::Error::New(env, "threadkv: could not register this thread's waker cleanup");
  }
}

Waker::~Waker() {
  // Normally stopped by Cleanup() already; this only guards against an
  // Addon torn down some other way (then the hook must not run later).
  if (!stopped_) {
    napi_remove_env_cleanup_hook(env_, &Waker::Cleanup, this);
    Stop();
  }
}

void Waker::Ref(bool on) {
  if (stopped_ || on == refed_) return;
  refed_ = on;
  if (on)
    napi_ref_threadsafe_function(env_, tsfn_);
  else
    napi_unref_threadsafe_function(env_, tsfn_);
}

void Waker::Stop() {
  if (stopped_) return;
  stopped_ = true;
  // First: from here on no thread calls the thread-safe function (Notify
  // and Shutdown share the notifier's mutex, and Shutdown waits for a call
  // in progress). Then the function can go.
  notifier_->Shutdown();
  napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  std::vector<std::function<void()>> hooks = std::move(teardown_);
  teardown_.clear();
  for (std::function<void()>& fn : hooks) {
    try {
      fn();
    } catch (...) {
      // Out of memory in an environment's teardown: nothing to report to,
      // and the other hooks must still run.
    }
  }
}

void Waker::Cleanup(void* arg) { static_cast<Waker*>(arg)->Stop(); }

void Waker::CallJs(napi_env env, napi_value js_cb, void* context, void* /*data*/) {
  // A null env: the function is being torn down with calls still queued;
  // there is nothing to free (calls carry no data) and no JS to run.
  if (env == nullptr || js_cb == nullptr || context == nullptr) return;
  auto* self = static_cast<Waker*>(context);
  if (self->stopped_) return;
  try {
    self->Dispatch(env, js_cb);
  } catch (...) {
    // Out of memory: the tokens of this turn are lost; their waiters look
    // again at their own timers (lease, waitTimeoutMs).
  }
}

void Waker::Dispatch(napi_env env, napi_value js_cb) {
  drained_.clear();
  const size_t n = notifier_->Drain(&drained_);
  if (n == 0) return;
  // A Float64Array written in place: no element setter (user code) runs.
  void* data = nullptr;
  napi_value buffer;
  napi_value tokens;
  if (napi_create_arraybuffer(env, n * sizeof(double), &data, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, n, buffer, 0, &tokens) != napi_ok)
    return;
  auto* cells = static_cast<double*>(data);
  for (size_t i = 0; i < n; ++i) cells[i] = static_cast<double>(drained_[i]);
  napi_value undefined;
  napi_get_undefined(env, &undefined);
  if (napi_call_function(env, undefined, js_cb, 1, &tokens, nullptr) != napi_ok) {
    // The dispatcher (lib/waker.ts) catches its handlers' errors itself, so
    // this is the environment terminating: nothing to report.
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
  }
}

namespace {

Addon& AddonOf(const Napi::CallbackInfo& info) { return *static_cast<Addon*>(info.Data()); }

// wakerStart(dispatch): makes this environment's waker (once).
Napi::Value WakerStart(const Napi::CallbackInfo& info) {
  Addon& addon = AddonOf(info);
  if (addon.waker() == nullptr) {
    if (!info[0].IsFunction()) throw Napi::TypeError::New(info.Env(), "threadkv: wakerStart needs a function");
    addon.set_waker(std::make_unique<Waker>(info.Env(), info[0]));
  }
  return info.Env().Undefined();
}

// wakerRef(on): whether the waker keeps this thread's event loop alive.
Napi::Value WakerRef(const Napi::CallbackInfo& info) {
  if (Waker* w = AddonOf(info).waker()) w->Ref(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

// wakerStop(): this thread is exiting ('exit' event).
Napi::Value WakerStop(const Napi::CallbackInfo& info) {
  if (Waker* w = AddonOf(info).waker()) w->Stop();
  return info.Env().Undefined();
}

}  // namespace

void Waker::Define(napi_env env, napi_value exports, Addon* addon) {
  Napi::Object target(env, exports);
  target.Set("wakerStart", Napi::Function::New(env, &Guarded<&WakerStart>, "wakerStart", addon));
  target.Set("wakerRef", Napi::Function::New(env, &Guarded<&WakerRef>, "wakerRef", addon));
  target.Set("wakerStop", Napi::Function::New(env, &Guarded<&WakerStop>, "wakerStop", addon));
}

}  // namespace threadkv::binding
