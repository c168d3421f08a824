/**
 * watch under stress: writer workers doing every kind of write while
 * watcher workers check what they are delivered (per-key version order,
 * strictly increasing seq, no gap without an overflow that accounts for it,
 * atomic batches never split), and, once the writers stop and the queues
 * drain, that each watcher's replayed state equals the store; then watcher
 * threads terminated while writers run (no crash, no watcher left behind).
 *
 * Environment:
 *   THREADKV_TSAN=1 / THREADKV_ASAN=1   a sanitizer build: fewer writes, the
 *                                       full 1,000 terminations
 *   THREADKV_SOAK=1                      the full 1,000 terminations too
 *   THREADKV_WATCH_TERMINATIONS=n        that many terminations, whatever the build
 */
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { Store, type StoreOptions } from 'threadkv';
import type { WatchReport, WatchWorkerData } from '../fixtures/watch-worker';
import { fixture, makeBarrier, uniqueName } from '../support/workers';

const file = fixture('watch-worker.ts');
const sanitized = process.env['THREADKV_TSAN'] === '1' || process.env['THREADKV_ASAN'] === '1';
const soak = process.env['THREADKV_SOAK'] === '1';
// The full 1,000 under the sanitizers and in the soak; 50 in a plain run.
const terminations = Number(process.env['THREADKV_WATCH_TERMINATIONS'] ?? (soak || sanitized ? 1000 : 50));
// Watcher threads alive at once, each lane starting the next as soon as its
// last one has exited. A thread's start and exit are mostly Node's own work
// (under TSAN about 0.3 s of CPU even for an empty worker): enough lanes keep
// every core busy with them.
const lanes = Math.max(4, 2 * availableParallelism());
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A worker, its first message ('ready'), its last one, and its exit. */
function start(data: WatchWorkerData): { worker: Worker; ready: Promise<void>; result: Promise<unknown>; exited: Promise<number> } {
  const worker = new Worker(file, { workerData: data });
  let ready!: () => void;
  let result!: (m: unknown) => void;
  const r = { worker, ready: new Promise<void>((res) => (ready = res)), result: new Promise<unknown>((res) => (result = res)), exited: new Promise<number>((res) => worker.once('exit', res)) };
  worker.on('message', (m) => (m === 'ready' ? ready() : result(m)));
  worker.on('error', (err) => {
    throw err;
  });
  return r;
}

/** A plain-JS watcher thread (test/fixtures/watch-churn.js), started without the TypeScript loader. */
function startChurn(store: string, watchers: number): { worker: Worker; ready: Promise<void>; exited: Promise<number> } {
  const worker = new Worker(fixture('watch-churn.js'), { workerData: { store, watchers }, execArgv: [] });
  const ready = new Promise<void>((res) => worker.once('message', () => res()));
  const exited = new Promise<number>((res) => worker.once('exit', res));
  worker.on('error', (err) => {
    throw err;
  });
  return { worker, ready, exited };
}

async function writersAndWatchers(options: StoreOptions, maxTtlMs: number, clearEvery: number): Promise<void> {
  const name = uniqueName('watch-stress');
  const store = Store.open(name, options);
  try {
    const writers = 3;
    const ops = sanitized ? 2_000 : 15_000;
    const watchers: { data: Partial<WatchWorkerData>; slow?: boolean }[] = [
      { data: { options: { maxQueue: 1_000_000 }, replay: true } },
      { data: { options: { maxQueue: 1_000_000 }, replay: true } },
      { data: { options: { maxQueue: 16 }, slowMs: 2 }, slow: true },
      // Room for every event: on a loaded machine a watcher thread may not run
      // while the writers make 45,000 changes (overflow has its own watcher).
      { data: { options: { events: ['set', 'delete', 'clear'], maxQueue: 1_000_000 } } },
      { data: { options: { prefix: 'k', maxQueue: 1_000_000 }, endKey: 'k-end' } },
    ];
    const w = watchers.map((spec, i) => start({ scenario: 'watch', store: name, index: i, ...spec.data } as WatchWorkerData));
    await Promise.all(w.map((x) => x.ready));
    const barrier = makeBarrier();
    const wr = Array.from({ length: writers }, (_, i) =>
      start({ scenario: 'write', store: name, index: i, ops, keys: 40, maxTtlMs, clearEvery, barrier, parties: writers, seed: 1000 + i }),
    );
    await Promise.all(wr.map((x) => x.result));
    await Promise.all(wr.map((x) => x.exited));
    // Let every entry with a TTL expire and be swept (so that the store's
    // state no longer changes by itself), then mark the end.
    await sleep(maxTtlMs);
    while (store.stats().entries !== store.size) await sleep(20);
    // 'end' last: the replaying watchers stop at its delete and compare with
    // the store, which must not change after it.
    for (const end of ['k-end', 'end']) {
      store.set(end, 0);
      store.delete(end);
    }
    const reports = (await Promise.all(w.map((x) => x.result))) as WatchReport[];
    await Promise.all(w.map((x) => x.exited));
    reports.forEach((r, i) => {
      const label = `watcher ${i} (${JSON.stringify(watchers[i]!.data)})`;
      assert.deepEqual(r.failures, [], `${label}: ${r.failures.length} rule(s) broken`);
      assert.ok(r.events > 0, `${label} got nothing`);
      if (watchers[i]!.slow) {
        assert.ok(r.overflows > 0, `${label}: a slow consumer with maxQueue 16 never overflowed (${r.events} events)`);
      } else {
        assert.equal(r.overflows, 0, `${label} overflowed`);
      }
      if (watchers[i]!.data.replay) {
        assert.deepEqual(r.mismatches, [], `${label}: the replayed state differs from the store's`);
        assert.equal(r.replayedKeys, r.storeKeys);
        assert.ok(r.atomicBatches > 0, `${label} saw no atomic batch`);
      }
    });
    assert.equal(store.stats().watchers, 0, 'a watcher outlived its thread');
  } finally {
    Store.destroy(name);
  }
}

describe('stress: watch', function () {
  // Sanitizer builds start worker threads several times slower: 1,000 of
  // them can take many minutes on a loaded 2-core machine.
  this.timeout(sanitized || soak ? 3_600_000 : 900_000);

  it('writers x watchers, with TTLs and clears: ordered, contiguous, atomic, and the replay equals the store', async () => {
    await writersAndWatchers({ shards: 8 }, 40, 700);
  });

  it('writers x watchers on a SIEVE store at its limit: evictions keep every rule', async () => {
    await writersAndWatchers({ shards: 4, maxEntries: 120, evictionPolicy: 'sieve' }, 0, 0);
  });

  it("a writer that outpaces the watching thread does not starve that thread's event loop", async () => {
    const name = uniqueName('watch-flood');
    const store = Store.open(name);
    const stop = new SharedArrayBuffer(4);
    const w = store.watch({ maxQueue: 1_000_000 });
    let events = 0;
    let lost = 0;
    w.on('change', (batch) => {
      for (const e of batch) {
        if (e.type === 'overflow') lost += e.lost!;
        else events++;
      }
    });
    try {
      const writer = start({ scenario: 'flood', store: name, index: 0, stop } as WatchWorkerData);
      await writer.ready;
      // Only a timer of this thread stops the writer: with a starved loop it
      // never fires and the test times out.
      await sleep(300);
      Atomics.store(new Int32Array(stop), 0, 1);
      const written = (await writer.result) as number;
      await writer.exited;
      // Every write accounted for: delivered, or counted in an overflow (a
      // writer flat out may outrun this thread past maxQueue).
      while (events + lost < written) await sleep(10);
      assert.equal(events + lost, written, 'every event delivered or reported lost');
      assert.ok(events >= Math.min(written, 1_000_000), 'at least maxQueue events delivered');
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      w.close();
      Store.destroy(name);
    }
  });

  it(`${terminations} watcher threads terminated while writers run: no crash, no watcher left behind`, async () => {
    const name = uniqueName('watch-terminate');
    const store = Store.open(name, { shards: 4, maxEntries: 2_000, evictionPolicy: 'sieve' });
    const stop = new SharedArrayBuffer(4);
    try {
      // Writing all the time, but pausing 1 ms every 64 writes: flat-out
      // writers would take the cores the thread starts need.
      const writers = Array.from({ length: 2 }, (_, i) =>
        start({ scenario: 'write', store: name, index: i, keys: 64, stop, seed: 7 + i, pauseEvery: 64, pauseMs: 1 }),
      );
      let started = 0;
      let terminated = 0;
      const lane = async (lane: number): Promise<void> => {
        while (started < terminations) {
          const n = started++;
          const c = startChurn(name, 1 + (n % 3));
          // Terminate at different points: before the watchers exist, right
          // after, and while they are receiving events.
          const when = (n + lane) % 3;
          if (when === 1) await c.ready;
          else if (when === 2) await Promise.race([c.ready.then(() => sleep(1 + (n % 7))), c.exited]);
          else await sleep(n % 5);
          await c.worker.terminate();
          await c.exited;
          terminated++;
        }
      };
      // Progress, so that a slow machine is told apart from a hang.
      const t0 = Date.now();
      const progress = setInterval(() => {
        process.stderr.write(`      watch terminations: ${terminated}/${terminations} after ${((Date.now() - t0) / 1000).toFixed(0)} s\n`);
      }, 60_000);
      try {
        await Promise.all(Array.from({ length: lanes }, (_, i) => lane(i)));
      } finally {
        clearInterval(progress);
      }
      process.stderr.write(`      watch terminations: ${terminated} in ${((Date.now() - t0) / 1000).toFixed(0)} s, ${lanes} at a time\n`);
      assert.equal(terminated, terminations);
      Atomics.store(new Int32Array(stop), 0, 1);
      await Promise.all(writers.map((x) => x.exited));
      assert.equal(store.stats().watchers, 0, 'terminated threads left watchers subscribed');
      // The store still works, and still notifies (only this key: entries the
      // writers left may still expire or be swept meanwhile).
      const w = store.watch({ key: 'after' });
      const got = new Promise<string>((resolve) => w.once('change', (b) => resolve(b[0]!.key)));
      store.set('after', 1);
      assert.equal(await got, 'after');
      w.close();
    } finally {
      Atomics.store(new Int32Array(stop), 0, 1);
      Store.destroy(name);
    }
  });
});
