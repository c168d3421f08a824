// Reading a snapshot: a loader that is safe on any input.
//
// Every length read from the file is checked against the bytes left (in the
// file, the header or the block) before anything is allocated or read, so
// nothing allocates more than the file's size allows; every loop advances
// by at least one byte of input, so nothing hangs; nothing aborts. A block
// is checked whole (its header CRC, its payload CRC, and every entry field)
// before the sink sees any of its entries.
//
// OnCorrupt::kThrow stops at the first problem (the caller publishes
// nothing unless the whole file read cleanly). OnCorrupt::kSkip reads past
// bad blocks: it looks for the next valid block header after the damage
// (blocks carry the file's random id and their index, so nothing else is
// taken for one) and counts the blocks it could not load. A bad header
// fails the read in both modes: without it nothing can be trusted.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "format.h"

namespace threadkv::snapshot {

// Where the bytes come from: a file (file_io.h) or memory (tests, fuzzing).
class ByteSource {
 public:
  virtual ~ByteSource() = default;
  virtual uint64_t size() const = 0;
  // Reads exactly `n` bytes at `offset` (the caller keeps offset + n within
  // size()). False with *err (kIo) on failure.
  virtual bool ReadAt(uint64_t offset, void* dst, size_t n, Error* err) = 0;
};

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::string_view bytes) : bytes_(bytes) {}
  uint64_t size() const override { return bytes_.size(); }
  bool ReadAt(uint64_t offset, void* dst, size_t n, Error* err) override;

 private:
  std::string_view bytes_;
};

enum class OnCorrupt : uint8_t { kThrow = 0, kSkip = 1 };

struct ReadOptions {
  OnCorrupt on_corrupt = OnCorrupt::kThrow;
  // The newest V8 serializer wire-format version this process reads: a v8
  // codec file holding a value of a newer one is refused (kVersion). 255:
  // no check.
  uint8_t max_v8_version = 255;
};

// Receives what the reader found. Returning false stops the read; the
// callee sets *err.
class ReadSink {
 public:
  virtual ~ReadSink() = default;
  virtual bool OnHeader(const Header& header, Error* err) = 0;
  // Every entry of one good block (views valid during the call).
  virtual bool OnBlock(const std::vector<EntryRecord>& entries, Error* err) = 0;
};

struct ReadResult {
  Header header;
  uint64_t file_size = 0;
  uint64_t entries = 0;         // entries handed to the sink
  uint64_t blocks = 0;          // good blocks
  uint64_t skipped_blocks = 0;  // kSkip: blocks that could not be loaded (a lost tail counts once)
  bool complete = false;        // the trailer was found and matched
};

// Reads the whole snapshot from `src` into `sink`. False with *err on the
// first problem (kThrow), on a bad header, a version problem or a sink
// error (both modes), or on an I/O error.
bool ReadSnapshot(ByteSource& src, const ReadOptions& options, ReadSink& sink, ReadResult* result, Error* err);

// ---- The pieces, exposed for tests ----

// Checks `bytes` (one header: header_size bytes, its CRC last) and parses it.
bool DecodeHeader(std::string_view bytes, Header* out, Error* err);

// Parses a block's payload: exactly `count` entries filling it. Errors carry
// the payload offset of the bad entry (the caller adds the block's offset).
bool DecodeEntries(std::string_view payload, uint32_t count, std::vector<EntryRecord>* out, Error* err);

// Whether `s` is well-formed WTF-8 as threadkv writes it (UTF-8, plus
// lone surrogates as 3-byte sequences, never a surrogate pair encoded as
// two of them), and whether it is all ASCII / holds a lone surrogate.
bool ValidWtf8(std::string_view s, bool* ascii, bool* lone);

// The V8 serializer wire-format version a value's bytes start with (0xFF
// then the version as a varint); 0 if they do not start that way.
uint32_t V8WireVersion(std::string_view value);

}  // namespace threadkv::snapshot
