'use strict';
// How many shards by default? Throughput of threadkv at 2 and 8 worker
// threads (50/50 and 95/5 get/set, S values, 100,000 keys, uniform) for
// several shard counts, plus the fixed memory a store pays for its shards.
// Trials interleave the shard counts so machine noise hits all of them.
//
//   node bench/shards.js [--trials=5] [--ms=300]
const { Worker, isMainThread, workerData, parentPort } = require('node:worker_threads');
const { Store } = require('threadkv');

const KEYS = 100_000;

if (!isMainThread) {
  const { name, ms, readPct, barrier, parties, seed } = workerData;
  const s = Store.open(name);
  const a = new Int32Array(barrier);
  let x = seed >>> 0 || 1;
  const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), (x >>> 0) / 4294967296);
  const keys = Array.from({ length: KEYS }, (_, i) => `k:${i}`);
  const warm = Date.now() + 50;
  while (Date.now() < warm) s.get(keys[(rnd() * KEYS) | 0]);
  Atomics.add(a, 0, 1);
  while (Atomics.load(a, 0) < parties) {}
  const start = process.hrtime.bigint();
  const end = Date.now() + ms;
  let ops = 0;
  while (Date.now() < end) {
    for (let i = 0; i < 256; i++) {
      const k = keys[(rnd() * KEYS) | 0];
      if (rnd() * 100 < readPct) s.get(k);
      else s.set(k, 'value-0123456789');
    }
    ops += 256;
  }
  parentPort.postMessage({ ops, ns: Number(process.hrtime.bigint() - start) });
  return;
}

const arg = (n, d) => Number((process.argv.find((a) => a.startsWith(`--${n}=`)) || `=${d}`).split('=')[1]);
const trials = arg('trials', 5);
const ms = arg('ms', 300);
const counts = [1, 4, 16, 64, 256, 1024];
const cases = [
  { threads: 2, readPct: 50 },
  { threads: 2, readPct: 95 },
  { threads: 8, readPct: 50 },
];

async function once(shards, { threads, readPct }, trial) {
  const name = `shards-bench-${shards}-${trial}-${threads}-${readPct}`;
  const s = Store.open(name, { shards, codec: 'string' });
  for (let i = 0; i < KEYS; i++) s.set(`k:${i}`, 'value-0123456789');
  const barrier = new SharedArrayBuffer(4);
  const results = await Promise.all(
    Array.from({ length: threads }, (_, i) =>
      new Promise((resolve, reject) => {
        const w = new Worker(__filename, { workerData: { name, ms, readPct, barrier, parties: threads, seed: 12345 + i * 7919 } });
        w.once('message', resolve);
        w.once('error', reject);
      }),
    ),
  );
  Store.destroy(name);
  const ops = results.reduce((t, r) => t + r.ops, 0);
  const ns = Math.max(...results.map((r) => r.ns));
  return ops / (ns / 1e3); // Mops/s
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

async function main() {
  const table = new Map();
  for (let t = 0; t < trials; t++) {
    for (const c of cases) {
      const order = t % 2 ? [...counts].reverse() : counts;
      for (const shards of order) {
        const key = `${c.threads}/${c.readPct}/${shards}`;
        if (!table.has(key)) table.set(key, []);
        table.get(key).push(await once(shards, c, t));
      }
    }
  }
  console.log(`threadkv shard count sweep: Mops/s, median of ${trials} trials of ${ms} ms (min-max); ${require('node:os').cpus().length} cores, Node ${process.version}\n`);
  console.log(`| workload | ${counts.map((n) => `shards: ${n}`).join(' | ')} |`);
  console.log(`| --- | ${counts.map(() => '---:').join(' | ')} |`);
  for (const c of cases) {
    const cells = counts.map((n) => {
      const xs = table.get(`${c.threads}/${c.readPct}/${n}`);
      return `${median(xs).toFixed(2)} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
    });
    console.log(`| ${c.readPct}/${100 - c.readPct} get/set, ${c.threads} workers | ${cells.join(' | ')} |`);
  }
  console.log('\nFixed cost per store: shards × sizeof(Shard) (cache-line aligned lock, table header and counters; see docs/design.md), plus a 128-byte slot array per shard once used.');
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
