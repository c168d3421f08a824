// Snapshot and restore of a whole Store: the glue between the store and the
// file format (format.h), the crash-safe writer (writer.h) and the loader
// (reader.h).
//
// Save: one shard at a time. Under the shard's shared lock (Store::Scan)
// only pointers to its live entries are collected, with their deadlines;
// then, with no lock held, the entries' bytes are appended to one buffer
// that is cut into blocks and written as it fills. A hook installed for the
// save (KeepAlive) keeps every entry that writers unlink from the shard
// being written until the save is done with it, so every pointer stays
// valid and each shard's part of the file is the image it had when its
// pointers were collected. Readers never wait; a writer to a shard waits at
// most for the collection of that shard's pointers (never for the copy of
// its bytes, nor for disk I/O). The file as a whole is weakly consistent,
// like iteration (a write to a shard already collected is not in the file,
// one to a shard not yet collected is). Extra memory: the largest shard's
// pointers (16 bytes per entry), less than two blocks, and the entries
// writers replace or delete in the shard being written meanwhile.
// Saves of one store run one at a time (a second waits for the first).
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
