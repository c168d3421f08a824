// The Store class: a handle on a named native store. Handles are cheap and
// per thread; the data lives in the native registry, shared by every thread.
import { codecs, type Codec } from './codec';
import { native, type NativeHandle } from './native';
import { CODECS, normalizeOptions, validateName } from './options';
import type { ResolvedStoreOptions, StoreMemory, StoreOptions } from './types';

/**
 * A handle on a named store shared by every thread of the process.
 *
 * Concurrency: every method is atomic and linearizable with respect to every
 * other call on the same store, from any thread. `get` returns a copy; no
 * method ever exposes memory another thread can change.
 */
export class Store<V = unknown> {
  /** The store's name. */
  readonly name: string;
  /** The options the store was created with. */
  readonly options: ResolvedStoreOptions;
  readonly #handle: NativeHandle;
  readonly #codec: Codec;

  private constructor(name: string, handle: NativeHandle, options: ResolvedStoreOptions) {
    this.name = name;
    this.#handle = handle;
    this.options = options;
    this.#codec = codecs[CODECS.indexOf(options.codec)]!;
  }

  /**
   * Opens the store called `name`, creating it the first time the name is
   * opened in this process, from any thread; later opens, from any thread,
   * attach to the same data. Options given must equal the store's creation
   * options (an Error names the one that differs); options left out are
   * taken from the existing store.
   */
  static open<V = unknown>(name: string, options?: StoreOptions): Store<V> {
    validateName(name);
    const o = normalizeOptions(options);
    const [handle, codec, shards, maxKeyBytes, maxValueBytes] = native.open(
      name,
      o.codec,
      o.shards,
      o.maxKeyBytes,
      o.maxValueBytes,
      o.specified,
    );
    const resolved: ResolvedStoreOptions = Object.freeze({ codec: CODECS[codec]!, shards, maxKeyBytes, maxValueBytes });
    return new Store<V>(name, handle, resolved);
  }

  /**
   * Frees the store called `name` and all its data. Every handle on it then
   * throws on use; a later `open` of the name creates a new, empty store.
   * Returns true if the store existed.
   */
  static destroy(name: string): boolean {
    validateName(name);
    return native.destroy(name);
  }

  /** Names of the stores that exist in this process. */
  static list(): string[] {
    return native.names();
  }

  /** The value stored under `key` (a fresh copy), or undefined. */
  get(key: string): V | undefined {
    return this.#codec.decode(native.get(this.#handle, key)) as V | undefined;
  }

  /** Inserts or overwrites `key`. */
  set(key: string, value: V): this {
    native.set(this.#handle, key, this.#encode(key, value));
    return this;
  }

  /** Same as `set`. */
  put(key: string, value: V): this {
    return this.set(key, value);
  }

  /** Whether `key` is present. */
  has(key: string): boolean {
    return native.has(this.#handle, key);
  }

  /** Removes `key`; true if it was present. */
  delete(key: string): boolean {
    return native.delete(this.#handle, key);
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
   * Makes this handle unusable (every method then throws). The data stays in
   * the store for other handles and threads. Closing twice is a no-op.
   */
  close(): void {
    native.close(this.#handle);
  }

  #encode(key: string, value: V): ReturnType<Codec['encode']> {
    try {
      return this.#codec.encode(this.name, key, value);
    } catch (err) {
      // Report a closed handle, a destroyed store or a bad key before a bad
      // value, in the order the native side checks them.
      native.has(this.#handle, key);
      throw err;
    }
  }
}
