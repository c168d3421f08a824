#include "entry.h"

#include <cstdlib>
#include <cstring>
#include <new>

namespace threadkv {

void EntryDeleter::operator()(Entry* e) const noexcept {
  e->~Entry();
  std::free(e);
}

EntryPtr MakeEntry(std::string_view key, size_t value_size, Kind kind, uint8_t flags) {
  void* mem = std::malloc(sizeof(Entry) + key.size() + value_size);
  if (mem == nullptr) throw std::bad_alloc();
  auto* e = new (mem) Entry();
  e->version = 0;
  e->key_size = static_cast<uint32_t>(key.size());
  e->value_size = static_cast<uint32_t>(value_size);
  e->kind = kind;
  e->flags = flags;
  if (!key.empty()) std::memcpy(e->key_data(), key.data(), key.size());
  return EntryPtr(e);
}

}  // namespace threadkv
