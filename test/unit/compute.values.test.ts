import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import type { ComputeWorkerData } from '../fixtures/compute-worker';
import { cloneMismatch, PAYLOADS } from '../support/payloads';
import { fixture, uniqueName } from '../support/workers';

// getOrCompute with the values the value path stores natively or in its own
// format (binary views, objects with vectors, number arrays): the leader, a
// caller that joined its flight, a later hit and the stored entry each get
// an exact copy of the value computed, in this thread and across threads.
describe('getOrCompute: every kind of value, as get returns it', () => {
  for (const [index, [what, build]] of PAYLOADS.entries()) {
    it(`${what}: leader, joined caller, hit, sync hit and get agree`, async () => {
      const name = uniqueName('compute-values');
      const s = Store.open<unknown>(name);
      try {
        const value = build(index);
        let release!: () => void;
        const gate = new Promise<void>((r) => {
          release = r;
        });
        const leading = s.getOrCompute('k', async () => {
          await gate;
          return value;
        });
        const joined = s.getOrCompute('k', () => assert.fail('a second computation'));
        release();
        const [led, got] = await Promise.all([leading, joined]);
        assert.equal(cloneMismatch(led, value), null, 'leader');
        assert.equal(cloneMismatch(got, value), null, 'joined caller');
        assert.equal(cloneMismatch(await s.getOrCompute('k', () => assert.fail('a hit computed')), value), null, 'hit');
        assert.equal(cloneMismatch(s.getOrComputeSync('k', () => assert.fail('a hit computed')), value), null, 'sync hit');
        assert.equal(cloneMismatch(s.get('k'), value), null, 'get');
        assert.equal(cloneMismatch(s.getOrComputeSync('sync', () => value), value), null, 'sync leader');
        assert.equal(cloneMismatch(s.get('sync'), value), null, 'get after a sync leader');
        assert.equal(s.stats().loads, 2);
      } finally {
        Store.destroy(name);
      }
    });
  }

  it("a caller in this thread joins a worker's computation of an object with a vector", async () => {
    const name = uniqueName('compute-values-threads');
    const s = Store.open<unknown>(name);
    const payload = PAYLOADS.findIndex(([what]) => what === 'object with a vector');
    assert.ok(payload >= 0);
    const release = new SharedArrayBuffer(4);
    const data: ComputeWorkerData = { scenario: 'lead', store: name, index: 0, key: 'doc', payload, release };
    const worker = new Worker(fixture('compute-worker.ts'), { workerData: data });
    // Every message is queued as it arrives (the worker may post its result
    // while this thread still awaits its own call), and next() takes them in
    // order.
    const messages: unknown[] = [];
    const waiting: Array<(m: unknown) => void> = [];
    worker.on('message', (m: unknown) => {
      const w = waiting.shift();
      if (w) w(m);
      else messages.push(m);
    });
    const next = () =>
      new Promise<unknown>((resolve) => {
        if (messages.length > 0) resolve(messages.shift());
        else waiting.push(resolve);
      });
    try {
      assert.equal(await next(), 'computing');
      const mine = s.getOrCompute('doc', () => assert.fail('a second computation'));
      Atomics.store(new Int32Array(release), 0, 1);
      const expected = PAYLOADS[payload]![1](7);
      assert.equal(cloneMismatch(await mine, expected), null, 'joined caller in the main thread');
      const led = (await next()) as { value: unknown };
      assert.equal(cloneMismatch(led.value, expected), null, "the worker's own result");
      assert.equal(cloneMismatch(s.get('doc'), expected), null, 'get');
    } finally {
      await worker.terminate();
      Store.destroy(name);
    }
  });
});
