// libFuzzer target: the snapshot loader (native/core/snapshot) on any bytes.
//
// The input is a snapshot file, as it would be read from disk (the seed
// corpus, corpus/snapshot_load/, holds real snapshots and truncations of
// them). Each input is restored twice into a store that already holds one
// sentinel entry:
//  1. onCorrupt 'throw', mode 'replace', into a store of the file's codec;
//  2. onCorrupt 'skip', mode 'fillMissing', into a one-shard store with
//     small limits and SIEVE eviction (so limits and eviction run too),
//     of the file's codec or, for some inputs, another one.
// What must hold, beyond "no crash, no sanitizer report, no leak, no
// timeout, no allocation over -malloc_limit_mb" (scripts/test-fuzz.js
// gives 64 MB, as OSS-Fuzz's Redis RDB harness caps allocations: a few
// bytes must never ask for gigabytes):
//  - a refused load leaves the store exactly as it was (the sentinel alone);
//  - a load that succeeds in 'throw' mode holds exactly the file's entries
//    (a later duplicate key wins; entries expired by the wall clock are left
//    out), as a separate plain walk of the bytes below finds them: never
//    wrong data;
//  - what the store then holds saves and loads back to the same content;
//  - the store's memory stays within a fixed multiple of the input's size.
// A disagreement prints THREADKV FUZZ MISMATCH and aborts (libFuzzer keeps
// the input). THREADKV_FUZZ_FAULT=1 makes the model forget an entry (the
// canary: scripts/test-fuzz.js checks that it is reported).
#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "core/snapshot/crc32c.h"
#include "core/snapshot/file_io.h"
#include "core/snapshot/format.h"
#include "core/snapshot/reader.h"
#include "core/snapshot/store_snapshot.h"
#include "core/store.h"

namespace {

using namespace threadkv;
using namespace threadkv::snapshot;

// key -> (kind, flags, value)
using Content = std::map<std::string, std::tuple<int, int, std::string>>;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "THREADKV FUZZ MISMATCH\nsnapshot_load: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

Content ContentOf(const Store& s) {
  Content out;
  for (uint32_t i = 0; i < s.shard_count(); ++i) {
    (void)s.Scan(i, {}, [&](const Entry& e) {
      out[std::string(e.key())] = {static_cast<int>(e.kind), e.flags,
                                   std::string(reinterpret_cast<const char*>(e.value_data()), e.value_size)};
    });
  }
  return out;
}

// The file's entries by a plain walk of a file the loader accepted (so the
// layout is known good): header_size at 12, then blocks until the trailer.
// Entries whose deadline is within `slack_ms` of now are reported in
// `uncertain` (they may expire between the load and this check).
Content ModelOf(std::string_view f, int64_t now_ms, std::vector<std::string>* uncertain) {
  Content out;
  size_t at = LoadU32(f.data() + 12);
  while (at + 4 <= f.size() && std::memcmp(f.data() + at, kBlockMagic, 4) == 0) {
    const size_t size = LoadU32(f.data() + at + 8);
    const uint32_t count = LoadU32(f.data() + at + 12);
    size_t p = at + kBlockHeaderSize;
    for (uint32_t i = 0; i < count; ++i) {
      const size_t k = LoadU32(f.data() + p);
      const size_t v = LoadU32(f.data() + p + 4);
      const int kind = static_cast<unsigned char>(f[p + 8]);
      const int flags = static_cast<unsigned char>(f[p + 9]);
      const auto expiry = static_cast<int64_t>(LoadU64(f.data() + p + 10));
      std::string key(f.substr(p + kEntryHeaderSize, k));
      if (expiry != 0 && expiry > now_ms - 5000 && expiry < now_ms + 5000) uncertain->push_back(key);
      // An expired entry is skipped (an earlier duplicate stays); a live
      // later duplicate replaces an earlier one.
      if (expiry == 0 || expiry > now_ms) out[key] = {kind, flags, std::string(f.substr(p + kEntryHeaderSize + k, v))};
      p += kEntryHeaderSize + k + v;
    }
    at += kBlockHeaderSize + size;
  }
  return out;
}

// An in-memory file system for the round trip (SaveStore writes through Fs).
class MemFs final : public Fs {
 public:
  std::map<std::string, std::string> files;

  int CreateExclusive(const std::string& p) override {
    if (files.count(p) != 0) return -EEXIST;
    files[p];
    return Open(p);
  }
  int OpenRead(const std::string& p) override { return files.count(p) != 0 ? Open(p) : -ENOENT; }
  int OpenDir(const std::string& d) override { return Open(d); }
  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    std::string& f = files[fds_[fd].path];
    f.append(static_cast<const char*>(a), na);
    if (nb != 0) f.append(static_cast<const char*>(b), nb);
    return static_cast<int64_t>(na + nb);
  }
  int64_t PWrite(int fd, const void* d, size_t n, uint64_t off) override {
    std::string& f = files[fds_[fd].path];
    if (f.size() < off + n) f.resize(off + n);
    std::memcpy(f.data() + off, d, n);
    return static_cast<int64_t>(n);
  }
  int64_t PRead(int fd, void* d, size_t n, uint64_t off) override {
    const std::string& f = files[fds_[fd].path];
    if (off >= f.size()) return 0;
    const size_t k = n < f.size() - off ? n : f.size() - off;
    std::memcpy(d, f.data() + off, k);
    return static_cast<int64_t>(k);
  }
  int Fsync(int) override { return 0; }
  int FileSize(int fd, uint64_t* size) override {
    *size = files[fds_[fd].path].size();
    return 0;
  }
  int Close(int fd) override {
    fds_.erase(fd);
    return 0;
  }
  int Rename(const std::string& a, const std::string& b) override {
    files[b] = std::move(files[a]);
    files.erase(a);
    return 0;
  }
  int Unlink(const std::string& p) override { return files.erase(p) != 0 ? 0 : -ENOENT; }

 private:
  struct Fd {
    std::string path;
  };
  int Open(const std::string& p) {
    fds_[next_] = {p};
    return next_++;
  }
  std::map<int, Fd> fds_;
  int next_ = 3;
};

bool Fault() {
  static const bool fault = std::getenv("THREADKV_FUZZ_FAULT") != nullptr;
  return fault;
}

void Sentinel(Store& s) {
  const std::string_view k = "\x01sentinel";
  EntryPtr e = s.NewEntry(k, 1, Kind::kBytes);
  e->value_data()[0] = 7;
  e->expires_at = kNoExpiry;
  if (s.Put(s.Hash(k), std::move(e)) != Status::kOk) Fail("cannot put the sentinel");
}

void ExpectUnchanged(const Store& s, const char* what) {
  const Content c = ContentOf(s);
  if (c.size() != 1 || c.count("\x01sentinel") == 0) Fail(std::string(what) + ": a refused load changed the store");
}

void CheckMemory(const Store& s, size_t input) {
  StoreSizes sizes;
  (void)s.Sizes(&sizes);
  // Each entry costs at most its header (32 + 16 bytes of links) beyond the
  // key and value bytes, which come from the file, where an entry takes at
  // least 18 bytes: memory <= 3 x the input, plus the sentinel.
  if (sizes.bytes > 3 * input + 256)
    Fail("the store holds " + std::to_string(sizes.bytes) + " bytes from a " + std::to_string(input) + "-byte input");
}

Codec FileCodec(std::string_view f) {
  if (f.size() > 16 && static_cast<unsigned char>(f[16]) <= 3) return static_cast<Codec>(f[16]);
  return Codec::kV8;
}

void LoadThrowReplace(std::string_view input) {
  Options o;
  o.shards = 4;
  o.codec = FileCodec(input);
  Store s("fuzz-throw", o);
  Sentinel(s);
  LoadOptions lo;
  lo.mode = RestoreMode::kReplace;
  lo.read.on_corrupt = OnCorrupt::kThrow;
  lo.read.max_v8_version = 15;
  MemorySource src(input);
  LoadInfo info;
  Error err;
  const int64_t now = WallNowMs();
  if (!LoadStoreFrom(s, src, lo, &info, &err)) {
    if (err.ok()) Fail("a failed load reported no error");
    ExpectUnchanged(s, "throw");
    return;
  }
  CheckMemory(s, input.size());
  std::vector<std::string> uncertain;
  Content want = ModelOf(input, now, &uncertain);
  Content got = ContentOf(s);
  for (const std::string& k : uncertain) {
    want.erase(k);
    got.erase(k);
  }
  if (Fault() && !want.empty()) want.erase(want.begin());
  if (got != want) {
    std::string diff;
    for (const auto& [k, v] : want)
      if (got.count(k) == 0 || got[k] != v) diff += " missing-or-different:" + std::to_string(k.size()) + "B";
    for (const auto& [k, v] : got)
      if (want.count(k) == 0) diff += " extra:" + std::to_string(k.size()) + "B";
    Fail("the store differs from the file's entries (" + std::to_string(got.size()) + " vs " +
         std::to_string(want.size()) + "):" + diff);
  }
  // Round trip: what loaded saves, and loads back the same.
  MemFs fs;
  SaveOptions so;
  so.writer.fsync = false;
  so.block_bytes = 512;
  SaveInfo si;
  if (!SaveStore(s, "/mem/round.snap", so, &si, &err, fs)) Fail("cannot save what was loaded");
  Store back("fuzz-back", o);
  LoadInfo bi;
  MemorySource again(fs.files["/mem/round.snap"]);
  if (!LoadStoreFrom(back, again, lo, &bi, &err)) Fail("a snapshot of what loaded does not load");
  Content a = ContentOf(s);
  Content b = ContentOf(back);
  for (const std::string& k : uncertain) {
    a.erase(k);
    b.erase(k);
  }
  if (a != b) Fail("save then load changed the content");
}

void LoadSkipFill(std::string_view input) {
  Options o;
  o.shards = 1;
  o.codec = input.size() % 5 == 0 ? Codec::kString : FileCodec(input);
  o.max_entries = 20;
  o.max_bytes = 8192;
  o.max_key_bytes = 512;
  o.eviction = EvictionPolicy::kSieve;
  Store s("fuzz-skip", o);
  Sentinel(s);
  LoadOptions lo;
  lo.mode = RestoreMode::kFillMissing;
  lo.read.on_corrupt = OnCorrupt::kSkip;
  lo.read.max_v8_version = 15;
  MemorySource src(input);
  LoadInfo info;
  Error err;
  if (!LoadStoreFrom(s, src, lo, &info, &err)) {
    if (err.ok()) Fail("a failed load reported no error");
    ExpectUnchanged(s, "skip");
    return;
  }
  StoreSizes sizes;
  (void)s.Sizes(&sizes);
  if (sizes.entries > 20) Fail("eviction left the store over maxEntries");
  CheckMemory(s, input.size());
}

// The input with every checksum it has recomputed (where its structure
// can be walked): a mutated entry then reaches the entry parser instead of
// stopping at a CRC, as Redis's corrupt-dump fuzzer turns checksums off.
std::string Resealed(std::string_view input) {
  std::string f(input);
  if (f.size() < kHeaderPrefixSize || std::memcmp(f.data(), kFileMagic, 8) != 0) return f;
  const size_t header = LoadU32(f.data() + 12);
  if (header < kHeaderFixedSize + 4 || header > f.size()) return f;
  const uint64_t file_id = LoadU64(f.data() + 28);
  StoreU32(f.data() + header - 4, Crc32c(f.data(), header - 4));
  size_t at = header;
  uint64_t blocks = 0, entries = 0, data = 0;
  uint32_t crcs = 0;
  while (at + kBlockHeaderSize <= f.size() && std::memcmp(f.data() + at, kBlockMagic, 4) == 0) {
    const size_t size = LoadU32(f.data() + at + 8);
    if (size > f.size() - at - kBlockHeaderSize) break;
    const uint32_t count = LoadU32(f.data() + at + 12);
    StoreU32(f.data() + at + 4, static_cast<uint32_t>(blocks));
    StoreU64(f.data() + at + 16, file_id);
    StoreU32(f.data() + at + 24, Crc32c(f.data() + at + kBlockHeaderSize, size));
    StoreU32(f.data() + at + 28, Crc32c(f.data() + at, 28));
    crcs = Crc32c(f.data() + at + 24, 4, crcs);
    ++blocks;
    entries += count;
    data += size - std::min<uint64_t>(size, uint64_t{count} * kEntryHeaderSize);
    at += kBlockHeaderSize + size;
  }
  if (f.size() - at == kTrailerSize && std::memcmp(f.data() + at, kTrailerMagic, 8) == 0) {
    StoreU64(f.data() + at + 8, entries);
    StoreU64(f.data() + at + 16, blocks);
    StoreU64(f.data() + at + 24, data);
    StoreU64(f.data() + at + 32, file_id);
    StoreU32(f.data() + at + 40, crcs);
    StoreU32(f.data() + at + 44, Crc32c(f.data() + at, 44));
  }
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  LoadThrowReplace(input);
  LoadSkipFill(input);
  const std::string resealed = Resealed(input);
  if (resealed != input) {
    LoadThrowReplace(resealed);
    LoadSkipFill(resealed);
  }
  return 0;
}
