// Snapshot and restore of a whole Store: the glue between the store and the
// file format (format.h), the crash-safe writer (writer.h) and the loader
// (reader.h).
//
// Save: the whole file is one point in time (the cut), taken without
// stopping writers. A hook (PointInTime) is installed under every shard's
// write lock at once: that instant is the cut, and the hook learns each
// shard's last version then. Then one shard at a time: under the shard's
// shared lock (Store::ScanThen) only pointers to its entries of versions up
// to the cut are collected, with their deadlines, together with what the
// hook recorded for the shard since the cut; then, with no lock held, the
// entries' bytes are appended to one buffer that is cut into blocks and
// written as it fills. From the cut until a shard is written, every entry
// of the cut that writers unlink from it (replace, delete, expire, evict,
// clear) is kept instead of freed, and recorded (with the version and
// deadline it had) while the shard is not yet collected, as is the old
// deadline of an entry expire() changes in place: the collection puts the
// recorded entry in the file in place of whatever the key holds by then.
// Readers never wait; a writer to a shard waits at most for the collection
// of that shard's pointers (never for the copy of its bytes, nor for disk
// I/O). Extra memory: the largest shard's pointers (24 bytes per entry),
// less than two blocks, and the entries of the cut that writers unlink
// before their shard is written (up to the whole store, after a clear()),
// with a 24-byte record each for those unlinked before their shard is
// collected. If the hook cannot be installed (HookList::kMax hooks), each
// shard is copied under its shared lock instead and the file is one point
// in time per shard only (SaveInfo::point_in_time). Saves of one store run
// one at a time (a second waits for the first).
//
// Restore: the whole file is read and checked first, its entries built in
// memory (at most what the file holds); only then does anything reach the
// store, so a file that fails to read (kThrow) or holds an entry a limit
// refuses up front leaves the store exactly as it was.
#pragma once

#include <cstdint>
#include <string>

#include "../store.h"
#include "file_io.h"
#include "format.h"
#include "reader.h"
#include "writer.h"

namespace threadkv::snapshot {

struct SaveOptions {
  WriterOptions writer;
  // Payload bytes per block (at most kMaxBlockPayload; tests use small
  // blocks to get many of them from a small store).
  size_t block_bytes = kMaxBlockPayload;
  std::string threadkv_version;
  std::string node_version;
};

struct SaveInfo {
  uint64_t entries = 0;
  uint64_t bytes = 0;              // file size
  uint64_t buffer_peak_bytes = 0;  // the copy buffer's (or the entry pointers') largest size
  // Entries writers unlinked during the save that it kept for the file
  // (their bytes at the most at once) and entries recorded (unlinked, or
  // given a new deadline, before their shard was collected).
  uint64_t kept_peak_bytes = 0;
  uint64_t kept_records = 0;
  // The file is one point in time (false: the store had HookList::kMax
  // hooks, each shard was copied under its lock, the file is consistent
  // per shard only).
  bool point_in_time = false;
};

// Writes `store` to `path`. False with *err (kIo, kDestroyed) on failure:
// the temporary file is gone, `path` untouched, the store unaffected.
bool SaveStore(Store& store, const std::string& path, const SaveOptions& options, SaveInfo* info, Error* err,
               Fs& fs = SystemFs());

enum class RestoreMode : uint8_t {
  kReplace = 0,      // the store's content becomes the file's
  kFillMissing = 1,  // keys already present are kept
};

struct LoadOptions {
  RestoreMode mode = RestoreMode::kReplace;
  ReadOptions read;
};

struct LoadInfo {
  uint64_t entries = 0;          // entries written into the store
  uint64_t skipped_expired = 0;  // entries whose deadline had passed
  uint64_t skipped_corrupt = 0;  // kSkip: blocks that could not be loaded
  uint64_t bytes = 0;            // file size
};

bool LoadStore(Store& store, const std::string& path, const LoadOptions& options, LoadInfo* info, Error* err,
               Fs& fs = SystemFs());
// The same from any byte source (tests, the fuzz target).
bool LoadStoreFrom(Store& store, ByteSource& src, const LoadOptions& options, LoadInfo* info, Error* err);

// Milliseconds since the Unix epoch (system clock).
int64_t WallNowMs();

}  // namespace threadkv::snapshot
