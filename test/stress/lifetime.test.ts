import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import { awaitBarrier, fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

const file = fixture('lifetime-worker.ts');
const underTsan = process.env.THREADKV_TSAN === '1';

describe('stress: store lifetime under concurrency', () => {
  it('opening the same new name from 8 workers at once yields exactly one store', async () => {
    for (let round = 0; round < (underTsan ? 2 : 5); round++) {
      const name = uniqueName('open-race');
      const barrier = makeBarrier();
      await runWorkers(file, 8, (index) => ({ scenario: 'open-race', store: name, index, parties: 8, barrier }));
      const s = Store.open(name);
      assert.equal(s.size, 8, 'every worker wrote into the one store');
      for (let i = 0; i < 8; i++) assert.equal(s.get(`w${i}`), i);
      assert.equal(Store.list().filter((n) => n === name).length, 1);
      Store.destroy(name);
    }
  });

  it('Store.destroy racing with operations on 4 workers: each op succeeds or throws "destroyed", never after', async () => {
    for (let round = 0; round < (underTsan ? 2 : 5); round++) {
      const name = uniqueName('destroy-race');
      Store.open(name).set('seed', 1);
      const parties = 5; // 4 workers + main
      const barrier = makeBarrier();
      const results = runWorkers<{ ok: number; destroyedErrors: number; other: string; resurrected: number }>(file, 4, (index) => ({
        scenario: 'destroy-race',
        store: name,
        index,
        parties,
        barrier,
        durationMs: 1500,
      }));
      awaitBarrier(barrier, parties);
      const until = Date.now() + 20 + round * 10;
      while (Date.now() < until) {
        // let the workers get going
      }
      assert.equal(Store.destroy(name), true);
      for (const r of await results) {
        assert.equal(r.other, '', 'only "destroyed" errors are allowed');
        assert.equal(r.resurrected, 0, 'an operation succeeded after another had seen the store destroyed');
        assert.ok(r.destroyedErrors > 0, 'the destroy was observed');
      }
      assert.equal(Store.destroy(name), false);
      const fresh = Store.open(name);
      assert.equal(fresh.size, 0, 'reopening gives a new, empty store');
      Store.destroy(name);
    }
  });

  it('handles closed on one thread never disturb handles used on others', async () => {
    const name = uniqueName('close-churn');
    Store.open(name);
    const barrier = makeBarrier();
    const results = await runWorkers<{ cycles?: number; closedErrors?: number; ops?: number; errors?: string }>(file, 4, (index) => ({
      scenario: index < 2 ? 'close-churn' : 'steady-user',
      store: name,
      index,
      parties: 4,
      barrier,
      durationMs: 500,
    }));
    for (const r of results) {
      if (r.cycles !== undefined) assert.equal(r.closedErrors, r.cycles, 'a closed handle always throws');
      else assert.equal(r.errors, '');
    }
    Store.destroy(name);
  });

  it('the store outlives a worker terminated while it holds the only handle', async () => {
    const name = uniqueName('orphan');
    const w = new Worker(
      `const { Store } = require('threadkv'); const { parentPort } = require('node:worker_threads');
       const s = Store.open(${JSON.stringify(name)}); s.set('k', 'v'); parentPort.postMessage('set');
       for (;;) s.get('k');`,
      { eval: true },
    );
    await new Promise((resolve) => w.once('message', resolve));
    await w.terminate();
    assert.equal(Store.open(name).get('k'), 'v');
    Store.destroy(name);
  });
});

describe('stress: memory returns to where it started', () => {
  // Native accounting (store.memory()) must come back exactly, whatever the
  // values. RSS is checked with string values: v8.serialize alone (no store
  // involved) grows this process's RSS by ~250 MiB over a million calls as
  // glibc keeps the serializer's freed buffers, which would hide a leak.
  function churn(s: Store<unknown>, cycles: number, value: (i: number) => unknown): void {
    for (let i = 0; i < cycles; i++) {
      const key = `m:${i & 1023}`;
      s.set(key, value(i));
      s.set(key, `overwrite ${i}`);
      if ((i & 1023) === 1023) for (let j = 0; j < 1024; j++) s.delete(`m:${j}`);
    }
    for (let j = 0; j < 1024; j++) s.delete(`m:${j}`);
  }
  const cycles = underTsan ? 100_000 : 1_000_000;

  it('a million set/overwrite/delete cycles of objects leave the native byte counts where they started', () => {
    const name = uniqueName('memory-v8');
    const s = Store.open(name);
    const value = (i: number) => ({ n: i, text: 'x'.repeat(i & 127) });
    churn(s, 20_000, value); // every shard's table now has its minimum slot array
    const before = s.memory();
    churn(s, cycles, value);
    assert.deepEqual(s.memory(), before, 'entries, entry bytes and slot bytes are back to their start');
    assert.equal(s.memory().entryBytes, 0);
    Store.destroy(name);
  });

  it('a million set/overwrite/delete cycles of strings leave the native byte counts and the RSS where they started', () => {
    const name = uniqueName('memory-string');
    const s = Store.open(name, { codec: 'string' });
    const value = (i: number) => `value ${i} ${'y'.repeat(i & 255)}`;
    // Reach steady state first, the JS heap's included: the strings made
    // here grow it (by ~9 MiB, ~40 MiB of RSS under TSAN's shadow memory)
    // until it has settled, and a 50,000-cycle warm-up settled it only when
    // an earlier test had grown the heap already (v8.serialize's garbage).
    churn(s, Math.min(cycles, 200_000), value);
    const before = s.memory();
    const rssBefore = process.memoryUsage().rss;
    churn(s, cycles, value);
    assert.deepEqual(s.memory(), before);
    const grown = process.memoryUsage().rss - rssBefore;
    // A leak of even 32 bytes per cycle would be 32 MB.
    assert.ok(grown < 24 * 1024 * 1024, `RSS grew by ${(grown / 1048576).toFixed(1)} MiB over ${cycles} cycles`);
    Store.destroy(name);
  });
});
