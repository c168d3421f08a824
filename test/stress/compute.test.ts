/**
 * getOrCompute under stress: many workers and callers with random factory
 * delays, errors, deletes and terminated leaders; the per-thread wake-up
 * part while waiting threads are terminated (180 terminations; 900 in the soak) and while
 * the process exits; and (THREADKV_SOAK=1 only) a soak of 10^6 computations
 * in which every promise must settle and memory must stay flat.
 *
 * Environment:
 *   THREADKV_TSAN=1           a ThreadSanitizer build: fewer iterations
 *   THREADKV_SOAK=1           run the soak (npm run test:soak)
 *   THREADKV_COMPUTE_SOAK_SECONDS=n   its time bound (default 300; it stops at 10^6 computations)
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import type { ComputeWorkerData } from '../fixtures/compute-worker';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

const file = fixture('compute-worker.ts');
const underTsan = process.env['THREADKV_TSAN'] === '1';
const soak = process.env['THREADKV_SOAK'] === '1';
const soakSeconds = Number(process.env['THREADKV_COMPUTE_SOAK_SECONDS'] ?? 300);
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function child(...args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [fixture('compute-child.js'), ...args], {
    encoding: 'utf8',
    timeout: 600_000,
    env: process.env,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function assertClean(r: ReturnType<typeof child>): void {
  const info = `status ${r.status} signal ${r.signal}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.signal, null, info);
  assert.equal(r.status, 0, info);
  assert.doesNotMatch(r.stderr, /terminate called|FATAL ERROR|Aborted|Segmentation|ThreadSanitizer/, info);
}

describe('stress: getOrCompute', function () {
  this.timeout(soak ? (soakSeconds + 300) * 1000 : 600_000);

  it('N workers x M callers: random delays, errors, deletes and terminated leaders; every call settles, no flight is left', async () => {
    const name = uniqueName('compute-mixed');
    Store.open(name);
    const workers = 4;
    const count = underTsan ? 150 : 2000;
    const keys = 20;
    const barrier = makeBarrier();
    let stopKilling = false;
    let killed = 0;
    // Meanwhile: leaders that never finish, terminated at random moments,
    // so that waiting callers keep having to take over.
    const killer = (async () => {
      while (!stopKilling) {
        const w = new Worker(file, {
          workerData: { scenario: 'lead', store: name, index: 100 + killed, key: `k${killed % keys}`, hang: true } satisfies ComputeWorkerData,
        });
        await new Promise((r) => w.once('message', r)); // 'computing' (or it found the key present)
        await sleep(Math.random() * 20);
        await w.terminate();
        killed++;
      }
    })();
    const results = await runWorkers<{ values: number; errors: number; crashed?: string }>(file, workers, (index): ComputeWorkerData => ({
      scenario: 'mixed',
      store: name,
      index,
      parties: workers,
      barrier,
      keys,
      count,
      maxDelayMs: 4,
      errorRate: 0.1,
      seed: 1000 + index,
    }));
    stopKilling = true;
    await killer;
    // One more leader terminated while it computes a key nobody else uses,
    // then a caller here: it must take the flight over. (Under TSAN a worker
    // takes about a second to start, and the mixed callers may all be done
    // before any killed leader's key is asked for again.)
    const probe = new Worker(file, {
      workerData: { scenario: 'lead', store: name, index: 99, key: 'lost-probe', hang: true } satisfies ComputeWorkerData,
    });
    await new Promise((r) => probe.once('message', r)); // 'computing'
    await probe.terminate();
    assert.equal(await Store.open(name).getOrCompute('lost-probe', () => 'taken over'), 'taken over');
    for (const r of results) {
      assert.equal(r.crashed, undefined, r.crashed);
      assert.equal(r.values + r.errors, count, 'every call settled exactly once');
    }
    // Over all workers: one worker's calls may all be hits or joins (under
    // TSAN each makes only 150), so that it never runs a failing factory.
    assert.ok(
      results.reduce((n, r) => n + r.errors, 0) > 0,
      'factories failed now and then',
    );
    const st = Store.open(name).stats();
    assert.equal(st.flightsInProgress, 0);
    assert.ok(killed > 0);
    assert.ok(st.leadersLost > 0, 'terminated leaders were taken over');
    Store.destroy(name);
  });

  const cycles = underTsan ? 12 : soak ? 300 : 60;
  it(`threads notifying waiting workers while those are terminated (${cycles} cycles, ${3 * cycles} terminations): no crash, no flight left`, () => {
    const r = child('terminate-waiters', String(cycles));
    assertClean(r);
    assert.match(r.stdout, /^ok \d+ cycles/m);
  });

  it('process.exit() while workers compute, wait and notify each other (and main waits): a clean exit', () => {
    for (const delay of [1, 10, 40]) assertClean(child('exit', String(delay)));
  });

  it(`soak: 10^6 computations, every promise settled, memory flat (THREADKV_SOAK=1 only; bounded by ${soakSeconds} s)`, async function () {
    if (!soak) this.skip();
    const target = 1_000_000;
    const name = uniqueName('compute-soak');
    const s = Store.open(name);
    const stop = new SharedArrayBuffer(4);
    const workers = 4;
    const run = runWorkers<{ started: number; settled: number; rounds: number }>(file, workers, (index): ComputeWorkerData => ({
      scenario: 'soak',
      store: name,
      index,
      stop,
      roundKeys: 256,
      seed: 7 + index,
    }));
    const t0 = Date.now();
    let rssAtTenth: number | undefined;
    let loads = 0;
    while (loads < target && Date.now() - t0 < soakSeconds * 1000) {
      await sleep(250);
      loads = s.stats().loads;
      if (rssAtTenth === undefined && loads >= target / 10) {
        global.gc?.();
        rssAtTenth = process.memoryUsage().rss;
      }
    }
    Atomics.store(new Int32Array(stop), 0, 1);
    const results = await run;
    global.gc?.();
    const rssEnd = process.memoryUsage().rss;
    const st = s.stats();
    console.log(
      `      soak: ${st.loads} computations (${st.loadsJoined} joined, ${st.loadErrors} failed) in ${((Date.now() - t0) / 1000).toFixed(0)} s; ` +
        `RSS ${((rssAtTenth ?? 0) / 2 ** 20).toFixed(0)} MiB at 10% -> ${(rssEnd / 2 ** 20).toFixed(0)} MiB at the end`,
    );
    for (const r of results) assert.equal(r.settled, r.started, 'every promise settled');
    assert.equal(st.flightsInProgress, 0);
    if (st.loads < target) console.log(`      soak: time bound reached before ${target} computations`);
    if (rssAtTenth !== undefined) {
      // Flat: what 90% of the computations added is within noise (no per-flight leak: 10^6 flights x even 64 B would be 64 MB).
      assert.ok(rssEnd - rssAtTenth < 48 * 2 ** 20, `RSS grew by ${((rssEnd - rssAtTenth) / 2 ** 20).toFixed(1)} MiB`);
    }
    Store.destroy(name);
  });
});
