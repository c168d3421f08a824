'use strict';
// Per-entry memory overhead of threadkv: 1,000,000 entries of key `k:<i>` and
// a 16-character string value, in a fresh process, by store.memory() and by
// process RSS (native memory shows in RSS only; the JS heap's own growth is
// subtracted).
//
//   node bench/memory.js [--entries=1000000] [--shards=64] [--churn=1000000] [--json]
//   node bench/memory.js --bounded=MiB [--writes=4000000] [--threads=2] [--json]
//       RSS of a store held at maxBytes under churn (see boundedChurn)

const v8 = require('node:v8');
const vm = require('node:vm');
const { Store } = require('threadkv');
const { keyOf, valueS } = require('./lib/common');
const { parseArgs } = require('./lib/stats');

const args = parseArgs(process.argv.slice(2));
const N = Number(args.entries || 1_000_000);
const shards = args.shards ? Number(args.shards) : undefined;
// --churn=N: also the RSS after N sets of M into 1,000 keys (0: skip).
const churnWrites = Number(args.churn ?? 1_000_000);

if (typeof global.gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  global.gc = vm.runInNewContext('gc');
}

function settle() {
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage();
}

function run() {
  const store = shards ? Store.open('memory-bench', { shards }) : Store.open('memory-bench');
  const before = settle();
  let keyBytes = 0;
  let valueBytes = 0;
  for (let i = 0; i < N; i++) {
    const k = keyOf(i);
    const v = valueS(i);
    keyBytes += Buffer.byteLength(k);
    valueBytes += Buffer.byteLength(v);
    store.set(k, v);
  }
  const after = settle();
  const mem = store.memory();
  const payload = (keyBytes + valueBytes) / N;
  const rssDelta = after.rss - before.rss;
  const heapDelta = after.heapTotal - before.heapTotal + (after.external - before.external);
  const r = {
    entries: N,
    shards: store.options.shards,
    avgKeyBytes: keyBytes / N,
    avgValueBytes: valueBytes / N,
    storeMemory: mem,
    // What the store accounts for: entry headers + slot arrays, beyond key and value.
    overheadByMemory: (mem.entryBytes + mem.slotBytes) / N - payload,
    headerBytes: (mem.entryBytes - keyBytes - valueBytes) / N,
    slotBytesPerEntry: mem.slotBytes / N,
    // What the process pays: RSS growth minus JS heap growth, beyond key and value.
    rssDeltaBytes: rssDelta,
    jsHeapDeltaBytes: heapDelta,
    overheadByRss: (rssDelta - heapDelta) / N - payload,
    overheadByRssRaw: rssDelta / N - payload,
  };
  Store.destroy('memory-bench');
  if (churnWrites > 0) r.churn = churn(churnWrites);
  return r;
}

// Issue 14: RSS after `writes` sets of M (the ~1 KB object) into 1,000 keys:
// what the process keeps once the store holds only 1,000 values. Node's
// v8.serialize left a new Buffer behind per write (+250 MiB per 1M).
function churn(writes) {
  const { valueM } = require('./lib/common');
  const store = Store.open('memory-bench-churn');
  const values = Array.from({ length: 16 }, (_, i) => valueM(i));
  for (let i = 0; i < 1000; i++) store.set(`c:${i}`, values[i & 15]);
  const base = settle();
  let peak = base.rss;
  for (let i = 0; i < writes; i++) {
    store.set(`c:${i % 1000}`, values[i & 15]);
    if ((i & 0xffff) === 0) peak = Math.max(peak, process.memoryUsage.rss());
  }
  const after = settle();
  peak = Math.max(peak, after.rss);
  Store.destroy('memory-bench-churn');
  const mib = (x) => x / 2 ** 20;
  return {
    writes,
    rssGrowthMiB: mib(after.rss - base.rss),
    peakGrowthMiB: mib(peak - base.rss),
    heapGrowthMiB: mib(after.heapUsed - base.heapUsed),
  };
}

// Issue 12: process RSS of a store held at its `maxBytes` under churn. The
// store is filled past its limit and then overwritten and evicted for
// `writes` sets of values whose sizes spread over 16 B .. 4 KiB (log-uniform:
// the allocator's size classes all in use at once), by `threads` worker
// threads (each thread allocates from its own glibc arena and frees what
// other threads allocated). Reports the RSS growth over maxBytes, after and
// at the peak, next to what the store itself counts (stats().bytes).
function boundedChurn({ maxMiB, writes, threads }) {
  const { Worker } = require('node:worker_threads');
  const name = 'memory-bench-bounded';
  const maxBytes = maxMiB * 2 ** 20;
  const store = Store.open(name, { maxBytes, codec: 'buffer' });
  const src = `
    const { workerData, parentPort } = require('node:worker_threads');
    const { Store } = require('threadkv');
    const s = Store.open(workerData.name);
    const pool = [];
    for (let i = 0; i < 64; i++) {
      const n = Math.round(16 * Math.pow(256, (i + 0.5) / 64));
      pool.push(Buffer.alloc(n, i));
    }
    let x = workerData.seed >>> 0 || 1;
    const rnd = () => ((x ^= x << 13), (x ^= x >>> 17), (x ^= x << 5), x >>> 0);
    const keys = workerData.keys;
    parentPort.once('message', () => {
      for (let i = 0; i < workerData.writes; i++) {
        const r = rnd();
        s.set('b:' + (r % keys), pool[(r >>> 20) & 63]);
        if ((i & 0x3fff) === 0) parentPort.postMessage(process.memoryUsage.rss());
      }
      parentPort.postMessage('done');
    });
    parentPort.postMessage('ready');
  `;
  // Values average ~700 B: a key space worth ~4x the limit.
  const keys = Math.ceil((4 * maxBytes) / 700);
  const per = Math.ceil(writes / threads);
  let peak = 0;
  const workers = Array.from({ length: threads }, (_, t) =>
    new Worker(src, { eval: true, workerData: { name, seed: 7919 * (t + 1), keys, writes: per } }),
  );
  const when = (w, what) =>
    new Promise((resolve, reject) => {
      const on = (m) => {
        if (m === what) {
          w.off('message', on);
          resolve();
        } else if (typeof m === 'number') peak = Math.max(peak, m);
      };
      w.on('message', on);
      w.once('error', reject);
    });
  // The baseline is taken with the workers started (each Node worker has a
  // V8 heap of its own, which is not the store's), and so is the end.
  return Promise.all(workers.map((w) => when(w, 'ready'))).then(() => {
    const base = settle();
    peak = base.rss;
    const done = Promise.all(workers.map((w) => when(w, 'done')));
    for (const w of workers) w.postMessage('go');
    return done.then(() => {
      const after = settle();
      peak = Math.max(peak, after.rss);
      const st = store.stats();
      const mem = store.memory();
      const r = {
        maxBytes,
        writes: per * threads,
        threads,
        keys,
        entries: st.entries,
        chargedBytes: st.bytes,
        memoryBytes: mem.entryBytes + mem.slotBytes,
        rssGrowth: after.rss - base.rss,
        peakGrowth: peak - base.rss,
        evictions: st.evictions,
      };
      return Promise.all(workers.map((w) => w.terminate())).then(() => {
        Store.destroy(name);
        return r;
      });
    });
  });
}

function printBounded(r) {
  const mib = (x) => (x / 2 ** 20).toFixed(1);
  const ratio = (x) => (x / r.maxBytes).toFixed(2);
  console.log(
    `maxBytes ${mib(r.maxBytes)} MiB, ${r.writes.toLocaleString('en-US')} sets of 16 B..4 KiB values by ${r.threads} thread(s) into ${r.keys.toLocaleString('en-US')} keys (${r.evictions.toLocaleString('en-US')} evictions)`,
  );
  console.log(`  store: ${r.entries.toLocaleString('en-US')} entries, charged ${mib(r.chargedBytes)} MiB (${ratio(r.chargedBytes)}x maxBytes), memory() ${mib(r.memoryBytes)} MiB`);
  console.log(`  process RSS growth: ${mib(r.rssGrowth)} MiB after (${ratio(r.rssGrowth)}x maxBytes), peak ${mib(r.peakGrowth)} MiB (${ratio(r.peakGrowth)}x)`);
}

function print(r) {
  const f = (x) => x.toFixed(1);
  console.log(`${r.entries.toLocaleString('en-US')} entries, ${r.shards} shards, key ${f(r.avgKeyBytes)} B + value ${f(r.avgValueBytes)} B on average`);
  console.log(`store.memory(): entryBytes ${r.storeMemory.entryBytes.toLocaleString('en-US')}, slotBytes ${r.storeMemory.slotBytes.toLocaleString('en-US')}`);
  console.log(`  overhead per entry beyond key+value: ${f(r.overheadByMemory)} B (header ${f(r.headerBytes)} B + slots ${f(r.slotBytesPerEntry)} B)`);
  console.log(`process RSS: +${(r.rssDeltaBytes / 2 ** 20).toFixed(1)} MiB (JS heap +${(r.jsHeapDeltaBytes / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  overhead per entry beyond key+value: ${f(r.overheadByRss)} B (${f(r.overheadByRssRaw)} B without subtracting the JS heap)`);
  if (r.churn) {
    const c = r.churn;
    console.log(`${c.writes.toLocaleString('en-US')} sets of M into 1,000 keys: RSS +${f(c.rssGrowthMiB)} MiB after GC (peak +${f(c.peakGrowthMiB)} MiB), JS heap +${f(c.heapGrowthMiB)} MiB`);
  }
}

if (require.main === module) {
  if (args.bounded) {
    // node bench/memory.js --bounded=MiB [--writes=N] [--threads=N]
    const opts = { maxMiB: Number(args.bounded === true ? 256 : args.bounded), writes: Number(args.writes || 4_000_000), threads: Number(args.threads || 2) };
    boundedChurn(opts).then((r) => (args.json ? process.stdout.write(JSON.stringify(r) + '\n') : printBounded(r)));
  } else {
    const r = run();
    if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
    else print(r);
  }
}

module.exports = { run, print, boundedChurn, printBounded };
