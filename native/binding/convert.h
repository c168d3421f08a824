// Argument conversion between JS values and the core's byte strings. The
// fast paths use raw napi_* calls: one call to read a short key into a stack
// buffer, one to create the result.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

class ValuePath;

// Builds an entry for `key` holding the JS value `value`: a string, number,
// boolean, null, undefined, or the bytes of a TypedArray, DataView or
// ArrayBuffer, stored with the format `tag` says (values.h: kTagDeriveBinary
// for a binary value as it is, fmt::kBuffer for a Node Buffer, fmt::kObject*
// or fmt::kCodec for bytes lib/ encoded). Throws the JS TypeError/RangeError
// (naming the key) when the value has another type, is a view of a detached
// buffer, or is over the store's max_value_bytes. `length`, for bytes lib/
// encoded: how many of the view's bytes are the value (0: all).
// `expires_at`: the entry's deadline (Store::NewEntry lays it out for it).
EntryPtr MakeValueEntry(Napi::Env env, const KeyArg& key, napi_value value, const Store& store, int32_t tag,
                        size_t length = 0, int64_t expires_at = kDefaultExpiry);

// Keys (the elements of a JS array, already read: see Elements in
// addon.cc), converted as KeyArg converts one (same errors, naming the
// offending key), into one buffer. Every key is converted before any is used.
class KeyList {
 public:
  KeyList(Napi::Env env, std::span<const napi_value> values, const Store& store);
  KeyList(const KeyList&) = delete;
  KeyList& operator=(const KeyList&) = delete;

  // The keys with their hashes, in array order (views into this object).
  const std::vector<KeyRef>& refs() const { return refs_; }

 private:
  std::string bytes_;
  std::vector<KeyRef> refs_;
};

// The WTF-8 bytes of any JS string, with no length limit (a prefix).
// Throws a TypeError if `value` is not a string.
std::string TextArg(Napi::Env env, napi_value value);

// A JS string from stored WTF-8 key bytes, exactly the string that was
// stored (lone surrogates included).
napi_value KeyToJs(napi_env env, std::string_view wtf8);

// Values copied out of entries under a lock (Add), turned into JS values
// after it (ToJs). A kBytes value becomes a Uint8Array view into one
// ArrayBuffer shared by the list (untransferable, from the slab factory):
// its first byte is the value's format (values.h, fmt), the value's bytes
// follow, 8-aligned; lib/codec.ts makes the value from them.
class ValueList {
 public:
  void Add(const Entry& e);
  void AddAbsent();
  void Reserve(size_t n) { items_.reserve(n); }
  size_t size() const { return items_.size(); }
  napi_value ToJs(napi_env env, ValuePath& values, size_t i);

 private:
  struct Item {
    Kind kind;
    uint8_t flags;
    bool present;
    size_t offset;
    size_t size;
  };
  std::vector<Item> items_;
  std::string bytes_;
  napi_value arena_ = nullptr;  // created by the first ToJs that needs it
};

// A JS value from a stored value's bytes, for every kind but kBytes (which
// needs the codec and the caller's buffer policy): returns null for kBytes.
napi_value ScalarToJs(napi_env env, Kind kind, uint8_t flags, const uint8_t* bytes, size_t size);

}  // namespace threadkv::binding
