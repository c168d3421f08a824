/**
 * Recording concurrent histories of a store, for the linearizability checker
 * (test/support/linearizability.ts).
 *
 *  - `Workload`: a seeded random mix of every operation the store has (the
 *    optional ones detected at run time, see ./ops), run against a few hot
 *    keys, each call logged with its arguments, its result and its
 *    interval [call, ret] read from `process.hrtime.bigint()`. That clock
 *    is CLOCK_MONOTONIC, one clock for every thread of the process, so the
 *    intervals recorded by different workers can be compared.
 *  - Values written are unique (`w<thread>-<seq>`), so every read says
 *    which write it saw.
 *  - `historyModel`: the checker's `kvModel`, plus the names this recorder
 *    uses for calls that are checked as one of kvModel's operations
 *    (`put` as `set`, `update` as `swap`, a multi-key call as one operation
 *    per key, ...; see `asKvOperation`).
 *  - `wholeStoreModel`: the whole store as ONE object (every key plus
 *    store-wide `clear` and `size`), for short runs on 2-3 keys that check
 *    what the per-key check cannot: that `clear` empties all keys at one
 *    instant and that `size` counts an instant's entries.
 *  - `brokenStore`: deliberately broken wrappers (negative controls).
 *  - `writeHistoryFile`: JSON lines on disk when THREADKV_HISTORY_DIR is set.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CodecName, Store } from 'threadkv';
import {
  kvModel,
  serializeHistory,
  type KvState,
  type Model,
  type Operation,
  type StepResult,
} from './linearizability';
import { computeTrace } from './compute';
import { deleteManyOutcomes, getManyValues, iterateEntries, OPTIONAL_OPS, type OptionalOp } from './ops';

// ---------------------------------------------------------------------------
// Random numbers
// ---------------------------------------------------------------------------

/** A small seeded PRNG (mulberry32): the same seed gives the same choices. */
export class Rng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    let t = (this.#s = (this.#s + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }
  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
  /** A random subset of `items` with at least `min` elements, in random order. */
  subset<T>(items: readonly T[], min: number): T[] {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [copy[i], copy[j]] = [copy[j]!, copy[i]!];
    }
    return copy.slice(0, min + this.int(copy.length - min + 1));
  }
}

// ---------------------------------------------------------------------------
// Recording
// ---------------------------------------------------------------------------

/** An operation as posted by a worker: times as decimal strings of nanoseconds. */
export interface WireOperation {
  key: string;
  op: string;
  arg?: unknown;
  out?: unknown;
  call: string;
  ret: string;
  thread: number;
}

/** Converts posted operations back to the checker's `Operation`. */
export function fromWire(ops: readonly WireOperation[]): Operation[] {
  return ops.map((w) => {
    const op: Operation = { key: w.key, op: w.op, call: BigInt(w.call), ret: BigInt(w.ret), thread: w.thread };
    if (w.arg !== undefined) op.arg = w.arg;
    if (w.out !== undefined) op.out = w.out;
    return op;
  });
}

/** The key of store-wide operations (`clear`, `size`) in whole-store histories. */
export const STORE_KEY = '*';

/**
 * Values as they are recorded: bytes (the buffer codec's values) as their
 * UTF-8 text, so that what was written and what was read compare equal
 * whatever the view type; `getEntry`'s entry with its value recorded so.
 */
export function recordedValue(v: unknown): unknown {
  if (v instanceof Uint8Array) return Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('utf8');
  return v;
}

function recordedEntry(e: unknown): unknown {
  if (typeof e !== 'object' || e === null) return e;
  const entry = e as { value?: unknown; version?: unknown };
  return { value: recordedValue(entry.value), version: entry.version };
}

/** Logs operations with their intervals on the shared monotonic clock. */
export class Recorder {
  readonly #calls: bigint[] = [];
  readonly #rets: bigint[] = [];
  readonly #ops: Array<Omit<WireOperation, 'call' | 'ret'>> = [];

  constructor(readonly thread: number) {}

  get length(): number {
    return this.#ops.length;
  }

  /** Runs `fn` as one operation on `key`; records `out(result)` as its output. */
  one<R>(key: string, op: string, arg: unknown, fn: () => R, out: (r: R) => unknown = recordedValue): R {
    const call = process.hrtime.bigint();
    const r = fn();
    const ret = process.hrtime.bigint();
    this.#push(key, op, arg, out(r), call, ret);
    return r;
  }

  /**
   * Runs `fn` as one call on several keys and records one operation per key,
   * all with the call's interval (each key's part of the call took effect
   * somewhere inside it: a necessary condition, not multi-key atomicity).
   */
  many<R>(keys: readonly string[], op: string, args: readonly unknown[] | undefined, fn: () => R, outs: (r: R) => readonly unknown[] | undefined): R {
    const call = process.hrtime.bigint();
    const r = fn();
    const ret = process.hrtime.bigint();
    const o = outs(r);
    keys.forEach((key, i) => {
      this.#push(key, op, args?.[i], o?.[i], call, ret);
    });
    return r;
  }

  /** Records an operation timed by the caller. */
  add(key: string, op: string, arg: unknown, out: unknown, call: bigint, ret: bigint): void {
    this.#push(key, op, arg, out, call, ret);
  }

  #push(key: string, op: string, arg: unknown, out: unknown, call: bigint, ret: bigint): void {
    const o: Omit<WireOperation, 'call' | 'ret'> = { key, op, thread: this.thread };
    if (arg !== undefined) o.arg = arg;
    if (out !== undefined) o.out = out;
    this.#ops.push(o);
    this.#calls.push(call);
    this.#rets.push(ret);
  }

  /** The log, ready for postMessage (bigints as decimal strings). */
  wire(): WireOperation[] {
    return this.#ops.map((o, i) => ({ ...o, call: this.#calls[i]!.toString(), ret: this.#rets[i]!.toString() }));
  }

  operations(): Operation[] {
    return fromWire(this.wire());
  }
}

// ---------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------

export interface WorkloadSpec {
  codec: CodecName;
  thread: number;
  seed: number;
  /** Keys holding unique values (the registers). */
  keys: string[];
  /** Keys for `increment` (numbers only); empty to leave counters out. */
  counters: string[];
  /**
   * `'per-key'`: store-wide `clear` is recorded once per key, multi-key
   * calls once per key of theirs (checked per key). `'whole-store'`:
   * `clear`, `size`, `getMany` and atomic `setMany`/`deleteMany` are
   * recorded once, on STORE_KEY, for `wholeStoreModel`.
   */
  mode: 'per-key' | 'whole-store';
  /** Only these operation names (see the tables in `Workload`). */
  only?: string[];
}

/** The part of the Store API the workload uses besides the optional operations. */
export interface BasicStore {
  get(key: string): unknown;
  set(key: string, value: unknown): unknown;
  put(key: string, value: unknown): unknown;
  has(key: string): boolean;
  delete(key: string): boolean;
  clear(): void;
  readonly size: number;
}

interface Choice {
  name: string;
  weight: number;
  run: () => void;
}

function isTypeError(err: unknown): boolean {
  return err instanceof TypeError || (err as { name?: unknown })?.name === 'TypeError';
}

/**
 * A random mix of every operation `store` has, on the spec's keys, recorded
 * into `recorder`. The mix is decided once, from what the store has.
 */
export class Workload {
  readonly recorder: Recorder;
  readonly available: ReadonlySet<OptionalOp>;
  readonly registerOps: readonly string[];
  readonly counterOps: readonly string[];
  readonly #store: Store<unknown>;
  readonly #spec: WorkloadSpec;
  readonly #rng: Rng;
  readonly #registers: Choice[];
  readonly #counters: Choice[];
  readonly #registerTotal: number;
  readonly #counterTotal: number;
  /** The latest version this thread saw per key (getEntry), for compare-and-set. */
  readonly #versions = new Map<string, number>();
  #seq = 0;

  constructor(store: Store<unknown>, spec: WorkloadSpec) {
    this.#store = store;
    this.#spec = spec;
    this.#rng = new Rng(spec.seed * 1000003 + spec.thread * 7919 + 1);
    this.recorder = new Recorder(spec.thread);
    this.available = new Set(OPTIONAL_OPS);
    const keep = (c: Choice): boolean =>
      (spec.only === undefined || spec.only.includes(c.name)) && (BASIC_OPS.has(c.name) || this.available.has(c.name as OptionalOp));
    this.#registers = spec.keys.length > 0 ? this.#registerChoices().filter(keep) : [];
    this.#counters = spec.counters.length > 0 ? this.#counterChoices().filter(keep) : [];
    this.#registerTotal = this.#registers.reduce((a, c) => a + c.weight, 0);
    this.#counterTotal = this.#counters.reduce((a, c) => a + c.weight, 0);
    this.registerOps = this.#registers.map((c) => c.name);
    this.counterOps = this.#counters.map((c) => c.name);
    if (this.#registers.length === 0 && this.#counters.length === 0) throw new Error('Workload: no operation left to run');
  }

  /** Runs `count` operations (or until `deadline`, a `Date.now()` value, if given and earlier). */
  run(count: number, deadline = Infinity): void {
    for (let i = 0; i < count; i++) {
      if ((i & 63) === 0 && Date.now() > deadline) break;
      this.step();
    }
  }

  /** Runs every operation of the mix once, in table order. */
  runEveryChoice(): void {
    for (const c of [...this.#registers, ...this.#counters]) c.run();
  }

  step(): void {
    const useCounter =
      this.#counters.length > 0 && (this.#registers.length === 0 || this.#rng.next() < 0.3);
    const [choices, total] = useCounter ? [this.#counters, this.#counterTotal] : [this.#registers, this.#registerTotal];
    let r = this.#rng.next() * total;
    for (const c of choices) {
      r -= c.weight;
      if (r < 0) {
        c.run();
        return;
      }
    }
    choices[choices.length - 1]!.run();
  }

  /** Records one `size` (whole-store histories; see brokenStore's 'split-clear'). */
  recordSize(): void {
    this.recorder.one(STORE_KEY, 'size', undefined, () => this.#store.size, (r) => r);
  }

  /** A fresh value nobody else writes: `w<thread>-<seq>` in the codec's type. */
  #value(): unknown {
    const tag = `w${this.#spec.thread}-${++this.#seq}`;
    switch (this.#spec.codec) {
      case 'string':
        return tag;
      case 'buffer':
        return Buffer.from(tag);
      default:
        // Alternate natively stored strings and encoded objects.
        return this.#seq % 2 === 0 ? tag : { w: tag, n: this.#seq };
    }
  }

  #expected(key: string): number | null {
    const known = this.#versions.get(key);
    const r = this.#rng.next();
    if (known === undefined) return r < 0.5 ? null : 1 + this.#rng.int(4);
    if (r < 0.15) return null;
    if (r < 0.8) return known;
    return Math.max(0, known + this.#rng.pick([-2, -1, 1, 2]));
  }

  #allKeys(): string[] {
    return [...this.#spec.keys, ...this.#spec.counters];
  }

  #clear(): void {
    const s = this.#store;
    if (this.#spec.mode === 'whole-store') {
      this.recorder.one(STORE_KEY, 'clear', undefined, () => s.clear(), () => undefined);
    } else {
      this.recorder.many(this.#allKeys(), 'clear', undefined, () => s.clear(), () => undefined);
    }
  }

  #registerChoices(): Choice[] {
    const s = this.#store;
    const c = this.#store;
    const rec = this.recorder;
    const rng = this.#rng;
    const keys = this.#spec.keys;
    const key = (): string => rng.pick(keys);
    const wholeStore = this.#spec.mode === 'whole-store';
    const choices: Choice[] = [
      { name: 'set', weight: 10, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'set', recordedValue(v), () => s.set(k, v), () => undefined); } },
      { name: 'put', weight: 2, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'put', recordedValue(v), () => s.put(k, v), () => undefined); } },
      { name: 'get', weight: 12, run: () => { const k = key(); rec.one(k, 'get', undefined, () => s.get(k)); } },
      { name: 'has', weight: 4, run: () => { const k = key(); rec.one(k, 'has', undefined, () => s.has(k), (r) => r); } },
      { name: 'delete', weight: 4, run: () => { const k = key(); rec.one(k, 'delete', undefined, () => s.delete(k), (r) => r); } },
      { name: 'clear', weight: wholeStore ? 2 : 0.4, run: () => this.#clear() },
      { name: 'setIfAbsent', weight: 4, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'setIfAbsent', recordedValue(v), () => c.setIfAbsent(k, v), (r) => r); } },
      { name: 'getOrSet', weight: 3, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'getOrSet', recordedValue(v), () => c.getOrSet(k, v)); } },
      { name: 'swap', weight: 4, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'swap', recordedValue(v), () => c.swap(k, v)); } },
      { name: 'take', weight: 3, run: () => { const k = key(); rec.one(k, 'take', undefined, () => c.take(k)); } },
      { name: 'getEntry', weight: 5, run: () => this.#getEntry(key()) },
      {
        name: 'compareAndSet',
        weight: 5,
        run: () => {
          const k = key();
          const expected = this.#expected(k);
          const v = this.#value();
          rec.one(k, 'compareAndSet', { expected, value: recordedValue(v) }, () => c.compareAndSet(k, expected, v), (r) => r);
        },
      },
      {
        name: 'compareAndDelete',
        weight: 2,
        run: () => {
          const k = key();
          const expected = this.#expected(k) ?? 1;
          rec.one(k, 'compareAndDelete', expected, () => c.compareAndDelete(k, expected), (r) => r);
        },
      },
      { name: 'update', weight: 3, run: () => this.#update(key()) },
      {
        name: 'getMany',
        weight: 2,
        run: () => {
          const ks = rng.subset(keys, Math.min(2, keys.length));
          const values = (r: unknown): unknown[] => getManyValues(r, ks).map(recordedValue);
          // One snapshot of all its keys: checked as such on the whole store.
          if (wholeStore) rec.one(STORE_KEY, 'getMany', ks, () => c.getMany(ks), values);
          else rec.many(ks, 'getMany', undefined, () => c.getMany(ks), values);
        },
      },
      {
        name: 'setMany',
        weight: 2,
        run: () => {
          const ks = rng.subset(keys, Math.min(2, keys.length));
          const vs = ks.map(() => this.#value());
          const atomic = rng.next() < 0.5;
          const call = (): unknown => c.setMany(ks.map((k, i) => [k, vs[i]]), { atomic });
          if (wholeStore && atomic) rec.one(STORE_KEY, 'setMany', { keys: ks, values: vs.map(recordedValue) }, call, () => undefined);
          else rec.many(ks, 'setMany', vs.map(recordedValue), call, () => undefined);
        },
      },
      {
        name: 'deleteMany',
        weight: 1.5,
        run: () => {
          const ks = rng.subset(keys, Math.min(2, keys.length));
          const atomic = rng.next() < 0.5;
          const call = (): unknown => c.deleteMany(ks, { atomic });
          if (wholeStore && atomic) rec.one(STORE_KEY, 'deleteMany', ks, call, (r) => r);
          // Per key, only "absent afterwards" is known (the count is for all keys).
          else rec.many(ks, 'deleteMany', undefined, call, (r) => deleteManyOutcomes(r, ks));
        },
      },
      { name: 'entries', weight: wholeStore ? 0.5 : 0.3, run: () => this.#iterate() },
      { name: 'getOrComputeSync', weight: 4, run: () => this.#compute(key()) },
    ];
    if (wholeStore) {
      choices.push({ name: 'size', weight: 4, run: () => { rec.one(STORE_KEY, 'size', undefined, () => s.size, (r) => r); } });
    }
    return choices;
  }

  #counterChoices(): Choice[] {
    const s = this.#store;
    // Every codec reads a counter back as a number, but only v8 and json
    // can store a number with set/swap/compareAndSet.
    const numbers = this.#spec.codec === 'v8' || this.#spec.codec === 'json';
    const c = this.#store;
    const rec = this.recorder;
    const rng = this.#rng;
    const key = (): string => rng.pick(this.#spec.counters);
    const number = (): number => rng.int(1000);
    const choices: Choice[] = [
      {
        name: 'increment',
        weight: 12,
        run: () => {
          const k = key();
          const delta = rng.next() < 0.2 ? undefined : rng.pick([1, 2, 3, -1, 10, 0.5]);
          rec.one(k, 'increment', delta, () => {
            try {
              return delta === undefined ? c.increment(k) : c.increment(k, delta);
            } catch (err) {
              // A non-number under the key (see setText): the model expects this.
              if (isTypeError(err) && (err as { code?: unknown }).code === 'ERR_THREADKV_NOT_A_NUMBER') return { error: 'TypeError' };
              throw err;
            }
          }, (r) => r);
        },
      },
      { name: 'get', weight: 3, run: () => { const k = key(); rec.one(k, 'get', undefined, () => s.get(k)); } },
      { name: 'has', weight: 1, run: () => { const k = key(); rec.one(k, 'has', undefined, () => s.has(k), (r) => r); } },
      { name: 'delete', weight: 1, run: () => { const k = key(); rec.one(k, 'delete', undefined, () => s.delete(k), (r) => r); } },
      // A non-number makes the increments fail with a TypeError until it is replaced.
      { name: 'setText', weight: 0.3, run: () => { const k = key(); const v = this.#value(); rec.one(k, 'set', recordedValue(v), () => s.set(k, v), () => undefined); } },
      { name: 'getEntry', weight: 1, run: () => this.#getEntry(key()) },
      { name: 'take', weight: 0.5, run: () => { const k = key(); rec.one(k, 'take', undefined, () => c.take(k)); } },
    ];
    if (numbers) {
      choices.push(
        { name: 'set', weight: 1, run: () => { const k = key(); const v = number(); rec.one(k, 'set', v, () => s.set(k, v), () => undefined); } },
        { name: 'swap', weight: 0.5, run: () => { const k = key(); const v = number(); rec.one(k, 'swap', v, () => c.swap(k, v)); } },
        {
          name: 'compareAndSet',
          weight: 1,
          run: () => {
            const k = key();
            const expected = this.#expected(k);
            const v = number();
            rec.one(k, 'compareAndSet', { expected, value: v }, () => c.compareAndSet(k, expected, v), (r) => r);
          },
        },
      );
    }
    return choices;
  }

  #getEntry(k: string): void {
    const c = this.#store;
    const e = this.recorder.one(k, 'getEntry', undefined, () => c.getEntry(k), recordedEntry);
    if (e !== undefined && typeof e.version === 'number') this.#versions.set(k, e.version);
  }

  /**
   * getOrComputeSync(k, factory), recorded as `compute` with what the call
   * did (hit, join, or lead and whether its value was stored: from the
   * library's per-thread trace, see test/support/compute.ts).
   */
  #compute(k: string): void {
    const c = this.#store;
    const v = this.#value();
    const trace = computeTrace();
    trace.step = 'none';
    let called = false;
    const call = process.hrtime.bigint();
    const out = c.getOrComputeSync(k, () => {
      called = true;
      spin(20_000); // a computation takes a little while (20 us): others may join it
      return v;
    });
    const ret = process.hrtime.bigint();
    const seen = trace.step as 'none' | 'hit' | 'join' | 'lead'; // set by the call
    const step = seen === 'none' ? 'hit' : seen;
    if (called !== (step === 'lead')) throw new Error(`getOrComputeSync(${JSON.stringify(k)}): factory called ${called}, but the call was a ${step}`);
    const arg = step === 'lead' ? { step, value: recordedValue(v), stored: trace.stored } : { step };
    this.recorder.add(k, 'getOrComputeSync', arg, recordedValue(out), call, ret);
  }

  /**
   * update(k, fn), recorded as a swap (fn's last result replaced fn's last
   * input) or, when fn returns undefined (delete), as a take.
   */
  #update(k: string): void {
    const c = this.#store;
    const remove = this.#rng.next() < 0.15;
    let calls = 0;
    let seen: unknown;
    let written: unknown;
    const call = process.hrtime.bigint();
    try {
      c.update(k, (old) => {
        calls++;
        seen = old;
        written = remove ? undefined : this.#value();
        return written;
      });
    } catch (err) {
      // Gave up after maxRetries lost races, having changed nothing: an
      // operation with no effect and no result, left out of the history.
      if ((err as { code?: unknown }).code === 'ERR_THREADKV_UPDATE_CONTENDED') return;
      throw err;
    }
    const ret = process.hrtime.bigint();
    if (calls === 0) throw new Error(`update(${JSON.stringify(k)}) never called its function`);
    if (remove) this.recorder.add(k, 'update', undefined, recordedValue(seen), call, ret);
    else this.recorder.add(k, 'update', recordedValue(written), recordedValue(seen), call, ret);
  }

  /** One pass of iteration, recorded as a read of every key at some instant inside it. */
  #iterate(): void {
    const keys = this.#allKeys();
    const seen = new Map<string, unknown>();
    const call = process.hrtime.bigint();
    const entries = iterateEntries(this.#store);
    const ret = process.hrtime.bigint();
    for (const [k, v] of entries) {
      if (seen.has(k)) throw new Error(`iteration yielded the key ${JSON.stringify(k)} twice`);
      if (!keys.includes(k)) throw new Error(`iteration yielded the key ${JSON.stringify(k)}, never written`);
      seen.set(k, v);
    }
    for (const k of keys) this.recorder.add(k, 'entries', undefined, recordedValue(seen.get(k)), call, ret);
  }
}

/** Choices that need only the basic Store API. */
const BASIC_OPS: ReadonlySet<string> = new Set(['set', 'put', 'get', 'has', 'delete', 'clear', 'size', 'setText']);

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

const mapped = new WeakMap<Operation, Operation>();

/**
 * The kvModel operation a recorded operation is checked as:
 *  - `put`, `setMany` (per key): `set`;
 *  - `getMany`, `entries` (per key): `get` (`undefined` = absent);
 *    (whole-store histories record getMany and atomic setMany/deleteMany
 *    as ONE operation on STORE_KEY instead: see `wholeStoreModel`);
 *  - `update`: `swap` (arg = what the function returned, out = what it was
 *    given: the value it replaced), or `take` when the function returned
 *    undefined (which deletes; no arg);
 *  - `deleteMany` (per key): `delete` when the call reported a boolean per
 *    key, else `clear` (absent afterwards, no claim about before);
 *  - `getOrComputeSync`: `compute` (arg: hit / join / lead and stored).
 * Anything else is checked as itself.
 */
export function asKvOperation(op: Operation): Operation {
  let name: string;
  switch (op.op) {
    case 'put':
    case 'setMany':
      name = 'set';
      break;
    case 'getMany':
    case 'entries':
      name = 'get';
      break;
    case 'update':
      name = op.arg === undefined ? 'take' : 'swap';
      break;
    case 'deleteMany':
      name = typeof op.out === 'boolean' ? 'delete' : 'clear';
      break;
    case 'getOrComputeSync':
      name = 'compute';
      break;
    default:
      return op;
  }
  let m = mapped.get(op);
  if (m === undefined) mapped.set(op, (m = { ...op, op: name }));
  return m;
}

/** kvModel over the recorder's operation names (see `asKvOperation`). */
export const historyModel: Model<KvState> = {
  init: () => kvModel.init(),
  step: (state, op) => kvModel.step(state, asKvOperation(op)),
  hash: (state) => kvModel.hash(state),
  readOnly: (op) => kvModel.readOnly!(asKvOperation(op)),
  validate: (op) => kvModel.validate!(asKvOperation(op)),
  explain: (state, op) => kvModel.explain!(state, asKvOperation(op)),
  formatState: (state) => kvModel.formatState!(state),
};

export type StoreState = readonly KvState[];

/**
 * The whole store, holding only `keys`, as one object: per-key operations as
 * in `historyModel`, and on STORE_KEY, each taking effect at ONE instant:
 *  - `clear`: every key absent;
 *  - `size`: `out` is how many keys are present;
 *  - `getMany` (arg: the keys): `out` is their values, one snapshot;
 *  - `setMany` (arg: { keys, values }): an atomic setMany;
 *  - `deleteMany` (arg: the keys): an atomic deleteMany, `out` the count
 *    of those present.
 * Check with `checkOperations(history, wholeStoreModel(keys))` (not
 * checkHistory, which would split the history by key). The search grows
 * with the number of keys and threads: keep these runs short.
 */
export function wholeStoreModel(keys: readonly string[]): Model<StoreState> {
  const index = new Map(keys.map((k, i) => [k, i]));
  const countPresent = (state: StoreState): number => state.reduce((n, s) => n + (s.present ? 1 : 0), 0);
  const keyList = (op: Operation): string[] => (op.op === 'setMany' ? (op.arg as { keys: string[] }).keys : (op.arg as string[]));
  /** Applies `ops` (per-key operations) one after another, all or nothing. */
  const applyAll = (state: StoreState, ops: Operation[]): StepResult<StoreState> => {
    let next: KvState[] | undefined;
    for (const o of ops) {
      const i = index.get(o.key)!;
      const cur = (next ?? state)[i]!;
      const r = kvModel.step(cur, o);
      if (!r.ok) return { ok: false, next: state };
      if (r.next !== cur) (next ??= [...state])[i] = r.next;
    }
    return { ok: true, next: next ?? state };
  };
  const parts = new WeakMap<Operation, Operation[]>();
  /** A store-wide multi-key operation as kvModel operations on its keys. */
  const split = (op: Operation): Operation[] => {
    let p = parts.get(op);
    if (p !== undefined) return p;
    const ks = keyList(op);
    if (op.op === 'getMany') {
      const out = op.out as unknown[];
      p = ks.map((key, i) => ({ ...op, key, op: 'get', arg: undefined, out: out[i] }));
    } else if (op.op === 'setMany') {
      const values = (op.arg as { values: unknown[] }).values;
      p = ks.map((key, i) => ({ ...op, key, op: 'set', arg: values[i], out: undefined }));
    } else {
      p = ks.map((key) => ({ ...op, key, op: 'clear', arg: undefined, out: undefined }));
    }
    parts.set(op, p);
    return p;
  };
  const step = (state: StoreState, op: Operation): StepResult<StoreState> => {
    if (op.key === STORE_KEY) {
      switch (op.op) {
        case 'size':
          return { ok: op.out === countPresent(state), next: state };
        case 'clear':
          return { ok: true, next: state.map((s) => kvModel.step(s, op).next) };
        case 'deleteMany': {
          const present = keyList(op).filter((k) => state[index.get(k)!]!.present).length;
          if (op.out !== present) return { ok: false, next: state };
          return applyAll(state, split(op));
        }
        default: // getMany, setMany
          return applyAll(state, split(op));
      }
    }
    const i = index.get(op.key)!;
    const r = historyModel.step(state[i]!, op);
    if (!r.ok) return { ok: false, next: state };
    if (r.next === state[i]) return { ok: true, next: state };
    const next = [...state];
    next[i] = r.next;
    return { ok: true, next };
  };
  const format = (state: StoreState): string =>
    keys.map((k, i) => `${JSON.stringify(k)} ${kvModel.formatState!(state[i]!)}`).join('; ');
  return {
    init: () => keys.map(() => kvModel.init()),
    step,
    hash: (state) => state.map((s) => kvModel.hash(s)).join('|'),
    readOnly: (op) => (op.key === STORE_KEY ? op.op === 'size' || op.op === 'getMany' : historyModel.readOnly!(op)),
    validate(op) {
      if (op.key === STORE_KEY) {
        if (!['clear', 'size', 'getMany', 'setMany', 'deleteMany'].includes(op.op)) {
          throw new Error(`wholeStoreModel: unknown store-wide operation ${op.op}`);
        }
        if (op.op !== 'clear' && op.op !== 'size') {
          const ks = keyList(op);
          if (!Array.isArray(ks) || !ks.every((k) => index.has(k))) throw new Error(`wholeStoreModel: ${op.op} needs known keys`);
          if (op.op === 'getMany' && (!Array.isArray(op.out) || op.out.length !== ks.length)) {
            throw new Error('wholeStoreModel: getMany needs one value per key');
          }
        }
        return;
      }
      if (!index.has(op.key)) throw new Error(`wholeStoreModel: unknown key ${JSON.stringify(op.key)}`);
      historyModel.validate!(op);
    },
    explain(state, op) {
      if (op.key === STORE_KEY) {
        switch (op.op) {
          case 'size':
            return `size returned ${String(op.out)} but ${countPresent(state)} key(s) are present: ${format(state)}`;
          case 'deleteMany':
          case 'getMany':
            return `${op.op} ${JSON.stringify(op.arg)} returned ${JSON.stringify(op.out)}, impossible at one instant when ${format(state)}`;
          default:
            return 'legal from this state, but every continuation was a dead end';
        }
      }
      return historyModel.explain!(state[index.get(op.key)!]!, op);
    },
    formatState: format,
  };
}

// ---------------------------------------------------------------------------
// Deliberately broken stores (negative controls)
// ---------------------------------------------------------------------------

export type BrokenKind = 'stale-read' | 'racy-increment' | 'split-clear' | 'double-compute';

function spin(ns: number): void {
  const end = process.hrtime.bigint() + BigInt(ns);
  while (process.hrtime.bigint() < end) {
    // widen the race window
  }
}

/**
 * `real` with one operation broken, in JS:
 *  - `'stale-read'`: `get` returns this thread's last value read for the
 *    key (a per-worker cache) 20% of the time;
 *  - `'racy-increment'`: `increment` is a get, a pause (2 µs), then a set (a
 *    non-atomic read-modify-write: concurrent increments get lost);
 *  - `'split-clear'`: `clear` deletes `keys` one at a time, pausing after
 *    the first: each key is still cleared inside the call, so only a
 *    whole-store check can tell. With `gap` (a SharedArrayBuffer of two
 *    Int32s: [in gap, acknowledgements]) the pause raises the flag and waits
 *    (up to 2 ms) until another thread acknowledges having run an operation
 *    inside it (see `observeGap`); without it the pause is 20 µs.
 * Every other member is the real store's.
 */
export function brokenStore<T extends object>(
  real: T,
  kind: BrokenKind,
  seed: number,
  keys: readonly string[],
  gap?: SharedArrayBuffer,
): T {
  const s = real as unknown as BasicStore;
  const rng = new Rng(seed);
  const cache = new Map<string, unknown>();
  const overrides: Record<string, unknown> = {};
  if (kind === 'stale-read') {
    overrides['get'] = (key: string): unknown => {
      if (cache.has(key) && rng.next() < 0.2) return cache.get(key);
      const v = s.get(key);
      cache.set(key, v);
      return v;
    };
  } else if (kind === 'double-compute') {
    // getOrComputeSync as a get, then the factory and a set: two threads
    // that miss at once both compute (getOrSet's behaviour).
    overrides['getOrComputeSync'] = (key: string, factory: (k: string) => unknown): unknown => {
      const trace = computeTrace();
      if (s.has(key)) {
        trace.step = 'hit';
        return s.get(key);
      }
      const v = factory(key);
      spin(2000);
      s.set(key, v);
      trace.step = 'lead';
      trace.stored = true;
      return v;
    };
  } else if (kind === 'racy-increment') {
    overrides['increment'] = (key: string, delta = 1): number => {
      const old = s.get(key);
      if (old !== undefined && typeof old !== 'number') throw new TypeError('not a number');
      const next = ((old as number | undefined) ?? 0) + delta;
      spin(2000);
      s.set(key, next);
      return next;
    };
  } else {
    const g = gap ? new Int32Array(gap) : undefined;
    overrides['clear'] = (): void => {
      keys.forEach((k, i) => {
        if (i === 1) {
          if (g === undefined) {
            spin(20_000);
          } else {
            const acks = Atomics.load(g, 1);
            Atomics.store(g, 0, 1);
            const end = process.hrtime.bigint() + 2_000_000n;
            while (Atomics.load(g, 1) === acks && process.hrtime.bigint() < end) {
              // wait for another thread to look inside the gap
            }
            Atomics.store(g, 0, 0);
          }
        }
        s.delete(k);
      });
    };
  }
  return new Proxy(real, {
    get(target, prop) {
      if (typeof prop === 'string' && Object.hasOwn(overrides, prop)) return overrides[prop];
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

/**
 * For brokenStore's 'split-clear' with a `gap`: when another thread's clear
 * is paused between two keys, records a `size` right there and
 * acknowledges it. Call between operations.
 */
export function observeGap(gap: SharedArrayBuffer, workload: Workload): void {
  const g = new Int32Array(gap);
  if (Atomics.load(g, 0) !== 1) return;
  workload.recordSize();
  Atomics.add(g, 1, 1);
}

// ---------------------------------------------------------------------------
// History files
// ---------------------------------------------------------------------------

/**
 * When THREADKV_HISTORY_DIR is set, writes `history` as JSON lines (the
 * checker's serializeHistory) to `<dir>/<testName>-<codec>-<n>threads.jsonl`
 * and returns the path.
 */
export function writeHistoryFile(testName: string, codec: string, threads: number, history: readonly Operation[]): string | undefined {
  const dir = process.env['THREADKV_HISTORY_DIR'];
  if (!dir) return undefined;
  const slug = testName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '');
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${slug}-${codec}-${threads}threads.jsonl`);
  fs.writeFileSync(file, serializeHistory(history));
  return file;
}
