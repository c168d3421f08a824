// The edge of the native functions that are not Addon methods (the waker's
// and getOrCompute's, defined with Napi::Function::New): no exception but a
// Napi::Error may leave a native call (node-addon-api lets any other escape
// the callback, and the process then aborts in std::terminate). Addon
// methods get the same from Addon::Guard.
#pragma once

#include <napi.h>

#include <new>
#include <stdexcept>

#include "addon.h"
#include "errors.h"

namespace threadkv::binding {

// Calls F; a std::bad_alloc (or length_error) becomes the pending
// ERR_THREADKV_OUT_OF_MEMORY error, naming the store when the first
// argument is a handle.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  ThrowOutOfMemoryInCall(info);
  return Napi::Value();
}

}  // namespace threadkv::binding
