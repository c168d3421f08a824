// Snapshot and restore of a Store: round trips, TTLs, modes, limits, every
// failure of every system call, every byte flip and truncation, and saves
// racing writers.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/snapshot/format.h"
#include "core/snapshot/store_snapshot.h"
#include "core/store.h"
#include "snapshot_test_util.h"
#include "test_util.h"

namespace threadkv::snapshot {
namespace {

using testing::Cat;
using testing::Content;
using testing::ContentOf;
using testing::EraseString;
using testing::FaultyFs;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::ReadFile;
using testing::TempDir;
using testing::WriteFile;

Options Opts(uint32_t shards, Codec codec = Codec::kV8) {
  Options o;
  o.shards = shards;
  o.codec = codec;
  return o;
}

SaveOptions Save() {
  SaveOptions o;
  o.writer.fsync = false;  // tmpfs or not, the tests need no durability
  o.threadkv_version = "0.1.0-test";
  o.node_version = "v0.0.0-test";
  return o;
}

void Put(Store& s, std::string_view key, std::string_view value, Kind kind = Kind::kBytes, uint8_t flags = 0,
         int64_t expires_at = kNoExpiry) {
  EntryPtr e = MakeValueEntry(s, key, value, kind, flags);
  e->expires_at = expires_at;
  ASSERT_EQ(s.Put(s.Hash(key), std::move(e)), Status::kOk);
}

// Every kind of value, and keys of every shape.
void Fill(Store& s, int n = 300) {
  const double pi = 3.14159;
  const int64_t big = -(int64_t{1} << 52);
  for (int i = 0; i < n; ++i) {
    const std::string k = Cat("key:", i);
    switch (i % 9) {
      case 0:
        Put(s, k,
            std::string("\xFF\x0F\x6F\x22\x01"
                        "a\x7B\x01",
                        8));
        break;  // v8-serialized bytes
      case 1:
        Put(s, k, Cat("text ", i), Kind::kString, kFlagAscii);
        break;
      case 2:
        Put(s, k, "caf\xC3\xA9", Kind::kString, 0);
        break;
      case 3:
        Put(s, k, "lone \xED\xA0\x80", Kind::kString, kFlagLoneSurrogates);
        break;
      case 4:
        Put(s, k, std::string(reinterpret_cast<const char*>(&pi), 8), Kind::kFloat64);
        break;
      case 5:
        Put(s, k, std::string(reinterpret_cast<const char*>(&big), 8), Kind::kInt64);
        break;
      case 6:
        Put(s, k, "", Kind::kTrue);
        break;
      case 7:
        Put(s, k, "", Kind::kNull);
        break;
      default:
        Put(s, k, "", Kind::kUndefined);
        break;
    }
  }
  Put(s, "", "empty key", Kind::kString, kFlagAscii);
  Put(s, "k\xED\xB0\x80\xF0\x9F\x98\x80", "odd key", Kind::kString, kFlagAscii);
  Put(s, "with-ttl", "soon", Kind::kString, kFlagAscii, s.DeadlineIn(3'600'000));
  Put(s, "empty-bytes", "");
}

LoadOptions Load(RestoreMode mode = RestoreMode::kReplace, OnCorrupt on = OnCorrupt::kThrow) {
  LoadOptions o;
  o.mode = mode;
  o.read.on_corrupt = on;
  return o;
}

TEST(SnapshotStore, RoundTripsEveryKindIntoAnyShardCount) {
  TempDir dir;
  Store src("src", Opts(16));
  Fill(src);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("a.snap"), Save(), &si, &err)) << err.sys_errno;
  EXPECT_EQ(si.entries, 304u);
  EXPECT_EQ(si.bytes, ReadFile(dir.File("a.snap")).size());
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"a.snap"});
  const Content want = ContentOf(src);
  for (uint32_t shards : {1u, 2u, 16u, 64u}) {
    Store dst("dst", Opts(shards));
    LoadInfo li;
    ASSERT_TRUE(LoadStore(dst, dir.File("a.snap"), Load(), &li, &err)) << static_cast<int>(err.reason);
    EXPECT_EQ(li.entries, 304u);
    EXPECT_EQ(li.skipped_expired, 0u);
    EXPECT_EQ(li.skipped_corrupt, 0u);
    EXPECT_EQ(li.bytes, si.bytes);
    EXPECT_EQ(ContentOf(dst), want) << shards << " shards";
  }
}

TEST(SnapshotStore, DeadlinesSurviveAsWallClockAndExpiredOnesAreSkipped) {
  TempDir dir;
  Store src("src", Opts(4, Codec::kString));
  Put(src, "hour", "x", Kind::kString, kFlagAscii, src.DeadlineIn(3'600'000));
  Put(src, "brief", "x", Kind::kString, kFlagAscii, src.DeadlineIn(80));
  Put(src, "never", "x", Kind::kString, kFlagAscii, kNoExpiry);
  Put(src, "far", "x", Kind::kString, kFlagAscii, std::numeric_limits<int64_t>::max());
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("t.snap"), Save(), &si, &err));
  EXPECT_EQ(si.entries, 4u);
  std::this_thread::sleep_for(std::chrono::milliseconds(150));
  Store dst("dst", Opts(4, Codec::kString));
  LoadInfo li;
  ASSERT_TRUE(LoadStore(dst, dir.File("t.snap"), Load(), &li, &err));
  EXPECT_EQ(li.entries, 3u);
  EXPECT_EQ(li.skipped_expired, 1u);
  int64_t deadline = 0;
  ASSERT_EQ(dst.Read("hour", dst.Hash("hour"), [&](const Entry& e) { deadline = e.expires_at; }), Status::kOk);
  const double left_ms = static_cast<double>(deadline - SteadyNowNs()) / 1e6;
  EXPECT_GT(left_ms, 3'600'000 - 5'000);
  EXPECT_LE(left_ms, 3'600'000 + 1);
  ASSERT_EQ(dst.Read("never", dst.Hash("never"), [&](const Entry& e) { deadline = e.expires_at; }), Status::kOk);
  EXPECT_EQ(deadline, kNoExpiry);
  ASSERT_EQ(dst.Read("far", dst.Hash("far"), [&](const Entry& e) { deadline = e.expires_at; }), Status::kOk);
  EXPECT_EQ(deadline, kNoExpiry);  // saturated "never reached" is stored as no expiry
  EXPECT_EQ(dst.Read("brief", dst.Hash("brief"), [](const Entry&) {}), Status::kNotFound);
}

TEST(SnapshotStore, ReplaceAndFillMissing) {
  TempDir dir;
  Store src("src", Opts(8, Codec::kString));
  Put(src, "a", "file-a", Kind::kString, kFlagAscii);
  Put(src, "b", "file-b", Kind::kString, kFlagAscii);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("m.snap"), Save(), &si, &err));
  for (RestoreMode mode : {RestoreMode::kReplace, RestoreMode::kFillMissing}) {
    Store dst(Cat("dst", static_cast<int>(mode)), Opts(8, Codec::kString));
    Put(dst, "b", "live-b", Kind::kString, kFlagAscii);
    Put(dst, "c", "live-c", Kind::kString, kFlagAscii);
    LoadInfo li;
    ASSERT_TRUE(LoadStore(dst, dir.File("m.snap"), Load(mode), &li, &err));
    const Content got = ContentOf(dst);
    if (mode == RestoreMode::kReplace) {
      EXPECT_EQ(li.entries, 2u);
      EXPECT_EQ(got, ContentOf(src));
    } else {
      EXPECT_EQ(li.entries, 1u);  // only "a" was missing
      ASSERT_EQ(got.size(), 3u);
      EXPECT_EQ(std::get<2>(got.at("a")), "file-a");
      EXPECT_EQ(std::get<2>(got.at("b")), "live-b");
      EXPECT_EQ(std::get<2>(got.at("c")), "live-c");
    }
  }
}

TEST(SnapshotStore, RefusesAnotherCodecNamingBoth) {
  TempDir dir;
  Store src("src", Opts(4, Codec::kJson));
  Put(src, "a", "1", Kind::kString, kFlagAscii);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("c.snap"), Save(), &si, &err));
  Store dst("dst", Opts(4, Codec::kV8));
  Put(dst, "keep", "me", Kind::kString, kFlagAscii);
  LoadInfo li;
  ASSERT_FALSE(LoadStore(dst, dir.File("c.snap"), Load(), &li, &err));
  EXPECT_EQ(err.kind, ErrorKind::kCodec);
  EXPECT_EQ(err.file_codec, static_cast<uint8_t>(Codec::kJson));
  EXPECT_EQ(err.store_codec, static_cast<uint8_t>(Codec::kV8));
  EXPECT_EQ(ContentOf(dst).size(), 1u);
}

TEST(SnapshotStore, LimitsApplyAsOnSet) {
  TempDir dir;
  Store src("src", Opts(1, Codec::kString));
  for (int i = 0; i < 100; ++i) Put(src, Cat("k", i), std::string(100, 'v'), Kind::kString, kFlagAscii);
  Put(src, "long-key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "v", Kind::kString, kFlagAscii);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("l.snap"), Save(), &si, &err));

  {  // A key over maxKeyBytes: refused before anything is written.
    Options o = Opts(1, Codec::kString);
    o.max_key_bytes = 16;
    Store dst("k", o);
    Put(dst, "keep", "me", Kind::kString, kFlagAscii);
    LoadInfo li;
    ASSERT_FALSE(LoadStore(dst, dir.File("l.snap"), Load(), &li, &err));
    EXPECT_EQ(err.kind, ErrorKind::kLimit);
    EXPECT_EQ(err.limit, Limit::kKeyTooLong);
    EXPECT_EQ(err.detail, "long-key-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
    EXPECT_EQ(ContentOf(dst).size(), 1u);
  }
  {  // Policy none, replace: the file does not fit, nothing changes.
    Options o = Opts(1, Codec::kString);
    o.max_entries = 50;
    Store dst("none", o);
    Put(dst, "keep", "me", Kind::kString, kFlagAscii);
    LoadInfo li;
    ASSERT_FALSE(LoadStore(dst, dir.File("l.snap"), Load(), &li, &err));
    EXPECT_EQ(err.kind, ErrorKind::kLimit);
    EXPECT_EQ(err.limit, Limit::kFullEntries);
    EXPECT_EQ(ContentOf(dst).size(), 1u);
  }
  {  // SIEVE: eviction as on set; the store ends within its limit.
    Options o = Opts(1, Codec::kString);
    o.max_entries = 50;
    o.eviction = EvictionPolicy::kSieve;
    Store dst("sieve", o);
    LoadInfo li;
    ASSERT_TRUE(LoadStore(dst, dir.File("l.snap"), Load(), &li, &err));
    EXPECT_EQ(li.entries, 101u);
    EXPECT_EQ(ContentOf(dst).size(), 50u);
  }
  {  // An entry over a shard's byte budget is refused up front.
    Options o = Opts(1, Codec::kString);
    o.max_bytes = 150;
    o.eviction = EvictionPolicy::kSieve;
    Store dst("budget", o);
    LoadInfo li;
    ASSERT_FALSE(LoadStore(dst, dir.File("l.snap"), Load(), &li, &err));
    EXPECT_EQ(err.limit, Limit::kTooBig);
    EXPECT_EQ(ContentOf(dst).size(), 0u);
  }
}

TEST(SnapshotStore, EntriesLargerThanABlockGetOneOfTheirOwn) {
  TempDir dir;
  Store src("src", Opts(2));
  std::string big(3 * kMaxBlockPayload + 17, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31);
  Put(src, "big", big);
  for (int i = 0; i < 3000; ++i) Put(src, Cat("s", i), std::string(700, 'x'));  // several full blocks
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("b.snap"), Save(), &si, &err));
  Store dst("dst", Opts(8));
  LoadInfo li;
  ASSERT_TRUE(LoadStore(dst, dir.File("b.snap"), Load(), &li, &err));
  EXPECT_EQ(ContentOf(dst), ContentOf(src));
  // No block over the limit except the one holding `big` alone.
  const std::string file = ReadFile(dir.File("b.snap"));
  size_t pos = LoadU32(file.data() + 12);
  int blocks = 0, big_blocks = 0;
  while (std::memcmp(file.data() + pos, kBlockMagic, 4) == 0) {
    const uint32_t size = LoadU32(file.data() + pos + 8);
    const uint32_t count = LoadU32(file.data() + pos + 12);
    if (size > kMaxBlockPayload) {
      ++big_blocks;
      EXPECT_EQ(count, 1u);
    }
    ++blocks;
    pos += kBlockHeaderSize + size;
  }
  EXPECT_EQ(big_blocks, 1);
  EXPECT_GE(blocks, 4);
  EXPECT_EQ(pos + kTrailerSize, file.size());
}

TEST(SnapshotStore, SavesOverAnExistingFileAndLeavesNoTemporaryFile) {
  TempDir dir;
  Store s("s", Opts(4, Codec::kString));
  Put(s, "v", "1", Kind::kString, kFlagAscii);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(s, dir.File("x.snap"), Save(), &si, &err));
  Put(s, "v", "2", Kind::kString, kFlagAscii);
  SaveOptions durable = Save();
  durable.writer.fsync = true;
  ASSERT_TRUE(SaveStore(s, dir.File("x.snap"), durable, &si, &err));
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"x.snap"});
  Store d("d", Opts(4, Codec::kString));
  LoadInfo li;
  ASSERT_TRUE(LoadStore(d, dir.File("x.snap"), Load(), &li, &err));
  EXPECT_EQ(std::get<2>(ContentOf(d).at("v")), "2");
}

TEST(SnapshotStore, EverySystemCallFailureLeavesTheOldFileAndNoTemporaryFile) {
  TempDir dir;
  const std::string path = dir.File("f.snap");
  Store old_store("old", Opts(4, Codec::kString));
  Put(old_store, "old", "content", Kind::kString, kFlagAscii);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(old_store, path, Save(), &si, &err));
  const std::string old_bytes = ReadFile(path);

  Store s("s", Opts(4, Codec::kString));
  for (int i = 0; i < 150; ++i) Put(s, Cat("k", i), std::string(1000, 'n'), Kind::kString, kFlagAscii);
  SaveOptions durable = Save();
  durable.writer.fsync = true;
  durable.block_bytes = 20000;  // several blocks
  FaultyFs counting;
  ASSERT_TRUE(SaveStore(s, path, durable, &si, &err, counting));
  const std::string new_bytes = ReadFile(path);
  ASSERT_NE(new_bytes, old_bytes);
  int cases = 0;
  for (int op = 0; op < FaultyFs::kOps; ++op) {
    for (int at = 1; at <= counting.calls(op); ++at) {
      WriteFile(path, old_bytes);
      FaultyFs fs(op, at, op == FaultyFs::kWrite ? ENOSPC : EIO);
      Error e;
      const bool ok = SaveStore(s, path, durable, &si, &e, fs);
      ++cases;
      const std::string now = ReadFile(path);
      // Never a partial file, never a leftover temporary file.
      EXPECT_EQ(dir.Files(), std::vector<std::string>{"f.snap"}) << FaultyFs::Name(op) << " #" << at;
      if (ok) {
        EXPECT_EQ(now.size(), new_bytes.size()) << FaultyFs::Name(op) << " #" << at;
        continue;
      }
      EXPECT_EQ(e.kind, ErrorKind::kIo);
      EXPECT_EQ(e.sys_errno, op == FaultyFs::kWrite ? ENOSPC : EIO);
      EXPECT_FALSE(e.path.empty());
      const bool after_rename = op == FaultyFs::kOpenDir || (op == FaultyFs::kFsync && at == 2);
      if (after_rename) {
        EXPECT_EQ(now.size(), new_bytes.size()) << FaultyFs::Name(op) << " #" << at;  // renamed; dir sync failed
      } else {
        EXPECT_EQ(now, old_bytes) << FaultyFs::Name(op) << " #" << at;
      }
      EXPECT_EQ(fs.calls(FaultyFs::kFsync), op == FaultyFs::kFsync ? at : fs.calls(FaultyFs::kFsync))
          << "fsync retried";
    }
  }
  EXPECT_GT(cases, 10);
  // Unlink failing too (cleanup cannot remove the file): the failure is
  // still reported, and the target is still the old file.
}

TEST(SnapshotStore, FailedFsyncIsNeverRetried) {
  TempDir dir;
  Store s("s", Opts(2, Codec::kString));
  Put(s, "k", "v", Kind::kString, kFlagAscii);
  SaveOptions durable = Save();
  durable.writer.fsync = true;
  FaultyFs fs(FaultyFs::kFsync, 1, EIO);
  SaveInfo si;
  Error err;
  ASSERT_FALSE(SaveStore(s, dir.File("f.snap"), durable, &si, &err, fs));
  EXPECT_STREQ(err.syscall, "fsync");
  EXPECT_EQ(fs.calls(FaultyFs::kFsync), 1);
  EXPECT_EQ(fs.calls(FaultyFs::kRename), 0);
  EXPECT_TRUE(dir.Files().empty());
}

TEST(SnapshotStore, IoErrorsNameTheCallAndPath) {
  TempDir dir;
  Store s("s", Opts(2));
  SaveInfo si;
  LoadInfo li;
  Error err;
  ASSERT_FALSE(SaveStore(s, dir.File("missing-dir/x.snap"), Save(), &si, &err));
  EXPECT_EQ(err.kind, ErrorKind::kIo);
  EXPECT_EQ(err.sys_errno, ENOENT);
  EXPECT_STREQ(err.syscall, "open");
  EXPECT_NE(err.path.find("missing-dir/.x.snap.tmp-"), std::string::npos);
  ASSERT_FALSE(LoadStore(s, dir.File("nope.snap"), Load(), &li, &err));
  EXPECT_EQ(err.sys_errno, ENOENT);
  EXPECT_EQ(err.path, dir.File("nope.snap"));
  ASSERT_FALSE(LoadStore(s, dir.path(), Load(), &li, &err));  // a directory
  EXPECT_EQ(err.kind, ErrorKind::kIo);
  EXPECT_EQ(err.sys_errno, EISDIR);
  // A FIFO is refused at once (no wait for a writer to open it).
  ASSERT_EQ(::mkfifo(dir.File("fifo").c_str(), 0644), 0);
  ASSERT_FALSE(LoadStore(s, dir.File("fifo"), Load(), &li, &err));
  EXPECT_EQ(err.kind, ErrorKind::kIo);
  EXPECT_EQ(err.sys_errno, EINVAL);
  ::unlink(dir.File("fifo").c_str());
  // Saving onto a directory: the rename fails, the temporary file goes.
  ASSERT_EQ(::mkdir(dir.File("d").c_str(), 0755), 0);
  ASSERT_FALSE(SaveStore(s, dir.File("d"), Save(), &si, &err));
  EXPECT_STREQ(err.syscall, "rename");
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"d"});
  ::rmdir(dir.File("d").c_str());
}

TEST(SnapshotStore, DestroyedStoreFailsCleanly) {
  TempDir dir;
  Store s("s", Opts(2));
  Put(s, "k", "v");
  std::vector<Table> drained;
  s.Kill(&drained);
  SaveInfo si;
  Error err;
  ASSERT_FALSE(SaveStore(s, dir.File("x.snap"), Save(), &si, &err));
  EXPECT_EQ(err.kind, ErrorKind::kDestroyed);
  EXPECT_TRUE(dir.Files().empty());
}

// The store a corrupted load must leave as it was.
void Sentinel(Store& s) { Put(s, "sentinel", "untouched", Kind::kString, kFlagAscii); }

// Checks that every entry of `got` other than the sentinel is an entry of
// `want`, byte for byte: never wrong data.
void ExpectSubset(const Content& got, const Content& want, const std::string& what) {
  for (const auto& [k, v] : got) {
    if (k == "sentinel") continue;
    auto it = want.find(k);
    ASSERT_NE(it, want.end()) << what << ": unknown key " << k;
    ASSERT_EQ(it->second, v) << what << ": wrong value for " << k;
  }
}

TEST(SnapshotStore, EveryByteFlipIsDetectedNeverLoadedWrong) {
  TempDir dir;
  Store src("src", Opts(4));
  Fill(src, 40);
  SaveOptions small = Save();
  small.block_bytes = 300;  // many blocks from a small store
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("s.snap"), small, &si, &err));
  const std::string good = ReadFile(dir.File("s.snap"));
  const Content want = ContentOf(src);
  size_t skipped_loads = 0;
  for (size_t i = 0; i < good.size(); ++i) {
    std::string bad = good;
    bad[i] = static_cast<char>(bad[i] ^ (1 << (i % 8)));
    MemorySource mem(bad);
    {
      Store dst("t", Opts(4));
      Sentinel(dst);
      LoadInfo li;
      Error e;
      ASSERT_FALSE(LoadStoreFrom(dst, mem, Load(), &li, &e)) << "flip at " << i;
      ASSERT_TRUE(e.kind == ErrorKind::kCorrupt || e.kind == ErrorKind::kVersion) << i;
      ASSERT_EQ(ContentOf(dst).size(), 1u) << "store changed by a refused load, flip at " << i;
    }
    {
      Store dst("t", Opts(4));
      Sentinel(dst);
      LoadInfo li;
      Error e;
      if (LoadStoreFrom(dst, mem, Load(RestoreMode::kFillMissing, OnCorrupt::kSkip), &li, &e)) {
        ++skipped_loads;
        ASSERT_GE(li.skipped_corrupt, 1u) << "flip at " << i << " loaded as if whole";
        const Content got = ContentOf(dst);
        ExpectSubset(got, want, Cat("flip at ", i));
        // Everything loaded only when the damage is in the trailer.
        if (got.size() - 1 == want.size()) {
          ASSERT_GE(i + kTrailerSize, good.size()) << i;
        }
      } else {
        ASSERT_EQ(ContentOf(dst).size(), 1u);
      }
    }
  }
  EXPECT_GT(skipped_loads, good.size() / 2);
}

TEST(SnapshotStore, EveryTruncationIsDetected) {
  TempDir dir;
  Store src("src", Opts(4));
  Fill(src, 60);
  SaveOptions small = Save();
  small.block_bytes = 300;
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("s.snap"), small, &si, &err));
  const std::string good = ReadFile(dir.File("s.snap"));
  const Content want = ContentOf(src);
  size_t partial = 0;
  for (size_t n = 0; n < good.size(); ++n) {
    MemorySource mem(std::string_view(good).substr(0, n));
    Store dst("t", Opts(4));
    Sentinel(dst);
    LoadInfo li;
    Error e;
    ASSERT_FALSE(LoadStoreFrom(dst, mem, Load(), &li, &e)) << n;
    ASSERT_EQ(e.kind, ErrorKind::kCorrupt) << n;
    ASSERT_EQ(ContentOf(dst).size(), 1u);
    if (LoadStoreFrom(dst, mem, Load(RestoreMode::kFillMissing, OnCorrupt::kSkip), &li, &e)) {
      ASSERT_GE(li.skipped_corrupt, 1u) << n;
      ExpectSubset(ContentOf(dst), want, Cat("truncated to ", n));
      if (li.entries > 0) ++partial;
    }
  }
  EXPECT_GT(partial, good.size() / 2);  // the blocks before the cut load
}

// Saves while other threads put, delete and clear: the file always reads
// back cleanly, and every value in it is one some writer wrote for its key.
TEST(SnapshotStore, VersionsAfterARestoreExceedEveryVersionSaved) {
  TempDir dir;
  Store src("src", Opts(4, Codec::kString));
  uint64_t top = 0;
  for (int i = 0; i < 1000; ++i) {
    uint64_t v = 0;
    ASSERT_EQ(PutString(src, "hot", Cat("v", i), &v), Status::kOk);
    top = std::max(top, v);
  }
  ASSERT_EQ(PutString(src, "cold", "c"), Status::kOk);
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(src, dir.File("v.snap"), Save(), &si, &err));
  for (RestoreMode mode : {RestoreMode::kReplace, RestoreMode::kFillMissing}) {
    for (uint32_t shards : {1u, 4u, 64u}) {  // the hot key's shard may be another one here
      Store dst(Cat("dst", shards), Opts(shards, Codec::kString));
      LoadInfo li;
      ASSERT_TRUE(LoadStore(dst, dir.File("v.snap"), Load(mode), &li, &err));
      for (const char* k : {"hot", "cold"}) {  // restored entries: new versions above every saved one
        uint64_t v = 0;
        std::string value;
        ASSERT_EQ(GetString(dst, k, &value, &v), Status::kOk);
        EXPECT_GT(v, top) << k;
      }
      uint64_t v = 0;  // and so is every later write, to any key
      ASSERT_EQ(PutString(dst, "new", "n", &v), Status::kOk);
      EXPECT_GT(v, top);
      // A version from before the snapshot never matches a restored entry.
      EXPECT_EQ(dst.CompareAndPut(dst.Hash("hot"), MakeValueEntry(dst, "hot", "x"), top), Status::kMismatch);
    }
  }
  {  // A restore never lowers a counter that is already higher.
    Store dst("busy", Opts(1, Codec::kString));
    uint64_t v = 0;
    for (uint64_t i = 0; i < top + 10; ++i) ASSERT_EQ(PutString(dst, "x", "y", &v), Status::kOk);
    LoadInfo li;
    ASSERT_TRUE(LoadStore(dst, dir.File("v.snap"), Load(), &li, &err));
    uint64_t after = 0;
    ASSERT_EQ(PutString(dst, "x", "z", &after), Status::kOk);
    EXPECT_GT(after, v + 2);  // past x's last version and the two restored entries
  }
}

TEST(SnapshotStore, ALastVersionPastTwoToThe53IsCorrupt) {
  Header h;
  h.codec = static_cast<uint8_t>(Codec::kString);
  h.last_versions = {1, kMaxLastVersion + 1};
  const std::string file = EncodeHeader(h);  // the header alone: refused before the blocks
  MemorySource src(file);
  Store dst("dst", Opts(1, Codec::kString));
  LoadInfo li;
  Error err;
  ASSERT_FALSE(LoadStoreFrom(dst, src, Load(), &li, &err));
  EXPECT_EQ(err.kind, ErrorKind::kCorrupt);
  EXPECT_STREQ(err.field, "last_version");
}

// Each shard's part of the file is one point in time: a writer keeps two
// keys of one shard equal with atomic two-key batches (one write lock), and
// every snapshot taken meanwhile holds them equal. (The whole file is one
// point in time: snapshot_pit_test.cc checks keys across shards.)
TEST(SnapshotStore, EachShardIsSavedAsOnePointInTime) {
  TempDir dir;
  Store s("pit", Opts(8, Codec::kString));
  // Pairs of keys that fall in one shard, one pair per shard.
  std::vector<std::pair<std::string, std::string>> pairs(s.shard_count());
  std::vector<std::string> first(s.shard_count());
  for (int i = 0; std::any_of(pairs.begin(), pairs.end(), [](const auto& p) { return p.second.empty(); }); ++i) {
    const std::string k = Cat("p", i);
    const uint32_t sh = s.ShardOf(s.Hash(k));
    if (first[sh].empty()) {
      first[sh] = k;
    } else if (pairs[sh].second.empty()) {
      pairs[sh] = {first[sh], k};
    }
  }
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int t = 0; t < 2; ++t) {
    writers.emplace_back([&, t] {
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        const auto& [a, b] = pairs[(n + static_cast<uint64_t>(t) * 3) % pairs.size()];
        const std::string v = std::to_string(t) + ":" + std::to_string(n);
        std::vector<HashedEntry> batch;
        batch.push_back({s.Hash(a), MakeValueEntry(s, a, v, Kind::kString, kFlagAscii)});
        batch.push_back({s.Hash(b), MakeValueEntry(s, b, v, Kind::kString, kFlagAscii)});
        ASSERT_EQ(s.PutMany(batch, /*atomic=*/true), Status::kOk);
      }
    });
  }
  const int rounds = static_cast<int>(testing::Scaled(60, 8));
  for (int r = 0; r < rounds; ++r) {
    SaveInfo si;
    Error err;
    ASSERT_TRUE(SaveStore(s, dir.File("p.snap"), Save(), &si, &err));
    Store d("d", Opts(1, Codec::kString));
    LoadInfo li;
    ASSERT_TRUE(LoadStore(d, dir.File("p.snap"), Load(), &li, &err));
    const Content got = ContentOf(d);
    for (const auto& [a, b] : pairs) {
      const bool has_a = got.count(a) != 0, has_b = got.count(b) != 0;
      ASSERT_EQ(has_a, has_b) << a << " " << b;
      if (has_a) {
        ASSERT_EQ(std::get<2>(got.at(a)), std::get<2>(got.at(b))) << a << " " << b;
      }
    }
  }
  stop = true;
  for (auto& t : writers) t.join();
}

TEST(SnapshotStore, SavesWhileWritersDeletersAndClearRun) {
  TempDir dir;
  Store s("race", Opts(8, Codec::kString));
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<uint32_t>(t));
      for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
        const std::string k = Cat("k", rng() % 500);
        const auto op = static_cast<uint32_t>(rng() % 100);
        if (t == 2 && op == 0) {
          (void)s.Clear();
        } else if (op < 30) {
          (void)s.Erase(k, s.Hash(k));
        } else {
          const std::string v = k + "=" + std::to_string(n);
          (void)s.Put(s.Hash(k), MakeValueEntry(s, k, v, Kind::kString, kFlagAscii));
        }
      }
    });
  }
  const int rounds = static_cast<int>(testing::Scaled(40, 5));
  for (int r = 0; r < rounds; ++r) {
    SaveInfo si;
    Error err;
    ASSERT_TRUE(SaveStore(s, dir.File("r.snap"), Save(), &si, &err));
    Store d("d", Opts(2, Codec::kString));
    LoadInfo li;
    ASSERT_TRUE(LoadStore(d, dir.File("r.snap"), Load(), &li, &err)) << static_cast<int>(err.reason);
    EXPECT_EQ(li.entries, si.entries);
    for (const auto& [k, v] : ContentOf(d)) ASSERT_EQ(std::get<2>(v).rfind(k + "=", 0), 0u) << k;
  }
  stop = true;
  for (auto& t : threads) t.join();
  EXPECT_EQ(dir.Files(), std::vector<std::string>{"r.snap"});
}

// The real system calls, with a callback run on every write after the
// header's: the save is then in the middle of writing a shard out.
class MidSaveFs final : public testing::PassThroughFs {
 public:
  explicit MidSaveFs(std::function<void()> on_block) : on_block_(std::move(on_block)) {}
  int writes() const { return writes_; }
  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    if (++writes_ > 1) on_block_();
    return real().Write(fd, a, na, b, nb);
  }

 private:
  std::function<void()> on_block_;
  int writes_ = 0;
};

// A save writes a shard's entries out with no lock held, from pointers it
// collected under the shard's shared lock: entries that writers replace,
// update in place (counters, deadlines), delete or clear while the shard is
// being written must stay alive and unchanged until it is done, so that the
// file holds the shard as it was (one shard here, so the whole store). Under
// ASan a freed entry read by the save is a use-after-free; without ASan the
// reused memory shows as wrong content.
TEST(SnapshotStore, EntriesChangedWhileTheirShardIsWrittenAreSavedAsTheyWere) {
  TempDir dir;
  Store s("keep", Opts(1, Codec::kString));
  const int n = 600;
  const std::string pad(300, 'o');
  for (int i = 0; i < n; ++i) {
    const std::string k = Cat("k", i);
    PutString(s, k, k + "=old" + pad);
    Number sum;
    ASSERT_EQ(s.Increment(Cat("c", i), s.Hash(Cat("c", i)), i, &sum), Status::kOk);
  }
  const Content before = ContentOf(s);
  int rounds = 0;
  MidSaveFs fs([&] {
    if (++rounds > 3) return;
    for (int i = 0; i < n; ++i) {
      const std::string k = Cat("k", i), c = Cat("c", i);
      Number sum;
      ASSERT_EQ(s.Increment(c, s.Hash(c), 1000, &sum), Status::kOk);  // in place, were no hook installed
      // In place (a key erased by the round before is absent: kNotFound).
      (void)s.Expire(k, s.Hash(k), s.DeadlineIn(3'600'000));
      PutString(s, k, k + "=new" + std::to_string(rounds));
    }
    for (int i = 0; i < n; i += 3) (void)EraseString(s, Cat("k", i));
    if (rounds == 3) {
      ASSERT_EQ(s.Clear(), Status::kOk);
    }
  });
  SaveOptions small = Save();
  small.block_bytes = 4096;
  SaveInfo si;
  Error err;
  ASSERT_TRUE(SaveStore(s, dir.File("k.snap"), small, &si, &err, fs));
  EXPECT_GT(fs.writes(), 10);
  EXPECT_EQ(si.entries, before.size());
  EXPECT_GT(si.kept_peak_bytes, uint64_t{n} * pad.size());
  Store d("d", Opts(4, Codec::kString));
  LoadInfo li;
  ASSERT_TRUE(LoadStore(d, dir.File("k.snap"), Load(), &li, &err));
  EXPECT_EQ(ContentOf(d), before);
  // What the save kept is freed with it (LeakSanitizer would say).
}

// Saves of one store run one at a time; saves of different stores do not
// wait for each other. Both finish with complete files.
TEST(SnapshotStore, ConcurrentSavesOfOneStoreAllComplete) {
  TempDir dir;
  Store s("conc", Opts(4, Codec::kString));
  for (int i = 0; i < 2000; ++i) PutString(s, Cat("k", i), Cat("v", i));
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (uint64_t n = 0; !stop.load(std::memory_order_relaxed); ++n) {
      const std::string k = Cat("k", n % 2000);
      PutString(s, k, Cat("v", n));
    }
  });
  std::vector<std::thread> savers;
  std::atomic<int> failed{0};
  for (int t = 0; t < 3; ++t) {
    savers.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) {
        SaveInfo si;
        Error err;
        if (!SaveStore(s, dir.File(Cat("c", t) + ".snap"), Save(), &si, &err) || si.entries != 2000) ++failed;
      }
    });
  }
  for (auto& t : savers) t.join();
  stop = true;
  writer.join();
  EXPECT_EQ(failed.load(), 0);
  for (int t = 0; t < 3; ++t) {
    Store d("d", Opts(2, Codec::kString));
    LoadInfo li;
    Error err;
    ASSERT_TRUE(LoadStore(d, dir.File(Cat("c", t) + ".snap"), Load(), &li, &err));
    EXPECT_EQ(li.entries, 2000u);
  }
}

}  // namespace
}  // namespace threadkv::snapshot
