// Helpers for the snapshot tests: file systems that fail on demand, a
// temporary directory, and store content as a comparable map.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "core/snapshot/file_io.h"
#include "core/store.h"

namespace threadkv::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its files.
class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/tkvsnap-XXXXXX";
    char* made = ::mkdtemp(tmpl.data());
    if (made != nullptr) path_ = made;
  }
  ~TempDir() {
    for (const std::string& f : Files()) ::unlink((path_ + "/" + f).c_str());
    ::rmdir(path_.c_str());
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }
  // Names of the files in the directory.
  std::vector<std::string> Files() const {
    std::vector<std::string> out;
    if (DIR* d = ::opendir(path_.c_str())) {
      while (dirent* e = ::readdir(d)) {
        const std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
      }
      ::closedir(d);
    }
    return out;
  }

 private:
  std::string path_;
};

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The real system calls (snapshot::SystemFs()), every one forwarded: a base
// for test file systems that step in on some of them (override those).
class PassThroughFs : public snapshot::Fs {
 public:
  int CreateExclusive(const std::string& p) override { return real().CreateExclusive(p); }
  int OpenRead(const std::string& p) override { return real().OpenRead(p); }
  int OpenDir(const std::string& d) override { return real().OpenDir(d); }
  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    return real().Write(fd, a, na, b, nb);
  }
  int64_t PWrite(int fd, const void* d, size_t n, uint64_t off) override { return real().PWrite(fd, d, n, off); }
  int64_t PRead(int fd, void* d, size_t n, uint64_t off) override { return real().PRead(fd, d, n, off); }
  int Fsync(int fd) override { return real().Fsync(fd); }
  int FileSize(int fd, uint64_t* size) override { return real().FileSize(fd, size); }
  int Close(int fd) override { return real().Close(fd); }
  int Rename(const std::string& a, const std::string& b) override { return real().Rename(a, b); }
  int Unlink(const std::string& p) override { return real().Unlink(p); }

 protected:
  static snapshot::Fs& real() { return snapshot::SystemFs(); }
};

// The system calls, with one of them made to fail: the `fail_at`-th call
// (counting from 1) of operation `op` returns -`errno_value`. Counts every
// call, so a test can first run once to learn how many calls there are.
class FaultyFs final : public snapshot::Fs {
 public:
  enum Op { kCreate, kOpenRead, kOpenDir, kWrite, kPWrite, kPRead, kFsync, kSize, kClose, kRename, kUnlink, kOps };
  static const char* Name(int op) {
    static const char* const names[] = {"create", "openRead", "openDir", "write",  "pwrite", "pread",
                                        "fsync",  "size",     "close",   "rename", "unlink"};
    return names[op];
  }

  FaultyFs(int op = -1, int fail_at = 0, int errno_value = EIO) : op_(op), fail_at_(fail_at), errno_(errno_value) {}
  int calls(int op) const { return calls_[op]; }

  int CreateExclusive(const std::string& p) override { return Hit(kCreate) ? -errno_ : real().CreateExclusive(p); }
  int OpenRead(const std::string& p) override { return Hit(kOpenRead) ? -errno_ : real().OpenRead(p); }
  int OpenDir(const std::string& d) override { return Hit(kOpenDir) ? -errno_ : real().OpenDir(d); }
  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    if (Hit(kWrite)) return -errno_;
    // Short writes too: at most 1000 bytes per call, to exercise the loop.
    if (na > 1000) return real().Write(fd, a, 1000, nullptr, 0);
    return real().Write(fd, a, na, b, nb > 1000 - na ? 1000 - na : nb);
  }
  int64_t PWrite(int fd, const void* d, size_t n, uint64_t off) override {
    return Hit(kPWrite) ? -errno_ : real().PWrite(fd, d, n, off);
  }
  int64_t PRead(int fd, void* d, size_t n, uint64_t off) override {
    return Hit(kPRead) ? -errno_ : real().PRead(fd, d, n, off);
  }
  int Fsync(int fd) override { return Hit(kFsync) ? -errno_ : real().Fsync(fd); }
  int FileSize(int fd, uint64_t* s) override { return Hit(kSize) ? -errno_ : real().FileSize(fd, s); }
  int Close(int fd) override {
    // A failed close still releases the descriptor (as on Linux).
    const int r = real().Close(fd);
    return Hit(kClose) ? -errno_ : r;
  }
  int Rename(const std::string& a, const std::string& b) override {
    return Hit(kRename) ? -errno_ : real().Rename(a, b);
  }
  int Unlink(const std::string& p) override { return Hit(kUnlink) ? -errno_ : real().Unlink(p); }

 private:
  static snapshot::Fs& real() { return snapshot::SystemFs(); }
  bool Hit(int op) { return ++calls_[op] == fail_at_ && op == op_; }

  int op_;
  int fail_at_;
  int errno_;
  int calls_[kOps] = {};
};

// What a store holds, comparable: key -> (kind, flags, value bytes, has deadline).
using Content = std::map<std::string, std::tuple<int, int, std::string, bool>>;

inline Content ContentOf(const Store& store) {
  Content out;
  for (uint32_t s = 0; s < store.shard_count(); ++s) {
    (void)store.Scan(s, {}, [&](const Entry& e) {
      out[std::string(e.key())] = {static_cast<int>(e.kind), e.flags,
                                   std::string(reinterpret_cast<const char*>(e.value_data()), e.value_size),
                                   e.HasDeadline()};
    });
  }
  return out;
}

}  // namespace threadkv::testing
