/** How values are turned into the bytes the store keeps. */
export type CodecName = 'v8' | 'json' | 'string' | 'buffer';

/** What a write past a capacity limit does; see `StoreOptions.evictionPolicy`. */
export type EvictionPolicy = 'none' | 'sieve';

/**
 * Creation options of a store. They are fixed when a name is first opened in
 * the process; a later `Store.open` of the same name may repeat any of them
 * (it must then give the same value) or leave them out.
 */
export interface StoreOptions {
  /**
   * Value codec. Default `'v8'`: the structured clone algorithm (objects,
   * arrays, Map, Set, Date, RegExp, typed arrays, BigInt, null, undefined...),
   * with strings, numbers, booleans, null and undefined stored natively.
   * `'json'`: `JSON.stringify`/`JSON.parse`. `'string'`: strings only, stored
   * as text. `'buffer'`: bytes only (any TypedArray, DataView or ArrayBuffer
   * in; a `Buffer` out).
   */
  codec?: CodecName;
  /**
   * Number of shards, each a hash table with its own reader-writer lock: a
   * power of two from 1 to 65536. Default 64. `shards: 1` is one global lock.
   */
  shards?: number;
  /** Longest key accepted, in UTF-8 bytes. Default 65536 (64 KiB). */
  maxKeyBytes?: number;
  /** Largest value accepted, in bytes once encoded. Default 67108864 (64 MiB). */
  maxValueBytes?: number;
  /**
   * Most entries the store keeps: an integer from 1 to 2^53 - 1. Default: no
   * limit. The limit holds for the whole store, exactly: it is never passed,
   * and nothing is evicted or refused while the store holds fewer, however
   * its keys fall over the shards. See docs/operations.md for sizing.
   */
  maxEntries?: number;
  /**
   * Most bytes the store's entries may take: an integer from 1 to 2^53 - 1.
   * Default: no limit. An entry counts its key (UTF-8 bytes), its encoded
   * value and the native cost of an entry: 48 bytes (a 32-byte header, an
   * 8-byte hash-table slot and 8 bytes of allocator header); 16 more for an
   * entry that can expire (a TTL, or a store with `ttlMs`: its timer-wheel
   * links), and 16 more when the policy is 'sieve' (eviction-queue links). Exact for the whole
   * store like `maxEntries`; a single entry larger than `maxBytes` is refused
   * with a RangeError (code `ERR_THREADKV_OVER_BUDGET`), whatever the policy.
   */
  maxBytes?: number;
  /**
   * What a write past `maxEntries` or `maxBytes` does. `'sieve'` (the
   * default when a limit is given): other entries are evicted first, from
   * the written key's shard, then from others, each shard's chosen by SIEVE
   * (NSDI '24): reads only set a bit on the entry under the shared lock, so
   * they stay reads; an entry not read since the eviction hand last passed
   * it goes first. A write never evicts the
   * key it writes (nor, for an atomic `setMany`, any key of the batch).
   * `'none'` (the default with no limit, where it changes nothing): a write
   * past a limit throws a RangeError (code `ERR_THREADKV_STORE_FULL`) and
   * changes nothing.
   */
  evictionPolicy?: EvictionPolicy;
  /**
   * Default time to live of every entry written, in milliseconds: an
   * integer from 1 up. Default: entries never expire. A write may give its
   * own (`set(key, value, { ttlMs })`, also `setIfAbsent`, `getOrSet`,
   * `setMany`); `expire(key, ttlMs)` changes a present key's. Writes that
   * take no options (`swap`, `compareAndSet`, `update`, `increment` of an
   * absent key) use this default; an `increment` of a present counter keeps
   * its deadline. An expired entry is invisible at once to every operation
   * on every thread (the deadline is checked under the lock, on a monotonic
   * clock); a background thread reclaims its memory within about 100 ms
   * (see docs/operations.md).
   */
  ttlMs?: number;
  /**
   * This handle's choice, not a store option (it is never compared with
   * other opens, and not in `options`). Binary results (typed arrays,
   * DataView, Buffer, also inside objects) up to 16 KiB are by default views
   * into a per-thread pool, as `Buffer.allocUnsafe` pools small Buffers: their
   * `.buffer` is shared with other results, their `byteOffset` may be
   * non-zero, and they cannot be transferred. `true`: every binary result
   * owns its ArrayBuffer (`byteOffset` 0, transferable), at the cost of an
   * allocation per result. Default `false`.
   */
  privateBuffers?: boolean;
}

/** Options of a single write: `set`, `setIfAbsent`, `getOrSet`. */
export interface WriteOptions {
  /**
   * This entry's time to live in milliseconds (a number above 0), or
   * `Infinity` for no expiry; overrides the store's `ttlMs`. Left out: the
   * store's `ttlMs` (if any).
   */
  ttlMs?: number;
}

/** The options a store was created with, all filled in. */
export interface ResolvedStoreOptions {
  readonly codec: CodecName;
  readonly shards: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
  /** Present only when the store has an entry limit. */
  readonly maxEntries?: number;
  /** Present only when the store has a byte limit. */
  readonly maxBytes?: number;
  /** Present only when the store has a limit (or was given `'sieve'`). */
  readonly evictionPolicy?: EvictionPolicy;
  /** Present only when the store has a default time to live. */
  readonly ttlMs?: number;
}

/**
 * Counters and sizes of a store (`Store#stats`), summed over its shards.
 * Counters count from the store's creation, across every thread, and only
 * go up (`clear()` resets none of them). Each shard is read under its own
 * lock in turn: the sum is not one atomic snapshot of the whole store.
 */
export interface StoreStats {
  /**
   * Entries held, including expired ones the sweep has not reclaimed yet
   * (`size` leaves those out).
   */
  readonly entries: number;
  /**
   * Bytes held, as `maxBytes` counts them: keys + values + 48 bytes per entry
   * (+16 for an entry with a TTL, +16 when the store evicts).
   */
  readonly bytes: number;
  /** Reads (`get`, `has`, `getEntry`, `ttl`, `getMany` per key, `getOrSet` of a present key) that found the key. */
  readonly hits: number;
  /** Reads that did not find the key. */
  readonly misses: number;
  /** Writes that stored an entry (each key of a `setMany` counts). */
  readonly sets: number;
  /** Entries removed by `delete`, `take`, `compareAndDelete`, `deleteMany` (not `clear`). */
  readonly deletes: number;
  /** Entries removed to make room under `maxEntries` / `maxBytes`. */
  readonly evictions: number;
  /**
   * Expired entries removed (by the background sweep, or by a write or
   * eviction that met them first).
   */
  readonly expirations: number;
  /** Times a reader found its shard's lock held by a writer and had to wait. */
  readonly contendedReads: number;
  /** Times a writer found its shard's lock held and had to wait. */
  readonly contendedWrites: number;
  /** Number of shards. */
  readonly shards: number;
  /**
   * Expiry work: entries with a TTL moved down a level of their shard's
   * timer wheel as their deadline came nearer (each at most once per level,
   * a few times over its life).
   */
  readonly expiryCascades: number;
  /**
   * Expiry work: times the background sweep took a shard's write lock to
   * remove expired entries (each hold does a bounded amount of work, about
   * a millisecond at most). Stays still while nothing expires.
   */
  readonly sweeps: number;
  /** `getOrCompute` / `getOrComputeSync`: computations led (factory calls started). */
  readonly loads: number;
  /** Callers that joined a computation another caller (in any thread) was running, instead of computing. */
  readonly loadsJoined: number;
  /** Computations whose factory threw (or whose value could not be stored): the error was shared, not cached. */
  readonly loadErrors: number;
  /** Joined callers that stopped waiting at their `waitTimeoutMs`. */
  readonly loadTimeouts: number;
  /**
   * Computations taken from their leader: its thread exited or was
   * terminated, its `leaseMs` ran out, or its factory gave up after its
   * signal aborted. Their waiting callers took over.
   */
  readonly leadersLost: number;
  /** Computations running now (a snapshot). */
  readonly flightsInProgress: number;
  /** Open watchers of the store (`watch`), over every thread (a snapshot). */
  readonly watchers: number;
}

/**
 * What `getOrCompute` passes its factory besides the key.
 */
export interface ComputeContext {
  /**
   * Aborted when the computation is no longer needed: the key was written
   * (`set`, `delete`, `clear`, `take`...) while it ran, so its value will not
   * be stored (its callers still get it if the factory finishes), or its
   * `leaseMs` ran out and another caller took it over (its result will be
   * discarded). A factory that stops with an error once this aborted is not
   * a failure: its callers call again (and see what the write left, or
   * join the new computation).
   */
  readonly signal: AbortSignal;
}

/** Options of `Store#getOrComputeSync`. */
export interface GetOrComputeSyncOptions extends WriteOptions {
  /**
   * How long this caller waits for a computation another caller runs
   * before it gives up with an Error of code `ERR_THREADKV_COMPUTE_TIMEOUT`
   * (the computation goes on for the others). Milliseconds from 0 up, or
   * `Infinity` (the default). Counted from the call; it does not bound this
   * caller's own factory when it is the one computing.
   */
  waitTimeoutMs?: number;
  /**
   * When this caller computes: how long the others wait for it before they
   * count it as hung and one of them computes instead (its late result is
   * then discarded). Milliseconds above 0, or `Infinity`. Default 60000.
   */
  leaseMs?: number;
}

/** Options of `Store#getOrCompute`. */
export interface GetOrComputeOptions extends GetOrComputeSyncOptions {
  /**
   * Aborting it makes this call reject with an `AbortError` (the signal's
   * reason as its `cause`); the computation goes on for its other callers,
   * even when this caller is the one running the factory.
   */
  signal?: AbortSignal;
}

/** Native memory of a store, from one atomic look at every shard. */
export interface StoreMemory {
  /** Number of entries. */
  readonly entries: number;
  /** Bytes held by entries: per-entry header, key bytes and value bytes. */
  readonly entryBytes: number;
  /** Bytes held by the shards' hash-table slot arrays. */
  readonly slotBytes: number;
}

/**
 * A value with its version (`Store#getEntry`). Every write to a key gives it
 * a new version; see `Store#getEntry` for what versions promise.
 */
export interface VersionedEntry<V> {
  readonly value: V;
  readonly version: number;
}

/** Options of `Store#setMany` and `Store#deleteMany`. */
export interface BatchOptions extends WriteOptions {
  /**
   * `true`: all or nothing, and seen at once by every reader (the write locks
   * of every shard involved are held together). Default `false`: each key
   * is written atomically on its own, one after another.
   */
  atomic?: boolean;
}

/** Options of `Store#update`. */
export interface UpdateOptions {
  /**
   * How many times `update` retries after losing a race (another thread
   * changed the key between its read and its write) before it throws an
   * Error with code `ERR_THREADKV_UPDATE_CONTENDED`. An integer from 0 up.
   * Default 1000.
   */
  maxRetries?: number;
}

/** Options of `Store#keys`, `Store#values` and `Store#entries`. */
export interface IterateOptions {
  /** Only keys that start with this string (compared as JS strings). */
  prefix?: string;
}

/** The kinds of change a watcher can ask for (`WatchOptions.events`). */
export type WatchEventType = 'set' | 'delete' | 'expire' | 'evict' | 'clear';

/** The `type` of a `ChangeEvent`: a change, or the notice that some were lost. */
export type ChangeType = WatchEventType | 'overflow';

/** Options of `Store#watch`. */
export interface WatchOptions {
  /** Only keys starting with this string (not with `key`). Left out with `key`: the whole store. */
  prefix?: string;
  /** Only this key (not with `prefix`). */
  key?: string;
  /**
   * Only these kinds of change (default: all five). A `clear` reaches every
   * watcher that asks for it, whatever its `prefix` or `key`; an `overflow`
   * reaches every watcher that lost events.
   */
  events?: WatchEventType[];
  /**
   * At most this many events wait for this watcher (default 10000, from 1 to
   * 2^32 - 1); past it, events are dropped and counted, and the next batch
   * ends with one `overflow` event saying how many. Bounds the watcher's
   * memory: about 40 bytes plus the key per waiting event.
   */
  maxQueue?: number;
  /** Aborting it closes the watcher (a `for await` loop over it then throws an `AbortError`). */
  signal?: AbortSignal;
}

/** One change, as a watcher delivers it (in batches: `ChangeEvent[]`). */
export interface ChangeEvent {
  /**
   * `set`: the key got a new value (`set`, `put`, `setMany`, `swap`,
   * `update`, `increment`, `setIfAbsent` / `getOrSet` that inserted,
   * `compareAndSet`, `getOrCompute` storing its value). `delete`: the key
   * was removed (`delete`, `take`, `compareAndDelete`, `deleteMany`,
   * `update` returning undefined). `expire`: removed after its deadline
   * passed. `evict`: removed to make room under `maxEntries` / `maxBytes`.
   * `clear`: `clear()` (or `Store.destroy`) removed every key. `overflow`:
   * this watcher's queue was full and `lost` events were dropped: re-read
   * what you need from the store.
   */
  type: ChangeType;
  /** The key; `''` for `clear` and `overflow`. */
  key: string;
  /**
   * `set`: the key's new version (what `getEntry` and `compareAndSet` see);
   * `delete`, `expire`, `evict`: the version of the entry removed; 0 for
   * `clear` and `overflow`.
   */
  version: number;
  /**
   * Per store, strictly increasing in the order the writes took effect
   * (their linearization order), over every key and thread. A watcher sees
   * its events in seq order; seqs of changes it does not watch are skipped.
   * An `overflow` carries the seq of the last event it lost.
   */
  seq: number;
  /** `overflow` only: how many events this watcher dropped. */
  lost?: number;
}

/** Options of `Store#snapshot` and `Store#snapshotSync`. */
export interface SnapshotOptions {
  /**
   * `true` (default): fsync the new file before it replaces `path`, and the
   * directory after, so that the snapshot survives a power loss or an OS
   * crash. `false`: skip both; a process crash (even SIGKILL) still leaves
   * `path` complete, old or new, but a power loss may not.
   */
  fsync?: boolean;
}

/** Options of `Store#restore` and `Store#restoreSync`. */
export interface RestoreOptions {
  /**
   * `'replace'` (default): the store's content becomes the file's (keys not
   * in the file are removed). `'fillMissing'`: keys already present are
   * kept; only absent ones are written from the file.
   */
  mode?: 'replace' | 'fillMissing';
  /**
   * `'throw'` (default): a corrupt, truncated or foreign file throws an
   * Error (code `ERR_THREADKV_SNAPSHOT_CORRUPT`) and the store is left
   * exactly as it was. `'skip'`: every intact block is loaded and the
   * damaged ones are counted in `skippedCorrupt` (a damaged header still
   * throws: nothing in the file can be trusted then).
   */
  onCorrupt?: 'throw' | 'skip';
}

/** What `Store#snapshot` wrote. */
export interface SnapshotInfo {
  /** The path written, as given. */
  path: string;
  /** Entries in the file. */
  entries: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Milliseconds the call took. */
  ms: number;
}

/** What `Store#restore` loaded. */
export interface RestoreInfo {
  /** Entries written into the store. */
  entries: number;
  /** Entries of the file whose time to live had run out: not restored. */
  skippedExpired: number;
  /**
   * Blocks of the file that could not be loaded (`onCorrupt: 'skip'`); a
   * damaged or missing end of file counts as one. Always 0 with 'throw'.
   */
  skippedCorrupt: number;
  /** Size of the file in bytes. */
  bytes: number;
  /** Milliseconds the call took. */
  ms: number;
}
