// getOrCompute / getOrComputeSync: one computation per missing key for
// every thread of the process. The store (native/core/compute.cc) decides
// in one step under the key's shard lock whether a caller hits, leads (runs
// its factory here) or joins a flight another caller leads (in any thread);
// this module runs the factory, hands its value or error back, and waits:
// asynchronously through this thread's waker (lib/waker.ts), or, for the
// sync variant, blocked in short native slices.
import * as v8 from 'node:v8';
import { abortError, computeTimeout, describeType, invalidArgument, recursiveCompute } from './errors';
import { native, type NativeHandle, type NativeValue } from './native';
import { validateTtl } from './options';
import type { ComputeContext, GetOrComputeOptions, GetOrComputeSyncOptions } from './types';
import { holdLoop, offWake, onWake, releaseLoop, startWaker } from './waker';

/** The lease a leading caller takes when it gives none. */
export const DEFAULT_LEASE_MS = 60_000;
/**
 * getOrComputeSync blocks in native waits of at most this long, returning to
 * JavaScript in between: worker.terminate() (which only interrupts
 * JavaScript) then stops a blocked thread within one slice.
 */
export const SYNC_SLICE_MS = 2;
// The longest setTimeout delay Node honours (longer ones fire at once).
const MAX_TIMER_MS = 2 ** 31 - 1;

const enum Begin {
  Hit = 0,
  Lead = 1,
  Join = 2,
  Recursive = 3,
}

const enum Wait {
  Pending = 0,
  Value = 1,
  Error = 2,
  Retry = 3,
  Cancelled = 4,
}

const enum LeaderState {
  Running = 0,
  Invalidated = 1,
  Lost = 2,
}

/** What a Store hands this module: its handle and its codec's view of values. */
export interface ComputeHost<V> {
  readonly name: string;
  readonly handle: NativeHandle;
  decode(raw: NativeValue): V;
  encode(key: string, value: V): NativeValue;
  /** What a `get` would return for a value this caller just stored as `encoded`. */
  storedCopy(encoded: NativeValue): V;
}

export interface ResolvedComputeOptions {
  ttlMs: number | undefined;
  waitTimeoutMs: number;
  leaseMs: number;
  signal: AbortSignal | undefined;
}

const DEFAULTS: ResolvedComputeOptions = Object.freeze({
  ttlMs: undefined,
  waitTimeoutMs: Infinity,
  leaseMs: DEFAULT_LEASE_MS,
  signal: undefined,
});

export function isAbortSignal(s: unknown): s is AbortSignal {
  return (
    typeof s === 'object' &&
    s !== null &&
    typeof (s as AbortSignal).aborted === 'boolean' &&
    typeof (s as AbortSignal).addEventListener === 'function' &&
    typeof (s as AbortSignal).removeEventListener === 'function'
  );
}

/** Validates getOrCompute's options (getOrComputeSync's when `sync`). */
export function computeOptions(
  store: string,
  method: string,
  options: GetOrComputeOptions | GetOrComputeSyncOptions | undefined,
  sync: boolean,
): ResolvedComputeOptions {
  if (options === undefined) return DEFAULTS;
  const fail = (Ctor: typeof TypeError | typeof RangeError, message: string): Error =>
    invalidArgument(Ctor, store, method, `options.${message}`);
  if (options === null || typeof options !== 'object') {
    throw invalidArgument(TypeError, store, method, `options must be an object, got ${describeType(options)}`);
  }
  const ttlMs = validateTtl(options.ttlMs, fail);
  const ms = (name: 'waitTimeoutMs' | 'leaseMs', v: unknown, min: number, dflt: number): number => {
    if (v === undefined) return dflt;
    if (typeof v !== 'number') throw fail(TypeError, `${name} must be a number, got ${describeType(v)}`);
    if (!(v >= min) || (!Number.isFinite(v) && v !== Infinity)) {
      throw fail(RangeError, `${name} must be a number of milliseconds ${min === 0 ? 'from 0 up' : 'above 0'}, or Infinity, got ${v}`);
    }
    if (min > 0 && v === 0) throw fail(RangeError, `${name} must be above 0, got 0`);
    return v;
  };
  const waitTimeoutMs = ms('waitTimeoutMs', options.waitTimeoutMs, 0, Infinity);
  const leaseMs = ms('leaseMs', options.leaseMs, Number.MIN_VALUE, DEFAULT_LEASE_MS);
  let signal: AbortSignal | undefined;
  if (!sync) {
    const s: unknown = (options as GetOrComputeOptions).signal;
    if (s !== undefined && !isAbortSignal(s)) throw fail(TypeError, `signal must be an AbortSignal, got ${describeType(s)}`);
    signal = s;
  } else if ((options as GetOrComputeOptions).signal !== undefined) {
    throw fail(TypeError, 'signal is not an option of getOrComputeSync (it blocks; use waitTimeoutMs)');
  }
  return { ttlMs, waitTimeoutMs, leaseMs, signal };
}

// ---- Errors, shared with every joined caller ----

const ERROR_CLASSES: Record<string, ErrorConstructor> = {
  Error,
  TypeError,
  RangeError,
  SyntaxError,
  ReferenceError,
  EvalError,
  URIError,
};

interface ErrorRecord {
  /** 1: an Error-like object; 0: some other thrown value. */
  e: 0 | 1;
  name?: string;
  message?: string;
  stack?: string;
  /** Other own enumerable properties (`code`, `status`...), each if it can be cloned. */
  props?: Record<string, unknown>;
  value?: unknown;
}

/**
 * The leader's thrown value, as bytes every joined caller rebuilds an equal
 * error from: an Error's name, message, stack and own enumerable properties
 * (`code` among them: structured clone alone would drop it), or any other
 * thrown value structured-cloned (its String() if it cannot be).
 */
export function serializeError(err: unknown): Uint8Array {
  let record: ErrorRecord;
  if (err instanceof Error || (typeof err === 'object' && err !== null && typeof (err as Error).message === 'string')) {
    const e = err as Error & Record<string, unknown>;
    const props: Record<string, unknown> = {};
    for (const k of Object.keys(e)) {
      if (k === 'stack' || k === 'message' || k === 'name') continue;
      try {
        v8.serialize(e[k]);
        props[k] = e[k];
      } catch {
        // not cloneable: left out
      }
    }
    record = { e: 1, name: String(e.name), message: e.message, stack: typeof e.stack === 'string' ? e.stack : undefined, props };
  } else {
    record = { e: 0, value: err };
  }
  try {
    return v8.serialize(record);
  } catch {
    return v8.serialize({ e: 0, value: String(err) } satisfies ErrorRecord);
  }
}

/** Rebuilds the leader's error (see serializeError) in this thread. */
export function deserializeError(bytes: Uint8Array): unknown {
  const r = v8.deserialize(bytes) as ErrorRecord;
  if (r.e === 0) return r.value;
  const Ctor = ERROR_CLASSES[r.name ?? 'Error'] ?? Error;
  const err = new Ctor(r.message ?? '') as Error & Record<string, unknown>;
  if (err.name !== r.name && r.name !== undefined) {
    Object.defineProperty(err, 'name', { value: r.name, writable: true, configurable: true, enumerable: false });
  }
  for (const [k, v] of Object.entries(r.props ?? {})) err[k] = v;
  if (r.stack !== undefined) {
    Object.defineProperty(err, 'stack', {
      value: `${r.stack}\n    (thrown by the factory of the caller that led this getOrCompute, in its own thread)`,
      writable: true,
      configurable: true,
      enumerable: false,
    });
  }
  return err;
}

function internal(what: string): Error {
  return new Error(`threadkv: internal error in getOrCompute: ${what}`);
}

/**
 * What the latest getOrComputeSync miss of this thread did, and whether the
 * latest value a leader of this thread handed over was stored (false: a
 * write to the key invalidated its computation, or it had been taken over).
 * Internal diagnostics for the linearizability tests (a led computation is a
 * write only if it was stored); not part of the public API.
 */
export const computeTrace: { step: 'none' | 'hit' | 'join' | 'lead'; stored: boolean } = { step: 'none', stored: false };

// ---- The leader's part ----

/** Hands the leader's value to the store and its joined callers; returns this caller's copy. */
function complete<V>(host: ComputeHost<V>, key: string, token: number, value: V, ttlMs: number | undefined): V {
  let encoded: NativeValue;
  try {
    encoded = host.encode(key, value);
    computeTrace.stored = native.computeComplete(host.handle, token, key, encoded, ttlMs);
  } catch (err) {
    // Not encodable, too large, refused by a limit, store destroyed: every
    // joined caller gets this error too (nothing was stored).
    native.computeFail(token, serializeError(err));
    throw err;
  }
  return host.storedCopy(encoded);
}

const RETRY: unique symbol = Symbol('retry');
type Retry = typeof RETRY;

function leaderAbortReason(state: number, store: string, key: string): Error {
  const why =
    state === LeaderState.Invalidated
      ? 'the key was written while it ran, so its value will not be stored'
      : 'its lease ran out and another caller took the computation over, so its result will be discarded';
  const err = new Error(`threadkv: the computation of key ${JSON.stringify(key)} is no longer needed: ${why} (store ${JSON.stringify(store)})`);
  err.name = 'AbortError';
  return err;
}

/**
 * Runs the factory as the key's leader. Resolves with the value (stored
 * unless a write to the key came first), rejects with the factory's error
 * (shared with every joined caller), or resolves RETRY when the factory gave
 * up after its signal aborted (its joined callers retry; so does this one).
 */
async function lead<V>(
  host: ComputeHost<V>,
  key: string,
  token: number,
  factory: (key: string, ctx: ComputeContext) => V | Promise<V>,
  ttlMs: number | undefined,
): Promise<V | Retry> {
  const controller = new AbortController();
  onWake(token, () => {
    const state = native.computeLeaderState(token);
    if (state !== LeaderState.Running && !controller.signal.aborted) {
      controller.abort(leaderAbortReason(state, host.name, key));
    }
  });
  let value: V;
  try {
    value = await factory(key, { signal: controller.signal });
  } catch (err) {
    offWake(token);
    if (controller.signal.aborted) {
      // It stopped because it was told to: not an error to share.
      native.computeAbandon(token);
      return RETRY;
    }
    native.computeFail(token, serializeError(err));
    throw err;
  }
  offWake(token);
  return complete(host, key, token, value, ttlMs);
}

// ---- A joined caller's wait ----

function join<V>(
  host: ComputeHost<V>,
  key: string,
  token: number,
  leaseLeftMs: number,
  waitDeadline: number,
  o: ResolvedComputeOptions,
): Promise<V | Retry> {
  return new Promise<V | Retry>((resolve, reject) => {
    let leaseTimer: NodeJS.Timeout | undefined;
    let waitTimer: NodeJS.Timeout | undefined;
    let done = false;
    const signal = o.signal;
    const finish = (): void => {
      done = true;
      offWake(token);
      releaseLoop();
      if (leaseTimer !== undefined) clearTimeout(leaseTimer);
      if (waitTimer !== undefined) clearTimeout(waitTimer);
      signal?.removeEventListener('abort', onAbort);
    };
    const settle = (r: [number, unknown?]): void => {
      switch (r[0]) {
        case Wait.Pending:
          armLease(r[1] as number);
          return;
        case Wait.Value:
          finish();
          resolve(host.decode(r[1] as NativeValue));
          return;
        case Wait.Error:
          finish();
          reject(deserializeError(r[1] as Uint8Array));
          return;
        case Wait.Retry:
          finish();
          resolve(RETRY);
          return;
        default:
          finish();
          reject(internal('a wait was cancelled behind its caller'));
      }
    };
    const poll = (): void => {
      if (!done) settle(native.computeWait(token, 0));
    };
    // At the leader's lease deadline, look again: if the flight has not
    // ended, it is lost and this caller (with the others) takes it over.
    function armLease(ms: number): void {
      if (leaseTimer !== undefined) clearTimeout(leaseTimer);
      leaseTimer = undefined;
      if (ms === Infinity) return;
      leaseTimer = setTimeout(poll, Math.min(MAX_TIMER_MS, Math.ceil(ms) + 1));
      leaseTimer.unref();
    }
    // Stop waiting: unless the outcome arrived first (then take it).
    const stop = (timedOut: boolean, error: () => unknown): void => {
      if (done) return;
      if (native.computeCancel(token, timedOut)) {
        finish();
        reject(error());
      } else {
        poll();
      }
    };
    function onAbort(): void {
      stop(false, () => abortError(signal!));
    }
    const armWait = (): void => {
      const left = waitDeadline - performance.now();
      if (left <= 0) {
        stop(true, () => computeTimeout(host.name, key, o.waitTimeoutMs));
        return;
      }
      waitTimer = setTimeout(armWait, Math.min(MAX_TIMER_MS, Math.ceil(left)));
      waitTimer.unref();
    };
    // A pending getOrCompute keeps its thread alive (its timers do not).
    holdLoop();
    onWake(token, poll);
    armLease(leaseLeftMs);
    if (waitDeadline !== Infinity) armWait();
    if (signal !== undefined && !done) {
      if (signal.aborted) onAbort();
      else signal.addEventListener('abort', onAbort, { once: true });
    }
  });
}

/** Resolves with `p`, or rejects with an AbortError when `signal` aborts first (`p` goes on). */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortError(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** The miss path of getOrCompute (the store looked for `key` and did not find it). */
export async function computeAsync<V>(
  host: ComputeHost<V>,
  key: string,
  factory: (key: string, ctx: ComputeContext) => V | Promise<V>,
  o: ResolvedComputeOptions,
): Promise<V> {
  startWaker();
  const waitDeadline = o.waitTimeoutMs === Infinity ? Infinity : performance.now() + o.waitTimeoutMs;
  for (;;) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const r = native.computeBegin(host.handle, key, o.leaseMs, false);
    let got: V | Retry;
    switch (r[0]) {
      case Begin.Hit:
        return host.decode(r[1] as NativeValue);
      case Begin.Lead: {
        const running = lead(host, key, r[1] as number, factory, o.ttlMs);
        if (o.signal === undefined) {
          got = await running;
        } else {
          // This caller may stop waiting; the computation goes on for the
          // others (and its outcome is not reported twice).
          running.catch(() => {});
          got = await raceAbort(running, o.signal);
        }
        break;
      }
      case Begin.Join:
        got = await join(host, key, r[1] as number, r[2] as number, waitDeadline, o);
        break;
      default:
        throw internal(`computeBegin answered ${String(r[0])}`);
    }
    if (got !== RETRY) return got;
  }
}

/** The miss path of getOrComputeSync. */
export function computeSync<V>(host: ComputeHost<V>, key: string, factory: (key: string) => V, o: ResolvedComputeOptions): V {
  startWaker();
  const waitDeadline = o.waitTimeoutMs === Infinity ? Infinity : performance.now() + o.waitTimeoutMs;
  for (;;) {
    const r = native.computeBegin(host.handle, key, o.leaseMs, true);
    switch (r[0]) {
      case Begin.Hit:
        computeTrace.step = 'hit';
        return host.decode(r[1] as NativeValue);
      case Begin.Recursive:
        throw recursiveCompute(host.name, key);
      case Begin.Lead: {
        const token = r[1] as number;
        let value: V;
        try {
          value = factory(key);
          if (typeof (value as { then?: unknown } | null)?.then === 'function') {
            throw invalidArgument(
              TypeError,
              host.name,
              'getOrComputeSync',
              `the factory returned a Promise for key ${JSON.stringify(key)}: getOrComputeSync needs a synchronous factory (use getOrCompute)`,
            );
          }
        } catch (err) {
          native.computeFail(token, serializeError(err));
          throw err;
        }
        computeTrace.step = 'lead';
        return complete(host, key, token, value, o.ttlMs);
      }
      case Begin.Join: {
        const token = r[1] as number;
        for (;;) {
          // Blocks at most one slice, then back in JavaScript (terminate()).
          const w = native.computeWait(token, SYNC_SLICE_MS);
          if (w[0] === Wait.Pending) {
            if (performance.now() >= waitDeadline && native.computeCancel(token, true)) {
              throw computeTimeout(host.name, key, o.waitTimeoutMs);
            }
            continue;
          }
          if (w[0] === Wait.Value) {
            computeTrace.step = 'join';
            return host.decode(w[1] as NativeValue);
          }
          if (w[0] === Wait.Error) throw deserializeError(w[1] as Uint8Array);
          if (w[0] === Wait.Retry) break;
          throw internal('a sync wait was cancelled behind its caller');
        }
        break;
      }
      default:
        throw internal(`computeBegin answered ${String(r[0])}`);
    }
  }
}
