// getOrCompute in the store (compute.cc): the hit / lead / join step under
// the shard lock, completion storing the value (and handing joined callers
// the leader's bytes, not a re-read), failure, fencing of a lost leader,
// limits refusing the value, writes invalidating a running flight, and
// many threads computing the same keys at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "core/flights.h"
#include "core/store.h"
#include "test_util.h"

namespace threadkv {
namespace {

using namespace std::chrono_literals;
using testing::Cat;
using testing::GetString;
using testing::MakeValueEntry;
using testing::PutString;
using testing::Scaled;
using testing::SizesOf;
using testing::SmallOptions;

std::shared_ptr<Notifier> Env() {
  return std::make_shared<Notifier>([] { return true; });
}

struct Call {
  Status status = Status::kOk;
  Store::ComputeStep step = Store::ComputeStep::kHit;
  std::string hit;                 // kHit: the value copied out
  std::shared_ptr<Flight> flight;  // kLead
  std::shared_ptr<WaitSlot> slot;  // kJoin
  int64_t lease_deadline = 0;
};

Call Begin(Store& store, std::string_view key, const ComputeCaller& c, uint64_t token = 0) {
  const uint64_t hash = store.Hash(key);
  auto fresh = std::make_shared<Flight>(NextFlightId(), hash, key, SteadyNowNs() + c.lease_ns, c.env, token);
  auto slot = std::make_shared<WaitSlot>(c.sync ? nullptr : c.env, token, hash);
  Call out;
  auto copy = [&](const Entry& e) { out.hit = testing::ValueOf(e); };
  out.status = store.BeginCompute(key, hash, c, fresh, slot, copy, &out.step, &out.lease_deadline);
  if (out.step == Store::ComputeStep::kLead) out.flight = fresh;
  if (out.step == Store::ComputeStep::kJoin) out.slot = slot;
  return out;
}

std::shared_ptr<const FlightResult> ResultOf(const Entry& e) {
  auto r = std::make_shared<FlightResult>();
  r->kind = e.kind;
  r->flags = e.flags;
  r->bytes = testing::ValueOf(e);
  return r;
}

// What the binding does with a leader's value: an entry for the store, and
// a copy of its bytes for the joined callers.
Status Complete(Store& store, Flight& f, std::string_view value, bool* stored, int64_t expires_at = kDefaultExpiry) {
  EntryPtr e = MakeValueEntry(store, f.key, value);
  e->expires_at = expires_at;
  auto r = ResultOf(*e);
  return store.CompleteCompute(f, std::move(e), std::move(r), stored);
}

std::shared_ptr<const FlightResult> Error(std::string_view what) {
  auto r = std::make_shared<FlightResult>();
  r->kind = Kind::kBytes;
  r->bytes = std::string(what);
  return r;
}

TEST(Compute, MissLeadsThenCompletionStoresAndHandsTheBytesToJoinedCallers) {
  Store store("compute-basic", SmallOptions(4));
  auto a = Env(), b = Env();
  Call lead = Begin(store, "k", {a});
  ASSERT_EQ(lead.status, Status::kOk);
  ASSERT_EQ(lead.step, Store::ComputeStep::kLead);
  EXPECT_GT(lead.lease_deadline, SteadyNowNs());
  // A flight is not an entry.
  EXPECT_EQ(GetString(store, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(SizesOf(store).entries, 0u);
  Call j = Begin(store, "k", {b}, 5);
  ASSERT_EQ(j.step, Store::ComputeStep::kJoin);
  EXPECT_EQ(j.lease_deadline, lead.lease_deadline);
  bool stored = false;
  ASSERT_EQ(Complete(store, *lead.flight, "v", &stored), Status::kOk);
  EXPECT_TRUE(stored);
  std::string v;
  ASSERT_EQ(GetString(store, "k", &v), Status::kOk);
  EXPECT_EQ(v, "v");
  ASSERT_EQ(j.slot->outcome(), WaitOutcome::kValue);
  EXPECT_EQ(j.slot->result()->bytes, "v");
  // A caller after completion hits.
  Call h = Begin(store, "k", {b});
  EXPECT_EQ(h.step, Store::ComputeStep::kHit);
  EXPECT_EQ(h.hit, "v");
  FlightCounters c;
  ASSERT_EQ(store.ComputeStats(&c), Status::kOk);
  EXPECT_EQ(c.loads, 1u);
  EXPECT_EQ(c.joined, 1u);
  EXPECT_EQ(c.running, 0u);
}

TEST(Compute, JoinedCallersGetTheLeadersBytesEvenIfTheEntryIsGoneAtOnce) {
  Store store("compute-handover", SmallOptions(1));
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  Call j = Begin(store, "k", {e}, 1);
  bool stored = false;
  ASSERT_EQ(Complete(store, *lead.flight, "leader", &stored), Status::kOk);
  // Overwritten and deleted right after completion: the joined caller's
  // outcome is the leader's bytes, kept with the flight.
  ASSERT_EQ(PutString(store, "k", "other"), Status::kOk);
  ASSERT_EQ(store.Erase("k", store.Hash("k")), Status::kOk);
  ASSERT_EQ(j.slot->outcome(), WaitOutcome::kValue);
  EXPECT_EQ(j.slot->result()->bytes, "leader");
}

TEST(Compute, CompletionStoresWithTheGivenDeadline) {
  Store store("compute-ttl", SmallOptions(2));
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  bool stored = false;
  ASSERT_EQ(Complete(store, *lead.flight, "v", &stored, store.DeadlineIn(1)), Status::kOk);
  EXPECT_TRUE(stored);
  std::this_thread::sleep_for(3ms);
  EXPECT_EQ(GetString(store, "k", nullptr), Status::kNotFound);
  // Expired: the next caller leads again.
  EXPECT_EQ(Begin(store, "k", {e}).step, Store::ComputeStep::kLead);
}

TEST(Compute, FailureIsSharedAndNothingIsStored) {
  Store store("compute-fail", SmallOptions(2));
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  Call j = Begin(store, "k", {e}, 1);
  store.FailCompute(*lead.flight, Error("boom"));
  ASSERT_EQ(j.slot->outcome(), WaitOutcome::kError);
  EXPECT_EQ(j.slot->result()->bytes, "boom");
  EXPECT_EQ(GetString(store, "k", nullptr), Status::kNotFound);
  EXPECT_EQ(Begin(store, "k", {e}).step, Store::ComputeStep::kLead);
  FlightCounters c;
  ASSERT_EQ(store.ComputeStats(&c), Status::kOk);
  EXPECT_EQ(c.errors, 1u);
}

TEST(Compute, LostLeadersLateValueIsNotStored) {
  Store store("compute-fence", SmallOptions(2));
  auto a = Env(), b = Env();
  Call lead = Begin(store, "k", {a});
  Call j = Begin(store, "k", {b}, 1);
  store.LoseCompute(*lead.flight);  // its thread went away
  ASSERT_EQ(j.slot->outcome(), WaitOutcome::kRetry);
  Call again = Begin(store, "k", {b});
  ASSERT_EQ(again.step, Store::ComputeStep::kLead);
  bool stored = true;
  ASSERT_EQ(Complete(store, *lead.flight, "late", &stored), Status::kOk);
  EXPECT_FALSE(stored);
  EXPECT_EQ(GetString(store, "k", nullptr), Status::kNotFound);
  ASSERT_EQ(Complete(store, *again.flight, "new", &stored), Status::kOk);
  EXPECT_TRUE(stored);
  std::string v;
  ASSERT_EQ(GetString(store, "k", &v), Status::kOk);
  EXPECT_EQ(v, "new");
}

TEST(Compute, ExpiredLeaseIsNoticedByAWaiterAndTakenOver) {
  Store store("compute-lease", SmallOptions(2));
  auto a = Env(), b = Env();
  // A lease long enough for the join to come first even under a sanitizer
  // on a loaded machine.
  Call lead = Begin(store, "k", {a, false, 300'000'000});
  Call j = Begin(store, "k", {b}, 1);
  ASSERT_EQ(j.step, Store::ComputeStep::kJoin);
  EXPECT_EQ(store.CheckComputeLease(*j.slot), lead.lease_deadline);
  std::this_thread::sleep_for(400ms);
  EXPECT_EQ(store.CheckComputeLease(*j.slot), 0);
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kRetry);
  FlightCounters c;
  ASSERT_EQ(store.ComputeStats(&c), Status::kOk);
  EXPECT_EQ(c.leaders_lost, 1u);
}

TEST(Compute, SyncCallerOnItsOwnThreadsFlightIsRefused) {
  Store store("compute-recursive", SmallOptions(2));
  auto a = Env();
  Call lead = Begin(store, "k", {a});
  EXPECT_EQ(Begin(store, "k", {a, true}).step, Store::ComputeStep::kRecursive);
  EXPECT_EQ(Begin(store, "k", {a, false}, 1).step, Store::ComputeStep::kJoin);
}

TEST(Compute, ValueRefusedByALimitLeavesTheFlightRunning) {
  Options o = SmallOptions(1);
  o.max_entries = 1;
  o.eviction = EvictionPolicy::kNone;
  Store store("compute-full", o);
  ASSERT_EQ(PutString(store, "other", "x"), Status::kOk);
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  Call j = Begin(store, "k", {e}, 1);
  bool stored = true;
  EXPECT_EQ(Complete(store, *lead.flight, "v", &stored), Status::kFullEntries);
  EXPECT_FALSE(stored);
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kPending);
  EXPECT_TRUE(lead.flight->running());
  EXPECT_TRUE(lead.flight->attached);
  // The leader then fails it with that error.
  store.FailCompute(*lead.flight, Error("full"));
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kError);
}

TEST(Compute, CancelledWaiterIsDetachedAndATimeoutCounted) {
  Store store("compute-cancel", SmallOptions(2));
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  Call j = Begin(store, "k", {e}, 1);
  ASSERT_TRUE(j.slot->Resolve(WaitOutcome::kCancelled, nullptr));
  store.DetachComputeWait(*j.slot, true);
  EXPECT_TRUE(lead.flight->waiters.empty());
  FlightCounters c;
  ASSERT_EQ(store.ComputeStats(&c), Status::kOk);
  EXPECT_EQ(c.timeouts, 1u);
}

// Threads × keys: every caller ends with the one value of its key's flight
// generation; each key is computed once per generation (no failures here, so
// once in all).
// Every write path of the store that writes or removes the key while its
// flight runs invalidates the flight (through the store's hook seam): the
// leader is told, its value is not stored, its joined caller still gets the
// leader's bytes, and the next caller starts a new flight (or hits the
// written value).
struct Write {
  const char* name;
  std::function<void(Store&)> run;
  bool leaves_value;  // the key holds a value after the write
};

std::vector<Write> WritesOfK() {
  auto entries = [](Store& s, bool atomic) {
    std::vector<HashedEntry> v;
    v.push_back({s.Hash("other"), MakeValueEntry(s, "other", "o")});
    v.push_back({s.Hash("k"), MakeValueEntry(s, "k", "w")});
    return s.PutMany(v, atomic);
  };
  auto erase_many = [](Store& s, bool atomic) {
    std::vector<KeyRef> keys{{"other", s.Hash("other")}, {"k", s.Hash("k")}};
    size_t n = 0;
    return s.EraseMany(keys, atomic, &n);
  };
  return {
      {"put", [](Store& s) { ASSERT_EQ(PutString(s, "k", "w"), Status::kOk); }, true},
      {"insert", [](Store& s) { ASSERT_EQ(s.Insert(s.Hash("k"), MakeValueEntry(s, "k", "w")), Status::kOk); }, true},
      {"compare-and-put absent",
       [](Store& s) {
         ASSERT_EQ(s.CompareAndPut(s.Hash("k"), MakeValueEntry(s, "k", "w"), kExpectAbsent), Status::kOk);
       },
       true},
      {"increment",
       [](Store& s) {
         Number r;
         ASSERT_EQ(s.Increment("k", s.Hash("k"), 1, &r), Status::kOk);
       },
       true},
      {"put-many atomic", [=](Store& s) { ASSERT_EQ(entries(s, true), Status::kOk); }, true},
      {"put-many", [=](Store& s) { ASSERT_EQ(entries(s, false), Status::kOk); }, true},
      {"delete absent", [](Store& s) { ASSERT_EQ(s.Erase("k", s.Hash("k")), Status::kNotFound); }, false},
      {"take absent",
       [](Store& s) {
         Retired taken;
         ASSERT_EQ(s.Erase("k", s.Hash("k"), &taken), Status::kNotFound);
       },
       false},
      {"erase-many atomic", [=](Store& s) { ASSERT_EQ(erase_many(s, true), Status::kOk); }, false},
      {"erase-many", [=](Store& s) { ASSERT_EQ(erase_many(s, false), Status::kOk); }, false},
      {"clear", [](Store& s) { ASSERT_EQ(s.Clear(), Status::kOk); }, false},
  };
}

TEST(ComputeInvalidation, EveryWriteOfTheKeyInvalidatesItsRunningFlight) {
  for (const Write& w : WritesOfK()) {
    SCOPED_TRACE(w.name);
    Store store(std::string("compute-invalidate-") + w.name, SmallOptions(4));
    std::atomic<int> told{0};
    auto leader = std::make_shared<Notifier>([&] {
      ++told;
      return true;
    });
    auto joiner = Env();
    Call lead = Begin(store, "k", {leader}, 9);
    ASSERT_EQ(lead.step, Store::ComputeStep::kLead);
    Call j = Begin(store, "k", {joiner}, 3);
    ASSERT_EQ(j.step, Store::ComputeStep::kJoin);
    // A write of another key changes nothing.
    ASSERT_EQ(PutString(store, "unrelated", "x"), Status::kOk);
    EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kRunning));
    w.run(store);
    EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kInvalidated));
    EXPECT_EQ(told.load(), 1);  // told after the writer's lock, so that ctx.signal aborts
    // Later callers do not join the invalidated flight.
    Call next = Begin(store, "k", {joiner});
    EXPECT_EQ(next.step, w.leaves_value ? Store::ComputeStep::kHit : Store::ComputeStep::kLead);
    std::string before;
    const Status had = GetString(store, "k", &before);
    bool stored = true;
    ASSERT_EQ(Complete(store, *lead.flight, "leader", &stored), Status::kOk);
    EXPECT_FALSE(stored);  // the write wins
    std::string after;
    EXPECT_EQ(GetString(store, "k", &after), had);
    EXPECT_EQ(after, before);
    ASSERT_EQ(j.slot->outcome(), WaitOutcome::kValue);  // the joined caller still gets it
    EXPECT_EQ(j.slot->result()->bytes, "leader");
    if (next.flight) {
      ASSERT_EQ(Complete(store, *next.flight, "second", &stored), Status::kOk);
      EXPECT_TRUE(stored);
    }
  }
}

TEST(ComputeInvalidation, EvictionExpiryAndFailedWritesDoNotInvalidate) {
  Options o = SmallOptions(1);
  o.max_entries = 2;
  o.eviction = EvictionPolicy::kSieve;
  Store store("compute-not-invalidated", o);
  auto e = Env();
  // "k" present but expired: a miss, so a flight starts while its entry is
  // still in the table; the sweep then removes it (an expiry, not a write).
  EntryPtr dying = MakeValueEntry(store, "k", "old");
  dying->expires_at = SteadyNowNs() + 1'000'000;
  ASSERT_EQ(store.Put(store.Hash("k"), std::move(dying)), Status::kOk);
  std::this_thread::sleep_for(3ms);
  Call lead = Begin(store, "k", {e});
  ASSERT_EQ(lead.step, Store::ComputeStep::kLead);
  EXPECT_EQ(store.SweepExpired(), 1u);
  for (int i = 0; i < 5; ++i) ASSERT_EQ(PutString(store, Cat("fill", i), "v"), Status::kOk);  // evictions
  ASSERT_EQ(store.CompareAndErase("k", store.Hash("k"), 12345), Status::kNotFound);           // changes nothing
  ASSERT_EQ(store.CompareAndPut(store.Hash("k"), MakeValueEntry(store, "k", "x"), 12345), Status::kMismatch);
  EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kRunning));
  bool stored = false;
  ASSERT_EQ(Complete(store, *lead.flight, "v", &stored), Status::kOk);
  EXPECT_TRUE(stored);
}

TEST(ComputeInvalidation, DestroyLosesRunningFlights) {
  Store store("compute-destroyed", SmallOptions(2));
  auto e = Env();
  Call lead = Begin(store, "k", {e});
  Call j = Begin(store, "k", {e}, 1);
  std::vector<Table> drained;
  store.Kill(&drained);
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kRetry);  // retries, and meets the destroyed store
  EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kLost));
  EXPECT_EQ(Begin(store, "k", {e}).status, Status::kDestroyed);
}

TEST(ComputeStress, OneComputationPerKeyAcrossThreads) {
  Store store("compute-stress", SmallOptions(8));
  const int kThreads = 4;
  const int kKeys = static_cast<int>(Scaled(2000, 100));
  std::vector<std::atomic<int>> computed(kKeys);
  std::atomic<int> bad{0};
  std::atomic<int> ready{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto env = Env();
      ready.fetch_add(1);
      while (ready.load() < kThreads) {
      }
      for (int i = 0; i < kKeys; ++i) {
        const int k = (i * 7 + t * 13) % kKeys;
        const std::string key = Cat("k", k);
        const std::string want = Cat("v", k);
        for (;;) {
          Call c = Begin(store, key, {env, (i & 1) != 0}, 1);
          if (c.step == Store::ComputeStep::kHit) {
            if (c.hit != want) bad.fetch_add(1);
            break;
          }
          if (c.step == Store::ComputeStep::kLead) {
            computed[k].fetch_add(1);
            bool stored = false;
            if (Complete(store, *c.flight, want, &stored) != Status::kOk || !stored) bad.fetch_add(1);
            break;
          }
          if (c.step == Store::ComputeStep::kRecursive) {
            bad.fetch_add(1);
            break;
          }
          WaitOutcome o = WaitOutcome::kPending;
          while (o == WaitOutcome::kPending) o = c.slot->WaitFor(1ms);
          if (o == WaitOutcome::kValue) {
            if (c.slot->result()->bytes != want) bad.fetch_add(1);
            break;
          }
          bad.fetch_add(1);  // nothing here loses a leader
          break;
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(bad.load(), 0);
  for (int k = 0; k < kKeys; ++k) ASSERT_EQ(computed[k].load(), 1) << "key " << k;
  FlightCounters c;
  ASSERT_EQ(store.ComputeStats(&c), Status::kOk);
  EXPECT_EQ(c.loads, static_cast<uint64_t>(kKeys));
  EXPECT_EQ(c.running, 0u);
  EXPECT_EQ(SizesOf(store).entries, static_cast<uint64_t>(kKeys));
}

}  // namespace
}  // namespace threadkv
