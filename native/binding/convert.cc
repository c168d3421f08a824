#include "convert.h"

#include <cstdint>
#include <cstring>

#include "../core/wtf8.h"
#include "errors.h"
#include "values.h"

namespace threadkv::binding {

namespace {

enum class StrRead { kOk, kNotString, kTooLong };

// A JS string's UTF-16 code units, read with one N-API call when it is short
// (a stack buffer), two when it is long. UTF-16 rather than UTF-8: V8 copies
// its own units out without encoding (callgrind: ~100 instructions less per
// key than napi_get_value_string_utf8), and the exact WTF-8 encoding with
// its all-ASCII and lone-surrogate flags is then one pass of ours
// (wtf8::Measure) instead of a UTF-8 read plus a scan for U+FFFD.
template <size_t kInline>
class Units {
 public:
  // False if `v` is not a string.
  bool Read(napi_env env, napi_value v) {
    size_t n = 0;
    const napi_status st = napi_get_value_string_utf16(env, v, inline_, kInline, &n);
    if (st == napi_string_expected) return false;
    if (st != napi_ok) throw Napi::Error::New(env);
    data_ = inline_;
    if (n + 1 >= kInline) {  // the buffer is full: the string may be longer
      TKV_NAPI(env, napi_get_value_string_utf16(env, v, nullptr, 0, &n));
      heap_.resize(n + 1);
      TKV_NAPI(env, napi_get_value_string_utf16(env, v, heap_.data(), n + 1, &n));
      data_ = heap_.data();
    }
    size_ = n;
    return true;
  }
  const char16_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char16_t inline_[kInline];
  std::u16string heap_;
  const char16_t* data_ = nullptr;
  size_t size_ = 0;
};

// Reads a JS string as WTF-8 into `inline_buf` (if it fits) or `heap`.
// `*info` describes the encoding (its byte length even when over `max_bytes`).
template <size_t kUnits>
StrRead ReadWtf8(napi_env env, napi_value v, Units<kUnits>& units, char* inline_buf, size_t inline_size,
                 std::string* heap, size_t max_bytes, std::string_view* out, wtf8::Utf16Info* info) {
  if (!units.Read(env, v)) return StrRead::kNotString;
  *info = wtf8::Measure(units.data(), units.size());
  if (info->bytes > max_bytes) return StrRead::kTooLong;
  char* dst = inline_buf;
  if (info->bytes > inline_size) {
    heap->resize(info->bytes);
    dst = heap->data();
  }
  wtf8::EncodeUtf16To(units.data(), units.size(), *info, dst);
  *out = std::string_view(dst, info->bytes);
  return StrRead::kOk;
}

}  // namespace

KeyArg::KeyArg(Napi::Env env, napi_value value, const Store& store) : js_(value) {
  Units<kInline> units;
  wtf8::Utf16Info info;
  switch (ReadWtf8(env, value, units, inline_, kInline, &heap_, store.options().max_key_bytes, &view_, &info)) {
    case StrRead::kOk:
      break;
    case StrRead::kNotString:
      Throw(env, kErrKeyType, {.store = store.name(), .key = value});
    case StrRead::kTooLong:
      Throw(env, kErrKeyTooLong,
            {.store = store.name(),
             .key = value,
             .limit = static_cast<double>(store.options().max_key_bytes),
             .actual = static_cast<double>(info.bytes)});
  }
  hash_ = store.Hash(view_);
}

KeyList::KeyList(Napi::Env env, std::span<const napi_value> values, const Store& store) {
  const size_t n = values.size();
  struct Span {
    size_t offset;
    size_t size;
    uint64_t hash;
  };
  std::vector<Span> spans;
  spans.reserve(n);
  for (napi_value v : values) {
    KeyArg key(env, v, store);
    spans.push_back({bytes_.size(), key.view().size(), key.hash()});
    bytes_.append(key.view());
  }
  // Views only once the buffer has stopped growing.
  refs_.reserve(n);
  for (const Span& sp : spans) refs_.push_back({std::string_view(bytes_).substr(sp.offset, sp.size), sp.hash});
}

std::string TextArg(Napi::Env env, napi_value value) {
  Units<128> units;
  if (!units.Read(env, value)) throw Napi::TypeError::New(env, "threadkv: expected a string");
  std::string text;
  wtf8::EncodeUtf16(units.data(), units.size(), &text);
  return text;
}

napi_value KeyToJs(napi_env env, std::string_view wtf8) {
  napi_value out = nullptr;
  // A lone surrogate is encoded as ED A0..BF xx; UTF-8 never has those bytes.
  bool lone = false;
  for (size_t i = 0; i + 1 < wtf8.size(); ++i) {
    if (static_cast<uint8_t>(wtf8[i]) == 0xED && static_cast<uint8_t>(wtf8[i + 1]) >= 0xA0) {
      lone = true;
      break;
    }
  }
  if (!lone) {
    TKV_NAPI(env, napi_create_string_utf8(env, wtf8.data(), wtf8.size(), &out));
  } else {
    std::u16string u16;
    wtf8::DecodeToUtf16(wtf8, &u16);
    TKV_NAPI(env, napi_create_string_utf16(env, u16.data(), u16.size(), &out));
  }
  return out;
}

napi_value ScalarToJs(napi_env env, Kind kind, uint8_t flags, const uint8_t* bytes, size_t size) {
  napi_value out = nullptr;
  switch (kind) {
    case Kind::kString:
      if ((flags & kFlagAscii) != 0) {
        // Latin-1 creation is a plain copy; UTF-8 creation decodes.
        TKV_NAPI(env, napi_create_string_latin1(env, reinterpret_cast<const char*>(bytes), size, &out));
      } else if ((flags & kFlagLoneSurrogates) == 0) {
        TKV_NAPI(env, napi_create_string_utf8(env, reinterpret_cast<const char*>(bytes), size, &out));
      } else {
        std::u16string u16;
        wtf8::DecodeToUtf16({reinterpret_cast<const char*>(bytes), size}, &u16);
        TKV_NAPI(env, napi_create_string_utf16(env, u16.data(), u16.size(), &out));
      }
      return out;
    case Kind::kFloat64: {
      double d;
      std::memcpy(&d, bytes, sizeof d);
      TKV_NAPI(env, napi_create_double(env, d, &out));
      return out;
    }
    case Kind::kInt64: {
      int64_t i;
      std::memcpy(&i, bytes, sizeof i);
      TKV_NAPI(env, napi_create_double(env, static_cast<double>(i), &out));
      return out;
    }
    case Kind::kTrue:
    case Kind::kFalse:
      TKV_NAPI(env, napi_get_boolean(env, kind == Kind::kTrue, &out));
      return out;
    case Kind::kNull:
      TKV_NAPI(env, napi_get_null(env, &out));
      return out;
    case Kind::kUndefined:
      TKV_NAPI(env, napi_get_undefined(env, &out));
      return out;
    case Kind::kBytes:
      break;
  }
  return nullptr;
}

void ValueList::Add(const Entry& e) {
  if (e.kind != Kind::kBytes) {
    items_.push_back({e.kind, e.flags, true, bytes_.size(), e.value_size});
    bytes_.append(reinterpret_cast<const char*>(e.value_data()), e.value_size);
    return;
  }
  // [format byte][bytes], the bytes 8-aligned in the arena (typed arrays
  // over them need their element alignment).
  const size_t at = ((bytes_.size() + 1 + 7) & ~size_t{7});
  bytes_.resize(at - 1, '\0');
  bytes_.push_back(static_cast<char>(e.flags));
  items_.push_back({e.kind, e.flags, true, at, e.value_size});
  bytes_.append(reinterpret_cast<const char*>(e.value_data()), e.value_size);
}

void ValueList::AddAbsent() { items_.push_back({Kind::kUndefined, 0, false, 0, 0}); }

napi_value ValueList::ToJs(napi_env env, ValuePath& values, size_t i) {
  const Item& it = items_[i];
  auto* bytes = reinterpret_cast<uint8_t*>(bytes_.data()) + it.offset;
  if (napi_value v = ScalarToJs(env, it.kind, it.flags, bytes, it.size)) return v;
  napi_value out = nullptr;
  if (arena_ == nullptr) {
    // Shapes are named in our copy before the arena is made from it.
    for (const Item& x : items_) {
      if (x.present && x.kind == Kind::kBytes && fmt::IsObject(x.flags))
        values.NameShapes(env, reinterpret_cast<uint8_t*>(bytes_.data()) + x.offset, x.size);
    }
    uint8_t* data = nullptr;
    arena_ = values.NewSlab(env, bytes_.size(), &data);
    if (!bytes_.empty()) std::memcpy(data, bytes_.data(), bytes_.size());
  }
  TKV_NAPI(env, napi_create_typedarray(env, napi_uint8_array, it.size + 1, arena_, it.offset - 1, &out));
  return out;
}

namespace {

// The bytes of a binary JS value (TypedArray, DataView, ArrayBuffer) and the
// format it is stored as; false if `value` is none of them.
bool BinaryArg(napi_env env, napi_value value, const uint8_t** data, size_t* size, uint8_t* format, bool* detached) {
  bool is = false;
  napi_value ab = nullptr;
  TKV_NAPI(env, napi_is_typedarray(env, value, &is));
  if (is) {
    napi_typedarray_type type;
    size_t length;
    void* ptr;
    TKV_NAPI(env, napi_get_typedarray_info(env, value, &type, &length, &ptr, &ab, nullptr));
    switch (type) {
      case napi_int8_array:
        *format = fmt::kInt8Array;
        break;
      case napi_uint8_clamped_array:
        *format = fmt::kUint8ClampedArray;
        break;
      case napi_int16_array:
        *format = fmt::kInt16Array;
        break;
      case napi_uint16_array:
        *format = fmt::kUint16Array;
        break;
      case napi_int32_array:
        *format = fmt::kInt32Array;
        break;
      case napi_uint32_array:
        *format = fmt::kUint32Array;
        break;
      case napi_float32_array:
        *format = fmt::kFloat32Array;
        break;
      case napi_float64_array:
        *format = fmt::kFloat64Array;
        break;
      case napi_bigint64_array:
        *format = fmt::kBigInt64Array;
        break;
      case napi_biguint64_array:
        *format = fmt::kBigUint64Array;
        break;
      default:
        *format = fmt::kUint8Array;
    }
    *data = static_cast<const uint8_t*>(ptr);
    *size = length * ElementSize(*format);
  } else {
    TKV_NAPI(env, napi_is_dataview(env, value, &is));
    if (is) {
      void* ptr;
      TKV_NAPI(env, napi_get_dataview_info(env, value, size, &ptr, &ab, nullptr));
      *data = static_cast<const uint8_t*>(ptr);
      *format = fmt::kDataView;
    } else {
      TKV_NAPI(env, napi_is_arraybuffer(env, value, &is));
      if (!is) return false;
      void* ptr;
      TKV_NAPI(env, napi_get_arraybuffer_info(env, value, &ptr, size));
      *data = static_cast<const uint8_t*>(ptr);
      *format = fmt::kArrayBuffer;
      ab = value;
    }
  }
  // A detached buffer reads as 0 bytes: refuse it rather than store nothing.
  // (lib/codec.ts also refuses views that are out of bounds of a shrunk
  // resizable buffer, which N-API cannot see.)
  *detached = false;
  if (*size == 0 && ab != nullptr) TKV_NAPI(env, napi_is_detached_arraybuffer(env, ab, detached));
  return true;
}

}  // namespace

EntryPtr MakeValueEntry(Napi::Env env, const KeyArg& key, napi_value value, const Store& store, int32_t tag,
                        size_t length, int64_t expires_at) {
  const size_t max = store.options().max_value_bytes;
  auto too_large = [&](size_t actual) {
    Throw(env, kErrValueTooLarge,
          {.store = store.name(),
           .key = key.js(),
           .limit = static_cast<double>(max),
           .actual = static_cast<double>(actual)});
  };
  {
    // Strings first, without napi_typeof: reading the units is the type
    // check (the commonest value kind pays one N-API call, not two). A
    // string longer than the limit never gets here: lib/codec.ts refuses it
    // from its length, before any copy.
    Units<256> units;
    if (units.Read(env, value)) {
      const wtf8::Utf16Info info = wtf8::Measure(units.data(), units.size());
      if (info.bytes > max) too_large(info.bytes);
      const uint8_t flags = (info.lone ? kFlagLoneSurrogates : 0) | (info.ascii ? kFlagAscii : 0);
      EntryPtr e = store.NewEntry(key.view(), info.bytes, Kind::kString, flags, expires_at);
      wtf8::EncodeUtf16To(units.data(), units.size(), info, reinterpret_cast<char*>(e->value_data()));
      return e;
    }
  }
  napi_valuetype type;
  TKV_NAPI(env, napi_typeof(env, value, &type));
  switch (type) {
    case napi_number: {
      double d;
      TKV_NAPI(env, napi_get_value_double(env, value, &d));
      if (sizeof d > max) too_large(sizeof d);
      EntryPtr e = store.NewEntry(key.view(), sizeof d, Kind::kFloat64, 0, expires_at);
      std::memcpy(e->value_data(), &d, sizeof d);
      return e;
    }
    case napi_boolean: {
      bool b;
      TKV_NAPI(env, napi_get_value_bool(env, value, &b));
      return store.NewEntry(key.view(), 0, b ? Kind::kTrue : Kind::kFalse, 0, expires_at);
    }
    case napi_null:
      return store.NewEntry(key.view(), 0, Kind::kNull, 0, expires_at);
    case napi_undefined:
      return store.NewEntry(key.view(), 0, Kind::kUndefined, 0, expires_at);
    case napi_object: {
      const uint8_t* data = nullptr;
      size_t size = 0;
      uint8_t format = 0;
      bool detached = false;
      if (!BinaryArg(env, value, &data, &size, &format, &detached) || detached)
        Throw(env, kErrValueType, {.store = store.name(), .key = key.js()});
      // What the bytes are: a binary value of the format read above (a
      // Buffer, when JS says so), or bytes that lib/ encoded (the tag).
      if (tag == kTagDeriveBinary) {
        // as read
      } else if (tag == fmt::kBuffer) {
        if (format != fmt::kUint8Array) Throw(env, kErrInternal, {.store = store.name(), .key = key.js()});
        format = fmt::kBuffer;
      } else if (tag == fmt::kCodec || fmt::IsObject(static_cast<uint8_t>(tag))) {
        format = static_cast<uint8_t>(tag);
        // lib/ passes its reused encoding buffer whole, with the length used.
        if (length != 0 && length <= size) size = length;
      } else {
        Throw(env, kErrInternal, {.store = store.name(), .key = key.js()});
      }
      if (size > max) too_large(size);
      EntryPtr e = store.NewEntry(key.view(), size, Kind::kBytes, format, expires_at);
      if (size != 0) std::memcpy(e->value_data(), data, size);
      return e;
    }
    default:
      Throw(env, kErrValueType, {.store = store.name(), .key = key.js()});
  }
}

}  // namespace threadkv::binding
