#include "crc32c.h"

#include <array>
#include <cstring>

#if (defined(__x86_64__) || defined(__i386__)) && (defined(__GNUC__) || defined(__clang__))
#define THREADKV_CRC32C_X86 1
#include <nmmintrin.h>
#elif defined(__aarch64__) && (defined(__GNUC__) || defined(__clang__))
#define THREADKV_CRC32C_ARM64 1
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#endif
#endif

namespace threadkv::snapshot {

namespace {

constexpr uint32_t kPoly = 0x82F63B78u;  // reflected 0x1EDC6F41

// Slicing-by-8 tables: kTables[0] is the classic byte-at-a-time table;
// kTables[k][b] is the CRC of byte b followed by k zero bytes.
constexpr std::array<std::array<uint32_t, 256>, 8> MakeTables() {
  std::array<std::array<uint32_t, 256>, 8> t{};
  for (uint32_t b = 0; b < 256; ++b) {
    uint32_t c = b;
    for (int i = 0; i < 8; ++i) c = (c & 1) != 0 ? (c >> 1) ^ kPoly : c >> 1;
    t[0][b] = c;
  }
  for (uint32_t b = 0; b < 256; ++b)
    for (size_t k = 1; k < 8; ++k) t[k][b] = (t[k - 1][b] >> 8) ^ t[0][t[k - 1][b] & 0xFF];
  return t;
}
constexpr auto kTables = MakeTables();

uint32_t Portable(const uint8_t* p, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  while (n >= 8) {
    uint32_t lo;
    uint32_t hi;
    std::memcpy(&lo, p, 4);
    std::memcpy(&hi, p + 4, 4);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    lo = __builtin_bswap32(lo);
    hi = __builtin_bswap32(hi);
#endif
    lo ^= c;
    c = kTables[7][lo & 0xFF] ^ kTables[6][(lo >> 8) & 0xFF] ^ kTables[5][(lo >> 16) & 0xFF] ^ kTables[4][lo >> 24] ^
        kTables[3][hi & 0xFF] ^ kTables[2][(hi >> 8) & 0xFF] ^ kTables[1][(hi >> 16) & 0xFF] ^ kTables[0][hi >> 24];
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = (c >> 8) ^ kTables[0][(c ^ *p++) & 0xFF];
  return ~c;
}

using Impl = uint32_t (*)(const uint8_t*, size_t, uint32_t);

#if defined(THREADKV_CRC32C_X86)

__attribute__((target("sse4.2"))) uint32_t Hardware(const uint8_t* p, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = _mm_crc32_u8(c, *p++);
    --n;
  }
#if defined(__x86_64__)
  uint64_t c64 = c;
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c64 = _mm_crc32_u64(c64, v);
    p += 8;
    n -= 8;
  }
  c = static_cast<uint32_t>(c64);
#endif
  while (n >= 4) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    c = _mm_crc32_u32(c, v);
    p += 4;
    n -= 4;
  }
  while (n-- > 0) c = _mm_crc32_u8(c, *p++);
  return ~c;
}

bool HasHardware() { return __builtin_cpu_supports("sse4.2") != 0; }
constexpr const char* kHardwareName = "sse4.2";

#elif defined(THREADKV_CRC32C_ARM64)

#if defined(__clang__)
#define THREADKV_TARGET_CRC __attribute__((target("crc")))
#else
#define THREADKV_TARGET_CRC __attribute__((target("+crc")))
#endif

THREADKV_TARGET_CRC uint32_t Hardware(const uint8_t* p, size_t n, uint32_t crc) {
  uint32_t c = ~crc;
  while (n > 0 && (reinterpret_cast<uintptr_t>(p) & 7) != 0) {
    c = __crc32cb(c, *p++);
    --n;
  }
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    c = __crc32cd(c, v);
    p += 8;
    n -= 8;
  }
  while (n-- > 0) c = __crc32cb(c, *p++);
  return ~c;
}

bool HasHardware() {
#if defined(__APPLE__)
  return true;  // every Apple arm64 CPU has the CRC32 extension
#elif defined(__linux__)
  constexpr unsigned long kHwcapCrc32 = 1ul << 7;  // HWCAP_CRC32 (asm/hwcap.h)
  return (getauxval(AT_HWCAP) & kHwcapCrc32) != 0;
#else
  return false;
#endif
}
constexpr const char* kHardwareName = "armv8-crc";

#else

uint32_t Hardware(const uint8_t* p, size_t n, uint32_t crc) { return Portable(p, n, crc); }
bool HasHardware() { return false; }
constexpr const char* kHardwareName = "portable";

#endif

struct Choice {
  Impl impl;
  const char* name;
};

const Choice& Chosen() {
  static const Choice choice = HasHardware() ? Choice{&Hardware, kHardwareName} : Choice{&Portable, "portable"};
  return choice;
}

}  // namespace

uint32_t Crc32c(const void* data, size_t n, uint32_t crc) {
  return Chosen().impl(static_cast<const uint8_t*>(data), n, crc);
}

uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc) {
  return Portable(static_cast<const uint8_t*>(data), n, crc);
}

uint32_t Crc32cHardware(const void* data, size_t n, uint32_t crc, bool* used) {
  const bool has = HasHardware();
  if (used != nullptr) *used = has;
  return has ? Hardware(static_cast<const uint8_t*>(data), n, crc)
             : Portable(static_cast<const uint8_t*>(data), n, crc);
}

const char* Crc32cImplementation() { return Chosen().name; }

}  // namespace threadkv::snapshot
