// Shared pieces of the fuzz harnesses (native/fuzz): the input reader, the
// failure type, and the fixed hash seed.
//
// Plain C++20 (no clang-only header): the harnesses are also built by GCC,
// into the regression replay test that `npm run test:native` runs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace threadkv::fuzz {

// The hash seed of every fuzz and replay binary (fixed_hash_seed.cc replaces
// the core's random per-process HashSeed()), so that a recorded input takes
// the same path through shards and probe sequences on every run.
inline constexpr uint64_t kFuzzHashSeed = 0x7468726561646b76ULL;  // "threadkv"

// Reads the fuzz input front to back. Past the end every read gives zeros, so
// that any input, however short, decodes to something; done() says when the
// bytes are used up (the harnesses stop there).
class Reader {
 public:
  Reader(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}

  bool done() const { return p_ >= end_; }
  size_t left() const { return done() ? 0 : static_cast<size_t>(end_ - p_); }

  uint8_t U8() { return done() ? 0 : *p_++; }
  uint16_t U16() { return static_cast<uint16_t>(U8() | (U8() << 8)); }
  uint32_t U32() { return static_cast<uint32_t>(U16()) | (static_cast<uint32_t>(U16()) << 16); }
  uint64_t U64() { return static_cast<uint64_t>(U32()) | (static_cast<uint64_t>(U32()) << 32); }
  bool Bit() { return (U8() & 1) != 0; }

  // Up to n bytes (fewer at the end of the input).
  std::string_view Bytes(size_t n) {
    const size_t k = n < left() ? n : left();
    std::string_view out(reinterpret_cast<const char*>(p_), k);
    p_ += k;
    return out;
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

// Thrown by a harness when the store disagrees with the model; caught at the
// top of the harness, which cleans up and returns the message.
struct Mismatch : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The first line of every failure report (scripts/test-fuzz.js and the replay
// test look for it).
inline constexpr std::string_view kMismatchBanner = "THREADKV FUZZ MISMATCH";

// A short printable form of a key (or any bytes) for messages.
inline std::string Printable(std::string_view s, size_t max = 40) {
  static const char* hex = "0123456789abcdef";
  std::string out = "\"";
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  out += s.size() > max ? "\"..." : "\"";
  if (s.size() > max) out += "(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// How a harness runs: deliberate model faults (so that a test can prove a
// mismatch is noticed: see harness_selftest.cc and scripts/test-fuzz.js's
// canary; 0 none, 1 the model forgets the first successful write), and
// tracing (every decoded operation printed to stderr, to read a reproducer).
struct HarnessOptions {
  int fault = 0;
  bool trace = false;

  // THREADKV_FUZZ_FAULT=<n> and THREADKV_FUZZ_TRACE=1.
  static HarnessOptions FromEnv() {
    HarnessOptions o;
    if (const char* v = std::getenv("THREADKV_FUZZ_FAULT")) o.fault = std::atoi(v);
    const char* t = std::getenv("THREADKV_FUZZ_TRACE");
    o.trace = t != nullptr && *t != '\0' && std::strcmp(t, "0") != 0;
    return o;
  }
};

// Runs h.Run() and returns "" or the report of the Mismatch it threw.
template <class Harness>
std::string RunHarness(Harness& h) {
  try {
    h.Run();
  } catch (const Mismatch& m) {
    return m.what();
  }
  return "";
}

// For LLVMFuzzerTestOneInput: prints a report and aborts, so that libFuzzer
// saves the input as a crash-* reproducer (and a replay test fails).
inline void AbortOnReport(const std::string& report) {
  if (report.empty()) return;
  std::fputs(report.c_str(), stderr);
  std::fflush(stderr);
  std::abort();
}

}  // namespace threadkv::fuzz
