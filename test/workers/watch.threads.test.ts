import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Store, type ChangeEvent } from 'threadkv';
import type { WatchWorkerData } from '../fixtures/watch-worker';
import { brief, checkSeqs, nextEvents } from '../support/watch';
import { fixture, uniqueName } from '../support/workers';

// watch across real worker threads: events of other threads' writes, on the
// watching thread; a write visible once its event is delivered; watchers
// keep their thread alive unless unref'd, and go away with it.

const file = fixture('watch-worker.ts');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function start(data: WatchWorkerData): { worker: Worker; ready: Promise<void>; result: Promise<unknown>; exited: Promise<number> } {
  const worker = new Worker(file, { workerData: data });
  let ready!: () => void;
  let result!: (m: unknown) => void;
  const r = {
    worker,
    ready: new Promise<void>((res) => (ready = res)),
    result: new Promise<unknown>((res) => (result = res)),
    exited: new Promise<number>((res) => worker.once('exit', res)),
  };
  worker.on('message', (m) => (m === 'ready' ? ready() : result(m)));
  worker.on('error', (err) => {
    throw err;
  });
  return r;
}

describe('watch across threads', function () {
  this.timeout(120_000);
  let name: string;
  let store: Store;

  beforeEach(() => {
    name = uniqueName('watch-workers');
    store = Store.open(name);
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('a watcher in a worker gets this thread\'s writes, in order, with their versions', async () => {
    const peer = start({ scenario: 'report', store: name, index: 0, options: { prefix: 'p:' }, count: 4 });
    await peer.ready;
    store.set('p:1', 1);
    const v1 = store.getEntry('p:1')!.version;
    store.set('q', 1);
    store.setMany([['p:2', 2], ['p:3', 3]], { atomic: true });
    store.delete('p:1');
    const got = (await peer.result) as ChangeEvent[];
    assert.deepEqual(brief(got), [['set', 'p:1'], ['set', 'p:2'], ['set', 'p:3'], ['delete', 'p:1']]);
    assert.equal(got[0]!.version, v1);
    assert.equal(got[3]!.version, v1);
    checkSeqs(got, false);
    await peer.exited;
    assert.equal(store.stats().watchers, 0);
  });

  it('events of writes in other threads arrive here, and each write is visible when its event is', async () => {
    const w = store.watch({ prefix: 'k' });
    let violations = 0;
    let seen = 0;
    w.on('change', (batch) => {
      for (const e of batch) {
        seen++;
        // The write is already visible: the key holds that version or a later one.
        const now = store.getEntry(e.key);
        if (e.type === 'set' && (now === undefined ? false : now.version < e.version)) violations++;
        if (e.type === 'set' && now === undefined) {
          // Deleted since: only by a later write, whose event follows.
        }
      }
    });
    const writers = [0, 1].map((i) => start({ scenario: 'write', store: name, index: i, ops: 3000, keys: 16, seed: 50 + i }));
    await Promise.all(writers.map((x) => x.exited));
    store.set('k-end', 1);
    await new Promise<void>((resolve) => {
      const check = (batch: ChangeEvent[]): void => {
        if (batch.some((e) => e.key === 'k-end')) {
          w.off('change', check);
          resolve();
        }
      };
      w.on('change', check);
    });
    w.close();
    assert.ok(seen > 100, `only ${seen} events`);
    assert.equal(violations, 0, 'an event was delivered before its write was visible');
  });

  it('a referenced watcher keeps its worker alive; an unreferenced one does not; either goes away with its thread', async () => {
    const held = start({ scenario: 'hold', store: name, index: 0, options: { key: 'x' } });
    const loose = start({ scenario: 'hold', store: name, index: 1, options: {}, unref: true });
    await held.ready;
    assert.equal(await loose.exited, 0, 'an unref\'d watcher kept its thread alive');
    await sleep(100);
    let exited = false;
    void held.exited.then(() => (exited = true));
    await sleep(100);
    assert.equal(exited, false, 'a referenced watcher did not keep its thread alive');
    assert.equal(store.stats().watchers, 1);
    held.worker.postMessage('close');
    assert.equal(await held.exited, 0);
    assert.equal(store.stats().watchers, 0);
  });

  it('a thread that exits or is terminated with watchers open leaves none behind, and writers carry on', async () => {
    const churn = start({ scenario: 'churn', store: name, index: 0, watchers: 5 });
    await churn.ready;
    assert.equal(store.stats().watchers, 5);
    for (let i = 0; i < 100; i++) store.set(`k${i % 10}`, i);  // queued for them, maybe signalled
    await churn.worker.terminate();
    assert.equal(store.stats().watchers, 0);
    for (let i = 0; i < 100; i++) store.set(`k${i % 10}`, i);  // nobody to wake: nothing happens
    const w = store.watch();
    store.set('after', 1);
    assert.deepEqual(brief(await nextEvents(w, 1)), [['set', 'after']]);
    w.close();
  });
});
