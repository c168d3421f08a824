/**
 * Tests of the linearizability checker itself (test/support/linearizability),
 * independent of the store: hand-made histories it must accept or reject,
 * property tests against a reference Map, the JSON-lines format, and the
 * time budget.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import {
  checkHistory,
  checkOperations,
  decodeValue,
  encodeValue,
  formatHistory,
  formatOperation,
  kvModel,
  parseHistory,
  partitionHistory,
  serializeHistory,
  serializeOperation,
  type CheckResult,
  type Model,
  type Operation,
} from '../support/linearizability';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

interface Fields {
  arg?: unknown;
  out?: unknown;
  key?: string;
  thread?: number;
}

/** One operation on key "k" (unless `key` is given) running over [call, ret]. */
function o(op: string, call: number, ret: number, fields: Fields = {}): Operation {
  const operation: Operation = { key: fields.key ?? 'k', op, call: BigInt(call), ret: BigInt(ret) };
  // An undefined arg/out is left off, as parseHistory does.
  if (fields.arg !== undefined) operation.arg = fields.arg;
  if (fields.out !== undefined) operation.out = fields.out;
  if (fields.thread !== undefined) operation.thread = fields.thread;
  return operation;
}

/** Operations one after another: the i-th runs over [10i, 10i + 5]. */
function sequential(...steps: Array<[string, Fields?]>): Operation[] {
  return steps.map(([op, fields], i) => o(op, 10 * i, 10 * i + 5, fields));
}

function assertAccepted(result: CheckResult): void {
  if (!result.ok) assert.fail(`expected the history to be accepted, got ${result.verdict}:\n${result.reason}`);
}

function assertRejected(result: CheckResult): Extract<CheckResult, { ok: false }> {
  assert.equal(result.ok, false, 'expected the history to be rejected');
  if (result.ok) throw new Error('unreachable');
  assert.equal(result.verdict, 'illegal', result.reason);
  return result;
}

const entry = (value: unknown, version: number): { value: unknown; version: number } => ({ value, version });

// ---------------------------------------------------------------------------
// A reference implementation of the store, to generate legal histories
// ---------------------------------------------------------------------------

const OP_KINDS = [
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
] as const;
type OpKind = (typeof OP_KINDS)[number];

const KEYS = ['a', 'b', 'c'] as const;

interface Command {
  key: string;
  kind: OpKind;
  value: unknown;
  /** Chooses the `expected` version of compare operations. */
  pick: number;
  /** Extra versions the store skips after this write (versions need not be consecutive). */
  gap: number;
}

/** A sequential, obviously correct store with per-key versions. */
class ReferenceStore {
  private readonly entries = new Map<string, { value: unknown; version: number }>();
  private readonly lastVersion = new Map<string, number>();

  private write(key: string, value: unknown, gap: number): void {
    const version = (this.lastVersion.get(key) ?? 0) + 1 + gap;
    this.lastVersion.set(key, version);
    this.entries.set(key, { value, version });
  }

  private expectedFor(key: string, pick: number): number | null {
    const current = this.entries.get(key)?.version;
    const last = this.lastVersion.get(key) ?? 0;
    switch (pick % 4) {
      case 0:
        return current ?? last; // usually succeeds
      case 1:
        return last - 1; // stale
      case 2:
        return last + 5; // from the future
      default:
        return null;
    }
  }

  /** Runs the command; returns the operation's arg and out. */
  apply(cmd: Command): { arg?: unknown; out?: unknown } {
    const { key, value, gap } = cmd;
    const current = this.entries.get(key);
    // Values cross threads by copy in the real store: return copies.
    const copy = (v: unknown): unknown => structuredClone(v);
    switch (cmd.kind) {
      case 'set':
        this.write(key, value, gap);
        return { arg: value };
      case 'get':
        return { out: copy(current?.value) };
      case 'has':
        return { out: current !== undefined };
      case 'delete':
        return { out: this.entries.delete(key) };
      case 'clear':
        this.entries.delete(key); // clear is store-wide; each key's copy clears that key
        return {};
      case 'setIfAbsent':
        if (current !== undefined) return { arg: value, out: false };
        this.write(key, value, gap);
        return { arg: value, out: true };
      case 'getOrSet':
        if (current !== undefined) return { arg: value, out: copy(current.value) };
        this.write(key, value, gap);
        return { arg: value, out: copy(value) };
      case 'swap':
        this.write(key, value, gap);
        return { arg: value, out: copy(current?.value) };
      case 'take':
        this.entries.delete(key);
        return { out: copy(current?.value) };
      case 'increment': {
        const delta = typeof value === 'number' ? value : 1;
        if (current !== undefined && typeof current.value !== 'number') {
          return { arg: delta, out: { error: 'TypeError' } };
        }
        const next = ((current?.value as number | undefined) ?? 0) + delta;
        this.write(key, next, gap);
        return { arg: delta, out: next };
      }
      case 'getEntry':
        return { out: current === undefined ? undefined : { value: copy(current.value), version: current.version } };
      case 'compareAndSet': {
        const expected = this.expectedFor(key, cmd.pick);
        const ok = expected === null ? current === undefined : current?.version === expected;
        if (ok) this.write(key, value, gap);
        return { arg: { expected, value }, out: ok };
      }
      case 'compareAndDelete': {
        const expected = this.expectedFor(key, cmd.pick) ?? 1;
        const ok = current !== undefined && current.version === expected;
        if (ok) this.entries.delete(key);
        return { arg: expected, out: ok };
      }
    }
  }
}

const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.integer({ min: -3, max: 3 }),
  fc.constantFrom('x', 'y', null, true),
  fc.constant([1, 2]),
  fc.record({ n: fc.integer({ min: 0, max: 2 }) }, { noNullPrototype: true }),
);

const commandArb: fc.Arbitrary<Command> = fc.record({
  key: fc.constantFrom(...KEYS),
  kind: fc.constantFrom(...OP_KINDS),
  value: valueArb,
  pick: fc.nat(3),
  gap: fc.nat(2),
});

/** Runs commands one at a time with non-overlapping intervals (gaps between them). */
function sequentialHistory(commands: readonly Command[]): Operation[] {
  const store = new ReferenceStore();
  return commands.map((cmd, i) => ({ key: cmd.key, op: cmd.kind, ...store.apply(cmd), call: BigInt(10 * i), ret: BigInt(10 * i + 3) }));
}

interface Timed {
  cmd: Command;
  thread: number;
  call: number;
  ret: number;
  /** When the operation "really" takes effect, somewhere in [call, ret]. */
  at: number;
}

/**
 * A concurrent history that is linearizable by construction: every thread
 * runs its commands back to back, each operation takes effect at a point
 * inside its interval, and outputs come from the reference store applied in
 * the order of those points.
 */
function concurrentHistory(timed: Timed[]): Operation[] {
  const store = new ReferenceStore();
  const order = [...timed].sort((a, b) => a.at - b.at);
  const results = new Map<Timed, { arg?: unknown; out?: unknown }>();
  for (const t of order) results.set(t, store.apply(t.cmd));
  return timed.map((t) => ({
    key: t.cmd.key,
    op: t.cmd.kind,
    ...results.get(t),
    call: BigInt(t.call),
    ret: BigInt(t.ret),
    thread: t.thread,
  }));
}

const threadArb = fc.array(
  fc.record({ cmd: commandArb, pause: fc.nat(20), duration: fc.nat(30), where: fc.double({ min: 0, max: 1, noNaN: true }) }),
  { maxLength: 25 },
);

function layOut(threads: Array<Array<{ cmd: Command; pause: number; duration: number; where: number }>>): Timed[] {
  const timed: Timed[] = [];
  threads.forEach((steps, thread) => {
    let clock = 0;
    for (const { cmd, pause, duration, where } of steps) {
      const call = clock + pause;
      const ret = call + duration;
      timed.push({ cmd, thread, call, ret, at: call + Math.round(where * duration) });
      clock = ret + 1; // strictly after: the next call follows this return
    }
  });
  return timed;
}

/** Small deterministic PRNG for the big generated histories. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

describe('linearizability checker', () => {
  describe('accepts legal histories', () => {
    it('accepts the empty history', () => {
      assertAccepted(checkHistory([]));
    });

    it('accepts a sequential history of every operation', () => {
      assertAccepted(
        checkHistory(
          sequential(
            ['get', { out: undefined }],
            ['has', { out: false }],
            ['set', { arg: 1 }],
            ['get', { out: 1 }],
            ['has', { out: true }],
            ['setIfAbsent', { arg: 2, out: false }],
            ['getOrSet', { arg: 3, out: 1 }],
            ['swap', { arg: 4, out: 1 }],
            ['increment', { arg: 2, out: 6 }],
            ['take', { out: 6 }],
            ['take', { out: undefined }],
            ['delete', { out: false }],
            ['getOrSet', { arg: 'g', out: 'g' }],
            ['increment', { arg: 1, out: { error: 'TypeError' } }],
            ['get', { out: 'g' }],
            ['delete', { out: true }],
            ['increment', { out: 1 }], // absent counts as 0, delta defaults to 1
            ['clear', {}],
            ['setIfAbsent', { arg: 'w', out: true }],
            ['get', { out: 'w' }],
            ['swap', { arg: undefined, out: 'w' }], // storing undefined keeps the key present
            ['has', { out: true }],
            ['get', { out: undefined }],
          ),
        ),
      );
    });

    it('accepts a get overlapping a set that sees either the old or the new value', () => {
      for (const seen of [1, 2]) {
        const history = [
          o('set', 0, 10, { arg: 1 }),
          o('set', 20, 40, { arg: 2, thread: 1 }),
          o('get', 25, 30, { out: seen, thread: 2 }),
          o('get', 50, 60, { out: 2 }),
        ];
        assertAccepted(checkHistory(history));
      }
    });

    it('accepts a get overlapping two sets that sees the one that started last but finished first', () => {
      const history = [
        o('set', 0, 100, { arg: 'slow', thread: 1 }),
        o('set', 10, 20, { arg: 'fast', thread: 2 }),
        o('get', 30, 40, { out: 'fast', thread: 3 }),
        o('get', 110, 120, { out: 'slow', thread: 3 }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('accepts concurrent deletes where exactly one returns true', () => {
      const history = [
        o('set', 0, 5, { arg: 'v' }),
        o('delete', 10, 30, { out: false, thread: 1 }),
        o('delete', 12, 25, { out: true, thread: 2 }),
        o('delete', 11, 28, { out: false, thread: 3 }),
        o('has', 40, 45, { out: false }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('accepts clear concurrent with set, whichever took effect last', () => {
      for (const after of [1, undefined]) {
        const history = [
          o('set', 0, 10, { arg: 1, thread: 1 }),
          o('clear', 2, 8, { thread: 2 }),
          o('get', 20, 30, { out: after }),
        ];
        assertAccepted(checkHistory(history));
      }
    });

    it('accepts a setIfAbsent race where exactly one wins', () => {
      const history = [
        o('setIfAbsent', 0, 20, { arg: 'A', out: false, thread: 1 }),
        o('setIfAbsent', 5, 15, { arg: 'B', out: true, thread: 2 }),
        o('get', 25, 30, { out: 'B' }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('accepts a clear that would be a no-op first but must take effect later', () => {
      // A store-wide clear on an absent key changes nothing, yet it may not be
      // linearized early "for free": here it must come after set(1).
      const history = [
        o('clear', 0, 7, { thread: 1 }),
        o('setIfAbsent', 0, 7, { arg: 1, out: false, thread: 2 }),
        o('set', 1, 10, { arg: 1, thread: 0 }),
        o('get', 9, 16, { out: undefined, thread: 1 }),
        o('setIfAbsent', 10, 13, { arg: 1, out: true, thread: 2 }),
        o('increment', 11, 20, { arg: 1, out: 2, thread: 0 }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('accepts overlapping increments in any order', () => {
      const history = [
        o('increment', 0, 50, { arg: 1, out: 3, thread: 1 }),
        o('increment', 1, 40, { arg: 1, out: 1, thread: 2 }),
        o('increment', 2, 45, { arg: 1, out: 2, thread: 3 }),
        o('get', 60, 70, { out: 3 }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('accepts getEntry and compare-and-set/delete on consistent versions', () => {
      const history = sequential(
        ['getEntry', { out: undefined }],
        ['compareAndSet', { arg: { expected: 3, value: 'x' }, out: false }], // absent: must fail
        ['compareAndSet', { arg: { expected: null, value: 'a' }, out: true }], // null: succeeds iff absent
        ['compareAndSet', { arg: { expected: 99, value: 'x' }, out: false }], // version unknown: a failure is always possible
        ['getEntry', { out: entry('a', 5) }], // first observation fixes it
        ['getEntry', { out: entry('a', 5) }],
        ['compareAndSet', { arg: { expected: 4, value: 'x' }, out: false }],
        ['compareAndSet', { arg: { expected: 5, value: 'b' }, out: true }],
        ['compareAndSet', { arg: { expected: 5, value: 'x' }, out: false }], // stale now
        ['getEntry', { out: entry('b', 9) }], // gaps are allowed
        ['set', { arg: 'c' }],
        ['compareAndSet', { arg: { expected: 12, value: 'd' }, out: true }], // unknown version: success fixes it to 12
        ['getEntry', { out: entry('d', 13) }],
        ['compareAndDelete', { arg: 12, out: false }],
        ['compareAndDelete', { arg: 13, out: true }],
        ['getEntry', { out: undefined }],
        ['compareAndDelete', { arg: 13, out: false }],
        ['set', { arg: 'e' }],
        ['getEntry', { out: entry('e', 20) }],
      );
      assertAccepted(checkHistory(history));
    });

    it('accepts a getEntry overlapping a write that sees either version', () => {
      const base = [o('set', 0, 5, { arg: 'a' }), o('getEntry', 6, 8, { out: entry('a', 1) })];
      const write = o('set', 10, 30, { arg: 'b', thread: 1 });
      assertAccepted(checkHistory([...base, write, o('getEntry', 12, 20, { out: entry('a', 1), thread: 2 })]));
      assertAccepted(checkHistory([...base, write, o('getEntry', 12, 20, { out: entry('b', 2), thread: 2 })]));
    });

    it('accepts a CAS race on the same version where exactly one wins', () => {
      const history = [
        o('set', 0, 5, { arg: 'a' }),
        o('getEntry', 6, 8, { out: entry('a', 7) }),
        o('compareAndSet', 10, 30, { arg: { expected: 7, value: 'x' }, out: false, thread: 1 }),
        o('compareAndSet', 11, 25, { arg: { expected: 7, value: 'y' }, out: true, thread: 2 }),
        o('getEntry', 40, 45, { out: entry('y', 8) }),
      ];
      assertAccepted(checkHistory(history));
    });

    it('compares values deeply (Map, Set, Date, typed arrays, bigint, NaN, objects)', () => {
      const values: Array<[unknown, unknown]> = [
        [new Map<unknown, unknown>([['a', [1, { b: 2n }]]]), new Map<unknown, unknown>([['a', [1, { b: 2n }]]])],
        [new Set([1, 'x']), new Set(['x', 1])],
        [new Date(5), new Date(5)],
        [new Uint8Array([1, 2]), new Uint8Array([1, 2])],
        [123n, 123n],
        [NaN, NaN],
        [{ a: [1, { c: null }] }, { a: [1, { c: null }] }],
        [0, -0],
      ];
      for (const [stored, copy] of values) {
        assertAccepted(checkHistory(sequential(['set', { arg: stored }], ['get', { out: copy }])));
      }
      assertRejected(checkHistory(sequential(['set', { arg: new Map([['a', 1]]) }], ['get', { out: new Map([['a', 2]]) }])));
      assertRejected(checkHistory(sequential(['set', { arg: { a: 1 } }], ['get', { out: { a: 1, b: undefined } }])));
    });

    it('treats equal timestamps as overlapping', () => {
      // The get's call reads the same clock value as the set's return: the
      // two threads may have read it in either order.
      const history = [o('set', 0, 10, { arg: 1 }), o('set', 20, 30, { arg: 2, thread: 1 }), o('get', 30, 40, { out: 1, thread: 2 })];
      assertAccepted(checkHistory(history));
      assertRejected(checkHistory([history[0]!, history[1]!, o('get', 31, 40, { out: 1, thread: 2 })]));
    });

    it('checks every key independently', () => {
      const history = [
        o('set', 0, 10, { key: 'x', arg: 1 }),
        o('set', 0, 10, { key: 'y', arg: 2 }),
        o('get', 20, 30, { key: 'x', out: 1 }),
        o('get', 20, 30, { key: 'y', out: 2 }),
        o('clear', 40, 50, { key: 'x' }),
        o('clear', 40, 50, { key: 'y' }),
        o('has', 60, 70, { key: 'x', out: false }),
        o('get', 60, 70, { key: 'y', out: undefined }),
      ];
      assertAccepted(checkHistory(history));
      assert.deepEqual([...partitionHistory(history).keys()], ['x', 'y']);
    });
  });

  describe('rejects illegal histories', () => {
    it('rejects a stale read after a later write completed', () => {
      const result = assertRejected(
        checkHistory([o('set', 0, 10, { arg: 1 }), o('set', 20, 30, { arg: 2 }), o('get', 40, 50, { out: 1, thread: 7 })]),
      );
      assert.equal(result.key, 'k');
      assert.match(result.reason, /get returned 1 but the key holds 2/);
      assert.match(result.reason, /#2 t7 "k" get\(\) -> 1/);
    });

    it('rejects a read of the first of two sequential sets', () => {
      assertRejected(checkHistory(sequential(['set', { arg: 'a' }], ['set', { arg: 'b' }], ['get', { out: 'a' }])));
    });

    it('rejects a lost increment', () => {
      assertRejected(
        checkHistory(sequential(['increment', { arg: 1, out: 1 }], ['increment', { arg: 1, out: 2 }], ['get', { out: 1 }])),
      );
      assertRejected(checkHistory(sequential(['increment', { arg: 1, out: 1 }], ['increment', { arg: 1, out: 1 }])));
    });

    it('rejects a read that goes back in time', () => {
      // set(2) is still running, so either value may be read, but once a read
      // has seen 2, a later read cannot see 1 again: nothing writes 1 later.
      const history = [
        o('set', 0, 10, { arg: 1 }),
        o('set', 20, 100, { arg: 2, thread: 1 }),
        o('get', 30, 40, { out: 2, thread: 2 }),
        o('get', 50, 60, { out: 1, thread: 2 }),
      ];
      assertRejected(checkHistory(history));
      // The same reads in the other order are fine.
      assertAccepted(checkHistory([history[0]!, history[1]!, o('get', 30, 40, { out: 1, thread: 2 }), o('get', 50, 60, { out: 2, thread: 2 })]));
    });

    it('rejects a delete that reports the wrong result', () => {
      assertRejected(checkHistory(sequential(['delete', { out: true }])));
      assertRejected(checkHistory(sequential(['set', { arg: 1 }], ['delete', { out: true }], ['delete', { out: true }])));
      assertRejected(checkHistory(sequential(['set', { arg: 1 }], ['delete', { out: false }])));
    });

    it('rejects two concurrent deletes that both return true', () => {
      assertRejected(
        checkHistory([
          o('set', 0, 5, { arg: 'v' }),
          o('delete', 10, 30, { out: true, thread: 1 }),
          o('delete', 12, 25, { out: true, thread: 2 }),
        ]),
      );
    });

    it('rejects a setIfAbsent race that both win', () => {
      assertRejected(
        checkHistory([
          o('setIfAbsent', 0, 20, { arg: 'A', out: true, thread: 1 }),
          o('setIfAbsent', 5, 15, { arg: 'B', out: true, thread: 2 }),
        ]),
      );
    });

    it('rejects a getEntry whose version goes backwards or is reused by a new write', () => {
      const prefix: Array<[string, Fields?]> = [['set', { arg: 'a' }], ['getEntry', { out: entry('a', 5) }], ['set', { arg: 'b' }]];
      const backwards = assertRejected(checkHistory(sequential(...prefix, ['getEntry', { out: entry('b', 3) }])));
      assert.match(backwards.reason, /version 3/);
      assertRejected(checkHistory(sequential(...prefix, ['getEntry', { out: entry('b', 5) }])));
      // Deleting does not reset versions.
      assertRejected(
        checkHistory(sequential(['set', { arg: 'a' }], ['getEntry', { out: entry('a', 5) }], ['delete', { out: true }], ['set', { arg: 'a' }], ['getEntry', { out: entry('a', 5) }])),
      );
    });

    it('rejects one write observed with two different versions', () => {
      assertRejected(checkHistory(sequential(['set', { arg: 'a' }], ['getEntry', { out: entry('a', 5) }], ['getEntry', { out: entry('a', 6) }])));
    });

    it('rejects a getEntry with the wrong value or on an absent key', () => {
      assertRejected(checkHistory(sequential(['set', { arg: 'a' }], ['getEntry', { out: entry('b', 1) }])));
      assertRejected(checkHistory(sequential(['getEntry', { out: entry(undefined, 1) }])));
      assertRejected(checkHistory(sequential(['set', { arg: 'a' }], ['getEntry', { out: undefined }])));
    });

    it('rejects a compare-and-set that succeeds with a stale version', () => {
      assertRejected(
        checkHistory(
          sequential(
            ['set', { arg: 'a' }],
            ['getEntry', { out: entry('a', 5) }],
            ['set', { arg: 'b' }],
            ['compareAndSet', { arg: { expected: 5, value: 'c' }, out: true }],
          ),
        ),
      );
      // Same with a CAS that made the version stale.
      assertRejected(
        checkHistory(
          sequential(
            ['set', { arg: 'a' }],
            ['getEntry', { out: entry('a', 5) }],
            ['compareAndSet', { arg: { expected: 5, value: 'b' }, out: true }],
            ['compareAndDelete', { arg: 5, out: true }],
          ),
        ),
      );
    });

    it('rejects a compare-and-set that fails although the version matches', () => {
      assertRejected(
        checkHistory(sequential(['set', { arg: 'a' }], ['getEntry', { out: entry('a', 5) }], ['compareAndSet', { arg: { expected: 5, value: 'b' }, out: false }])),
      );
      assertRejected(checkHistory(sequential(['set', { arg: 'a' }], ['compareAndSet', { arg: { expected: null, value: 'b' }, out: true }])));
      assertRejected(checkHistory(sequential(['compareAndSet', { arg: { expected: null, value: 'b' }, out: false }])));
    });

    it('rejects observing the version that a failed compare excluded', () => {
      assertRejected(
        checkHistory(sequential(['set', { arg: 'a' }], ['compareAndSet', { arg: { expected: 7, value: 'x' }, out: false }], ['getEntry', { out: entry('a', 7) }])),
      );
      assertRejected(
        checkHistory(sequential(['set', { arg: 'a' }], ['compareAndDelete', { arg: 7, out: false }], ['compareAndDelete', { arg: 7, out: true }])),
      );
    });

    it('rejects an increment that misreports or ignores a non-number', () => {
      assertRejected(checkHistory(sequential(['set', { arg: 'x' }], ['increment', { arg: 1, out: 1 }])));
      assertRejected(checkHistory(sequential(['set', { arg: 1 }], ['increment', { arg: 1, out: { error: 'TypeError' } }])));
      assertRejected(checkHistory(sequential(['set', { arg: 'x' }], ['increment', { arg: 1, out: { error: 'TypeError' } }], ['get', { out: 1 }])));
    });

    it('reports the failing key and a slice of operations around the failure', () => {
      const history = [
        o('set', 0, 10, { key: 'fine', arg: 1 }),
        ...Array.from({ length: 30 }, (_, i) => o('set', 10 * i, 10 * i + 5, { key: 'bad', arg: i })),
        o('get', 400, 410, { key: 'bad', out: 3, thread: 4 }),
        o('get', 400, 410, { key: 'fine', out: 1 }),
      ];
      const result = assertRejected(checkHistory(history));
      assert.equal(result.key, 'bad');
      assert.equal(result.history.length, 31);
      assert.ok(result.ops.length > 0 && result.ops.length < result.history.length);
      assert.ok(result.ops.every((op) => result.history.includes(op)));
      assert.ok(result.ops.includes(history[31]!), 'the slice contains the impossible get');
      assert.match(result.reason, /key "bad"/);
      assert.match(result.reason, /holds 29/);
      assert.match(result.reason, /#31 t4 "bad" get\(\) -> 3/);
    });

    it('throws on unknown operations and malformed operations instead of accepting them', () => {
      assert.throws(() => checkHistory([o('frobnicate', 0, 1)]), /unknown operation "frobnicate"/);
      // Even when the search would never get to try it.
      assert.throws(() => checkHistory([o('get', 0, 1, { out: 1 }), o('frobnicate', 5, 6)]), /unknown operation/);
      assert.throws(() => checkHistory([o('get', 5, 1)]), /call 5 is after ret 1/);
      assert.throws(() => checkHistory([o('compareAndSet', 0, 1, { arg: 3, out: false })]), /compareAndSet needs/);
      assert.throws(() => checkHistory([o('compareAndDelete', 0, 1, { arg: 'v', out: false })]), /compareAndDelete needs/);
    });
  });

  describe('property tests against a reference store', () => {
    it('accepts every sequential history of the reference store', () => {
      fc.assert(
        fc.property(fc.array(commandArb, { maxLength: 60 }), (commands) => {
          const history = sequentialHistory(commands);
          const result = checkHistory(history);
          if (!result.ok) throw new Error(`${result.reason}\n\nwhole history:\n${formatHistory(history)}`);
        }),
        { numRuns: 300 },
      );
    });

    it('rejects a sequential history once a get returns a value nobody wrote', () => {
      fc.assert(
        fc.property(fc.array(commandArb, { maxLength: 40 }), fc.nat(), (commands, choice) => {
          const history = sequentialHistory([...commands, { key: 'a', kind: 'get', value: 0, pick: 0, gap: 0 }]);
          const gets = history.filter((op) => op.op === 'get');
          const victim = gets[choice % gets.length]!;
          victim.out = { neverWritten: choice };
          const result = checkHistory(history);
          assert.equal(result.ok, false);
          assert.equal(!result.ok && result.verdict, 'illegal');
          assert.equal(!result.ok && result.key, victim.key);
        }),
        { numRuns: 200 },
      );
    });

    it('rejects a sequential history once a has/delete/getEntry result is flipped', () => {
      fc.assert(
        fc.property(fc.array(commandArb, { maxLength: 40 }), fc.nat(), (commands, choice) => {
          const history = sequentialHistory(commands);
          const targets = history.filter((op) => op.op === 'has' || op.op === 'delete' || op.op === 'getEntry');
          fc.pre(targets.length > 0);
          const victim = targets[choice % targets.length]!;
          if (victim.op === 'getEntry') {
            victim.out = victim.out === undefined ? { value: 0, version: 1000 } : undefined;
          } else {
            victim.out = !victim.out;
          }
          const result = checkHistory(history);
          assert.equal(!result.ok && result.verdict, 'illegal');
        }),
        { numRuns: 200 },
      );
    });

    it('accepts concurrent histories that are linearizable by construction', () => {
      fc.assert(
        fc.property(fc.array(threadArb, { minLength: 1, maxLength: 8 }), (threads) => {
          const history = concurrentHistory(layOut(threads));
          const result = checkHistory(history, kvModel, { timeoutMs: 20_000 });
          if (!result.ok) throw new Error(`${result.verdict}: ${result.reason}\n\nwhole history:\n${formatHistory(history)}`);
        }),
        { numRuns: 200 },
      );
    });
  });

  describe('agreement with brute force', () => {
    /** Tries every order that respects real time (small histories only). */
    function bruteForceLinearizable(history: readonly Operation[]): boolean {
      const used = history.map(() => false);
      const search = (state: ReturnType<typeof kvModel.init>, done: number): boolean => {
        if (done === history.length) return true;
        return history.some((op, i) => {
          if (used[i]) return false;
          if (history.some((other, j) => !used[j] && j !== i && other.ret < op.call)) return false;
          const { ok, next } = kvModel.step(state, op);
          if (!ok) return false;
          used[i] = true;
          const found = search(next, done + 1);
          used[i] = false;
          return found;
        });
      };
      return search(kvModel.init(), 0);
    }

    it('gives the same verdict as trying every order, on small concurrent histories', () => {
      const smallThread = fc.array(
        fc.record({
          cmd: commandArb.map((cmd) => ({ ...cmd, key: 'a' })),
          pause: fc.nat(3),
          duration: fc.nat(8),
          where: fc.double({ min: 0, max: 1, noNaN: true }),
        }),
        { maxLength: 3 },
      );
      let illegal = 0;
      fc.assert(
        fc.property(fc.array(smallThread, { minLength: 1, maxLength: 3 }), fc.option(fc.tuple(fc.nat(), valueArb)), (threads, corruption) => {
          const history = concurrentHistory(layOut(threads));
          if (corruption !== null && history.length > 0) {
            // Corrupt one output (often, not always, making the history illegal).
            const [choice, value] = corruption;
            const victim = history[choice % history.length]!;
            if (typeof victim.out === 'boolean') victim.out = !victim.out;
            else if (victim.op === 'getEntry' && victim.out !== undefined) victim.out = { ...(victim.out as object), version: choice % 4 };
            else victim.out = value;
          }
          const expected = bruteForceLinearizable(history);
          if (!expected) illegal++;
          const result = checkHistory(history);
          assert.equal(result.ok, expected, `${result.ok ? 'accepted' : result.reason}\n\nwhole history:\n${formatHistory(history)}`);
        }),
        { numRuns: 1000 },
      );
      assert.ok(illegal > 50, `only ${illegal} illegal histories generated`);
    });
  });

  describe('performance and time budget', () => {
    it('checks 8 threads x 3000 operations over 4 keys quickly', () => {
      const random = prng(42);
      const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
      const threads = Array.from({ length: 8 }, () =>
        Array.from({ length: 3000 }, () => ({
          cmd: {
            key: pick(['h0', 'h1', 'h2', 'h3']),
            kind: pick(OP_KINDS),
            value: pick([0, 1, 2, 'x', 'y']),
            pick: Math.floor(random() * 4),
            gap: 0,
          },
          pause: Math.floor(random() * 60),
          duration: Math.floor(random() * 200),
          where: random(),
        })),
      );
      const history = concurrentHistory(layOut(threads));
      const started = performance.now();
      const result = checkHistory(history, kvModel, { timeoutMs: 30_000 });
      const elapsed = performance.now() - started;
      assertAccepted(result);
      assert.ok(elapsed < 10_000, `took ${elapsed.toFixed(0)} ms`);
    });

    it('gives up with a timeout verdict, not ok, on a pathological history', () => {
      // 26 fully concurrent writes of distinct values and a concurrent read of a
      // value none of them wrote: every subset of writes and each last write is a
      // distinct configuration, so the search cannot finish in time.
      const history = [
        ...Array.from({ length: 26 }, (_, i) => o('set', i, 1000, { arg: i, thread: i })),
        o('get', 0, 1000, { out: 'nobody wrote this', thread: 99 }),
      ];
      const started = performance.now();
      const result = checkHistory(history, kvModel, { timeoutMs: 200 });
      const elapsed = performance.now() - started;
      assert.equal(result.ok, false);
      assert.ok(!result.ok && (result.verdict === 'timeout' || result.verdict === 'illegal'));
      assert.equal(!result.ok && result.verdict, 'timeout');
      assert.equal(!result.ok && result.ops.length, history.length);
      assert.ok(elapsed < 2_000, `took ${elapsed.toFixed(0)} ms`);
    });

    it('still decides moderately concurrent histories within the budget', () => {
      // 12 concurrent writes, then a read of the first: only orders ending in
      // write 0 work, which the cache finds among 12 * 2^11 configurations.
      const history = [
        ...Array.from({ length: 12 }, (_, i) => o('set', i, 100, { arg: i, thread: i })),
        o('get', 200, 210, { out: 0 }),
      ];
      assertAccepted(checkHistory(history, kvModel, { timeoutMs: 20_000 }));
      const illegal = [...history.slice(0, 12), o('get', 200, 210, { out: 12 })];
      assertRejected(checkHistory(illegal, kvModel, { timeoutMs: 20_000 }));
    });
  });

  describe('custom models', () => {
    it('runs the same search for any model', () => {
      // A FIFO queue with enqueue/dequeue, checked as one object.
      const queue: Model<readonly number[]> = {
        init: () => [],
        step(state, op) {
          if (op.op === 'enq') return { ok: true, next: [...state, op.arg as number] };
          if (op.op === 'deq') return { ok: op.out === state[0], next: state.slice(1) };
          throw new Error(`unknown operation ${op.op}`);
        },
        hash: (state) => state.join(','),
      };
      const legal = [
        o('enq', 0, 10, { arg: 1 }),
        o('enq', 5, 15, { arg: 2 }),
        o('deq', 20, 30, { out: 2 }),
        o('deq', 20, 30, { out: 1 }),
      ];
      assertAccepted(checkOperations(legal, queue));
      const illegal = [o('enq', 0, 10, { arg: 1 }), o('enq', 20, 30, { arg: 2 }), o('deq', 40, 50, { out: 2 })];
      assert.equal(checkOperations(illegal, queue).ok, false);
      assert.equal(checkHistory(illegal, queue).ok, false);
    });
  });

  describe('JSON lines', () => {
    const history: Operation[] = [
      o('set', 0, 10, { arg: { a: [1, undefined, null], '$t': 'not a tag', n: NaN }, thread: 1 }),
      o('get', 11, 20, { out: undefined }),
      o('get', 21, 30, { out: null }),
      o('set', 31, 40, { key: 'k2', arg: new Map<unknown, unknown>([[1n, new Set([new Date(3)])]]) }),
      o('swap', 41, 50, { arg: [new Uint8Array([1, 2]), new BigInt64Array([-5n]), new Float64Array([-0, Infinity])], out: -0 }),
      o('compareAndSet', 51, 60, { arg: { expected: null, value: undefined }, out: true }),
      { key: 'big', op: 'get', call: 1234567890123456789012n, ret: 1234567890123456789099n },
    ];

    it('round-trips a history, keeping undefined apart from null', () => {
      const text = serializeHistory(history);
      assert.equal(text.split('\n').length, history.length + 1);
      const parsed = parseHistory(text);
      assert.equal(parsed.length, history.length);
      parsed.forEach((op, i) => {
        assert.ok(isDeepStrictEqual(op, history[i]), `line ${i + 1}: ${serializeOperation(op)}`);
      });
      assert.equal(parseHistory(`\n${text}\n\n`).length, history.length);
    });

    it('writes one plain JSON object per line with decimal string times', () => {
      const lines = serializeHistory(history).trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(Object.keys(lines[0]!), ['key', 'op', 'arg', 'call', 'ret', 'thread']);
      assert.equal(lines[0]!['call'], '0');
      assert.equal('out' in lines[1]!, false, 'an undefined out is omitted');
      assert.equal('arg' in lines[1]!, false, 'an undefined arg is omitted');
      assert.equal(lines[2]!['out'], null);
      assert.equal(lines[6]!['ret'], '1234567890123456789099');
    });

    it('round-trips arbitrary values', () => {
      fc.assert(
        fc.property(
          fc.anything({
            withBigInt: true,
            withDate: true,
            withMap: true,
            withSet: true,
            withTypedArray: true,
            withNullPrototype: true,
            withSparseArray: true,
          }),
          (value) => {
            const decoded = decodeValue(JSON.parse(JSON.stringify(encodeValue(value))));
            // isDeepStrictEqual calls two Invalid Dates unequal, also when nested:
            // then compare the encodings, which spell the NaN time out.
            assert.ok(isDeepStrictEqual(decoded, value) || bothInvalidDates(decoded, value) || JSON.stringify(encodeValue(decoded)) === JSON.stringify(encodeValue(value)), formatOperation({ key: '', op: 'value', arg: value, call: 0n, ret: 0n }));
          },
        ),
        { numRuns: 500 },
      );
    });

    it('rejects malformed lines with the line number', () => {
      assert.throws(() => parseHistory('{"key":"k","op":"get","call":"1","ret":"2"}\nnot json'), /line 2/);
      assert.throws(() => parseHistory('{"key":"k","op":"get","call":1,"ret":"2"}'), /line 1: call and ret/);
    });

    it('formats histories for humans', () => {
      const text = formatHistory([o('set', 100, 150, { arg: 'v', thread: 3 }), o('get', 90, 120, { out: undefined })]);
      assert.equal(text, ['#1 "k" get() -> undefined  [+0ns .. +30ns]', "#0 t3 \"k\" set('v') -> undefined  [+10ns .. +60ns]"].join('\n'));
    });
  });
});

/** `isDeepStrictEqual` says two invalid Dates differ (NaN !== NaN). */
function bothInvalidDates(a: unknown, b: unknown): boolean {
  return a instanceof Date && b instanceof Date && Number.isNaN(a.getTime()) && Number.isNaN(b.getTime());
}
