// The system calls a snapshot makes, behind one small interface so that
// tests can make any of them fail (FaultyFs in the tests) and check that a
// failure at any step leaves the old file intact and no temporary file.
//
// POSIX only for now (Linux, macOS): on other platforms every call fails
// with ENOSYS, so snapshot() and restore() reject cleanly.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "format.h"
#include "reader.h"

namespace threadkv::snapshot {

// Each call returns 0 (or a count / descriptor >= 0) on success and -errno
// on failure.
class Fs {
 public:
  virtual ~Fs() = default;
  // open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666)
  virtual int CreateExclusive(const std::string& path) = 0;
  // open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
  virtual int OpenRead(const std::string& path) = 0;
  // open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
  virtual int OpenDir(const std::string& dir) = 0;
  // One writev of up to two pieces at the current offset (may be partial).
  virtual int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) = 0;
  virtual int64_t PWrite(int fd, const void* data, size_t n, uint64_t offset) = 0;
  virtual int64_t PRead(int fd, void* data, size_t n, uint64_t offset) = 0;
  virtual int Fsync(int fd) = 0;
  virtual int FileSize(int fd, uint64_t* size) = 0;
  virtual int Close(int fd) = 0;
  virtual int Rename(const std::string& from, const std::string& to) = 0;
  virtual int Unlink(const std::string& path) = 0;
};

// The real system calls.
Fs& SystemFs();

// The name of the system call behind each Fs method, for error messages.
inline constexpr const char* kSysOpen = "open";
inline constexpr const char* kSysWrite = "write";
inline constexpr const char* kSysRead = "read";
inline constexpr const char* kSysFsync = "fsync";
inline constexpr const char* kSysRename = "rename";
inline constexpr const char* kSysStat = "fstat";
inline constexpr const char* kSysClose = "close";

inline Error IoError(int neg_errno, const char* syscall, std::string path) {
  Error e;
  e.kind = ErrorKind::kIo;
  e.sys_errno = -neg_errno;
  e.syscall = syscall;
  e.path = std::move(path);
  return e;
}

// A snapshot file opened for reading (pread; never mmap, so that a file
// truncated under us gives a short read, not SIGBUS).
class FileSource final : public ByteSource {
 public:
  explicit FileSource(Fs& fs = SystemFs()) : fs_(fs) {}
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;

  bool Open(const std::string& path, Error* err);
  uint64_t size() const override { return size_; }
  bool ReadAt(uint64_t offset, void* dst, size_t n, Error* err) override;

 private:
  Fs& fs_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
};

// The directory part of `path` ("." when it has none) and the file name.
void SplitPath(const std::string& path, std::string* dir, std::string* base);

}  // namespace threadkv::snapshot
