#include "snapshot.h"

#include <cmath>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "../core/snapshot/store_snapshot.h"
#include "addon.h"
#include "convert.h"
#include "errors.h"

namespace threadkv::binding {

namespace {

namespace snap = threadkv::snapshot;

// The handle's store, held for the whole call (the async ones included:
// a close() or destroy() meanwhile cannot free it). Throws the "closed"
// error for a closed handle; a destroyed store is reported by the core.
std::shared_ptr<Store> HoldStore(Napi::Env env, napi_value handle) {
  void* data = nullptr;
  if (napi_get_value_external(env, handle, &data) != napi_ok || data == nullptr)
    throw Napi::TypeError::New(env, "threadkv: not a store handle");
  auto* h = static_cast<StoreHandle*>(data);
  if (!h->store) Throw(env, kErrClosed, {.store = h->name});
  return h->store;
}

const char* KindName(snap::ErrorKind k) {
  switch (k) {
    case snap::ErrorKind::kCorrupt:
      return "corrupt";
    case snap::ErrorKind::kVersion:
      return "version";
    case snap::ErrorKind::kCodec:
      return "codec";
    case snap::ErrorKind::kIo:
      return "io";
    case snap::ErrorKind::kDestroyed:
      return "destroyed";
    case snap::ErrorKind::kLimit:
      return "limit";
    case snap::ErrorKind::kNoMemory:
      return "oom";
    default:
      return "internal";
  }
}

const char* ReasonName(snap::Reason r) {
  using snap::Reason;
  switch (r) {
    case Reason::kNotSnapshot:
      return "not-snapshot";
    case Reason::kTruncatedHeader:
      return "truncated-header";
    case Reason::kBadHeaderSize:
      return "header-size";
    case Reason::kHeaderChecksum:
      return "header-checksum";
    case Reason::kBadHeaderField:
      return "header-field";
    case Reason::kBadBlockHeader:
      return "block-header";
    case Reason::kBlockChecksum:
      return "block-checksum";
    case Reason::kBlockOrder:
      return "block-order";
    case Reason::kBlockTooLarge:
      return "block-too-large";
    case Reason::kBadEntry:
      return "entry";
    case Reason::kTruncated:
      return "truncated";
    case Reason::kTrailerChecksum:
      return "trailer-checksum";
    case Reason::kTrailerMismatch:
      return "trailer-mismatch";
    case Reason::kTrailingBytes:
      return "trailing-bytes";
    case Reason::kFormatTooNew:
      return "format-too-new";
    case Reason::kV8TooNew:
      return "v8-too-new";
    default:
      return "";
  }
}

const char* LimitName(snap::Limit limit) {
  switch (limit) {
    case snap::Limit::kKeyTooLong:
      return "key-too-long";
    case snap::Limit::kValueTooLarge:
      return "value-too-large";
    case snap::Limit::kFullEntries:
      return "full-entries";
    case snap::Limit::kFullBytes:
      return "full-bytes";
    case snap::Limit::kTooBig:
      return "too-big";
    default:
      return "internal";
  }
}

// What went wrong, as a plain object for lib/snapshot.ts.
Napi::Object Facts(Napi::Env env, const Store& store, const snap::Error& e, uint64_t restored = 0) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("kind", KindName(e.kind));
  switch (e.kind) {
    case snap::ErrorKind::kCorrupt:
    case snap::ErrorKind::kVersion:
      o.Set("reason", ReasonName(e.reason));
      o.Set("offset", static_cast<double>(e.offset));
      if (e.block >= 0) o.Set("block", static_cast<double>(e.block));
      o.Set("a", static_cast<double>(e.a));
      o.Set("b", static_cast<double>(e.b));
      o.Set("aux", static_cast<double>(e.aux));
      if (*e.field != '\0') o.Set("field", e.field);
      if (!e.detail.empty()) o.Set("detail", e.detail);
      break;
    case snap::ErrorKind::kCodec:
      o.Set("fileCodec", e.file_codec);
      o.Set("storeCodec", e.store_codec);
      break;
    case snap::ErrorKind::kIo:
      o.Set("errno", e.sys_errno);
      o.Set("syscall", e.syscall);
      o.Set("path", Napi::Value(env, KeyToJs(env, e.path)));
      break;
    case snap::ErrorKind::kLimit: {
      o.Set("limit", LimitName(e.limit));
      o.Set("key", Napi::Value(env, KeyToJs(env, e.detail)));
      double limit = 0;
      switch (e.limit) {
        case snap::Limit::kKeyTooLong:
          limit = store.options().max_key_bytes;
          break;
        case snap::Limit::kValueTooLarge:
          limit = store.options().max_value_bytes;
          break;
        case snap::Limit::kFullEntries:
          limit = static_cast<double>(store.max_entries());
          break;
        default:
          limit = static_cast<double>(store.max_bytes());
          break;
      }
      o.Set("max", limit);
      o.Set("actual", static_cast<double>(e.a));
      o.Set("restored", static_cast<double>(restored));
      break;
    }
    case snap::ErrorKind::kNoMemory:
      o.Set("restored", static_cast<double>(restored));
      break;
    default:
      break;
  }
  return o;
}

// ---- Arguments ----

struct SaveArgs {
  std::string path;
  snap::SaveOptions options;
};

// (handle, path, fsync, pauseUs, threadkvVersion, nodeVersion); lib/ has
// validated them.
SaveArgs ReadSaveArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  SaveArgs a;
  a.path = TextArg(env, info[1]);
  a.options.writer.fsync = info[2].ToBoolean().Value();
  a.options.writer.pause_us = info[3].As<Napi::Number>().Uint32Value();
  a.options.threadkv_version = TextArg(env, info[4]);
  a.options.node_version = TextArg(env, info[5]);
  return a;
}

struct LoadArgs {
  std::string path;
  snap::LoadOptions options;
};

// (handle, path, mode (0 replace, 1 fillMissing), onCorrupt (0 throw, 1
// skip), maxV8Version (255: no check))
LoadArgs ReadLoadArgs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  LoadArgs a;
  a.path = TextArg(env, info[1]);
  a.options.mode =
      info[2].As<Napi::Number>().Uint32Value() == 1 ? snap::RestoreMode::kFillMissing : snap::RestoreMode::kReplace;
  a.options.read.on_corrupt =
      info[3].As<Napi::Number>().Uint32Value() == 1 ? snap::OnCorrupt::kSkip : snap::OnCorrupt::kThrow;
  const uint32_t v8 = info[4].As<Napi::Number>().Uint32Value();
  a.options.read.max_v8_version = static_cast<uint8_t>(v8 > 255 ? 255 : v8);
  return a;
}

// ---- Results ----

Napi::Value SaveResult(Napi::Env env, const snap::SaveInfo& si) {
  Napi::Array out = Napi::Array::New(env, 3);
  out.Set(0u, static_cast<double>(si.entries));
  out.Set(1u, static_cast<double>(si.bytes));
  out.Set(2u, static_cast<double>(si.kept_peak_bytes));
  return out;
}

Napi::Value LoadResult(Napi::Env env, const snap::LoadInfo& li) {
  Napi::Array out = Napi::Array::New(env, 4);
  out.Set(0u, static_cast<double>(li.entries));
  out.Set(1u, static_cast<double>(li.skipped_expired));
  out.Set(2u, static_cast<double>(li.skipped_corrupt));
  out.Set(3u, static_cast<double>(li.bytes));
  return out;
}

bool Save(Store& store, const SaveArgs& a, snap::SaveInfo* info, snap::Error* err) {
  return snap::SaveStore(store, a.path, a.options, info, err);
}
bool Load(Store& store, const LoadArgs& a, snap::LoadInfo* info, snap::Error* err) {
  return snap::LoadStore(store, a.path, a.options, info, err);
}

// The promise versions: the core call runs on a libuv pool thread, holding
// the store; the promise settles on the calling thread with the same
// [ok, result-or-facts] pair as the sync versions return.
class SnapshotWork final : public Napi::AsyncWorker {
 public:
  SnapshotWork(Napi::Env env, std::shared_ptr<Store> store, SaveArgs save)
      : Napi::AsyncWorker(env, "threadkv.snapshot"),
        deferred_(Napi::Promise::Deferred::New(env)),
        store_(std::move(store)),
        saving_(true),
        save_(std::move(save)) {}
  SnapshotWork(Napi::Env env, std::shared_ptr<Store> store, LoadArgs load)
      : Napi::AsyncWorker(env, "threadkv.restore"),
        deferred_(Napi::Promise::Deferred::New(env)),
        store_(std::move(store)),
        saving_(false),
        load_(std::move(load)) {}

  Napi::Promise Promise() const { return deferred_.Promise(); }

  void Execute() override {
    // Never throws: the core reports failures (allocation included) in err_.
    ok_ = saving_ ? Save(*store_, save_, &save_info_, &err_) : Load(*store_, load_, &load_info_, &err_);
  }

  void OnOK() override {
    Napi::Env env = Env();
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, Napi::Boolean::New(env, ok_));
    if (ok_)
      out.Set(1u, saving_ ? SaveResult(env, save_info_) : LoadResult(env, load_info_));
    else
      out.Set(1u, Facts(env, *store_, err_, saving_ ? 0 : load_info_.entries));
    deferred_.Resolve(out);
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::shared_ptr<Store> store_;
  const bool saving_;
  SaveArgs save_;
  LoadArgs load_;
  bool ok_ = false;
  snap::Error err_;
  snap::SaveInfo save_info_;
  snap::LoadInfo load_info_;
};

// The sync versions: the core call on the calling thread, then
// [true, result] or [false, facts].
template <class Args, class Info>
Napi::Value RunSync(const Napi::CallbackInfo& info, Args (*read)(const Napi::CallbackInfo&),
                    bool (*call)(Store&, const Args&, Info*, snap::Error*),
                    Napi::Value (*result)(Napi::Env, const Info&), uint64_t Info::*restored) {
  Napi::Env env = info.Env();
  const Args args = read(info);  // arguments first, then the store
  std::shared_ptr<Store> store = HoldStore(env, info[0]);
  Info out;
  snap::Error err;
  const bool ok = call(*store, args, &out, &err);  // never throws: failures are in `err`
  Napi::Array settled = Napi::Array::New(env, 2);
  settled.Set(0u, Napi::Boolean::New(env, ok));
  settled.Set(1u, ok ? result(env, out) : Napi::Value(Facts(env, *store, err, restored ? out.*restored : 0)));
  return settled;
}

// The promise versions: the same on a libuv pool thread.
template <class Args>
Napi::Value RunAsync(const Napi::CallbackInfo& info, Args (*read)(const Napi::CallbackInfo&)) {
  Napi::Env env = info.Env();
  Args args = read(info);
  auto* work = new SnapshotWork(env, HoldStore(env, info[0]), std::move(args));
  Napi::Promise p = work->Promise();
  work->Queue();
  return p;
}

// snapshotSync(handle, path, fsync, pauseUs, threadkvVersion, nodeVersion)
//   -> [true, [entries, bytes]] | [false, facts]
Napi::Value SnapshotSync(const Napi::CallbackInfo& info) {
  return RunSync<SaveArgs, snap::SaveInfo>(info, ReadSaveArgs, Save, SaveResult, nullptr);
}
// snapshot(...) -> Promise of what snapshotSync returns
Napi::Value Snapshot(const Napi::CallbackInfo& info) { return RunAsync(info, ReadSaveArgs); }

// restoreSync(handle, path, mode, onCorrupt, maxV8Version)
//   -> [true, [entries, skippedExpired, skippedCorrupt, bytes]] | [false, facts]
Napi::Value RestoreSync(const Napi::CallbackInfo& info) {
  return RunSync<LoadArgs, snap::LoadInfo>(info, ReadLoadArgs, Load, LoadResult, &snap::LoadInfo::entries);
}
// restore(...) -> Promise of what restoreSync returns
Napi::Value Restore(const Napi::CallbackInfo& info) { return RunAsync(info, ReadLoadArgs); }

}  // namespace

namespace {

// Only a Napi::Error may leave a function node-addon-api calls (anything
// else ends in std::terminate): an allocation failure here (converting the
// arguments, building the result) becomes ERR_THREADKV_OUT_OF_MEMORY.
template <Napi::Value (*F)(const Napi::CallbackInfo&)>
Napi::Value Guarded(const Napi::CallbackInfo& info) {
  try {
    return F(info);
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  ThrowOutOfMemoryInCall(info);
  return Napi::Value();
}

}  // namespace

void RegisterSnapshot(Napi::Env env, Napi::Object exports) {
  exports.Set("snapshot", Napi::Function::New(env, Guarded<Snapshot>, "snapshot"));
  exports.Set("snapshotSync", Napi::Function::New(env, Guarded<SnapshotSync>, "snapshotSync"));
  exports.Set("restore", Napi::Function::New(env, Guarded<Restore>, "restore"));
  exports.Set("restoreSync", Napi::Function::New(env, Guarded<RestoreSync>, "restoreSync"));
}

}  // namespace threadkv::binding
