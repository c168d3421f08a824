// The seams of the core that the optional features and the test tools
// attach to: the store's hook (every change reported once, under the
// shard's lock; unlinked entries kept and adopted), the clock a store is
// given (TTL driven without sleeping), and the count of entries a refused
// non-atomic PutMany stored.
#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;
using testing::GetString;
using testing::MakeValueEntry;
using testing::ManualClock;
using testing::PutString;
using testing::SizesOf;
using testing::SmallOptions;

const char* Name(Change c) {
  switch (c) {
    case Change::kSet:
      return "set";
    case Change::kReplaced:
      return "replaced";
    case Change::kDeleted:
      return "deleted";
    case Change::kExpired:
      return "expired";
    case Change::kEvicted:
      return "evicted";
    case Change::kCleared:
      return "cleared";
  }
  return "?";
}

// Records every change as "what key@version"; keeps the unlinked entries
// whose key starts with `keep` and counts their adoption.
class Recorder final : public StoreHook {
 public:
  explicit Recorder(std::string keep = "\x01") : keep_(std::move(keep)) {}
  uint8_t OnChange(uint32_t, Change change, const Entry& e) noexcept override {
    std::lock_guard lock(mu_);
    log_.push_back(std::string(Name(change)) + " " + std::string(e.key()) + Cat("@", e.version));
    ++pending_;
    return (e.key().starts_with(keep_) ? kKeep : kNothing) | kAfter;
  }
  void AfterLock() noexcept override {
    std::lock_guard lock(mu_);
    if (pending_ == 0) log_.push_back("AfterLock without a change");
    pending_ = 0;
    ++after_calls_;
  }
  int after_calls() {
    std::lock_guard lock(mu_);
    return after_calls_;
  }
  void Adopt(EntryPtr e) noexcept override {
    std::lock_guard lock(mu_);
    adopted_.push_back(std::string(e->key()) + "=" + testing::ValueOf(*e));
  }
  std::vector<std::string> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(log_, {});
  }
  std::vector<std::string> adopted() {
    std::lock_guard lock(mu_);
    return adopted_;
  }

 private:
  const std::string keep_;
  std::mutex mu_;
  std::vector<std::string> log_;
  std::vector<std::string> adopted_;
  int pending_ = 0;
  int after_calls_ = 0;
};

using Log = std::vector<std::string>;

TEST(Hook, EveryChangeIsReportedOnceWithItsVersion) {
  Store s("t", SmallOptions(1));
  auto hook = std::make_shared<Recorder>();
  ASSERT_EQ(PutString(s, "before", "v"), Status::kOk);  // no hook yet: not reported
  ASSERT_EQ(s.AddHook(hook), Status::kOk);
  EXPECT_EQ(hook->Take(), Log{});
  ASSERT_EQ(PutString(s, "a", "1"), Status::kOk);  // version 2
  ASSERT_EQ(PutString(s, "a", "2"), Status::kOk);  // 3, replaces 2
  ASSERT_EQ(s.Insert(s.Hash("a"), MakeValueEntry(s, "a", "x")), Status::kExists);
  ASSERT_EQ(testing::EraseString(s, "a"), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "a"), Status::kNotFound);
  Number n;
  ASSERT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kOk);  // 4
  ASSERT_EQ(s.Increment("c", s.Hash("c"), 1, &n), Status::kOk);  // 5: replaced, not in place
  EXPECT_EQ(hook->Take(),
            (Log{"set a@2", "replaced a@2", "set a@3", "deleted a@3", "set c@4", "replaced c@4", "set c@5"}));
  EXPECT_EQ(hook->after_calls(), 5);  // once per operation that changed something, after its lock
  ASSERT_EQ(s.Clear(), Status::kOk);
  Log cleared = hook->Take();
  std::sort(cleared.begin(), cleared.end());
  EXPECT_EQ(cleared, (Log{"cleared before@1", "cleared c@5"}));
  EXPECT_EQ(SizesOf(s).entries, 0u);
  // Removed: nothing reported any more.
  ASSERT_EQ(s.RemoveHook(hook.get()), Status::kOk);
  ASSERT_EQ(PutString(s, "a", "3"), Status::kOk);
  EXPECT_EQ(hook->Take(), Log{});
}

TEST(Hook, ExpiryAndEvictionAreReportedAsSuch) {
  ManualClock clock;
  Options o = SmallOptions(1);
  o.max_entries = 2;
  o.eviction = EvictionPolicy::kSieve;
  Store s("t", o, {.clock = &clock});
  auto hook = std::make_shared<Recorder>();
  ASSERT_EQ(s.AddHook(hook), Status::kOk);
  EntryPtr e = MakeValueEntry(s, "ttl", "v");
  e->expires_at = s.DeadlineIn(10);
  ASSERT_EQ(s.Put(s.Hash("ttl"), std::move(e)), Status::kOk);  // 1
  ASSERT_EQ(PutString(s, "a", "v"), Status::kOk);              // 2
  clock.Advance(11'000'000);
  // Room is made before an entry goes in: the expired entry first.
  ASSERT_EQ(PutString(s, "b", "v"), Status::kOk);  // 3
  ASSERT_EQ(PutString(s, "c", "v"), Status::kOk);  // 4: evicts a (never visited)
  EXPECT_EQ(hook->Take(), (Log{"set ttl@1", "set a@2", "expired ttl@1", "set b@3", "evicted a@2", "set c@4"}));
}

TEST(Hook, KeptEntriesAreAdoptedAfterTheLockInsteadOfFreed) {
  Store s("t", SmallOptions(2));
  auto hook = std::make_shared<Recorder>("keep");
  ASSERT_EQ(s.AddHook(hook), Status::kOk);
  ASSERT_EQ(PutString(s, "keep1", "old"), Status::kOk);
  ASSERT_EQ(PutString(s, "keep1", "new"), Status::kOk);  // the old entry is kept
  ASSERT_EQ(PutString(s, "drop", "x"), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "drop"), Status::kOk);  // freed
  {
    Retired r;  // the caller reads what its erase removed; adopted after
    ASSERT_EQ(s.Erase("keep1", s.Hash("keep1"), &r), Status::kOk);
    ASSERT_NE(r.previous(), nullptr);
    EXPECT_EQ(testing::ValueOf(*r.previous()), "new");
    EXPECT_FALSE(r.TakePrevious());  // the hook's: it can be read, not taken
    EXPECT_NE(r.previous(), nullptr);
    EXPECT_EQ(hook->adopted(), std::vector<std::string>{"keep1=old"});
  }
  EXPECT_EQ(hook->adopted(), (std::vector<std::string>{"keep1=old", "keep1=new"}));
  // Batches and clear go through the same path (ASan checks that every
  // entry is freed exactly once, by the store or by the test's hook).
  std::vector<HashedEntry> batch;
  for (int i = 0; i < 10; ++i) {
    const std::string k = Cat("keep:b", i % 5);
    batch.push_back({s.Hash(k), MakeValueEntry(s, k, Cat("v", i))});
  }
  ASSERT_EQ(s.PutMany(batch, true), Status::kOk);
  ASSERT_EQ(s.Clear(), Status::kOk);
  EXPECT_EQ(hook->adopted().size(), 2u + 5u + 5u);  // 5 duplicates replaced, 5 cleared
}

TEST(Hook, SeveralHooksAreAllToldAndTheFirstKeeperAdopts) {
  Store s("t", SmallOptions(1));
  auto watch = std::make_shared<Recorder>();        // keeps nothing
  auto snapshot = std::make_shared<Recorder>("k");  // keeps k*
  auto late = std::make_shared<Recorder>("k");      // would keep k*, but is second
  ASSERT_EQ(s.AddHook(watch), Status::kOk);
  ASSERT_EQ(s.AddHook(snapshot), Status::kOk);
  ASSERT_EQ(s.AddHook(late), Status::kOk);
  ASSERT_EQ(PutString(s, "k", "1"), Status::kOk);
  ASSERT_EQ(PutString(s, "k", "2"), Status::kOk);
  const Log both{"set k@1", "replaced k@1", "set k@2"};
  EXPECT_EQ(watch->Take(), both);
  EXPECT_EQ(snapshot->Take(), both);
  EXPECT_EQ(late->Take(), both);
  EXPECT_EQ(snapshot->adopted(), std::vector<std::string>{"k=1"});
  EXPECT_EQ(late->adopted(), std::vector<std::string>{});
  ASSERT_EQ(s.RemoveHook(snapshot.get()), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "k"), Status::kOk);
  EXPECT_EQ(watch->Take(), Log{"deleted k@2"});
  EXPECT_EQ(snapshot->Take(), Log{});
  EXPECT_EQ(late->adopted(), std::vector<std::string>{"k=2"});  // now the first keeper
}

// A hook that wants only some calls (StoreHook::Interests) and logs every
// call it gets, replying kAfter to each.
class Picky final : public StoreHook {
 public:
  explicit Picky(Interests interests) : StoreHook(interests) {}
  uint8_t OnChange(uint32_t, Change change, const Entry& e) noexcept override {
    return Log(std::string(Name(change)) + " " + std::string(e.key()));
  }
  uint8_t OnAbsent(uint32_t, uint64_t, std::string_view key) noexcept override {
    return Log("absent " + std::string(key));
  }
  uint8_t OnClear(bool destroy) noexcept override { return Log(destroy ? "destroy" : "clear"); }
  void OnGroup(bool begin) noexcept override { (void)Log(begin ? "begin" : "end"); }
  void AfterLock() noexcept override {
    std::lock_guard lock(mu_);
    ++after_calls_;
  }
  std::vector<std::string> Take() {
    std::lock_guard lock(mu_);
    return std::exchange(log_, {});
  }
  int after_calls() {
    std::lock_guard lock(mu_);
    return after_calls_;
  }

 private:
  uint8_t Log(std::string line) {
    std::lock_guard lock(mu_);
    log_.push_back(std::move(line));
    return kAfter;
  }
  std::mutex mu_;
  std::vector<std::string> log_;
  int after_calls_ = 0;
};

TEST(Hook, AHookIsToldOnlyWhatItsInterestsAskFor) {
  Store s("t", SmallOptions(2));
  // Sets and groups only: no replaced, deleted, absent or cleared calls
  // (OnClear itself always comes).
  auto sets =
      std::make_shared<Picky>(static_cast<StoreHook::Interests>(StoreHook::Wants(Change::kSet) | StoreHook::kGroups));
  // Deletions and absent keys only.
  auto deletes = std::make_shared<Picky>(
      static_cast<StoreHook::Interests>(StoreHook::Wants(Change::kDeleted) | StoreHook::kAbsent));
  ASSERT_EQ(s.AddHook(sets), Status::kOk);
  ASSERT_EQ(s.AddHook(deletes), Status::kOk);
  ASSERT_EQ(PutString(s, "a", "1"), Status::kOk);
  ASSERT_EQ(PutString(s, "a", "2"), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "a"), Status::kOk);
  ASSERT_EQ(testing::EraseString(s, "a"), Status::kNotFound);
  std::vector<HashedEntry> batch;
  for (const char* k : {"b", "c"}) batch.push_back({s.Hash(k), MakeValueEntry(s, k, "v")});
  ASSERT_EQ(s.PutMany(batch, true), Status::kOk);
  EXPECT_EQ(sets->Take(), (Log{"set a", "set a", "begin", "set b", "set c", "end"}));
  EXPECT_EQ(deletes->Take(), (Log{"deleted a", "absent a"}));
  // AfterLock once per operation that told the hook something.
  EXPECT_EQ(sets->after_calls(), 3);
  EXPECT_EQ(deletes->after_calls(), 2);
  // Nobody wants kCleared: OnClear is called, the entries leave unreported
  // (the whole table at once), and the store is empty all the same.
  ASSERT_EQ(s.Clear(), Status::kOk);
  EXPECT_EQ(sets->Take(), Log{"clear"});
  EXPECT_EQ(deletes->Take(), Log{"clear"});
  EXPECT_EQ(SizesOf(s).entries, 0u);
  ASSERT_EQ(PutString(s, "d", "1"), Status::kOk);
  std::string value;
  uint64_t version = 0;
  ASSERT_EQ(GetString(s, "d", &value, &version), Status::kOk);
  EXPECT_EQ(value, "1");
  // A hook that wants kCleared beside them gets each entry again.
  auto all = std::make_shared<Recorder>();
  ASSERT_EQ(s.AddHook(all), Status::kOk);
  ASSERT_EQ(s.Clear(), Status::kOk);
  EXPECT_EQ(all->Take(), Log{Cat("cleared d@", version)});
  EXPECT_EQ(sets->Take(), (Log{"set d", "clear"}));
  EXPECT_EQ(SizesOf(s).entries, 0u);
}

TEST(Clock, AStoreMeasuresDeadlinesOnTheClockItIsGiven) {
  ManualClock clock;
  Options o = SmallOptions(2);
  o.ttl_ms = 1000;
  Store s("t", o, {.clock = &clock});
  EXPECT_EQ(s.NowNs(), clock.NowNs());
  EXPECT_EQ(s.DeadlineIn(5), clock.NowNs() + 5'000'000);
  ASSERT_EQ(PutString(s, "k", "v"), Status::kOk);  // the default TTL, from the fake now
  EXPECT_TRUE(s.has_ttl());
  clock.Advance(999'999'999);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kOk);
  EXPECT_EQ(s.SweepExpired(), 0u);
  clock.Advance(1);
  EXPECT_EQ(GetString(s, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(SizesOf(s).entries, 0u);
  EXPECT_EQ(s.SweepExpired(), 1u);
  EXPECT_FALSE(s.has_ttl());
}

// The waker a store is given (here one that never plans: PlannedNs() is
// "never") hears of its shard's first deadline (after the lock), and of no
// later one due no earlier until a sweep pass emptied the shard's wheel.
TEST(Clock, TheWakerHearsOfTheFirstDeadline) {
  struct Counter final : Waker {
    int wakes = 0;
    void Wake() override { ++wakes; }
  } waker;
  ManualClock clock;
  Store s("t", SmallOptions(1), {.clock = &clock, .waker = &waker});
  ASSERT_EQ(PutString(s, "plain", "v"), Status::kOk);
  EXPECT_EQ(waker.wakes, 0);
  for (int i = 0; i < 3; ++i) {
    const std::string k = Cat("k", i);
    EntryPtr e = MakeValueEntry(s, k, "v");
    e->expires_at = s.DeadlineIn(1);
    ASSERT_EQ(s.Put(s.Hash(k), std::move(e)), Status::kOk);
  }
  EXPECT_EQ(waker.wakes, 1);
  clock.Advance(2'000'000);
  EXPECT_EQ(s.SweepExpired(), 3u);
  ASSERT_EQ(s.Expire("plain", s.Hash("plain"), s.DeadlineIn(1)), Status::kOk);
  EXPECT_EQ(waker.wakes, 2);
}

TEST(Batch, ARefusedNonAtomicPutManySaysHowManyItStored) {
  Options o = SmallOptions(1);
  o.max_entries = 3;
  Store s("t", o);
  ASSERT_EQ(PutString(s, "a", "v"), Status::kOk);
  std::vector<HashedEntry> batch;
  for (const char* k : {"a", "b", "c", "d", "e"}) batch.push_back({s.Hash(k), MakeValueEntry(s, k, "w")});
  size_t stored = 99;
  EXPECT_EQ(s.PutMany(batch, false, &stored), Status::kFullEntries);
  EXPECT_EQ(stored, 3u);  // a (replaced), b, c; d refused
  EXPECT_EQ(SizesOf(s).entries, 3u);
  std::vector<HashedEntry> ok;
  ok.push_back({s.Hash("a"), MakeValueEntry(s, "a", "x")});
  EXPECT_EQ(s.PutMany(ok, false, &stored), Status::kOk);
  EXPECT_EQ(stored, 1u);
  std::vector<HashedEntry> atomic;
  atomic.push_back({s.Hash("z"), MakeValueEntry(s, "z", "x")});
  EXPECT_EQ(s.PutMany(atomic, true, &stored), Status::kFullEntries);
  EXPECT_EQ(stored, 0u);
}

}  // namespace
}  // namespace threadkv
