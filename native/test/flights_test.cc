// The flight steps (native/core/flights.h) on their own: a FlightTable
// behind a plain mutex standing in for a shard's write lock, with real
// threads for the cross-thread parts. The store's use of them (hits, the
// value stored, writes invalidating) is tested in compute_test.cc.
#include "core/flights.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace threadkv {
namespace {

using namespace std::chrono_literals;
using testing::Cat;
using testing::Scaled;

std::shared_ptr<Notifier> Env() {
  return std::make_shared<Notifier>([] { return true; });
}

std::shared_ptr<const FlightResult> Bytes(std::string s) {
  auto r = std::make_shared<FlightResult>();
  r->kind = Kind::kString;
  r->bytes = std::move(s);
  return r;
}

constexpr int64_t kLong = 3'600'000'000'000;  // an hour, in ns

// One shard's flights behind a mutex, with the calls a store makes.
struct Shard {
  std::mutex mu;
  FlightTable table;

  struct Begin {
    JoinStep step;
    std::shared_ptr<Flight> flight;  // kLead: the new flight
    std::shared_ptr<WaitSlot> slot;  // kJoin: the caller's slot
    uint64_t joined_id = 0;          // kJoin: the id of the flight joined
  };

  Begin Call(std::string_view key, const ComputeCaller& c, uint64_t token = 0, uint64_t hash = 42) {
    auto fresh = std::make_shared<Flight>(NextFlightId(), hash, key, SteadyNowNs() + c.lease_ns, c.env, token);
    auto slot = std::make_shared<WaitSlot>(c.sync ? nullptr : c.env, token, hash);
    FlightWork after;
    std::lock_guard lock(mu);
    const JoinStep step = LeadOrJoinLocked(table, c, fresh, slot, SteadyNowNs(), &after);
    return {step, step == JoinStep::kLead ? fresh : nullptr, step == JoinStep::kJoin ? slot : nullptr,
            step == JoinStep::kJoin ? slot->flight.lock()->id : 0};
  }
  bool Finish(Flight& f, FlightState how, std::shared_ptr<const FlightResult> r) {
    FlightWork after;
    std::lock_guard lock(mu);
    return FinishLocked(table, f, how, std::move(r), &after);
  }
  bool Lose(Flight& f) {
    FlightWork after;
    std::lock_guard lock(mu);
    return LoseLocked(table, f, &after);
  }
  void Invalidate(std::string_view key, uint64_t hash = 42) {
    FlightWork after;
    std::lock_guard lock(mu);
    InvalidateLocked(table, hash, key, &after);
  }
  bool Cancel(WaitSlot& s, bool timed_out) {
    if (!s.Resolve(WaitOutcome::kCancelled, nullptr)) return false;
    std::lock_guard lock(mu);
    DetachLocked(table, s, timed_out);
    return true;
  }
  void CheckLease(WaitSlot& s) {
    FlightWork after;
    std::lock_guard lock(mu);
    CheckLeaseLocked(table, s, SteadyNowNs(), &after);
  }
  FlightCounters Counters() {
    std::lock_guard lock(mu);
    return table.counters;
  }
};

TEST(Flights, FirstLeadsOthersJoinAndGetTheLeadersBytes) {
  Shard s;
  auto a = Env(), b = Env();
  auto lead = s.Call("k", {a});
  ASSERT_EQ(lead.step, JoinStep::kLead);
  EXPECT_TRUE(lead.flight->attached);
  EXPECT_EQ(s.table.size(), 1u);
  auto j1 = s.Call("k", {b}, 7);
  auto j2 = s.Call("k", {a}, 8);  // same thread as the leader, async: joins
  ASSERT_EQ(j1.step, JoinStep::kJoin);
  ASSERT_EQ(j2.step, JoinStep::kJoin);
  EXPECT_EQ(j1.slot->outcome(), WaitOutcome::kPending);
  EXPECT_TRUE(s.Finish(*lead.flight, FlightState::kDone, Bytes("v")));
  EXPECT_EQ(s.table.size(), 0u);
  EXPECT_EQ(s.table.bucket_bytes(), 0u) << "an idle table must hold no memory";
  for (auto* j : {&j1, &j2}) {
    ASSERT_EQ(j->slot->outcome(), WaitOutcome::kValue);
    EXPECT_EQ(j->slot->result()->bytes, "v");
    EXPECT_TRUE(j->slot->flight.expired() || j->slot->flight.lock() == nullptr);
  }
  // Each async joiner's thread was told its token.
  std::vector<uint64_t> got;
  b->Drain(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{7}));
  got.clear();
  a->Drain(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{8}));
  const FlightCounters c = s.Counters();
  EXPECT_EQ(c.loads, 1u);
  EXPECT_EQ(c.joined, 2u);
  EXPECT_EQ(c.running, 0u);
  // The flight is over: the next caller leads a new one.
  EXPECT_EQ(s.Call("k", {b}).step, JoinStep::kLead);
}

TEST(Flights, KeysAreIndependentAndEqualHashesAreTellApart) {
  Shard s;
  auto e = Env();
  EXPECT_EQ(s.Call("a", {e}, 0, 5).step, JoinStep::kLead);
  EXPECT_EQ(s.Call("b", {e}, 0, 5).step, JoinStep::kLead);  // same hash, other key
  EXPECT_EQ(s.Call("a", {e}, 0, 6).step, JoinStep::kLead);  // same key bytes, other hash: another key
  EXPECT_EQ(s.Call("a", {e}, 0, 5).step, JoinStep::kJoin);
  EXPECT_EQ(s.table.size(), 3u);
}

TEST(Flights, FailureIsSharedAndNotKept) {
  Shard s;
  auto e = Env();
  auto lead = s.Call("k", {e});
  auto j = s.Call("k", {e}, 1);
  EXPECT_TRUE(s.Finish(*lead.flight, FlightState::kFailed, Bytes("boom")));
  ASSERT_EQ(j.slot->outcome(), WaitOutcome::kError);
  EXPECT_EQ(j.slot->result()->bytes, "boom");
  EXPECT_EQ(s.Counters().errors, 1u);
  EXPECT_EQ(s.Call("k", {e}).step, JoinStep::kLead) << "a failure must not be cached";
}

TEST(Flights, SyncCallerOnItsOwnThreadsFlightIsRecursive) {
  Shard s;
  auto a = Env(), b = Env();
  auto lead = s.Call("k", {a});
  ComputeCaller sync_a{a, true};
  EXPECT_EQ(s.Call("k", sync_a).step, JoinStep::kRecursive);
  EXPECT_TRUE(lead.flight->waiters.empty()) << "a refused caller must not be registered";
  ComputeCaller sync_b{b, true};
  auto j = s.Call("k", sync_b);
  ASSERT_EQ(j.step, JoinStep::kJoin);
  // A sync waiter blocks in WaitFor and is woken by the leader's thread.
  std::thread leader([&] {
    std::this_thread::sleep_for(5ms);
    s.Finish(*lead.flight, FlightState::kDone, Bytes("v"));
  });
  WaitOutcome o = WaitOutcome::kPending;
  while (o == WaitOutcome::kPending) o = j.slot->WaitFor(2ms);
  leader.join();
  EXPECT_EQ(o, WaitOutcome::kValue);
}

TEST(Flights, SyncJoinThatClosesACycleOfBlockedThreadsIsRecursive) {
  // a leads k1 and b leads k2 (getOrCompute: their factories need their
  // threads' event loops); b blocks in a sync join of k1. If a now blocked
  // in a sync join of k2, neither flight could finish before a lease passed.
  Shard s;
  auto a = Env(), b = Env(), c = Env();
  const size_t blocked_before = SyncWaits::Global().size();
  auto k1 = s.Call("k1", {a});
  auto k2 = s.Call("k2", {b});
  auto b_waits = s.Call("k1", {b, true});
  ASSERT_EQ(b_waits.step, JoinStep::kJoin);
  EXPECT_EQ(SyncWaits::Global().size(), blocked_before + 1);
  EXPECT_EQ(s.Call("k2", {a, true}).step, JoinStep::kRecursive);
  EXPECT_TRUE(k2.flight->waiters.empty()) << "a refused caller must not be registered";
  EXPECT_EQ(s.Call("k2", {a}).step, JoinStep::kJoin) << "an async join does not block its thread";
  // A longer cycle: c leads k3, a blocks on k3, c would block on k2 (b -> a -> c -> b).
  auto k3 = s.Call("k3", {c});
  auto a_waits = s.Call("k3", {a, true});
  ASSERT_EQ(a_waits.step, JoinStep::kJoin);
  EXPECT_EQ(s.Call("k2", {c, true}).step, JoinStep::kRecursive);
  EXPECT_EQ(SyncWaits::Global().size(), blocked_before + 2);
  // Once b's wait ends, the chain is gone: a may block on k2.
  ASSERT_TRUE(s.Finish(*k1.flight, FlightState::kDone, Bytes("v1")));
  EXPECT_EQ(b_waits.slot->WaitFor(0ms), WaitOutcome::kValue);
  EXPECT_EQ(SyncWaits::Global().size(), blocked_before + 1) << "a resolved slot leaves SyncWaits";
  ASSERT_TRUE(s.Cancel(*a_waits.slot, false));
  EXPECT_EQ(SyncWaits::Global().size(), blocked_before) << "a cancelled slot leaves SyncWaits";
  auto a_waits_k2 = s.Call("k2", {a, true});
  ASSERT_EQ(a_waits_k2.step, JoinStep::kJoin);
  ASSERT_TRUE(s.Lose(*k2.flight));
  EXPECT_EQ(a_waits_k2.slot->WaitFor(0ms), WaitOutcome::kRetry);
  EXPECT_EQ(SyncWaits::Global().size(), blocked_before) << "a retried slot leaves SyncWaits";
  ASSERT_TRUE(s.Finish(*k3.flight, FlightState::kDone, Bytes("v3")));
}

TEST(Flights, ThreadsThatBlockOnEachOthersFlightsNeverDeadlock) {
  // Each thread leads its own key, then blocks in a sync join of the next
  // thread's key while its own flight can only end after its wait does (as
  // a getOrCompute leader's factory needs the blocked thread). Without the
  // cycle check every thread would wait for ever (no lease here); with it,
  // exactly one join of each round is refused, and every other ends.
  constexpr int kThreads = 4;
  const size_t rounds = Scaled(200);
  Shard s;
  for (size_t round = 0; round < rounds; ++round) {
    const std::string prefix = Cat("r", round);
    std::vector<std::shared_ptr<Notifier>> envs;
    std::vector<std::shared_ptr<Flight>> leads;
    for (int t = 0; t < kThreads; ++t) {
      envs.push_back(Env());
      auto b = s.Call(prefix + Cat("k", t), {envs.back()}, 0, 1000 + static_cast<uint64_t>(t));
      ASSERT_EQ(b.step, JoinStep::kLead);
      leads.push_back(b.flight);
    }
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        const int next = (t + 1) % kThreads;
        auto b = s.Call(prefix + Cat("k", next), {envs[t], true}, 0, 1000 + static_cast<uint64_t>(next));
        if (b.step == JoinStep::kRecursive) {
          refused.fetch_add(1);
        } else {
          EXPECT_EQ(b.step, JoinStep::kJoin);
          WaitOutcome o = WaitOutcome::kPending;
          while (o == WaitOutcome::kPending) o = b.slot->WaitFor(1ms);
          EXPECT_EQ(o, WaitOutcome::kValue);
        }
        // Only now can this thread's own flight end.
        s.Finish(*leads[t], FlightState::kDone, Bytes("v"));
      });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(refused.load(), 1) << "round " << round;
  }
  EXPECT_EQ(SyncWaits::Global().size(), 0u);
}

TEST(Flights, InvalidationDetachesButJoinedCallersStillGetTheValue) {
  Shard s;
  auto a = Env(), b = Env();
  auto lead = s.Call("k", {a}, 100);
  auto j = s.Call("k", {b}, 1);
  s.Invalidate("k");
  EXPECT_FALSE(lead.flight->attached);
  EXPECT_TRUE(lead.flight->invalidated);
  EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kInvalidated));
  std::vector<uint64_t> got;
  a->Drain(&got);
  EXPECT_EQ(got, (std::vector<uint64_t>{100})) << "the leader is told (ctx.signal)";
  // A caller after the write starts a new flight.
  auto lead2 = s.Call("k", {b});
  EXPECT_EQ(lead2.step, JoinStep::kLead);
  EXPECT_EQ(s.Counters().running, 2u);
  EXPECT_TRUE(s.Finish(*lead.flight, FlightState::kDone, Bytes("old")));
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kValue);
  EXPECT_EQ(j.slot->result()->bytes, "old");
  EXPECT_TRUE(lead2.flight->attached) << "finishing the detached flight must leave the new one alone";
  s.Invalidate("nothing-runs-here");  // a write with no flight: nothing happens
  EXPECT_EQ(s.table.size(), 1u);
}

TEST(Flights, LostLeaderMakesWaitersRetryAndItsLateResultIsDiscarded) {
  Shard s;
  auto a = Env(), b = Env();
  auto lead = s.Call("k", {a}, 100);
  auto j1 = s.Call("k", {b}, 1);
  auto j2 = s.Call("k", {b}, 2);
  EXPECT_TRUE(s.Lose(*lead.flight));
  EXPECT_EQ(j1.slot->outcome(), WaitOutcome::kRetry);
  EXPECT_EQ(j2.slot->outcome(), WaitOutcome::kRetry);
  EXPECT_EQ(lead.flight->leader_view.load(), static_cast<uint8_t>(LeaderView::kLost));
  EXPECT_EQ(s.Counters().leaders_lost, 1u);
  // The retrying callers: one leads, the other joins.
  auto r1 = s.Call("k", {b});
  auto r2 = s.Call("k", {b}, 3);
  EXPECT_EQ(r1.step, JoinStep::kLead);
  EXPECT_EQ(r2.step, JoinStep::kJoin);
  // The old leader comes back late: refused (fencing), nobody gets it.
  EXPECT_FALSE(s.Finish(*lead.flight, FlightState::kDone, Bytes("late")));
  EXPECT_FALSE(s.Lose(*lead.flight));
  EXPECT_EQ(r2.slot->outcome(), WaitOutcome::kPending);
  EXPECT_TRUE(r1.flight->attached);
  EXPECT_TRUE(s.Finish(*r1.flight, FlightState::kDone, Bytes("new")));
  EXPECT_EQ(r2.slot->result()->bytes, "new");
}

TEST(Flights, ExpiredLeaseIsTakenOverByTheNextCallerOrAWaiter) {
  Shard s;
  auto a = Env(), b = Env();
  // Leases long enough for the joins to come first even under a sanitizer
  // on a loaded machine.
  ComputeCaller short_lease{a, false, 300'000'000};  // 300 ms
  auto lead = s.Call("k", short_lease);
  auto j = s.Call("k", {b}, 1);
  ASSERT_EQ(j.step, JoinStep::kJoin);
  s.CheckLease(*j.slot);
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kPending) << "the lease has not passed yet";
  std::this_thread::sleep_for(400ms);
  // A new caller finds the lease passed: the flight is lost, it leads.
  auto next = s.Call("k", {b});
  EXPECT_EQ(next.step, JoinStep::kLead);
  EXPECT_EQ(j.slot->outcome(), WaitOutcome::kRetry);
  EXPECT_FALSE(s.Finish(*lead.flight, FlightState::kDone, Bytes("late")));
  // A waiter that checks the lease itself.
  ComputeCaller short2{b, false, 300'000'000};
  auto lead2 = s.Call("k2", short2);
  auto j2 = s.Call("k2", {a}, 2);
  ASSERT_EQ(j2.step, JoinStep::kJoin);
  std::this_thread::sleep_for(400ms);
  s.CheckLease(*j2.slot);
  EXPECT_EQ(j2.slot->outcome(), WaitOutcome::kRetry);
  EXPECT_EQ(s.Counters().leaders_lost, 2u);
}

TEST(Flights, CancelDetachesOnlyThatCaller) {
  Shard s;
  auto e = Env();
  auto lead = s.Call("k", {e});
  auto j1 = s.Call("k", {e}, 1);
  auto j2 = s.Call("k", {e}, 2);
  EXPECT_TRUE(s.Cancel(*j1.slot, true));
  EXPECT_EQ(lead.flight->waiters.size(), 1u);
  EXPECT_EQ(s.Counters().timeouts, 1u);
  EXPECT_TRUE(s.Finish(*lead.flight, FlightState::kDone, Bytes("v")));
  EXPECT_EQ(j1.slot->outcome(), WaitOutcome::kCancelled);
  EXPECT_EQ(j2.slot->outcome(), WaitOutcome::kValue);
  EXPECT_FALSE(s.Cancel(*j2.slot, true)) << "too late to cancel: the value is there";
  EXPECT_EQ(s.Counters().timeouts, 1u);
}

TEST(Flights, TableGrowsShrinksAndFindsEveryKey) {
  Shard s;
  auto e = Env();
  std::vector<std::shared_ptr<Flight>> flights;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    auto b = s.Call(Cat("k", i), {e}, 0, static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull);
    ASSERT_EQ(b.step, JoinStep::kLead);
    flights.push_back(b.flight);
  }
  EXPECT_EQ(s.table.size(), static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    EXPECT_EQ(s.table.Find(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull, Cat("k", i)), flights[i].get());
  }
  for (int i = 0; i < n; i += 2) s.Finish(*flights[i], FlightState::kDone, nullptr);
  for (int i = 1; i < n; i += 2) {
    EXPECT_EQ(s.table.Find(static_cast<uint64_t>(i) * 0x9E3779B97F4A7C15ull, Cat("k", i)), flights[i].get());
  }
  for (int i = 1; i < n; i += 2) s.Finish(*flights[i], FlightState::kDone, nullptr);
  EXPECT_EQ(s.table.size(), 0u);
  EXPECT_EQ(s.table.bucket_bytes(), 0u);
  EXPECT_EQ(s.Counters().running, 0u);
}

TEST(Flights, AllStepsOnManyFlights) {
  Shard s;
  auto e = Env();
  auto a = s.Call("a", {e});
  auto b = s.Call("b", {e}, 0, 43);
  auto ja = s.Call("a", {e}, 1);
  auto jb = s.Call("b", {e}, 2, 43);
  {
    FlightWork after;
    std::lock_guard lock(s.mu);
    InvalidateAllLocked(s.table, &after);
  }
  EXPECT_EQ(s.table.size(), 0u);
  EXPECT_TRUE(a.flight->invalidated && b.flight->invalidated);
  auto c = s.Call("c", {e});
  auto jc = s.Call("c", {e}, 3);
  {
    FlightWork after;
    std::lock_guard lock(s.mu);
    LoseAllLocked(s.table, &after);
  }
  EXPECT_EQ(jc.slot->outcome(), WaitOutcome::kRetry);
  EXPECT_EQ(ja.slot->outcome(), WaitOutcome::kPending) << "detached flights are not the table's to lose";
  EXPECT_TRUE(s.Finish(*a.flight, FlightState::kDone, Bytes("a")));
  EXPECT_TRUE(s.Finish(*b.flight, FlightState::kFailed, Bytes("b")));
  EXPECT_EQ(ja.slot->outcome(), WaitOutcome::kValue);
  EXPECT_EQ(jb.slot->outcome(), WaitOutcome::kError);
  EXPECT_EQ(s.Counters().running, 0u);
}

// Many threads call for the same few keys at once; each flight's leader
// finishes (value, error) or is lost after a random delay; waiters time
// out now and then. Every caller ends with exactly one outcome; each flight
// generation has exactly one leader; a waiter's value is its leader's.
TEST(FlightsStress, EveryCallerSettlesAndEachGenerationHasOneLeader) {
  Shard s;
  const int kThreads = 4;
  const int kCalls = static_cast<int>(Scaled(4000, 200));
  std::atomic<int> failures{0};
  std::atomic<uint64_t> leads{0}, values{0}, errors{0}, retries{0}, cancels{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto env = Env();
      uint64_t rng = 0x12345u + static_cast<uint64_t>(t);
      auto next = [&] {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        return rng;
      };
      for (int i = 0; i < kCalls; ++i) {
        const std::string key = Cat("k", next() % 3);
        for (;;) {
          auto b = s.Call(key, {env, (next() & 1) != 0}, 1 + static_cast<uint64_t>(i));
          if (b.step == JoinStep::kRecursive) {
            failures.fetch_add(1);  // no thread leads while it also waits here
            break;
          }
          if (b.step == JoinStep::kLead) {
            leads.fetch_add(1);
            if (next() % 4 == 0) std::this_thread::yield();
            const std::string v = Cat("v", b.flight->id);
            const uint64_t r = next() % 10;
            if (r < 7)
              s.Finish(*b.flight, FlightState::kDone, Bytes(v));
            else if (r < 9)
              s.Finish(*b.flight, FlightState::kFailed, Bytes(v));
            else
              s.Lose(*b.flight);
            break;
          }
          // Joined.
          const uint64_t expect_id = b.joined_id;
          WaitOutcome o = WaitOutcome::kPending;
          for (int slice = 0; o == WaitOutcome::kPending; ++slice) {
            o = b.slot->WaitFor(1ms);
            if (o == WaitOutcome::kPending && next() % 50 == 0 && s.Cancel(*b.slot, true)) o = WaitOutcome::kCancelled;
          }
          if (o == WaitOutcome::kValue || o == WaitOutcome::kError) {
            (o == WaitOutcome::kValue ? values : errors).fetch_add(1);
            if (b.slot->result()->bytes != Cat("v", expect_id)) failures.fetch_add(1);
            break;
          }
          if (o == WaitOutcome::kCancelled) {
            cancels.fetch_add(1);
            break;
          }
          retries.fetch_add(1);  // kRetry: call again
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  const FlightCounters c = s.Counters();
  EXPECT_EQ(c.running, 0u);
  EXPECT_EQ(c.loads, leads.load());
  EXPECT_EQ(s.table.size(), 0u);
  EXPECT_EQ(values + errors + cancels + leads, static_cast<uint64_t>(kThreads) * kCalls);
  EXPECT_GE(c.leaders_lost, 1u);
  EXPECT_GE(c.joined, values + errors);
}

}  // namespace
}  // namespace threadkv
