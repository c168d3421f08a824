'use strict';
// Why pure gets of S do not scale from 1 to 2 threads like a Map: the same
// get loop, 1 and 2 workers, in setups that differ only in what the two
// threads share.
//
//   node bench/read-scaling.js [--ms=400] [--rounds=5] [--json]
//
// Setups (100,000 keys, 16-character values, 64 shards):
//   shared     both workers read keys from every shard of one store
//   split      one store; worker i reads only keys of shards where shard % 2 == i,
//              so the two never touch the same shard's lock and counters
//   separate   each worker reads its own store (nothing native shared)
//   map        each worker reads its own Map (the reference)
//   arith      each worker runs integer arithmetic only (does the machine give
//              two threads twice the work at all?)
// For each: ns per op per thread with 1 worker and with 2 (wall time), and
// the CPU time per op (process CPU / ops: a cache line that moves between
// cores on every get shows as more CPU per op, whatever else runs on the
// machine). A get writes its shard's lock word (pthread_rwlock_rdlock and
// unlock) and hit counter; two threads reading the same shard move that
// cache line back and forth.

const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { parseArgs, summary, fmt, textTable } = require('./lib/stats');

const NKEYS = 100_000;
const SHARDS = 64;

if (!isMainThread) {
  const { mode, store, keys, ms, ctl } = workerData;
  const flags = new Int32Array(ctl);
  let get;
  if (mode === 'map') {
    const m = new Map();
    for (const k of keys) m.set(k, 'v:' + k.padStart(14, '0'));
    get = (k) => m.get(k);
  } else if (mode === 'arith') {
    let x = 1;
    get = (k) => {
      for (let i = 0; i < 40; i++) x = (x * 1103515245 + 12345 + k.length) | 0;
      return x === 7 ? undefined : k;
    };
  } else {
    const { Store } = require('threadkv');
    const s = Store.open(store);
    get = (k) => s.get(k);
  }
  const n = keys.length;
  const loop = (stop) => {
    let ops = 0;
    let j = 0;
    let hits = 0;
    for (;;) {
      for (let i = 0; i < 256; i++) {
        j = (j + 7919) % n;
        if (get(keys[j]) !== undefined) hits++;
      }
      ops += 256;
      if (stop()) return { ops, hits };
    }
  };
  const until = (t) => () => Date.now() >= t;
  loop(until(Date.now() + 100)); // warm-up
  Atomics.add(flags, 0, 1);
  while (Atomics.load(flags, 1) === 0) Atomics.wait(flags, 1, 0, 5);
  const t0 = process.hrtime.bigint();
  const r = loop(() => Atomics.load(flags, 2) !== 0);
  parentPort.postMessage({ ops: r.ops, ns: Number(process.hrtime.bigint() - t0) });
  return;
}

const args = parseArgs(process.argv.slice(2));
const ms = Number(args.ms || 400);
const rounds = Number(args.rounds || 5);

function setup() {
  const { Store } = require('threadkv');
  const { native } = require(path.join(__dirname, '..', 'dist', 'native.js'));
  const keys = Array.from({ length: NKEYS }, (_, i) => 'k:' + i);
  const stores = ['rs-shared', 'rs-own-0', 'rs-own-1'];
  for (const name of stores) {
    const s = Store.open(name, { codec: 'string', shards: SHARDS });
    for (const k of keys) s.set(k, 'v:' + k.padStart(14, '0'));
  }
  // Which keys live in which shard: the iteration order (one native call per shard).
  const { handle } = native.open({ name: 'rs-shared', codec: 'string', shards: SHARDS, maxKeyBytes: 65536, maxValueBytes: 64 << 20, maxEntries: 0, maxBytes: 0, evictionPolicy: 'none', ttlMs: 0, specified: 0 });
  const half = [[], []];
  for (let shard = 0; shard < SHARDS; shard++) for (const k of native.scan(handle, shard, '', false)) half[shard % 2].push(k);
  native.close(handle);
  return { keys, half };
}

async function run(mode, workers, data) {
  const ctl = new SharedArrayBuffer(12);
  const flags = new Int32Array(ctl);
  const ws = [];
  for (let i = 0; i < workers; i++) {
    let store = 'rs-shared';
    let keys = data.keys;
    if (mode === 'split') keys = data.half[i];
    if (mode === 'separate') store = `rs-own-${i}`;
    ws.push(new Worker(__filename, { workerData: { mode, store, keys, ms, ctl } }));
  }
  const done = ws.map((w) => new Promise((resolve, reject) => (w.once('message', resolve), w.once('error', reject))));
  while (Atomics.load(flags, 0) < workers) await new Promise((r) => setTimeout(r, 5));
  const c0 = process.cpuUsage();
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  await new Promise((r) => setTimeout(r, ms));
  Atomics.store(flags, 2, 1);
  const rs = await Promise.all(done);
  const cpu = process.cpuUsage(c0);
  await Promise.all(ws.map((w) => w.terminate()));
  const ops = rs.reduce((a, r) => a + r.ops, 0);
  const wall = Math.max(...rs.map((r) => r.ns));
  return { nsPerOpPerThread: (wall * workers) / ops, cpuNsPerOp: ((cpu.user + cpu.system) * 1000) / ops, mops: (ops / wall) * 1e3 };
}

async function main() {
  const data = setup();
  const modes = ['shared', 'split', 'separate', 'map', 'arith'];
  const cells = {};
  for (let r = 0; r < rounds; r++) {
    for (const mode of modes) {
      for (const workers of [1, 2]) {
        const x = await run(mode, workers, data);
        for (const [k, v] of Object.entries(x)) (cells[`${mode}|${workers}|${k}`] ||= []).push(v);
      }
    }
  }
  const med = (mode, w, k) => summary(cells[`${mode}|${w}|${k}`]).median;
  const rows = modes.map((mode) => ({
    mode,
    ns1: med(mode, 1, 'nsPerOpPerThread'),
    ns2: med(mode, 2, 'nsPerOpPerThread'),
    cpu1: med(mode, 1, 'cpuNsPerOp'),
    cpu2: med(mode, 2, 'cpuNsPerOp'),
    scaling: summary(cells[`${mode}|2|mops`].map((x, i) => x / cells[`${mode}|1|mops`][i])).median,
  }));
  if (args.json) {
    process.stdout.write(JSON.stringify({ ms, rounds, rows }) + '\n');
    return;
  }
  console.log(`pure get, 1 vs 2 workers (medians of ${rounds} rounds of ${ms} ms):`);
  console.log(
    textTable(
      ['setup', 'ns/op/thread, 1w', 'ns/op/thread, 2w', 'CPU ns/op, 1w', 'CPU ns/op, 2w', '2w/1w throughput'],
      rows.map((r) => [r.mode, fmt(r.ns1), fmt(r.ns2), fmt(r.cpu1), fmt(r.cpu2), `${fmt(r.scaling)}×`]),
    ),
  );
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
