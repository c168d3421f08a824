import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { BATCH_KEYS, batchViolation } from '../fixtures/compound-worker';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// Atomic batches and iteration from real worker_threads.

// Fewer rounds under the ThreadSanitizer build (npm run test:tsan).
const scale = (n: number): number => (process.env.THREADKV_TSAN ? Math.ceil(n / 10) : n);

describe('workers: atomic batches and weakly consistent iteration', () => {
  const file = fixture('compound-worker.ts');
  let name = '';

  beforeEach(() => {
    name = uniqueName('compound-batch');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('the snapshot check itself rejects partial batches', () => {
    const tags = (spec: string[]): string[] => spec.flatMap((t) => new Array<string>(4).fill(t));
    assert.equal(batchViolation(tags(['a', 'a', 'a', 'b'])), undefined); // last batch A
    assert.equal(batchViolation(tags(['a', 'b', 'b', 'b'])), undefined); // last batch B
    assert.ok(batchViolation(tags(['a', 'a', 'b', 'b']))); // K4..K11 split
    assert.ok(batchViolation(tags(['a', 'c', 'c', 'b']))); // K4..K11 from neither
    const one = tags(['a', 'a', 'a', 'a']);
    one[13] = 'x';
    assert.ok(batchViolation(one));
  });

  it('atomic setMany from 4 workers on overlapping keys in random orders never deadlocks; getMany readers never see part of a batch', async () => {
    const s = Store.open(name, { shards: 8 });
    s.setMany(BATCH_KEYS.map((k) => [k, 'init'] as [string, string]), { atomic: true });
    const parties = 8;
    const writers = 4;
    const flags = new SharedArrayBuffer(4);
    const barrier = makeBarrier();
    const results = await runWorkers<{ role: string; reads?: number; bad?: number; firstBad?: string }>(file, parties, (index) => ({
      scenario: 'batch', store: name, index, parties, barrier, iterations: scale(3000), writers, flags,
    }));
    const readers = results.filter((r) => r.role === 'reader');
    assert.equal(readers.length, parties - writers);
    for (const r of readers) assert.equal(r.bad, 0, `${r.bad} of ${r.reads} snapshots were partial; first: ${r.firstBad}`);
    assert.ok(readers.reduce((a, r) => a + r.reads!, 0) > 0);
    const final = s.getMany(BATCH_KEYS);
    assert.equal(batchViolation(final), undefined);
  });

  it('iteration while other workers insert and delete: each key at most once, every stable key seen, values right', async () => {
    const stable = 2000;
    const s = Store.open<number>(name, { shards: 16 });
    s.setMany(Array.from({ length: stable }, (_, j) => [`stable:${j}`, j] as [string, number]));
    const parties = 8;
    const writers = 5;
    const flags = new SharedArrayBuffer(4);
    const barrier = makeBarrier();
    const results = await runWorkers<{ role: string; problems?: string[]; problemCount?: number; maxSeen?: number }>(
      file, parties, (index) => ({ scenario: 'iterate', store: name, index, parties, barrier, iterations: scale(30), keys: stable, writers, flags }),
    );
    const iterators = results.filter((r) => r.role === 'iterator');
    assert.equal(iterators.length, parties - writers);
    for (const r of iterators) assert.equal(r.problemCount, 0, r.problems!.join('\n'));
    // The main thread iterates too, while nothing changes: exactly the stable keys remain.
    assert.deepEqual([...s.keys()].sort(), Array.from({ length: stable }, (_, j) => `stable:${j}`).sort());
  });
});
