// getOrCompute's flights of one store, attached to the store's hook seam
// (StoreHook, shard.h). A store installs its FlightHook on its first
// getOrCompute (Store::Flights), so a store that never computes pays
// nothing; afterwards a write pays one look at its shard's FlightTable
// (empty while no flight runs there).
//
// Invalidation: a write to a key while its flight runs invalidates that
// flight (flights.h), under the key's shard write lock, in the write's
// place in the shard's order:
//  - OnChange(kSet): every write that links a value (set, put, setMany, swap,
//    update, increment, the compound operations, another getOrCompute...);
//  - OnChange(kDeleted) and OnAbsent: a delete or take of the key, present
//    or not;
//  - OnClear: clear() invalidates every flight; destroy() loses them (their
//    waiters retry and meet the destroyed store).
// Evictions and expirations do not invalidate: they are not writes of the
// key. What a step leaves for after the lock (resolving slots, notifying
// leaders) goes into a per-thread FlightWork, run by AfterLock() once the
// writer's locks are released.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>

#include "flights.h"
#include "shard.h"

namespace threadkv {

class FlightHook final : public StoreHook {
 public:
  // Told of kSet, kDeleted and absent keys (interests(), see above).
  explicit FlightHook(const Shards& shards)
      : StoreHook(Wants(Change::kSet) | Wants(Change::kDeleted) | kAbsent),
        shards_(shards),
        tables_(new FlightTable[shards.count()]) {}

  // Shard `shard`'s running flights: under that shard's write lock.
  FlightTable& table(uint32_t shard) { return tables_[shard]; }
  const FlightTable& table(uint32_t shard) const { return tables_[shard]; }

  uint8_t OnChange(uint32_t shard, Change change, const Entry& e) noexcept override;
  uint8_t OnAbsent(uint32_t shard, uint64_t hash, std::string_view key) noexcept override;
  uint8_t OnClear(bool destroy) noexcept override;
  void AfterLock() noexcept override;

 private:
  uint8_t Invalidate(uint32_t shard, uint64_t hash, std::string_view key) noexcept;

  const Shards& shards_;
  const std::unique_ptr<FlightTable[]> tables_;
};

}  // namespace threadkv
