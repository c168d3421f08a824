// Turns core outcomes into JS exceptions. Every message is written in
// lib/errors.ts: the binding calls the factory that lib/native.ts registers
// at load (per environment) with a stable code and the facts, and throws what
// it returns.
#pragma once

#include <napi.h>

#include <cstdint>
#include <limits>
#include <string_view>

// Throws the pending JS exception (or a generic one) when a napi_* call fails.
#define TKV_NAPI(env, call)                                  \
  do {                                                       \
    if ((call) != napi_ok) throw ::Napi::Error::New(env);    \
  } while (0)

namespace threadkv::binding {

// Stable error codes; lib/errors.ts has the same list.
inline constexpr const char* kErrKeyType = "ERR_THREADKV_KEY_TYPE";
inline constexpr const char* kErrKeyTooLong = "ERR_THREADKV_KEY_TOO_LONG";
inline constexpr const char* kErrValueType = "ERR_THREADKV_VALUE_TYPE";
inline constexpr const char* kErrValueTooLarge = "ERR_THREADKV_VALUE_TOO_LARGE";
inline constexpr const char* kErrClosed = "ERR_THREADKV_CLOSED";
inline constexpr const char* kErrDestroyed = "ERR_THREADKV_DESTROYED";
inline constexpr const char* kErrOptionMismatch = "ERR_THREADKV_OPTION_MISMATCH";
inline constexpr const char* kErrInternal = "ERR_THREADKV_INTERNAL";
inline constexpr const char* kErrNotANumber = "ERR_THREADKV_NOT_A_NUMBER";
inline constexpr const char* kErrCounterRange = "ERR_THREADKV_COUNTER_RANGE";
inline constexpr const char* kErrStoreFull = "ERR_THREADKV_STORE_FULL";
inline constexpr const char* kErrOverBudget = "ERR_THREADKV_OVER_BUDGET";

// A numeric fact that is absent (passed to JS as undefined).
inline constexpr double kNoFact = std::numeric_limits<double>::quiet_NaN();

struct ErrorFacts {
  std::string_view store;        // store name
  napi_value key = nullptr;      // the JS key, when the error is about one key
  double limit = kNoFact;        // the limit that was passed, if any
  double actual = kNoFact;       // the size (or number) that passed it, if any
  const char* option = nullptr;  // the option name, for option errors
};

// Builds the error through the registered factory and throws it as a C++
// Napi::Error (node-addon-api rethrows it into JS when the method returns).
[[noreturn]] void Throw(Napi::Env env, const char* code, const ErrorFacts& facts);

}  // namespace threadkv::binding
