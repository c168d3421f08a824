#include "registry.h"

#include <algorithm>
#include <limits>
#include <utility>

namespace threadkv {

Registry& Registry::Instance() {
  // Leaked on purpose (see the header): never destroyed at exit.
  static Registry* const instance = new Registry();
  return *instance;
}

namespace {

uint32_t FirstMismatch(const Options& have, const Options& want, uint32_t specified) {
  if ((specified & kOptCodec) && have.codec != want.codec) return kOptCodec;
  if ((specified & kOptShards) && have.shards != want.shards) return kOptShards;
  if ((specified & kOptMaxKeyBytes) && have.max_key_bytes != want.max_key_bytes) return kOptMaxKeyBytes;
  if ((specified & kOptMaxValueBytes) && have.max_value_bytes != want.max_value_bytes) return kOptMaxValueBytes;
  if ((specified & kOptMaxEntries) && have.max_entries != want.max_entries) return kOptMaxEntries;
  if ((specified & kOptMaxBytes) && have.max_bytes != want.max_bytes) return kOptMaxBytes;
  if ((specified & kOptEvictionPolicy) && have.eviction != want.eviction) return kOptEvictionPolicy;
  if ((specified & kOptTtlMs) && have.ttl_ms != want.ttl_ms) return kOptTtlMs;
  return 0;
}

}  // namespace

OpenResult Registry::Open(std::string_view name, const Options& options, uint32_t specified) {
  std::lock_guard lock(mu_);
  std::string key(name);
  auto it = stores_.find(key);
  OpenResult r;
  if (it != stores_.end()) {
    r.mismatch = FirstMismatch(it->second->options(), options, specified);
    if (r.mismatch == 0)
      r.store = it->second;
    else
      r.existing = it->second->options();
    return r;
  }
  r.store = std::make_shared<Store>(key, options, StoreHost{.clock = nullptr, .waker = &sweeper_});
  stores_.emplace(std::move(key), r.store);
  r.created = true;
  return r;
}

bool Registry::Destroy(std::string_view name) {
  std::vector<Table> drained;  // freed last, outside every lock
  std::shared_ptr<Store> victim;
  {
    std::lock_guard lock(mu_);
    auto it = stores_.find(std::string(name));
    if (it == stores_.end()) return false;
    // Killed under the registry lock: destroy is one atomic step, so no
    // open() of the same name can run between removal and death and see two
    // live stores with one name.
    it->second->Kill(&drained);
    victim = std::move(it->second);
    stores_.erase(it);
  }
  return true;
}

void Registry::SweepPass() {
  std::vector<std::shared_ptr<Store>> stores;
  {
    std::lock_guard lock(mu_);
    stores.reserve(stores_.size());
    for (const auto& [name, store] : stores_)
      if (store->has_ttl()) stores.push_back(store);
  }
  // The registry's stores use the steady clock (Open).
  const int64_t now = SteadyNowNs();
  for (const std::shared_ptr<Store>& store : stores)
    if (store->NextDue() <= now) (void)store->SweepExpired(kSweepBudget);
}

int64_t Registry::NextDue() const {
  std::lock_guard lock(mu_);
  int64_t next = std::numeric_limits<int64_t>::max();
  for (const auto& [name, store] : stores_) next = std::min(next, store->NextDue());
  return next;
}

std::vector<std::string> Registry::Names() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> names;
  names.reserve(stores_.size());
  for (const auto& [name, store] : stores_) names.push_back(name);
  return names;
}

}  // namespace threadkv
