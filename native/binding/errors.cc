#include "errors.h"

#include <cmath>
#include <iterator>

#include "addon.h"
#include "convert.h"

namespace threadkv::binding {

void Throw(Napi::Env env, const char* code, const ErrorFacts& facts) {
  Napi::Function factory = ErrorFactory(env);
  if (factory.IsEmpty()) throw Napi::Error::New(env, code);
  auto number_or_undefined = [&](double v) -> napi_value {
    return std::isnan(v) ? env.Undefined() : Napi::Number::New(env, v);
  };
  // Everything the factory gets is made here, before it runs (see errors.h).
  napi_value args[] = {
      Napi::String::New(env, code),
      KeyToJs(env, facts.store),  // store names are WTF-8, like keys
      facts.key != nullptr ? facts.key : static_cast<napi_value>(env.Undefined()),
      number_or_undefined(facts.limit),
      number_or_undefined(facts.actual),
      facts.option != nullptr ? static_cast<napi_value>(Napi::String::New(env, facts.option))
                              : static_cast<napi_value>(env.Undefined()),
      number_or_undefined(facts.stored),
  };
  Napi::Value error = factory.Call(std::size(args), args);
  throw Napi::Error(env, error);
}

void ThrowOutOfMemory(napi_env env, const ErrorFacts& facts) noexcept {
  try {
    Throw(env, kErrOutOfMemory, facts);
  } catch (const Napi::Error& e) {
    // The factory's error, or the factory's own exception: pending either way.
    if (napi_throw(env, e.Value()) == napi_ok) return;
  } catch (...) {
  }
  bool pending = false;
  if (napi_is_exception_pending(env, &pending) == napi_ok && pending) return;
  napi_throw_error(env, kErrOutOfMemory, "threadkv: out of memory; nothing was changed");
}

void CheckWrite(Napi::Env env, const Store& store, Status st, napi_value key, double cost, double stored) {
  switch (st) {
    case Status::kDestroyed:
      Throw(env, kErrDestroyed, {.store = store.name()});
    case Status::kFullEntries:
      Throw(env, kErrStoreFull,
            {.store = store.name(),
             .key = key,
             .limit = static_cast<double>(store.max_entries()),
             .option = "maxEntries",
             .stored = stored});
    case Status::kFullBytes:
      Throw(env, kErrStoreFull,
            {.store = store.name(),
             .key = key,
             .limit = static_cast<double>(store.max_bytes()),
             .option = "maxBytes",
             .stored = stored});
    case Status::kTooBigForLimit:
      Throw(env, kErrOverBudget,
            {.store = store.name(),
             .key = key,
             .limit = static_cast<double>(store.max_bytes()),
             .actual = cost,
             .option = "maxBytes",
             .stored = stored});
    default:
      return;
  }
}

}  // namespace threadkv::binding
