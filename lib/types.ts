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
   * 8-byte hash-table slot and 8 bytes of allocator header), 64 when the
   * policy is 'sieve' (16 bytes of eviction-queue links). Exact for the whole
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
  /** Bytes held, as `maxBytes` counts them: keys + values + 48 bytes per entry (64 when the store evicts). */
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
