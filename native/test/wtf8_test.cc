// WTF-8: every JS string (UTF-16, lone surrogates included) must encode
// injectively and decode back exactly; well-formed text must be plain UTF-8.
#include "core/wtf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <string_view>

namespace threadkv {
namespace {

struct Encoded {
  std::string bytes;
  bool lone;
};

Encoded Encode(const std::u16string& s) {
  Encoded r;
  r.lone = wtf8::EncodeUtf16(s.data(), s.size(), &r.bytes);
  return r;
}

std::u16string Decode(std::string_view bytes) {
  std::u16string out;
  wtf8::DecodeToUtf16(bytes, &out);
  return out;
}

std::string Hex(std::string_view s) {
  static const char* digits = "0123456789ABCDEF";
  std::string h;
  for (unsigned char c : s) {
    if (!h.empty()) h += ' ';
    h += digits[c >> 4];
    h += digits[c & 15];
  }
  return h;
}

std::string Units(const std::u16string& s) {
  std::string h;
  char buf[8];
  for (char16_t c : s) {
    std::snprintf(buf, sizeof buf, "%04X ", static_cast<unsigned>(c));
    h += buf;
  }
  return h;
}

// Round trip plus the length and flag contracts, for any UTF-16 input.
void ExpectRoundTrip(const std::u16string& s, bool expect_lone) {
  const Encoded e = Encode(s);
  EXPECT_EQ(e.lone, expect_lone) << Units(s);
  EXPECT_EQ(e.bytes.size(), wtf8::EncodedLength(s.data(), s.size())) << Units(s);
  EXPECT_EQ(Decode(e.bytes), s) << Units(s) << " -> " << Hex(e.bytes);
}

TEST(Wtf8, WellFormedTextIsUtf8) {
  struct Case {
    std::u16string utf16;
    std::string utf8;
  };
  const Case cases[] = {
      {u"", ""},
      {u"hello", "hello"},
      {std::u16string(u"a\0b", 3), std::string("a\0b", 3)},
      {u"h\u00e9llo", "h\xC3\xA9llo"},            // 2-byte
      {u"\u07FF\u0800", "\xDF\xBF\xE0\xA0\x80"},  // 2/3-byte boundary
      {u"\u20AC \u4E2D\u6587", "\xE2\x82\xAC \xE4\xB8\xAD\xE6\x96\x87"},
      {u"\uFFFD\uFFFF", "\xEF\xBF\xBD\xEF\xBF\xBF"},  // top of the BMP
      {u"\U0001F600", "\xF0\x9F\x98\x80"},            // surrogate pair
      {u"\U00010000\U0010FFFF", "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"},
      {u"\uD7FF\uE000", "\xED\x9F\xBF\xEE\x80\x80"},  // around the surrogates
  };
  for (const auto& c : cases) {
    const Encoded e = Encode(c.utf16);
    EXPECT_EQ(Hex(e.bytes), Hex(c.utf8)) << Units(c.utf16);
    EXPECT_FALSE(e.lone) << Units(c.utf16);
    ExpectRoundTrip(c.utf16, false);
  }
}

TEST(Wtf8, LoneSurrogatesRoundTrip) {
  struct Case {
    std::u16string utf16;
    std::string wtf8;
  };
  const Case cases[] = {
      {u"\xD800", "\xED\xA0\x80"},  // lone high
      {u"\xDBFF", "\xED\xAF\xBF"},
      {u"\xDC00", "\xED\xB0\x80"},  // lone low
      {u"\xDFFF", "\xED\xBF\xBF"},
      {u"a\xD800", "a\xED\xA0\x80"},                            // high at the end
      {u"\xDC00z", "\xED\xB0\x80z"},                            // low at the start
      {u"\xD800z", "\xED\xA0\x80z"},                            // high, then no low
      {u"\xDC00\xD800", "\xED\xB0\x80\xED\xA0\x80"},            // reversed pair: two lones
      {u"\xD800\xD800\xDC00", "\xED\xA0\x80\xF0\x90\x80\x80"},  // lone high, then a pair
      {u"\xD800\xDC00\xDC00", "\xF0\x90\x80\x80\xED\xB0\x80"},  // pair, then a lone low
  };
  for (const auto& c : cases) {
    const Encoded e = Encode(c.utf16);
    EXPECT_EQ(Hex(e.bytes), Hex(c.wtf8)) << Units(c.utf16);
    ExpectRoundTrip(c.utf16, true);
  }
}

TEST(Wtf8, LoneSurrogatesAreDistinctKeys) {
  // The reason for WTF-8: plain UTF-8 conversion maps both to U+FFFD.
  std::set<std::string> seen;
  for (const std::u16string s : {u"\xD800", u"\xDFFF", u"\uFFFD", u"\xDBFF", u"\xDC00"})
    EXPECT_TRUE(seen.insert(Encode(s).bytes).second) << Units(s);
}

TEST(Wtf8, EveryCodeUnitAndEveryPairRoundTrips) {
  for (uint32_t u = 0; u <= 0xFFFF; ++u) {
    const std::u16string s(1, static_cast<char16_t>(u));
    const bool lone = u >= 0xD800 && u <= 0xDFFF;
    const Encoded e = Encode(s);
    ASSERT_EQ(e.lone, lone) << u;
    ASSERT_EQ(e.bytes.size(), wtf8::EncodedLength(s.data(), 1)) << u;
    ASSERT_EQ(e.bytes.size(), u < 0x80 ? 1u : u < 0x800 ? 2u : 3u) << u;
    ASSERT_EQ(Decode(e.bytes), s) << u;
  }
  for (uint32_t hi = 0xD800; hi <= 0xDBFF; hi += 7) {
    for (uint32_t lo = 0xDC00; lo <= 0xDFFF; lo += 5) {
      const std::u16string s = {static_cast<char16_t>(hi), static_cast<char16_t>(lo)};
      const Encoded e = Encode(s);
      ASSERT_FALSE(e.lone);
      ASSERT_EQ(e.bytes.size(), 4u);
      ASSERT_EQ(Decode(e.bytes), s);
    }
  }
}

TEST(Wtf8, RandomUtf16RoundTrips) {
  std::mt19937_64 rng(7);
  for (int n = 0; n < 5000; ++n) {
    std::u16string s(rng() % 24, u'\0');
    bool lone = false;
    for (auto& c : s) {
      switch (rng() % 5) {
        case 0:
          c = static_cast<char16_t>(rng() % 0x80);
          break;
        case 1:
          c = static_cast<char16_t>(0xD800 + rng() % 0x400);
          break;  // high
        case 2:
          c = static_cast<char16_t>(0xDC00 + rng() % 0x400);
          break;  // low
        default:
          c = static_cast<char16_t>(rng() % 0x10000);
          break;
      }
    }
    for (size_t i = 0; i < s.size(); ++i) {
      const bool hi = s[i] >= 0xD800 && s[i] <= 0xDBFF;
      const bool lo = s[i] >= 0xDC00 && s[i] <= 0xDFFF;
      if (hi && i + 1 < s.size() && s[i + 1] >= 0xDC00 && s[i + 1] <= 0xDFFF) {
        ++i;
      } else if (hi || lo) {
        lone = true;
      }
    }
    ExpectRoundTrip(s, lone);
    if (HasFailure()) return;
  }
}

TEST(Wtf8, EncodeAndDecodeAppend) {
  std::string bytes = "pre:";
  const std::u16string s = u"\u00e9\xD800";
  EXPECT_TRUE(wtf8::EncodeUtf16(s.data(), s.size(), &bytes));
  EXPECT_EQ(Hex(bytes), Hex("pre:\xC3\xA9\xED\xA0\x80"));
  std::u16string out = u"x";
  wtf8::DecodeToUtf16("\xC3\xA9", &out);
  EXPECT_EQ(out, u"x\u00e9");
}

TEST(Wtf8, MayHaveReplacement) {
  using wtf8::MayHaveReplacement;
  EXPECT_FALSE(MayHaveReplacement(""));
  EXPECT_FALSE(MayHaveReplacement("a"));
  EXPECT_FALSE(MayHaveReplacement("ab"));
  EXPECT_FALSE(MayHaveReplacement("plain ascii text"));
  EXPECT_TRUE(MayHaveReplacement("\xEF\xBF\xBD"));
  EXPECT_TRUE(MayHaveReplacement("\xEF\xBF\xBDtail"));
  EXPECT_TRUE(MayHaveReplacement("head\xEF\xBF\xBD"));
  EXPECT_TRUE(
      MayHaveReplacement("mid\xEF\xBF\xBD"
                         "dle"));
  EXPECT_FALSE(MayHaveReplacement("\xEF\xBF"));      // truncated
  EXPECT_FALSE(MayHaveReplacement("\xEF\xBF\xBE"));  // U+FFFE
  EXPECT_FALSE(MayHaveReplacement("\xED\xA0\x80"));  // a lone surrogate in WTF-8 is not U+FFFD
  EXPECT_FALSE(MayHaveReplacement("\xE2\x82\xAC"));
  // Only the bytes inside the view count.
  const std::string buf = "ab\xEF\xBF\xBD";
  EXPECT_FALSE(MayHaveReplacement(std::string_view(buf).substr(0, 4)));
  EXPECT_TRUE(MayHaveReplacement(buf));
}

TEST(Wtf8, MalformedBytesDecodeToReplacement) {
  struct Case {
    std::string bytes;
    std::u16string expect;
  };
  const Case cases[] = {
      {"\x80", u"\uFFFD"},  // stray continuation
      {"a\xBF"
       "b",
       u"a\uFFFD"
       "b"},
      {"\xC3", u"\uFFFD"},                      // truncated 2-byte
      {"\xC3z", u"\uFFFDz"},                    // lead without continuation
      {"\xE2\x82", u"\uFFFD\uFFFD"},            // truncated 3-byte
      {"\xF0\x9F\x98", u"\uFFFD\uFFFD\uFFFD"},  // truncated 4-byte
      {"\xFF", u"\uFFFD"},                      // never valid
      {"\xFE\xFE", u"\uFFFD\uFFFD"},
      {"\xF8\x88\x80\x80\x80", u"\uFFFD\uFFFD\uFFFD\uFFFD\uFFFD"},  // 5-byte form
      {"\xF4\x90\x80\x80", u"\uFFFD"},                              // above U+10FFFF
      {"\xF7\xBF\xBF\xBF", u"\uFFFD"},
      {std::string("\xC0\x80", 2), u"\uFFFD"},  // overlong U+0000
      {"\xC1\xBF", u"\uFFFD"},                  // overlong U+007F
      {"\xE0\x80\xAF", u"\uFFFD"},              // overlong '/'
      {"\xF0\x8D\xA0\x80", u"\uFFFD"},          // overlong lone surrogate U+D800
      {"\xF0\x8F\xBF\xBF", u"\uFFFD"},          // overlong U+FFFF
  };
  for (const auto& c : cases) EXPECT_EQ(Units(Decode(c.bytes)), Units(c.expect)) << Hex(c.bytes);
}

TEST(Wtf8, DecodeNeverReadsPastTheView) {
  // The bytes after the view would complete the sequence; the decoder must
  // not look at them (ASan would also catch a read past a heap buffer).
  const std::string buf = "\xE2\x82\xAC\xF0\x9F\x98\x80";
  EXPECT_EQ(Decode(std::string_view(buf).substr(0, 2)), u"\uFFFD\uFFFD");
  EXPECT_EQ(Decode(std::string_view(buf).substr(0, 3)), u"\u20AC");
  EXPECT_EQ(Decode(std::string_view(buf).substr(3, 3)), u"\uFFFD\uFFFD\uFFFD");
  for (size_t len = 0; len <= buf.size(); ++len) {
    const std::string exact = buf.substr(0, len);  // heap copy of exactly len bytes
    std::u16string out;
    wtf8::DecodeToUtf16(exact, &out);
    EXPECT_LE(out.size(), len);
  }
}

TEST(Wtf8, RandomBytesDecodeSafely) {
  std::mt19937_64 rng(99);
  for (int n = 0; n < 20000; ++n) {
    std::string bytes(rng() % 16, '\0');
    for (auto& b : bytes) {
      // Bias towards lead and continuation bytes.
      const uint64_t r = rng();
      b = static_cast<char>((r & 3) == 0 ? 0x80 | (r >> 8 & 0x3F) : (r & 3) == 1 ? 0xE0 | (r >> 8 & 0x1F) : r >> 8);
    }
    const std::u16string out = Decode(bytes);
    // One unit per byte at most (a 4-byte sequence gives two units).
    ASSERT_LE(out.size(), bytes.size()) << Hex(bytes);
    // Whatever was decoded is valid UTF-16-with-lone-surrogates and
    // re-encodes to something that decodes to the same units.
    ASSERT_EQ(Decode(Encode(out).bytes), out) << Hex(bytes);
  }
}

}  // namespace
}  // namespace threadkv
