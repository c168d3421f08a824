// Argument conversion between JS values and the core's byte strings. The
// fast paths use raw napi_* calls: one call to read a short key into a stack
// buffer, one to create the result.
#pragma once

#include <napi.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "../core/entry.h"
#include "../core/store.h"

namespace threadkv::binding {

// A JS string key as WTF-8 bytes. Short keys live in an inline buffer.
class KeyArg {
 public:
  // Reads `value` as a key of `store`; throws the JS TypeError/RangeError.
  KeyArg(Napi::Env env, napi_value value, const Store& store);
  KeyArg(const KeyArg&) = delete;
  KeyArg& operator=(const KeyArg&) = delete;

  std::string_view view() const { return view_; }
  uint64_t hash() const { return hash_; }
  napi_value js() const { return js_; }

 private:
  static constexpr size_t kInline = 192;
  char inline_[kInline];
  std::string heap_;
  std::string_view view_;
  uint64_t hash_;
  napi_value js_;
};

// Builds an entry for `key` holding the JS value `value`: a string, number,
// boolean, null, undefined, or the bytes of a TypedArray, DataView or
// ArrayBuffer. Throws the JS TypeError/RangeError (naming the key) when the
// value has another type or is over the store's max_value_bytes.
EntryPtr MakeValueEntry(Napi::Env env, const KeyArg& key, napi_value value, const Store& store);

}  // namespace threadkv::binding
