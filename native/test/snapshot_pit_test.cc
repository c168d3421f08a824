// A snapshot is one point in time for the whole file: the save is held
// between two blocks (some shards written, one being written, the rest not
// yet collected) while the test replaces, deletes, inserts, relinks and
// changes deadlines, increments, expires, evicts, clears and restores keys
// in every shard; the file then loads as exactly what the store held when
// the save began.
#include <gtest/gtest.h>

#include <cmath>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "core/snapshot/store_snapshot.h"
#include "core/store.h"
#include "snapshot_test_util.h"
#include "test_util.h"

namespace threadkv::snapshot {
namespace {

using testing::Cat;
using testing::EraseString;
using testing::MakeValueEntry;
using testing::ManualClock;
using testing::PutString;
using testing::TempDir;

// key -> kind, flags, value, minutes left before the deadline (-1: none).
using Image = std::map<std::string, std::tuple<int, int, std::string, int64_t>>;

Image ImageOf(const Store& store) {
  Image out;
  const int64_t now = store.NowNs();
  for (uint32_t s = 0; s < store.shard_count(); ++s) {
    (void)store.Scan(s, {}, [&](const Entry& e) {
      const int64_t left = e.HasDeadline() ? std::llround(static_cast<double>(e.expires_at - now) / 60e9) : -1;
      out[std::string(e.key())] = {static_cast<int>(e.kind), e.flags,
                                   std::string(reinterpret_cast<const char*>(e.value_data()), e.value_size), left};
    });
  }
  return out;
}

SaveOptions SmallBlocks() {
  SaveOptions o;
  o.writer.fsync = false;
  o.block_bytes = 2048;  // many blocks: the save is held between shards and inside one
  o.threadkv_version = "0.1.0-test";
  o.node_version = "v0.0.0-test";
  return o;
}

// The real system calls; the save thread stops before the block writes
// listed in `pauses` (counting the header's write as 0) until the test
// thread has run that pause's changes (Hold).
class HoldingFs final : public testing::PassThroughFs {
 public:
  explicit HoldingFs(std::set<int> pauses) : pauses_(std::move(pauses)) {}

  int64_t Write(int fd, const void* a, size_t na, const void* b, size_t nb) override {
    const int n = writes_++;
    if (pauses_.count(n) != 0) {
      std::unique_lock lock(mu_);
      held_ = n;
      cv_.notify_all();
      cv_.wait(lock, [&] { return held_ == -1; });
    }
    return real().Write(fd, a, na, b, nb);
  }
  // Waits until the save is held at a pause; returns which, or -1 when the
  // save ended first.
  int WaitHeld() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return held_ != -1 || ended_; });
    return held_;
  }
  void End() {
    std::lock_guard lock(mu_);
    ended_ = true;
    cv_.notify_all();
  }
  void Release() {
    std::lock_guard lock(mu_);
    held_ = -1;
    cv_.notify_all();
  }
  int writes() const { return writes_; }

 private:
  const std::set<int> pauses_;
  std::atomic<int> writes_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int held_ = -1;
  bool ended_ = false;
};

// The keys a file holds, with how many times each.
std::map<std::string, int> KeysIn(const std::string& file) {
  struct Sink final : ReadSink {
    std::map<std::string, int> keys;
    bool OnHeader(const Header&, Error*) override { return true; }
    bool OnBlock(const std::vector<EntryRecord>& entries, Error*) override {
      for (const EntryRecord& r : entries) ++keys[std::string(r.key)];
      return true;
    }
  } sink;
  const std::string bytes = testing::ReadFile(file);
  MemorySource src(bytes);
  ReadResult result;
  Error err;
  EXPECT_TRUE(ReadSnapshot(src, ReadOptions{}, sink, &result, &err));
  return sink.keys;
}

// Saves `s` on another thread, held at each of `pauses` while
// changes[i] runs on this one; returns the file's content loaded into a
// fresh store (real clock) and the save's info.
Image SaveWhile(Store& s, const std::string& file, std::set<int> pauses,
                const std::vector<std::function<void()>>& changes, SaveInfo* si) {
  HoldingFs fs(pauses);
  Error err;
  bool ok = false;
  std::thread saver([&] {
    ok = SaveStore(s, file, SmallBlocks(), si, &err, fs);
    fs.End();
  });
  for (const auto& change : changes) {
    if (fs.WaitHeld() == -1) {
      ADD_FAILURE() << "the save ended before it was held";
      break;
    }
    change();
    fs.Release();
  }
  saver.join();
  EXPECT_TRUE(ok) << static_cast<int>(err.kind);
  EXPECT_TRUE(si->point_in_time);
  Store d("d", [&] {
    Options o = s.options();
    o.shards = 4;
    o.max_entries = 0;
    o.max_bytes = 0;
    o.eviction = EvictionPolicy::kNone;
    return o;
  }());
  LoadOptions lo;
  LoadInfo li;
  EXPECT_TRUE(LoadStore(d, file, lo, &li, &err)) << static_cast<int>(err.kind);
  EXPECT_EQ(li.entries, si->entries);
  Image image = ImageOf(d);
  for (const auto& [k, times] : KeysIn(file)) {
    if (times != 1) {
      ADD_FAILURE() << "the file holds " << k << " " << times << " times";
      break;
    }
  }
  return image;
}

// How many block writes a save of `s` makes (header's included).
int Writes(Store& s, const std::string& file) {
  HoldingFs fs({});
  SaveInfo si;
  Error err;
  EXPECT_TRUE(SaveStore(s, file, SmallBlocks(), &si, &err, fs));
  return fs.writes();
}

void Put(Store& s, const std::string& k, const std::string& v, int64_t expires_at = kNoExpiry) {
  EntryPtr e = s.NewEntry(k, v.size(), Kind::kString, kFlagAscii, expires_at);
  std::memcpy(e->value_data(), v.data(), v.size());
  ASSERT_EQ(s.Put(s.Hash(k), std::move(e)), Status::kOk);
}

constexpr int64_t kMinute = 60'000'000'000;

TEST(SnapshotPointInTime, TheFileIsTheStoreAtTheCutWhateverWritersDo) {
  TempDir dir;
  ManualClock clock;
  Options o;
  o.shards = 8;
  o.codec = Codec::kString;
  Store s("pit", o, StoreHost{&clock, nullptr});
  const int n = 400;
  const std::string pad(40, '.');
  for (int i = 0; i < n; ++i) {
    Put(s, Cat("k", i), Cat("k", i) + "=old" + pad);                      // replaced, deleted, batched
    Put(s, Cat("r", i), Cat("r", i) + pad);                               // no timer links: expire() relinks
    Put(s, Cat("t", i), Cat("t", i) + pad, s.DeadlineIn(60.0 * 60'000));  // deadline changed in place
    Put(s, Cat("e", i), Cat("e", i) + pad, s.DeadlineIn(5.0 * 60'000));   // expires during the save
    Number sum;
    ASSERT_EQ(s.Increment(Cat("c", i), s.Hash(Cat("c", i)), i, &sum), Status::kOk);
  }
  // Another store's file, restored into this one while it is being saved.
  Store other("other", o);
  for (int i = 0; i < 50; ++i) PutString(other, Cat("k", i), "restored");
  {
    SaveInfo si;
    Error err;
    ASSERT_TRUE(SaveStore(other, dir.File("other.snap"), SmallBlocks(), &si, &err));
  }
  const int writes = Writes(s, dir.File("count.snap"));
  ASSERT_GT(writes, 30);
  const Image cut = ImageOf(s);

  // First hold: after the first block (the first shards collected, the
  // rest pending): every kind of change in every shard.
  auto first = [&] {
    for (int i = 0; i < n; ++i) {
      const std::string k = Cat("k", i), r = Cat("r", i), t = Cat("t", i), c = Cat("c", i);
      if (i % 4 == 0) Put(s, k, "new");
      if (i % 4 == 1) {
        ASSERT_EQ(EraseString(s, k), Status::kOk);
      }
      ASSERT_EQ(s.Expire(r, s.Hash(r), s.DeadlineIn(120.0 * 60'000)), Status::kOk);  // relinked: a copy
      if (i % 3 == 0) {
        ASSERT_EQ(EraseString(s, r), Status::kOk);  // the copy (same version) unlinked too
      }
      ASSERT_EQ(s.Expire(t, s.Hash(t), i % 2 == 0 ? s.DeadlineIn(120.0 * 60'000) : kNoExpiry), Status::kOk);
      Number sum;
      ASSERT_EQ(s.Increment(c, s.Hash(c), 1000, &sum), Status::kOk);
      Put(s, Cat("n", i), "inserted after the cut");
    }
    // An atomic batch across every shard.
    std::vector<HashedEntry> batch;
    for (int i = 2; i < n; i += 4)
      batch.push_back({s.Hash(Cat("k", i)), MakeValueEntry(s, Cat("k", i), "batched", Kind::kString, kFlagAscii)});
    ASSERT_EQ(s.PutMany(batch, /*atomic=*/true), Status::kOk);
    // The e* keys' deadline passes: the sweep unlinks them.
    clock.Advance(10 * kMinute);
    EXPECT_EQ(s.SweepExpired(), static_cast<size_t>(n));
  };
  // Second hold, about half way: clear, write again, restore another file.
  auto second = [&] {
    ASSERT_EQ(s.Clear(), Status::kOk);
    for (int i = 0; i < n; i += 2) Put(s, Cat("k", i), "after the clear");
    LoadInfo li;
    Error err;
    ASSERT_TRUE(LoadStore(s, dir.File("other.snap"), LoadOptions{}, &li, &err));
    for (int i = 0; i < n; i += 5) Put(s, Cat("r", i), "after the restore");
  };
  SaveInfo si;
  const Image got = SaveWhile(s, dir.File("pit.snap"), {1, writes / 2}, {first, second}, &si);
  EXPECT_EQ(got.size(), cut.size());
  EXPECT_TRUE(got == cut);
  for (const auto& [k, v] : cut) {
    auto at = got.find(k);
    if (at == got.end()) {
      ADD_FAILURE() << "missing " << k;
      break;
    }
    if (at->second != v) {
      ADD_FAILURE() << k << ": saved " << std::get<2>(at->second) << " / " << std::get<3>(at->second) << " min, was "
                    << std::get<2>(v) << " / " << std::get<3>(v) << " min";
      break;
    }
  }
  // The clear kept what the shards not yet written held (at least the
  // second half of the store's entries, each over 40 bytes).
  EXPECT_GT(si.kept_peak_bytes, uint64_t{n} * 2 * pad.size());
  EXPECT_GT(si.kept_records, uint64_t{n});
  // What the save kept was freed with it (LeakSanitizer would say), and
  // the store is what the writers made of it.
  std::string v;
  EXPECT_EQ(testing::GetString(s, "k0", &v), Status::kOk);
  EXPECT_EQ(v, "restored");
}

// Evictions under a capacity limit unlink entries too: a full SIEVE store
// evicts old keys for every new one while the save is held.
TEST(SnapshotPointInTime, EvictedEntriesAreSavedAsTheyWereAtTheCut) {
  TempDir dir;
  Options o;
  o.shards = 4;
  o.codec = Codec::kString;
  o.max_entries = 400;
  o.eviction = EvictionPolicy::kSieve;
  Store s("evict", o);
  for (int i = 0; i < 400; ++i) Put(s, Cat("k", i), Cat("v", i) + std::string(60, '.'));
  const int writes = Writes(s, dir.File("count.snap"));
  const Image cut = ImageOf(s);
  ASSERT_EQ(cut.size(), 400u);
  auto churn = [&] {
    for (int i = 0; i < 600; ++i) Put(s, Cat("new", i), "evicts an old key");
  };
  SaveInfo si;
  const Image got = SaveWhile(s, dir.File("e.snap"), {1, writes / 2}, {churn, churn}, &si);
  EXPECT_TRUE(got == cut) << got.size() << " entries saved, " << cut.size() << " at the cut";
  StoreStats st;
  ASSERT_EQ(s.Stats(&st), Status::kOk);
  EXPECT_GT(st.evictions, 400u);
}

// A destroy while the save is held fails the save cleanly (and frees
// everything it kept: LeakSanitizer).
TEST(SnapshotPointInTime, DestroyDuringTheSaveFailsItCleanly) {
  TempDir dir;
  Options o;
  o.shards = 8;
  o.codec = Codec::kString;
  Store s("gone", o);
  for (int i = 0; i < 400; ++i) Put(s, Cat("k", i), Cat("v", i) + std::string(60, '.'));
  HoldingFs fs({1});
  SaveInfo si;
  Error err;
  bool ok = true;
  std::thread saver([&] {
    ok = SaveStore(s, dir.File("g.snap"), SmallBlocks(), &si, &err, fs);
    fs.End();
  });
  EXPECT_EQ(fs.WaitHeld(), 1);
  std::vector<Table> drained;
  s.Kill(&drained);
  fs.Release();
  saver.join();
  EXPECT_FALSE(ok);
  EXPECT_EQ(err.kind, ErrorKind::kDestroyed);
  EXPECT_TRUE(dir.Files().empty());
}

}  // namespace
}  // namespace threadkv::snapshot
