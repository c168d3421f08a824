#include "entry.h"

#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <system_error>

namespace threadkv {

void EntryDeleter::operator()(Entry* e) const noexcept {
  // The block starts at the links when there are any (no branch: this runs
  // for every entry freed).
  static_assert(kLayoutLinks == 1);
  char* block = reinterpret_cast<char*>(e) - (e->layout & kLayoutLinks) * sizeof(EntryLinks);
  e->~Entry();
  std::free(block);
}

namespace {

// Every entry block is 16-byte aligned: a table slot keeps 4 bits of the
// key's hash in the low bits of the entry's address (table.h). malloc gives
// 16 bytes on every 64-bit platform we build for (glibc, musl, macOS,
// Windows); this checks rather than assumes, and on POSIX asks for the
// alignment explicitly should an allocator ever give less. Plain malloc first,
// because rounding the size up to 16 for aligned_alloc can cost glibc a
// bigger chunk.
constexpr size_t kEntryAlign = 16;

void* AllocateBlock(size_t size) {
  void* mem = std::malloc(size);
  if (mem == nullptr) throw std::bad_alloc();
  if ((reinterpret_cast<uintptr_t>(mem) & (kEntryAlign - 1)) == 0) return mem;
  std::free(mem);
#if defined(_WIN32)
  std::fprintf(stderr, "threadkv: malloc returned a block that is not 16-byte aligned; aborting\n");
  std::abort();
#else
  mem = std::aligned_alloc(kEntryAlign, (size + kEntryAlign - 1) & ~(kEntryAlign - 1));
  if (mem == nullptr) throw std::bad_alloc();
  return mem;
#endif
}

}  // namespace

EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags, bool with_links) {
  const size_t prefix = with_links ? sizeof(EntryLinks) : 0;
  char* block = static_cast<char*>(AllocateBlock(prefix + sizeof(Entry) + key.size() + value_size));
  if (with_links) new (block) EntryLinks();
  auto* e = new (block + prefix) Entry();
  e->version = 0;
  e->key_size = static_cast<uint32_t>(key.size());
  e->value_size = static_cast<uint32_t>(value_size);
  e->kind = kind;
  e->flags = flags;
  e->layout = with_links ? kLayoutLinks : 0;
  if (!key.empty()) std::memcpy(e->key_data(), key.data(), key.size());
  return EntryPtr(e);
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Parses `text` if it is exactly one JSON number.
bool ParseJsonNumber(std::string_view text, Number* out) {
  const char* const begin = text.data();
  const char* const end = begin + text.size();
  const char* p = begin;
  const bool negative = p != end && *p == '-';
  if (negative) ++p;
  if (p == end || !IsDigit(*p)) return false;
  const char* const int_begin = p;
  if (*p == '0') {
    ++p;
  } else {
    while (p != end && IsDigit(*p)) ++p;
  }
  const size_t int_digits = static_cast<size_t>(p - int_begin);
  bool integral = true;
  if (p != end && *p == '.') {
    ++p;
    if (p == end || !IsDigit(*p)) return false;
    while (p != end && IsDigit(*p)) ++p;
    integral = false;
  }
  if (p != end && (*p == 'e' || *p == 'E')) {
    ++p;
    if (p != end && (*p == '+' || *p == '-')) ++p;
    if (p == end || !IsDigit(*p)) return false;
    while (p != end && IsDigit(*p)) ++p;
    integral = false;
  }
  if (p != end) return false;
  if (integral && int_digits <= 15) {  // below 10^15 < 2^53: exact in int64 and in a double
    int64_t v = 0;
    for (const char* q = int_begin; q != int_begin + int_digits; ++q) v = v * 10 + (*q - '0');
    *out = Number::Int(negative ? -v : v);
    return true;
  }
  // The grammar is checked; from_chars gives the correctly rounded double,
  // which is the number JSON.parse would give.
  double d = 0;
  const std::from_chars_result r = std::from_chars(begin, end, d, std::chars_format::general);
  if (r.ec != std::errc() || r.ptr != end) return false;  // out of double range: not a number we can count
  *out = Number::Float(d);
  return true;
}

}  // namespace

bool ReadNumber(const Entry& e, bool json_text, Number* out) {
  switch (e.kind) {
    case Kind::kInt64: {
      if (e.value_size != kNumberBytes) return false;
      int64_t v;
      std::memcpy(&v, e.value_data(), sizeof v);
      *out = Number::Int(v);
      return true;
    }
    case Kind::kFloat64: {
      if (e.value_size != kNumberBytes) return false;
      double v;
      std::memcpy(&v, e.value_data(), sizeof v);
      *out = Number::Float(v);
      return true;
    }
    case Kind::kString:
      return json_text && (e.flags & kFlagLoneSurrogates) == 0 &&
             ParseJsonNumber({reinterpret_cast<const char*>(e.value_data()), e.value_size}, out);
    default:
      return false;
  }
}

void WriteNumber(Entry& e, const Number& n) {
  e.kind = n.kind;
  e.flags = 0;
  if (n.kind == Kind::kInt64)
    std::memcpy(e.value_data(), &n.i, kNumberBytes);
  else
    std::memcpy(e.value_data(), &n.d, kNumberBytes);
}

}  // namespace threadkv
