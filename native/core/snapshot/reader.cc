#include "reader.h"

#include <algorithm>
#include <cstring>

#include "../counter.h"
#include "../options.h"
#include "crc32c.h"

namespace threadkv::snapshot {

bool MemorySource::ReadAt(uint64_t offset, void* dst, size_t n, Error* err) {
  if (offset > bytes_.size() || n > bytes_.size() - offset) {
    *err = Corrupt(Reason::kTruncated, offset, -1, bytes_.size());
    return false;
  }
  if (n != 0) std::memcpy(dst, bytes_.data() + offset, n);
  return true;
}

namespace {

bool IsCont(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

bool ValidWtf8(std::string_view s, bool* ascii, bool* lone) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  bool all_ascii = true;
  bool has_lone = false;
  while (i < n) {
    // Eight ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t w;
      std::memcpy(&w, p + i, 8);
      if ((w & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    all_ascii = false;
    size_t len;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
      if (i + 2 > n || !IsCont(p[i + 1])) return false;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (i + 3 > n || !IsCont(p[i + 1]) || !IsCont(p[i + 2])) return false;
      if (c == 0xE0 && p[i + 1] < 0xA0) return false;  // overlong
      if (c == 0xED && p[i + 1] >= 0xA0) {
        // A surrogate: WTF-8 keeps it only when it is lone. A high one
        // (A0..AF) followed at once by a low one (ED B0..BF) is a pair,
        // which is written as one 4-byte sequence instead.
        has_lone = true;
        if (p[i + 1] <= 0xAF && i + 5 < n && p[i + 3] == 0xED && p[i + 4] >= 0xB0 && p[i + 4] <= 0xBF) return false;
      }
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (i + 4 > n || !IsCont(p[i + 1]) || !IsCont(p[i + 2]) || !IsCont(p[i + 3])) return false;
      if (c == 0xF0 && p[i + 1] < 0x90) return false;  // overlong
      if (c == 0xF4 && p[i + 1] > 0x8F) return false;  // above U+10FFFF
    } else {
      return false;
    }
    i += len;
  }
  *ascii = all_ascii;
  *lone = has_lone;
  return true;
}

uint32_t V8WireVersion(std::string_view value) {
  if (value.size() < 2 || static_cast<unsigned char>(value[0]) != 0xFF) return 0;
  uint32_t v = 0;
  for (size_t i = 1, shift = 0; i < value.size() && shift < 32; ++i, shift += 7) {
    const auto b = static_cast<unsigned char>(value[i]);
    v |= static_cast<uint32_t>(b & 0x7F) << shift;
    if ((b & 0x80) == 0) return v;
  }
  return 0;  // not a varint: not a V8 header
}

bool DecodeHeader(std::string_view bytes, Header* out, Error* err) {
  const size_t size = bytes.size();
  const char* p = bytes.data();
  if (size < kHeaderPrefixSize + 4 || std::memcmp(p, kFileMagic, sizeof kFileMagic) != 0) {
    *err = Corrupt(Reason::kNotSnapshot, 0);
    return false;
  }
  if (LoadU32(p + 12) != size) {
    *err = Corrupt(Reason::kBadHeaderSize, 12, -1, LoadU32(p + 12));
    return false;
  }
  const uint32_t stored = LoadU32(p + size - 4);
  const uint32_t computed = Crc32c(p, size - 4);
  if (stored != computed) {
    *err = Corrupt(Reason::kHeaderChecksum, size - 4, -1, stored, computed);
    return false;
  }
  Header h;
  h.header_size = static_cast<uint32_t>(size);
  h.format_version = LoadU16(p + 8);
  h.min_reader_version = LoadU16(p + 10);
  if (h.format_version == 0) {
    *err = Corrupt(Reason::kBadHeaderField, 8, -1, 0, 0, "format_version");
    return false;
  }
  if (h.min_reader_version == 0 || h.min_reader_version > h.format_version) {
    *err = Corrupt(Reason::kBadHeaderField, 10, -1, h.min_reader_version, h.format_version, "min_reader_version");
    return false;
  }
  if (h.min_reader_version > kReaderVersion) {
    Error e;
    e.kind = ErrorKind::kVersion;
    e.reason = Reason::kFormatTooNew;
    e.offset = 10;
    e.a = h.min_reader_version;
    e.b = kReaderVersion;
    e.aux = h.format_version;
    *err = e;
    return false;
  }
  // Version 1 fields (a newer format readable by this reader keeps them
  // and may append more before the CRC).
  const size_t end = size - 4;
  size_t at = kHeaderPrefixSize;
  auto need = [&](size_t n, const char* field) {
    if (n > end - at) {
      *err = Corrupt(Reason::kBadHeaderField, at, -1, n, end - at, field);
      return false;
    }
    return true;
  };
  if (!need(kHeaderFixedSize - kHeaderPrefixSize, "fixed fields")) return false;
  h.codec = static_cast<uint8_t>(p[16]);
  if (h.codec > static_cast<uint8_t>(Codec::kBuffer)) {
    *err = Corrupt(Reason::kBadHeaderField, 16, -1, h.codec, 0, "codec");
    return false;
  }
  h.v8_wire_version = static_cast<uint8_t>(p[17]);
  h.created_unix_ms = static_cast<int64_t>(LoadU64(p + 20));
  h.file_id = LoadU64(p + 28);
  const uint32_t shards = LoadU32(p + 36);
  at = kHeaderFixedSize;
  if (shards == 0 || shards > kMaxShards) {
    *err = Corrupt(Reason::kBadHeaderField, 36, -1, shards, kMaxShards, "shard_count");
    return false;
  }
  if (!need(size_t{8} * shards, "last_version")) return false;
  h.last_versions.resize(shards);
  for (uint32_t i = 0; i < shards; ++i, at += 8) {
    h.last_versions[i] = LoadU64(p + at);
    if (h.last_versions[i] > kMaxLastVersion) {
      *err = Corrupt(Reason::kBadHeaderField, at, -1, h.last_versions[i], kMaxLastVersion, "last_version");
      return false;
    }
  }
  if (!need(2, "store_name length")) return false;
  const uint16_t name_len = LoadU16(p + at);
  at += 2;
  if (name_len > kMaxNameBytes) {
    *err = Corrupt(Reason::kBadHeaderField, at - 2, -1, name_len, kMaxNameBytes, "store_name length");
    return false;
  }
  if (!need(name_len, "store_name")) return false;
  h.store_name.assign(p + at, name_len);
  at += name_len;
  for (std::string* s : {&h.threadkv_version, &h.node_version}) {
    const char* field = s == &h.threadkv_version ? "threadkv_version" : "node_version";
    if (!need(1, field)) return false;
    const auto len = static_cast<unsigned char>(p[at]);
    ++at;
    if (len > kMaxVersionString || !need(len, field)) {
      if (len > kMaxVersionString) *err = Corrupt(Reason::kBadHeaderField, at - 1, -1, len, kMaxVersionString, field);
      return false;
    }
    s->assign(p + at, len);
    at += len;
  }
  if (h.format_version == 1 && at != end) {
    *err = Corrupt(Reason::kBadHeaderField, at, -1, end - at, 0, "header_size");
    return false;
  }
  *out = std::move(h);
  return true;
}

bool DecodeEntries(std::string_view payload, uint32_t count, std::vector<EntryRecord>* out, Error* err) {
  out->clear();
  const char* p = payload.data();
  const size_t size = payload.size();
  // Every entry takes at least its header: a count the payload cannot hold
  // is refused before anything is reserved for it.
  if (count > size / kEntryHeaderSize) {
    *err = Corrupt(Reason::kBadEntry, 0, -1, count, size / kEntryHeaderSize, "entry_count");
    return false;
  }
  out->reserve(count);
  size_t at = 0;
  for (uint32_t i = 0; i < count; ++i) {
    auto bad = [&](const char* field, uint64_t a = 0, uint64_t b = 0) {
      *err = Corrupt(Reason::kBadEntry, at, -1, a, b, field);
      err->aux = i;
      return false;
    };
    const size_t left = size - at;
    if (left < kEntryHeaderSize) return bad("entry header", kEntryHeaderSize, left);
    const uint64_t key_size = LoadU32(p + at);
    const uint64_t value_size = LoadU32(p + at + 4);
    const auto kind_byte = static_cast<uint8_t>(p[at + 8]);
    const auto flags = static_cast<uint8_t>(p[at + 9]);
    const auto expiry = static_cast<int64_t>(LoadU64(p + at + 10));
    if (key_size > left - kEntryHeaderSize) return bad("key_size", key_size, left - kEntryHeaderSize);
    if (value_size > left - kEntryHeaderSize - key_size)
      return bad("value_size", value_size, left - kEntryHeaderSize - key_size);
    if (kind_byte > static_cast<uint8_t>(Kind::kUndefined)) return bad("kind", kind_byte);
    const auto kind = static_cast<Kind>(kind_byte);
    if (expiry < 0) return bad("expiry", static_cast<uint64_t>(expiry));
    const std::string_view key(p + at + kEntryHeaderSize, key_size);
    const std::string_view value(p + at + kEntryHeaderSize + key_size, value_size);
    bool ascii = false;
    bool lone = false;
    if (!ValidWtf8(key, &ascii, &lone)) return bad("key (not WTF-8)");
    switch (kind) {
      case Kind::kBytes:  // flags: the value path's format tag, opaque here (0: the codec's own bytes)
        break;
      case Kind::kString: {
        if (!ValidWtf8(value, &ascii, &lone)) return bad("string value (not WTF-8)");
        const uint8_t expect = static_cast<uint8_t>((ascii ? kFlagAscii : 0) | (lone ? kFlagLoneSurrogates : 0));
        if (flags != expect) return bad("flags", flags, expect);
        break;
      }
      case Kind::kFloat64:
      case Kind::kInt64:
        if (value_size != kNumberBytes) return bad("value_size", value_size, kNumberBytes);
        if (flags != 0) return bad("flags", flags);
        break;
      default:  // true, false, null, undefined: no bytes
        if (value_size != 0) return bad("value_size", value_size, 0);
        if (flags != 0) return bad("flags", flags);
        break;
    }
    out->push_back({key, kind, flags, value, expiry});
    at += kEntryHeaderSize + key_size + value_size;
  }
  if (at != size) {
    *err = Corrupt(Reason::kBadEntry, at, -1, size - at, 0, "payload (bytes after the last entry)");
    return false;
  }
  return true;
}

namespace {

enum class Outcome { kBlock, kTrailer, kBad, kFatal };

class Reader {
 public:
  Reader(ByteSource& src, const ReadOptions& options, ReadSink& sink, ReadResult* result)
      : src_(src), opt_(options), sink_(sink), res_(result), size_(src.size()) {}

  bool Run(Error* err);

 private:
  bool ReadHeader(Error* err);
  // Tries to read a block (or the trailer) at `pos`. kBad: *err says why.
  Outcome Attempt(uint64_t pos, uint64_t* next, Error* err);
  Outcome AttemptTrailer(uint64_t pos, Error* err);
  // The next offset after `from` where a block header or the trailer may
  // start; size_ if none.
  bool FindCandidate(uint64_t from, uint64_t* found, Error* err);

  ByteSource& src_;
  const ReadOptions& opt_;
  ReadSink& sink_;
  ReadResult* res_;
  const uint64_t size_;
  Header header_;
  uint32_t expected_ = 0;    // index of the next block
  uint64_t data_bytes_ = 0;  // key + value bytes of good blocks
  uint32_t crc_of_crcs_ = 0;
  bool damaged_ = false;      // kSkip: something was skipped
  uint64_t resync_work_ = 0;  // payload bytes read for candidates that failed
  Trailer trailer_;
  std::string payload_;
  std::vector<EntryRecord> records_;
};

bool Reader::ReadHeader(Error* err) {
  char prefix[kHeaderPrefixSize];
  const size_t have = static_cast<size_t>(std::min<uint64_t>(size_, kHeaderPrefixSize));
  if (!src_.ReadAt(0, prefix, have, err)) return false;
  const size_t magic = std::min(have, sizeof kFileMagic);
  if (std::memcmp(prefix, kFileMagic, magic) != 0 || have < sizeof kFileMagic) {
    // Too short to tell, but starting like one: a truncated snapshot.
    if (std::memcmp(prefix, kFileMagic, magic) == 0 && have > 0) {
      *err = Corrupt(Reason::kTruncatedHeader, 0, -1, size_, kHeaderPrefixSize);
    } else {
      *err = Corrupt(Reason::kNotSnapshot, 0);
      static const char kHex[] = "0123456789abcdef";
      for (size_t i = 0; i < std::min<size_t>(have, 8); ++i) {
        const auto c = static_cast<unsigned char>(prefix[i]);
        if (i > 0) err->detail += ' ';
        err->detail += kHex[c >> 4];
        err->detail += kHex[c & 15];
      }
    }
    return false;
  }
  if (have < kHeaderPrefixSize) {
    *err = Corrupt(Reason::kTruncatedHeader, 0, -1, size_, kHeaderPrefixSize);
    return false;
  }
  const uint32_t header_size = LoadU32(prefix + 12);
  if (header_size < kHeaderPrefixSize + 4 || header_size > kMaxHeaderSize) {
    *err = Corrupt(Reason::kBadHeaderSize, 12, -1, header_size, kMaxHeaderSize);
    return false;
  }
  if (header_size > size_) {
    *err = Corrupt(Reason::kTruncatedHeader, 0, -1, size_, header_size);
    return false;
  }
  std::string bytes(header_size, '\0');
  if (!src_.ReadAt(0, bytes.data(), header_size, err)) return false;
  if (!DecodeHeader(bytes, &header_, err)) return false;
  if (header_.codec == static_cast<uint8_t>(Codec::kV8) && header_.v8_wire_version > opt_.max_v8_version) {
    Error e;
    e.kind = ErrorKind::kVersion;
    e.reason = Reason::kV8TooNew;
    e.offset = 17;
    e.a = header_.v8_wire_version;
    e.b = opt_.max_v8_version;
    e.detail = header_.node_version;
    *err = e;
    return false;
  }
  res_->header = header_;
  return sink_.OnHeader(header_, err);
}

Outcome Reader::AttemptTrailer(uint64_t pos, Error* err) {
  const uint64_t left = size_ - pos;
  if (left < kTrailerSize) {
    *err = Corrupt(Reason::kTruncated, pos, -1, size_);
    return Outcome::kBad;
  }
  char t[kTrailerSize];
  if (!src_.ReadAt(pos, t, kTrailerSize, err)) return Outcome::kFatal;
  if (std::memcmp(t, kTrailerMagic, 8) != 0 || LoadU32(t + 44) != Crc32c(t, 44) ||
      std::memcmp(t + 48, kEndMagic, 8) != 0) {
    *err = Corrupt(Reason::kTrailerChecksum, pos, -1, LoadU32(t + 44), Crc32c(t, 44));
    return Outcome::kBad;
  }
  Trailer tr;
  tr.entry_count = LoadU64(t + 8);
  tr.block_count = LoadU64(t + 16);
  tr.data_bytes = LoadU64(t + 24);
  tr.file_id = LoadU64(t + 32);
  tr.crc_of_crcs = LoadU32(t + 40);
  if (tr.file_id != header_.file_id) {
    *err = Corrupt(Reason::kTrailerMismatch, pos + 32, -1, tr.file_id, header_.file_id, "file_id");
    return Outcome::kBad;
  }
  if (left > kTrailerSize) {
    *err = Corrupt(Reason::kTrailingBytes, pos + kTrailerSize, -1, left - kTrailerSize);
    return Outcome::kBad;
  }
  trailer_ = tr;
  return Outcome::kTrailer;
}

Outcome Reader::Attempt(uint64_t pos, uint64_t* next, Error* err) {
  const uint64_t left = size_ - pos;
  if (left == 0) {
    *err = Corrupt(Reason::kTruncated, pos, -1, size_);
    return Outcome::kBad;
  }
  char h[kBlockHeaderSize];
  const size_t have = static_cast<size_t>(std::min<uint64_t>(left, kBlockHeaderSize));
  if (!src_.ReadAt(pos, h, have, err)) return Outcome::kFatal;
  if (have >= 4 && std::memcmp(h, kTrailerMagic, 4) == 0) return AttemptTrailer(pos, err);
  if (have < 4 || std::memcmp(h, kBlockMagic, 4) != 0) {
    *err = Corrupt(have < 4 ? Reason::kTruncated : Reason::kBadBlockHeader, pos, -1, size_);
    return Outcome::kBad;
  }
  if (have < kBlockHeaderSize) {
    *err = Corrupt(Reason::kTruncated, pos, -1, size_);
    return Outcome::kBad;
  }
  const uint32_t stored = LoadU32(h + 28);
  const uint32_t computed = Crc32c(h, 28);
  if (stored != computed) {
    *err = Corrupt(Reason::kBadBlockHeader, pos, -1, stored, computed);
    return Outcome::kBad;
  }
  BlockHeader b;
  b.index = LoadU32(h + 4);
  b.payload_size = LoadU32(h + 8);
  b.entry_count = LoadU32(h + 12);
  b.file_id = LoadU64(h + 16);
  b.payload_crc = LoadU32(h + 24);
  if (b.file_id != header_.file_id) {
    *err = Corrupt(Reason::kBadBlockHeader, pos + 16, b.index, b.file_id, header_.file_id, "file_id");
    return Outcome::kBad;
  }
  // In order; when skipping, a later block is welcome (the ones between
  // were lost), an earlier one is not.
  if (b.index != expected_ && (opt_.on_corrupt == OnCorrupt::kThrow || b.index < expected_)) {
    *err = Corrupt(Reason::kBlockOrder, pos + 4, b.index, b.index, expected_);
    return Outcome::kBad;
  }
  if (b.payload_size > left - kBlockHeaderSize) {
    *err = Corrupt(Reason::kTruncated, pos, b.index, size_, b.payload_size);
    err->aux = left - kBlockHeaderSize;
    return Outcome::kBad;
  }
  if (b.payload_size > kMaxBlockPayload && b.entry_count != 1) {
    *err = Corrupt(Reason::kBlockTooLarge, pos + 8, b.index, b.payload_size, kMaxBlockPayload);
    return Outcome::kBad;
  }
  payload_.resize(b.payload_size);  // at most the bytes left in the file
  if (!src_.ReadAt(pos + kBlockHeaderSize, payload_.data(), b.payload_size, err)) return Outcome::kFatal;
  const uint32_t crc = Crc32c(payload_.data(), payload_.size());
  if (crc != b.payload_crc) {
    if (damaged_) resync_work_ += b.payload_size;
    *err = Corrupt(Reason::kBlockChecksum, pos + kBlockHeaderSize, b.index, b.payload_crc, crc);
    return Outcome::kBad;
  }
  if (!DecodeEntries(payload_, b.entry_count, &records_, err)) {
    if (damaged_) resync_work_ += b.payload_size;
    err->offset += pos + kBlockHeaderSize;
    err->block = b.index;
    return Outcome::kBad;
  }
  if (header_.codec == static_cast<uint8_t>(Codec::kV8)) {
    for (const EntryRecord& r : records_) {
      if (r.kind != Kind::kBytes || r.flags != 0) continue;  // only the codec's own (v8-serialized) bytes
      const uint32_t v = V8WireVersion(r.value);
      if (v > opt_.max_v8_version) {
        Error e;
        e.kind = ErrorKind::kVersion;
        e.reason = Reason::kV8TooNew;
        e.offset = pos + kBlockHeaderSize + static_cast<uint64_t>(r.value.data() - payload_.data());
        e.block = b.index;
        e.a = v;
        e.b = opt_.max_v8_version;
        e.detail = header_.node_version;
        *err = e;
        return Outcome::kFatal;
      }
    }
  }
  if (b.index > expected_) res_->skipped_blocks += b.index - expected_;
  expected_ = b.index + 1;
  ++res_->blocks;
  res_->entries += records_.size();
  for (const EntryRecord& r : records_) data_bytes_ += r.key.size() + r.value.size();
  char le[4];
  StoreU32(le, b.payload_crc);
  crc_of_crcs_ = Crc32c(le, 4, crc_of_crcs_);
  if (!sink_.OnBlock(records_, err)) return Outcome::kFatal;
  *next = pos + kBlockHeaderSize + b.payload_size;
  return Outcome::kBlock;
}

bool Reader::FindCandidate(uint64_t from, uint64_t* found, Error* err) {
  // The trailer can only start at the very end: that offset is a candidate
  // (when at or after `from`), and so is the first "TKVB" before it.
  const uint64_t trailer_at = size_ >= kTrailerSize ? size_ - kTrailerSize : size_;
  const uint64_t stop = from <= trailer_at ? trailer_at : size_;  // search [from, stop)
  constexpr size_t kWindow = 64 << 10;
  std::string window;
  for (uint64_t at = from; at < stop && at + 4 <= size_;) {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kWindow, size_ - at));
    window.resize(n);
    if (!src_.ReadAt(at, window.data(), n, err)) return false;
    const char* const begin = window.data();
    const char* const hit = std::search(begin, begin + n, kBlockMagic, kBlockMagic + 4);
    if (hit != begin + n) {
      const uint64_t q = at + static_cast<uint64_t>(hit - begin);
      *found = q < stop ? q : stop;
      return true;
    }
    if (n < 4) break;
    at += n - 3;  // a magic split across windows is seen in the next one
  }
  *found = stop;
  return true;
}

bool Reader::Run(Error* err) {
  res_->file_size = size_;
  if (!ReadHeader(err)) return false;
  uint64_t pos = header_.header_size;
  bool trailer = false;
  // Bound on the work spent on resync candidates that turn out bad, so
  // that no input makes the skip mode quadratic.
  const uint64_t work_limit = 2 * size_ + (kMaxBlockPayload << 2);
  while (pos <= size_) {
    uint64_t next = 0;
    Error e;
    const Outcome o = Attempt(pos, &next, &e);
    if (o == Outcome::kFatal) {
      *err = e;
      return false;
    }
    if (o == Outcome::kTrailer) {
      trailer = true;
      break;
    }
    if (o == Outcome::kBlock) {
      pos = next;
      continue;
    }
    // Bad data at `pos`.
    if (opt_.on_corrupt == OnCorrupt::kThrow) {
      *err = e;
      return false;
    }
    damaged_ = true;
    if (pos >= size_ || resync_work_ > work_limit) break;
    uint64_t cand = 0;
    if (!FindCandidate(pos + 1, &cand, err)) return false;
    if (cand >= size_) break;
    pos = cand;
  }
  if (trailer) {
    const Trailer& t = trailer_;
    if (opt_.on_corrupt == OnCorrupt::kThrow || !damaged_) {
      const char* field = nullptr;
      uint64_t a = 0, b = 0;
      if (t.block_count != res_->blocks)
        field = "block_count", a = t.block_count, b = res_->blocks;
      else if (t.entry_count != res_->entries)
        field = "entry_count", a = t.entry_count, b = res_->entries;
      else if (t.data_bytes != data_bytes_)
        field = "data_bytes", a = t.data_bytes, b = data_bytes_;
      else if (t.crc_of_crcs != crc_of_crcs_)
        field = "block checksums", a = t.crc_of_crcs, b = crc_of_crcs_;
      if (field != nullptr) {
        if (opt_.on_corrupt == OnCorrupt::kThrow) {
          *err = Corrupt(Reason::kTrailerMismatch, size_ - kTrailerSize, -1, a, b, field);
          return false;
        }
        res_->skipped_blocks += t.block_count > res_->blocks ? t.block_count - res_->blocks : 1;
        return true;
      }
      res_->complete = true;
      return true;
    }
    // Skipped some: the trailer says how many blocks there were.
    const uint64_t loaded = res_->blocks;
    res_->skipped_blocks =
        t.block_count > loaded ? t.block_count - loaded : std::max<uint64_t>(res_->skipped_blocks, 1);
    return true;
  }
  // No trailer: everything after the last good block is lost (counted once).
  res_->skipped_blocks += 1;
  return true;
}

}  // namespace

bool ReadSnapshot(ByteSource& src, const ReadOptions& options, ReadSink& sink, ReadResult* result, Error* err) {
  *result = ReadResult{};
  Reader r(src, options, sink, result);
  return r.Run(err);
}

}  // namespace threadkv::snapshot
