'use strict';
// Snapshot and restore (issue 17's bench rows):
//   1. save and load throughput, on tmpfs (/dev/shm) and on the real disk
//      (the OS temp dir unless --disk=DIR): 1 KiB values (MB/s) and
//      16-character string values (entries/s), save with and without fsync;
//      beside two peers run in the same process on the same bytes: a raw
//      sequential write of a buffer of the file's size (the device's
//      ceiling) and a JS dump (entries() -> v8.serialize -> writeFile, what
//      one would do without snapshot()); and the rate at which this
//      machine faults in fresh memory (a new buffer of the file's size,
//      written once): what a restore into a fresh process pays at least.
//   2. writers during a snapshot: 1 and 2 worker threads overwrite 1 KiB
//      values of a large store, alone and while snapshots run back to back
//      (to tmpfs, no fsync): their throughput ratio and the longest single
//      set() they saw in each phase (the writer stall).
//      and the memory each snapshot retained meanwhile (the entries the
//      writers replaced after its point in time, kept for the file).
//   3. peak extra memory: RSS sampled while a snapshot runs, and while a
//      restore runs, against the store's size.
// Medians of --rounds runs. No assertions: numbers only.
//
//   node bench/snapshot.js [--quick] [--json] [--rounds=3] [--mib=256] [--small=2000000]
//                          [--writers-mib=512] [--ms=2000] [--disk=DIR] [--shm=DIR]
//   --writers-mib=1024 runs the writers rows on a 1 GiB store (the issue's
//   row; needs about 3 GiB of RAM with the tmpfs file); --only=writers skips
//   the save and load rows.

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { Store } = require('threadkv');
const { snapshotMarkdown } = require('./lib/snapshot-report');

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v === undefined ? true : v];
  }),
);

// ---- Worker: overwrite 1 KiB values while the main thread flips phases ----
// Phases (flags[0]): 0 wait, 1 warm-up (not counted), 2 alone, 3 during
// snapshots, 9 stop. The main thread alternates 2 and 3 several times, so
// that a slow spell of a shared machine hits both alike.
if (!isMainThread) {
  const { name, keys, flags, index } = workerData;
  const s = Store.open(name);
  const f = new Int32Array(flags);
  const value = Buffer.alloc(1024, index + 1);
  const ops = [0, 0, 0, 0];
  const worst = [0, 0, 0, 0];
  // set() calls longer than 0.1 ms, 1 ms and 10 ms, per phase.
  const slow = [0, 0, 0, 0].map(() => [0, 0, 0]);
  let i = index * 7919;
  for (;;) {
    const phase = Atomics.load(f, 0);
    if (phase === 9) break;
    if (phase === 0) continue;
    for (let j = 0; j < 64; j++) {
      const t0 = process.hrtime.bigint();
      s.set(`k${(i = (i + 104729) % keys)}`, value);
      const dt = Number(process.hrtime.bigint() - t0);
      if (dt > worst[phase]) worst[phase] = dt;
      if (dt > 100_000) {
        slow[phase][0]++;
        if (dt > 1_000_000) slow[phase][1]++;
        if (dt > 10_000_000) slow[phase][2]++;
      }
    }
    ops[phase] += 64;
  }
  parentPort.postMessage({ ops, worst, slow });
  return;
}

const quick = !!args.quick;
const ROUNDS = Number(args.rounds || (quick ? 1 : 3));
const MIB = Number(args.mib || (quick ? 16 : 256));
const SMALL = Number(args.small || (quick ? 100_000 : 2_000_000));
const WRITERS_MIB = Number(args['writers-mib'] || (quick ? 32 : 512));
const MS = Number(args.ms || (quick ? 500 : 2000));
const shmRoot = String(args.shm || '/dev/shm');
const diskRoot = String(args.disk || os.tmpdir());

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const now = () => Number(process.hrtime.bigint()) / 1e6;
let seq = 0;
const fresh = (options) => Store.open(`bench-snap-${process.pid}-${seq++}`, options);

function fill1k(store, n) {
  const v = Buffer.alloc(1024);
  for (let i = 0; i < n; i++) {
    v.writeUInt32LE(i, 0);
    store.set(`k${i}`, v);
  }
}
function fillSmall(store, n) {
  for (let i = 0; i < n; i++) store.set(`k${i}`, `v-${String(i).padStart(14, '0')}`);
}

function rawWrite(file, bytes, fsync) {
  const buf = Buffer.alloc(Math.min(bytes, 64 << 20), 1);
  const t0 = now();
  const fd = fs.openSync(file, 'w');
  for (let left = bytes; left > 0; left -= buf.length) fs.writeSync(fd, buf, 0, Math.min(left, buf.length));
  if (fsync) fs.fsyncSync(fd);
  fs.closeSync(fd);
  const ms = now() - t0;
  fs.rmSync(file);
  return ms;
}

// Faults in `bytes` of fresh memory (a new buffer, written once): what any
// restore into a fresh process pays for the memory its store grows into.
function faultIn(bytes) {
  const t0 = now();
  const b = Buffer.allocUnsafeSlow(bytes);
  for (let at = 0; at < bytes; at += 4096) b[at] = 1;
  return now() - t0;
}

function jsDump(store, file) {
  const t0 = now();
  fs.writeFileSync(file, v8.serialize([...store.entries()]));
  const ms = now() - t0;
  fs.rmSync(file);
  return ms;
}

function throughput(dir, label, codec, n, fill) {
  const src = fresh({ codec });
  fill(src, n);
  const file = path.join(dir, `bench-${process.pid}.snap`);
  const save = [], saveNoSync = [], load = [], raw = [], rawNoSync = [], dump = [], faults = [];
  let info;
  for (let r = 0; r < ROUNDS; r++) {
    info = src.snapshotSync(file, { fsync: false });
    saveNoSync.push(info.ms);
    info = src.snapshotSync(file, { fsync: true });
    save.push(info.ms);
    const dst = fresh({ codec });
    const t0 = now();
    dst.restoreSync(file);
    load.push(now() - t0);
    Store.destroy(dst.name);
    faults.push(faultIn(info.bytes));
    rawNoSync.push(rawWrite(`${file}.raw`, info.bytes, false));
    raw.push(rawWrite(`${file}.raw`, info.bytes, true));
    if (r === 0) dump.push(jsDump(src, `${file}.dump`));
  }
  fs.rmSync(file);
  Store.destroy(src.name);
  const mb = info.bytes / 1e6;
  const m = { save: median(save), saveNoSync: median(saveNoSync), load: median(load), raw: median(raw), rawNoSync: median(rawNoSync), dump: median(dump), fresh: median(faults) };
  return {
    dir, label, entries: n, fileMB: mb,
    saveMBs: mb / (m.save / 1000), saveNoSyncMBs: mb / (m.saveNoSync / 1000), loadMBs: mb / (m.load / 1000),
    saveEntriesPerSec: n / (m.saveNoSync / 1000), loadEntriesPerSec: n / (m.load / 1000),
    rawMBs: mb / (m.raw / 1000), rawNoSyncMBs: mb / (m.rawNoSync / 1000), dumpMBs: mb / (m.dump / 1000),
    freshMemoryMBs: mb / (m.fresh / 1000),
    ms: m,
  };
}

async function writersDuringSnapshot(writers) {
  const keys = WRITERS_MIB * 1024;
  const store = fresh({ codec: 'buffer' });
  fill1k(store, keys);
  const flags = new SharedArrayBuffer(4);
  const f = new Int32Array(flags);
  const results = Array.from({ length: writers }, (_, index) =>
    new Promise((resolve, reject) => {
      const w = new Worker(__filename, { workerData: { name: store.name, keys, flags, index } });
      w.on('message', resolve);
      w.on('error', reject);
    }),
  );
  await new Promise((r) => setTimeout(r, 300)); // workers start
  Atomics.store(f, 0, 1);
  await new Promise((r) => setTimeout(r, Math.min(MS, 1000))); // warm-up
  const file = path.join(shmRoot, `bench-writers-${process.pid}.snap`);
  const snaps = [];
  // Bytes of entries each snapshot kept because writers replaced them
  // after its point in time (SnapshotInfo's non-enumerable retainedBytes).
  const retained = [];
  const CYCLES = 3;
  // Each phase's real length (a snapshot phase ends with its last
  // snapshot), and RSS sampled through both: the snapshot phases' peak over
  // the quiet phases' highest is what the snapshots held on top (entries
  // writers replaced while their shard was being written, buffers).
  const spent = [0, 0, 0, 0];
  const rss = [0, 0, 0, 0];
  let phase = 0;
  const sampler = setInterval(() => {
    rss[phase] = Math.max(rss[phase], process.memoryUsage.rss());
  }, 2);
  // Writes that found their shard's lock held (stats().contendedWrites, per
  // phase): the lock waits, told apart from the CPU share and preemption.
  const contended = [0, 0, 0, 0];
  const cw = () => store.stats().contendedWrites;
  for (let c = 0; c < CYCLES; c++) {
    let t0 = now();
    let c0 = cw();
    phase = 2;
    Atomics.store(f, 0, 2);
    await new Promise((r) => setTimeout(r, MS / CYCLES));
    spent[2] += now() - t0;
    contended[2] += cw() - c0;
    t0 = now();
    c0 = cw();
    phase = 3;
    Atomics.store(f, 0, 3);
    const end = t0 + MS / CYCLES;
    while (now() < end) {
      const info = await store.snapshot(file, { fsync: false });
      snaps.push(info.ms);
      retained.push(info.retainedBytes ?? 0);
    }
    spent[3] += now() - t0;
    contended[3] += cw() - c0;
  }
  clearInterval(sampler);
  Atomics.store(f, 0, 9);
  const r = await Promise.all(results);
  fs.rmSync(file, { force: true });
  Store.destroy(store.name);
  const sum = (p) => r.reduce((a, x) => a + x.ops[p], 0);
  const slowSum = (p) => [0, 1, 2].map((i) => r.reduce((a, x) => a + x.slow[p][i], 0));
  return {
    writers,
    storeMiB: WRITERS_MIB,
    baselineOpsPerSec: sum(2) / (spent[2] / 1000),
    duringOpsPerSec: sum(3) / (spent[3] / 1000),
    ratio: sum(3) / spent[3] / (sum(2) / spent[2]),
    worstSetMsBaseline: Math.max(...r.map((x) => x.worst[2])) / 1e6,
    worstSetMsDuring: Math.max(...r.map((x) => x.worst[3])) / 1e6,
    contendedBaseline: contended[2] / Math.max(1, sum(2)), // share of set() calls that found the lock held
    contendedDuring: contended[3] / Math.max(1, sum(3)),
    slowBaseline: slowSum(2), // set() calls over 0.1 / 1 / 10 ms
    slowDuring: slowSum(3),
    snapshots: snaps.length,
    snapshotMs: median(snaps),
    // The share of the phase the snapshot thread was busy: with `writers`
    // writer threads plus it on `cpus` cores, the CPU alone lets the
    // writers keep min(1, cpus / (writers + busy)) of their throughput.
    snapshotBusy: Math.min(1, snaps.reduce((a, b) => a + b, 0) / spent[3]),
    cpuBound: Math.min(1, os.cpus().length / (writers + Math.min(1, snaps.reduce((a, b) => a + b, 0) / spent[3]))),
    extraRssMiB: Math.max(0, rss[3] - rss[2]) / (1024 * 1024),
    retainedMiBMedian: median(retained) / (1024 * 1024),
    retainedMiBMax: Math.max(0, ...retained) / (1024 * 1024),
  };
}

async function peakMemory() {
  const keys = WRITERS_MIB * 1024;
  const store = fresh({ codec: 'buffer' });
  fill1k(store, keys);
  const file = path.join(shmRoot, `bench-mem-${process.pid}.snap`);
  const sample = async (run) => {
    let peak = process.memoryUsage.rss();
    const before = peak;
    let done = false;
    const p = run().then(() => (done = true));
    while (!done) {
      peak = Math.max(peak, process.memoryUsage.rss());
      await new Promise((r) => setImmediate(r));
    }
    await p;
    return { before, peak, after: process.memoryUsage.rss() };
  };
  const save = await sample(() => store.snapshot(file, { fsync: false }));
  const dst = fresh({ codec: 'buffer' });
  const load = await sample(() => dst.restore(file));
  const bytes = store.memory().entryBytes;
  fs.rmSync(file, { force: true });
  Store.destroy(store.name);
  Store.destroy(dst.name);
  const MiB = 1024 * 1024;
  return {
    storeMiB: bytes / MiB,
    shards: 64,
    saveExtraMiB: (save.peak - save.before) / MiB,
    // One shard's entry pointers (24 bytes each: pointer, deadline, version) and less than two blocks.
    expectedSaveMiB: (keys / 64) * 24 / MiB + 2,
    loadPeakOverFinalMiB: (load.peak - load.after) / MiB,
    loadGrowthMiB: (load.after - load.before) / MiB,
  };
}

async function main() {
  // Peak memory runs in a fresh process (--memory-child): no memory freed
  // by the runs before it for malloc to reuse, which would hide growth.
  if (args['memory-child']) {
    console.log(JSON.stringify(await peakMemory()));
    return;
  }
  const dirs = [
    ['tmpfs', shmRoot],
    ['disk', diskRoot],
  ].filter(([, d]) => fs.existsSync(d) && args.only !== 'writers');
  const rows = [];
  for (const [kind, root] of dirs) {
    const dir = fs.mkdtempSync(path.join(root, 'threadkv-bench-'));
    try {
      rows.push({ kind, ...throughput(dir, '1 KiB values', 'buffer', MIB * 1024, fill1k) });
      rows.push({ kind, ...throughput(dir, 'S values (16 chars)', 'string', SMALL, fillSmall) });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const writers = [await writersDuringSnapshot(1), await writersDuringSnapshot(2)];
  const { execFileSync } = require('node:child_process');
  const memory = JSON.parse(
    execFileSync(process.execPath, [__filename, '--memory-child', `--writers-mib=${WRITERS_MIB}`, `--shm=${shmRoot}`], { encoding: 'utf8' }).trim().split('\n').pop(),
  );
  const load = os.loadavg();
  const out = { date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: load, rounds: ROUNDS, rows, writers, memory };
  if (args.json) {
    console.log(JSON.stringify(out));
    return;
  }
  console.log(`snapshot bench, ${out.date}, Node ${out.node}, ${out.cpus} CPUs\n`);
  console.log(snapshotMarkdown(out));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
