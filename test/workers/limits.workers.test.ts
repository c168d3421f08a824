import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// Capacity limits under 8 writing workers at once: the limits hold for the
// whole store, exactly, whatever the shard count: every stats() and size a
// worker takes stays within them, the final state is at the limit (no
// eviction below it: within one entry of maxBytes), counted both by stats()
// and by walking the keys.

// What maxBytes counts per entry beyond key and value in a store that evicts
// (docs/operations.md).
const CHARGE = 64;

const scale = (n: number): number => (process.env.THREADKV_TSAN ? Math.ceil(n / 10) : n);

describe('workers: capacity limits hold under concurrent writers', () => {
  const file = fixture('limits-worker.ts');
  const parties = 8;
  let name = '';
  beforeEach(() => {
    name = uniqueName('limits-workers');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  for (const shards of [1, 64]) {
    it(`8 workers x ${scale(20_000)} sets into maxEntries 1000 / maxBytes 100000 (${shards} shard${shards > 1 ? 's' : ''})`, async () => {
      const maxEntries = 1000;
      const maxBytes = 100_000;
      const s = Store.open<string>(name, { shards, maxEntries, maxBytes, codec: 'string' });
      const iterations = scale(20_000);
      const barrier = makeBarrier();
      const results = await runWorkers<{ violations: number; ownLost: number }>(file, parties, (index) => ({
        scenario: 'fill', store: name, index, parties, barrier, iterations, maxEntries, maxBytes,
      }));
      for (const r of results) assert.equal(r.violations, 0);
      const st = s.stats();
      assert.ok(st.entries <= maxEntries, `entries ${st.entries}`);
      assert.ok(st.bytes <= maxBytes, `bytes ${st.bytes}`);
      // The byte limit binds first (about 130 bytes an entry). A write
      // evicts only until it fits, so the store ends within an entry (at
      // most 10 + 61 + CHARGE bytes) of maxBytes per writer that raced it,
      // whatever the shard count (split per shard, 64 shards would leave
      // about half an entry per shard unused: 4 KB).
      const slack = parties * (10 + 61 + CHARGE);
      assert.ok(st.bytes > maxBytes - slack, `bytes ${st.bytes}: evicted below the limit`);
      // Counting by walking the store agrees with stats().
      let counted = 0;
      let bytes = 0;
      for (const [k, v] of s.entries()) {
        counted++;
        bytes += Buffer.byteLength(k) + Buffer.byteLength(v) + CHARGE;
      }
      assert.equal(counted, st.entries);
      assert.equal(bytes, st.bytes);
      assert.equal(st.sets, parties * iterations);
      assert.equal(st.evictions, st.sets - st.entries);
      // 8 threads writing into one shard lock must have met on it.
      if (shards === 1) assert.ok(st.contendedWrites + st.contendedReads > 0, JSON.stringify(st));
    });
  }

  it('TTL: entries written with a deadline by workers expire for every thread; expired entries of the main thread are invisible to workers', async () => {
    const s = Store.open<string>(name, { shards: 8 });
    const iterations = 500;
    let barrier = makeBarrier();
    await runWorkers(file, parties, (index) => ({
      scenario: 'ttl-set', store: name, index, parties, barrier, iterations, maxEntries: 0, maxBytes: 0,
    }));
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(s.size, parties * iterations);
    for (const k of s.keys()) assert.ok(k.includes('-long-'), k);
    for (let i = 0; i < iterations; i++) s.set(`main-${i}`, 'v', { ttlMs: 20 });
    await new Promise((r) => setTimeout(r, 50));
    barrier = makeBarrier();
    const results = await runWorkers<{ violations: number }>(file, parties, (index) => ({
      scenario: 'ttl-read', store: name, index, parties, barrier, iterations, maxEntries: 0, maxBytes: 0,
    }));
    for (const r of results) assert.equal(r.violations, 0);
  });
});
