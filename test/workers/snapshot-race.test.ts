import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import { tempDirs } from '../support/snapshot';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// Snapshots and restores from worker threads, racing writers, deleters and
// clear() on the same store (run under ThreadSanitizer by npm run
// test:tsan); a worker terminated while its snapshot runs.

const MS = process.env.THREADKV_TSAN ? 1500 : 1200;

describe('workers: snapshot racing writers', () => {
  const tmp = tempDirs();
  let name = '';
  beforeEach(() => {
    name = uniqueName('snap-race');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('snapshots and restores while workers set, delete and clear: every file reads back, every value is its key\'s', async () => {
    const dir = tmp();
    const s = Store.open<string>(name, { codec: 'string', shards: 8 });
    for (let i = 0; i < 500; i++) s.set(`k${i}`, `k${i}=seed`);
    s.snapshotSync(path.join(dir, 'seed.snap'), { fsync: false });
    const roles = ['writer', 'writer', 'deleter', 'snapshotter', 'snapshotter', 'restorer'] as const;
    const barrier = makeBarrier();
    const results = await runWorkers<{ role: string; n: number; bad: number; firstBad: string }>(fixture('snapshot-worker.ts'), roles.length, (index) => ({
      store: name, role: roles[index], barrier, parties: roles.length, ms: MS, dir, index,
    }));
    for (const r of results) assert.equal(r.bad, 0, `${r.role}: ${r.firstBad}`);
    const snaps = results.filter((r) => r.role === 'snapshotter');
    assert.ok(snaps.every((r) => r.n > 0), JSON.stringify(results));
    for (const [k, v] of s.entries()) assert.ok(v.startsWith(`${k}=`), `${k} -> ${v}`);
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('.')), [], 'no temporary file left');
  });

  it('a worker terminated while its snapshot runs leaves the process and the store healthy', async () => {
    const dir = tmp();
    const s = Store.open<string>(name, { codec: 'string' });
    const pad = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 64; i++) s.set(`k${i}`, pad);
    const before = process.env.THREADKV_SNAPSHOT_BLOCK_DELAY_US;
    process.env.THREADKV_SNAPSHOT_BLOCK_DELAY_US = '20000'; // copied into the worker's environment
    try {
      for (let round = 0; round < 3; round++) {
        const w = new Worker(fixture('snapshot-worker.ts'), { workerData: { store: name, role: 'pending', dir, index: round } });
        await new Promise<void>((resolve, reject) => {
          w.once('message', () => resolve());
          w.once('error', reject);
        });
        await new Promise((r) => setTimeout(r, 10 + round * 20));
        await w.terminate();
      }
    } finally {
      if (before === undefined) delete process.env.THREADKV_SNAPSHOT_BLOCK_DELAY_US;
      else process.env.THREADKV_SNAPSHOT_BLOCK_DELAY_US = before;
    }
    // The snapshots finish on their pool threads (the store is held) and
    // their files are complete; the store still works.
    const file = path.join(dir, 'after.snap');
    assert.equal((await s.snapshot(file)).entries, 64);
    for (let i = 0; i < 100; i++) {
      const done = fs.readdirSync(dir).filter((f) => f.startsWith('pending'));
      const temps = fs.readdirSync(dir).filter((f) => f.startsWith('.'));
      if (done.length === 3 && temps.length === 0) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(fs.readdirSync(dir).filter((f) => f.startsWith('.')), [], 'a temporary file was left behind');
    const c = Store.open<string>(`${name}-check`, { codec: 'string' });
    try {
      for (let round = 0; round < 3; round++) {
        const p = path.join(dir, `pending${round}.snap`);
        if (fs.existsSync(p)) assert.equal(c.restoreSync(p).entries, 64);
      }
    } finally {
      Store.destroy(c.name);
    }
  });
});
