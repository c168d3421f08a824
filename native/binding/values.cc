#include "values.h"

#include <cstdlib>
#include <cstring>

#include "../core/hash.h"
#include "convert.h"
#include "errors.h"

namespace threadkv::binding {

namespace {

constexpr size_t kScratchInitial = 16 << 10;
// Values up to this size come back through the reused scratch buffer; larger
// ones get a buffer of their own (the copy dominates the allocation there).
constexpr size_t kScratchMax = 1 << 20;

// Bounds of the per-environment shape table (NameShapes).
constexpr size_t kMaxShapes = 8192;
constexpr size_t kMaxShapeBytes = 1 << 20;

// The object format's header (lib/codec-format.ts): a version byte, then at
// 4, 8 and 12 the offsets of the shape table and of the strings, and the
// number of shapes, as little-endian 32-bit numbers. Each shape is a 32-bit
// slot (0 in the store; the id NameShapes gives it, in a copy), the 32-bit
// length of its descriptor and the descriptor, padded to 4 bytes.
constexpr uint8_t kObjectVersion = 1;
constexpr size_t kObjectHeader = 16;

uint32_t Load32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;  // little-endian hosts only (x64, arm64), as lib/ writes it
}

void Store32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

napi_typedarray_type ArrayType(uint8_t f) {
  switch (f) {
    case fmt::kInt8Array:
      return napi_int8_array;
    case fmt::kUint8ClampedArray:
      return napi_uint8_clamped_array;
    case fmt::kInt16Array:
      return napi_int16_array;
    case fmt::kUint16Array:
      return napi_uint16_array;
    case fmt::kInt32Array:
      return napi_int32_array;
    case fmt::kUint32Array:
      return napi_uint32_array;
    case fmt::kFloat32Array:
      return napi_float32_array;
    case fmt::kFloat64Array:
      return napi_float64_array;
    case fmt::kBigInt64Array:
      return napi_bigint64_array;
    case fmt::kBigUint64Array:
      return napi_biguint64_array;
    default:
      return napi_uint8_array;  // Uint8Array, Buffer
  }
}

[[noreturn]] void Corrupt(napi_env env) {
  throw Napi::Error::New(env, "threadkv: a stored value is not in the format its tag says (internal error)");
}

}  // namespace

size_t ElementSize(uint8_t f) {
  switch (f) {
    case fmt::kInt16Array:
    case fmt::kUint16Array:
      return 2;
    case fmt::kInt32Array:
    case fmt::kUint32Array:
    case fmt::kFloat32Array:
      return 4;
    case fmt::kFloat64Array:
    case fmt::kBigInt64Array:
    case fmt::kBigUint64Array:
      return 8;
    default:
      return 1;
  }
}

size_t ValuePath::BytesHash::operator()(std::string_view s) const noexcept { return HashKey(s.data(), s.size()); }

ValuePath::ValuePath(Napi::Env env) {
  GrowScratch(env, kScratchInitial);
  Napi::ArrayBuffer cells = Napi::ArrayBuffer::New(env, kValueCells * sizeof(int32_t));
  cells_ref_ = Napi::Persistent(Napi::Int32Array::New(env, kValueCells, cells, 0));
  cells_ = static_cast<int32_t*>(cells.Data());
}

ValuePath::~ValuePath() {
  // The environment is ending: no JS runs again here, so no slab over these
  // blocks is read again (the runtime detaches those still alive).
  for (Lent& l : lent_) std::free(l.block);
  for (uint8_t* b : spare_) std::free(b);
}

napi_value ValuePath::Setup(napi_env env, napi_value factory, napi_value recycle) {
  napi_valuetype type;
  TKV_NAPI(env, napi_typeof(env, factory, &type));
  if (type != napi_function) throw Napi::TypeError::New(env, "threadkv: valueSetup expects a function");
  factory_ = Napi::Persistent(Napi::Function(env, factory));
  bool r = false;
  if (recycle != nullptr && napi_get_value_bool(env, recycle, &r) == napi_ok) recycle_ = r;
  return cells_ref_.Value();
}

void ValuePath::Reap(size_t alive) {
  // Slabs die roughly in the order they were lent; one still alive at the
  // front (a result kept) goes to the back so that it does not hold up the
  // others.
  for (size_t kept = 0; !lent_.empty() && kept < alive;) {
    Lent& l = lent_.front();
    if (l.slab.Value().IsEmpty()) {
      spare_.push_back(l.block);
      lent_.pop_front();
    } else {
      lent_.push_back(std::move(l));
      lent_.pop_front();
      ++kept;
    }
  }
}

size_t ValuePath::TrimSlabs() {
  Reap(lent_.size());
  const uint64_t used = reused_ - reused_at_trim_;
  reused_at_trim_ = reused_;
  // spare_ is reused from the back: the front blocks are the coldest.
  const size_t keep = used < spare_.size() ? static_cast<size_t>(used) : spare_.size();
  const size_t drop = spare_.size() - keep;
  for (size_t i = 0; i < drop; ++i) std::free(spare_[i]);
  spare_.erase(spare_.begin(), spare_.begin() + static_cast<std::ptrdiff_t>(drop));
  blocks_ -= drop;
  return blocks_;
}

napi_value ValuePath::SlabStats(napi_env env) const {
  const double v[] = {static_cast<double>(blocks_), static_cast<double>(lent_.size()),
                      static_cast<double>(spare_.size()), static_cast<double>(reused_), recycle_ ? 1.0 : 0.0};
  napi_value out;
  TKV_NAPI(env, napi_create_array_with_length(env, 5, &out));
  for (uint32_t i = 0; i < 5; ++i) {
    napi_value n;
    TKV_NAPI(env, napi_create_double(env, v[i], &n));
    TKV_NAPI(env, napi_set_element(env, out, i, n));
  }
  return out;
}

napi_value ValuePath::RecycledSlab(napi_env env, uint8_t** data) {
  if (!recycle_ || factory_.IsEmpty()) return nullptr;
  Reap();
  uint8_t* block = nullptr;
  if (!spare_.empty()) {
    block = spare_.back();
    spare_.pop_back();
    ++reused_;
  } else if (blocks_ < kMaxSlabBlocks) {
    block = static_cast<uint8_t*>(std::malloc(kLargeSlab));
    if (block == nullptr) return nullptr;
    ++blocks_;
  } else {
    return nullptr;  // V8 makes this one (and sees the memory: its next scavenge frees ours)
  }
  napi_value ab = External(env, block, kLargeSlab, nullptr, nullptr);
  if (ab == nullptr) {
    recycle_ = false;  // a runtime without external buffers
    spare_.push_back(block);
    return nullptr;
  }
  lent_.push_back(Lent{block, Napi::Weak(Napi::ArrayBuffer(env, ab))});
  // Marked untransferable by the factory, as the slabs it makes are.
  napi_value args[2];
  TKV_NAPI(env, napi_create_uint32(env, static_cast<uint32_t>(kLargeSlab), &args[0]));
  args[1] = ab;
  napi_value undefined;
  napi_value got;
  TKV_NAPI(env, napi_get_undefined(env, &undefined));
  TKV_NAPI(env, napi_call_function(env, undefined, factory_.Value(), 2, args, &got));
  *data = block;
  return ab;
}

void ValuePath::GrowScratch(napi_env env, size_t size) {
  if (size <= scratch_size_) return;
  size_t n = scratch_size_ == 0 ? kScratchInitial : scratch_size_;
  while (n < size) n *= 2;
  Napi::ArrayBuffer ab = Napi::ArrayBuffer::New(env, n);
  scratch_ = Napi::Persistent(ab);
  scratch_data_ = static_cast<uint8_t*>(ab.Data());
  scratch_size_ = n;
}

napi_value ValuePath::NewSlab(napi_env env, size_t size, uint8_t** data) {
  napi_value ab = nullptr;
  void* ptr = nullptr;
  if (factory_.IsEmpty()) {
    TKV_NAPI(env, napi_create_arraybuffer(env, size, &ptr, &ab));
  } else {
    napi_value arg;
    TKV_NAPI(env, napi_create_uint32(env, static_cast<uint32_t>(size), &arg));
    napi_value undefined;
    TKV_NAPI(env, napi_get_undefined(env, &undefined));
    TKV_NAPI(env, napi_call_function(env, undefined, factory_.Value(), 1, &arg, &ab));
    size_t got = 0;
    bool is = false;
    TKV_NAPI(env, napi_is_arraybuffer(env, ab, &is));
    if (is) TKV_NAPI(env, napi_get_arraybuffer_info(env, ab, &ptr, &got));
    if (!is || got < size)
      throw Napi::Error::New(env, "threadkv: the slab factory returned no ArrayBuffer of the size asked");
  }
  *data = static_cast<uint8_t*>(ptr);
  return ab;
}

bool ValuePath::Pooled(uint8_t flags, size_t size) {
  return size <= kLargeMax &&
         ((fmt::IsBinary(flags) && flags != fmt::kArrayBuffer) || flags == fmt::kObjectWithBinaries);
}

bool ValuePath::Pooled(const Entry& e) { return e.kind == Kind::kBytes && Pooled(e.flags, e.value_size); }

uint8_t* ValuePath::Reserve(Pool& pool, size_t size, size_t* offset) {
  const size_t at = (pool.used + 7) & ~size_t{7};
  if (pool.data == nullptr || at + size > pool.size) return nullptr;
  pool.used = at + size;
  *offset = at;
  return pool.data + at;
}

void ValuePath::CopyOutSlow(const Entry& e, Copied* out) { CopyOutRaw(e.kind, e.flags, e.value_data(), out); }

void ValuePath::CopyOutRaw(Kind kind, uint8_t flags, const uint8_t* data, size_t size, Copied* out) {
  out->kind = kind;
  out->flags = flags;
  out->size = size;
  CopyOutRaw(kind, flags, data, out);
}

void ValuePath::CopyOutRaw(Kind kind, uint8_t flags, const uint8_t* data, Copied* out) {
  if (kind == Kind::kBytes && Pooled(flags, out->size)) {
    Pool& pool = PoolFor(out->size);
    if (uint8_t* dst = Reserve(pool, out->size, &out->offset)) {
      std::memcpy(dst, data, out->size);
      out->bytes = dst;
      out->where = &pool == &small_ ? Where::kSmallPool : Where::kLargePool;
      return;
    }
  }
  if (out->size <= scratch_size_) {
    if (out->size != 0) std::memcpy(scratch_data_, data, out->size);
    out->bytes = scratch_data_;
    out->where = Where::kScratch;
  } else {
    out->big.reset(new uint8_t[out->size]);
    std::memcpy(out->big.get(), data, out->size);
    out->bytes = out->big.get();
    out->where = Where::kBig;
  }
}

napi_value ValuePath::View(napi_env env, uint8_t flags, napi_value buffer, size_t offset, size_t size) {
  napi_value out = nullptr;
  if (flags == fmt::kDataView) {
    TKV_NAPI(env, napi_create_dataview(env, size, buffer, offset, &out));
  } else {
    TKV_NAPI(env, napi_create_typedarray(env, ArrayType(flags), size / ElementSize(flags), buffer, offset, &out));
  }
  return out;
}

napi_value ValuePath::InPool(napi_env env, uint8_t* bytes, size_t size, Where where, size_t* offset) {
  Pool& pool = PoolFor(size);
  if (where != Where::kSmallPool && where != Where::kLargePool) {
    // Copied elsewhere (the slab was full, or an unlinked entry): make room,
    // on a fresh slab if need be, and copy.
    uint8_t* dst = Reserve(pool, size, offset);
    if (dst == nullptr) {
      const size_t slab_size = &pool == &small_ ? kSmallSlab : kLargeSlab;
      uint8_t* data = nullptr;
      napi_value slab = &pool == &large_ ? RecycledSlab(env, &data) : nullptr;
      if (slab == nullptr) slab = NewSlab(env, slab_size, &data);
      pool.slab = Napi::Persistent(Napi::ArrayBuffer(env, slab));
      pool.data = data;
      pool.size = slab_size;
      pool.used = 0;
      dst = Reserve(pool, size, offset);
    }
    if (size != 0) std::memcpy(dst, bytes, size);
  }
  return pool.slab.Value();
}

napi_value ValuePath::OwnBuffer(napi_env env, const uint8_t* bytes, size_t size) {
  void* data = nullptr;
  napi_value ab;
  TKV_NAPI(env, napi_create_arraybuffer(env, size, &data, &ab));
  if (size != 0) std::memcpy(data, bytes, size);
  return ab;
}

napi_value ValuePath::External(napi_env env, uint8_t* data, size_t size, napi_finalize release, void* hint) {
  napi_value ab = nullptr;
  if (napi_create_external_arraybuffer(env, data, size, release, hint, &ab) != napi_ok) {
    // Runtimes that refuse external buffers (a V8 sandbox): the caller copies.
    bool pending = false;
    if (napi_is_exception_pending(env, &pending) == napi_ok && pending) {
      napi_value ignored;
      napi_get_and_clear_last_exception(env, &ignored);
    }
    return nullptr;
  }
  return ab;
}

napi_value ValuePath::BytesToJs(napi_env env, uint8_t flags, uint8_t* bytes, size_t size, Where where, size_t offset,
                                napi_value own) {
  if (fmt::IsBinary(flags)) {
    cells_[kOutTag] = flags;
    if (size % ElementSize(flags) != 0) Corrupt(env);
    if (flags == fmt::kArrayBuffer) return own != nullptr ? own : OwnBuffer(env, bytes, size);
    // Up to kLargeMax: a view into the pool; larger: a buffer of its own.
    if (Pooled(flags, size)) return View(env, flags, InPool(env, bytes, size, where, &offset), offset, size);
    return View(env, flags, own != nullptr ? own : OwnBuffer(env, bytes, size), 0, size);
  }
  if (fmt::IsObject(flags)) NameShapes(env, bytes, size);
  // The codec's bytes or an object value: the ArrayBuffer holding them, their
  // offset and length in the cells (a typed array made here, and its
  // .buffer read in JS, would cost ~400 instructions more); lib/codec.ts
  // decodes (or copies) them at once. An object holding typed arrays goes
  // to the pool, so that the decoder makes those typed arrays views of it
  // (out tag kObjectWithBinaries means "the bytes are pool memory"). Other
  // bytes go to the scratch buffer, or, when larger than it may grow, to a
  // buffer of their own. A Buffer made here would cost a malloc'd backing
  // store and its finalizer (callgrind: ~3,000 instructions).
  cells_[kOutLength] = static_cast<int32_t>(size);
  if (Pooled(flags, size)) {
    cells_[kOutTag] = flags;
    napi_value slab = InPool(env, bytes, size, where, &offset);
    cells_[kOutOffset] = static_cast<int32_t>(offset);
    return slab;
  }
  cells_[kOutTag] = fmt::IsObject(flags) ? fmt::kObject : flags;
  cells_[kOutOffset] = 0;
  if (size > kScratchMax) return own != nullptr ? own : OwnBuffer(env, bytes, size);
  if (bytes != scratch_data_) {
    GrowScratch(env, size);
    if (size != 0) std::memcpy(scratch_data_, bytes, size);
  }
  return scratch_.Value();
}

napi_value ValuePath::ToJs(napi_env env, Copied& c) {
  if (napi_value v = ScalarToJs(env, c.kind, c.flags, c.bytes, c.size)) return v;
  napi_value own = nullptr;
  if (c.where == Where::kBig && c.size > kScratchMax) {
    own = External(
        env, c.big.get(), c.size, [](napi_env, void* p, void*) { delete[] static_cast<uint8_t*>(p); }, nullptr);
    if (own != nullptr) c.big.release();  // the ArrayBuffer's finalizer frees it
  }
  return BytesToJs(env, c.flags, c.bytes, c.size, c.where, c.offset, own);
}

napi_value ValuePath::RemovedToJs(napi_env env, EntryPtr e) {
  if (e->kind == Kind::kBytes && e->value_size > kScratchMax) {
    // In place only where the views a read makes will be aligned: typed
    // arrays of wider elements, and the 8-aligned blocks of the object
    // format, need an 8-aligned start.
    uint8_t* data = e->value_data();
    const bool aligned = reinterpret_cast<uintptr_t>(data) % 8 == 0;
    if (aligned || (ElementSize(e->flags) == 1 && !fmt::IsObject(e->flags))) {
      Entry* raw = e.get();
      if (napi_value own = External(
              env, data, raw->value_size, [](napi_env, void*, void* hint) { EntryPtr(static_cast<Entry*>(hint)); },
              raw)) {
        e.release();  // the ArrayBuffer's finalizer frees it
        return BytesToJs(env, raw->flags, data, raw->value_size, Where::kBig, 0, own);
      }
    }
  }
  return EntryToJs(env, *e);
}

napi_value ValuePath::EntryToJs(napi_env env, const Entry& e) {
  if (napi_value v = ScalarToJs(env, e.kind, e.flags, e.value_data(), e.value_size)) return v;
  // Copied first: NameShapes writes into the bytes, and the pool takes
  // what it can directly.
  Copied c;
  CopyOut(e, &c);
  return ToJs(env, c);
}

void ValuePath::NameShapes(napi_env env, uint8_t* data, size_t size) {
  if (size < kObjectHeader || data[0] != kObjectVersion) Corrupt(env);
  const size_t shapes_at = Load32(data + 4);
  const size_t strings_at = Load32(data + 8);
  const size_t n = Load32(data + 12);
  if (shapes_at < kObjectHeader || shapes_at > strings_at || strings_at > size) Corrupt(env);
  size_t p = shapes_at;
  for (size_t i = 0; i < n; ++i) {
    if (strings_at - p < 8) Corrupt(env);
    const size_t len = Load32(data + p + 4);
    if (strings_at - p - 8 < len) Corrupt(env);
    const std::string_view desc(reinterpret_cast<const char*>(data + p + 8), len);
    uint32_t id = 0;
    if (auto it = shapes_.find(desc); it != shapes_.end()) {
      id = it->second;
    } else if (shapes_.size() < kMaxShapes && shape_bytes_ + len <= kMaxShapeBytes) {
      id = static_cast<uint32_t>(shapes_.size() + 1);
      shapes_.emplace(std::string(desc), id);
      shape_bytes_ += len;
    }
    Store32(data + p, id);
    p = (p + 8 + len + 3) & ~size_t{3};
  }
}

}  // namespace threadkv::binding
