// CRC32C (Castagnoli polynomial 0x1EDC6F41, reflected 0x82F63B78), the
// checksum of every snapshot header, block and trailer (the same CRC as
// iSCSI, ext4 metadata, LevelDB and RocksDB blocks).
//
// The implementation is chosen once, at run time, from what the CPU has:
// the SSE4.2 crc32 instruction on x86-64, the ARMv8 CRC32 extension on
// arm64, else a portable table-driven one (slicing by 8). All give the same
// result; Crc32cPortable is always available, so tests can compare them.
#pragma once

#include <cstddef>
#include <cstdint>

namespace threadkv::snapshot {

// The CRC32C of `n` bytes at `data`, continuing from `crc` (the CRC of the
// bytes before them; 0 to start): Crc32c(b, Crc32c(a)) == Crc32c(a + b).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);

// The portable implementation, whatever the CPU has.
uint32_t Crc32cPortable(const void* data, size_t n, uint32_t crc = 0);

// The hardware implementation when the CPU has one (else the portable one);
// `*used` (if given) tells which.
uint32_t Crc32cHardware(const void* data, size_t n, uint32_t crc = 0, bool* used = nullptr);

// Which implementation Crc32c uses: "sse4.2", "armv8-crc" or "portable".
const char* Crc32cImplementation();

}  // namespace threadkv::snapshot
