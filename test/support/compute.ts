// Helpers for the getOrCompute tests.
import assert from 'node:assert/strict';
import * as path from 'node:path';

/** A promise with its resolve / reject exposed. */
export interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T): void;
  reject(err: unknown): void;
}

export function deferred<T = unknown>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Lets pending promise callbacks and one macrotask run. */
export const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

/** Asserts that `p` rejects with a `Ctor` (exactly) carrying `code` (if given) and a message containing `parts`. */
export async function rejectsWith(
  p: Promise<unknown>,
  Ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor,
  code: string | undefined,
  ...parts: string[]
): Promise<Error & { code?: string }> {
  let thrown: unknown;
  try {
    await p;
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error, `expected a rejection with an Error, got ${String(thrown)}`);
  const err = thrown as Error & { code?: string };
  assert.equal(Object.getPrototypeOf(err), Ctor.prototype, `expected a ${Ctor.name}, got ${err.constructor.name}: ${err.message}`);
  if (code !== undefined) assert.equal(err.code, code, err.message);
  for (const part of parts) assert.ok(err.message.includes(part), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(part)}`);
  return err;
}

/** Asserts that `p` rejects with an AbortError whose cause is `reason`. */
export async function rejectsAbort(p: Promise<unknown>, reason?: unknown): Promise<void> {
  let thrown: unknown;
  try {
    await p;
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error, `expected an AbortError, got ${String(thrown)}`);
  assert.equal((thrown as Error).name, 'AbortError');
  assert.equal((thrown as { code?: string }).code, 'ABORT_ERR');
  if (reason !== undefined) assert.equal((thrown as Error).cause, reason);
}

/**
 * This thread's waker bookkeeping (lib/waker.ts of the built package, the
 * same module instance the store uses): handlers registered and loop holds.
 */
export function wakerState(): { handlers: number; holds: number; started: boolean } {
  const dist = path.dirname(require.resolve('threadkv'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(dist, 'waker.js')) as { wakerState(): { handlers: number; holds: number; started: boolean } }).wakerState();
}

/**
 * The library's per-thread trace of getOrComputeSync (dist/compute.js,
 * internal): what the latest miss did, and whether the latest led value was
 * stored. The linearizability recorder needs it: a led computation is a
 * write only if its value was stored (a concurrent write invalidates it).
 */
export function computeTrace(): { step: 'none' | 'hit' | 'join' | 'lead'; stored: boolean } {
  const dist = path.dirname(require.resolve('threadkv'));
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require(path.join(dist, 'compute.js')) as { computeTrace: { step: 'none' | 'hit' | 'join' | 'lead'; stored: boolean } }).computeTrace;
}
