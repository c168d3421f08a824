#include "errors.h"

#include <cmath>

#include "addon.h"
#include "convert.h"

namespace threadkv::binding {

void Throw(Napi::Env env, const char* code, const ErrorFacts& facts) {
  Napi::Function factory = ErrorFactory(env);
  if (factory.IsEmpty()) throw Napi::Error::New(env, code);
  auto number_or_undefined = [&](double v) -> napi_value {
    return std::isnan(v) ? env.Undefined() : Napi::Number::New(env, v);
  };
  napi_value args[] = {
      Napi::String::New(env, code),
      KeyToJs(env, facts.store),  // store names are WTF-8, like keys
      facts.key != nullptr ? facts.key : static_cast<napi_value>(env.Undefined()),
      number_or_undefined(facts.limit),
      number_or_undefined(facts.actual),
      facts.option != nullptr ? static_cast<napi_value>(Napi::String::New(env, facts.option))
                              : static_cast<napi_value>(env.Undefined()),
  };
  Napi::Value error = factory.Call(6, args);
  throw Napi::Error(env, error);
}

}  // namespace threadkv::binding
