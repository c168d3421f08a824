// Registry: the process-wide map from names to stores. ctest runs each test in
// its own process, but the binary can also run them all in one, so every test
// uses names of its own.
#include "core/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"

namespace threadkv {
namespace {

using testing::Cat;

using testing::GetString;
using testing::PutString;
using testing::SizesOf;

constexpr uint32_t kAllOptions = kOptCodec | kOptShards | kOptMaxKeyBytes | kOptMaxValueBytes;

Options Opts(Codec codec, uint32_t shards, uint32_t max_key, uint32_t max_value) {
  Options o;
  o.codec = codec;
  o.shards = shards;
  o.max_key_bytes = max_key;
  o.max_value_bytes = max_value;
  return o;
}

bool SameOptions(const Options& a, const Options& b) {
  return a.codec == b.codec && a.shards == b.shards && a.max_key_bytes == b.max_key_bytes &&
         a.max_value_bytes == b.max_value_bytes;
}

bool HasName(const std::string& name) {
  const auto names = Registry::Instance().Names();
  return std::find(names.begin(), names.end(), name) != names.end();
}

TEST(Registry, InstanceIsOnePerProcess) {
  Registry* main_thread = &Registry::Instance();
  Registry* other = nullptr;
  std::thread([&] { other = &Registry::Instance(); }).join();
  EXPECT_EQ(main_thread, other);
}

TEST(Registry, OpenCreatesOnceThenAttaches) {
  Registry& r = Registry::Instance();
  const Options o = Opts(Codec::kJson, 4, 100, 1000);
  OpenResult first = r.Open("reg-create-once", o, kAllOptions);
  ASSERT_NE(first.store, nullptr);
  EXPECT_TRUE(first.created);
  EXPECT_EQ(first.mismatch, 0u);
  EXPECT_EQ(first.store->name(), "reg-create-once");
  EXPECT_TRUE(SameOptions(first.store->options(), o));
  EXPECT_EQ(first.store->shard_count(), 4u);

  OpenResult second = r.Open("reg-create-once", o, kAllOptions);
  EXPECT_EQ(second.store, first.store);
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.mismatch, 0u);

  // The same store: a write through one handle is seen through the other.
  ASSERT_EQ(PutString(*first.store, "k", "v"), Status::kOk);
  std::string v;
  EXPECT_EQ(GetString(*second.store, "k", &v), Status::kOk);
  EXPECT_EQ(v, "v");
  EXPECT_TRUE(r.Destroy("reg-create-once"));
}

TEST(Registry, AttachWithNoOptionsSpecified) {
  Registry& r = Registry::Instance();
  const Options o = Opts(Codec::kString, 2, 10, 20);
  OpenResult a = r.Open("reg-attach", o, kAllOptions);
  ASSERT_TRUE(a.created);
  // Every option differs, none is specified: attaches, keeps the original.
  OpenResult b = r.Open("reg-attach", Opts(Codec::kBuffer, 16, 11, 21), 0);
  EXPECT_EQ(b.store, a.store);
  EXPECT_FALSE(b.created);
  EXPECT_EQ(b.mismatch, 0u);
  EXPECT_TRUE(SameOptions(b.store->options(), o));
  // Specified and equal, unspecified and different: attaches too.
  OpenResult c = r.Open("reg-attach", Opts(Codec::kString, 99, 10, 99), kOptCodec | kOptMaxKeyBytes);
  EXPECT_EQ(c.store, a.store);
  EXPECT_TRUE(r.Destroy("reg-attach"));
}

TEST(Registry, MismatchReturnsTheOptionBitAndExistingOptions) {
  Registry& r = Registry::Instance();
  const Options o = Opts(Codec::kJson, 8, 100, 1000);
  ASSERT_TRUE(r.Open("reg-mismatch", o, kAllOptions).created);
  struct Case {
    Options want;
    uint32_t specified;
    uint32_t mismatch;
  };
  const Case cases[] = {
      {Opts(Codec::kV8, 8, 100, 1000), kOptCodec, kOptCodec},
      {Opts(Codec::kJson, 16, 100, 1000), kOptShards, kOptShards},
      {Opts(Codec::kJson, 8, 101, 1000), kOptMaxKeyBytes, kOptMaxKeyBytes},
      {Opts(Codec::kJson, 8, 100, 999), kOptMaxValueBytes, kOptMaxValueBytes},
      {Opts(Codec::kJson, 8, 100, 999), kAllOptions, kOptMaxValueBytes},
      // Several differ: the first in the order codec, shards, key, value.
      {Opts(Codec::kV8, 16, 1, 1), kAllOptions, kOptCodec},
      {Opts(Codec::kV8, 16, 1, 1), kAllOptions & ~kOptCodec, kOptShards},
      {Opts(Codec::kV8, 16, 1, 1), kOptMaxKeyBytes | kOptMaxValueBytes, kOptMaxKeyBytes},
  };
  for (const auto& c : cases) {
    OpenResult m = r.Open("reg-mismatch", c.want, c.specified);
    EXPECT_EQ(m.store, nullptr);
    EXPECT_FALSE(m.created);
    EXPECT_EQ(m.mismatch, c.mismatch) << "specified " << c.specified;
    EXPECT_TRUE(SameOptions(m.existing, o));
  }
  // A mismatch changes nothing: the store is still there, unchanged.
  OpenResult again = r.Open("reg-mismatch", Options{}, 0);
  ASSERT_NE(again.store, nullptr);
  EXPECT_TRUE(SameOptions(again.store->options(), o));
  EXPECT_TRUE(r.Destroy("reg-mismatch"));
}

TEST(Registry, DestroyThenReopenGivesAFreshEmptyStore) {
  Registry& r = Registry::Instance();
  OpenResult a = r.Open("reg-reopen", Opts(Codec::kV8, 4, 100, 100), kAllOptions);
  ASSERT_TRUE(a.created);
  for (int i = 0; i < 50; ++i) ASSERT_EQ(PutString(*a.store, Cat("k", i), "v"), Status::kOk);
  EXPECT_TRUE(HasName("reg-reopen"));

  EXPECT_TRUE(r.Destroy("reg-reopen"));
  EXPECT_FALSE(HasName("reg-reopen"));
  EXPECT_FALSE(r.Destroy("reg-reopen"));  // already gone
  // The old handle stays valid memory, and dead.
  EXPECT_EQ(PutString(*a.store, "k1", "v"), Status::kDestroyed);
  EXPECT_EQ(GetString(*a.store, "k1", nullptr), Status::kDestroyed);
  StoreSizes sizes;
  EXPECT_EQ(a.store->Sizes(&sizes), Status::kDestroyed);

  // Reopening creates a new, empty store, with the new options.
  OpenResult b = r.Open("reg-reopen", Opts(Codec::kJson, 2, 5, 5), kAllOptions);
  ASSERT_NE(b.store, nullptr);
  EXPECT_TRUE(b.created);
  EXPECT_NE(b.store, a.store);
  EXPECT_EQ(SizesOf(*b.store).entries, 0u);
  EXPECT_EQ(GetString(*b.store, "k1", nullptr), Status::kNotFound);
  EXPECT_EQ(b.store->options().codec, Codec::kJson);
  EXPECT_EQ(b.store->shard_count(), 2u);
  // The old handle does not come back to life.
  EXPECT_EQ(GetString(*a.store, "k1", nullptr), Status::kDestroyed);
  EXPECT_TRUE(r.Destroy("reg-reopen"));
}

TEST(Registry, DestroyUnknownNameReturnsFalse) { EXPECT_FALSE(Registry::Instance().Destroy("reg-never-opened")); }

TEST(Registry, StoreOutlivesDestroyWhileAHandleHoldsIt) {
  std::shared_ptr<Store> handle = Registry::Instance().Open("reg-outlive", testing::SmallOptions(), 0).store;
  ASSERT_NE(handle, nullptr);
  std::weak_ptr<Store> weak = handle;
  ASSERT_EQ(PutString(*handle, "k", "v"), Status::kOk);
  EXPECT_TRUE(Registry::Instance().Destroy("reg-outlive"));
  EXPECT_FALSE(weak.expired());  // the handle keeps it
  EXPECT_EQ(handle.use_count(), 1);
  handle.reset();
  EXPECT_TRUE(weak.expired());  // the registry did not keep a reference
}

TEST(Registry, Names) {
  Registry& r = Registry::Instance();
  const std::vector<std::string> mine = {"reg-names-a", "reg-names-b", std::string("reg-names-\0c", 12), ""};
  for (const auto& n : mine) ASSERT_TRUE(r.Open(n, testing::SmallOptions(2), 0).created) << n;
  auto names = r.Names();
  for (const auto& n : mine) EXPECT_EQ(std::count(names.begin(), names.end(), n), 1) << n;
  // A name is distinct from its prefix before a NUL.
  EXPECT_EQ(std::count(names.begin(), names.end(), "reg-names-"), 0);
  EXPECT_TRUE(r.Destroy("reg-names-b"));
  names = r.Names();
  EXPECT_EQ(std::count(names.begin(), names.end(), "reg-names-b"), 0);
  EXPECT_EQ(std::count(names.begin(), names.end(), "reg-names-a"), 1);
  for (const auto& n : {mine[0], mine[2], mine[3]}) EXPECT_TRUE(r.Destroy(n));
  names = r.Names();
  for (const auto& n : mine) EXPECT_EQ(std::count(names.begin(), names.end(), n), 0) << n;
}

}  // namespace
}  // namespace threadkv
