// WTF-8 ("wobbly transformation format"): UTF-8 extended so that a lone
// UTF-16 surrogate is encoded as its own 3-byte sequence (ED A0..BF xx).
// For well-formed text WTF-8 is byte-for-byte UTF-8. Keys and string values
// are stored in WTF-8 so that every JS string, lone surrogates included, is
// stored injectively and read back exactly. (Plain UTF-8 conversion would map
// '\uD800' and '\uDFFF' both to U+FFFD: two keys would collide.)
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace threadkv::wtf8 {

// True if `utf8` contains U+FFFD (EF BF BD). A converter that replaces lone
// surrogates with U+FFFD produced this text, so the original may have had
// one: the binding then re-reads the string as UTF-16 and encodes it here.
bool MayHaveReplacement(std::string_view utf8);

// Appends the WTF-8 encoding of UTF-16 code units to `out`. Returns true when
// at least one lone surrogate was encoded.
bool EncodeUtf16(const char16_t* units, size_t count, std::string* out);

// Bytes EncodeUtf16 would produce.
size_t EncodedLength(const char16_t* units, size_t count);

// What the WTF-8 encoding of UTF-16 code units will be: its byte length,
// whether it is all ASCII (then it is also the Latin-1 form, byte for byte),
// and whether it holds a lone surrogate. One pass; the all-ASCII case is a
// single OR over the units.
struct Utf16Info {
  size_t bytes = 0;
  bool ascii = true;
  bool lone = false;
};
Utf16Info Measure(const char16_t* units, size_t count);

// Writes the WTF-8 encoding of the units to `out`, which must have room for
// `info.bytes` (Measure's result for the same units).
void EncodeUtf16To(const char16_t* units, size_t count, const Utf16Info& info, char* out);

// Decodes WTF-8 into UTF-16 code units (appended to `out`). Input produced by
// EncodeUtf16 always decodes; malformed bytes decode to U+FFFD.
void DecodeToUtf16(std::string_view wtf8, std::u16string* out);

}  // namespace threadkv::wtf8
