// Creation options of a store. Validation and defaults live in TypeScript
// (lib/options.ts); the core only keeps them so that every thread opening the
// same name sees the same options, and compares them under the registry lock.
#pragma once

#include <cstdint>

namespace threadkv {

// The value codec is applied in JS; the core records it so that every handle
// on a store decodes the same way.
enum class Codec : uint8_t { kV8 = 0, kJson = 1, kString = 2, kBuffer = 3 };

// What a write past a capacity limit does: kNone refuses it (nothing
// changes); kSieve evicts entries of the same shard first (SIEVE, NSDI '24).
enum class EvictionPolicy : uint8_t { kNone = 0, kSieve = 1 };

struct Options {
  Codec codec = Codec::kV8;
  uint32_t shards = 64;  // a power of two in [1, 65536]
  uint32_t max_key_bytes = 64u << 10;
  uint32_t max_value_bytes = 64u << 20;
  // Capacity limits of the whole store; 0 is "no limit". Each shard gets
  // ceil(limit / shards) of it (Budget, eviction.h).
  uint64_t max_entries = 0;
  uint64_t max_bytes = 0;
  EvictionPolicy eviction = EvictionPolicy::kNone;
  // Time to live given to every write that does not give its own, in
  // milliseconds; 0 for none.
  uint64_t ttl_ms = 0;
};

// One bit per option, to say which options an open() call gave explicitly.
enum OptionBit : uint32_t {
  kOptCodec = 1u << 0,
  kOptShards = 1u << 1,
  kOptMaxKeyBytes = 1u << 2,
  kOptMaxValueBytes = 1u << 3,
  kOptMaxEntries = 1u << 4,
  kOptMaxBytes = 1u << 5,
  kOptEvictionPolicy = 1u << 6,
  kOptTtlMs = 1u << 7,
};

}  // namespace threadkv
