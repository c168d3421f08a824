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
#define TKV_NAPI(env, call)                               \
  do {                                                    \
    if ((call) != napi_ok) throw ::Napi::Error::New(env); \
  } while (0)

namespace threadkv {
class Store;
enum class Status : uint8_t;
}  // namespace threadkv

namespace threadkv::binding {

// Stable error codes of the errors the binding throws. setup() hands this
// list to lib/ (kErrorCodes below), and a unit test checks that
// lib/errors.ts's ErrorCode (the typed, public list) has the same values.
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
inline constexpr const char* kErrOutOfMemory = "ERR_THREADKV_OUT_OF_MEMORY";
inline constexpr const char* kErrInvalidArgument = "ERR_THREADKV_INVALID_ARGUMENT";

// Every code above, by the name lib/errors.ts's ErrorCode gives it.
struct NamedCode {
  const char* name;
  const char* code;
};
inline constexpr NamedCode kErrorCodes[] = {
    {"KEY_TYPE", kErrKeyType},
    {"KEY_TOO_LONG", kErrKeyTooLong},
    {"VALUE_TYPE", kErrValueType},
    {"VALUE_TOO_LARGE", kErrValueTooLarge},
    {"CLOSED", kErrClosed},
    {"DESTROYED", kErrDestroyed},
    {"OPTION_MISMATCH", kErrOptionMismatch},
    {"INTERNAL", kErrInternal},
    {"NOT_A_NUMBER", kErrNotANumber},
    {"COUNTER_RANGE", kErrCounterRange},
    {"STORE_FULL", kErrStoreFull},
    {"OVER_BUDGET", kErrOverBudget},
    {"OUT_OF_MEMORY", kErrOutOfMemory},
    {"INVALID_ARGUMENT", kErrInvalidArgument},
};

// A numeric fact that is absent (passed to JS as undefined).
inline constexpr double kNoFact = std::numeric_limits<double>::quiet_NaN();

struct ErrorFacts {
  std::string_view store;        // store name
  napi_value key = nullptr;      // the JS key, when the error is about one key
  double limit = kNoFact;        // the limit that was passed, if any
  double actual = kNoFact;       // the size (or number) that passed it, if any
  const char* option = nullptr;  // the option (or argument) name, for option and argument errors
  double stored = kNoFact;       // a refused non-atomic batch: how many of its first entries were stored
};

// Builds the error through the registered factory and throws it as a C++
// Napi::Error (node-addon-api rethrows it into JS when the method returns).
//
// The factory is JavaScript (lib/errors.ts makeError), and a user may have
// tampered with what it uses (String.prototype, a getter...): treat it as
// code that can do anything, Store.destroy() and close() included. Every
// fact is converted to a JS value before the factory runs, and Throw never
// returns: no caller can touch a store (or anything else the factory could
// free) after it. Callers hold no lock when they call it.
[[noreturn]] void Throw(Napi::Env env, const char* code, const ErrorFacts& facts);

// Throws for the outcomes of a write that are errors: a destroyed store, or
// a capacity limit (`key` is the JS key, or null for a batch; `cost` the
// entry's cost against the byte limit, or NaN when unknown; `stored`, for a
// non-atomic batch refused part-way, how many of its first entries were
// stored). Returns for every other status (kOk among them).
void CheckWrite(Napi::Env env, const Store& store, Status st, napi_value key, double cost, double stored = kNoFact);

// For a std::bad_alloc caught at the edge of a native call: makes the
// ERR_THREADKV_OUT_OF_MEMORY error pending (through the factory when it
// works, else a plain Error with that code: this path must not throw).
// `facts.key` may be null; `facts.stored` is set for a partial batch.
void ThrowOutOfMemory(napi_env env, const ErrorFacts& facts) noexcept;

}  // namespace threadkv::binding
