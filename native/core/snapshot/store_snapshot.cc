#include "store_snapshot.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <span>
#include <stdexcept>
#include <utility>
#include <vector>

namespace threadkv::snapshot {

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

namespace {

// A pair of clock readings taken together, to move deadlines between the
// store's clock (its StoreHost clock, by default the steady clock) and the
// wall clock (the file's).
struct ClockPair {
  explicit ClockPair(const Store& store) : steady_ns(store.NowNs()), wall_ms(WallNowMs()) {}

  int64_t steady_ns;
  int64_t wall_ms;

  // A steady deadline as wall-clock milliseconds (rounded up, so that an
  // entry never expires earlier than it would have); 0 for none.
  int64_t ToWall(int64_t expires_at) const {
    if (expires_at <= 0 || expires_at == std::numeric_limits<int64_t>::max()) return 0;
    const int64_t delta_ns = expires_at - steady_ns;
    const int64_t delta_ms = delta_ns > 0 ? (delta_ns + 999'999) / 1'000'000 : 0;
    const int64_t ms = wall_ms + delta_ms;
    return ms > 0 ? ms : 1;
  }

  // A wall-clock deadline as a steady one; false when it has passed.
  bool ToSteady(int64_t expiry_ms, int64_t* expires_at) const {
    if (expiry_ms == 0) {
      *expires_at = kNoExpiry;
      return true;
    }
    if (expiry_ms <= wall_ms) return false;
    const uint64_t left_ms = static_cast<uint64_t>(expiry_ms) - static_cast<uint64_t>(wall_ms);
    constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
    if (left_ms > static_cast<uint64_t>(kMax - steady_ns) / 1'000'000) {
      *expires_at = kMax;  // beyond any uptime: never reached, as Store::DeadlineIn saturates
    } else {
      *expires_at = steady_ns + static_cast<int64_t>(left_ms) * 1'000'000;
    }
    return true;
  }
};

// The copy buffer of a save: entries appended shard by shard, cut into
// blocks of whole entries (at most kMaxBlockPayload bytes, or one larger
// entry alone) as soon as they are full; the rest waits for the next
// shard's entries.
class BlockCutter {
 public:
  BlockCutter(FileWriter& writer, bool v8_codec, size_t block_bytes)
      : writer_(writer),
        v8_codec_(v8_codec),
        block_bytes_(block_bytes == 0 || block_bytes > kMaxBlockPayload ? kMaxBlockPayload : block_bytes) {}

  std::string& buffer() { return buf_; }
  size_t block_bytes() const { return block_bytes_; }

  bool Cut(bool final, Error* err) {
    peak_ = std::max(peak_, buf_.capacity());
    while (at_ < buf_.size()) {
      const char* e = buf_.data() + at_;
      const size_t key = LoadU32(e);
      const size_t value = LoadU32(e + 4);
      const size_t len = kEntryHeaderSize + key + value;
      if (count_ > 0 && at_ + len - start_ > block_bytes_ && !Emit(err)) return false;
      if (v8_codec_ && static_cast<Kind>(e[8]) == Kind::kBytes && e[9] == 0) {  // v8-serialized bytes
        const uint32_t v = V8WireVersion({e + kEntryHeaderSize + key, value});
        if (v > v8_max_) v8_max_ = v > 255 ? 255 : v;
      }
      at_ += len;
      ++count_;
      if (len > block_bytes_ && !Emit(err)) return false;  // alone in its block
    }
    if (final && count_ > 0 && !Emit(err)) return false;
    if (start_ > 0) {  // keep only what is not written yet (less than a block)
      buf_.erase(0, start_);
      at_ -= start_;
      start_ = 0;
    }
    return true;
  }

  uint8_t v8_max() const { return static_cast<uint8_t>(v8_max_); }
  size_t peak() const { return peak_; }

 private:
  bool Emit(Error* err) {
    if (!writer_.WriteBlock({buf_.data() + start_, at_ - start_}, count_, err)) return false;
    start_ = at_;
    count_ = 0;
    return true;
  }

  FileWriter& writer_;
  const bool v8_codec_;
  const size_t block_bytes_;
  std::string buf_;
  size_t start_ = 0;  // first byte of the block being filled
  size_t at_ = 0;     // first entry not looked at yet
  uint32_t count_ = 0;
  uint32_t v8_max_ = 0;
  size_t peak_ = 0;
};

// A save's hook (StoreHook): while the save writes shard `active` out from
// pointers to its entries, every entry a writer unlinks from that shard
// (replaced, deleted, expired, evicted, cleared, destroyed) is kept instead
// of freed, until the save is done with the shard (End). Entries unlinked
// from other shards are freed as usual. OnChange runs under the unlinking
// writer's shard lock; Begin is called before the save takes that shard's
// shared lock to collect the pointers, so every unlink after the collection
// sees it (the lock orders the two), and End after the save's last read of
// the shard's entries, so a writer that no longer keeps one frees it only
// after those reads (release / acquire on `active_`).
class KeepAlive final : public StoreHook {
 public:
  static constexpr uint32_t kNone = ~uint32_t{0};

  ~KeepAlive() override { FreeChain(kept_); }

  uint8_t OnChange(uint32_t shard, Change change, const Entry& e) noexcept override {
    (void)e;
    if (change == Change::kSet) return kNothing;
    return shard == active_.load(std::memory_order_acquire) ? kKeep : kNothing;
  }
  // After the writer's locks: the entry is held until End() (or freed at
  // once when the save is already over).
  void Adopt(EntryPtr e) noexcept override {
    std::lock_guard guard(mu_);
    if (closed_) return;
    held_ += e->footprint();
    peak_ = std::max(peak_, held_);
    Entry* raw = e.release();
    raw->next_unlinked = kept_;  // the entry is ours: its version word chains it
    kept_ = raw;
  }

  void Begin(uint32_t shard) { active_.store(shard, std::memory_order_release); }
  void End() {
    active_.store(kNone, std::memory_order_release);
    Release(false);
  }
  // The save is over: what is held goes, and what comes later is freed.
  void Close() { Release(true); }
  uint64_t peak_bytes() {
    std::lock_guard guard(mu_);
    return peak_;
  }

  // Installs `keep` on `store` for the life of this object. ok() is false
  // when it could not be installed (the store has HookList::kMax hooks
  // already: the save copies each shard under its lock instead).
  class Installed {
   public:
    Installed(Store& store, std::shared_ptr<KeepAlive> keep) : store_(store), keep_(std::move(keep)) {
      status_ = store_.AddHook(keep_);
    }
    ~Installed() {
      if (status_ == Status::kOk) (void)store_.RemoveHook(keep_.get());
      keep_->Close();  // after the removal: no entry is kept any more
    }
    Installed(const Installed&) = delete;
    Installed& operator=(const Installed&) = delete;
    bool ok() const { return status_ == Status::kOk; }
    Status status() const { return status_; }

   private:
    Store& store_;
    std::shared_ptr<KeepAlive> keep_;
    Status status_;
  };

 private:
  void Release(bool close) {
    Entry* chain = nullptr;
    {
      std::lock_guard guard(mu_);
      chain = std::exchange(kept_, nullptr);
      held_ = 0;
      if (close) closed_ = true;
    }
    FreeChain(chain);
  }
  static void FreeChain(Entry* e) {
    EntryDeleter del;
    while (e != nullptr) {
      Entry* next = e->next_unlinked;
      del(e);
      e = next;
    }
  }

  std::atomic<uint32_t> active_{kNone};
  std::mutex mu_;
  Entry* kept_ = nullptr;
  uint64_t held_ = 0;
  uint64_t peak_ = 0;
  bool closed_ = false;
};

// An entry collected under its shard's shared lock, with its deadline as it
// was then (Store::Expire changes it in place).
struct EntryRef {
  const Entry* entry;
  int64_t expires_at;
};

// One save of a store at a time: two saves' KeepAlive hooks would both ask
// to keep an entry, and only the first installed gets it (StoreHook). A
// second save of the same store waits for the first to finish.
class SaveTurn {
 public:
  explicit SaveTurn(const Store& store) : store_(&store) {
    Gate& g = gate();
    std::unique_lock lock(g.mu);
    g.cv.wait(lock, [&] { return std::find(g.busy.begin(), g.busy.end(), store_) == g.busy.end(); });
    g.busy.push_back(store_);
  }
  ~SaveTurn() {
    Gate& g = gate();
    {
      std::lock_guard lock(g.mu);
      std::erase(g.busy, store_);
    }
    g.cv.notify_all();
  }
  SaveTurn(const SaveTurn&) = delete;
  SaveTurn& operator=(const SaveTurn&) = delete;

 private:
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<const Store*> busy;  // stores being saved now
  };
  // Never destroyed: a save may still run on a pool thread at exit.
  static Gate& gate() {
    static Gate* g = new Gate;
    return *g;
  }

  const Store* store_;
};

Error Destroyed() {
  Error e;
  e.kind = ErrorKind::kDestroyed;
  return e;
}

Error LimitError(Limit limit, std::string_view key) {
  Error e;
  e.kind = ErrorKind::kLimit;
  e.limit = limit;
  e.detail.assign(key);
  return e;
}

// The limit a refusing core Status stands for.
Limit LimitOf(Status st) {
  switch (st) {
    case Status::kFullEntries:
      return Limit::kFullEntries;
    case Status::kFullBytes:
      return Limit::kFullBytes;
    default:
      return Limit::kTooBig;
  }
}

// True when `e` alone passes the store's byte limit: no write can store it.
bool TooBig(const Store& store, const Entry& e) { return store.max_bytes() != 0 && Store::Cost(e) > store.max_bytes(); }

// Builds the file's entries for `store` (checked against the store's key
// and value limits, as a set would be), to be published once the whole
// file has been read.
class StoreSink final : public ReadSink {
 public:
  StoreSink(Store& store, const ClockPair& clock) : store_(store), clock_(clock) {}

  bool OnHeader(const Header& header, Error* err) override {
    const auto codec = static_cast<uint8_t>(store_.options().codec);
    if (header.codec != codec) {
      Error e;
      e.kind = ErrorKind::kCodec;
      e.file_codec = header.codec;
      e.store_codec = codec;
      *err = e;
      return false;
    }
    max_version_ = header.max_version();
    return true;
  }

  bool OnBlock(const std::vector<EntryRecord>& records, Error* err) override {
    for (const EntryRecord& r : records) {
      int64_t expires_at = kNoExpiry;
      if (!clock_.ToSteady(r.expiry_unix_ms, &expires_at)) {
        ++skipped_expired_;
        continue;
      }
      if (r.key.size() > store_.options().max_key_bytes) {
        *err = LimitError(Limit::kKeyTooLong, r.key);
        err->a = r.key.size();
        return false;
      }
      if (!store_.ValueFits(r.value.size())) {
        *err = LimitError(Limit::kValueTooLarge, r.key);
        err->a = r.value.size();
        return false;
      }
      EntryPtr e = store_.NewEntry(r.key, r.value.size(), r.kind, r.flags, expires_at);
      if (!r.value.empty()) std::memcpy(e->value_data(), r.value.data(), r.value.size());
      if (TooBig(store_, *e)) {
        *err = LimitError(Limit::kTooBig, r.key);
        err->a = Store::Cost(*e);
        return false;
      }
      entries_.push_back({store_.Hash(r.key), std::move(e)});
    }
    return true;
  }

  std::vector<HashedEntry>& entries() { return entries_; }
  uint64_t skipped_expired() const { return skipped_expired_; }
  uint64_t max_version() const { return max_version_; }

 private:
  Store& store_;
  const ClockPair& clock_;
  std::vector<HashedEntry> entries_;
  uint64_t skipped_expired_ = 0;
  uint64_t max_version_ = 0;
};

// kNone stores, replace mode: the file's content must fit the store's
// limits as a whole, else nothing is written (as an atomic setMany).
bool CheckReplaceFits(const Store& store, const std::vector<HashedEntry>& entries, Error* err) {
  const bool limited = store.max_entries() != 0 || store.max_bytes() != 0;
  if (!limited || store.options().eviction == EvictionPolicy::kSieve) return true;
  uint64_t count = 0, cost = 0;
  for (const HashedEntry& he : entries) {
    ++count;
    cost += Store::Cost(*he.entry);
    const Limit limit = store.max_entries() != 0 && count > store.max_entries() ? Limit::kFullEntries
                        : store.max_bytes() != 0 && cost > store.max_bytes()    ? Limit::kFullBytes
                                                                                : Limit::kNone;
    if (limit != Limit::kNone) {
      *err = LimitError(limit, he.entry->key());
      return false;
    }
  }
  return true;
}

bool Publish(Store& store, StoreSink& sink, RestoreMode mode, LoadInfo* info, Error* err) {
  std::vector<HashedEntry>& entries = sink.entries();
  if (mode == RestoreMode::kReplace && !CheckReplaceFits(store, entries, err)) return false;
  // Every version handed out from here on, the restored entries' first, is
  // greater than any the saved store had handed out.
  if (store.RaiseVersions(sink.max_version()) == Status::kDestroyed ||
      (mode == RestoreMode::kReplace && store.Clear() == Status::kDestroyed)) {
    *err = Destroyed();
    return false;
  }
  const bool unlimited = store.max_entries() == 0 && store.max_bytes() == 0;
  if (unlimited && !entries.empty()) {
    // Each table sized once for what is coming (with a limit the store may
    // keep fewer: its tables grow as they fill).
    std::vector<size_t> more(store.shard_count(), 0);
    for (const HashedEntry& he : entries) ++more[store.ShardOf(he.hash)];
    if (store.ReserveMore(more) == Status::kDestroyed) {
      *err = Destroyed();
      return false;
    }
  }
  if (mode == RestoreMode::kReplace && unlimited) {
    // No limit to apply: the entries go in as atomic batches (Store::PutMany),
    // one hold of each shard's write lock per batch instead of one per entry,
    // each table grown once per batch. Bounded, so that no lock is held for
    // long. (With a limit, entry by entry below: a restore evicts or refuses
    // exactly as a sequence of sets would.)
    constexpr size_t kBatch = 2048;
    for (size_t at = 0; at < entries.size(); at += kBatch) {
      const std::span<HashedEntry> batch(entries.data() + at, std::min(kBatch, entries.size() - at));
      const Status st = store.PutMany(batch, /*atomic=*/true);
      if (st != Status::kOk) {  // kDestroyed: nothing else refuses a store without limits
        *err = Destroyed();
        return false;
      }
      info->entries += batch.size();
    }
    return true;
  }
  for (HashedEntry& he : entries) {
    const std::string key(he.entry->key());  // for an error report after the entry is handed over
    const Status st = mode == RestoreMode::kReplace ? store.Put(he.hash, std::move(he.entry))
                                                    : store.Insert(he.hash, std::move(he.entry));
    switch (st) {
      case Status::kOk:
        ++info->entries;
        break;
      case Status::kExists:
        break;
      case Status::kDestroyed:
        *err = Destroyed();
        return false;
      default:
        *err = LimitError(LimitOf(st), key);
        return false;
    }
  }
  return true;
}

}  // namespace

namespace {

// Runs `body`, turning an allocation failure into kNoMemory (every local of
// the body is released first: a save's temporary file is removed).
template <class Body>
bool NoThrow(Error* err, Body&& body) {
  try {
    return body();
  } catch (const std::bad_alloc&) {
  } catch (const std::length_error&) {
  }
  *err = Error{};
  err->kind = ErrorKind::kNoMemory;
  return false;
}

bool SaveStoreImpl(Store& store, const std::string& path, const SaveOptions& options, SaveInfo* info, Error* err,
                   Fs& fs);
bool LoadStoreFromImpl(Store& store, ByteSource& src, const LoadOptions& options, LoadInfo* info, Error* err);

}  // namespace

bool SaveStore(Store& store, const std::string& path, const SaveOptions& options, SaveInfo* info, Error* err, Fs& fs) {
  *info = SaveInfo{};
  return NoThrow(err, [&] { return SaveStoreImpl(store, path, options, info, err, fs); });
}

bool LoadStoreFrom(Store& store, ByteSource& src, const LoadOptions& options, LoadInfo* info, Error* err) {
  *info = LoadInfo{};
  return NoThrow(err, [&] { return LoadStoreFromImpl(store, src, options, info, err); });
}

namespace {

// Copies shard `s` into the cutter's buffer under the shard's shared lock
// (the way without a KeepAlive hook: a writer to the shard waits for the
// whole copy).
Status CopyShard(const Store& store, uint32_t s, const ClockPair& clock, BlockCutter& cutter, uint64_t* top) {
  std::string& buf = cutter.buffer();
  return store.Scan(s, {}, [&](const Entry& e) {
    AppendEntry(buf, e.key(), e.kind, e.flags, e.value_data(), e.value_size, clock.ToWall(e.expires_at));
    *top = std::max(*top, e.version);
  });
}

// Writes shard `s` out from its entries themselves, with no lock held while
// their bytes are copied: under the shard's shared lock only the entry
// pointers (with their deadlines, the one field a writer changes in place)
// are collected; `keep` holds every entry writers unlink from the shard
// until this returns, so each pointer stays valid, and the shard's part of
// the file is the image it had when the pointers were taken.
Status StreamShard(const Store& store, uint32_t s, const ClockPair& clock, BlockCutter& cutter, KeepAlive& keep,
                   std::vector<EntryRef>& refs, size_t block_bytes, uint64_t* top, Error* err, bool* io_failed) {
  refs.clear();
  keep.Begin(s);  // before the lock: every unlink after it is kept
  const Status st = store.Scan(s, {}, [&](const Entry& e) {
    refs.push_back({&e, e.expires_at});
    *top = std::max(*top, e.version);
  });
  bool ok = st == Status::kOk;
  std::string& buf = cutter.buffer();
  constexpr size_t kAhead = 8;  // entries are scattered over the heap: fetch a few ahead
  for (size_t i = 0; ok && i < refs.size(); ++i) {
    if (i + kAhead < refs.size()) __builtin_prefetch(refs[i + kAhead].entry);
    const Entry& e = *refs[i].entry;
    AppendEntry(buf, e.key(), e.kind, e.flags, e.value_data(), e.value_size, clock.ToWall(refs[i].expires_at));
    if (buf.size() >= block_bytes && !cutter.Cut(false, err)) {
      *io_failed = true;
      ok = false;
    }
  }
  keep.End();  // after the last read of the shard's entries
  return st;
}

bool SaveStoreImpl(Store& store, const std::string& path, const SaveOptions& options, SaveInfo* info, Error* err,
                   Fs& fs) {
  *info = SaveInfo{};
  if (store.destroyed()) {
    *err = Destroyed();
    return false;
  }
  // One save of a store at a time (they share its KeepAlive seam).
  const SaveTurn turn(store);
  const uint32_t shards = store.shard_count();
  Header h;
  h.codec = static_cast<uint8_t>(store.options().codec);
  h.created_unix_ms = WallNowMs();
  h.file_id = RandomU64();
  h.last_versions.assign(shards, 0);
  h.store_name = store.name();
  h.threadkv_version = options.threadkv_version;
  h.node_version = options.node_version;
  FileWriter writer(fs);  // removes the temporary file on every early return
  if (!writer.Begin(path, h, options.writer, err)) return false;
  const ClockPair clock(store);
  BlockCutter cutter(writer, store.options().codec == Codec::kV8, options.block_bytes);
  const size_t block_bytes = cutter.block_bytes();
  // Installed for this save only (a store without hooks updates counters
  // in place and clears in O(1); with one, it does neither).
  auto keep = std::make_shared<KeepAlive>();
  KeepAlive::Installed installed(store, keep);
  if (installed.status() == Status::kDestroyed) {
    *err = Destroyed();
    return false;
  }
  std::vector<EntryRef> refs;
  for (uint32_t s = 0; s < shards; ++s) {
    uint64_t top = 0;
    bool io_failed = false;
    const Status st = installed.ok()
                          ? StreamShard(store, s, clock, cutter, *keep, refs, block_bytes, &top, err, &io_failed)
                          : CopyShard(store, s, clock, cutter, &top);
    if (io_failed) return false;
    if (st != Status::kOk) {
      *err = Destroyed();
      return false;
    }
    h.last_versions[s] = top;
    if (!cutter.Cut(s + 1 == shards, err)) return false;
  }
  h.v8_wire_version = cutter.v8_max();
  if (!writer.Commit(h, err)) return false;
  info->entries = writer.entries();
  info->bytes = writer.file_size();
  info->buffer_peak_bytes = std::max<uint64_t>(cutter.peak(), refs.capacity() * sizeof(EntryRef));
  info->kept_peak_bytes = keep->peak_bytes();
  return true;
}

bool LoadStoreFromImpl(Store& store, ByteSource& src, const LoadOptions& options, LoadInfo* info, Error* err) {
  info->bytes = src.size();
  if (store.destroyed()) {
    *err = Destroyed();
    return false;
  }
  const ClockPair clock(store);
  StoreSink sink(store, clock);
  ReadResult result;
  if (!ReadSnapshot(src, options.read, sink, &result, err)) return false;
  info->skipped_expired = sink.skipped_expired();
  info->skipped_corrupt = result.skipped_blocks;
  return Publish(store, sink, options.mode, info, err);
}

}  // namespace

bool LoadStore(Store& store, const std::string& path, const LoadOptions& options, LoadInfo* info, Error* err, Fs& fs) {
  *info = LoadInfo{};
  if (store.destroyed()) {  // reported ahead of any problem with the file
    *err = Destroyed();
    return false;
  }
  FileSource src(fs);
  if (!src.Open(path, err)) return false;
  return LoadStoreFrom(store, src, options, info, err);
}

}  // namespace threadkv::snapshot
