// Writing a snapshot file with the crash-safe protocol:
//
//   1. create a new temporary file next to the target (same directory, so
//      the rename stays within one file system), with O_EXCL and a random
//      name: never an existing file, never another writer's;
//   2. write the header (room reserved first, final content at the end),
//      the blocks and the trailer;
//   3. fsync it (with options.fsync), close it;
//   4. rename it over the target path (atomic: the path names the old
//      complete file or the new complete one, never a partial one);
//   5. fsync the directory (with options.fsync), so the rename itself is
//      durable.
//
// On any error before the rename the temporary file is closed and removed
// and the target is untouched. fsync is never retried on the same file
// (after a failed fsync the kernel may have dropped the dirty pages, and a
// second fsync would "succeed" without them): the next snapshot writes a
// new file.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "file_io.h"
#include "format.h"

namespace threadkv::snapshot {

struct WriterOptions {
  // fsync the file before the rename and the directory after it. Without
  // it a process crash still leaves a complete file (the page cache
  // survives), a power loss may not.
  bool fsync = true;
  // Sleep this many microseconds after each block: a throttle, and the
  // seam crash tests use to stop a snapshot between blocks. 0: none.
  uint32_t pause_us = 0;
};

class FileWriter {
 public:
  explicit FileWriter(Fs& fs = SystemFs()) : fs_(fs) {}
  ~FileWriter() { Abort(); }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  // Creates the temporary file for `path` and writes `provisional` (its
  // size is reserved: the final header must encode to the same size).
  bool Begin(const std::string& path, const Header& provisional, const WriterOptions& options, Error* err);
  // Writes `payload` (entry_count whole entries) as the next block.
  bool WriteBlock(std::string_view payload, uint32_t entry_count, Error* err);
  // Writes the trailer and `header` (same file_id and size as the
  // provisional one), then fsync, close, rename, fsync of the directory.
  bool Commit(const Header& header, Error* err);
  // Closes and removes the temporary file (no-op after Commit).
  void Abort();

  uint64_t file_size() const { return offset_; }
  uint64_t entries() const { return entries_; }
  uint32_t blocks() const { return next_index_; }
  const std::string& temp_path() const { return tmp_; }

 private:
  bool WriteAll(const void* a, size_t na, const void* b, size_t nb, Error* err);

  Fs& fs_;
  WriterOptions options_;
  std::string path_;
  std::string dir_;
  std::string tmp_;
  int fd_ = -1;
  bool live_ = false;  // the temporary file exists and is ours to remove
  uint64_t file_id_ = 0;
  size_t header_size_ = 0;
  uint64_t offset_ = 0;
  uint32_t next_index_ = 0;
  uint32_t crc_of_crcs_ = 0;
  uint64_t entries_ = 0;
  uint64_t data_bytes_ = 0;
};

// A random 64-bit number (file ids, temporary names).
uint64_t RandomU64();

}  // namespace threadkv::snapshot
