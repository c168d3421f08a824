#include "format.h"

#include <algorithm>

#include "crc32c.h"

namespace threadkv::snapshot {

uint64_t Header::max_version() const {
  uint64_t m = 0;
  for (uint64_t v : last_versions) m = std::max(m, v);
  return m;
}

std::string EncodeHeader(const Header& h) {
  std::string out;
  out.reserve(kHeaderFixedSize + 8 * h.last_versions.size() + 2 + h.store_name.size() + 2 + h.threadkv_version.size() +
              h.node_version.size() + 4);
  out.append(kFileMagic, sizeof kFileMagic);
  PutU16(out, h.format_version);
  PutU16(out, h.min_reader_version);
  PutU32(out, 0);  // header_size, patched below
  out.push_back(static_cast<char>(h.codec));
  out.push_back(static_cast<char>(h.v8_wire_version));
  PutU16(out, 0);  // reserved
  PutU64(out, static_cast<uint64_t>(h.created_unix_ms));
  PutU64(out, h.file_id);
  PutU32(out, static_cast<uint32_t>(h.last_versions.size()));
  for (uint64_t v : h.last_versions) PutU64(out, v);
  const std::string_view name = std::string_view(h.store_name).substr(0, kMaxNameBytes);
  PutU16(out, static_cast<uint16_t>(name.size()));
  out.append(name);
  for (const std::string* s : {&h.threadkv_version, &h.node_version}) {
    const std::string_view v = std::string_view(*s).substr(0, kMaxVersionString);
    out.push_back(static_cast<char>(v.size()));
    out.append(v);
  }
  StoreU32(out.data() + 12, static_cast<uint32_t>(out.size() + 4));
  PutU32(out, Crc32c(out.data(), out.size()));
  return out;
}

void EncodeBlockHeader(const BlockHeader& b, char* out) {
  std::memcpy(out, kBlockMagic, 4);
  StoreU32(out + 4, b.index);
  StoreU32(out + 8, b.payload_size);
  StoreU32(out + 12, b.entry_count);
  StoreU64(out + 16, b.file_id);
  StoreU32(out + 24, b.payload_crc);
  StoreU32(out + 28, Crc32c(out, 28));
}

std::string EncodeTrailer(const Trailer& t) {
  std::string out;
  out.reserve(kTrailerSize);
  out.append(kTrailerMagic, sizeof kTrailerMagic);
  PutU64(out, t.entry_count);
  PutU64(out, t.block_count);
  PutU64(out, t.data_bytes);
  PutU64(out, t.file_id);
  PutU32(out, t.crc_of_crcs);
  PutU32(out, Crc32c(out.data(), out.size()));
  out.append(kEndMagic, sizeof kEndMagic);
  return out;
}

void AppendEntry(std::string& out, std::string_view key, Kind kind, uint8_t flags, const void* value, size_t value_size,
                 int64_t expiry_unix_ms) {
  char h[kEntryHeaderSize];
  StoreU32(h, static_cast<uint32_t>(key.size()));
  StoreU32(h + 4, static_cast<uint32_t>(value_size));
  h[8] = static_cast<char>(kind);
  h[9] = static_cast<char>(flags);
  StoreU64(h + 10, static_cast<uint64_t>(expiry_unix_ms));
  out.append(h, kEntryHeaderSize);
  out.append(key);
  out.append(static_cast<const char*>(value), value_size);
}

}  // namespace threadkv::snapshot
