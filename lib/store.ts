// The Store class: a handle on a named native store. Handles are per thread
// (about 10 us to open: keep one per thread rather than one per request);
// the data lives in the native registry, shared by every thread.
import { debuglog, types } from 'node:util';
import { threadId } from 'node:worker_threads';
import { cells, codecs, IN_LENGTH, IN_TAG, privateCodecs, settle, type Codec } from './codec';
import { computeAsync, computeOptions, computeSync, type ComputeHost } from './compute';
import { abortError, describeType, invalidArgument, updateContended } from './errors';
import { native, out, type BoundMethods, type NativeHandle, type NativeValue } from './native';
import { normalizeOptions, validateName, validateTtl } from './options';
import { openWatcher, type Watcher } from './watch';
import * as snapshots from './snapshot';
import type {
  BatchOptions,
  ComputeContext,
  GetOrComputeOptions,
  GetOrComputeSyncOptions,
  IterateOptions,
  ResolvedStoreOptions,
  RestoreInfo,
  RestoreOptions,
  SnapshotInfo,
  SnapshotOptions,
  StoreMemory,
  StoreOptions,
  StoreStats,
  UpdateOptions,
  VersionedEntry,
  WatchOptions,
  WriteOptions,
} from './types';

// NODE_DEBUG=threadkv: opens, destroys, and eviction / expiration totals as
// seen by stats() (never one line per operation), each line tagged with the
// thread that wrote it (threadId: 0 is the main thread).
const debuglogger = debuglog('threadkv');
const debug = Object.assign((message: string) => debuglogger(`[thread ${threadId}] ${message}`), {
  get enabled() {
    return debuglogger.enabled;
  },
});

/** `update`'s retry bound when the caller gives none. */
export const DEFAULT_UPDATE_RETRIES = 1000;

// Backoff between update() attempts: the first few retries are immediate,
// then a random wait that doubles up to 1 ms (Atomics.wait on a private cell
// that nobody notifies: a sleep that works on the main thread and in
// workers alike).
const backoffCell = new Int32Array(new SharedArrayBuffer(4));
function backoff(attempt: number): void {
  if (attempt < 3) return;
  const ceilingMs = Math.min(1, 0.004 * 2 ** Math.min(attempt - 3, 8));
  Atomics.wait(backoffCell, 0, 0, ceilingMs * Math.random());
}

const enum Scan {
  Keys,
  Values,
  Entries,
}

/**
 * `getOrSet`'s check of its argument: a factory that returns a Promise (or
 * another thenable) is a type error whose message names the way out.
 */
// What getOrSet takes: a value or a factory of the key. Spelled so that
// `V | factory` does not collapse to `unknown` when V is unknown (the
// factory's parameter would then get no type from context).
// (`{} | null | undefined` is `unknown` for assignability, but keeps the
// factory member apart.)
type ValueOrFactory<V> = unknown extends V
  ? // biome-ignore lint/complexity/noBannedTypes: {} | null | undefined is exactly unknown, spelled as a union
    {} | null | undefined | ((key: string) => unknown)
  : V | ((key: string) => unknown);

export type GetOrSetArgument<A, V> = A extends (key: string) => infer R
  ? [R] extends [never] // a factory that only throws
    ? unknown
    : [R] extends [PromiseLike<unknown>]
      ? 'getOrSet needs a synchronous factory, and this one returns a Promise: use getOrCompute for an async factory'
      : (key: string) => V
  : unknown;

function isThenable(value: unknown): boolean {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/**
 * A handle on a named store shared by every thread of the process.
 *
 * Concurrency: every single-key method is atomic and linearizable with
 * respect to every other call on the same store, from any thread, the
 * compound ones (`setIfAbsent`, `getOrSet`, `swap`, `take`,
 * `compareAndSet`, `compareAndDelete`, `increment`) included: each is one
 * step under its key's shard lock. `update` is a retry loop of such steps.
 * `getMany` reads its keys as one snapshot; `setMany` / `deleteMany` are
 * atomic per key, or as a whole with `{ atomic: true }`. Iteration is weakly
 * consistent (see `entries`). `get` returns a copy; no method ever exposes
 * memory another thread can change, and no lock is ever held while
 * JavaScript runs (a factory, an `update` function, a loop over an
 * iterator).
 */
export class Store<V = unknown> {
  /** The store's name. */
  readonly name: string;
  /** The options the store was created with. */
  readonly options: ResolvedStoreOptions;
  readonly #handle: NativeHandle;
  // The handle's per-key methods (native.bind).
  readonly #get: BoundMethods[0];
  readonly #set: BoundMethods[1];
  readonly #has: BoundMethods[2];
  readonly #delete: BoundMethods[3];
  readonly #getEntry: BoundMethods[4];
  readonly #codec: Codec;
  readonly #maxValueBytes: number;
  // What getOrCompute needs of this handle (made on its first miss).
  #computeHost: ComputeHost<V> | undefined;
  // What the last stats() call on this handle saw, for the debug log's deltas.
  #loggedEvictions = 0;
  #loggedExpirations = 0;

  private constructor(name: string, handle: NativeHandle, options: ResolvedStoreOptions, privateBuffers: boolean) {
    this.name = name;
    this.#handle = handle;
    [this.#get, this.#set, this.#has, this.#delete, this.#getEntry] = native.bind(handle);
    this.options = options;
    this.#codec = (privateBuffers ? privateCodecs : codecs)[options.codec];
    this.#maxValueBytes = options.maxValueBytes;
  }

  /**
   * Opens the store called `name`, creating it the first time the name is
   * opened in this process, from any thread; later opens, from any thread,
   * attach to the same data. Options given must equal the store's creation
   * options (an Error names the one that differs); options left out are
   * taken from the existing store. Opening costs about 10 µs (the handle's
   * native methods are made for it, so that each later call is cheaper):
   * open a store once per thread and keep the handle.
   */
  static open<V = unknown>(name: string, options?: StoreOptions): Store<V> {
    validateName(name);
    const o = normalizeOptions(options);
    const r = native.open({
      name,
      codec: o.codec,
      shards: o.shards,
      maxKeyBytes: o.maxKeyBytes,
      maxValueBytes: o.maxValueBytes,
      maxEntries: o.maxEntries,
      maxBytes: o.maxBytes,
      evictionPolicy: o.evictionPolicy,
      ttlMs: o.ttlMs,
      specified: o.specified,
    });
    const resolved: {
      codec: ResolvedStoreOptions['codec'];
      shards: number;
      maxKeyBytes: number;
      maxValueBytes: number;
      maxEntries?: number;
      maxBytes?: number;
      evictionPolicy?: ResolvedStoreOptions['evictionPolicy'];
      ttlMs?: number;
    } = { codec: r.codec as ResolvedStoreOptions['codec'], shards: r.shards, maxKeyBytes: r.maxKeyBytes, maxValueBytes: r.maxValueBytes };
    if (r.maxEntries !== 0) resolved.maxEntries = r.maxEntries;
    if (r.maxBytes !== 0) resolved.maxBytes = r.maxBytes;
    if (r.maxEntries !== 0 || r.maxBytes !== 0 || r.evictionPolicy !== 'none') {
      resolved.evictionPolicy = r.evictionPolicy as ResolvedStoreOptions['evictionPolicy'];
    }
    if (r.ttlMs !== 0) resolved.ttlMs = r.ttlMs;
    if (debug.enabled)
      debug(`${r.created ? 'created' : 'attached to'} store ${JSON.stringify(name)} ${JSON.stringify(resolved)}`);
    const handle = r.handle;
    return new Store<V>(name, handle, Object.freeze(resolved), o.privateBuffers);
  }

  /**
   * Frees the store called `name` and all its data. Every handle on it then
   * throws on use; a later `open` of the name creates a new, empty store.
   * Returns true if the store existed.
   */
  static destroy(name: string): boolean {
    validateName(name);
    const existed = native.destroy(name);
    if (debug.enabled) debug(`destroy store ${JSON.stringify(name)}: ${existed ? 'destroyed' : 'no such store'}`);
    return existed;
  }

  /** Names of the stores that exist in this process. */
  static list(): string[] {
    return native.names();
  }

  /** The value stored under `key` (a fresh copy), or undefined. */
  get(key: string): V | undefined {
    return this.#codec.decode(this.#get(key)) as V | undefined;
  }

  /**
   * Inserts or overwrites `key`. `options.ttlMs`: this entry's time to live
   * (see `WriteOptions`); left out, the store's `ttlMs`.
   */
  set(key: string, value: V, options?: WriteOptions): this {
    if (options === undefined) this.#set(key, this.#encode(key, value));
    else this.#set(key, this.#encode(key, value), this.#ttl(options, 'set'));
    return this;
  }

  /**
   * Milliseconds left before `key` expires; `Infinity` when it has no
   * expiry; undefined when it is absent (or expired).
   */
  ttl(key: string): number | undefined {
    return native.ttl(this.#handle, key);
  }

  /**
   * Gives a present `key` a new time to live (`Infinity`: never expires),
   * counted from now, atomically. Returns false (and changes nothing) when
   * the key is absent or already expired.
   */
  expire(key: string, ttlMs: number): boolean {
    const ttl = validateTtl(ttlMs, (Ctor, message) => invalidArgument(Ctor, this.name, 'expire', message));
    if (ttl === undefined) throw invalidArgument(TypeError, this.name, 'expire', 'ttlMs must be a number, got undefined');
    return native.expire(this.#handle, key, ttl);
  }

  #ttl(options: WriteOptions | undefined, method: string): number | undefined {
    if (options === undefined) return undefined;
    if (options === null || typeof options !== 'object') {
      throw invalidArgument(TypeError, this.name, method, `options must be an object, got ${describeType(options)}`);
    }
    return validateTtl(options.ttlMs, (Ctor, message) => invalidArgument(Ctor, this.name, method, `options.${message}`));
  }

  /** Same as `set`. */
  put(key: string, value: V, options?: WriteOptions): this {
    return this.set(key, value, options);
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return this.#has(key);
  }

  /** Removes `key`; true if it was present. */
  delete(key: string): boolean {
    return this.#delete(key);
  }

  /** Removes every entry, atomically (all shards at once). */
  clear(): void {
    native.clear(this.#handle);
  }

  /**
   * Number of entries, read atomically across all shards (it takes every
   * shard's read lock in turn: O(shards), not free).
   */
  get size(): number {
    return native.size(this.#handle);
  }

  /** Native memory held by the store, read atomically across all shards. */
  memory(): StoreMemory {
    const [entries, entryBytes, slotBytes] = native.memory(this.#handle);
    return { entries, entryBytes, slotBytes };
  }

  /**
   * Counters and sizes of the store, summed over its shards (see
   * `StoreStats`; docs/operations.md shows how to size shards and limits
   * from them). Takes each shard's read lock in turn: O(shards). With
   * NODE_DEBUG=threadkv, logs the evictions and expirations since this
   * handle's previous call.
   */
  stats(): StoreStats {
    const [entries, bytes, hits, misses, sets, deletes, evictions, expirations, contendedReads, contendedWrites, shards, expiryCascades, sweeps] =
      native.stats(this.#handle) as [number, number, number, number, number, number, number, number, number, number, number, number, number];
    if (debug.enabled && (evictions !== this.#loggedEvictions || expirations !== this.#loggedExpirations)) {
      debug(
        `store ${JSON.stringify(this.name)}: ${evictions - this.#loggedEvictions} evictions, ` +
          `${expirations - this.#loggedExpirations} expirations since the last stats() on this handle; ` +
          `${entries} entries, ${bytes} bytes`,
      );
    }
    this.#loggedEvictions = evictions;
    this.#loggedExpirations = expirations;
    const [loads, loadsJoined, loadErrors, loadTimeouts, leadersLost, flightsInProgress] = native.computeStats(this.#handle) as [
      number, number, number, number, number, number,
    ];
    return {
      entries, bytes, hits, misses, sets, deletes, evictions, expirations, contendedReads, contendedWrites, shards,
      expiryCascades, sweeps, loads, loadsJoined, loadErrors, loadTimeouts, leadersLost, flightsInProgress,
      watchers: native.watchCount(this.#handle),
    };
  }

  /**
   * Makes this handle unusable (every method then throws). The data stays in
   * the store for other handles and threads. Closing twice is a no-op.
   */
  close(): void {
    native.close(this.#handle);
  }

  // ---- Compound single-key operations ----

  /**
   * Stores `value` only if `key` is absent, atomically. Returns true if it
   * stored, false (and changes nothing) if the key was present.
   */
  setIfAbsent(key: string, value: V, options?: WriteOptions): boolean {
    return native.setIfAbsent(this.#handle, key, this.#encode(key, value), this.#ttl(options, 'setIfAbsent'));
  }

  /**
   * The value under `key` if present; otherwise stores `valueOrFactory` (or
   * what the factory returns) and returns it, atomically: when several
   * threads race on an absent key, exactly one stores and all of them return
   * that one value. A function argument is a factory, called with the key:
   * outside any lock, at most once per call, and only if the key was absent
   * when looked at (its result is thrown away if another thread stores
   * first). Every caller gets a fresh copy of the one stored value, the
   * inserting caller too (decoded from what was stored, so all racing
   * callers get equal values under every codec: a `json` store returns the
   * JSON round trip, a `buffer` store a Buffer).
   *
   * With a factory, it **may compute twice**: threads that miss at the same
   * moment each run their factory, and one value wins. To compute once per
   * key for the whole process, use `getOrCompute` (or `getOrComputeSync`).
   */
  getOrSet<A extends ValueOrFactory<V>>(key: string, valueOrFactory: A & GetOrSetArgument<A, V>, options?: WriteOptions): V;
  getOrSet(key: string, valueOrFactory: V | ((key: string) => V), options?: WriteOptions): V {
    const h = this.#handle;
    const ttl = this.#ttl(options, 'getOrSet');
    let value: V;
    if (typeof valueOrFactory === 'function') {
      const present = this.#getEntry(key);
      if (out[0] !== 0) return this.#decode(present);
      value = (valueOrFactory as (key: string) => V)(key);
      if (isThenable(value)) {
        throw invalidArgument(
          TypeError,
          this.name,
          'getOrSet',
          `the factory for key ${JSON.stringify(key)} returned a Promise (a thenable); getOrSet stores what the factory returns, ` +
            'synchronously: use getOrCompute for an async factory (nothing was stored)',
        );
      }
    } else {
      value = valueOrFactory;
    }
    const encoded = this.#encode(key, value);
    const tag = cells[IN_TAG]!;
    const length = cells[IN_LENGTH]!;
    const present = native.getOrSet(h, key, encoded, ttl);
    return out[0] === 1 ? (this.#codec.storedCopy(encoded, tag, length) as V) : this.#decode(present);
  }

  /**
   * The value under `key`; if it is absent, computes it **once for the
   * whole process**: exactly one caller, in whatever thread, runs its
   * `factory(key, { signal })` (in its own thread, outside every lock), and
   * every caller that asks for the key meanwhile, in any thread, waits for
   * that one computation instead of running its own. The value is then
   * stored (with `options.ttlMs`) and every waiting caller gets a copy of it
   * (decoded from the leader's bytes, so an eviction or overwrite right after
   * cannot turn it into undefined).
   *
   * - Hit: the stored value (a copy, as `get`), for a `get` and a promise.
   * - The factory's error (thrown, or a rejected promise) rejects every
   *   waiting caller with an equal error (name, message, `code` and other
   *   own properties, structured-cloned) and is not cached: the next call
   *   computes again.
   * - A write to the key (`set`, `put`, `delete`, `take`, `clear`, any other
   *   write) while it computes: the value is still handed to its callers but
   *   not stored, and `ctx.signal` aborts.
   * - If the computing thread exits or is terminated, or its factory has not
   *   settled after `options.leaseMs` (default 60 s), a waiting caller takes
   *   over with its own factory; a late result of the first is discarded.
   * - `options.waitTimeoutMs` / `options.signal` stop only this caller's wait
   *   (an Error with code `ERR_THREADKV_COMPUTE_TIMEOUT` / an `AbortError`).
   * - A pending call keeps its thread's event loop alive, like a pending
   *   `fetch`.
   *
   * Concurrency: deciding "hit, compute or wait" is one atomic step under
   * the key's shard lock, so two callers can never both compute one missing
   * key, in the same thread or in two. A factory that awaits its own key
   * waits for itself until its lease runs out: do not.
   */
  getOrCompute(
    key: string,
    factory: (key: string, ctx: ComputeContext) => V | Promise<V>,
    options?: GetOrComputeOptions,
  ): Promise<V> {
    try {
      const o = computeOptions(this.name, 'getOrCompute', options, false);
      if (typeof factory !== 'function') {
        this.#precheck(key);
        throw invalidArgument(TypeError, this.name, 'getOrCompute', `factory must be a function, got ${describeType(factory)}`);
      }
      if (o.signal?.aborted) {
        this.#precheck(key);
        throw abortError(o.signal);
      }
      const raw = this.#getEntry(key);
      if (out[0] !== 0) return Promise.resolve(this.#decode(raw));
      return computeAsync(this.#compute(), key, factory, o);
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * `getOrCompute` for synchronous factories: returns the value, blocking
   * this thread while another thread computes it (in native waits of a few
   * milliseconds, so `worker.terminate()` still stops it at once). A call
   * for a key that this very thread is computing (from inside the factory,
   * or while a `getOrCompute` of this thread computes it) throws an Error
   * with code `ERR_THREADKV_RECURSIVE_COMPUTE` instead of waiting forever.
   * Allowed on the main thread, where a wait blocks the event loop like any
   * synchronous call. `options`: `ttlMs`, `waitTimeoutMs`, `leaseMs` as for
   * `getOrCompute` (no `signal`: nothing else can run while it blocks).
   */
  getOrComputeSync(key: string, factory: (key: string) => V, options?: GetOrComputeSyncOptions): V {
    const o = computeOptions(this.name, 'getOrComputeSync', options, true);
    if (typeof factory !== 'function') {
      this.#precheck(key);
      throw invalidArgument(TypeError, this.name, 'getOrComputeSync', `factory must be a function, got ${describeType(factory)}`);
    }
    const raw = this.#getEntry(key);
    if (out[0] !== 0) return this.#decode(raw);
    return computeSync(this.#compute(), key, factory, o);
  }

  #compute(): ComputeHost<V> {
    if (this.#computeHost === undefined) {
      // The format the last encode gave its bytes (the value cells are read
      // by the very next native call, computeComplete, which resets them).
      let tag = 0;
      let length = 0;
      this.#computeHost = {
        name: this.name,
        handle: this.#handle,
        decode: (raw) => this.#decode(raw),
        encode: (key, value) => {
          const encoded = this.#encode(key, value);
          tag = cells[IN_TAG]!;
          length = cells[IN_LENGTH]!;
          return encoded;
        },
        storedCopy: (encoded) => this.#codec.storedCopy(encoded, tag, length) as V,
      };
    }
    return this.#computeHost;
  }

  /**
   * Watches the store for changes made from any thread: returns a `Watcher`
   * that delivers them on this thread, in batches (`ChangeEvent[]`), to its
   * `'change'` listeners and to `for await (const batch of watcher)`.
   * `options.key` / `options.prefix` limit it to one key / the keys under a
   * prefix (neither: the whole store); `options.events` to some kinds of
   * change (`set`, `delete`, `expire`, `evict`, `clear`).
   *
   * - Every write through any method emits its events: one per key written
   *   or removed (an atomic `setMany` / `deleteMany` as consecutive `seq`s
   *   in one batch), one `clear` per `clear()` to every watcher whatever its
   *   key or prefix, `expire` when the background sweep (or a write) removes
   *   an expired entry, `evict` per entry evicted. Setting a TTL with
   *   `expire()` changes no value and emits nothing.
   * - Events of one key arrive in version order; `seq` increases strictly
   *   in the order the writes took effect, across keys and threads. When an
   *   event is delivered, its write is visible to `get` from every thread.
   * - Delivery is asynchronous (never inside a write, never on the writer's
   *   thread), in batches, while something consumes: events wait (in native
   *   memory) while the watcher has no `'change'` listener and no iteration
   *   waiting in `next()`.
   * - A writer never waits for a watcher. At most `options.maxQueue` events
   *   (default 10000) wait for one watcher; past that they are dropped and
   *   counted, and the next batch ends with one `overflow` event (`lost`:
   *   how many): re-read the store.
   * - An `expire` event comes at most one sweep interval (100 ms) plus the
   *   sweep's own pass after the entry's deadline (docs/concurrency.md).
   * - The watcher keeps its thread alive until `close()` (or `unref()`); it
   *   is closed when its thread exits, when its `options.signal` aborts, and
   *   when the store is destroyed (after a last `clear`). It does not depend
   *   on this handle: closing the handle leaves it open.
   */
  watch(options?: WatchOptions): Watcher {
    return openWatcher({ name: this.name, handle: this.#handle, maxKeyBytes: this.options.maxKeyBytes }, options);
  }

  /** Stores `value` and returns the value it replaced (undefined if absent), atomically. */
  swap(key: string, value: V): V | undefined {
    return this.#decode(native.swap(this.#handle, key, this.#encode(key, value)));
  }

  /** Removes `key` and returns its value (undefined if absent), atomically. */
  take(key: string): V | undefined {
    return this.#decode(native.take(this.#handle, key));
  }

  /**
   * The value under `key` and its version, read together, or undefined.
   *
   * Versions: every write to a key (set, setIfAbsent, getOrSet's insert,
   * swap, compareAndSet, increment, update, setMany) gives it a new version.
   * One key's versions strictly increase and are never reused, not even
   * after the key is deleted (or the store cleared) and written again, so a
   * version names one write (no ABA). Versions are positive integers below
   * 2^53 (safe JS integers), meaningful only for their own key and store:
   * they are not counts, and two keys may share a version.
   */
  getEntry(key: string): VersionedEntry<V> | undefined {
    const raw = this.#getEntry(key);
    const version = out[0]!;
    return version === 0 ? undefined : { value: this.#decode(raw), version };
  }

  /**
   * Stores `value` only if `key`'s current version is `expectedVersion` (from
   * getEntry), or, with `expectedVersion` null, only if `key` is absent.
   * Returns true if it stored. A number that is not a version never matches.
   */
  compareAndSet(key: string, expectedVersion: number | null, value: V): boolean {
    if (expectedVersion !== null && typeof expectedVersion !== 'number') {
      this.#precheck(key);
      throw invalidArgument(TypeError, this.name, 'compareAndSet', `expectedVersion must be a number or null, got ${describeType(expectedVersion)}`);
    }
    return native.compareAndSet(this.#handle, key, expectedVersion, this.#encode(key, value));
  }

  /** Deletes `key` only if its current version is `expectedVersion`. Returns true if it deleted. */
  compareAndDelete(key: string, expectedVersion: number): boolean {
    if (typeof expectedVersion !== 'number') {
      this.#precheck(key);
      throw invalidArgument(TypeError, this.name, 'compareAndDelete', `expectedVersion must be a number, got ${describeType(expectedVersion)}`);
    }
    return native.compareAndDelete(this.#handle, key, expectedVersion);
  }

  /**
   * Read-modify-write: stores `fn(current)` (current is undefined when the
   * key is absent) and returns it; if `fn` returns undefined the key is
   * deleted (or left absent) and undefined is returned.
   *
   * Optimistic: it reads the value and its version, calls `fn` with no lock
   * held, and writes only if the version is unchanged (compareAndSet /
   * compareAndDelete); if another thread wrote in between it starts over, so
   * `fn` may run more than once and must have no side effects that matter.
   * After `options.maxRetries` lost races (default 1000; short randomized
   * backoff after the first few) it throws an Error with code
   * `ERR_THREADKV_UPDATE_CONTENDED`, having changed nothing. For counters,
   * `increment` never retries.
   */
  update(key: string, fn: (old: V | undefined) => V | undefined, options?: UpdateOptions): V | undefined {
    const maxRetries = this.#updateRetries(options);
    if (typeof fn !== 'function') {
      this.#precheck(key);
      throw invalidArgument(TypeError, this.name, 'update', `fn must be a function, got ${describeType(fn)}`);
    }
    const h = this.#handle;
    for (let attempt = 0; ; attempt++) {
      const raw = this.#getEntry(key);
      const version = out[0] === 0 ? null : out[0]!;
      const next = fn(version === null ? undefined : this.#decode(raw));
      if (next === undefined) {
        if (version === null || native.compareAndDelete(h, key, version)) return undefined;
      } else if (native.compareAndSet(h, key, version, this.#encode(key, next))) {
        return next;
      }
      if (attempt >= maxRetries) throw updateContended(this.name, key, attempt + 1);
      backoff(attempt);
    }
  }

  /**
   * Adds `delta` (default 1) to the number under `key` and returns the sum,
   * atomically (one native step: no retries, no lost updates). An absent key
   * counts as 0.
   *
   * Counters: while the value and `delta` are both integers, the counter is
   * a 64-bit integer and the sum is exact; it must stay within
   * ±Number.MAX_SAFE_INTEGER (2^53 - 1). Once either is fractional, the sum
   * is a double and must be finite. Otherwise a RangeError (code
   * `ERR_THREADKV_COUNTER_RANGE`), and nothing changes. `get` reads a
   * counter back as a number whatever the codec. Numbers stored by `set`
   * count (every codec stores a number as a number); a key holding anything else (a string, even "5", an object,
   * a boolean...) throws a TypeError (code `ERR_THREADKV_NOT_A_NUMBER`)
   * naming the key, and nothing changes.
   */
  increment(key: string, delta = 1): number {
    if (typeof delta !== 'number') {
      this.#precheck(key);
      throw invalidArgument(TypeError, this.name, 'increment', `delta must be a number, got ${describeType(delta)}`);
    }
    if (!Number.isFinite(delta)) {
      this.#precheck(key);
      throw invalidArgument(RangeError, this.name, 'increment', `delta must be a finite number, got ${delta}`);
    }
    return native.increment(this.#handle, key, delta);
  }

  // ---- Batches (one native call each) ----

  /**
   * The values under `keys`, in order (undefined where absent), read as one
   * consistent snapshot: the read locks of every shard involved are held
   * together while the values are copied, so an atomic `setMany` is seen
   * entirely or not at all.
   */
  getMany(keys: Iterable<string>): (V | undefined)[] {
    const list = this.#keyList(keys, 'getMany');
    const raw = native.getMany(this.#handle, list);
    const values = new Array<V | undefined>(raw.length);
    for (let i = 0; i < raw.length; i++) values[i] = this.#codec.decodeListed(raw[i]) as V | undefined;
    return values;
  }

  /**
   * Stores every [key, value] of `entries` (a later duplicate key wins).
   * Every key and value is checked and encoded first: if any is bad, it
   * throws that error and the store is unchanged. Then, by default, each
   * entry is stored atomically on its own, in order; with `{ atomic: true }`
   * all of them are stored as one step, seen at once by every reader.
   *
   * Refused part-way (a capacity limit with evictionPolicy 'none', an entry
   * over a shard's byte budget, memory): an atomic batch changes nothing. A
   * non-atomic one stops at the first refused entry and its error says which
   * were stored: `err.stored` entries, indices 0 to `err.stored - 1`; the
   * entry at index `err.stored` was refused and no later one was tried.
   */
  setMany(entries: Iterable<readonly [string, V]>, options?: BatchOptions): void {
    const atomic = this.#atomic(options, 'setMany');
    const ttl = this.#ttl(options, 'setMany');
    if (entries === null || typeof (entries as Partial<Iterable<unknown>>)?.[Symbol.iterator] !== 'function' || typeof entries === 'string') {
      throw invalidArgument(TypeError, this.name, 'setMany', `entries must be an iterable of [key, value] pairs, got ${describeType(entries)}`);
    }
    const keys: string[] = [];
    const values: NativeValue[] = [];
    const tags: number[] = [];
    let bytes = false;
    let i = 0;
    for (const entry of entries) {
      if (entry === null || typeof entry !== 'object') {
        throw invalidArgument(TypeError, this.name, 'setMany', `entry ${i} must be a [key, value] pair, got ${describeType(entry)}`);
      }
      const key = entry[0];
      cells[IN_TAG] = 0;
      cells[IN_LENGTH] = 0;
      const value = this.#encode(key, entry[1]);
      const tag = cells[IN_TAG]!;
      // Bytes in the encoder's reused buffer are copied out of it.
      values.push(settle(value, tag, cells[IN_LENGTH]!));
      tags.push(tag);
      if (tag !== 0) bytes = true;
      keys.push(key);
      i++;
    }
    native.setMany(this.#handle, keys, values, atomic, ttl, bytes ? Uint8Array.from(tags) : undefined);
  }

  /**
   * Deletes every key of `keys` that is present and returns how many were.
   * Keys are checked first (a bad one throws and nothing is deleted). Each
   * key is deleted atomically on its own, or all as one step with
   * `{ atomic: true }`.
   */
  deleteMany(keys: Iterable<string>, options?: BatchOptions): number {
    const atomic = this.#atomic(options, 'deleteMany');
    return native.deleteMany(this.#handle, this.#keyList(keys, 'deleteMany'), atomic);
  }

  // ---- Iteration ----

  /** The keys (optionally only those starting with `options.prefix`); see `entries`. */
  keys(options?: IterateOptions): IterableIterator<string> {
    return this.#scan(this.#prefix(options, 'keys'), Scan.Keys) as IterableIterator<string>;
  }

  /** The values (optionally only of keys starting with `options.prefix`); see `entries`. */
  values(options?: IterateOptions): IterableIterator<V> {
    return this.#scan(this.#prefix(options, 'values'), Scan.Values) as IterableIterator<V>;
  }

  /**
   * The [key, value] pairs (optionally only of keys starting with
   * `options.prefix`), in no particular order.
   *
   * Weakly consistent, like Java's ConcurrentHashMap: the iterator never
   * throws because of concurrent changes, yields each key at most once, and
   * yields every key that is present for the whole iteration; keys added or
   * removed meanwhile may or may not appear. It copies out one shard at a
   * time (one native call, under that shard's read lock only) and yields
   * from the copy, so no lock is held while your loop runs. It throws only
   * if the handle is closed or the store destroyed.
   */
  entries(options?: IterateOptions): IterableIterator<[string, V]> {
    return this.#scan(this.#prefix(options, 'entries'), Scan.Entries) as IterableIterator<[string, V]>;
  }

  /** Same as `entries()`. */
  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries();
  }

  *#scan(prefix: string, mode: Scan): Generator<string | V | [string, V], void, undefined> {
    // Keys are matched natively as WTF-8 bytes; a prefix ending in a high
    // surrogate could be the first half of a pair in a key (a different
    // byte sequence), so match without it and filter as JS strings here.
    let nativePrefix = prefix;
    let filter = false;
    if (prefix.length > 0 && isHighSurrogate(prefix.charCodeAt(prefix.length - 1))) {
      nativePrefix = prefix.slice(0, -1);
      filter = true;
    }
    const shards = this.options.shards;
    const withValues = mode !== Scan.Keys;
    const step = withValues ? 2 : 1;
    for (let shard = 0; shard < shards; shard++) {
      const chunk = native.scan(this.#handle, shard, nativePrefix, withValues);
      for (let i = 0; i < chunk.length; i += step) {
        const key = chunk[i] as string;
        if (filter && !key.startsWith(prefix)) continue;
        if (mode === Scan.Keys) yield key;
        else if (mode === Scan.Values) yield this.#codec.decodeListed(chunk[i + 1] as NativeValue) as V;
        else yield [key, this.#codec.decodeListed(chunk[i + 1] as NativeValue) as V];
      }
    }
  }

  // ---- Snapshot and restore (docs/operations.md, docs/snapshot-format.md) ----

  /**
   * Writes the store's entries to the file `path`, on a native thread, and
   * resolves with what it wrote. The file is the whole store at one instant
   * (the start of the snapshot), and the snapshot never stops the world:
   * entries that writers replace or delete while it runs are kept until it
   * has written them (docs/operations.md says what that retains); readers
   * never wait, a writer waits at most for one shard's entry pointers to be
   * collected.
   *
   * Crash-safe: it writes a new temporary file in `path`'s directory,
   * fsyncs it, renames it over `path` and fsyncs the directory, so `path`
   * always holds a complete snapshot, the previous one or the new one. On
   * failure the promise rejects (an I/O error is shaped as Node's own, with
   * `code` such as 'ENOSPC', `errno`, `syscall` and `path`), the temporary
   * file is removed, and the store is unaffected. Entries keep their time
   * to live as an absolute wall-clock deadline. Concurrent snapshots are
   * independent (to the same path, the last rename wins; each file is
   * complete).
   */
  snapshot(path: string, options?: SnapshotOptions): Promise<SnapshotInfo> {
    return snapshots.snapshot(this.#handle, this.name, path, options);
  }

  /** `snapshot()` on the calling thread (for shutdown paths, e.g. a SIGTERM handler). */
  snapshotSync(path: string, options?: SnapshotOptions): SnapshotInfo {
    return snapshots.snapshotSync(this.#handle, this.name, path, options);
  }

  /**
   * Loads the snapshot at `path` into the store, on a native thread. The
   * whole file is read and checked before anything is written: with
   * `onCorrupt: 'throw'` (default) a corrupt, truncated or foreign file
   * rejects with an Error (code `ERR_THREADKV_SNAPSHOT_CORRUPT`, saying what
   * is wrong and at which byte offset), a file of a newer format or of
   * V8-serialized values from a newer Node with `ERR_THREADKV_SNAPSHOT_VERSION`,
   * a file of another codec with `ERR_THREADKV_SNAPSHOT_CODEC`, and the store
   * is left exactly as it was. With `onCorrupt: 'skip'` every intact block
   * loads and the damaged ones are counted. `mode: 'replace'` (default)
   * makes the store's content the file's; `'fillMissing'` keeps keys already
   * present. The store may have another shard count or other limits than
   * the one saved: limits apply as on `set` (eviction, or a RangeError with
   * evictionPolicy 'none'). Entries whose deadline has passed are skipped.
   */
  restore(path: string, options?: RestoreOptions): Promise<RestoreInfo> {
    return snapshots.restore(this.#handle, this.name, this.options.codec, path, options);
  }

  /** `restore()` on the calling thread (for start-up paths). */
  restoreSync(path: string, options?: RestoreOptions): RestoreInfo {
    return snapshots.restoreSync(this.#handle, this.name, this.options.codec, path, options);
  }

  #decode(raw: NativeValue): V {
    return this.#codec.decode(raw) as V;
  }

  // Surfaces a closed handle, a destroyed store or a bad key, in the order
  // the native side checks them, before an argument error of ours. Reads no
  // entry: a refused call touches nothing (no hit counter, no SIEVE bit).
  #precheck(key: unknown): void {
    native.checkKey(this.#handle, key);
  }

  // The keys as a plain array for the native side. Any other iterable (a
  // Set, a generator, a Proxy, even of an array) is copied here first, so
  // that whatever user code iterating it runs, runs before the native call.
  #keyList(keys: Iterable<string>, method: string): string[] {
    if (Array.isArray(keys) && !types.isProxy(keys)) return keys;
    if (keys === null || typeof keys === 'string' || typeof (keys as Partial<Iterable<string>>)?.[Symbol.iterator] !== 'function') {
      throw invalidArgument(TypeError, this.name, method, `keys must be an iterable of strings (an array, a Set...), got ${describeType(keys)}`);
    }
    return Array.from(keys);
  }

  #atomic(options: BatchOptions | undefined, method: string): boolean {
    if (options === undefined) return false;
    if (options === null || typeof options !== 'object') {
      throw invalidArgument(TypeError, this.name, method, `options must be an object, got ${describeType(options)}`);
    }
    const atomic: unknown = options.atomic;
    if (atomic !== undefined && typeof atomic !== 'boolean') {
      throw invalidArgument(TypeError, this.name, method, `options.atomic must be a boolean, got ${describeType(atomic)}`);
    }
    return atomic === true;
  }

  #updateRetries(options: UpdateOptions | undefined): number {
    if (options === undefined) return DEFAULT_UPDATE_RETRIES;
    if (options === null || typeof options !== 'object') {
      throw invalidArgument(TypeError, this.name, 'update', `options must be an object, got ${describeType(options)}`);
    }
    const n: unknown = options.maxRetries;
    if (n === undefined) return DEFAULT_UPDATE_RETRIES;
    if (typeof n !== 'number') throw invalidArgument(TypeError, this.name, 'update', `options.maxRetries must be a number, got ${describeType(n)}`);
    if (!Number.isInteger(n) || n < 0) {
      throw invalidArgument(RangeError, this.name, 'update', `options.maxRetries must be an integer from 0 up, got ${n}`);
    }
    return n;
  }

  #prefix(options: IterateOptions | undefined, method: string): string {
    if (options === undefined) return '';
    if (options === null || typeof options !== 'object') {
      throw invalidArgument(TypeError, this.name, method, `options must be an object, got ${describeType(options)}`);
    }
    const p: unknown = options.prefix;
    if (p === undefined) return '';
    if (typeof p !== 'string') throw invalidArgument(TypeError, this.name, method, `options.prefix must be a string, got ${describeType(p)}`);
    return p;
  }

  #encode(key: string, value: V): ReturnType<Codec['encode']> {
    try {
      return this.#codec.encode(this.name, key, value, this.#maxValueBytes);
    } catch (err) {
      // Report a closed handle, a destroyed store or a bad key before a bad
      // value, in the order the native side checks them.
      this.#precheck(key);
      throw err;
    }
  }
}
