'use strict';
// Per-entry memory overhead of threadkv: 1,000,000 entries of key `k:<i>` and
// a 16-character string value, in a fresh process, by store.memory() and by
// process RSS (native memory shows in RSS only; the JS heap's own growth is
// subtracted).
//
//   node bench/memory.js [--entries=1000000] [--shards=64] [--json]

const v8 = require('node:v8');
const vm = require('node:vm');
const { Store } = require('threadkv');
const { keyOf, valueS } = require('./lib/common');
const { parseArgs } = require('./lib/stats');

const args = parseArgs(process.argv.slice(2));
const N = Number(args.entries || 1_000_000);
const shards = args.shards ? Number(args.shards) : undefined;

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
  return r;
}

function print(r) {
  const f = (x) => x.toFixed(1);
  console.log(`${r.entries.toLocaleString('en-US')} entries, ${r.shards} shards, key ${f(r.avgKeyBytes)} B + value ${f(r.avgValueBytes)} B on average`);
  console.log(`store.memory(): entryBytes ${r.storeMemory.entryBytes.toLocaleString('en-US')}, slotBytes ${r.storeMemory.slotBytes.toLocaleString('en-US')}`);
  console.log(`  overhead per entry beyond key+value: ${f(r.overheadByMemory)} B (header ${f(r.headerBytes)} B + slots ${f(r.slotBytesPerEntry)} B)`);
  console.log(`process RSS: +${(r.rssDeltaBytes / 2 ** 20).toFixed(1)} MiB (JS heap +${(r.jsHeapDeltaBytes / 2 ** 20).toFixed(1)} MiB)`);
  console.log(`  overhead per entry beyond key+value: ${f(r.overheadByRss)} B (${f(r.overheadByRssRaw)} B without subtracting the JS heap)`);
}

if (require.main === module) {
  const r = run();
  if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
  else print(r);
}

module.exports = { run, print };
