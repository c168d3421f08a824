// The store helpers every suite shares: a per-suite store factory, and
// assertions on thrown errors (`throwsWith`) and on failed calls leaving the
// store exactly as it was (`throwsUnchanged`).
import assert from 'node:assert/strict';
import { Store, type StoreOptions } from 'threadkv';

export type ErrorClass = ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor;

/**
 * Asserts that fn throws exactly a `Ctor` (not a subclass) with `code`, and a
 * message that includes every string part (or matches every RegExp).
 */
export function throwsWith(fn: () => unknown, Ctor: ErrorClass, code: string, ...parts: (string | RegExp)[]): Error & { code: string } {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error, 'expected an error to be thrown');
  const err = thrown as Error & { code: string };
  assert.equal(Object.getPrototypeOf(err), Ctor.prototype, `expected a ${Ctor.name}, got ${err.constructor.name}: ${err.message}`);
  assert.equal(err.code, code, err.message);
  for (const part of parts) {
    if (typeof part === 'string') assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(part)}`);
    else assert.match(err.message, part);
  }
  return err;
}

/**
 * Everything observable about a store: its memory figures and every key with
 * its value and version (so a write that stores an equal value still shows).
 */
export function snapshot(s: Store): unknown {
  const keys = [...s.keys()].sort();
  return {
    memory: s.memory(),
    entries: keys.map((k) => {
      const e = s.getEntry(k);
      return [k, e?.value, e?.version];
    }),
  };
}

/** Asserts that fn throws (checked by `check`) and leaves the store exactly as it was. */
export function throwsUnchanged(s: Store, fn: () => unknown, Ctor: ErrorClass, code: string, ...parts: (string | RegExp)[]): void {
  const before = snapshot(s);
  throwsWith(fn, Ctor, code, ...parts);
  assert.deepEqual(snapshot(s), before, 'the store changed although the call threw');
}

/**
 * Per-suite store factory: `open(options?)` makes a store with a name unique
 * to the test (its title included, for debugging), created with `defaults`
 * overridden by `options`; every store opened is destroyed after each test.
 */
export function storeFactory(prefix: string, defaults?: StoreOptions): <V = unknown>(options?: StoreOptions) => Store<V> {
  let seq = 0;
  let title = '';
  const created: string[] = [];
  beforeEach(function () {
    title = (this.currentTest?.title ?? '').replace(/[^\w .,:()-]/g, '_').slice(0, 120);
  });
  afterEach(() => {
    for (const name of created.splice(0)) Store.destroy(name);
  });
  return <V = unknown>(options?: StoreOptions): Store<V> => {
    const name = `${prefix}#${++seq}-${process.pid} ${title}`;
    created.push(name);
    return Store.open<V>(name, { ...defaults, ...options });
  };
}

export const CODEC_NAMES = ['v8', 'json', 'string', 'buffer'] as const;
