#include "entry.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>

namespace threadkv {

void EntryDeleter::operator()(Entry* e) const noexcept {
  // The block starts at the links when there are any (prefix_size(): a
  // load, no branch; this runs for every entry freed).
  char* block = reinterpret_cast<char*>(e) - e->prefix_size();
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

EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags, bool with_links,
                   bool with_timer) {
  const size_t queue = with_links ? sizeof(EntryLinks) : 0;
  const size_t prefix = queue + (with_timer ? sizeof(TimerLinks) : 0);
  char* block = static_cast<char*>(AllocateBlock(prefix + sizeof(Entry) + key.size() + value_size));
  if (with_links) new (block) EntryLinks();
  if (with_timer) new (block + queue) TimerLinks();
  auto* e = new (block + prefix) Entry();
  e->version = 0;
  e->key_size = static_cast<uint32_t>(key.size());
  e->value_size = static_cast<uint32_t>(value_size);
  e->kind = kind;
  e->flags = flags;
  e->layout = static_cast<uint8_t>((with_links ? kLayoutLinks : 0) | (with_timer ? kLayoutTimer : 0));
  e->prefix = static_cast<uint8_t>(prefix);
  if (!key.empty()) std::memcpy(e->key_data(), key.data(), key.size());
  return EntryPtr(e);
}

EntryPtr CopyEntry(const Entry& e, uint8_t layout) {
  EntryPtr c =
      MakeEntry(e.key(), e.value_size, e.kind, e.flags, (layout & kLayoutLinks) != 0, (layout & kLayoutTimer) != 0);
  if (e.value_size != 0) std::memcpy(c->value_data(), e.value_data(), e.value_size);
  c->version = e.version;
  c->expires_at = e.expires_at;
  c->visited.store(e.visited.load(std::memory_order_relaxed), std::memory_order_relaxed);
  return c;
}

}  // namespace threadkv
