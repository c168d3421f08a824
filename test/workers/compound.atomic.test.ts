import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// The compound single-key operations from 8 real worker_threads at once
// (started together at a SharedArrayBuffer barrier): no lost or duplicated
// updates, exactly one winner per insert race.

// Under the ThreadSanitizer build (npm run test:tsan) every call is 5-15x
// slower: fewer iterations, the same number of threads.
const scale = (n: number): number => (process.env.THREADKV_TSAN ? Math.ceil(n / 10) : n);

describe('workers: compound operations are atomic across threads', () => {
  const file = fixture('compound-worker.ts');
  const parties = 8;
  let name = '';

  beforeEach(() => {
    name = uniqueName('compound-atomic');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  const increments = scale(100_000);
  it(`8 workers x ${increments} increment() of one key end at exactly ${8 * increments}`, async () => {
    const iterations = increments;
    const barrier = makeBarrier();
    const results = await runWorkers<{ last: number }>(file, parties, (index) => ({
      scenario: 'increment', store: name, index, parties, barrier, iterations,
    }));
    const s = Store.open(name);
    assert.equal(s.get('counter'), parties * iterations);
    // Each worker's last result is a value the counter really passed through.
    for (const r of results) assert.ok(r.last >= iterations && r.last <= parties * iterations, String(r.last));
    assert.equal(Math.max(...results.map((r) => r.last)), parties * iterations);
  });

  it('8 workers running update() on one key end at the exact sum', async () => {
    const iterations = scale(3000);
    const barrier = makeBarrier();
    const results = await runWorkers<{ calls: number }>(file, parties, (index) => ({
      scenario: 'update', store: name, index, parties, barrier, iterations,
    }));
    // Worker i adds i + 1, `iterations` times.
    const want = iterations * ((parties * (parties + 1)) / 2);
    assert.equal(Store.open(name).get('sum'), want);
    const calls = results.reduce((a, r) => a + r.calls, 0);
    assert.ok(calls >= parties * iterations, `fn ran ${calls} times`);
  });

  it('setIfAbsent() from 8 workers on the same keys: exactly one wins each key, and its value stays', async () => {
    const keys = scale(3000);
    const barrier = makeBarrier();
    const results = await runWorkers<{ won: number[] }>(file, parties, (index) => ({
      scenario: 'set-if-absent', store: name, index, parties, barrier, keys,
    }));
    const winners = new Array<number[]>(keys).fill([]).map(() => [] as number[]);
    for (const [w, r] of results.entries()) for (const j of r.won) winners[j]!.push(w);
    const s = Store.open(name);
    for (let j = 0; j < keys; j++) {
      assert.equal(winners[j]!.length, 1, `k${j} won by ${JSON.stringify(winners[j])}`);
      assert.deepEqual(s.get(`k${j}`), { winner: winners[j]![0] });
    }
    assert.equal(s.size, keys);
  });

  it('getOrSet() from 8 workers: all return the same value per key, the stored one', async () => {
    const keys = scale(3000);
    const barrier = makeBarrier();
    const results = await runWorkers<{ got: Array<{ key: string; by: number; nonce: number }>; factoryCalls: number }>(
      file, parties, (index) => ({ scenario: 'get-or-set', store: name, index, parties, barrier, keys }),
    );
    const s = Store.open(name);
    for (let j = 0; j < keys; j++) {
      const stored = s.get(`k${j}`);
      for (const r of results) assert.deepEqual(r.got[j], stored, `k${j}`);
    }
    const calls = results.reduce((a, r) => a + r.factoryCalls, 0);
    // A factory runs at most once per call, and at least once per key.
    assert.ok(calls >= keys && calls <= keys * parties, `factory calls: ${calls}`);
    for (const r of results) assert.ok(r.factoryCalls <= keys);
  });
});
