import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import type { ComputeWorkerData } from '../fixtures/compute-worker';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// getOrCompute across real worker threads: one computation per key for the
// whole process, errors shared across threads, and what happens when the
// computing thread (or a waiting one) is terminated.

const file = fixture('compute-worker.ts');
const underTsan = process.env['THREADKV_TSAN'] === '1';

/** A worker and its messages, in order. */
class Peer {
  readonly worker: Worker;
  readonly #queue: unknown[] = [];
  readonly #waiting: Array<(m: unknown) => void> = [];
  readonly exited: Promise<number>;

  constructor(data: ComputeWorkerData) {
    this.worker = new Worker(file, { workerData: data });
    this.worker.on('message', (m) => {
      const w = this.#waiting.shift();
      if (w) w(m);
      else this.#queue.push(m);
    });
    this.worker.on('error', (err) => {
      throw err;
    });
    this.exited = new Promise((resolve) => this.worker.once('exit', resolve));
  }

  next(): Promise<unknown> {
    if (this.#queue.length > 0) return Promise.resolve(this.#queue.shift());
    return new Promise((resolve) => this.#waiting.push(resolve));
  }
}

describe('workers: getOrCompute across threads', () => {
  it('W workers x 4 callers per key x many keys, barrier-started: one factory call per key, every caller the same value', async () => {
    for (const workers of underTsan ? [2, 4] : [2, 4, 8]) {
      const name = uniqueName(`compute-burst-${workers}`);
      Store.open(name);
      const keys = underTsan ? 200 : 500;
      const callersPerKey = 4;
      const calls = new SharedArrayBuffer(4 * keys);
      const barrier = makeBarrier();
      const outs = await runWorkers<string[]>(file, workers, (index): ComputeWorkerData => ({
        scenario: 'burst',
        store: name,
        index,
        parties: workers,
        barrier,
        calls,
        keys,
        callersPerKey,
        maxDelayMs: 3,
      }));
      const counts = new Int32Array(calls);
      const s = Store.open<string>(name);
      const st = s.stats();
      // Each call was a hit, a computation or a join, exactly one of them.
      assert.equal(st.loads, keys);
      assert.equal(st.loadsJoined + st.loads + st.hits, keys * workers * callersPerKey);
      assert.equal(st.flightsInProgress, 0);
      for (let k = 0; k < keys; k++) {
        assert.equal(counts[k], 1, `key k${k}: ${counts[k]} factory calls with ${workers} workers`);
        const stored = s.get(`k${k}`);
        for (const out of outs) {
          for (let c = 0; c < callersPerKey; c++) assert.equal(out[k * callersPerKey + c], stored, `key k${k}`);
        }
      }
      Store.destroy(name);
    }
  });

  it("a factory's error reaches the callers of every thread as an equal error, and is not cached", async () => {
    const name = uniqueName('compute-error');
    const s = Store.open<string>(name);
    const release = new SharedArrayBuffer(4);
    const leader = new Peer({ scenario: 'lead', store: name, index: 0, key: 'k', failWith: 'E_UPSTREAM', release });
    assert.equal(await leader.next(), 'computing');
    const joiners = [1, 2].map((index) => new Peer({ scenario: 'join', store: name, index, key: 'k' }));
    for (const j of joiners) assert.equal(await j.next(), 'joining');
    const mine = s.getOrCompute('k', () => 'main').then(
      () => assert.fail('resolved'),
      (e: unknown) => e,
    );
    await waitFor(() => s.stats().loadsJoined === 3);
    Atomics.store(new Int32Array(release), 0, 1);
    const expected = { error: true, name: 'TypeError', message: 'factory of worker 0 failed', code: 'E_UPSTREAM' };
    assert.deepEqual(await leader.next(), expected);
    for (const j of joiners) assert.deepEqual(await j.next(), expected);
    const err = (await mine) as TypeError & { code: string };
    assert.ok(err instanceof TypeError);
    assert.equal(err.code, 'E_UPSTREAM');
    assert.equal(err.message, 'factory of worker 0 failed');
    assert.equal(s.has('k'), false);
    assert.equal(await s.getOrCompute('k', () => 'after'), 'after');
    await Promise.all([leader.exited, ...joiners.map((j) => j.exited)]);
    Store.destroy(name);
  });

  for (const waiting of ['join', 'join-sync'] as const) {
    it(`the computing worker terminated mid-factory: its ${waiting === 'join' ? 'async' : 'sync'} waiters take over (one new computation), without waiting for the lease`, async () => {
      const name = uniqueName(`compute-terminate-${waiting}`);
      const s = Store.open<string>(name);
      const leader = new Peer({ scenario: 'lead', store: name, index: 0, key: 'k', hang: true });
      assert.equal(await leader.next(), 'computing');
      const joiners = [1, 2, 3].map((index) => new Peer({ scenario: waiting, store: name, index, key: 'k' }));
      for (const j of joiners) assert.equal(await j.next(), 'joining');
      const mine = s.getOrCompute('k', () => 'taken over by main');
      await waitFor(() => s.stats().loadsJoined === 4);
      const t0 = performance.now();
      await leader.worker.terminate();
      const results = await Promise.all(joiners.map((j) => j.next()));
      const main = await mine;
      const elapsed = performance.now() - t0;
      const values = [main, ...results.map((r) => (r as { value: string }).value)];
      assert.equal(new Set(values).size, 1, `every waiter must get the one new value: ${JSON.stringify(values)}`);
      assert.match(values[0]!, /^taken over by (worker [123]|main)$/);
      assert.equal(s.get('k'), values[0]);
      const st = s.stats();
      assert.equal(st.leadersLost, 1);
      assert.equal(st.loads, 2, 'the lost computation and exactly one takeover');
      // The lease is 60 s: settling long before it shows the takeover came
      // from the terminated thread's teardown (not a timing assertion).
      assert.ok(elapsed < 30_000, `took ${elapsed} ms`);
      await Promise.all(joiners.map((j) => j.exited));
      Store.destroy(name);
    });
  }

  it('worker.terminate() of a thread blocked in getOrComputeSync returns (it waits in short slices)', async () => {
    const name = uniqueName('compute-terminate-sync-waiter');
    const s = Store.open<string>(name);
    const release = new SharedArrayBuffer(4);
    const leader = new Peer({ scenario: 'lead', store: name, index: 0, key: 'k', release });
    assert.equal(await leader.next(), 'computing');
    const blocked = new Peer({ scenario: 'join-sync', store: name, index: 1, key: 'k' });
    assert.equal(await blocked.next(), 'joining');
    await waitFor(() => s.stats().loadsJoined === 1);
    // The leader is held until the blocked worker is gone: if terminate()
    // waited for the sync wait to end, this would never return.
    await blocked.worker.terminate();
    Atomics.store(new Int32Array(release), 0, 1);
    assert.deepEqual(await leader.next(), { value: 'from worker 0' });
    assert.equal(s.get('k'), 'from worker 0');
    assert.equal(s.stats().flightsInProgress, 0);
    await leader.exited;
    Store.destroy(name);
  });

  it('threads that block in getOrComputeSync on each other\'s computations: one gets ERR_THREADKV_RECURSIVE_COMPUTE at once, none waits for a lease', async () => {
    // Worker i leads k<i> with getOrCompute, then blocks in getOrComputeSync
    // of k<i+1>: while it blocks, its own factory cannot run. The ring would
    // hold every thread until a lease ran out (here 20 s, so that without
    // the cycle check the assertions below fail rather than time out).
    const name = uniqueName('compute-sync-cycle');
    const s = Store.open<string>(name);
    for (const parties of [2, 3]) {
      const before = s.stats();
      const barrier = makeBarrier();
      const results = (await runWorkers(file, parties, (index): ComputeWorkerData => ({
        scenario: 'cycle',
        store: name,
        index,
        parties,
        barrier,
        key: `ring${parties}:k${index}`,
        waitKey: `ring${parties}:k${(index + 1) % parties}`,
        leaseMs: 20_000,
      }))) as Array<{ waited: { value?: string; code?: string }; own: string }>;
      const refused = results.filter((r) => r.waited.code === 'ERR_THREADKV_RECURSIVE_COMPUTE');
      assert.equal(refused.length, 1, JSON.stringify(results));
      assert.match(
        (refused[0]!.waited as { message?: string }).message ?? '',
        /waiting, directly or through other threads, for a key this thread computes/,
      );
      results.forEach((r, i) => {
        assert.equal(r.own, `ring${parties}:k${i} from worker ${i}`, 'every leader computed its own key');
        if (r !== refused[0]) assert.equal(r.waited.value, `ring${parties}:k${(i + 1) % parties} from worker ${(i + 1) % parties}`);
      });
      const after = s.stats();
      assert.equal(after.leadersLost - before.leadersLost, 0, 'no computation was lost to its lease');
      assert.equal(after.flightsInProgress, 0);
    }
    Store.destroy(name);
  });

  it("a sync waiter takes over from a hung leader in another thread once the leader's lease runs out", async () => {
    const name = uniqueName('compute-lease-sync');
    const s = Store.open<string>(name);
    const leader = new Peer({ scenario: 'lead', store: name, index: 0, key: 'k', hang: true, leaseMs: 100 });
    assert.equal(await leader.next(), 'computing');
    // Blocks this (main) thread until the lease passes, then computes.
    assert.equal(s.getOrComputeSync('k', () => 'main took over'), 'main took over');
    assert.equal(s.get('k'), 'main took over');
    assert.equal(s.stats().leadersLost, 1);
    await leader.worker.terminate();
    assert.equal(s.get('k'), 'main took over', "the terminated leader's teardown must not disturb the new value");
    Store.destroy(name);
  });

  it('a pending getOrCompute keeps its thread alive, and a settled one does not (child process)', () => {
    const r = spawnSync(process.execPath, [fixture('compute-child.js'), 'keep-alive'], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /main got: from worker/);
    assert.match(r.stdout, /exit after settle/);
  });
});

async function waitFor(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for a condition');
    await new Promise((r) => setTimeout(r, 2));
  }
}
