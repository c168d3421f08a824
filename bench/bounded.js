'use strict';
// Throughput of a bounded store (maxEntries + SIEVE eviction) against the
// same store without a limit:
//   get   reads of present keys (the read path: with SIEVE on, a hit also
//         sets the entry's visited bit, once), from `threads` workers
//   set   inserts of new keys into a full store (every set evicts one entry
//         in the bounded store; the unbounded one just grows), one thread
// Prints ops/s per case and the bounded / unbounded ratio. The read path
// must stay within 10% (ratio >= 0.90).
//
//   node bench/bounded.js [--keys=100000] [--threads=2] [--ms=1000] [--rounds=5] [--json]

const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { Store } = require('threadkv');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v === undefined ? true : v];
  }),
);

if (!isMainThread) {
  const { name, keys, ms, op, offset } = workerData;
  const s = Store.open(name);
  const deadline = process.hrtime.bigint() + BigInt(ms) * 1_000_000n;
  let ops = 0;
  let i = offset;
  if (op === 'get') {
    while (process.hrtime.bigint() < deadline) {
      for (let j = 0; j < 1000; j++) {
        s.get(`key:${i}`);
        i = (i + 7919) % keys;
      }
      ops += 1000;
    }
  } else {
    while (process.hrtime.bigint() < deadline) {
      for (let j = 0; j < 1000; j++) s.set(`new:${offset}:${i++}`, 'value-0123456789');
      ops += 1000;
    }
  }
  parentPort.postMessage(ops);
  return;
}

const KEYS = Number(args.keys || 100_000);
const THREADS = Number(args.threads || 2);
const MS = Number(args.ms || 1000);
const ROUNDS = Number(args.rounds || 5);

function runWorkers(name, op, threads) {
  return Promise.all(
    Array.from(
      { length: threads },
      (_, t) =>
        new Promise((resolve, reject) => {
          const w = new Worker(__filename, { workerData: { name, keys: KEYS, ms: MS, op, offset: t * 1_000_003 } });
          w.on('message', resolve);
          w.on('error', reject);
        }),
    ),
  ).then((counts) => counts.reduce((a, b) => a + b, 0) / (MS / 1000));
}

function fill(name, options) {
  Store.destroy(name);
  const s = Store.open(name, options);
  for (let i = 0; i < KEYS; i++) s.set(`key:${i}`, 'value-0123456789');
  return s;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  const cases = {
    unbounded: {},
    // Every key fits (the limit is the key count), eviction on: the read
    // path does exactly what it does in a full bounded store.
    bounded: { maxEntries: KEYS, evictionPolicy: 'sieve' },
  };
  const results = {};
  for (const op of ['get', 'set']) {
    results[op] = {};
    for (const c of Object.keys(cases)) results[op][c] = [];
    // Interleaved rounds, so drift (turbo, other load) hits both alike.
    for (let r = 0; r < ROUNDS; r++) {
      for (const [c, options] of Object.entries(cases)) {
        const name = `bounded-bench-${c}`;
        fill(name, options);
        results[op][c].push(await runWorkers(name, op, op === 'get' ? THREADS : 1));
        Store.destroy(name);
      }
    }
  }
  const summary = {};
  for (const op of Object.keys(results)) {
    const u = median(results[op].unbounded);
    const b = median(results[op].bounded);
    summary[op] = { unbounded: Math.round(u), bounded: Math.round(b), ratio: Number((b / u).toFixed(3)) };
  }
  if (args.json) {
    console.log(JSON.stringify({ keys: KEYS, threads: THREADS, ms: MS, rounds: ROUNDS, summary }));
    return;
  }
  console.log(`${KEYS} keys, get from ${THREADS} threads, set from 1, ${ROUNDS} rounds of ${MS} ms (median)\n`);
  console.log('| op | unbounded ops/s | bounded (SIEVE) ops/s | bounded / unbounded |');
  console.log('|---|---:|---:|---:|');
  for (const [op, r] of Object.entries(summary))
    console.log(`| ${op} | ${r.unbounded.toLocaleString('en')} | ${r.bounded.toLocaleString('en')} | ${r.ratio} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
