// The one process-wide global: the map from store names to stores, and the
// background sweeper that reclaims their expired entries. Every thread
// (every Node environment) that loads the addon reaches the same Registry,
// so the same name gives the same Store everywhere.
//
// The Registry is allocated once and never freed: worker threads may still be
// running while the process runs static destructors, so nothing here may be
// torn down at exit. Stores are reference counted (std::shared_ptr): the
// registry holds one reference until Destroy(), and every handle holds one,
// so a handle used after Destroy() still points at valid (dead) memory.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "options.h"
#include "store.h"
#include "sweeper.h"

namespace threadkv {

struct OpenResult {
  std::shared_ptr<Store> store;  // null when the options did not match
  uint32_t mismatch = 0;         // the OptionBit that differed, when store is null
  Options existing;              // the existing store's options, on a mismatch
  bool created = false;
};

class Registry {
 public:
  static Registry& Instance();

  // Returns the store named `name`, creating it with `options` if it does not
  // exist. If it exists, every option whose bit is set in `specified` must
  // equal the store's; otherwise nothing is returned and `mismatch` names the
  // first that differs. Create-or-attach is atomic: racing opens of a new
  // name create exactly one store.
  OpenResult Open(std::string_view name, const Options& options, uint32_t specified);

  // Removes the store from the registry and kills it (every handle then gets
  // kDestroyed). Returns false if no store had that name.
  bool Destroy(std::string_view name);

  std::vector<std::string> Names() const;

 private:
  Registry() = default;

  // One pass of the sweeper over every live store with work due.
  void SweepPass();
  // The earliest time at which some live store has work (Store::NextDue).
  int64_t NextDue() const;

  mutable std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<Store>> stores_;
  // Woken by the stores this registry creates (their StoreHost's waker).
  Sweeper sweeper_{[this] { SweepPass(); }, [this] { return NextDue(); }};
};

}  // namespace threadkv
