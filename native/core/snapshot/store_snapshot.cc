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

// An entry a save's hook recorded for a shard not yet collected: its
// version and deadline as they were when it was unlinked, or before its
// deadline changed in place.
struct Record {
  const Entry* entry;
  uint64_t version;
  int64_t expires_at;
};

// One shard's records, in the order they were made: chunks allocated as
// they fill (nothing for a shard that records nothing, so that a store of
// many shards costs a save nothing per idle shard), never moved.
class RecordList {
 public:
  RecordList() = default;
  RecordList(const RecordList&) = delete;
  RecordList& operator=(const RecordList&) = delete;
  RecordList(RecordList&& o) noexcept { swap(o); }
  RecordList& operator=(RecordList&& o) noexcept {
    swap(o);
    return *this;
  }
  ~RecordList() {
    for (Chunk* c = head_; c != nullptr;) delete std::exchange(c, c->next);
  }

  // May throw std::bad_alloc (nothing added then).
  void push_back(const Record& r) {
    if (tail_ == nullptr || tail_->n == kChunk) {
      Chunk* c = new Chunk;
      (tail_ == nullptr ? head_ : tail_->next) = c;
      tail_ = c;
    }
    tail_->r[tail_->n++] = r;
    ++size_;
  }
  void swap(RecordList& o) noexcept {
    std::swap(head_, o.head_);
    std::swap(tail_, o.tail_);
    std::swap(size_, o.size_);
  }
  size_t size() const { return size_; }
  template <class Fn>
  void ForEach(Fn&& fn) const {
    for (const Chunk* c = head_; c != nullptr; c = c->next)
      for (uint32_t i = 0; i < c->n; ++i) fn(c->r[i]);
  }

 private:
  static constexpr uint32_t kChunk = 64;
  struct Chunk {
    Record r[kChunk];
    uint32_t n = 0;
    Chunk* next = nullptr;
  };
  Chunk* head_ = nullptr;
  Chunk* tail_ = nullptr;
  size_t size_ = 0;
};

// A save's hook (StoreHook), which makes the whole file one point in time
// (the cut) without stopping writers. It is installed under every shard's
// write lock at once (Store::AddHook): that instant is the cut, and
// OnInstall learns each shard's last version then (cut_[s]). Every entry a
// shard held at the cut has a version <= cut_[s]; every entry linked in
// later has a greater one (Relink's copy aside: see below), and an atomic
// batch is wholly before or after the cut (it holds its shards' locks
// together, as AddHook does).
//
// Each shard goes through three phases: pending (its entries not yet
// collected), collected (the save reads its entries with no lock held) and
// done (written out). Under shard s's write lock, a writer that unlinks an
// entry of version <= cut_[s] (replaced, deleted, expired, evicted,
// cleared) while s is not done is told to hand it over (kKeep) instead of
// freeing it; while s is pending the entry is also recorded, with the
// version and deadline it had (its version word is overwritten once it is
// kept), and so is the deadline of an entry expire() is about to change in
// place (OnDeadline). The save collects s under its shared lock: the
// table's entries of version <= cut_[s], then what was recorded (the first
// record of a version wins: it is what the entry was at the cut; a table
// entry whose version was recorded is left out). Once s is written out it
// is done: what was kept for it is freed, and later unlinks are freed as
// usual.
//
// Locks and ordering: records_[s] is written under s's write lock and
// taken under its shared lock, after which s is collected (the lock orders
// the two: no record is made after). done is stored (release) after the
// save's last read of s's entries and read (acquire) by OnChange, so a
// writer frees an entry only after those reads; Adopt (after the writer's
// locks) and Finish agree through mu_. A kept entry belongs to this hook
// from Adopt on and to the writer's Retired before: neither frees it while
// its shard is not done, and the save reads no field a writer still
// writes after the unlink (the version word: the recorded version is used).
class PointInTime final : public StoreHook {
 public:
  explicit PointInTime(const Store& store)
      : StoreHook(Wants(Change::kReplaced) | Wants(Change::kDeleted) | Wants(Change::kExpired) |
                  Wants(Change::kEvicted) | Wants(Change::kCleared) | kDeadlines),
        store_(store),
        cut_(store.shard_count(), 0),
        phase_(new std::atomic<uint8_t>[store.shard_count()]),
        records_(store.shard_count()),
        kept_(store.shard_count(), nullptr),
        kept_bytes_(store.shard_count(), 0) {
    for (uint32_t s = 0; s < store.shard_count(); ++s) phase_[s].store(kPending, std::memory_order_relaxed);
  }
  ~PointInTime() override {
    for (Entry* chain : kept_) FreeChain(chain);
  }

  void OnInstall(uint32_t shard, uint64_t last_version) noexcept override { cut_[shard] = last_version; }

  uint8_t OnChange(uint32_t shard, Change change, const Entry& e) noexcept override {
    if (change == Change::kSet) return kNothing;
    const uint8_t phase = phase_[shard].load(std::memory_order_acquire);
    if (phase == kDone || e.version > cut_[shard]) return kNothing;  // not in the file
    if (phase == kPending) Note(shard, e);
    return kKeep;
  }
  uint8_t OnDeadline(uint32_t shard, const Entry& e) noexcept override {
    if (phase_[shard].load(std::memory_order_relaxed) == kPending && e.version <= cut_[shard]) Note(shard, e);
    return kNothing;
  }
  // After the writer's locks: the entry is held until its shard is done (or
  // freed at once when it is done already, or the save is over).
  void Adopt(EntryPtr e) noexcept override {
    std::unique_lock guard(mu_);
    if (closed_) return;  // e freed (after the lock)
    const uint32_t s = store_.ShardOf(store_.Hash(e->key()));
    if (phase_[s].load(std::memory_order_relaxed) == kDone) {
      guard.unlock();
      return;
    }
    const uint64_t bytes = e->footprint();
    held_ += bytes;
    kept_bytes_[s] += bytes;
    peak_ = std::max(peak_, held_);
    Entry* raw = e.release();
    raw->next_unlinked = kept_[s];  // the entry is ours: its version word chains it
    kept_[s] = raw;
  }

  // The installed hook's cut of shard s (after AddHook).
  uint64_t cut(uint32_t s) const { return cut_[s]; }
  // Under s's shared lock, after its entries were walked: what was recorded
  // for s (moved out, no allocation), and s collected from now on. False
  // when a record could not be made (out of memory): the file would be
  // wrong, the save must fail.
  bool Collect(uint32_t s, RecordList* out) {
    out->swap(records_[s]);
    phase_[s].store(kCollected, std::memory_order_relaxed);
    return !failed_.load(std::memory_order_relaxed);
  }
  // After the save's last read of s's entries: what was kept for s goes,
  // and later unlinks from s are freed as usual.
  void Finish(uint32_t s) {
    Entry* chain = nullptr;
    {
      std::lock_guard guard(mu_);
      phase_[s].store(kDone, std::memory_order_release);
      chain = std::exchange(kept_[s], nullptr);
      held_ -= std::exchange(kept_bytes_[s], 0);
    }
    FreeChain(chain);
  }
  // The save is over (the hook removed): what is held goes, and what comes
  // later is freed.
  void Close() {
    std::vector<Entry*> chains;
    std::vector<RecordList> records;
    {
      std::lock_guard guard(mu_);
      closed_ = true;
      chains.swap(kept_);
      held_ = 0;
      // The per-shard state goes now, not when the store drops the hook
      // (it keeps every hook until it is destroyed): nothing calls OnChange
      // any more, and Adopt looks at nothing but closed_.
      records.swap(records_);
      std::vector<uint64_t>().swap(kept_bytes_);
      std::vector<uint64_t>().swap(cut_);
      phase_.reset();
    }
    for (Entry* chain : chains) FreeChain(chain);
  }
  uint64_t peak_bytes() {
    std::lock_guard guard(mu_);
    return peak_;
  }
  // Entries recorded (unlinked or given a new deadline before their shard
  // was collected), over the whole save.
  uint64_t records() const { return records_made_.load(std::memory_order_relaxed); }

  // Installs `pit` on `store` for the life of this object. ok() is false
  // when it could not be installed (the store has HookList::kMax hooks
  // already: the save copies each shard under its lock instead).
  class Installed {
   public:
    Installed(Store& store, std::shared_ptr<PointInTime> pit) : store_(store), pit_(std::move(pit)) {
      status_ = store_.AddHook(pit_);
    }
    ~Installed() {
      if (status_ == Status::kOk) (void)store_.RemoveHook(pit_.get());
      pit_->Close();  // after the removal: no entry is kept any more
    }
    Installed(const Installed&) = delete;
    Installed& operator=(const Installed&) = delete;
    bool ok() const { return status_ == Status::kOk; }
    Status status() const { return status_; }

   private:
    Store& store_;
    std::shared_ptr<PointInTime> pit_;
    Status status_;
  };

 private:
  static constexpr uint8_t kPending = 0, kCollected = 1, kDone = 2;

  // Under s's write lock: allocates (a new chunk now and then); a failure fails the save rather than leave a wrong
  // file.
  void Note(uint32_t s, const Entry& e) noexcept {
    try {
      records_[s].push_back({&e, e.version, e.expires_at});
      records_made_.fetch_add(1, std::memory_order_relaxed);
    } catch (...) {
      failed_.store(true, std::memory_order_relaxed);
    }
  }
  static void FreeChain(Entry* e) {
    EntryDeleter del;
    while (e != nullptr) {
      Entry* next = e->next_unlinked;
      del(e);
      e = next;
    }
  }

  const Store& store_;
  std::vector<uint64_t> cut_;                      // written under every write lock (OnInstall)
  std::unique_ptr<std::atomic<uint8_t>[]> phase_;  // kPending, kCollected, kDone
  std::vector<RecordList> records_;                // records_[s]: under s's lock
  std::atomic<bool> failed_{false};
  std::atomic<uint64_t> records_made_{0};
  std::mutex mu_;  // guards the rest
  std::vector<Entry*> kept_;
  std::vector<uint64_t> kept_bytes_;
  uint64_t held_ = 0;
  uint64_t peak_ = 0;
  bool closed_ = false;
};

// An entry collected for the file, with the deadline it is saved with and
// its version (read under the lock: once unlinked, its version word is
// not its version any more).
struct EntryRef {
  const Entry* entry;
  int64_t expires_at;
  uint64_t version;
};

// One save of a store at a time: two saves' PointInTime hooks would both ask
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
// (the way without a PointInTime hook: a writer to the shard waits for the
// whole copy).
Status CopyShard(const Store& store, uint32_t s, const ClockPair& clock, BlockCutter& cutter, uint64_t* top) {
  std::string& buf = cutter.buffer();
  return store.Scan(s, {}, [&](const Entry& e) {
    AppendEntry(buf, e.key(), e.kind, e.flags, e.value_data(), e.value_size, clock.ToWall(e.expires_at));
    *top = std::max(*top, e.version);
  });
}

// The entries of shard `s` at the cut: under the shard's shared lock, the
// table's entries with a version at most the cut's (with their deadlines,
// the one field a writer changes in place) and what `pit` recorded for the
// shard since the cut; then, with no lock held, the two merged: for each
// version the first record (the entry as it was at the cut) or else the
// table's entry. Collected entries stay alive until pit.Finish(s).
Status CollectShard(const Store& store, uint32_t s, const ClockPair& clock, PointInTime& pit,
                    std::vector<EntryRef>& refs, std::vector<Record>& records, bool* no_memory) {
  refs.clear();
  records.clear();
  const uint64_t cut = pit.cut(s);
  // Expired before the save began (absent at the cut): left out. An entry
  // that expires later is saved with its deadline (the loader skips it
  // once that has passed), whenever its shard is collected.
  auto Gone = [&](int64_t expires_at) { return expires_at > 0 && expires_at <= clock.steady_ns; };
  RecordList noted;  // freed after the lock
  bool ok = true;
  const Status st = store.ScanThen(
      s,
      [&](const Entry& e) {
        if (e.version <= cut && !Gone(e.expires_at)) refs.push_back({&e, e.expires_at, e.version});
      },
      [&] { ok = pit.Collect(s, &noted); });
  if (st != Status::kOk) return st;
  if (!ok) {
    *no_memory = true;
    return st;
  }
  if (noted.size() == 0) return st;
  records.reserve(noted.size());
  noted.ForEach([&](const Record& r) { records.push_back(r); });
  // By version, the first record of each first (stable), then one per version.
  std::stable_sort(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.version < b.version; });
  records.erase(
      std::unique(records.begin(), records.end(), [](const auto& a, const auto& b) { return a.version == b.version; }),
      records.end());
  // A table entry whose version was recorded was unlinked or given a new
  // deadline after the cut (Relink's copy has its source's version): the
  // record is what it was at the cut.
  std::erase_if(refs, [&](const EntryRef& r) {
    const auto at = std::lower_bound(records.begin(), records.end(), r.version,
                                     [](const Record& a, uint64_t v) { return a.version < v; });
    return at != records.end() && at->version == r.version;
  });
  for (const Record& r : records)
    if (!Gone(r.expires_at)) refs.push_back({r.entry, r.expires_at, r.version});
  return st;
}

// Writes shard `s` out from its entries themselves, with no lock held while
// their bytes are copied (CollectShard); `pit` keeps every entry writers
// unlink from the shard until this is done with it.
Status StreamShard(const Store& store, uint32_t s, const ClockPair& clock, BlockCutter& cutter, PointInTime& pit,
                   std::vector<EntryRef>& refs, std::vector<Record>& records, size_t block_bytes, Error* err,
                   bool* io_failed, bool* no_memory) {
  const Status st = CollectShard(store, s, clock, pit, refs, records, no_memory);
  bool ok = st == Status::kOk && !*no_memory;
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
  pit.Finish(s);  // after the last read of the shard's entries
  return st;
}

bool SaveStoreImpl(Store& store, const std::string& path, const SaveOptions& options, SaveInfo* info, Error* err,
                   Fs& fs) {
  *info = SaveInfo{};
  if (store.destroyed()) {
    *err = Destroyed();
    return false;
  }
  // One save of a store at a time (each save's hook keeps entries: at most one may).
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
  // in place and clears in O(1); with one, it does neither). The instant it
  // is installed is the file's point in time.
  auto pit = std::make_shared<PointInTime>(store);
  PointInTime::Installed installed(store, pit);
  if (installed.status() == Status::kDestroyed) {
    *err = Destroyed();
    return false;
  }
  std::vector<EntryRef> refs;
  std::vector<Record> records;
  size_t refs_peak = 0;
  for (uint32_t s = 0; s < shards; ++s) {
    uint64_t top = 0;
    bool io_failed = false, no_memory = false;
    Status st;
    if (installed.ok()) {
      st = StreamShard(store, s, clock, cutter, *pit, refs, records, block_bytes, err, &io_failed, &no_memory);
      top = pit->cut(s);  // every version the shard had handed out at the cut
      refs_peak = std::max(refs_peak, refs.capacity() * sizeof(EntryRef) + records.capacity() * sizeof(records[0]));
    } else {
      st = CopyShard(store, s, clock, cutter, &top);
    }
    if (io_failed) return false;
    if (st != Status::kOk) {
      *err = Destroyed();
      return false;
    }
    if (no_memory) throw std::bad_alloc();  // NoThrow: kNoMemory, the temporary file removed
    h.last_versions[s] = top;
    if (!cutter.Cut(s + 1 == shards, err)) return false;
  }
  h.v8_wire_version = cutter.v8_max();
  if (!writer.Commit(h, err)) return false;
  info->entries = writer.entries();
  info->bytes = writer.file_size();
  info->buffer_peak_bytes = std::max<uint64_t>(cutter.peak(), refs_peak);
  info->kept_peak_bytes = pit->peak_bytes();
  info->kept_records = pit->records();
  info->point_in_time = installed.ok();
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
