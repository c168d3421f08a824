// The snapshot file format, version 1 (docs/snapshot-format.md describes it
// byte by byte). Every integer is little-endian.
//
//   file    = header, block*, trailer
//   header  = "TKVSNAP\0", u16 format_version, u16 min_reader_version,
//             u32 header_size, then (version 1) u8 codec, u8 v8_wire_version,
//             u16 reserved, i64 created_unix_ms, u64 file_id,
//             u32 shard_count, u64 last_version[shard_count],
//             u16 name_len + store name, u8 len + threadkv version,
//             u8 len + Node version, [fields of later versions],
//             u32 CRC32C of every header byte before it.
//   block   = "TKVB", u32 index (0, 1, ...), u32 payload_size,
//             u32 entry_count, u64 file_id, u32 CRC32C of the payload,
//             u32 CRC32C of the 28 bytes before it; then the payload:
//             entry_count entries, back to back, filling it exactly.
//   entry   = u32 key_size, u32 value_size, u8 kind, u8 flags,
//             i64 expiry_unix_ms (0: none), key bytes, value bytes.
//   trailer = "TKVTRAIL", u64 entry_count, u64 block_count, u64 data_bytes,
//             u64 file_id, u32 CRC32C of the blocks' payload CRCs,
//             u32 CRC32C of the 44 bytes before it, "TKVEND\0\0".
//
// The first 16 header bytes and the header's closing CRC keep their meaning
// in every later version, so that any reader can tell a newer file (a clean
// version error) from a damaged one. A block holds whole entries, at most
// kMaxBlockPayload bytes of them, except that an entry too big for that
// gets a block of its own. Blocks and the trailer carry the header's random
// file_id, so that a block of another snapshot (say, a snapshot stored as a
// value) is never taken for one of this file.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "../entry.h"

namespace threadkv::snapshot {

// ---- Versions ----

// The format this code writes.
inline constexpr uint16_t kFormatVersion = 1;
// The oldest reader that can read what this code writes.
inline constexpr uint16_t kWriteMinReaderVersion = 1;
// The newest format version this code reads: files whose
// min_reader_version is above it are refused (a version error).
inline constexpr uint16_t kReaderVersion = 1;

// ---- Layout constants ----

inline constexpr char kFileMagic[8] = {'T', 'K', 'V', 'S', 'N', 'A', 'P', '\0'};
inline constexpr char kBlockMagic[4] = {'T', 'K', 'V', 'B'};
inline constexpr char kTrailerMagic[8] = {'T', 'K', 'V', 'T', 'R', 'A', 'I', 'L'};
inline constexpr char kEndMagic[8] = {'T', 'K', 'V', 'E', 'N', 'D', '\0', '\0'};

// Header bytes every version starts with: magic, the two versions, size.
inline constexpr size_t kHeaderPrefixSize = 16;
// Version 1's fixed fields after the prefix, up to the shard versions.
inline constexpr size_t kHeaderFixedSize = 40;
// The largest header a reader accepts (65536 shard versions fit easily).
inline constexpr size_t kMaxHeaderSize = 1u << 20;
inline constexpr size_t kBlockHeaderSize = 32;
inline constexpr size_t kEntryHeaderSize = 18;
inline constexpr size_t kTrailerSize = 56;
// Payload bytes per block (whole entries only; a larger entry gets a block
// of its own).
inline constexpr size_t kMaxBlockPayload = 1u << 20;
inline constexpr size_t kMaxVersionString = 64;
// The highest last_version a reader accepts: a store's versions stay below
// 2^53 (exact as JS numbers), and a restore raises the store's counters to
// the file's highest, so a larger one can only come from a damaged file.
inline constexpr uint64_t kMaxLastVersion = (uint64_t{1} << 53) - 1;
inline constexpr size_t kMaxNameBytes = 4096;
inline constexpr uint32_t kMaxShards = 65536;

// ---- Little-endian fields ----

inline void PutU16(std::string& out, uint16_t v) {
  const char b[2] = {static_cast<char>(v), static_cast<char>(v >> 8)};
  out.append(b, 2);
}
inline void PutU32(std::string& out, uint32_t v) {
  char b[4];
  for (int i = 0; i < 4; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 4);
}
inline void PutU64(std::string& out, uint64_t v) {
  char b[8];
  for (int i = 0; i < 8; ++i) b[i] = static_cast<char>(v >> (8 * i));
  out.append(b, 8);
}
inline void StoreU32(char* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline void StoreU64(char* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<char>(v >> (8 * i));
}
inline uint16_t LoadU16(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint16_t>(u[0] | (u[1] << 8));
}
inline uint32_t LoadU32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return static_cast<uint32_t>(u[0]) | (static_cast<uint32_t>(u[1]) << 8) | (static_cast<uint32_t>(u[2]) << 16) |
         (static_cast<uint32_t>(u[3]) << 24);
}
inline uint64_t LoadU64(const char* p) { return LoadU32(p) | (static_cast<uint64_t>(LoadU32(p + 4)) << 32); }

// ---- Parsed structures ----

struct Header {
  uint16_t format_version = kFormatVersion;
  uint16_t min_reader_version = kWriteMinReaderVersion;
  uint32_t header_size = 0;  // as read (Encode computes it)
  uint8_t codec = 0;         // threadkv::Codec
  // The highest V8 serializer wire-format version among the file's kBytes
  // values (v8 codec only; 0 when there is none).
  uint8_t v8_wire_version = 0;
  int64_t created_unix_ms = 0;
  uint64_t file_id = 0;
  std::vector<uint64_t> last_versions;  // one per shard of the store saved
  std::string store_name;               // WTF-8
  std::string threadkv_version;
  std::string node_version;

  // The highest of last_versions (0 if none).
  uint64_t max_version() const;
};

struct BlockHeader {
  uint32_t index = 0;
  uint32_t payload_size = 0;
  uint32_t entry_count = 0;
  uint64_t file_id = 0;
  uint32_t payload_crc = 0;
};

struct Trailer {
  uint64_t entry_count = 0;
  uint64_t block_count = 0;
  uint64_t data_bytes = 0;  // sum of the entries' key and value sizes
  uint64_t file_id = 0;
  uint32_t crc_of_crcs = 0;
};

// One entry as stored in a block: views into the block's payload.
struct EntryRecord {
  std::string_view key;
  Kind kind = Kind::kBytes;
  uint8_t flags = 0;
  std::string_view value;
  int64_t expiry_unix_ms = 0;  // 0: no expiry
};

// ---- Encoding (writer side) ----

// The header's bytes, CRC included (header_size is computed).
std::string EncodeHeader(const Header& h);
// Writes a block header for `b` into out[0, kBlockHeaderSize).
void EncodeBlockHeader(const BlockHeader& b, char* out);
std::string EncodeTrailer(const Trailer& t);
// Appends one entry (header, key, value) to `out`.
void AppendEntry(std::string& out, std::string_view key, Kind kind, uint8_t flags, const void* value, size_t value_size,
                 int64_t expiry_unix_ms);

// ---- Errors ----

// What went wrong; the binding turns it into a JS error (lib/errors.ts
// writes every message from these facts).
// Which limit refused a restored entry (ErrorKind::kLimit). Key and value
// sizes are the binding's checks on set (no core Status speaks of them), so
// the snapshot keeps its own list.
enum class Limit : uint8_t {
  kNone = 0,
  kKeyTooLong,     // over Options::max_key_bytes
  kValueTooLarge,  // over Options::max_value_bytes
  kFullEntries,    // policy none: over a shard's max_entries
  kFullBytes,      // policy none: over a shard's max_bytes
  kTooBig,         // the entry alone is over a shard's byte budget
};

enum class ErrorKind : uint8_t {
  kNone = 0,
  kCorrupt,    // ERR_THREADKV_SNAPSHOT_CORRUPT
  kVersion,    // ERR_THREADKV_SNAPSHOT_VERSION
  kCodec,      // the file's codec is not the store's
  kIo,         // a system call failed: errno, syscall, path
  kDestroyed,  // the store was destroyed during the operation
  kLimit,      // restore: a store limit refused an entry (as on set)
  kNoMemory,   // an allocation failed (std::bad_alloc); a save removed its temporary file
};

// Why a file is corrupt or of another version: a stable identifier each
// (lib/errors.ts has a message for each).
enum class Reason : uint8_t {
  kNone = 0,
  // kCorrupt
  kNotSnapshot,      // the file does not start with the magic
  kTruncatedHeader,  // shorter than its header
  kBadHeaderSize,    // header_size out of range
  kHeaderChecksum,   // header CRC mismatch (a = stored, b = computed)
  kBadHeaderField,   // a header field out of range (field names which)
  kBadBlockHeader,   // no valid block header (or trailer) where one must start
  kBlockChecksum,    // block payload CRC mismatch (a = stored, b = computed)
  kBlockOrder,       // block index out of sequence (a = found, b = expected)
  kBlockTooLarge,    // payload_size past the end of the file or over the limit (a = size, b = bytes left)
  kBadEntry,         // an entry does not parse (field names what)
  kTruncated,        // the file ends before its trailer (a = file size)
  kTrailerChecksum,  // trailer CRC mismatch, or bad end magic
  kTrailerMismatch,  // the trailer's counts differ from the file's (field names which; a = trailer, b = file)
  kTrailingBytes,    // bytes after the trailer
  // kVersion
  kFormatTooNew,  // a = min_reader_version, b = kReaderVersion (format_version in aux)
  kV8TooNew,      // a = file's V8 wire version, b = this process's
};

struct Error {
  ErrorKind kind = ErrorKind::kNone;
  Reason reason = Reason::kNone;
  uint64_t offset = 0;    // file offset of the problem (corrupt / version)
  int64_t block = -1;     // block index, when it concerns one
  uint64_t a = 0, b = 0;  // reason-specific numbers (see Reason)
  uint64_t aux = 0;
  const char* field = "";                   // a field name (kBadHeaderField, kBadEntry, kTrailerMismatch)
  int sys_errno = 0;                        // kIo
  const char* syscall = "";                 // kIo
  std::string path;                         // kIo: the path the call was about
  uint8_t file_codec = 0, store_codec = 0;  // kCodec
  std::string detail;                       // kVersion: the file's Node / threadkv version; kLimit: the key
  Limit limit = Limit::kNone;               // kLimit: which one
  bool ok() const { return kind == ErrorKind::kNone; }
};

inline Error Corrupt(Reason r, uint64_t offset, int64_t block = -1, uint64_t a = 0, uint64_t b = 0,
                     const char* field = "") {
  Error e;
  e.kind = ErrorKind::kCorrupt;
  e.reason = r;
  e.offset = offset;
  e.block = block;
  e.a = a;
  e.b = b;
  e.field = field;
  return e;
}

}  // namespace threadkv::snapshot
