#include "writer.h"

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

#include "crc32c.h"

namespace threadkv::snapshot {

uint64_t RandomU64() {
  // random_device once per process (it may be a system call), then a
  // counter mixed through splitmix64: unique per call, unpredictable
  // enough for names and ids (not a secret).
  static const uint64_t seed = [] {
    std::random_device rd;
    return (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
           static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }();
  static std::atomic<uint64_t> counter{0};
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (counter.fetch_add(1, std::memory_order_relaxed) + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

namespace {

long ProcessId() {
#if defined(__unix__) || defined(__APPLE__)
  return static_cast<long>(::getpid());
#else
  return 0;
#endif
}

}  // namespace

bool FileWriter::Begin(const std::string& path, const Header& provisional, const WriterOptions& options, Error* err) {
  options_ = options;
  path_ = path;
  std::string base;
  SplitPath(path, &dir_, &base);
  if (base.empty()) {
    *err = IoError(-EISDIR, kSysOpen, path);
    return false;
  }
  // ".<name>.tmp-<pid>-<random>": hidden, next to the target, never an
  // existing file (O_EXCL; a clash with a leftover draws a new name).
  int fd = -EEXIST;
  for (int attempt = 0; attempt < 8 && fd == -EEXIST; ++attempt) {
    char suffix[48];
    std::snprintf(suffix, sizeof suffix, ".tmp-%ld-%016llx", ProcessId(), static_cast<unsigned long long>(RandomU64()));
    tmp_ = path.substr(0, path.find_last_of('/') + 1) + "." + base + suffix;  // npos + 1 == 0
    fd = fs_.CreateExclusive(tmp_);
  }
  if (fd < 0) {
    *err = IoError(fd, kSysOpen, tmp_);
    tmp_.clear();
    return false;
  }
  fd_ = fd;
  live_ = true;
  file_id_ = provisional.file_id;
  const std::string bytes = EncodeHeader(provisional);
  header_size_ = bytes.size();
  if (!WriteAll(bytes.data(), bytes.size(), nullptr, 0, err)) {
    Abort();
    return false;
  }
  return true;
}

bool FileWriter::WriteAll(const void* a, size_t na, const void* b, size_t nb, Error* err) {
  const char* pa = static_cast<const char*>(a);
  const char* pb = static_cast<const char*>(b);
  while (na + nb > 0) {
    const int64_t r = na > 0 ? fs_.Write(fd_, pa, na, pb, nb) : fs_.Write(fd_, pb, nb, nullptr, 0);
    if (r < 0) {
      *err = IoError(static_cast<int>(r), kSysWrite, tmp_);
      return false;
    }
    if (r == 0) {  // no progress and no error: treat as a full device
      *err = IoError(-ENOSPC, kSysWrite, tmp_);
      return false;
    }
    auto done = static_cast<size_t>(r);
    offset_ += done;
    const size_t from_a = done < na ? done : na;
    pa += from_a;
    na -= from_a;
    done -= from_a;
    pb += done;
    nb -= done;
  }
  return true;
}

bool FileWriter::WriteBlock(std::string_view payload, uint32_t entry_count, Error* err) {
  if (!live_) return false;
  BlockHeader b;
  b.index = next_index_;
  b.payload_size = static_cast<uint32_t>(payload.size());
  b.entry_count = entry_count;
  b.file_id = file_id_;
  b.payload_crc = Crc32c(payload.data(), payload.size());
  char h[kBlockHeaderSize];
  EncodeBlockHeader(b, h);
  if (!WriteAll(h, sizeof h, payload.data(), payload.size(), err)) {
    Abort();
    return false;
  }
  char le[4];
  StoreU32(le, b.payload_crc);
  crc_of_crcs_ = Crc32c(le, 4, crc_of_crcs_);
  ++next_index_;
  entries_ += entry_count;
  data_bytes_ += payload.size() - size_t{entry_count} * kEntryHeaderSize;
  if (options_.pause_us != 0) std::this_thread::sleep_for(std::chrono::microseconds(options_.pause_us));
  return true;
}

bool FileWriter::Commit(const Header& header, Error* err) {
  if (!live_) return false;
  Trailer t;
  t.entry_count = entries_;
  t.block_count = next_index_;
  t.data_bytes = data_bytes_;
  t.file_id = file_id_;
  t.crc_of_crcs = crc_of_crcs_;
  const std::string trailer = EncodeTrailer(t);
  if (!WriteAll(trailer.data(), trailer.size(), nullptr, 0, err)) {
    Abort();
    return false;
  }
  const std::string bytes = EncodeHeader(header);
  if (bytes.size() != header_size_ || header.file_id != file_id_) {
    *err = IoError(-EINVAL, kSysWrite, tmp_);  // a caller bug: the header changed shape
    Abort();
    return false;
  }
  for (size_t done = 0; done < bytes.size();) {
    const int64_t r = fs_.PWrite(fd_, bytes.data() + done, bytes.size() - done, done);
    if (r <= 0) {
      *err = IoError(r < 0 ? static_cast<int>(r) : -ENOSPC, kSysWrite, tmp_);
      Abort();
      return false;
    }
    done += static_cast<size_t>(r);
  }
  if (options_.fsync) {
    const int r = fs_.Fsync(fd_);
    if (r < 0) {
      *err = IoError(r, kSysFsync, tmp_);
      Abort();
      return false;
    }
  }
  const int closed = fs_.Close(fd_);
  fd_ = -1;
  if (closed < 0) {
    *err = IoError(closed, kSysClose, tmp_);
    Abort();
    return false;
  }
  const int renamed = fs_.Rename(tmp_, path_);
  if (renamed < 0) {
    *err = IoError(renamed, kSysRename, path_);
    Abort();
    return false;
  }
  live_ = false;  // the temporary name is gone: it is the target now
  if (options_.fsync) {
    const int dfd = fs_.OpenDir(dir_);
    if (dfd < 0) {
      *err = IoError(dfd, kSysOpen, dir_);
      return false;
    }
    const int r = fs_.Fsync(dfd);
    fs_.Close(dfd);
    // Some file systems cannot fsync a directory (EINVAL): nothing more
    // can be done there, as for Redis's fsyncFileDir.
    if (r < 0 && r != -EINVAL && r != -EBADF) {
      *err = IoError(r, kSysFsync, dir_);
      return false;
    }
  }
  return true;
}

void FileWriter::Abort() {
  if (fd_ >= 0) {
    fs_.Close(fd_);
    fd_ = -1;
  }
  if (live_) {
    fs_.Unlink(tmp_);
    live_ = false;
  }
}

}  // namespace threadkv::snapshot
