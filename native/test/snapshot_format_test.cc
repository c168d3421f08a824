// The snapshot file format alone: CRC32C, WTF-8 checks, header and entry
// decoding, and the reader on hand-made files.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/options.h"
#include "core/snapshot/crc32c.h"
#include "core/snapshot/format.h"
#include "core/snapshot/reader.h"

namespace threadkv::snapshot {
namespace {

// ---- CRC32C ----

TEST(Crc32c, KnownValues) {
  // The check value of CRC-32C, and the iSCSI test vectors (RFC 3720 B.4).
  EXPECT_EQ(Crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc32cPortable("123456789", 9), 0xE3069283u);
  std::string zeros(32, '\0'), ones(32, '\xFF'), inc(32, '\0'), dec(32, '\0');
  for (int i = 0; i < 32; ++i) {
    inc[i] = static_cast<char>(i);
    dec[i] = static_cast<char>(31 - i);
  }
  for (auto f : {&Crc32cPortable, &Crc32c}) {
    EXPECT_EQ(f(zeros.data(), 32, 0), 0x8A9136AAu);
    EXPECT_EQ(f(ones.data(), 32, 0), 0x62A8AB43u);
    EXPECT_EQ(f(inc.data(), 32, 0), 0x46DD794Eu);
    EXPECT_EQ(f(dec.data(), 32, 0), 0x113FDB5Cu);
  }
  EXPECT_EQ(Crc32c(nullptr, 0), 0u);
}

TEST(Crc32c, HardwareMatchesPortableAtEveryLengthAndAlignment) {
  std::mt19937_64 rng(7);
  std::string buf(4096 + 16, '\0');
  for (char& c : buf) c = static_cast<char>(rng());
  bool used = false;
  (void)Crc32cHardware(buf.data(), 1, 0, &used);
  std::printf("CRC32C implementation: %s (hardware available: %s)\n", Crc32cImplementation(), used ? "yes" : "no");
  for (size_t align = 0; align < 16; ++align) {
    for (size_t n = 0; n <= 300; ++n) {
      const uint32_t seed = static_cast<uint32_t>(rng());
      ASSERT_EQ(Crc32cHardware(buf.data() + align, n, seed), Crc32cPortable(buf.data() + align, n, seed))
          << "align " << align << " n " << n;
      ASSERT_EQ(Crc32c(buf.data() + align, n, seed), Crc32cPortable(buf.data() + align, n, seed));
    }
  }
  EXPECT_EQ(Crc32cHardware(buf.data(), 4096), Crc32cPortable(buf.data(), 4096));
}

TEST(Crc32c, ExtendsAcrossPieces) {
  const std::string s = "The quick brown fox jumps over the lazy dog, twice over the lazy dog.";
  const uint32_t whole = Crc32c(s.data(), s.size());
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    EXPECT_EQ(Crc32c(s.data() + cut, s.size() - cut, Crc32c(s.data(), cut)), whole);
    EXPECT_EQ(Crc32cPortable(s.data() + cut, s.size() - cut, Crc32cPortable(s.data(), cut)), whole);
  }
}

TEST(Crc32c, DetectsEverySingleByteChange) {
  std::string s(200, 'x');
  const uint32_t base = Crc32c(s.data(), s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    for (int d = 1; d < 256; d += 37) {
      std::string t = s;
      t[i] = static_cast<char>(t[i] ^ d);
      ASSERT_NE(Crc32c(t.data(), t.size()), base);
    }
  }
}

// ---- WTF-8 ----

TEST(Wtf8, AcceptsWhatThreadkvWrites) {
  bool ascii = false, lone = false;
  EXPECT_TRUE(ValidWtf8("", &ascii, &lone));
  EXPECT_TRUE(ascii);
  EXPECT_TRUE(ValidWtf8("plain ascii key, longer than eight bytes", &ascii, &lone));
  EXPECT_TRUE(ascii);
  EXPECT_FALSE(lone);
  EXPECT_TRUE(ValidWtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80", &ascii, &lone));  // é € 😀
  EXPECT_FALSE(ascii);
  EXPECT_FALSE(lone);
  EXPECT_TRUE(ValidWtf8("a\xED\xA0\x80z", &ascii, &lone));  // lone high surrogate U+D800
  EXPECT_TRUE(lone);
  EXPECT_TRUE(ValidWtf8("\xED\xBF\xBF", &ascii, &lone));  // lone low surrogate U+DFFF
  EXPECT_TRUE(lone);
  EXPECT_TRUE(ValidWtf8("\xED\xB0\x80\xED\xA0\x80", &ascii, &lone));  // low then high: two lone ones
  EXPECT_TRUE(lone);
  EXPECT_TRUE(ValidWtf8("\xF4\x8F\xBF\xBF", &ascii, &lone));  // U+10FFFF
}

TEST(Wtf8, RefusesMalformedBytes) {
  bool ascii = false, lone = false;
  for (const char* bad : {"\x80", "\xC0\x80", "\xC1\xBF", "\xC3", "\xE2\x82", "\xE0\x80\x80", "\xF0\x80\x80\x80",
                          "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF", "ok\xC3(", "\xED\xA0\x80\xED\xB0\x80"}) {
    EXPECT_FALSE(ValidWtf8(bad, &ascii, &lone)) << "accepted " << ::testing::PrintToString(std::string(bad));
  }
}

TEST(V8Wire, ReadsTheHeaderVersion) {
  EXPECT_EQ(V8WireVersion(std::string("\xFF\x0F\x5F", 3)), 15u);
  EXPECT_EQ(V8WireVersion(std::string("\xFF\x10", 2)), 16u);
  EXPECT_EQ(V8WireVersion(std::string("\xFF\x81\x01", 3)), 129u);
  EXPECT_EQ(V8WireVersion(std::string("\x0F", 1)), 0u);
  EXPECT_EQ(V8WireVersion(""), 0u);
  EXPECT_EQ(V8WireVersion(std::string("\xFF\x80", 2)), 0u);
}

// ---- Header ----

Header SampleHeader() {
  Header h;
  h.codec = static_cast<uint8_t>(Codec::kJson);
  h.v8_wire_version = 0;
  h.created_unix_ms = 1'700'000'000'123;
  h.file_id = 0x1122334455667788ULL;
  h.last_versions = {5, 0, 99, 7};
  h.store_name = "sessions";
  h.threadkv_version = "0.1.0";
  h.node_version = "v20.20.2";
  return h;
}

TEST(Header, RoundTrips) {
  const std::string bytes = EncodeHeader(SampleHeader());
  EXPECT_EQ(bytes.substr(0, 8), std::string(kFileMagic, 8));
  Header h;
  Error err;
  ASSERT_TRUE(DecodeHeader(bytes, &h, &err));
  EXPECT_EQ(h.header_size, bytes.size());
  EXPECT_EQ(h.format_version, kFormatVersion);
  EXPECT_EQ(h.min_reader_version, kWriteMinReaderVersion);
  EXPECT_EQ(h.codec, static_cast<uint8_t>(Codec::kJson));
  EXPECT_EQ(h.created_unix_ms, 1'700'000'000'123);
  EXPECT_EQ(h.file_id, 0x1122334455667788ULL);
  EXPECT_EQ(h.last_versions, (std::vector<uint64_t>{5, 0, 99, 7}));
  EXPECT_EQ(h.max_version(), 99u);
  EXPECT_EQ(h.store_name, "sessions");
  EXPECT_EQ(h.threadkv_version, "0.1.0");
  EXPECT_EQ(h.node_version, "v20.20.2");
}

// Re-seals a header after an edit (as a newer writer would).
std::string Reseal(std::string bytes) {
  StoreU32(bytes.data() + 12, static_cast<uint32_t>(bytes.size()));
  StoreU32(bytes.data() + bytes.size() - 4, Crc32c(bytes.data(), bytes.size() - 4));
  return bytes;
}

TEST(Header, EveryByteFlipIsRefused) {
  const std::string good = EncodeHeader(SampleHeader());
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ 0x01);
    Header h;
    Error err;
    EXPECT_FALSE(DecodeHeader(bad, &h, &err)) << "byte " << i;
    EXPECT_NE(err.kind, ErrorKind::kNone);
  }
}

TEST(Header, FutureVersionIsAVersionErrorNotCorruption) {
  std::string bytes = EncodeHeader(SampleHeader());
  bytes[8] = 2;   // format_version
  bytes[10] = 2;  // min_reader_version
  Header h;
  Error err;
  ASSERT_FALSE(DecodeHeader(Reseal(bytes), &h, &err));
  EXPECT_EQ(err.kind, ErrorKind::kVersion);
  EXPECT_EQ(err.reason, Reason::kFormatTooNew);
  EXPECT_EQ(err.a, 2u);
  EXPECT_EQ(err.b, kReaderVersion);
  EXPECT_EQ(err.aux, 2u);
}

TEST(Header, NewerFormatReadableByThisReaderIsRead) {
  // Format 2 that version-1 readers may read: extra fields before the CRC.
  std::string bytes = EncodeHeader(SampleHeader());
  bytes.insert(bytes.size() - 4, "new fields");
  bytes[8] = 2;
  Header h;
  Error err;
  ASSERT_TRUE(DecodeHeader(Reseal(bytes), &h, &err));
  EXPECT_EQ(h.format_version, 2);
  EXPECT_EQ(h.node_version, "v20.20.2");
}

TEST(Header, FieldsOutOfRangeAreCorrupt) {
  const std::string good = EncodeHeader(SampleHeader());
  auto expect_corrupt = [](const std::string& bytes, const char* field) {
    Header h;
    Error err;
    ASSERT_FALSE(DecodeHeader(bytes, &h, &err));
    EXPECT_EQ(err.kind, ErrorKind::kCorrupt);
    EXPECT_STREQ(err.field, field);
  };
  std::string b = good;
  b[16] = 9;  // codec
  expect_corrupt(Reseal(b), "codec");
  b = good;
  StoreU32(b.data() + 36, 0);  // shard_count
  expect_corrupt(Reseal(b), "shard_count");
  b = good;
  StoreU32(b.data() + 36, 1000);  // more shard versions than the header holds
  expect_corrupt(Reseal(b), "last_version");
  b = good;
  b[8] = 0;  // format_version 0
  expect_corrupt(Reseal(b), "format_version");
  b = good;
  b.insert(b.size() - 4, "x");  // a version-1 header with a stray byte
  expect_corrupt(Reseal(b), "header_size");
}

// ---- Entries ----

std::string OneEntry(std::string_view key, Kind kind, uint8_t flags, std::string_view value, int64_t expiry = 0) {
  std::string out;
  AppendEntry(out, key, kind, flags, value.data(), value.size(), expiry);
  return out;
}

TEST(Entries, DecodeWhatAppendWrites) {
  std::string p = OneEntry("k1", Kind::kString, kFlagAscii, "hello", 123) +
                  OneEntry("k2", Kind::kInt64, 0, std::string(8, '\x01')) + OneEntry("", Kind::kNull, 0, "") +
                  OneEntry("k\xED\xA0\x80", Kind::kBytes, 0, std::string("\xFF\x0F\x22\x01x", 5));
  std::vector<EntryRecord> out;
  Error err;
  ASSERT_TRUE(DecodeEntries(p, 4, &out, &err));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(out[0].key, "k1");
  EXPECT_EQ(out[0].value, "hello");
  EXPECT_EQ(out[0].expiry_unix_ms, 123);
  EXPECT_EQ(out[1].kind, Kind::kInt64);
  EXPECT_EQ(out[2].key, "");
  EXPECT_EQ(out[3].key, "k\xED\xA0\x80");
}

TEST(Entries, RefuseEveryMalformedField) {
  auto expect_bad = [](const std::string& p, uint32_t count, const char* field) {
    std::vector<EntryRecord> out;
    Error err;
    ASSERT_FALSE(DecodeEntries(p, count, &out, &err)) << field;
    EXPECT_EQ(err.kind, ErrorKind::kCorrupt);
    EXPECT_EQ(err.reason, Reason::kBadEntry);
    EXPECT_STREQ(err.field, field);
  };
  const std::string ok = OneEntry("key", Kind::kString, kFlagAscii, "v");
  expect_bad(ok, 2, "entry_count");            // more entries than bytes
  expect_bad(ok, 0xFFFFFFFFu, "entry_count");  // a huge count allocates nothing
  expect_bad(ok + "x", 1, "payload (bytes after the last entry)");
  expect_bad(ok.substr(0, 10), 0, "payload (bytes after the last entry)");
  std::string b = ok;
  StoreU32(b.data(), 0xFFFFFFF0u);  // key_size past the end
  expect_bad(b, 1, "key_size");
  b = ok;
  StoreU32(b.data() + 4, 1000);  // value_size past the end
  expect_bad(b, 1, "value_size");
  b = ok;
  b[8] = 8;  // kind
  expect_bad(b, 1, "kind");
  b = ok;
  b[9] = 0;  // flags disagree with the text (it is ASCII)
  expect_bad(b, 1, "flags");
  b = ok;
  StoreU64(b.data() + 10, ~uint64_t{0});  // negative expiry
  expect_bad(b, 1, "expiry");
  expect_bad(OneEntry("k\xC3", Kind::kBytes, 0, ""), 1, "key (not WTF-8)");
  expect_bad(OneEntry("k", Kind::kString, 0, "\xC3("), 1, "string value (not WTF-8)");
  expect_bad(OneEntry("k", Kind::kInt64, 0, "1234567"), 1, "value_size");
  expect_bad(OneEntry("k", Kind::kTrue, 0, "x"), 1, "value_size");
  {  // bytes: flags are the value path's format tag, any value
    std::vector<EntryRecord> out;
    Error err;
    ASSERT_TRUE(DecodeEntries(OneEntry("k", Kind::kBytes, 14, "x"), 1, &out, &err));
    EXPECT_EQ(out[0].flags, 14);
  }
  expect_bad(OneEntry("k", Kind::kFloat64, 2, "12345678"), 1, "flags");
}

// ---- The reader on a file built by hand ----

struct Collect final : ReadSink {
  std::vector<std::string> keys;
  bool OnHeader(const Header&, Error*) override { return true; }
  bool OnBlock(const std::vector<EntryRecord>& entries, Error*) override {
    for (const EntryRecord& r : entries) keys.emplace_back(r.key);
    return true;
  }
};

// A file of `blocks` blocks, each holding `per` ASCII string entries.
std::string BuildFile(uint32_t blocks, uint32_t per, Codec codec = Codec::kString) {
  Header h = SampleHeader();
  h.codec = static_cast<uint8_t>(codec);
  std::string file = EncodeHeader(h);
  Trailer t;
  t.file_id = h.file_id;
  for (uint32_t b = 0; b < blocks; ++b) {
    std::string payload;
    for (uint32_t i = 0; i < per; ++i) {
      const std::string key = "b" + std::to_string(b) + "k" + std::to_string(i);
      AppendEntry(payload, key, Kind::kString, kFlagAscii, "value", 5, 0);
      t.data_bytes += key.size() + 5;
    }
    BlockHeader bh;
    bh.index = b;
    bh.payload_size = static_cast<uint32_t>(payload.size());
    bh.entry_count = per;
    bh.file_id = h.file_id;
    bh.payload_crc = Crc32c(payload.data(), payload.size());
    char hb[kBlockHeaderSize];
    EncodeBlockHeader(bh, hb);
    file.append(hb, sizeof hb);
    file += payload;
    char le[4];
    StoreU32(le, bh.payload_crc);
    t.crc_of_crcs = Crc32c(le, 4, t.crc_of_crcs);
  }
  t.entry_count = uint64_t{blocks} * per;
  t.block_count = blocks;
  return file + EncodeTrailer(t);
}

TEST(Reader, ReadsAWellFormedFile) {
  const std::string file = BuildFile(3, 4);
  MemorySource src(file);
  Collect sink;
  ReadResult r;
  Error err;
  ASSERT_TRUE(ReadSnapshot(src, {}, sink, &r, &err)) << static_cast<int>(err.reason);
  EXPECT_EQ(sink.keys.size(), 12u);
  EXPECT_EQ(r.blocks, 3u);
  EXPECT_EQ(r.entries, 12u);
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.skipped_blocks, 0u);
}

TEST(Reader, EmptyFileIsHeaderAndTrailer) {
  const std::string file = BuildFile(0, 0);
  MemorySource src(file);
  Collect sink;
  ReadResult r;
  Error err;
  ASSERT_TRUE(ReadSnapshot(src, {}, sink, &r, &err));
  EXPECT_TRUE(r.complete);
  EXPECT_EQ(r.entries, 0u);
}

TEST(Reader, ThrowModeRefusesEveryByteFlipAndEveryTruncation) {
  const std::string file = BuildFile(3, 3);
  for (size_t i = 0; i < file.size(); ++i) {
    for (int bit = 0; bit < 8; bit += 3) {
      std::string bad = file;
      bad[i] = static_cast<char>(bad[i] ^ (1 << bit));
      MemorySource src(bad);
      Collect sink;
      ReadResult r;
      Error err;
      ASSERT_FALSE(ReadSnapshot(src, {}, sink, &r, &err)) << "flip at " << i;
      ASSERT_NE(err.kind, ErrorKind::kNone);
    }
  }
  for (size_t n = 0; n < file.size(); ++n) {
    MemorySource src(std::string_view(file).substr(0, n));
    Collect sink;
    ReadResult r;
    Error err;
    ASSERT_FALSE(ReadSnapshot(src, {}, sink, &r, &err)) << "truncated to " << n;
    ASSERT_EQ(err.kind, ErrorKind::kCorrupt);
  }
}

TEST(Reader, SkipModeLoadsTheGoodBlocksAroundADamagedOne) {
  const std::string file = BuildFile(5, 4);
  const size_t header = EncodeHeader(SampleHeader()).size();
  const size_t block = (file.size() - header - kTrailerSize) / 5;
  ReadOptions skip;
  skip.on_corrupt = OnCorrupt::kSkip;
  // Damage block 2's payload, then its header, then its magic.
  for (size_t offset : {header + 2 * block + kBlockHeaderSize + 3, header + 2 * block + 6, header + 2 * block}) {
    std::string bad = file;
    bad[offset] = static_cast<char>(bad[offset] ^ 0x40);
    MemorySource src(bad);
    Collect sink;
    ReadResult r;
    Error err;
    ASSERT_TRUE(ReadSnapshot(src, skip, sink, &r, &err)) << offset;
    EXPECT_EQ(sink.keys.size(), 16u);
    EXPECT_EQ(r.skipped_blocks, 1u);
    EXPECT_FALSE(r.complete);
    for (const std::string& k : sink.keys) EXPECT_NE(k.rfind("b2k", 0), 0u) << k;
  }
}

TEST(Reader, SkipModeCountsALostTail) {
  const std::string file = BuildFile(4, 2);
  ReadOptions skip;
  skip.on_corrupt = OnCorrupt::kSkip;
  MemorySource src(std::string_view(file).substr(0, file.size() - kTrailerSize - 10));
  Collect sink;
  ReadResult r;
  Error err;
  ASSERT_TRUE(ReadSnapshot(src, skip, sink, &r, &err));
  EXPECT_EQ(sink.keys.size(), 6u);  // blocks 0..2
  EXPECT_EQ(r.skipped_blocks, 1u);  // block 3 (cut) and whatever followed
}

TEST(Reader, SkipModeStillRefusesABadHeader) {
  std::string file = BuildFile(2, 2);
  file[20] = static_cast<char>(file[20] ^ 1);
  ReadOptions skip;
  skip.on_corrupt = OnCorrupt::kSkip;
  MemorySource src(file);
  Collect sink;
  ReadResult r;
  Error err;
  ASSERT_FALSE(ReadSnapshot(src, skip, sink, &r, &err));
  EXPECT_EQ(err.reason, Reason::kHeaderChecksum);
}

TEST(Reader, RandomBytesAreRefused) {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2000; ++i) {
    std::string junk(static_cast<size_t>(rng() % 400), '\0');
    for (char& c : junk) c = static_cast<char>(rng());
    if (i % 2 == 0 && junk.size() >= 8) std::memcpy(junk.data(), kFileMagic, 8);  // past the magic too
    for (OnCorrupt mode : {OnCorrupt::kThrow, OnCorrupt::kSkip}) {
      ReadOptions o;
      o.on_corrupt = mode;
      MemorySource src(junk);
      Collect sink;
      ReadResult r;
      Error err;
      EXPECT_FALSE(ReadSnapshot(src, o, sink, &r, &err));
      EXPECT_TRUE(sink.keys.empty());
    }
  }
}

TEST(Reader, V8ValuesOfANewerNodeAreAVersionError) {
  Header h = SampleHeader();
  h.codec = static_cast<uint8_t>(Codec::kV8);
  std::string payload;
  AppendEntry(payload, "k", Kind::kBytes, 0, "\xFF\x10\x22\x00", 4, 0);  // wire version 16
  BlockHeader bh;
  bh.payload_size = static_cast<uint32_t>(payload.size());
  bh.entry_count = 1;
  bh.file_id = h.file_id;
  bh.payload_crc = Crc32c(payload.data(), payload.size());
  char hb[kBlockHeaderSize];
  EncodeBlockHeader(bh, hb);
  Trailer t;
  t.entry_count = 1;
  t.block_count = 1;
  t.data_bytes = 5;
  t.file_id = h.file_id;
  char le[4];
  StoreU32(le, bh.payload_crc);
  t.crc_of_crcs = Crc32c(le, 4);
  const std::string file = EncodeHeader(h) + std::string(hb, sizeof hb) + payload + EncodeTrailer(t);
  for (OnCorrupt mode : {OnCorrupt::kThrow, OnCorrupt::kSkip}) {
    ReadOptions o;
    o.on_corrupt = mode;
    o.max_v8_version = 15;
    MemorySource src(file);
    Collect sink;
    ReadResult r;
    Error err;
    ASSERT_FALSE(ReadSnapshot(src, o, sink, &r, &err));
    EXPECT_EQ(err.kind, ErrorKind::kVersion);
    EXPECT_EQ(err.reason, Reason::kV8TooNew);
    EXPECT_EQ(err.a, 16u);
    EXPECT_EQ(err.b, 15u);
  }
  ReadOptions newer;
  newer.max_v8_version = 16;
  MemorySource src(file);
  Collect sink;
  ReadResult r;
  Error err;
  EXPECT_TRUE(ReadSnapshot(src, newer, sink, &r, &err));
}

}  // namespace
}  // namespace threadkv::snapshot
