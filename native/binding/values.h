// The value path beyond the scalar kinds: how a JS binary value or an
// encoded object becomes the bytes of a Kind::kBytes entry, and how those
// bytes become a JS value again (docs/design.md, "Values").
//
// A kBytes entry's `flags` say what its bytes are (Fmt, below). Binary values
// (every TypedArray, DataView, ArrayBuffer, Buffer) are stored as their bytes
// and come back as the same type; results up to kLargeMax bytes are views
// into a per-environment pool of slabs (ArrayBuffers made and marked
// untransferable by lib/codec-pool.ts), so a get costs a copy, not an
// allocation. Objects encoded by lib/codec-format.ts carry their own shape
// descriptors; this file gives each distinct descriptor a small id per
// environment so that the JS decoder finds its compiled constructor with one
// array load.
//
// Everything here is per environment (owned by the Addon instance); nothing
// is shared between threads.
#pragma once

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "../core/entry.h"

namespace threadkv::binding {

// Entry::flags of a Kind::kBytes entry. lib/codec-format.ts (Fmt) has the
// same numbers; entries keep them for their life, so they never change.
namespace fmt {
inline constexpr uint8_t kCodec = 0;  // the codec's own bytes: v8-serialized ('v8'), raw ('buffer')
inline constexpr uint8_t kInt8Array = 1;
inline constexpr uint8_t kUint8Array = 2;
inline constexpr uint8_t kUint8ClampedArray = 3;
inline constexpr uint8_t kInt16Array = 4;
inline constexpr uint8_t kUint16Array = 5;
inline constexpr uint8_t kInt32Array = 6;
inline constexpr uint8_t kUint32Array = 7;
inline constexpr uint8_t kFloat32Array = 8;
inline constexpr uint8_t kFloat64Array = 9;
inline constexpr uint8_t kBigInt64Array = 10;
inline constexpr uint8_t kBigUint64Array = 11;
inline constexpr uint8_t kDataView = 12;
inline constexpr uint8_t kArrayBuffer = 13;
inline constexpr uint8_t kBuffer = 14;  // a Node Buffer (a Uint8Array that lib/ makes a Buffer again)
inline constexpr uint8_t kLastBinary = 14;
inline constexpr uint8_t kObject = 32;              // lib/codec-format.ts bytes
inline constexpr uint8_t kObjectWithBinaries = 33;  // the same, holding typed arrays: read into the pool

inline bool IsBinary(uint8_t f) { return f >= kInt8Array && f <= kLastBinary; }
inline bool IsObject(uint8_t f) { return f == kObject || f == kObjectWithBinaries; }
}  // namespace fmt

// The tag JS puts in cells[kInTag] for a binary value whose format the
// binding reads from the value itself (never stored).
inline constexpr int32_t kTagDeriveBinary = 255;

// Cells shared with JS (an Int32Array per environment, see Setup).
inline constexpr size_t kInTag = 0;     // JS -> native: the format of the bytes value passed next
inline constexpr size_t kOutTag = 1;    // native -> JS: the format of the kBytes value just returned
inline constexpr size_t kInLength = 2;  // JS -> native: how many bytes of that value to take (0: all)
// native -> JS: where an object-format or codec value returned as an
// ArrayBuffer (out tag kObject*, kCodec) starts in it, and its length.
inline constexpr size_t kOutOffset = 3;
inline constexpr size_t kOutLength = 4;
inline constexpr size_t kValueCells = 8;

// Results up to this size come from the small pool, then the large one.
inline constexpr size_t kSmallMax = 1024;
inline constexpr size_t kSmallSlab = 32 * 1024;
inline constexpr size_t kLargeMax = 16 * 1024;
// Just under glibc's 128 KiB mmap threshold, so that a slab V8 allocates
// comes from the heap; 21 results of 6 KiB.
inline constexpr size_t kLargeSlab = 128 * 1024 - 64;
// Large-pool slab memory this environment keeps for reuse (RecycledSlab): at
// most this many blocks of kLargeSlab bytes, lent or spare (32 MiB, what V8
// lets young ArrayBuffers hold before it scavenges: 2 x its 16 MiB
// semi-space).
inline constexpr size_t kMaxSlabBlocks = (32 << 20) / kLargeSlab;

class ValuePath {
 public:
  explicit ValuePath(Napi::Env env);
  ~ValuePath();
  ValuePath(const ValuePath&) = delete;
  ValuePath& operator=(const ValuePath&) = delete;

  // valueSetup(newSlab, recycle) -> cells: registers lib/codec.ts's slab
  // factory (newSlab(size) -> a new ArrayBuffer, newSlab(size, ab) -> ab;
  // both marked untransferable) and returns this environment's cells.
  // `recycle`: this runtime cannot detach a marked ArrayBuffer (no
  // ArrayBuffer.prototype.transfer, or one that refuses it), so large-pool
  // slab memory may be reused once its ArrayBuffer is collected.
  napi_value Setup(napi_env env, napi_value factory, napi_value recycle);

  // The format JS gave the bytes value it passes next (0 when none), read
  // once: the cell is cleared so that a stale tag never applies to a later
  // value.
  int32_t TakeInTag() {
    const int32_t t = cells_[kInTag];
    cells_[kInTag] = 0;
    return t;
  }
  // The length JS gave with it (0: the whole value), read once likewise.
  size_t TakeInLength() {
    const int32_t n = cells_[kInLength];
    cells_[kInLength] = 0;
    return n > 0 ? static_cast<size_t>(n) : 0;
  }

  // A value copied out of an entry under its lock (CopyOut: memory copies
  // only, into memory this environment owns), made a JS value after it (ToJs).
  enum class Where : uint8_t { kNone, kScratch, kSmallPool, kLargePool, kBig };
  struct Copied {
    Kind kind = Kind::kUndefined;
    uint8_t flags = 0;
    Where where = Where::kNone;
    size_t size = 0;
    size_t offset = 0;  // in the pool slab, for kSmallPool / kLargePool
    uint64_t version = 0;
    uint8_t* bytes = nullptr;        // the copy (scratch, slab, or big.get())
    std::unique_ptr<uint8_t[]> big;  // values larger than the scratch buffer
  };
  // Inline: the S hot path (a string or number into the scratch buffer) is
  // part of the read callback; the rest is CopyOutSlow.
  void CopyOut(const Entry& e, Copied* out) {
    out->kind = e.kind;
    out->flags = e.flags;
    out->size = e.value_size;
    out->version = e.version;
    if (e.kind != Kind::kBytes && out->size <= scratch_size_) [[likely]] {
      std::memcpy(scratch_data_, e.value_data(), out->size);
      out->bytes = scratch_data_;
      out->where = Where::kScratch;
      return;
    }
    CopyOutSlow(e, out);
  }
  // The same for a value that is not an entry's (getOrCompute's result,
  // kept with its flight): kind, format flags and bytes.
  void CopyOutRaw(Kind kind, uint8_t flags, const uint8_t* data, size_t size, Copied* out);
  // Bytes over kScratchMax copied into `big` are handed over to JS (an
  // external ArrayBuffer that owns them) rather than copied again.
  napi_value ToJs(napi_env env, Copied& c);
  // The JS value of an entry nobody else can reach (unlinked: swap, take).
  napi_value EntryToJs(napi_env env, const Entry& e);
  // The same, taking the entry: bytes over kScratchMax are handed over to
  // JS in place (an external ArrayBuffer that frees the entry), so that a
  // take never needs the value's size in new memory after the store changed
  // (V8 aborts the process when it cannot allocate an ArrayBuffer).
  napi_value RemovedToJs(napi_env env, EntryPtr e);

  // Gives the shapes of an object-format value (lib/codec-format.ts) their
  // ids in this environment, written into the value's shape slots. Throws
  // if the bytes are not a well-formed object value.
  void NameShapes(napi_env env, uint8_t* data, size_t size);

  // Frees the spare blocks the last interval did not need: all but as many
  // as were taken from the spares since the previous call (lib/codec.ts
  // calls it from a timer while slabs are being made). Returns the blocks
  // still held (lent or spare).
  size_t TrimSlabs();

  // [blocks, lent, spare, reused, recycling]: the large pool's recycled
  // memory (tests and bench/pool.js).
  napi_value SlabStats(napi_env env) const;

  // A fresh ArrayBuffer of `size` bytes from the slab factory (untransferable,
  // not zeroed), or a plain one before Setup. *data is its memory.
  napi_value NewSlab(napi_env env, size_t size, uint8_t** data);

 private:
  struct Pool {
    Napi::Reference<Napi::ArrayBuffer> slab;
    uint8_t* data = nullptr;
    size_t size = 0;
    size_t used = 0;
  };
  Pool& PoolFor(size_t size) { return size <= kSmallMax ? small_ : large_; }
  static bool Pooled(const Entry& e);
  static bool Pooled(uint8_t flags, size_t size);
  // Room for `size` bytes (8-aligned) in `pool`'s current slab, or nullptr.
  static uint8_t* Reserve(Pool& pool, size_t size, size_t* offset);
  void GrowScratch(napi_env env, size_t size);
  // A view of `size` bytes at `offset` of `buffer`, of the type `flags` says.
  napi_value View(napi_env env, uint8_t flags, napi_value buffer, size_t offset, size_t size);
  // The slab holding `bytes` (copied there if `where` is not a pool), and
  // their offset in it.
  napi_value InPool(napi_env env, uint8_t* bytes, size_t size, Where where, size_t* offset);
  // A new ArrayBuffer holding a copy of `bytes`.
  static napi_value OwnBuffer(napi_env env, const uint8_t* bytes, size_t size);
  // `own`: an ArrayBuffer holding exactly these bytes that this result may
  // keep (large values handed over), or nullptr to copy when one is needed.
  napi_value BytesToJs(napi_env env, uint8_t flags, uint8_t* bytes, size_t size, Where where, size_t offset,
                       napi_value own = nullptr);
  // An external ArrayBuffer over `data` that calls `release(hint)` when
  // collected, or nullptr where the runtime refuses external buffers.
  static napi_value External(napi_env env, uint8_t* data, size_t size, napi_finalize release, void* hint);

  void CopyOutSlow(const Entry& e, Copied* out);  // bytes, or larger than the scratch buffer
  void CopyOutRaw(Kind kind, uint8_t flags, const uint8_t* data, Copied* out);  // out->size already set

  // A large-pool slab over recycled memory, or nullptr where none can be
  // had (then NewSlab makes one that V8 owns).
  napi_value RecycledSlab(napi_env env, uint8_t** data);
  // Moves the blocks of lent slabs that were collected to spare_: from the
  // front, passing over at most `alive` slabs still alive.
  void Reap(size_t alive = 2);

  Napi::Reference<Napi::ArrayBuffer> scratch_;
  uint8_t* scratch_data_ = nullptr;
  size_t scratch_size_ = 0;
  Pool small_;
  Pool large_;
  Napi::FunctionReference factory_;
  // Large-pool slab memory (docs/design.md, "Values", "The pool"). A block
  // is lent while a slab ArrayBuffer over it may be alive (weakly held
  // here: collected means no JS value can reach the memory, since every
  // view holds its buffer and the runtime cannot detach a marked slab), and
  // spare once that ArrayBuffer is collected. Blocks are freed when the
  // environment ends.
  struct Lent {
    uint8_t* block;
    Napi::Reference<Napi::ArrayBuffer> slab;
  };
  std::deque<Lent> lent_;        // oldest first
  std::vector<uint8_t*> spare_;  // reused last-in first-out (warmest first)
  size_t blocks_ = 0;            // lent + spare, at most kMaxSlabBlocks
  uint64_t reused_ = 0;          // slabs made over a spare block
  uint64_t reused_at_trim_ = 0;  // reused_ at the last TrimSlabs
  bool recycle_ = false;
  Napi::Reference<Napi::Int32Array> cells_ref_;
  int32_t* cells_ = nullptr;

  // Shape descriptor bytes -> id (1..), per environment; bounded: past the
  // bounds a new shape gets id 0 (decoded without a cached constructor).
  struct BytesHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const noexcept;
  };
  std::unordered_map<std::string, uint32_t, BytesHash, std::equal_to<>> shapes_;
  size_t shape_bytes_ = 0;
};

// The byte size of one element of a binary format (1 for DataView,
// ArrayBuffer and Buffer).
size_t ElementSize(uint8_t flags);

}  // namespace threadkv::binding
