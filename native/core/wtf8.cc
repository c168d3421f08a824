#include "wtf8.h"

#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace threadkv::wtf8 {

bool MayHaveReplacement(std::string_view s) {
  for (size_t i = 0; i + 2 < s.size(); ++i) {
    if (static_cast<unsigned char>(s[i]) == 0xEF && static_cast<unsigned char>(s[i + 1]) == 0xBF &&
        static_cast<unsigned char>(s[i + 2]) == 0xBD)
      return true;
  }
  return false;
}

namespace {

inline bool IsHigh(char16_t u) { return u >= 0xD800 && u <= 0xDBFF; }
inline bool IsLow(char16_t u) { return u >= 0xDC00 && u <= 0xDFFF; }

}  // namespace

size_t EncodedLength(const char16_t* u, size_t n) {
  size_t len = 0;
  for (size_t i = 0; i < n; ++i) {
    const char16_t c = u[i];
    if (c < 0x80) {
      len += 1;
    } else if (c < 0x800) {
      len += 2;
    } else if (IsHigh(c) && i + 1 < n && IsLow(u[i + 1])) {
      len += 4;
      ++i;
    } else {
      len += 3;  // BMP character, or a lone surrogate
    }
  }
  return len;
}

namespace {

// Short strings (keys, small values) dominate: these walk four units per
// 64-bit word, with no vector prologue or epilogue to pay for.
constexpr uint64_t kNonAsciiBits = 0xFF80FF80FF80FF80ull;

bool AllAscii(const char16_t* u, size_t n) {
#if defined(__SSE2__)
  if (n >= 8) {
    // Eight units per 16-byte load, the last load overlapping the one
    // before: no scalar tail.
    __m128i any = _mm_setzero_si128();
    for (size_t i = 0;; i += 8) {
      if (i + 8 > n) i = n - 8;
      any = _mm_or_si128(any, _mm_loadu_si128(reinterpret_cast<const __m128i*>(u + i)));
      if (i + 8 == n) break;
    }
    const __m128i high = _mm_and_si128(any, _mm_set1_epi16(static_cast<int16_t>(0xFF80)));
    return _mm_movemask_epi8(_mm_cmpeq_epi16(high, _mm_setzero_si128())) == 0xFFFF;
  }
#endif
  if (n < 4) {
    char16_t any = 0;
    for (size_t i = 0; i < n; ++i) any |= u[i];
    return any < 0x80;
  }
  // Whole 64-bit words, the last one overlapping the one before.
  uint64_t any = 0;
  for (size_t i = 0;; i += 4) {
    if (i + 4 > n) i = n - 4;
    uint64_t w;
    std::memcpy(&w, u + i, sizeof w);
    any |= w;
    if (i + 4 == n) break;
  }
  return (any & kNonAsciiBits) == 0;
}

// Writes each (ASCII) unit as one byte; same walk as AllAscii.
void Narrow(const char16_t* u, size_t n, char* out) {
#if defined(__SSE2__)
  if (n >= 8) {
    for (size_t i = 0;; i += 8) {
      if (i + 8 > n) i = n - 8;
      const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(u + i));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(out + i), _mm_packus_epi16(v, v));
      if (i + 8 == n) break;
    }
    return;
  }
#endif
  for (size_t i = 0; i < n; ++i) out[i] = static_cast<char>(u[i]);
}

}  // namespace

Utf16Info Measure(const char16_t* u, size_t n) {
  Utf16Info info;
  if (AllAscii(u, n)) {
    info.bytes = n;
    return info;
  }
  info.ascii = false;
  for (size_t i = 0; i < n; ++i) {
    const char16_t c = u[i];
    if (c < 0x80) {
      info.bytes += 1;
    } else if (c < 0x800) {
      info.bytes += 2;
    } else if (IsHigh(c) && i + 1 < n && IsLow(u[i + 1])) {
      info.bytes += 4;
      ++i;
    } else {
      info.bytes += 3;  // BMP character, or a lone surrogate
      if (c >= 0xD800 && c <= 0xDFFF) info.lone = true;
    }
  }
  return info;
}

namespace {

// Encodes into `out` (room for EncodedLength bytes); returns the end.
char* EncodeRaw(const char16_t* u, size_t n, char* out) {
  for (size_t i = 0; i < n; ++i) {
    uint32_t c = u[i];
    if (IsHigh(static_cast<char16_t>(c)) && i + 1 < n && IsLow(u[i + 1])) {
      c = 0x10000 + ((c - 0xD800) << 10) + (u[i + 1] - 0xDC00);
      ++i;
    }
    if (c < 0x80) {
      *out++ = static_cast<char>(c);
    } else if (c < 0x800) {
      *out++ = static_cast<char>(0xC0 | (c >> 6));
      *out++ = static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {  // lone surrogates too: that is WTF-8
      *out++ = static_cast<char>(0xE0 | (c >> 12));
      *out++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      *out++ = static_cast<char>(0x80 | (c & 0x3F));
    } else {
      *out++ = static_cast<char>(0xF0 | (c >> 18));
      *out++ = static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      *out++ = static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      *out++ = static_cast<char>(0x80 | (c & 0x3F));
    }
  }
  return out;
}

}  // namespace

void EncodeUtf16To(const char16_t* u, size_t n, const Utf16Info& info, char* out) {
  if (info.ascii) {
    Narrow(u, n, out);
    return;
  }
  EncodeRaw(u, n, out);
}

bool EncodeUtf16(const char16_t* u, size_t n, std::string* out) {
  const Utf16Info info = Measure(u, n);
  const size_t at = out->size();
  out->resize(at + info.bytes);
  EncodeUtf16To(u, n, info, out->data() + at);
  return info.lone;
}

void DecodeToUtf16(std::string_view s, std::u16string* out) {
  out->reserve(out->size() + s.size());
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  auto cont = [&](size_t k) { return i + k < n && (p[i + k] & 0xC0) == 0x80; };
  while (i < n) {
    const unsigned char b = p[i];
    uint32_t c;
    if (b < 0x80) {
      c = b;
      i += 1;
    } else if ((b & 0xE0) == 0xC0 && cont(1)) {
      c = ((b & 0x1Fu) << 6) | (p[i + 1] & 0x3Fu);
      i += 2;
    } else if ((b & 0xF0) == 0xE0 && cont(1) && cont(2)) {
      c = ((b & 0x0Fu) << 12) | ((p[i + 1] & 0x3Fu) << 6) | (p[i + 2] & 0x3Fu);
      i += 3;
    } else if ((b & 0xF8) == 0xF0 && cont(1) && cont(2) && cont(3)) {
      c = ((b & 0x07u) << 18) | ((p[i + 1] & 0x3Fu) << 12) | ((p[i + 2] & 0x3Fu) << 6) | (p[i + 3] & 0x3Fu);
      i += 4;
    } else {
      c = 0xFFFD;
      i += 1;
    }
    // Overlong forms (a code point encoded in more bytes than it needs) are
    // malformed: the encoder never produces them.
    const size_t used = b < 0x80 ? 1 : (b & 0xE0) == 0xC0 ? 2 : (b & 0xF0) == 0xE0 ? 3 : 4;
    if (c != 0xFFFD && ((used == 2 && c < 0x80) || (used == 3 && c < 0x800) || (used == 4 && c < 0x10000))) c = 0xFFFD;
    if (c >= 0x10000 && c <= 0x10FFFF) {
      c -= 0x10000;
      out->push_back(static_cast<char16_t>(0xD800 + (c >> 10)));
      out->push_back(static_cast<char16_t>(0xDC00 + (c & 0x3FF)));
    } else if (c < 0x10000) {
      out->push_back(static_cast<char16_t>(c));  // includes lone surrogates (WTF-8)
    } else {
      out->push_back(u'\uFFFD');
    }
  }
}

}  // namespace threadkv::wtf8
