'use strict';
// Compound operations under contention: threadkv's native `increment` and
// its optimistic `update` (getEntry + compareAndSet, retried) against the
// same read-modify-write done as get + set under a JS-side lock (a futex
// style mutex on a SharedArrayBuffer: compareExchange, then Atomics.wait /
// Atomics.notify when contended), with 2 and 8 worker threads all hitting
// ONE key. Prints ops/s per variant and the ratio to the locked get+set.
//
//   node bench/compound-ops.js [--duration=MS] [--runs=N] [--workers=2,8]
//
// Every variant checks its own result (the final counter must equal the
// number of operations counted), so a fast but wrong variant shows up as an
// error, not a win. No timing assertion: the exit status is non-zero only
// when something failed or a count did not add up.

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const os = require('node:os');
const { Store } = require('threadkv');

// ---- The JS-side lock: Drepper's three-state futex mutex ----
// cell 0: 0 free, 1 locked, 2 locked with (possible) waiters.
function lock(cells) {
  let c = Atomics.compareExchange(cells, 0, 0, 1);
  if (c === 0) return;
  // A short spin first: the holder is likely on another core, mid get+set.
  for (let i = 0; i < 64; i++) {
    c = Atomics.compareExchange(cells, 0, 0, 1);
    if (c === 0) return;
  }
  if (c !== 2) c = Atomics.exchange(cells, 0, 2);
  while (c !== 0) {
    Atomics.wait(cells, 0, 2);
    c = Atomics.exchange(cells, 0, 2);
  }
}

function unlock(cells) {
  if (Atomics.sub(cells, 0, 1) !== 1) {
    Atomics.store(cells, 0, 0);
    Atomics.notify(cells, 0, 1);
  }
}

// ---- The variants: one read-modify-write step each (+1 on key 'k') ----
let fnCalls = 0; // update's function calls: attempts, including lost races
const VARIANTS = {
  'increment (native)': (s) => () => s.increment('k'),
  'update (optimistic CAS)': (s) => () =>
    s.update('k', (v) => {
      fnCalls++;
      return (v === undefined ? 0 : v) + 1;
    }),
  'get+set under JS lock': (s, cells) => () => {
    lock(cells);
    try {
      const v = s.get('k');
      s.set('k', (v === undefined ? 0 : v) + 1);
    } finally {
      unlock(cells);
    }
  },
};

// ---- Worker: wait at the barrier, run the step until the deadline ----
function workerMain() {
  const { storeName, variant, sync, durationMs } = workerData;
  const s = Store.open(storeName);
  const flags = new Int32Array(sync); // [0] lock, [1] arrivals, [2] go
  const step = VARIANTS[variant](s, flags);
  for (let i = 0; i < 2000; i++) step(); // warm up (these count too)
  let ops = 2000;
  Atomics.add(flags, 1, 1);
  while (Atomics.load(flags, 2) === 0) Atomics.wait(flags, 2, 0, 10);
  const start = process.hrtime.bigint();
  const deadline = start + BigInt(durationMs) * 1_000_000n;
  for (;;) {
    for (let i = 0; i < 256; i++) step();
    ops += 256;
    if (process.hrtime.bigint() >= deadline) break;
  }
  const elapsedNs = Number(process.hrtime.bigint() - start);
  parentPort.postMessage({ ops, timedOps: ops - 2000, elapsedNs, fnCalls });
}

function runOnce(variant, parties, durationMs) {
  const storeName = `bench-compound-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const s = Store.open(storeName, { shards: 64 });
  const sync = new SharedArrayBuffer(12);
  const flags = new Int32Array(sync);
  return new Promise((resolve, reject) => {
    const results = [];
    let exited = 0;
    for (let i = 0; i < parties; i++) {
      const w = new Worker(__filename, { workerData: { storeName, variant, sync, durationMs } });
      w.on('message', (m) => results.push(m));
      w.on('error', reject);
      w.on('exit', (code) => {
        if (code !== 0) reject(new Error(`${variant}: a worker exited with code ${code}`));
        else if (++exited === parties) finish();
      });
    }
    // Release everyone at once, when all have warmed up.
    const poll = setInterval(() => {
      if (Atomics.load(flags, 1) === parties) {
        clearInterval(poll);
        Atomics.store(flags, 2, 1);
        Atomics.notify(flags, 2);
      }
    }, 1);
    function finish() {
      if (results.length !== parties) {
        reject(new Error(`${variant}: ${results.length} of ${parties} workers reported`));
        return;
      }
      const total = results.reduce((a, r) => a + r.ops, 0);
      const final = s.get('k');
      Store.destroy(storeName);
      // Throughput: the timed ops of all workers over the longest elapsed time.
      const timed = results.reduce((a, r) => a + r.timedOps, 0);
      const seconds = Math.max(...results.map((r) => r.elapsedNs)) / 1e9;
      // +1 per op, starting from absent (0): the final value counts them all.
      if (final !== total) {
        reject(new Error(`${variant}, ${parties} workers: counter is ${final}, expected ${total}`));
        return;
      }
      const calls = results.reduce((a, r) => a + r.fnCalls, 0);
      resolve({ opsPerSec: timed / seconds, attempts: calls / total });
    }
  });
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function fmtOps(n) {
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)}k`;
  return n.toFixed(0);
}

async function main() {
  const args = Object.fromEntries(
    process.argv.slice(2).map((a) => {
      const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
      if (!m) throw new Error(`unknown argument ${a}`);
      return [m[1], m[2] ?? 'true'];
    }),
  );
  const durationMs = Number(args.duration ?? 1000);
  const runs = Number(args.runs ?? 3);
  const workerCounts = String(args.workers ?? '2,8').split(',').map(Number);
  console.log(`compound ops under contention: one key, ${runs} runs x ${durationMs} ms, median ops/s (all workers together)`);
  console.log(`node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model ?? 'unknown'})\n`);
  const rows = [];
  for (const parties of workerCounts) {
    const results = {};
    for (const variant of Object.keys(VARIANTS)) {
      const samples = [];
      for (let r = 0; r < runs; r++) samples.push(await runOnce(variant, parties, durationMs));
      results[variant] = {
        opsPerSec: median(samples.map((x) => x.opsPerSec)),
        attempts: median(samples.map((x) => x.attempts)),
      };
    }
    const base = results['get+set under JS lock'].opsPerSec;
    for (const variant of Object.keys(VARIANTS)) {
      const r = results[variant];
      const note = variant.startsWith('update') ? `${r.attempts.toFixed(2)} attempts/op` : '';
      rows.push([String(parties), variant, fmtOps(r.opsPerSec), `${(r.opsPerSec / base).toFixed(2)}x`, note]);
    }
  }
  const head = ['workers', 'variant', 'ops/s', 'vs get+set under JS lock', ''];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    cells
      .map((c, i) => (i === 2 || i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
  console.log('\nEvery run checked: the final counter equals the number of increments made.');
  console.log('Contended update() retries (attempts/op > 1): for counters, increment() never does.');
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  workerMain();
}
