import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { tempDirs } from '../support/snapshot';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// A snapshot is one point in time for the whole file, not one per shard:
// workers move amounts between keys of different shards with atomic
// setMany, so the sum over those keys never changes, while another worker
// snapshots back to back; every file, restored into a fresh store, holds
// exactly that sum. (A save that copies one shard at a time, each at its
// own instant, catches a move half done: one key before it, the other
// after.) Filler entries make each shard's copy take a while.

const MS = process.env.THREADKV_TSAN ? 2500 : process.env.THREADKV_SOAK ? 20_000 : 2000;
const MOVERS = 2;
const KEYS = 64; // per mover
const FILLER = process.env.THREADKV_TSAN ? 4000 : 20_000;
const MIN_SNAPSHOTS = process.env.THREADKV_TSAN ? 4 : 8;

describe('stress: snapshot is one point in time', () => {
  const tmp = tempDirs();
  let name = '';
  beforeEach(() => {
    name = uniqueName('snap-pit');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('every snapshot taken while atomic multi-shard moves run restores to the same sum', async function () {
    this.timeout(120_000);
    const dir = tmp();
    const s = Store.open<number | string>(name, { codec: 'json', shards: 16 });
    for (let i = 0; i < MOVERS * KEYS; i++) s.set(`a${i}`, 1000);
    const pad = 'f'.repeat(200);
    for (let i = 0; i < FILLER; i++) s.set(`f${i}`, pad);
    const total = MOVERS * KEYS * 1000;
    const parties = MOVERS + 1;
    const barrier = makeBarrier();
    const flags = new SharedArrayBuffer(4);
    const results = await runWorkers<{ role: string; n: number; bad: number; firstBad: string }>(fixture('snapshot-pit-worker.ts'), parties, (index) => ({
      store: name,
      role: index < MOVERS ? 'mover' : 'snapshotter',
      barrier,
      parties,
      ms: MS,
      dir,
      index,
      keys: index < MOVERS ? KEYS : MOVERS * KEYS,
      first: index * KEYS,
      total,
      flags,
      minSnapshots: MIN_SNAPSHOTS,
    }));
    const snap = results.find((r) => r.role === 'snapshotter')!;
    const moves = results.filter((r) => r.role === 'mover').reduce((a, r) => a + r.n, 0);
    assert.ok(snap.n >= MIN_SNAPSHOTS, `only ${snap.n} snapshots`);
    assert.ok(moves > 0);
    assert.equal(snap.bad, 0, `${snap.bad} of ${snap.n} snapshots (${moves} moves): ${snap.firstBad}`);
    let sum = 0;
    for (let i = 0; i < MOVERS * KEYS; i++) sum += s.get(`a${i}`) as number;
    assert.equal(sum, total);
  });
});
