// Key hashing: one 64-bit hash per call, computed by the binding before any
// lock is taken. The store picks the shard from the high bits and the table
// slot from the low bits, so both come from one hash.
//
// The function is a multiply-fold hash in the style of wyhash: 16 bytes are
// folded per 64x64->128 multiplication, keyed by a per-process random seed so
// that key sets that collide are not predictable across processes. It is not a
// cryptographic MAC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace threadkv {

namespace hash_detail {

inline uint64_t Fold(uint64_t a, uint64_t b) {
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  return static_cast<uint64_t>(r) ^ static_cast<uint64_t>(r >> 64);
}

inline uint64_t Read64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

inline uint64_t Read32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

constexpr uint64_t kP0 = 0xa0761d6478bd642fULL;
constexpr uint64_t kP1 = 0xe7037ed1a0b428dbULL;
constexpr uint64_t kP2 = 0x8ebc6af09c88c6e3ULL;
constexpr uint64_t kP3 = 0x589965cc75374cc3ULL;

}  // namespace hash_detail

// The per-process seed (random, fixed at first use).
uint64_t HashSeed();

inline uint64_t HashBytes(const void* data, size_t len, uint64_t seed) {
  using namespace hash_detail;
  const auto* p = static_cast<const unsigned char*>(data);
  uint64_t a;
  uint64_t b;
  seed ^= Fold(seed ^ kP0, kP1);
  if (len <= 16) {
    if (len >= 4) {
      const size_t q = (len >> 3) << 2;
      a = (Read32(p) << 32) | Read32(p + q);
      b = (Read32(p + len - 4) << 32) | Read32(p + len - 4 - q);
    } else if (len > 0) {
      a = (static_cast<uint64_t>(p[0]) << 16) | (static_cast<uint64_t>(p[len >> 1]) << 8) | p[len - 1];
      b = 0;
    } else {
      a = b = 0;
    }
  } else {
    size_t i = len;
    uint64_t see1 = seed;
    uint64_t see2 = seed;
    while (i > 48) {
      seed = Fold(Read64(p) ^ kP1, Read64(p + 8) ^ seed);
      see1 = Fold(Read64(p + 16) ^ kP2, Read64(p + 24) ^ see1);
      see2 = Fold(Read64(p + 32) ^ kP3, Read64(p + 40) ^ see2);
      p += 48;
      i -= 48;
    }
    seed ^= see1 ^ see2;
    while (i > 16) {
      seed = Fold(Read64(p) ^ kP1, Read64(p + 8) ^ seed);
      p += 16;
      i -= 16;
    }
    a = Read64(p + i - 16);
    b = Read64(p + i - 8);
  }
  a ^= kP1;
  b ^= seed;
  const __uint128_t r = static_cast<__uint128_t>(a) * b;
  a = static_cast<uint64_t>(r);
  b = static_cast<uint64_t>(r >> 64);
  return Fold(a ^ kP0 ^ len, b ^ kP1);
}

inline uint64_t HashKey(const void* data, size_t len) { return HashBytes(data, len, HashSeed()); }

}  // namespace threadkv
