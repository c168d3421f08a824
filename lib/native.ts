// The only file that loads the compiled addon. node-gyp-build picks
// build/Release (a local build) or prebuilds/<platform>-<arch> (the shipped
// binary); THREADKV_PREBUILD=<dir> points it at another build (the TSAN one).
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');
import { makeError, useNativeConstants } from './errors';

/** A native store handle (an N-API External). */
export type NativeHandle = { readonly __brand: 'threadkv.handle' };

/** What a value looks like on the native side (see lib/codec.ts). */
export type NativeValue = string | number | boolean | null | undefined | ArrayBufferView | ArrayBuffer;

/** What `bind` returns: one handle's per-key methods. */
export type BoundMethods = [
  get: (key: string) => NativeValue,
  /** `ttlMs`: milliseconds, Infinity (never), or undefined (the store's default); likewise below. */
  set: (key: string, value: NativeValue, ttlMs?: number) => void,
  has: (key: string) => boolean,
  remove: (key: string) => boolean,
  /** The value (undefined when absent); out[0] = its version, or 0 when absent. */
  getEntry: (key: string) => NativeValue,
];

/**
 * Facts the addon and lib/ must agree on, defined once in the native code
 * (native/binding/errors.h, native/core/options.h, native/core/entry.h) and
 * handed over by `setup`.
 */
export interface NativeConstants {
  /** The codes of the errors the binding throws, by ErrorCode key (a unit test checks lib/errors.ts's copy). */
  readonly errorCodes: Readonly<Record<string, string>>;
  /** Bit per option of `open`'s `specified` mask. */
  readonly optionBits: Readonly<Record<'codec' | 'shards' | 'maxKeyBytes' | 'maxValueBytes' | 'maxEntries' | 'maxBytes' | 'evictionPolicy' | 'ttlMs', number>>;
  /** Codec names; index = the native enum value. */
  readonly codecs: readonly string[];
  /** Eviction policy names; index = the native enum value. */
  readonly evictionPolicies: readonly string[];
  /** Defaults of the options every store has. */
  readonly defaults: { readonly codec: string; readonly shards: number; readonly maxKeyBytes: number; readonly maxValueBytes: number };
  /** The fixed per-entry charge against `maxBytes`, in bytes. */
  readonly entryOverhead: number;
  readonly queueLinkBytes: number;
  /** Added to the charge of an entry that can expire (its timer-wheel links), in bytes. */
  readonly timerLinkBytes: number;
}

/** What `open` takes: every option filled in, and which of them the caller gave. */
export interface OpenRequest {
  name: string;
  codec: string;
  shards: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** 0: no limit. */
  maxEntries: number;
  /** 0: no limit. */
  maxBytes: number;
  evictionPolicy: string;
  /** 0: no default time to live. */
  ttlMs: number;
  /** Bits (`optionBits`) of the options the caller gave. */
  specified: number;
}

/** What `open` returns: the handle, and the store's options (0: none). */
export type OpenResult = Omit<OpenRequest, 'name' | 'specified'> & {
  handle: NativeHandle;
  created: boolean;
};

export interface NativeBinding {
  /**
   * Registers the error factory for this thread; returns this thread's
   * out-cells (see `out`) and the shared constants.
   */
  setup(makeError: (...args: never[]) => Error): { out: Float64Array; constants: NativeConstants };
  open(request: OpenRequest): OpenResult;
  destroy(name: string): boolean;
  close(handle: NativeHandle): void;
  /**
   * The per-key hot path of one handle, as functions bound to it (no handle
   * argument to unwrap on each call): [get, set, has, delete, getEntry].
   */
  bind(handle: NativeHandle): BoundMethods;
  /** Milliseconds left (Infinity: no expiry), or undefined when absent. */
  ttl(handle: NativeHandle, key: string): number | undefined;
  /** Sets a present key's time to live (Infinity: none); false when absent. */
  expire(handle: NativeHandle, key: string, ttlMs: number): boolean;
  clear(handle: NativeHandle): void;
  size(handle: NativeHandle): number;
  memory(handle: NativeHandle): [number, number, number];
  /** [entries, bytes, hits, misses, sets, deletes, evictions, expirations, contendedReads, contendedWrites, shards, expiryCascades, sweeps] */
  stats(handle: NativeHandle): number[];
  names(): string[];
  /** True if it inserted. */
  setIfAbsent(handle: NativeHandle, key: string, value: NativeValue, ttlMs?: number): boolean;
  /**
   * Inserts `value` if the key is absent. Returns the present value (undefined
   * when it inserted); out[0] = 1 if it inserted, else 0; out[1] = the version.
   */
  getOrSet(handle: NativeHandle, key: string, value: NativeValue, ttlMs?: number): NativeValue;
  /** Stores, and returns the previous value (undefined when absent). */
  swap(handle: NativeHandle, key: string, value: NativeValue): NativeValue;
  /** Removes, and returns the removed value (undefined when absent). */
  take(handle: NativeHandle, key: string): NativeValue;
  /** `expected` null: only if absent. A number matches only the key's current version. */
  compareAndSet(handle: NativeHandle, key: string, expected: number | null, value: NativeValue): boolean;
  compareAndDelete(handle: NativeHandle, key: string, expected: number): boolean;
  /** The counter's new value. */
  increment(handle: NativeHandle, key: string, delta: number): number;
  /** Values in key order, read as one snapshot. */
  getMany(handle: NativeHandle, keys: readonly string[]): NativeValue[];
  /** `tags[i]`: the format of `values[i]` when it is bytes (lib/codec-format.ts, Fmt). */
  setMany(
    handle: NativeHandle,
    keys: readonly string[],
    values: readonly NativeValue[],
    atomic: boolean,
    ttlMs: number | undefined,
    tags: Uint8Array | undefined,
  ): void;
  /** How many of the keys were present. */
  deleteMany(handle: NativeHandle, keys: readonly string[], atomic: boolean): number;
  /**
   * Every entry of shard `shard` whose key starts with `prefix`, copied out
   * in one call: [key, value, key, value, ...], or [key, key, ...] when
   * `withValues` is false.
   */
  scan(handle: NativeHandle, shard: number, prefix: string, withValues: boolean): unknown[];
  /**
   * Registers this thread's slab factory (size -> an untransferable
   * ArrayBuffer) for the value pools; returns this thread's value cells
   * (lib/codec.ts).
   */
  valueSetup(newSlab: (size: number, made?: ArrayBuffer) => ArrayBuffer, recycle: boolean): Int32Array;
  /** This thread's recycled large-pool slab memory: [blocks, lent, spare, reused, recycling (1/0)]. */
  valueSlabStats(): [number, number, number, number, number];
  /** Frees the recycled slab memory the last interval did not need; returns the blocks still held. */
  valueTrimSlabs(): number;
  /**
   * Throws what a call with `key` would throw first (closed handle,
   * destroyed store, bad key), reading no entry.
   */
  checkKey(handle: NativeHandle, key: unknown): void;
  /** Only in the ThreadSanitizer self-test build. */
  racyIncrement?(n: number): number;
  /** Only in the AddressSanitizer self-test build. */
  useAfterFree?(): number;

  // ---- The per-thread wake-up part (native/binding/waker.h; lib/waker.ts drives it) ----
  /** Makes this thread's waker (once): `dispatch` is called with the tokens notified since its last call. */
  wakerStart(dispatch: (tokens: Float64Array) => void): void;
  /** Whether the waker keeps this thread's event loop alive. */
  wakerRef(on: boolean): void;
  /** This thread is exiting: no wake-up reaches it any more. */
  wakerStop(): void;

  // ---- getOrCompute (native/binding/compute.h; lib/compute.ts drives them) ----
  /** [0, value] hit | [1, token, leaseMs] lead | [2, token, leaseLeftMs] join | [3] recursive (sync only). */
  computeBegin(handle: NativeHandle, key: string, leaseMs: number, sync: boolean): [number, unknown?, number?];
  /** [0, leaseLeftMs] pending | [1, value] | [2, errorBytes] | [3] retry | [4] cancelled. */
  computeWait(token: number, sliceMs: number): [number, unknown?];
  /** True if this caller stopped waiting; false if the outcome is there already (computeWait it). */
  computeCancel(token: number, timedOut: boolean): boolean;
  /** Stores the leader's value (unless invalidated) and hands it to the joined callers; true if stored. */
  computeComplete(handle: NativeHandle, token: number, key: string, value: NativeValue, ttlMs: number | undefined): boolean;
  computeFail(token: number, error: Uint8Array): void;
  computeAbandon(token: number): void;
  /** 0 running, 1 invalidated (a write to the key), 2 lost (the flight was taken over). */
  computeLeaderState(token: number): number;
  /** [loads, loadsJoined, loadErrors, loadTimeouts, leadersLost, flightsInProgress] */
  computeStats(handle: NativeHandle): number[];

  // ---- store.watch (native/binding/watch.h; lib/watch.ts drives them) ----
  /** Subscribes; returns its waker token. scope 0 all, 1 key `text`, 2 prefix `text`; events: a bit mask. */
  watchOpen(handle: NativeHandle, scope: number, text: string, events: number, maxQueue: number): number;
  /** undefined (nothing queued) | [keys, nums (type, seq, version, key end) * n, lost, lostSeq, closed]. */
  watchDrain(token: number): [string, Float64Array, number, number, boolean] | undefined;
  /** Unsubscribes; false if it was not open. */
  watchClose(token: number): boolean;
  /** The store's open watchers, over every thread. */
  watchCount(handle: NativeHandle): number;

  // ---- Snapshot and restore (lib/snapshot.ts): [true, result] or [false, facts] ----
  /** [true, [entries, bytes]] | [false, facts] */
  snapshotSync(handle: NativeHandle, path: string, fsync: boolean, pauseUs: number, threadkv: string, node: string): unknown;
  snapshot(handle: NativeHandle, path: string, fsync: boolean, pauseUs: number, threadkv: string, node: string): Promise<unknown>;
  /** mode: 0 replace, 1 fillMissing; onCorrupt: 0 throw, 1 skip; maxV8: 255 for no check. [true, [entries, skippedExpired, skippedCorrupt, bytes]] | [false, facts] */
  restoreSync(handle: NativeHandle, path: string, mode: number, onCorrupt: number, maxV8: number): unknown;
  restore(handle: NativeHandle, path: string, mode: number, onCorrupt: number, maxV8: number): Promise<unknown>;
}

const root = path.join(__dirname, '..');

/** Absolute path of the loaded `.node` file. */
export const bindingPath: string = nodeGypBuild.resolve(root);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const raw = require(bindingPath) as NativeBinding;

// The addon's exports object is in V8's dictionary mode (N-API defines its
// methods one by one), so every `native.x` load would take the generic
// property-load path (~70 instructions per call, by callgrind). This literal
// is an ordinary fast-properties object whose loads the JIT inlines.
export const native: NativeBinding = {
  setup: raw.setup,
  open: raw.open,
  destroy: raw.destroy,
  close: raw.close,
  bind: raw.bind,
  ttl: raw.ttl,
  expire: raw.expire,
  clear: raw.clear,
  size: raw.size,
  memory: raw.memory,
  stats: raw.stats,
  names: raw.names,
  setIfAbsent: raw.setIfAbsent,
  getOrSet: raw.getOrSet,
  swap: raw.swap,
  take: raw.take,
  compareAndSet: raw.compareAndSet,
  compareAndDelete: raw.compareAndDelete,
  increment: raw.increment,
  getMany: raw.getMany,
  setMany: raw.setMany,
  deleteMany: raw.deleteMany,
  scan: raw.scan,
  valueSetup: raw.valueSetup,
  valueSlabStats: raw.valueSlabStats,
  valueTrimSlabs: raw.valueTrimSlabs,
  checkKey: raw.checkKey,
  wakerStart: raw.wakerStart,
  wakerRef: raw.wakerRef,
  wakerStop: raw.wakerStop,
  computeBegin: raw.computeBegin,
  computeWait: raw.computeWait,
  computeCancel: raw.computeCancel,
  computeComplete: raw.computeComplete,
  computeFail: raw.computeFail,
  computeAbandon: raw.computeAbandon,
  computeLeaderState: raw.computeLeaderState,
  computeStats: raw.computeStats,
  watchOpen: raw.watchOpen,
  watchDrain: raw.watchDrain,
  watchClose: raw.watchClose,
  watchCount: raw.watchCount,
  snapshotSync: raw.snapshotSync,
  snapshot: raw.snapshot,
  restoreSync: raw.restoreSync,
  restore: raw.restore,
  ...(raw.racyIncrement !== undefined ? { racyIncrement: raw.racyIncrement } : {}),
  ...(raw.useAfterFree !== undefined ? { useAfterFree: raw.useAfterFree } : {}),
};

const setup = native.setup(makeError as (...args: never[]) => Error);

/**
 * Second results of native calls (a version, an inserted flag), written by
 * the binding into these cells instead of a result array: read them right
 * after the call that wrote them. The binding owns them, one per thread.
 */
export const out: Float64Array = setup.out;

/** The facts defined once in the native code (see `NativeConstants`). */
export const constants: NativeConstants = setup.constants;
useNativeConstants(constants);
