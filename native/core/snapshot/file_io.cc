#include "file_io.h"

#include <cerrno>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#define THREADKV_POSIX_IO 1
#endif

namespace threadkv::snapshot {

namespace {

#if defined(THREADKV_POSIX_IO)

int Neg(int r) { return r < 0 ? -errno : r; }
int64_t Neg64(ssize_t r) { return r < 0 ? -static_cast<int64_t>(errno) : static_cast<int64_t>(r); }

class PosixFs final : public Fs {
 public:
  int CreateExclusive(const std::string& path) override {
    int r;
    do r = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    while (r < 0 && errno == EINTR);
    return Neg(r);
  }
  int OpenRead(const std::string& path) override {
    // O_NONBLOCK: opening a FIFO must not wait for a writer (FileSize then
    // refuses anything but a regular file; on those the flag does nothing).
    int r;
    do r = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    while (r < 0 && errno == EINTR);
    return Neg(r);
  }
  int OpenDir(const std::string& dir) override {
#if defined(O_DIRECTORY)
    const int flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
#else
    const int flags = O_RDONLY | O_CLOEXEC;
#endif
    int r;
    do r = ::open(dir.c_str(), flags);
    while (r < 0 && errno == EINTR);
    return Neg(r);
  }
  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    iovec iov[2] = {{const_cast<void*>(a), na}, {const_cast<void*>(b), nb}};
    ssize_t r;
    do r = ::writev(fd, iov, nb == 0 ? 1 : 2);
    while (r < 0 && errno == EINTR);
    return Neg64(r);
  }
  int64_t PWrite(int fd, const void* data, size_t n, uint64_t offset) override {
    ssize_t r;
    do r = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    while (r < 0 && errno == EINTR);
    return Neg64(r);
  }
  int64_t PRead(int fd, void* data, size_t n, uint64_t offset) override {
    ssize_t r;
    do r = ::pread(fd, data, n, static_cast<off_t>(offset));
    while (r < 0 && errno == EINTR);
    return Neg64(r);
  }
  int Fsync(int fd) override {
    // Never retried on failure (fsyncgate: after an error the kernel may
    // have dropped the dirty pages, and a second fsync "succeeds"). EINTR
    // is not such a failure: nothing was reported about the data.
    int r;
    do r = ::fsync(fd);
    while (r < 0 && errno == EINTR);
    return Neg(r);
  }
  int FileSize(int fd, uint64_t* size) override {
    struct stat st;
    if (::fstat(fd, &st) != 0) return -errno;
    if (!S_ISREG(st.st_mode)) return S_ISDIR(st.st_mode) ? -EISDIR : -EINVAL;
    *size = static_cast<uint64_t>(st.st_size);
    return 0;
  }
  int Close(int fd) override {
    // Not retried on EINTR: on Linux the descriptor is released anyway.
    return Neg(::close(fd));
  }
  int Rename(const std::string& from, const std::string& to) override {
    return Neg(::rename(from.c_str(), to.c_str()));
  }
  int Unlink(const std::string& path) override { return Neg(::unlink(path.c_str())); }
};

#else

class PosixFs final : public Fs {  // no POSIX: every call fails
 public:
  int CreateExclusive(const std::string&) override { return -ENOSYS; }
  int OpenRead(const std::string&) override { return -ENOSYS; }
  int OpenDir(const std::string&) override { return -ENOSYS; }
  int64_t Write(int, const void*, size_t, const void*, size_t) override { return -ENOSYS; }
  int64_t PWrite(int, const void*, size_t, uint64_t) override { return -ENOSYS; }
  int64_t PRead(int, void*, size_t, uint64_t) override { return -ENOSYS; }
  int Fsync(int) override { return -ENOSYS; }
  int FileSize(int, uint64_t*) override { return -ENOSYS; }
  int Close(int) override { return -ENOSYS; }
  int Rename(const std::string&, const std::string&) override { return -ENOSYS; }
  int Unlink(const std::string&) override { return -ENOSYS; }
};

#endif

}  // namespace

Fs& SystemFs() {
  static PosixFs* fs = new PosixFs();  // never destroyed: used from any thread until exit
  return *fs;
}

void SplitPath(const std::string& path, std::string* dir, std::string* base) {
  // (push_back rather than assigning "." or "/": GCC 12 at -O3 reports a
  // false -Wrestrict on short literal assignments.)
  const size_t slash = path.find_last_of('/');
  dir->clear();
  if (slash == std::string::npos) {
    dir->push_back('.');
    base->assign(path);
  } else {
    if (slash == 0)
      dir->push_back('/');
    else
      dir->assign(path, 0, slash);
    base->assign(path, slash + 1, std::string::npos);
  }
}

FileSource::~FileSource() {
  if (fd_ >= 0) fs_.Close(fd_);
}

bool FileSource::Open(const std::string& path, Error* err) {
  path_ = path;
  const int fd = fs_.OpenRead(path);
  if (fd < 0) {
    *err = IoError(fd, kSysOpen, path);
    return false;
  }
  fd_ = fd;
  const int r = fs_.FileSize(fd_, &size_);
  if (r < 0) {
    *err = IoError(r, r == -EISDIR || r == -EINVAL ? kSysRead : kSysStat, path);
    return false;
  }
  return true;
}

bool FileSource::ReadAt(uint64_t offset, void* dst, size_t n, Error* err) {
  auto* out = static_cast<char*>(dst);
  while (n > 0) {
    const int64_t r = fs_.PRead(fd_, out, n, offset);
    if (r < 0) {
      *err = IoError(static_cast<int>(r), kSysRead, path_);
      return false;
    }
    if (r == 0) {
      // The file shrank after we measured it.
      *err = Corrupt(Reason::kTruncated, offset, -1, offset);
      return false;
    }
    out += r;
    offset += static_cast<uint64_t>(r);
    n -= static_cast<size_t>(r);
  }
  return true;
}

}  // namespace threadkv::snapshot
