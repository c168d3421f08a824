#include "convert.h"

#include <cstdint>
#include <cstring>

#include "../core/wtf8.h"
#include "errors.h"

namespace threadkv::binding {

namespace {

enum class StrRead { kOk, kNotString, kTooLong };

// Reads a JS string as WTF-8 into `inline_buf` (if it fits) or `heap`.
// `*len_out` is the byte length, even when it is over `max_bytes`.
// `*lone` is set when the text holds a lone surrogate.
StrRead ReadWtf8(napi_env env, napi_value v, char* inline_buf, size_t inline_size, std::string* heap,
                 size_t max_bytes, std::string_view* out, size_t* len_out, bool* lone) {
  size_t len = 0;
  napi_status st = napi_get_value_string_utf8(env, v, inline_buf, inline_size, &len);
  if (st == napi_string_expected) return StrRead::kNotString;
  if (st != napi_ok) throw Napi::Error::New(env);
  const char* data = inline_buf;
  // V8 never splits a character, so a copy that stops within 4 bytes of the
  // end may have been cut short: ask for the full length.
  if (len + 4 >= inline_size) {
    TKV_NAPI(env, napi_get_value_string_utf8(env, v, nullptr, 0, &len));
    *len_out = len;
    if (len > max_bytes) return StrRead::kTooLong;
    heap->resize(len + 1);
    TKV_NAPI(env, napi_get_value_string_utf8(env, v, heap->data(), len + 1, &len));
    heap->resize(len);
    data = heap->data();
  }
  *len_out = len;
  if (len > max_bytes) return StrRead::kTooLong;
  std::string_view text(data, len);
  *lone = false;
  if (wtf8::MayHaveReplacement(text)) {
    // U+FFFD may stand for a lone surrogate that UTF-8 conversion replaced:
    // re-read as UTF-16 and encode exactly.
    size_t units = 0;
    TKV_NAPI(env, napi_get_value_string_utf16(env, v, nullptr, 0, &units));
    std::u16string u16(units + 1, u'\0');
    TKV_NAPI(env, napi_get_value_string_utf16(env, v, u16.data(), units + 1, &units));
    std::string exact;
    *lone = wtf8::EncodeUtf16(u16.data(), units, &exact);
    *heap = std::move(exact);
    text = *heap;
  }
  *out = text;
  return StrRead::kOk;
}

}  // namespace

KeyArg::KeyArg(Napi::Env env, napi_value value, const Store& store) : js_(value) {
  size_t len = 0;
  bool lone = false;
  switch (ReadWtf8(env, value, inline_, kInline, &heap_, store.options().max_key_bytes, &view_, &len, &lone)) {
    case StrRead::kOk:
      break;
    case StrRead::kNotString:
      Throw(env, kErrKeyType, {.store = store.name(), .key = value});
    case StrRead::kTooLong:
      Throw(env, kErrKeyTooLong,
            {.store = store.name(), .key = value, .limit = static_cast<double>(store.options().max_key_bytes),
             .actual = static_cast<double>(len)});
  }
  hash_ = store.Hash(view_);
}

KeyList::KeyList(Napi::Env env, napi_value array, const Store& store) {
  uint32_t n = 0;
  TKV_NAPI(env, napi_get_array_length(env, array, &n));
  struct Span {
    size_t offset;
    size_t size;
    uint64_t hash;
  };
  std::vector<Span> spans;
  spans.reserve(n);
  for (uint32_t i = 0; i < n; ++i) {
    napi_value v;
    TKV_NAPI(env, napi_get_element(env, array, i, &v));
    KeyArg key(env, v, store);
    spans.push_back({bytes_.size(), key.view().size(), key.hash()});
    bytes_.append(key.view());
  }
  // Views only once the buffer has stopped growing.
  refs_.reserve(n);
  for (const Span& sp : spans) refs_.push_back({std::string_view(bytes_).substr(sp.offset, sp.size), sp.hash});
}

std::string TextArg(Napi::Env env, napi_value value) {
  char buf[256];
  std::string heap;
  std::string_view text;
  size_t len = 0;
  bool lone = false;
  if (ReadWtf8(env, value, buf, sizeof buf, &heap, SIZE_MAX, &text, &len, &lone) != StrRead::kOk)
    throw Napi::TypeError::New(env, "threadkv: expected a string");
  return std::string(text);
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
      if ((flags & kFlagLoneSurrogates) == 0) {
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
  items_.push_back({e.kind, e.flags, true, bytes_.size(), e.value_size});
  bytes_.append(reinterpret_cast<const char*>(e.value_data()), e.value_size);
}

void ValueList::AddAbsent() { items_.push_back({Kind::kUndefined, 0, false, 0, 0}); }

napi_value ValueList::ToJs(napi_env env, Codec codec, size_t i) {
  const Item& it = items_[i];
  const auto* bytes = reinterpret_cast<const uint8_t*>(bytes_.data()) + it.offset;
  if (napi_value v = ScalarToJs(env, it.kind, it.flags, bytes, it.size)) return v;
  napi_value out = nullptr;
  if (codec == Codec::kBuffer) {
    TKV_NAPI(env, napi_create_buffer_copy(env, it.size, bytes, nullptr, &out));
    return out;
  }
  if (arena_ == nullptr) {
    void* data = nullptr;
    TKV_NAPI(env, napi_create_arraybuffer(env, bytes_.size(), &data, &arena_));
    if (!bytes_.empty()) std::memcpy(data, bytes_.data(), bytes_.size());
  }
  TKV_NAPI(env, napi_create_typedarray(env, napi_uint8_array, it.size, arena_, it.offset, &out));
  return out;
}

EntryPtr MakeValueEntry(Napi::Env env, const KeyArg& key, napi_value value, const Store& store) {
  napi_valuetype type;
  TKV_NAPI(env, napi_typeof(env, value, &type));
  const size_t max = store.options().max_value_bytes;
  auto too_large = [&](size_t actual) {
    Throw(env, kErrValueTooLarge,
          {.store = store.name(), .key = key.js(), .limit = static_cast<double>(max),
           .actual = static_cast<double>(actual)});
  };
  switch (type) {
    case napi_string: {
      char buf[512];
      std::string heap;
      std::string_view text;
      size_t len = 0;
      bool lone = false;
      if (ReadWtf8(env, value, buf, sizeof buf, &heap, max, &text, &len, &lone) == StrRead::kTooLong)
        too_large(len);
      if (text.size() > max) too_large(text.size());
      EntryPtr e = store.NewEntry(key.view(), text.size(), Kind::kString, lone ? kFlagLoneSurrogates : 0);
      if (!text.empty()) std::memcpy(e->value_data(), text.data(), text.size());
      return e;
    }
    case napi_number: {
      double d;
      TKV_NAPI(env, napi_get_value_double(env, value, &d));
      if (sizeof d > max) too_large(sizeof d);
      EntryPtr e = store.NewEntry(key.view(), sizeof d, Kind::kFloat64);
      std::memcpy(e->value_data(), &d, sizeof d);
      return e;
    }
    case napi_boolean: {
      bool b;
      TKV_NAPI(env, napi_get_value_bool(env, value, &b));
      return store.NewEntry(key.view(), 0, b ? Kind::kTrue : Kind::kFalse);
    }
    case napi_null:
      return store.NewEntry(key.view(), 0, Kind::kNull);
    case napi_undefined:
      return store.NewEntry(key.view(), 0, Kind::kUndefined);
    case napi_object: {
      const uint8_t* data = nullptr;
      size_t size = 0;
      bool is = false;
      TKV_NAPI(env, napi_is_typedarray(env, value, &is));
      if (is) {
        napi_typedarray_type ta_type;
        size_t length;
        void* ptr;
        TKV_NAPI(env, napi_get_typedarray_info(env, value, &ta_type, &length, &ptr, nullptr, nullptr));
        size_t elem = 1;
        switch (ta_type) {
          case napi_int16_array:
          case napi_uint16_array:
            elem = 2;
            break;
          case napi_int32_array:
          case napi_uint32_array:
          case napi_float32_array:
            elem = 4;
            break;
          case napi_float64_array:
          case napi_bigint64_array:
          case napi_biguint64_array:
            elem = 8;
            break;
          default:
            elem = 1;
        }
        data = static_cast<const uint8_t*>(ptr);
        size = length * elem;
      } else {
        NAPI_THROW_IF_FAILED(env, napi_is_dataview(env, value, &is));
        if (is) {
          void* ptr;
          TKV_NAPI(env, napi_get_dataview_info(env, value, &size, &ptr, nullptr, nullptr));
          data = static_cast<const uint8_t*>(ptr);
        } else {
          TKV_NAPI(env, napi_is_arraybuffer(env, value, &is));
          if (!is) Throw(env, kErrValueType, {.store = store.name(), .key = key.js()});
          void* ptr;
          TKV_NAPI(env, napi_get_arraybuffer_info(env, value, &ptr, &size));
          data = static_cast<const uint8_t*>(ptr);
        }
      }
      if (size > max) too_large(size);
      EntryPtr e = store.NewEntry(key.view(), size, Kind::kBytes);
      if (size != 0) std::memcpy(e->value_data(), data, size);
      return e;
    }
    default:
      Throw(env, kErrValueType, {.store = store.name(), .key = key.js()});
  }
}

}  // namespace threadkv::binding
