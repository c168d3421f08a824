import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

describe('workers: one store shared by every thread', () => {
  const file = fixture('worker-ops.ts');

  it('a value set in one worker is read in another, and by the main thread', async () => {
    const name = uniqueName('share');
    const value = { from: 'worker 0', nested: { list: [1, 2, 3], when: new Date(0) } };
    await runWorkers(file, 1, () => ({ scenario: 'set', store: name, key: 'k', value }));
    const [seen] = await runWorkers<{ value: unknown; has: boolean }>(file, 1, () => ({ scenario: 'get', store: name, key: 'k' }));
    assert.deepEqual(seen, { value, has: true });
    assert.deepEqual(Store.open(name).get('k'), value);
    Store.destroy(name);
  });

  it('a value set by the main thread is read by a worker', async () => {
    const name = uniqueName('share-main');
    const s = Store.open(name, { codec: 'json' });
    s.set('config', { flags: ['a', 'b'] });
    const [seen] = await runWorkers<{ value: unknown }>(file, 1, () => ({ scenario: 'get', store: name, key: 'config' }));
    assert.deepEqual(seen.value, { flags: ['a', 'b'] });
    Store.destroy(name);
  });

  it('a store outlives every thread that used it, and its handles', async () => {
    const name = uniqueName('outlive');
    await runWorkers(file, 1, () => ({ scenario: 'set', store: name, key: 'k', value: 'kept' }));
    // The writer has exited; its handle is gone. A new worker still reads it.
    const [seen] = await runWorkers<{ value: unknown }>(file, 1, () => ({ scenario: 'get', store: name, key: 'k' }));
    assert.equal(seen.value, 'kept');
    Store.destroy(name);
  });

  it('4 workers writing disjoint keys: every key reads back intact', async () => {
    const name = uniqueName('disjoint');
    const keys = 5000;
    const parties = 4;
    const barrier = makeBarrier();
    await runWorkers(file, parties, (index) => ({ scenario: 'disjoint-writers', store: name, index, parties, barrier, keys }));
    const s = Store.open(name);
    assert.equal(s.size, parties * keys);
    for (let w = 0; w < parties; w++) {
      for (let i = 0; i < keys; i++) {
        assert.deepEqual(s.get(`w${w}:k${i}`), { writer: w, i, payload: `v-${w}-${i}`.repeat(1 + (i % 7)) });
      }
    }
    Store.destroy(name);
  });

  it('4 workers hammering a few keys with set/get/delete: every read is intact, every final value was written', async () => {
    const name = uniqueName('hot');
    const parties = 4;
    const hot = 4;
    const barrier = makeBarrier();
    const results = await runWorkers<{ reads: number; bad: number; writes: number }>(file, parties, (index) => ({
      scenario: 'hot-keys',
      store: name,
      index,
      parties,
      barrier,
      keys: hot,
      durationMs: 400,
    }));
    for (const r of results) {
      assert.equal(r.bad, 0, 'a read returned a value no worker wrote');
      assert.ok(r.reads > 0 && r.writes > 0);
    }
    const s = Store.open(name);
    for (let k = 0; k < hot; k++) {
      const v = s.get(`hot:${k}`) as { w: number; seq: number; key: string; check: string } | undefined;
      if (v === undefined) continue; // the last operation on it was a delete
      assert.equal(v.key, `hot:${k}`);
      assert.equal(v.check, `${v.w}/${v.seq}/${v.key}`);
      assert.ok(v.seq >= 1 && v.seq <= results[v.w]!.writes, 'final value is one its writer really wrote');
    }
    Store.destroy(name);
  });
});
