/**
 * Model-based tests (fast-check `fc.commands`): random sequences of every
 * Store operation, run against the real store and against a Map-based model
 * side by side, for every codec; each result must be what the model says.
 * On a failure fast-check shrinks the sequence to a minimal one and prints
 * it (with a seed and path to replay it).
 *
 * Covered: set/put, get, has, delete, clear, size, close and reopen of the
 * handle, a second handle on the same store, values the codec must refuse,
 * and every compound operation (test/support/ops.ts), each called through
 * the typed Store from a static list: a renamed method fails here. A self-test shows that the harness catches a lost write and
 * shrinks it to a minimal sequence.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { Store, type CodecName } from 'threadkv';
import { counterSum, deleteManyOutcomes, getManyValues, iterateEntries, OPTIONAL_OPS, type OptionalOp } from '../support/ops';
import { invalidValueFor, readBack, sameStored, valueFor } from '../support/values';
import { uniqueName } from '../support/workers';

const NUM_RUNS = 150;
const MAX_COMMANDS = 50;
const CODECS: readonly CodecName[] = ['v8', 'json', 'string', 'buffer'];

// ---------------------------------------------------------------------------
// Model and system under test
// ---------------------------------------------------------------------------

interface Model {
  /** What `get` must return for each present key. */
  map: Map<string, unknown>;
  /** Present keys: the version of the current write once observed, else null. */
  version: Map<string, number | null>;
  /** The highest version observed per key (versions only grow, even across deletes and clear). */
  maxSeen: Map<string, number>;
}

interface Real {
  name: string;
  codec: CodecName;
  /** The handle in use (replaced by close-and-reopen). */
  store: Store<unknown>;
  /** Opens a new handle (wrapped, for the reference run). */
  open(): Store<unknown>;
}

type Cmd = fc.Command<Model, Real>;

function write(m: Model, codec: CodecName, key: string, value: unknown): void {
  m.map.set(key, readBack(codec, value));
  m.version.set(key, null);
}

function remove(m: Model, key: string): void {
  m.map.delete(key);
  m.version.delete(key);
}

const show = (v: unknown): string => fc.stringify(v);

/** `got` must be the model's value for `key` (undefined when absent). */
function expectCurrent(r: Real, m: Model, key: string, got: unknown, what: string): void {
  if (!m.map.has(key)) {
    assert.equal(got, undefined, `${what}: ${show(key)} is absent but got ${show(got)}`);
  } else {
    const want = m.map.get(key);
    assert.ok(sameStored(r.codec, got, want), `${what}: ${show(key)} holds ${show(want)} but got ${show(got)}`);
  }
}

function hasCode(err: unknown, Ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code?: string): boolean {
  return err instanceof Ctor && (code === undefined || (err as { code?: unknown }).code === code);
}

/** Learns (and checks) the version of the current write of a present key. */
function observeVersion(r: Real, m: Model, key: string): number {
  const entry = r.store.getEntry(key);
  checkEntry(r, m, key, entry);
  return m.version.get(key)!;
}

function checkEntry(r: Real, m: Model, key: string, entry: unknown): void {
  if (!m.map.has(key)) {
    assert.equal(entry, undefined, `getEntry(${show(key)}) on an absent key returned ${show(entry)}`);
    return;
  }
  assert.ok(typeof entry === 'object' && entry !== null, `getEntry(${show(key)}) returned ${show(entry)}`);
  const { value, version } = entry as { value: unknown; version: unknown };
  expectCurrent(r, m, key, value, 'getEntry value');
  assert.ok(typeof version === 'number' && Number.isSafeInteger(version) && version >= 1, `getEntry version ${show(version)}`);
  const known = m.version.get(key);
  if (known !== null && known !== undefined) {
    assert.equal(version, known, `getEntry(${show(key)}): version changed from ${known} without a write`);
  } else {
    const max = m.maxSeen.get(key) ?? 0;
    assert.ok(version > max, `getEntry(${show(key)}): a new write has version ${version}, not above ${max} seen before`);
    m.version.set(key, version);
    m.maxSeen.set(key, version);
  }
}

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

class SetCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown, readonly viaPut: boolean) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const ret = this.viaPut ? r.store.put(this.key, this.value) : r.store.set(this.key, this.value);
    assert.equal(ret, r.store, 'set/put return the handle');
    write(m, r.codec, this.key, this.value);
  }
  toString = (): string => `${this.viaPut ? 'put' : 'set'}(${show(this.key)}, ${show(this.value)})`;
}

class GetCmd implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    expectCurrent(r, m, this.key, r.store.get(this.key), 'get');
  }
  toString = (): string => `get(${show(this.key)})`;
}

class HasCmd implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    assert.equal(r.store.has(this.key), m.map.has(this.key), `has(${show(this.key)})`);
  }
  toString = (): string => `has(${show(this.key)})`;
}

class DeleteCmd implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    assert.equal(r.store.delete(this.key), m.map.has(this.key), `delete(${show(this.key)})`);
    remove(m, this.key);
  }
  toString = (): string => `delete(${show(this.key)})`;
}

class ClearCmd implements Cmd {
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.store.clear();
    m.map.clear();
    m.version.clear();
  }
  toString = (): string => 'clear()';
}

class SizeCmd implements Cmd {
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    assert.equal(r.store.size, m.map.size, 'size');
  }
  toString = (): string => 'size';
}

/** Every key and the size at once (and the iteration, if the store has one). */
class CheckAllCmd implements Cmd {
  constructor(readonly keys: readonly string[]) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    assert.equal(r.store.size, m.map.size, 'size');
    for (const k of this.keys) {
      expectCurrent(r, m, k, r.store.get(k), 'get');
      assert.equal(r.store.has(k), m.map.has(k), `has(${show(k)})`);
    }
  }
  toString = (): string => 'checkAll()';
}

class CloseReopenCmd implements Cmd {
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const old = r.store;
    old.close();
    old.close(); // closing twice is a no-op
    for (const use of [() => old.get('a'), () => old.set('a', readBackSample(r.codec)), () => old.has('a'), () => old.size]) {
      assert.throws(use, (e: unknown) => hasCode(e, Error, 'ERR_THREADKV_CLOSED'));
    }
    r.store = r.open();
    assert.equal(r.store.options.codec, r.codec, 'reopened with the existing options');
    assert.equal(r.store.size, m.map.size, 'the data outlives the closed handle');
  }
  toString = (): string => 'closeAndReopen()';
}

function readBackSample(codec: CodecName): unknown {
  return codec === 'buffer' ? Buffer.from('x') : 'x';
}

class OtherHandleCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const other = r.open();
    expectCurrent(r, m, this.key, other.get(this.key), 'get through a second handle');
    other.set(this.key, this.value);
    write(m, r.codec, this.key, this.value);
    other.close();
    expectCurrent(r, m, this.key, r.store.get(this.key), 'get after a write through a second handle');
  }
  toString = (): string => `otherHandle.set(${show(this.key)}, ${show(this.value)}) then close it`;
}

class InvalidValueCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    assert.throws(() => r.store.set(this.key, this.value), (e: unknown) => hasCode(e, TypeError, 'ERR_THREADKV_VALUE_TYPE'));
    // A failed call changes nothing.
    expectCurrent(r, m, this.key, r.store.get(this.key), 'get after a refused set');
  }
  toString = (): string => `set(${show(this.key)}, ${show(this.value)}) must throw`;
}

// --- Optional operations ----------------------------------------------------

class SetIfAbsentCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const absent = !m.map.has(this.key);
    assert.equal(r.store.setIfAbsent(this.key, this.value), absent, 'setIfAbsent');
    if (absent) write(m, r.codec, this.key, this.value);
  }
  toString = (): string => `setIfAbsent(${show(this.key)}, ${show(this.value)})`;
}

class GetOrSetCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const got = r.store.getOrSet(this.key, this.value);
    if (m.map.has(this.key)) {
      expectCurrent(r, m, this.key, got, 'getOrSet on a present key');
    } else {
      // On insert it returns a copy of what was stored: what get returns now.
      write(m, r.codec, this.key, this.value);
      expectCurrent(r, m, this.key, got, 'getOrSet on an absent key');
    }
  }
  toString = (): string => `getOrSet(${show(this.key)}, ${show(this.value)})`;
}

class GetOrComputeSyncCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    let called = false;
    const got = r.store.getOrComputeSync(this.key, () => {
      called = true;
      return this.value;
    });
    const present = m.map.has(this.key);
    assert.equal(called, !present, 'getOrComputeSync calls its factory exactly when the key is absent');
    if (!present) write(m, r.codec, this.key, this.value);
    expectCurrent(r, m, this.key, got, `getOrComputeSync on ${present ? 'a present' : 'an absent'} key`);
  }
  toString = (): string => `getOrComputeSync(${show(this.key)}, () => ${show(this.value)})`;
}

class SwapCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    expectCurrent(r, m, this.key, r.store.swap(this.key, this.value), 'swap (previous value)');
    write(m, r.codec, this.key, this.value);
  }
  toString = (): string => `swap(${show(this.key)}, ${show(this.value)})`;
}

class TakeCmd implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    expectCurrent(r, m, this.key, r.store.take(this.key), 'take');
    remove(m, this.key);
  }
  toString = (): string => `take(${show(this.key)})`;
}

/**
 * increment(key, delta): absent counts as 0; the sum as `counterSum` says
 * (a RangeError where it is out of range); a present non-number is a
 * TypeError. Nothing changes on an error.
 */
class IncrementCmd implements Cmd {
  constructor(readonly key: string, readonly delta: number | undefined) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const c = r.store;
    const call = (): number => (this.delta === undefined ? c.increment(this.key) : c.increment(this.key, this.delta));
    const present = m.map.has(this.key);
    const cur = m.map.get(this.key);
    if (present && typeof cur !== 'number') {
      assert.throws(call, (e: unknown) => hasCode(e, TypeError, 'ERR_THREADKV_NOT_A_NUMBER'), `increment of ${show(cur)} must throw a TypeError`);
      return;
    }
    const d = this.delta ?? 1;
    const old = present ? (cur as number) : 0;
    const sum = counterSum(old, d);
    if (sum === undefined) {
      assert.throws(call, (e: unknown) => hasCode(e, RangeError, 'ERR_THREADKV_COUNTER_RANGE'), `increment of ${show(old)} by ${d} must throw a RangeError`);
      return;
    }
    const got = call();
    assert.ok(Object.is(got, sum) || (got === 0 && sum === 0), `increment of ${show(old)} by ${d} returned ${show(got)}, not ${sum}`);
    m.map.set(this.key, got);
    m.version.set(this.key, null);
  }
  toString = (): string => `increment(${show(this.key)}${this.delta === undefined ? '' : `, ${this.delta}`})`;
}

class GetEntryCmd implements Cmd {
  constructor(readonly key: string) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    checkEntry(r, m, this.key, r.store.getEntry(this.key));
  }
  toString = (): string => `getEntry(${show(this.key)})`;
}

type CompareMode = 'current' | 'other' | 'absent';

/** The `expected` argument for a compare, and whether the compare must succeed. */
function expectation(r: Real, m: Model, key: string, mode: CompareMode): { expected: number | null; succeeds: boolean } {
  const present = m.map.has(key);
  if (mode === 'absent') return { expected: null, succeeds: !present };
  if (mode === 'current' && present) return { expected: observeVersion(r, m, key), succeeds: true };
  // A version that is not the current write's: far above anything seen.
  return { expected: (m.maxSeen.get(key) ?? 0) + 1_000_000, succeeds: false };
}

class CompareAndSetCmd implements Cmd {
  constructor(readonly key: string, readonly mode: CompareMode, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const { expected, succeeds } = expectation(r, m, this.key, this.mode);
    assert.equal(r.store.compareAndSet(this.key, expected, this.value), succeeds, `compareAndSet(expected ${expected})`);
    if (succeeds) write(m, r.codec, this.key, this.value);
  }
  toString = (): string => `compareAndSet(${show(this.key)}, <${this.mode} version>, ${show(this.value)})`;
}

class CompareAndDeleteCmd implements Cmd {
  constructor(readonly key: string, readonly mode: Exclude<CompareMode, 'absent'>) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const { expected, succeeds } = expectation(r, m, this.key, this.mode);
    assert.equal(r.store.compareAndDelete(this.key, expected!), succeeds, `compareAndDelete(expected ${expected})`);
    if (succeeds) remove(m, this.key);
  }
  toString = (): string => `compareAndDelete(${show(this.key)}, <${this.mode} version>)`;
}

/** update(key, fn) where fn returns `value`, or undefined (which deletes) when `value` is undefined. */
class UpdateCmd implements Cmd {
  constructor(readonly key: string, readonly value: unknown) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    let calls = 0;
    const ret = r.store.update(this.key, (old) => {
      calls++;
      expectCurrent(r, m, this.key, old, 'the value update passes to its function');
      return this.value;
    });
    assert.equal(calls, 1, 'update ran its function once (no other thread)');
    assert.equal(ret, this.value, 'update returns what its function returned');
    if (this.value === undefined) remove(m, this.key);
    else write(m, r.codec, this.key, this.value);
  }
  toString = (): string => `update(${show(this.key)}, () => ${show(this.value)})`;
}

class GetManyCmd implements Cmd {
  constructor(readonly keys: string[]) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const values = getManyValues(r.store.getMany(this.keys), this.keys);
    this.keys.forEach((k, i) => {
      expectCurrent(r, m, k, values[i], `getMany[${i}]`);
    });
  }
  toString = (): string => `getMany(${show(this.keys)})`;
}

class SetManyCmd implements Cmd {
  constructor(readonly entries: Array<[string, unknown]>, readonly atomic: boolean) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    r.store.setMany(this.entries, { atomic: this.atomic });
    for (const [k, v] of this.entries) write(m, r.codec, k, v);
  }
  toString = (): string => `setMany(${show(this.entries)}, { atomic: ${this.atomic} })`;
}

class DeleteManyCmd implements Cmd {
  constructor(readonly keys: string[], readonly atomic: boolean) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const present = this.keys.map((k) => m.map.has(k));
    const ret = r.store.deleteMany(this.keys, { atomic: this.atomic });
    const perKey = deleteManyOutcomes(ret, this.keys);
    if (perKey !== undefined) assert.deepEqual(perKey, present, 'deleteMany per key');
    else assert.equal(ret, present.filter(Boolean).length, 'deleteMany returns how many were present');
    for (const k of this.keys) remove(m, k);
  }
  toString = (): string => `deleteMany(${show(this.keys)}, { atomic: ${this.atomic} })`;
}

/** entries(), keys() and values(), with or without a prefix: exactly the model's (matching) entries. */
class IterateCmd implements Cmd {
  constructor(readonly prefix: string | undefined) {}
  check = (): boolean => true;
  run(m: Model, r: Real): void {
    const entries = iterateEntries(r.store, this.prefix);
    const keys = entries.map(([k]) => k);
    const want = [...m.map.keys()].filter((k) => k.startsWith(this.prefix ?? ''));
    assert.equal(new Set(keys).size, keys.length, `iteration yielded a key twice: ${show(keys)}`);
    assert.deepEqual([...keys].sort(), want.sort(), 'iteration yields exactly the present (matching) keys');
    for (const [k, v] of entries) expectCurrent(r, m, k, v, 'iteration value');
    const c = r.store;
    const opt = this.prefix === undefined ? [] : [{ prefix: this.prefix }];
    if (typeof c.keys === 'function') assert.deepEqual([...c.keys(...opt)].sort(), [...keys].sort(), 'keys() agrees with entries()');
    if (typeof c.values === 'function') assert.equal([...c.values(...opt)].length, keys.length, 'values() agrees with entries()');
  }
  toString = (): string => `entries(${this.prefix === undefined ? '' : `{ prefix: ${show(this.prefix)} }`})`;
}

// ---------------------------------------------------------------------------
// The harness
// ---------------------------------------------------------------------------

/**
 * Few keys, so that operations meet: the empty key, lone surrogates, and a
 * key with a surrogate pair whose first half alone is a prefix of it.
 */
const KEYS = ['a', 'ab', 'b', '', '\uD800', '\uD834', 'é\u{1D11E}'];
/** Prefixes for iteration ('é\uD834' ends in half of the pair in 'é𝄞'). */
const PREFIXES = ['', 'a', 'é', 'é\uD834', '\uD834', '\uD800', 'zz'];

function commandsFor(codec: CodecName, handles: boolean): Array<fc.Arbitrary<Cmd>> {
  const key = fc.constantFrom(...KEYS);
  // Small integers among the values so that increments often apply (only
  // v8 and json can store a number with set; every codec has counters).
  const numbers = codec === 'v8' || codec === 'json';
  const value = numbers ? fc.oneof({ weight: 3, arbitrary: valueFor(codec) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 3 }) }) : valueFor(codec);
  const keys = fc.uniqueArray(key, { minLength: 1, maxLength: 4 });
  const cmds: Array<fc.Arbitrary<Cmd>> = [
    fc.tuple(key, value, fc.boolean()).map(([k, v, p]) => new SetCmd(k, v, p)),
    fc.tuple(key, value).map(([k, v]) => new SetCmd(k, v, false)),
    key.map((k) => new GetCmd(k)),
    key.map((k) => new HasCmd(k)),
    key.map((k) => new DeleteCmd(k)),
    fc.constant(new ClearCmd()),
    fc.constant(new SizeCmd()),
    fc.constant(new CheckAllCmd(KEYS)),
    fc.tuple(key, invalidValueFor(codec)).map(([k, v]) => new InvalidValueCmd(k, v)),
  ];
  if (handles) {
    cmds.push(fc.constant(new CloseReopenCmd()));
    cmds.push(fc.tuple(key, value).map(([k, v]) => new OtherHandleCmd(k, v)));
  }
  const mode = fc.constantFrom<CompareMode>('current', 'current', 'other', 'absent');
  const optional: Array<[OptionalOp, fc.Arbitrary<Cmd>]> = [
    ['setIfAbsent', fc.tuple(key, value).map(([k, v]) => new SetIfAbsentCmd(k, v))],
    ['getOrSet', fc.tuple(key, value).map(([k, v]) => new GetOrSetCmd(k, v))],
    ['getOrComputeSync', fc.tuple(key, value).map(([k, v]) => new GetOrComputeSyncCmd(k, v))],
    ['swap', fc.tuple(key, value).map(([k, v]) => new SwapCmd(k, v))],
    ['take', key.map((k) => new TakeCmd(k))],
    ['getEntry', key.map((k) => new GetEntryCmd(k))],
    ['compareAndSet', fc.tuple(key, mode, value).map(([k, md, v]) => new CompareAndSetCmd(k, md, v))],
    ['compareAndDelete', fc.tuple(key, fc.constantFrom<'current' | 'other'>('current', 'other')).map(([k, md]) => new CompareAndDeleteCmd(k, md))],
    ['update', fc.tuple(key, fc.option(value, { nil: undefined, freq: 5 })).map(([k, v]) => new UpdateCmd(k, v))],
    // getMany and setMany may repeat a key (setMany: the later one wins).
    ['getMany', fc.array(key, { minLength: 1, maxLength: 5 }).map((ks) => new GetManyCmd(ks))],
    [
      'setMany',
      fc
        .tuple(fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 4 }), fc.boolean())
        .map(([es, atomic]) => new SetManyCmd(es, atomic)),
    ],
    ['deleteMany', fc.tuple(keys, fc.boolean()).map(([ks, atomic]) => new DeleteManyCmd(ks, atomic))],
    ['entries', fc.option(fc.constantFrom(...PREFIXES), { nil: undefined }).map((p) => new IterateCmd(p))],
    [
      'increment',
      fc
        .tuple(
          key,
          fc.oneof(
            { weight: 4, arbitrary: fc.integer({ min: -10, max: 10 }) },
            { weight: 1, arbitrary: fc.constantFrom<number | undefined>(undefined, 0.5, -0.25, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER) },
          ),
        )
        .map(([k, d]) => new IncrementCmd(k, d)),
    ],
  ];
  const missing = OPTIONAL_OPS.filter((op) => !optional.some(([name]) => name === op));
  assert.deepEqual(missing, [], 'every compound operation has a command');
  for (const [, arb] of optional) cmds.push(arb);
  return cmds;
}

interface HarnessOptions {
  /** Wraps each handle (the self-test's broken store). */
  wrap?: (s: Store<unknown>) => Store<unknown>;
  /** Include close/reopen and second handles (not with a wrapper that keeps state per handle). */
  handles: boolean;
  numRuns: number;
}

function runModel(codec: CodecName, opts: HarnessOptions): void {
  const wrap = opts.wrap ?? ((s) => s);
  fc.assert(
    fc.property(fc.constantFrom(1, 4, 64), fc.commands(commandsFor(codec, opts.handles), { maxCommands: MAX_COMMANDS, size: 'medium' }), (shards, cmds) => {
      const name = uniqueName(`model-${codec}`);
      Store.open(name, { codec, shards });
      try {
        const setup = (): { model: Model; real: Real } => {
          const open = (): Store<unknown> => wrap(Store.open<unknown>(name));
          return {
            model: { map: new Map(), version: new Map(), maxSeen: new Map() },
            real: { name, codec, store: open(), open },
          };
        };
        fc.modelRun(setup, cmds);
      } finally {
        Store.destroy(name);
      }
    }),
    { numRuns: opts.numRuns },
  );
}

describe('model: random operation sequences against a Map model (fast-check)', () => {
  const withOptional = ` and ${OPTIONAL_OPS.join(', ')}`;

  for (const codec of CODECS) {
    it(`codec ${codec}: set/put, get, has, delete, clear, size, handles, refused values${withOptional}`, () => {
      runModel(codec, { handles: true, numRuns: NUM_RUNS });
    });
  }

  it('self-test: the harness catches a store that loses a write, and shrinks it to a minimal sequence', () => {
    // A wrapper whose set is dropped on the third call: the shrunk
    // counterexample must be just the writes it takes to show it.
    const lossy = (s: Store<unknown>): Store<unknown> => {
      let sets = 0;
      return new Proxy(s, {
        get(target, prop) {
          if (prop === 'set') return (k: string, v: unknown) => (++sets === 3 ? target : target.set(k, v));
          const v: unknown = Reflect.get(target, prop, target);
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    };
    let report = '';
    try {
      runModel('string', { wrap: lossy, handles: false, numRuns: 200 });
    } catch (err) {
      report = (err as Error).message;
    }
    assert.match(report, /Counterexample/, 'the lost write went unnoticed');
    // The minimal sequence: three sets (the third lost), then a read of it.
    const counterexample = /Counterexample: \[.*?,(.*)\]\n/.exec(report)?.[1] ?? '';
    const steps = counterexample.split(/,(?=(?:set|put|get|has|size|checkAll|delete|entries|getMany)\b)/).length;
    assert.ok(steps <= 5, `not shrunk to a minimal sequence: ${counterexample}`);
  });
});
