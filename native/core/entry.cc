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

namespace entry_detail {

void* AllocateBlockSlow(void* mem, size_t size) {
  if (mem == nullptr) throw std::bad_alloc();
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

}  // namespace entry_detail

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
