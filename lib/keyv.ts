// A Keyv storage adapter over a named threadkv store: a cache shared by the
// main thread and every worker_thread of the process, for Keyv and for every
// library that takes a Keyv (cache-manager included).
import { EventEmitter } from 'node:events';
import { Store } from './store';
import type { StoreOptions } from './types';

/** Options of `KeyvThreadKv`: the store's name, and its creation options. */
export interface KeyvThreadKvOptions extends StoreOptions {
  /**
   * Name of the threadkv store that holds the cache (default `'keyv'`).
   * Every adapter, in any thread, that opens the same name shares the same
   * entries. Give the cache a store of its own: `clear()` without a Keyv
   * namespace empties the whole store.
   */
  name?: string;
}

/**
 * The `opts` of the adapter: its store name and options as given (codec
 * filled in), plus the `dialect` and `url` Keyv looks at.
 */
export interface KeyvThreadKvOpts extends KeyvThreadKvOptions {
  name: string;
  dialect: 'threadkv';
  url: string;
  [key: string]: unknown;
}

/**
 * A Keyv storage adapter (Keyv 5's `KeyvStoreAdapter`) backed by a threadkv
 * store, so one cache is shared synchronously by the main thread and every
 * worker_thread of the process: a value one thread caches, every other
 * thread reads, with no copy per thread and no server.
 *
 * ```ts
 * import Keyv from 'keyv';
 * import { KeyvThreadKv } from 'threadkv/keyv';
 *
 * // One process, all its worker threads (each thread runs the same line):
 * const keyv = new Keyv({ store: new KeyvThreadKv({ name: 'sessions', maxEntries: 100_000 }) });
 * // Outgrown one process? Several processes or machines share a Redis
 * // instead: change only that line (and the import, from '@keyv/redis'):
 * // const keyv = new Keyv({ store: new KeyvRedis('redis://localhost:6379') });
 *
 * await keyv.set('user:1', { name: 'Ada' }, 60_000); // ttl in ms
 * await keyv.get('user:1');
 *
 * // cache-manager (v6+) takes Keyv instances:
 * // const cache = createCache({ stores: [keyv] });
 * ```
 *
 * Store options (`codec`, `shards`, `maxEntries`, `maxBytes`,
 * `evictionPolicy`, `ttlMs`, ...) are passed to `Store.open` and fixed by
 * the first thread that opens the name; the codec defaults to `'v8'`. Keyv
 * serializes each value to a string by default; with `serialize: undefined,
 * deserialize: undefined` given to Keyv it hands over `{ value, expires }`
 * objects, which the `'v8'` codec stores by structured clone (Map, Set,
 * Date, typed arrays, BigInt...), with no JSON step.
 *
 * Keys: Keyv prefixes each key with `namespace:` (its `namespace` option,
 * `'keyv'` by default) and tells the adapter its namespace. Several Keyv
 * instances with different namespaces may share one store: `clear()` then
 * deletes only the keys of its own namespace (found with
 * `store.keys({ prefix })` and removed with `deleteMany`; a key written by
 * another thread while it runs may survive). Namespaces that share a prefix
 * (`'a'` and `'a:b'`) never touch each other's keys: in the store, a `:` or
 * `\` inside a namespace is escaped with a `\` (namespace `'a:b'`'s key
 * `'x'` is stored as `a\:b:x`, namespace `'a'`'s key `'b:x'` as `a:b:x`),
 * so every namespace's keys start with a prefix no other namespace's do. A
 * namespace without `:` or `\` stores its keys exactly as Keyv names them.
 * With no namespace (Keyv's `namespace: undefined`, also what to give Keyv
 * with `useKeyPrefix: false`) `clear()` empties the whole store, atomically.
 *
 * Expiry: Keyv writes an `expires` timestamp into each value and checks it
 * itself on every read. The adapter also gives the entry the same time to
 * live natively (`set(key, value, { ttlMs })`), so an expired entry is gone
 * for `has()` and for the other threads too, and its memory is reclaimed
 * without anyone reading it. Entries written with no Keyv ttl get the
 * store's own `ttlMs`, if it was opened with one.
 *
 * Batches: `getMany` reads its keys as one snapshot and `deleteMany` is one
 * native call. There is no `setMany`: Keyv 5 then writes each entry with
 * `set` (each with its own ttl) and returns its per-entry results.
 *
 * Iteration: `iterator(namespace)` yields the `[key, raw value]` pairs of a
 * namespace. Keyv 5 only wires `keyv.iterator()` for its own SQL, Mongo,
 * Redis and etcd adapters; to iterate a Keyv 5 over this adapter:
 * `keyv.iterator = keyv.generateIterator(adapter.iterator.bind(adapter))`.
 *
 * Keyv 6 (which needs Node >= 22.19) takes adapters of this form through its
 * `KeyvBridgeAdapter` (relative `ttl` on `set`); this adapter is tested
 * against Keyv 5 and `@keyv/test-suite` 2.
 */
export class KeyvThreadKv extends EventEmitter {
  /** The threadkv store behind the adapter (for `stats()`, `size`...). */
  readonly store: Store<unknown>;
  /** Set by Keyv: the namespace whose keys `clear()` and `iterator()` cover. */
  namespace?: string | undefined;
  /** Options, as Keyv adapters expose them. */
  readonly opts: KeyvThreadKvOpts;

  /** `name`: the store's name; or an options object (see `KeyvThreadKvOptions`). */
  constructor(nameOrOptions?: string | KeyvThreadKvOptions) {
    super();
    const options: KeyvThreadKvOptions =
      typeof nameOrOptions === 'string' ? { name: nameOrOptions } : { ...(nameOrOptions ?? {}) };
    const { name = 'keyv', ...storeOptions } = options;
    if (storeOptions.codec === undefined) storeOptions.codec = 'v8';
    this.store = Store.open<unknown>(name, storeOptions);
    // Keyv 5 reads `opts.url` (as a string) of any adapter that has an
    // `iterator` method, to decide whether to wire `keyv.iterator()`.
    this.opts = { ...storeOptions, name, dialect: 'threadkv', url: `threadkv://${encodeURIComponent(name)}` };
  }

  /** The stored (serialized) value of `key`, or undefined. */
  async get<Value>(key: string): Promise<Value | undefined> {
    return this.store.get(this.#key(key)) as Value | undefined;
  }

  /** The stored values of `keys`, in order (undefined where absent), read as one snapshot. */
  async getMany<Value>(keys: string[]): Promise<Array<Value | undefined>> {
    return this.store.getMany(keys.map((k) => this.#key(k))) as Array<Value | undefined>;
  }

  /** Stores `value`; with a `ttl` (ms) the entry also expires natively. */
  async set(key: string, value: unknown, ttl?: number): Promise<boolean> {
    const ttlMs = nativeTtl(ttl);
    if (ttlMs === undefined) this.store.set(this.#key(key), value);
    else this.store.set(this.#key(key), value, { ttlMs });
    return true;
  }

  /** Whether `key` is present (and not expired). */
  async has(key: string): Promise<boolean> {
    return this.store.has(this.#key(key));
  }

  /** Whether each of `keys` is present. */
  async hasMany(keys: string[]): Promise<boolean[]> {
    return keys.map((key) => this.store.has(this.#key(key)));
  }

  /** Removes `key`; true if it was present. */
  async delete(key: string): Promise<boolean> {
    return this.store.delete(this.#key(key));
  }

  /** Removes `keys`; true if any was present. */
  async deleteMany(keys: string[]): Promise<boolean> {
    return this.store.deleteMany(keys.map((k) => this.#key(k))) > 0;
  }

  /**
   * Removes the keys of this adapter's namespace (those starting with
   * `namespace:`), or, with no namespace, every entry of the store.
   */
  async clear(): Promise<void> {
    if (this.namespace === undefined || this.namespace === '') {
      this.store.clear();
      return;
    }
    const keys = Array.from(this.store.keys({ prefix: `${escapeNamespace(this.namespace)}:` }));
    if (keys.length > 0) this.store.deleteMany(keys);
  }

  /**
   * The `[key, stored value]` pairs whose key starts with `namespace:` (all
   * pairs with no namespace), weakly consistent (see `Store#entries`).
   */
  async *iterator<Value = unknown>(namespace?: string): AsyncGenerator<[string, Value], void> {
    if (namespace === undefined || namespace === '') {
      for (const [key, value] of this.store.entries()) yield [key, value as Value];
      return;
    }
    const escaped = escapeNamespace(namespace);
    for (const [key, value] of this.store.entries({ prefix: `${escaped}:` })) {
      yield [`${namespace}:${key.slice(escaped.length + 1)}`, value as Value];
    }
  }

  // The store's key for a key Keyv gives (see "Keys" above).
  #key(key: string): string {
    const ns = this.namespace;
    if (ns === undefined || ns === '' || !key.startsWith(`${ns}:`)) return key;
    const escaped = escapeNamespace(ns);
    return escaped === ns ? key : `${escaped}:${key.slice(ns.length + 1)}`;
  }

  /**
   * Closes this adapter's handle on the store. The entries stay, for the
   * other threads and adapters; `Store.destroy(name)` frees them.
   */
  async disconnect(): Promise<void> {
    this.store.close();
  }
}

// Keyv's ttl (ms) as a native time to live, when the store accepts it:
// above 0, and a safe integer or Infinity. Otherwise (0, negative, NaN,
// huge) the entry is stored without one, and Keyv's own `expires` check
// still applies.
function nativeTtl(ttl: number | undefined): number | undefined {
  if (typeof ttl !== 'number' || !(ttl > 0)) return undefined;
  return ttl <= Number.MAX_SAFE_INTEGER || ttl === Infinity ? ttl : undefined;
}

// A namespace as it starts the store's keys: `\` and `:` escaped with a `\`,
// so that the first unescaped `:` of a stored key ends its namespace and no
// namespace's `escaped:` prefix starts another namespace's keys.
function escapeNamespace(namespace: string): string {
  return namespace.replace(/[\\:]/g, (c) => `\\${c}`);
}
