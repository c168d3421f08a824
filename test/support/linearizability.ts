/**
 * Linearizability checker for key-value histories recorded against threadkv.
 *
 * A *history* is a list of completed operations. Each one has the interval
 * [call, ret] during which it ran (timestamps from `process.hrtime.bigint()`,
 * i.e. nanoseconds on a clock every thread shares) and what it returned.
 * The history is *linearizable* if some total order of the operations exists
 * that (1) respects real time: when `a.ret < b.call`, `a` comes before `b`,
 * and (2) is a legal sequential execution of the object's specification
 * (the *model*): every operation returns what the model says it returns in
 * that order.
 *
 * Algorithm
 * ---------
 * This is Wing & Gong's search ("Testing and verifying concurrent objects",
 * 1993) with Lowe's memoization ("Testing for linearizability", 2017),
 * implemented the way Porcupine (github.com/anishathalye/porcupine,
 * checker.go) does it:
 *
 *  - Every operation becomes two events, a *call* and a *return*, and the
 *    events go into one doubly linked list sorted by time.
 *  - The search walks the list from the head. Every call event met before
 *    the first return event belongs to an operation that may take effect
 *    next (all of them have started, and nothing that must come first is
 *    still pending). Wing & Gong try each candidate in turn: if the model
 *    accepts it from the current state, its call *and* return events are
 *    unlinked from the list ("lifted"), the (operation, previous state) pair
 *    is pushed on a stack, and the walk restarts from the head.
 *  - Meeting a return event means its operation must already have taken
 *    effect, yet it has not been linearized, and no candidate before it
 *    worked: this branch is a dead end. Pop the stack, re-insert that
 *    operation's events ("unlift"), restore the previous state and try the
 *    next candidate after it. An empty stack at that point means that no
 *    linearization exists. An empty list means every operation has been
 *    linearized: the history is linearizable.
 *  - Lowe's cache: the rest of the search depends only on *which* operations
 *    are linearized (a bitset) and on the model state they produced, never
 *    on the order that produced them. So every (bitset, state) pair the
 *    search enters is remembered, and a branch that would enter a pair seen
 *    before is skipped: that configuration was explored in full already and
 *    (since we are still searching) led nowhere. This turns the factorial
 *    search into one bounded by the number of distinct configurations, which
 *    for short operations with a handful of threads is close to linear.
 *    (The bitset is stored compactly: see the comment in `searchKey`.)
 *  - One addition to Porcupine, a partial-order reduction: an operation the
 *    model declares read-only (`Model.readOnly`) is linearized as soon as it
 *    is legal, without trying alternatives; see `searchKey` for why that
 *    loses no linearization. Reads no longer multiply the search space.
 *
 * Soundness (never rejecting a legal history) rests on: the search being
 * exhaustive up to the cache, the cache only skipping configurations that
 * are truly equivalent (so `Model.hash` must give equal strings only for
 * states that behave the same from then on), and the model accepting every
 * output the real object is allowed to produce.
 *
 * Real-time order: operation `a` precedes `b` only if `a.ret < b.call`
 * strictly. Equal timestamps are treated as overlapping (at equal times
 * call events sort before return events, as in Porcupine): two threads can
 * read the same clock value in either real order, so equality proves
 * nothing, and treating it as concurrency only ever allows more orders.
 *
 * Locality: linearizability is local (Herlihy & Wing), so a history is
 * linearizable iff each key's sub-history is; `checkHistory` partitions by
 * key and checks the keys one by one, which keeps every search small.
 * Store-wide operations (`clear`) are expected to appear once per key, each
 * copy carrying that key, by whoever records the history. For those, the
 * per-key check is a necessary condition only (each key must see the clear
 * somewhere in its interval; that all keys see it at the same instant is
 * not checked), so it can miss a non-atomic clear but never rejects a legal
 * history.
 */
import { inspect, isDeepStrictEqual } from 'node:util';

// ---------------------------------------------------------------------------
// Histories
// ---------------------------------------------------------------------------

/** One completed operation on one key. */
export interface Operation {
  /** The key the operation applies to (the checker partitions by it). */
  key: string;
  /** Operation name, e.g. `'set'`, `'get'`; the model gives it meaning. */
  op: string;
  /** Argument (the value written, the CAS arguments, ...); may be absent. */
  arg?: unknown;
  /** What the store returned; `undefined` is a legitimate result. */
  out?: unknown;
  /** `process.hrtime.bigint()` read just before the call. */
  call: bigint;
  /** `process.hrtime.bigint()` read just after the call returned. */
  ret: bigint;
  /** Optional id of the thread that ran it (only used for messages). */
  thread?: number;
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

/** Result of applying one operation to a model state. */
export interface StepResult<S> {
  /** Whether the operation, with its recorded `out`, is legal in `state`. */
  ok: boolean;
  /** The state after the operation (meaningless when `ok` is false). */
  next: S;
}

/**
 * A sequential specification. States must be treated as immutable: `step`
 * returns a new state (or the same object when nothing changes) and never
 * modifies its input, because the search keeps old states to backtrack to.
 */
export interface Model<S> {
  /** The state before any operation. */
  init(): S;
  /** Applies `op` (whose `out` is what the real store returned) to `state`. */
  step(state: S, op: Operation): StepResult<S>;
  /**
   * A key for the state cache. Equal strings MUST mean equivalent states
   * (every future operation behaves the same from both); otherwise the
   * cache could prune a branch that leads to a valid linearization. Distinct
   * strings for equivalent states are harmless (less pruning).
   */
  hash(state: S): string;
  /**
   * Optional: true if `op` never changes the state, i.e. whenever
   * `step(s, op).ok`, the next state is equivalent to `s` in EVERY state `s`
   * (a read, or a write whose recorded `out` proves it did nothing). The
   * search then linearizes such an operation as soon as it is legal without
   * trying alternatives. Answer false when unsure: a wrong `true` makes the
   * checker reject legal histories.
   */
  readOnly?(op: Operation): boolean;
  /** Optional: throws on malformed operations (unknown names, bad args). */
  validate?(op: Operation): void;
  /** Optional: why `step(state, op)` fails, for error messages. */
  explain?(state: S, op: Operation): string;
  /** Optional: human-readable state, for error messages. */
  formatState?(state: S): string;
}

/**
 * Value equality used by `kvModel`: `util.isDeepStrictEqual` (primitives,
 * plain objects and arrays, Map, Set, Date, typed arrays, bigint; NaN equals
 * NaN), except that a top-level `0` and `-0` are also considered equal (the
 * store need not preserve the sign of zero).
 */
export function valuesEqual(a: unknown, b: unknown): boolean {
  return a === b || isDeepStrictEqual(a, b);
}

/**
 * State of ONE key in the key-value model.
 *
 * `version` is the version of the write that produced the current value,
 * or `null` while it is unknown: the store picks versions, so the model
 * only learns one when an operation observes it (getEntry, or a CAS that
 * succeeds against an unknown version). See "Versions" in the comment on
 * `kvModel`.
 */
export interface KvState {
  readonly present: boolean;
  readonly value: unknown;
  readonly version: number | null;
  /** Highest version observed so far on this key (-Infinity if none). */
  readonly maxSeen: number;
  /**
   * Only while `version` is null: versions the current write is known NOT
   * to have (a compare-and-set/delete expecting them failed against it).
   * Sorted ascending, all greater than `maxSeen`.
   */
  readonly excluded: readonly number[];
}

/**
 * Argument of `compute` (getOrCompute / getOrComputeSync): what the call did.
 * `hit`: it found the key; `join`: it got the value of a computation another
 * caller led; `lead`: its own factory ran and returned `value`, which the
 * store kept if `stored` (false: a write to the key during the computation
 * invalidated it).
 */
export interface ComputeArg {
  step: 'hit' | 'join' | 'lead';
  value?: unknown;
  stored?: boolean;
}

function isComputeArg(arg: unknown): arg is ComputeArg {
  if (typeof arg !== 'object' || arg === null) return false;
  const a = arg as ComputeArg;
  if (a.step === 'hit' || a.step === 'join') return true;
  return a.step === 'lead' && typeof a.stored === 'boolean';
}

/** Arguments of `compareAndSet`. */
export interface CasArg {
  expected: number | null;
  value: unknown;
}

/** The operation names `kvModel` understands. */
export const KV_OPERATIONS: readonly string[] = [
  'set',
  'get',
  'has',
  'delete',
  'clear',
  'setIfAbsent',
  'getOrSet',
  'swap',
  'take',
  'increment',
  'getEntry',
  'compareAndSet',
  'compareAndDelete',
  'compute',
];

const KV_OPERATION_SET: ReadonlySet<string> = new Set(KV_OPERATIONS);

const INITIAL_KV_STATE: KvState = Object.freeze({
  present: false,
  value: undefined,
  version: null,
  maxSeen: -Infinity,
  excluded: Object.freeze([]) as readonly number[],
});

/** The key holds no value. Version bookkeeping survives deletion. */
function absentState(maxSeen: number): KvState {
  return maxSeen === -Infinity
    ? INITIAL_KV_STATE
    : { present: false, value: undefined, version: null, maxSeen, excluded: [] };
}

/** A write stored `value` under a new version, not observed yet. */
function writtenState(value: unknown, maxSeen: number): KvState {
  return { present: true, value, version: null, maxSeen, excluded: [] };
}

/** A rejected step; the message is built only when a report needs it. */
class Rejection {
  constructor(readonly why: () => string) {}
}

type KvTransition = KvState | Rejection;

function reject(why: () => string): Rejection {
  return new Rejection(why);
}

function isTypeErrorOut(out: unknown): boolean {
  return typeof out === 'object' && out !== null && (out as { error?: unknown }).error === 'TypeError';
}

function isCasArg(arg: unknown): arg is CasArg {
  if (typeof arg !== 'object' || arg === null || !('expected' in arg)) return false;
  const expected = (arg as { expected: unknown }).expected;
  return expected === null || typeof expected === 'number';
}

/**
 * Resolves a versioned comparison (compareAndSet with a numeric `expected`,
 * compareAndDelete) against `state`. `onSuccess` receives the state with the
 * old write's version fixed and returns the state after the write.
 */
function versionedCompare(
  state: KvState,
  expected: number,
  out: unknown,
  what: string,
  onSuccess: (fixed: KvState) => KvState,
): KvTransition {
  if (typeof out !== 'boolean') {
    return reject(() => `${what} returned ${formatValue(out)}, expected a boolean`);
  }
  if (!state.present) {
    return out ? reject(() => `${what} succeeded but the key is absent`) : state;
  }
  if (state.version !== null) {
    const matches = state.version === expected;
    if (out === matches) return out ? onSuccess(state) : state;
    return reject(() =>
      out
        ? `${what} succeeded with expected=${expected} but the current version is ${state.version}`
        : `${what} failed with expected=${expected} although the current version is ${expected}`,
    );
  }
  // The current write's version v is unknown. All the model knows is that
  // v > maxSeen (versions only grow) and v is not in `excluded`. Any such v
  // is possible, so the outcome is decided by whether `expected` is one.
  const possible = expected > state.maxSeen && !state.excluded.includes(expected);
  if (out) {
    if (!possible) {
      return reject(() =>
        expected <= state.maxSeen
          ? `${what} succeeded with expected=${expected}, but the current value was written after version ${state.maxSeen} was observed, so its version is greater than ${state.maxSeen}`
          : `${what} succeeded with expected=${expected}, but an earlier compare against the same write with that version failed`,
      );
    }
    // Success proves v === expected.
    return onSuccess({ ...state, version: expected, maxSeen: expected, excluded: [] });
  }
  if (!possible) return state; // v certainly differs from expected: failure is forced.
  // Failure proves v !== expected; remember it so that a later observation
  // of exactly `expected` for this same write is rejected.
  const excluded = [...state.excluded, expected].sort((a, b) => a - b);
  return { ...state, excluded };
}

/**
 * The sequential specification of one key: the state after `op`, or why
 * `op` (with its recorded `out`) is impossible in `state`. To support a new
 * store operation, add its name to KV_OPERATIONS and a case here (and to
 * `kvModel.readOnly` if it can never change the state, to `validate` if its
 * argument has a required shape).
 */
function kvTransition(state: KvState, op: Operation): KvTransition {
  const { out, arg } = op;
  const current = state.present ? state.value : undefined;
  switch (op.op) {
    case 'set':
      return writtenState(arg, state.maxSeen);

    case 'get':
      return valuesEqual(out, current)
        ? state
        : reject(() => `get returned ${formatValue(out)} but the key ${describeKvValue(state)}`);

    case 'has':
      return out === state.present
        ? state
        : reject(() => `has returned ${formatValue(out)} but the key ${describeKvValue(state)}`);

    case 'delete':
      if (out !== state.present) {
        return reject(() => `delete returned ${formatValue(out)} but the key ${describeKvValue(state)}`);
      }
      return state.present ? absentState(state.maxSeen) : state;

    case 'clear':
      return state.present ? absentState(state.maxSeen) : state;

    case 'setIfAbsent':
      if (out !== !state.present) {
        return reject(() => `setIfAbsent returned ${formatValue(out)} but the key ${describeKvValue(state)}`);
      }
      return state.present ? state : writtenState(arg, state.maxSeen);

    case 'getOrSet':
      if (state.present) {
        return valuesEqual(out, state.value)
          ? state
          : reject(() => `getOrSet returned ${formatValue(out)} but the key ${describeKvValue(state)}`);
      }
      return valuesEqual(out, arg)
        ? writtenState(arg, state.maxSeen)
        : reject(() => `getOrSet on the absent key must store and return its argument ${formatValue(arg)}, but returned ${formatValue(out)}`);

    case 'swap':
      return valuesEqual(out, current)
        ? writtenState(arg, state.maxSeen)
        : reject(() => `swap returned ${formatValue(out)} as the previous value but the key ${describeKvValue(state)}`);

    case 'take':
      return valuesEqual(out, current)
        ? absentState(state.maxSeen)
        : reject(() => `take returned ${formatValue(out)} but the key ${describeKvValue(state)}`);

    case 'increment': {
      const delta = arg === undefined ? 1 : (arg as number);
      if (state.present && typeof state.value !== 'number') {
        return isTypeErrorOut(out)
          ? state
          : reject(() => `increment of the non-number ${formatValue(state.value)} must fail with { error: 'TypeError' }, but returned ${formatValue(out)}`);
      }
      const next = (state.present ? (state.value as number) : 0) + delta;
      return valuesEqual(out, next)
        ? writtenState(next, state.maxSeen)
        : reject(() => `increment by ${delta} returned ${formatValue(out)} but the key ${describeKvValue(state)} (expected ${next})`);
    }

    case 'getEntry': {
      if (!state.present) {
        return out === undefined
          ? state
          : reject(() => `getEntry returned ${formatValue(out)} but the key is absent`);
      }
      if (typeof out !== 'object' || out === null || !('version' in out)) {
        return reject(() => `getEntry returned ${formatValue(out)} but the key ${describeKvValue(state)}`);
      }
      const entry = out as { value?: unknown; version: unknown };
      if (!valuesEqual(entry.value, state.value)) {
        return reject(() => `getEntry returned value ${formatValue(entry.value)} but the key ${describeKvValue(state)}`);
      }
      const version = entry.version;
      if (typeof version !== 'number' || Number.isNaN(version)) {
        return reject(() => `getEntry returned the non-numeric version ${formatValue(version)}`);
      }
      if (state.version !== null) {
        return version === state.version
          ? state
          : reject(() => `getEntry saw version ${version}, but this same write was already observed with version ${state.version}`);
      }
      if (version <= state.maxSeen) {
        return reject(() => `getEntry saw version ${version} for a write made after version ${state.maxSeen} was observed (versions must increase with every write and are never reused)`);
      }
      if (state.excluded.includes(version)) {
        return reject(() => `getEntry saw version ${version}, but a compare against version ${version} failed on this same write`);
      }
      return { ...state, version, maxSeen: version, excluded: [] };
    }

    case 'compareAndSet': {
      if (!isCasArg(arg)) throw new Error(`kvModel: compareAndSet needs arg { expected: number | null, value }, got ${formatValue(arg)}`);
      if (arg.expected === null) {
        if (out !== !state.present) {
          return reject(() => `compareAndSet(expected=null) returned ${formatValue(out)} but the key ${describeKvValue(state)}`);
        }
        return state.present ? state : writtenState(arg.value, state.maxSeen);
      }
      const value = arg.value;
      return versionedCompare(state, arg.expected, out, 'compareAndSet', (fixed) =>
        writtenState(value, fixed.maxSeen),
      );
    }

    case 'compareAndDelete': {
      if (typeof arg !== 'number') throw new Error(`kvModel: compareAndDelete needs a numeric arg (the expected version), got ${formatValue(arg)}`);
      return versionedCompare(state, arg, out, 'compareAndDelete', (fixed) => absentState(fixed.maxSeen));
    }

    case 'compute': {
      if (!isComputeArg(arg)) throw new Error(`kvModel: compute needs arg { step, value?, stored? }, got ${formatValue(arg)}`);
      switch (arg.step) {
        case 'hit': // a read
          return state.present && valuesEqual(out, state.value)
            ? state
            : reject(() => `compute found the key and returned ${formatValue(out)}, but the key ${describeKvValue(state)}`);
        case 'join':
          // It joined a computation of the absent key: it takes effect when
          // that computation stores its value (then a read of it), or, if a
          // write invalidated it, while the key was still absent.
          return !state.present || valuesEqual(out, state.value)
            ? state
            : reject(() => `compute joined a computation and returned ${formatValue(out)}, but the key ${describeKvValue(state)}`);
        default: // 'lead': its factory ran, so the key was absent; a write if stored
          if (state.present) {
            return reject(() => `compute ran its factory although the key ${describeKvValue(state)} (a present key must be a hit)`);
          }
          if (!valuesEqual(out, arg.value)) {
            return reject(() => `compute led and must return its factory's value ${formatValue(arg.value)}, but returned ${formatValue(out)}`);
          }
          return arg.stored ? writtenState(arg.value, state.maxSeen) : state;
      }
    }

    default:
      throw new Error(`kvModel: unknown operation ${JSON.stringify(op.op)}`);
  }
}

function describeKvValue(state: KvState): string {
  return state.present ? `holds ${formatValue(state.value)}` : 'is absent';
}

/**
 * The default model: a single key of the store (the checker partitions a
 * history by key and gives each key its own copy of this model).
 *
 * Operations (`out` is what the store returned):
 *  - `set(arg)`: stores `arg`; `out` ignored.
 *  - `get`: `out` is the value, or `undefined` when absent.
 *  - `has`: `out === present`.
 *  - `delete`: `out === present`; then absent.
 *  - `clear`: absent; `out` ignored (store-wide; one copy per key).
 *  - `setIfAbsent(arg)`: `out === !present`; stores `arg` if absent.
 *  - `getOrSet(arg)`: if present `out` is the value, else stores `arg` and
 *    `out` equals `arg`.
 *  - `swap(arg)`: `out` is the previous value (or `undefined`); stores `arg`.
 *  - `take`: `out` is the previous value (or `undefined`); then absent.
 *  - `increment(arg = 1)`: absent counts as 0; stores and returns
 *    `old + arg`. If the value present is not a number, `out` must be
 *    `{ error: 'TypeError' }` and nothing changes.
 *  - `getEntry`: `out` is `undefined` when absent, else `{ value, version }`.
 *  - `compareAndSet({ expected, value })`: `out` boolean. `expected: null`
 *    succeeds iff absent; a number succeeds iff present with that version.
 *    Success stores `value`.
 *  - `compareAndDelete(expected)`: like compareAndSet with a number;
 *    success deletes.
 *  - `compute({ step, value, stored })` (getOrCompute): a `hit` is a read;
 *    a `lead` (its factory ran) needs the key absent, returns `value`, and
 *    stores it if `stored`; a `join` returns the value of a computation
 *    of the absent key: a read of it once stored, or (invalidated by a
 *    write) a call that took effect while the key was absent.
 *
 * Versions. Every write (set, successful setIfAbsent/getOrSet-on-absent/
 * compareAndSet, swap, increment) gets a version that is greater than every
 * version the key had before (so never reused, even across deletes). The
 * store picks the numbers, so the model cannot know a write's version in
 * advance; it keeps
 *   - `version`: the current write's version once observed, else `null`;
 *   - `maxSeen`: the highest version observed so far;
 *   - `excluded`: versions the current (unobserved) write cannot have.
 * While `version` is null, any v with v > maxSeen and v not in `excluded`
 * is possible (every write since the last observation has a version
 * greater than maxSeen, and the latest one the greatest). Hence:
 *   - getEntry observing v: legal iff v equals the known version, or the
 *     version is unknown and v is possible; it then becomes known.
 *   - compare with expected e, version known V: success iff e === V.
 *   - compare with e, version unknown: success is legal iff e is possible
 *     (it fixes the version to e); failure is always legal (some possible v
 *     differs from e) and adds e to `excluded` if e was possible.
 * This set of possible versions is exact if versions may be any numbers;
 * the store's versions are probably integers, and the model does not
 * demand gaps for unobserved writes (two writes between observations 5 and
 * 6 would be impossible with integers), so it may accept a few histories an
 * integer-only model would reject, but it never rejects a legal one.
 * Operations that do not write (failed setIfAbsent/CAS, reads, deletes of an
 * absent key, increments that fail) leave the version unchanged.
 */
export const kvModel: Model<KvState> = {
  init(): KvState {
    return INITIAL_KV_STATE;
  },
  step(state: KvState, op: Operation): StepResult<KvState> {
    const t = kvTransition(state, op);
    return t instanceof Rejection ? { ok: false, next: state } : { ok: true, next: t };
  },
  hash(state: KvState): string {
    if (!state.present) return `A${state.maxSeen}`;
    const version = state.version === null ? `?${state.excluded.join(',')}` : String(state.version);
    return `P${version}/${state.maxSeen}/${canonicalKey(state.value, 0)}`;
  },
  readOnly(op: Operation): boolean {
    switch (op.op) {
      case 'get':
      case 'has':
        return true;
      case 'delete': // false is only legal when absent, where it does nothing
      case 'setIfAbsent': // false is only legal when present, where it does nothing
        return op.out === false;
      case 'getEntry': // undefined is only legal when absent (a present entry may fix the version)
        return op.out === undefined;
      case 'compareAndSet': // expected null fails only when present, changing nothing
        return op.out === false && isCasArg(op.arg) && op.arg.expected === null;
      case 'compute': // a hit or a join reads; a led computation writes only if stored
        return isComputeArg(op.arg) && (op.arg.step !== 'lead' || op.arg.stored === false);
      default:
        // Not: clear/take (no-ops only when absent), getOrSet (writes when
        // absent), failed compares with a version (may record an excluded
        // version), and every write.
        return false;
    }
  },
  validate(op: Operation): void {
    if (!KV_OPERATION_SET.has(op.op)) {
      throw new Error(`kvModel: unknown operation ${JSON.stringify(op.op)} (known: ${KV_OPERATIONS.join(', ')})`);
    }
    if (op.op === 'increment' && op.arg !== undefined && typeof op.arg !== 'number') {
      throw new Error(`kvModel: increment needs a numeric delta, got ${formatValue(op.arg)}`);
    }
    if (op.op === 'compareAndSet' && !isCasArg(op.arg)) {
      throw new Error(`kvModel: compareAndSet needs arg { expected: number | null, value }, got ${formatValue(op.arg)}`);
    }
    if (op.op === 'compareAndDelete' && typeof op.arg !== 'number') {
      throw new Error(`kvModel: compareAndDelete needs a numeric arg (the expected version), got ${formatValue(op.arg)}`);
    }
    if (op.op === 'compute' && !isComputeArg(op.arg)) {
      throw new Error(`kvModel: compute needs arg { step: 'hit' | 'join' | 'lead', value?, stored? }, got ${formatValue(op.arg)}`);
    }
  },
  explain(state: KvState, op: Operation): string {
    const t = kvTransition(state, op);
    return t instanceof Rejection ? t.why() : 'legal from this state, but every continuation was a dead end';
  },
  formatState(state: KvState): string {
    if (!state.present) return `absent (highest version seen: ${state.maxSeen})`;
    const version =
      state.version !== null
        ? `version ${state.version}`
        : `version unknown (> ${state.maxSeen}${state.excluded.length > 0 ? `, not ${state.excluded.join('/')}` : ''})`;
    return `holds ${formatValue(state.value)}, ${version}`;
  },
};

// Identity numbers for values `canonicalKey` does not encode structurally.
const identityIds = new WeakMap<object, number>();
const symbolIds = new Map<symbol, number>();
let nextIdentityId = 1;

function identityKey(value: object | symbol): string {
  if (typeof value === 'symbol') {
    let id = symbolIds.get(value);
    if (id === undefined) symbolIds.set(value, (id = nextIdentityId++));
    return `#${id}`;
  }
  let id = identityIds.get(value);
  if (id === undefined) identityIds.set(value, (id = nextIdentityId++));
  return `#${id}`;
}

function isPlainDataObject(value: object): boolean {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(value).length > 0) return false;
  const names = Object.getOwnPropertyNames(value);
  for (const name of names) {
    const d = Object.getOwnPropertyDescriptor(value, name);
    if (d === undefined || !d.enumerable || !('value' in d)) return false;
  }
  return true;
}

/**
 * A cache key for a value: equal keys imply `valuesEqual` values (that is
 * what the state cache needs). Primitives, dense plain arrays and plain
 * objects are encoded by content; anything else (Map, Date, class
 * instances, cycles...) by object identity, which is always safe, merely
 * less good at spotting equal states.
 */
function canonicalKey(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'undefined':
      return 'u';
    case 'boolean':
      return value ? 't' : 'f';
    case 'number':
      return Object.is(value, -0) ? 'n-0' : `n${value}`;
    case 'bigint':
      return `b${value}`;
    case 'string':
      return `s${JSON.stringify(value)}`;
    case 'symbol':
      return identityKey(value);
    case 'function':
      return identityKey(value);
    default:
      break;
  }
  if (value === null) return 'N';
  const obj = value as object;
  if (depth > 16) return identityKey(obj);
  if (Array.isArray(obj)) {
    if (Object.getPrototypeOf(obj) !== Array.prototype || Object.getOwnPropertySymbols(obj).length > 0) {
      return identityKey(obj);
    }
    const keys = Object.keys(obj);
    if (keys.length !== obj.length || !keys.every((k, i) => k === String(i))) return identityKey(obj);
    return `[${(obj as unknown[]).map((v) => canonicalKey(v, depth + 1)).join(',')}]`;
  }
  if (isPlainDataObject(obj)) {
    const record = obj as Record<string, unknown>;
    const keys = Object.keys(record).sort();
    const prefix = Object.getPrototypeOf(obj) === null ? 'O' : 'o';
    return `${prefix}{${keys.map((k) => `${JSON.stringify(k)}:${canonicalKey(record[k], depth + 1)}`).join(',')}}`;
  }
  return identityKey(obj);
}

// ---------------------------------------------------------------------------
// The checker
// ---------------------------------------------------------------------------

export interface CheckOptions {
  /**
   * Budget for the whole check, in milliseconds (default 30000). When it
   * runs out the verdict is `'timeout'`: neither legal nor illegal.
   */
  timeoutMs?: number;
}

/** A history that is not known to be linearizable. */
export interface CheckFailure {
  ok: false;
  /**
   * `'illegal'`: no linearization exists. `'timeout'`: the search ran out of
   * budget before deciding (the history may well be legal).
   */
  verdict: 'illegal' | 'timeout';
  /** The key whose sub-history failed. */
  key: string;
  /**
   * Human-readable explanation, including the operations around the failure
   * (labelled `#i`: their positions in the history that was checked).
   */
  reason: string;
  /**
   * For `'illegal'`: a small illustrative slice of the key's sub-history (the
   * last operations linearized before the search got stuck and the ones it
   * could not linearize next), sorted by call time. For `'timeout'`: the
   * whole sub-history.
   */
  ops: Operation[];
  /** The whole sub-history of `key`, sorted by call time. */
  history: Operation[];
}

export type CheckResult = { ok: true; verdict: 'ok' } | CheckFailure;

const DEFAULT_TIMEOUT_MS = 30_000;
/** How many linearized operations the failure report shows. */
const REPORT_TAIL = 8;

/**
 * Checks that `history` is linearizable with respect to `model`, one key at a
 * time (with the default `kvModel`, each key is an independent register).
 * Throws on malformed histories (bad timestamps, unknown operations).
 */
export function checkHistory(history: readonly Operation[], model?: Model<KvState>, opts?: CheckOptions): CheckResult;
export function checkHistory<S>(history: readonly Operation[], model: Model<S>, opts?: CheckOptions): CheckResult;
export function checkHistory<S>(
  history: readonly Operation[],
  model?: Model<S>,
  opts: CheckOptions = {},
): CheckResult {
  const m = (model ?? kvModel) as Model<S>;
  const deadline = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const byKey = partitionByKey(history, m);
  for (const [key, part] of byKey) {
    const result = searchKey(part.ops, part.indices, key, m, deadline);
    if (!result.ok) return result;
  }
  return { ok: true, verdict: 'ok' };
}

/**
 * Checks `ops` as ONE object, without partitioning by key (for models that
 * describe the whole store, or a sub-history already split by the caller).
 */
export function checkOperations<S>(ops: readonly Operation[], model: Model<S>, opts: CheckOptions = {}): CheckResult {
  ops.forEach((op, i) => {
    validateOperation(op, i, model);
  });
  const deadline = performance.now() + (opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const result = searchKey(ops, ops.map((_, i) => i), ops[0]?.key ?? '', model, deadline);
  return result.ok ? { ok: true, verdict: 'ok' } : result;
}

/** Splits a history into per-key sub-histories, in order of first appearance. */
export function partitionHistory(history: readonly Operation[]): Map<string, Operation[]> {
  const out = new Map<string, Operation[]>();
  for (const op of history) {
    let list = out.get(op.key);
    if (list === undefined) out.set(op.key, (list = []));
    list.push(op);
  }
  return out;
}

function validateOperation<S>(op: Operation, index: number, model: Model<S>): void {
  if (typeof op !== 'object' || op === null) throw new Error(`operation #${index} is not an object`);
  if (typeof op.key !== 'string') throw new Error(`operation #${index}: key must be a string`);
  if (typeof op.op !== 'string') throw new Error(`operation #${index}: op must be a string`);
  if (typeof op.call !== 'bigint' || typeof op.ret !== 'bigint') {
    throw new Error(`operation #${index}: call and ret must be bigint nanoseconds`);
  }
  if (op.call > op.ret) throw new Error(`operation #${index}: call ${op.call} is after ret ${op.ret}`);
  model.validate?.(op);
}

function partitionByKey<S>(
  history: readonly Operation[],
  model: Model<S>,
): Map<string, { ops: Operation[]; indices: number[] }> {
  const out = new Map<string, { ops: Operation[]; indices: number[] }>();
  history.forEach((op, i) => {
    validateOperation(op, i, model);
    let part = out.get(op.key);
    if (part === undefined) out.set(op.key, (part = { ops: [], indices: [] }));
    part.ops.push(op);
    part.indices.push(i);
  });
  return out;
}

interface StuckPoint<S> {
  /** How many operations were linearized. */
  depth: number;
  /** The last few of them, in linearization order (indices into ops). */
  tail: number[];
  /** The operation whose return event the search could not get past. */
  stuck: number;
  /** The operations that could have been linearized next (all failed). */
  candidates: number[];
  state: S;
}

function compareBigint(a: bigint, b: bigint): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Wing & Gong's search with Lowe's cache over one key's operations.
 * `unsortedIndices[i]` is the position of `unsortedOps[i]` in the caller's
 * history (used in messages only).
 */
function searchKey<S>(
  unsortedOps: readonly Operation[],
  unsortedIndices: readonly number[],
  key: string,
  model: Model<S>,
  deadline: number,
): { ok: true } | CheckFailure {
  const n = unsortedOps.length;
  if (n === 0) return { ok: true };

  // Number the operations in call order (see the cache below).
  const order = unsortedOps
    .map((_, i) => i)
    .sort((a, b) => compareBigint(unsortedOps[a]!.call, unsortedOps[b]!.call) || a - b);
  const ops = order.map((i) => unsortedOps[i]!);
  const indices = order.map((i) => unsortedIndices[i]!);

  // --- Events, sorted by time; calls before returns at equal times, so
  // that equal timestamps count as overlapping. Ties otherwise by operation
  // number, for determinism.
  const events = new Array<{ time: bigint; op: number; isReturn: boolean }>(2 * n);
  for (let i = 0; i < n; i++) {
    events[2 * i] = { time: ops[i]!.call, op: i, isReturn: false };
    events[2 * i + 1] = { time: ops[i]!.ret, op: i, isReturn: true };
  }
  events.sort((a, b) => {
    if (a.time !== b.time) return a.time < b.time ? -1 : 1;
    if (a.isReturn !== b.isReturn) return a.isReturn ? 1 : -1;
    return a.op - b.op;
  });

  // --- Doubly linked list in typed arrays. Node 0 is the head sentinel,
  // event k is node k + 1; -1 is nil. `match[node]` is the node of the
  // matching return event for call nodes, -1 for return nodes.
  const size = 2 * n + 1;
  const next = new Int32Array(size);
  const prev = new Int32Array(size);
  const match = new Int32Array(size).fill(-1);
  const nodeOp = new Int32Array(size).fill(-1);
  const callNode = new Int32Array(n);
  for (let k = 0; k < 2 * n; k++) {
    const node = k + 1;
    const ev = events[k]!;
    nodeOp[node] = ev.op;
    if (ev.isReturn) match[callNode[ev.op]!] = node;
    else callNode[ev.op] = node;
  }
  for (let node = 0; node < size; node++) {
    next[node] = node + 1 < size ? node + 1 : -1;
    prev[node] = node - 1;
  }

  // Unlinks a call node and its return node.
  const lift = (node: number): void => {
    next[prev[node]!] = next[node]!;
    prev[next[node]!] = prev[node]!; // a call is always followed by something
    const r = match[node]!;
    next[prev[r]!] = next[r]!;
    if (next[r] !== -1) prev[next[r]!] = prev[r]!;
  };
  // Re-links them (exact inverse of lift, applied in LIFO order).
  const unlift = (node: number): void => {
    const r = match[node]!;
    next[prev[r]!] = r;
    if (next[r] !== -1) prev[next[r]!] = r;
    next[prev[node]!] = node;
    prev[next[node]!] = node;
  };

  // --- Lowe's cache: the (linearized set, state) pairs already entered.
  //
  // The linearized set is a bitset, but the cache stores it compactly. With
  // operations numbered in call order, let `first` be the lowest number not
  // linearized: every operation below it is linearized, and every other
  // linearized operation was called no later than ops[first] returned (the
  // walk only reaches call events that precede the return events still in
  // the list, and ops[first]'s is one of them). So the set is exactly
  // `first` plus the set bits in (first, limit[first]), where limit[i] is
  // the number of operations called by ops[i].ret: a short window (the
  // operations concurrent with ops[first]). The cache key is that encoding
  // plus the model's state hash; no bitset copies are kept.
  const words = (n + 31) >>> 5;
  const linearized = new Uint32Array(words + 1);
  const limit = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let lo = i + 1; // first operation called after ops[i].ret (binary search)
    let hi = n;
    const ret = ops[i]!.ret;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (ops[mid]!.call <= ret) lo = mid + 1;
      else hi = mid;
    }
    limit[i] = lo;
  }
  let first = 0;
  const setBit = (id: number): void => {
    linearized[id >>> 5] = linearized[id >>> 5]! | (1 << (id & 31));
    if (id === first) {
      do first++;
      while (first < n && (linearized[first >>> 5]! & (1 << (first & 31))) !== 0);
    }
  };
  const clearBit = (id: number): void => {
    linearized[id >>> 5] = linearized[id >>> 5]! & ~(1 << (id & 31));
    if (id < first) first = id;
  };
  const linearizedKey = (): string => {
    let out = first.toString(36);
    if (first >= n) return out;
    const end = limit[first]!;
    for (let w = (first + 1) >>> 5; w << 5 < end; w++) {
      let bits = linearized[w]!;
      while (bits !== 0) {
        const low = bits & -bits;
        const id = (w << 5) + 31 - Math.clz32(low);
        bits ^= low;
        if (id > first && id < end) out += `,${(id - first).toString(36)}`;
      }
    }
    return out;
  };
  const cache = new Set<string>();

  // The search stack: which call node was linearized, the state before it,
  // and whether the choice was forced (see below).
  const stackNodes: number[] = [];
  const stackStates: S[] = [];
  const stackForced: boolean[] = [];
  const readOnly = new Uint8Array(n);
  if (model.readOnly) for (let i = 0; i < n; i++) readOnly[i] = model.readOnly(ops[i]!) ? 1 : 0;
  let state = model.init();
  let best: StuckPoint<S> | undefined;
  let iterations = 0;

  let entry = next[0]!;
  while (next[0] !== -1) {
    if ((++iterations & 1023) === 0 && performance.now() > deadline) {
      return timeoutFailure(ops, key, iterations);
    }
    let deadEnd = false;
    if (match[entry] !== -1) {
      // A call event: try to linearize this operation now.
      const id = nodeOp[entry]!;
      const result = model.step(state, ops[id]!);
      if (!result.ok) {
        entry = next[entry]!;
        continue;
      }
      const nextHash = model.hash(result.next);
      // Partial-order reduction: a read-only operation (see
      // Model.readOnly) that is legal now can be linearized right here with
      // no loss. Take any linearization of the rest: the operation appears
      // somewhere in it, where it changed nothing either; moving it up
      // front keeps every step legal (each sees an equivalent state) and
      // respects real time (it is a candidate, so everything that must
      // precede it is linearized already, and moving it earlier cannot
      // break "it precedes b"). So if this choice leads nowhere, neither
      // does any other from this configuration: the search does not try
      // alternatives to it but backtracks past it ("forced").
      const forced = readOnly[id] === 1;
      setBit(id);
      const cacheKey = `${linearizedKey()}|${nextHash}`;
      if (!cache.has(cacheKey)) {
        cache.add(cacheKey);
        stackNodes.push(entry);
        stackStates.push(state);
        stackForced.push(forced);
        state = result.next;
        lift(entry);
        entry = next[0]!;
        continue;
      }
      // Seen before: explored in full already, and it led nowhere.
      clearBit(id);
      if (!forced) {
        entry = next[entry]!;
        continue;
      }
      deadEnd = true; // a forced choice that leads nowhere: so does this configuration
    } else {
      // A return event: its operation had to be linearized by now, and no
      // candidate before it worked from this state. Dead end.
      if (best === undefined || stackNodes.length > best.depth) {
        best = {
          depth: stackNodes.length,
          tail: stackNodes.slice(-REPORT_TAIL).map((node) => nodeOp[node]!),
          stuck: nodeOp[entry]!,
          candidates: collectCandidates(next, match, nodeOp, entry),
          state,
        };
      }
      deadEnd = true;
    }
    if (deadEnd) {
      // Backtrack: undo the last choice and try the next candidate after
      // it; undo forced choices without trying alternatives.
      let forced: boolean;
      do {
        if (stackNodes.length === 0) {
          // best is set: the first dead end is always a return event.
          return illegalFailure(ops, indices, key, model, best!);
        }
        entry = stackNodes.pop()!;
        state = stackStates.pop()!;
        forced = stackForced.pop()!;
        clearBit(nodeOp[entry]!);
        unlift(entry);
      } while (forced);
      entry = next[entry]!;
    }
  }
  return { ok: true };
}

/** The operations whose call events precede `stop` in the list. */
function collectCandidates(next: Int32Array, match: Int32Array, nodeOp: Int32Array, stop: number): number[] {
  const out: number[] = [];
  for (let node = next[0]!; node !== -1 && node !== stop; node = next[node]!) {
    if (match[node] !== -1) out.push(nodeOp[node]!);
  }
  return out;
}

function timeoutFailure(ops: readonly Operation[], key: string, iterations: number): CheckFailure {
  return {
    ok: false,
    verdict: 'timeout',
    key,
    reason:
      `key ${JSON.stringify(key)}: the linearizability search ran out of its time budget after ` +
      `${iterations} steps over ${ops.length} operations; the history is neither accepted nor rejected`,
    ops: [...ops],
    history: [...ops],
  };
}

/**
 * Builds the report from the deepest point the search reached. At that
 * point every candidate failed `model.step` outright (a successful step
 * would have gone one level deeper, or into a cached configuration that
 * did, and either contradicts "deepest"), so the model can say why.
 */
function illegalFailure<S>(
  ops: readonly Operation[],
  indices: readonly number[],
  key: string,
  model: Model<S>,
  best: StuckPoint<S>,
): CheckFailure {
  const base = ops.reduce((min, op) => (op.call < min ? op.call : min), ops[0]!.call);
  const line = (i: number): string => formatOperation(ops[i]!, { base, index: indices[i] });
  const stuck = ops[best.stuck]!;
  const lines: string[] = [];
  lines.push(`key ${JSON.stringify(key)}: no linearization exists for its ${ops.length} operations.`);
  lines.push(
    `The search got at most ${best.depth} operation(s) deep` +
      (model.formatState ? `; the key then ${model.formatState(best.state)}.` : '.'),
  );
  if (best.tail.length > 0) {
    lines.push(
      `Last operations linearized (in linearization order${best.depth > best.tail.length ? `, last ${best.tail.length} of ${best.depth}` : ''}):`,
    );
    for (const i of best.tail) lines.push(`  ${line(i)}`);
  }
  lines.push(
    `Operation #${indices[best.stuck]} (${stuck.op}) must take effect before it returns at ` +
      `+${stuck.ret - base}ns, but none of the operations that could be linearized next is legal:`,
  );
  for (const i of best.candidates) {
    const why = model.explain ? model.explain(best.state, ops[i]!) : 'rejected by the model';
    lines.push(`  ${line(i)}`);
    lines.push(`      ${why}`);
  }
  const slice = [...new Set([...best.tail, ...best.candidates])]
    .sort((a, b) => (ops[a]!.call < ops[b]!.call ? -1 : ops[a]!.call > ops[b]!.call ? 1 : a - b))
    .map((i) => ops[i]!);
  return { ok: false, verdict: 'illegal', key, reason: lines.join('\n'), ops: slice, history: [...ops] };
}

// ---------------------------------------------------------------------------
// Formatting (pure helpers for debugging output)
// ---------------------------------------------------------------------------

/** Compact one-line rendering of a value. */
export function formatValue(value: unknown): string {
  return inspect(value, { depth: 4, breakLength: Infinity, compact: true, maxArrayLength: 20, maxStringLength: 120 });
}

export interface FormatOptions {
  /** Print times relative to this instant (e.g. the first call). */
  base?: bigint;
  /** Label the operation `#index`. */
  index?: number;
}

/**
 * One operation on one line, e.g.
 * `#3 t1 "k" set(1) -> undefined  [+0ns .. +120ns]`.
 */
export function formatOperation(op: Operation, opts: FormatOptions = {}): string {
  const label = opts.index !== undefined ? `#${opts.index} ` : '';
  const thread = op.thread !== undefined ? `t${op.thread} ` : '';
  const arg = op.arg === undefined ? '' : formatValue(op.arg);
  const time = (t: bigint): string => (opts.base !== undefined ? `+${t - opts.base}ns` : `${t}ns`);
  return `${label}${thread}${JSON.stringify(op.key)} ${op.op}(${arg}) -> ${formatValue(op.out)}  [${time(op.call)} .. ${time(op.ret)}]`;
}

/**
 * A whole history, one operation per line sorted by call time, times
 * relative to the first call; `#n` labels are positions in `ops`.
 */
export function formatHistory(ops: readonly Operation[]): string {
  if (ops.length === 0) return '(empty history)';
  const base = ops.reduce((min, op) => (op.call < min ? op.call : min), ops[0]!.call);
  return ops
    .map((op, index) => ({ op, index }))
    .sort((a, b) => (a.op.call < b.op.call ? -1 : a.op.call > b.op.call ? 1 : a.index - b.index))
    .map(({ op, index }) => formatOperation(op, { base, index }))
    .join('\n');
}

// ---------------------------------------------------------------------------
// JSON lines
// ---------------------------------------------------------------------------

/** JSON data, as produced by `encodeValue`. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * Tag marking an encoded non-JSON value: `{ "$t": tag, "v": payload }`.
 * Plain objects that themselves own a "$t" key are wrapped as
 * `{ "$t": "object", "v": {...} }` so they cannot be mistaken for tags.
 */
const TAG = '$t';

const TYPED_ARRAYS = {
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
} as const;
type TypedArrayName = keyof typeof TYPED_ARRAYS;

function typedArrayName(value: object): TypedArrayName | 'Buffer' | undefined {
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto === Buffer.prototype) return 'Buffer';
  for (const name of Object.keys(TYPED_ARRAYS) as TypedArrayName[]) {
    if (proto === TYPED_ARRAYS[name].prototype) return name;
  }
  return undefined;
}

/**
 * Encodes a value as JSON data, losslessly for: JSON values, `undefined`
 * (inside arrays and objects), NaN/±Infinity/-0, bigint, Date, Map, Set,
 * typed arrays and Buffer, sparse arrays, null-prototype objects. Throws on
 * anything else (functions, symbols, class instances, cycles).
 */
export function encodeValue(value: unknown, depth = 0): Json {
  if (depth > 1000) throw new Error('encodeValue: value too deep (cyclic?)');
  switch (typeof value) {
    case 'undefined':
      return { [TAG]: 'undefined' };
    case 'boolean':
    case 'string':
      return value;
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return value;
      return { [TAG]: 'number', v: Object.is(value, -0) ? '-0' : String(value) }; // String(-0) is "0"
    case 'bigint':
      return { [TAG]: 'bigint', v: value.toString() };
    case 'object':
      break;
    default:
      throw new Error(`encodeValue: cannot encode a ${typeof value}`);
  }
  if (value === null) return null;
  const d = depth + 1;
  if (Array.isArray(value)) {
    const arr = value as unknown[];
    const out: Json[] = [];
    for (let i = 0; i < arr.length; i++) out.push(i in arr ? encodeValue(arr[i], d) : { [TAG]: 'hole' });
    return out;
  }
  if (value instanceof Date) return { [TAG]: 'Date', v: encodeValue(value.getTime(), d) };
  if (value instanceof Map) {
    return { [TAG]: 'Map', v: [...value].map(([k, v]): Json => [encodeValue(k, d), encodeValue(v, d)]) };
  }
  if (value instanceof Set) return { [TAG]: 'Set', v: [...value].map((v) => encodeValue(v, d)) };
  if (ArrayBuffer.isView(value)) {
    const name = typedArrayName(value);
    if (name === undefined) throw new Error('encodeValue: unsupported ArrayBuffer view');
    const items = value as unknown as ArrayLike<number | bigint>;
    return { [TAG]: name, v: Array.from(items, (x) => encodeValue(x, d)) };
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new Error(`encodeValue: cannot encode an instance of ${(value as object).constructor?.name ?? 'a class'}`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) throw new Error('encodeValue: cannot encode symbol keys');
  const fields: { [key: string]: Json } = {};
  for (const [k, v] of Object.entries(value)) defineField(fields, k, encodeValue(v, d));
  if (proto === null) return { [TAG]: 'nullproto', v: fields };
  return Object.hasOwn(fields, TAG) ? { [TAG]: 'object', v: fields } : fields;
}

/** Sets an own data property even for keys like "__proto__". */
function defineField<T>(target: { [key: string]: T }, key: string, value: T): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function decodeFields(json: Json, into: { [key: string]: unknown }): { [key: string]: unknown } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error('decodeValue: expected an object');
  for (const [k, v] of Object.entries(json)) defineField(into, k, decodeValue(v));
  return into;
}

/** Inverse of `encodeValue`. */
export function decodeValue(json: Json): unknown {
  if (json === null || typeof json !== 'object') return json;
  if (Array.isArray(json)) {
    const out: unknown[] = new Array<unknown>(json.length);
    json.forEach((item, i) => {
      const isHole = typeof item === 'object' && item !== null && !Array.isArray(item) && item[TAG] === 'hole';
      if (!isHole) out[i] = decodeValue(item);
    });
    return out;
  }
  if (!Object.hasOwn(json, TAG)) return decodeFields(json, {});
  const tag = json[TAG];
  const v = json['v'] as Json;
  const list = (): Json[] => {
    if (!Array.isArray(v)) throw new Error(`decodeValue: "${String(tag)}" needs an array payload`);
    return v;
  };
  switch (tag) {
    case 'undefined':
      return undefined;
    case 'number':
      return Number(v);
    case 'bigint':
      return BigInt(v as string);
    case 'Date':
      return new Date(decodeValue(v) as number);
    case 'Map':
      return new Map(list().map((pair) => {
        if (!Array.isArray(pair) || pair.length !== 2) throw new Error('decodeValue: Map entries must be pairs');
        return [decodeValue(pair[0]!), decodeValue(pair[1]!)] as const;
      }));
    case 'Set':
      return new Set(list().map(decodeValue));
    case 'object':
      return decodeFields(v, {});
    case 'nullproto':
      return decodeFields(v, Object.create(null) as { [key: string]: unknown });
    case 'Buffer':
      return Buffer.from(list().map((x) => decodeValue(x) as number));
    default:
      if (typeof tag === 'string' && Object.hasOwn(TYPED_ARRAYS, tag)) {
        const Ctor = TYPED_ARRAYS[tag as TypedArrayName] as unknown as new (items: unknown[]) => unknown;
        return new Ctor(list().map(decodeValue));
      }
      throw new Error(`decodeValue: unknown tag ${JSON.stringify(tag)}`);
  }
}

/**
 * One operation as one JSON line (no trailing newline):
 * `{"key":"k","op":"set","arg":1,"call":"123","ret":"456","thread":2}`.
 *
 * - `call`/`ret` are decimal strings of nanoseconds (bigint-safe).
 * - An `undefined` `arg` or `out` is written by OMITTING the field; parsing
 *   then leaves the property off the operation (reading it gives
 *   `undefined`). Every other value, `null` included, is written as a
 *   field, via `encodeValue` (so `undefined` nested inside values, bigint,
 *   Map, Set, Date, typed arrays... survive too).
 * - `thread` is written only when defined.
 */
export function serializeOperation(op: Operation): string {
  const line: { [key: string]: Json } = { key: op.key, op: op.op };
  if (op.arg !== undefined) line['arg'] = encodeValue(op.arg);
  if (op.out !== undefined) line['out'] = encodeValue(op.out);
  line['call'] = op.call.toString();
  line['ret'] = op.ret.toString();
  if (op.thread !== undefined) line['thread'] = op.thread;
  return JSON.stringify(line);
}

/** A history as JSON lines (one `serializeOperation` line each, newline-terminated). */
export function serializeHistory(history: readonly Operation[]): string {
  return history.map((op) => `${serializeOperation(op)}\n`).join('');
}

const DECIMAL = /^-?\d+$/;

/** Parses `serializeHistory` output. Blank lines are ignored. */
export function parseHistory(text: string): Operation[] {
  const ops: Operation[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    if (raw.trim() === '') return;
    const where = `history line ${i + 1}`;
    let json: unknown;
    try {
      json = JSON.parse(raw);
    } catch (e) {
      throw new Error(`${where}: invalid JSON (${(e as Error).message})`);
    }
    if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new Error(`${where}: not an object`);
    const rec = json as { [key: string]: Json };
    const { key, op, call, ret, thread } = rec;
    if (typeof key !== 'string' || typeof op !== 'string') throw new Error(`${where}: key and op must be strings`);
    if (typeof call !== 'string' || typeof ret !== 'string' || !DECIMAL.test(call) || !DECIMAL.test(ret)) {
      throw new Error(`${where}: call and ret must be decimal strings`);
    }
    const operation: Operation = { key, op, call: BigInt(call), ret: BigInt(ret) };
    if (Object.hasOwn(rec, 'arg')) operation.arg = decodeValue(rec['arg']!);
    if (Object.hasOwn(rec, 'out')) operation.out = decodeValue(rec['out']!);
    if (thread !== undefined) {
      if (typeof thread !== 'number') throw new Error(`${where}: thread must be a number`);
      operation.thread = thread;
    }
    ops.push(operation);
  });
  return ops;
}
