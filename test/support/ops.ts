import type { Store } from 'threadkv';
/**
 * The store's compound operations as the model and linearizability tests
 * call them: every test calls them through the typed `Store<V>`, from the
 * static list below. The conventions (lib/store.ts):
 *
 *   setIfAbsent(key, value): boolean        true if it stored (key was absent)
 *   getOrSet(key, value): V                 the value present (a copy), else stores
 *                                           `value` and returns that very value
 *   swap(key, value): V | undefined         stores, returns the previous value
 *   take(key): V | undefined                removes, returns the previous value
 *   increment(key, delta = 1): number       absent counts as 0 (see counterSum);
 *                                           TypeError ERR_THREADKV_NOT_A_NUMBER on a
 *                                           non-number, RangeError ERR_THREADKV_COUNTER_RANGE
 *   getEntry(key): { value, version } | undefined
 *   compareAndSet(key, expected: number | null, value): boolean
 *                                           null: only if absent; a number: only if
 *                                           present with that version
 *   compareAndDelete(key, expected: number): boolean
 *   update(key, fn, { maxRetries }?): V | undefined
 *                                           stores fn(current) and returns it; fn
 *                                           returning undefined deletes; fn may run more
 *                                           than once (the last run's result counts);
 *                                           Error ERR_THREADKV_UPDATE_CONTENDED after
 *                                           maxRetries lost races, having changed nothing
 *   getMany(keys): Array<V | undefined>     one snapshot of all the keys
 *   setMany(entries, { atomic }?)           each entry atomically, or all as one step
 *   deleteMany(keys, { atomic }?): number   how many were present
 *   keys/values/entries({ prefix }?)        weakly consistent iteration, shard by shard
 *   getOrComputeSync(key, factory): V       the value, or factory(key) computed once
 *                                           for every thread (see test/support/compute.ts
 *                                           for how a call tells hit / join / lead)
 */

/**
 * The sum `increment` stores, per the store's documented arithmetic
 * (native/core/counter.h, AddToCounter), or undefined where it must throw a
 * RangeError: integers (an integer current value and an integer delta) add
 * exactly and must all stay within ±Number.MAX_SAFE_INTEGER; otherwise the
 * double sum must be finite (so must the operands).
 */
export function counterSum(current: number, delta: number): number | undefined {
  const sum = current + delta;
  const ok =
    Number.isInteger(current) && Number.isInteger(delta)
      ? Math.abs(current) <= Number.MAX_SAFE_INTEGER && Math.abs(delta) <= Number.MAX_SAFE_INTEGER && Math.abs(sum) <= Number.MAX_SAFE_INTEGER
      : Number.isFinite(current) && Number.isFinite(delta) && Number.isFinite(sum);
  return ok ? sum : undefined;
}

/**
 * The Store methods beyond the basic ones that the model and
 * linearizability tests drive. A static list, checked against the Store type
 * (a renamed or removed method is a compile error here, and the tests call
 * each one directly: it fails them rather than dropping out of them).
 */
export const OPTIONAL_OPS = [
  'setIfAbsent',
  'getOrSet',
  'swap',
  'take',
  'increment',
  'getEntry',
  'compareAndSet',
  'compareAndDelete',
  'update',
  'getMany',
  'setMany',
  'deleteMany',
  'entries',
  'getOrComputeSync',
] as const satisfies readonly (keyof Store<unknown>)[];
export type OptionalOp = (typeof OPTIONAL_OPS)[number];

/** `getMany`'s result as values in the order of `keys` (undefined for absent keys). */
export function getManyValues(result: unknown, keys: readonly string[]): unknown[] {
  if (Array.isArray(result)) {
    if (result.length !== keys.length) {
      throw new Error(`getMany returned ${result.length} values for ${keys.length} keys`);
    }
    return result;
  }
  if (result instanceof Map) return keys.map((k) => result.get(k));
  if (typeof result === 'object' && result !== null) {
    const rec = result as Record<string, unknown>;
    return keys.map((k) => (Object.hasOwn(rec, k) ? rec[k] : undefined));
  }
  throw new Error(`getMany returned ${typeof result}, expected an array, a Map or an object`);
}

/** `deleteMany`'s per-key outcome when it reports one (booleans in key order), else undefined. */
export function deleteManyOutcomes(result: unknown, keys: readonly string[]): boolean[] | undefined {
  if (Array.isArray(result) && result.length === keys.length && result.every((x) => typeof x === 'boolean')) {
    return result as boolean[];
  }
  return undefined;
}

/** Every [key, value] the store's iteration yields (of keys starting with `prefix`, if given), in iteration order. */
export function iterateEntries(store: object, prefix?: string): Array<[string, unknown]> {
  const s = store as Record<string | symbol, unknown>;
  const iterable =
    typeof s['entries'] === 'function'
      ? (s['entries'] as (o?: { prefix: string }) => Iterable<unknown>).call(store, ...(prefix === undefined ? [] : [{ prefix }]))
      : (s[Symbol.iterator] as () => Iterator<unknown>).call(store);
  const out: Array<[string, unknown]> = [];
  for (const item of iterable as Iterable<unknown>) {
    if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string') {
      out.push([item[0], item[1]]);
    } else if (typeof item === 'object' && item !== null && typeof (item as { key?: unknown }).key === 'string') {
      const e = item as { key: string; value?: unknown };
      out.push([e.key, e.value]);
    } else {
      throw new Error('iteration yielded something other than [key, value] or { key, value }');
    }
  }
  return out;
}
