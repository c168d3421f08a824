/** How values are turned into the bytes the store keeps. */
export type CodecName = 'v8' | 'json' | 'string' | 'buffer';

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
}

/** The options a store was created with, all filled in. */
export interface ResolvedStoreOptions {
  readonly codec: CodecName;
  readonly shards: number;
  readonly maxKeyBytes: number;
  readonly maxValueBytes: number;
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
export interface BatchOptions {
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
