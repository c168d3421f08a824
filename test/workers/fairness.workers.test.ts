import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// Writer fairness of the shard lock: a writer waiting on a shard is not
// overtaken forever by new readers. Four workers scan one shard in a loop
// (each scan holds the shard's shared lock while it walks 50,000 entries and
// finds nothing, so the readers' holds overlap and some reader holds the lock
// at nearly every moment); a fifth sets a key of that shard.
// With a reader-preferring lock (glibc's default rwlock) the readers let
// each other in ahead of the waiting writer for as long as they keep coming;
// here the writer must finish its writes while they still read. The readers
// stop when the writer is done, or give up after a bound: the test checks
// which came first, never a time.

describe('workers: a writer is not starved by readers of its shard', () => {
  const file = fixture('fairness-worker.ts');
  let name = '';
  beforeEach(() => {
    name = uniqueName('fairness-workers');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('4 readers of one shard in a loop, 1 writer: the writer completes while they read', async function () {
    this.timeout(120_000);
    const keys = 50_000;
    const writes = 50;
    const s = Store.open<string>(name, { shards: 1, codec: 'string' });
    for (let i = 0; i < keys; i++) s.set(`k${i}`, `value-${i}`);
    s.set('hot', 'v');
    const barrier = makeBarrier();
    const readers = 4;
    const flags = new SharedArrayBuffer(4 * (3 + readers));
    const parties = readers + 1;
    const results = await runWorkers<{ batches: number; writes: number }>(file, parties, (index) => ({
      role: index < readers ? 'reader' : 'writer',
      store: name,
      parties,
      barrier,
      flags,
      index,
      readers,
      writes,
      giveUpMs: 30_000,
    }));
    const gaveUp = new Int32Array(flags)[2] === 1;
    assert.equal(gaveUp, false, 'the readers gave up before the writer was done: it was held off while they read');
    assert.equal(results[readers].writes, writes);
    assert.equal(s.get('hot'), `v${writes - 1}`);
    for (let r = 0; r < readers; r++) assert.ok(results[r].batches > 0, `reader ${r} read nothing`);
  });
});
