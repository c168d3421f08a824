'use strict';
// Snapshot and restore (issue 17's bench rows):
//   1. save and load throughput, on tmpfs (/dev/shm) and on the real disk
//      (the OS temp dir unless --disk=DIR): 1 KiB values (MB/s) and
//      16-character string values (entries/s), save with and without fsync;
//      beside two peers run in the same process on the same bytes: a raw
//      sequential write of a buffer of the file's size (the device's
//      ceiling) and a JS dump (entries() -> v8.serialize -> writeFile, what
//      one would do without snapshot()).
//   2. writers during a snapshot: 1 and 2 worker threads overwrite 1 KiB
//      values of a large store, alone and while snapshots run back to back
//      (to tmpfs, no fsync): their throughput ratio and the longest single
//      set() they saw in each phase (the writer stall).
//   3. peak extra memory: RSS sampled while a snapshot runs, and while a
//      restore runs, against the store's size.
// Medians of --rounds runs. No assertions: numbers only.
//
//   node bench/snapshot.js [--quick] [--json] [--rounds=3] [--mib=256] [--small=2000000]
//                          [--writers-mib=512] [--ms=2000] [--disk=DIR] [--shm=DIR]

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
    }
    ops[phase] += 64;
  }
  parentPort.postMessage({ ops, worst });
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
  const save = [], saveNoSync = [], load = [], raw = [], rawNoSync = [], dump = [];
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
    rawNoSync.push(rawWrite(`${file}.raw`, info.bytes, false));
    raw.push(rawWrite(`${file}.raw`, info.bytes, true));
    if (r === 0) dump.push(jsDump(src, `${file}.dump`));
  }
  fs.rmSync(file);
  Store.destroy(src.name);
  const mb = info.bytes / 1e6;
  const m = { save: median(save), saveNoSync: median(saveNoSync), load: median(load), raw: median(raw), rawNoSync: median(rawNoSync), dump: median(dump) };
  return {
    dir, label, entries: n, fileMB: mb,
    saveMBs: mb / (m.save / 1000), saveNoSyncMBs: mb / (m.saveNoSync / 1000), loadMBs: mb / (m.load / 1000),
    saveEntriesPerSec: n / (m.saveNoSync / 1000), loadEntriesPerSec: n / (m.load / 1000),
    rawMBs: mb / (m.raw / 1000), rawNoSyncMBs: mb / (m.rawNoSync / 1000), dumpMBs: mb / (m.dump / 1000),
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
  const CYCLES = 3;
  for (let c = 0; c < CYCLES; c++) {
    Atomics.store(f, 0, 2);
    await new Promise((r) => setTimeout(r, MS / CYCLES));
    Atomics.store(f, 0, 3);
    const end = now() + MS / CYCLES;
    while (now() < end) snaps.push((await store.snapshot(file, { fsync: false })).ms);
  }
  Atomics.store(f, 0, 9);
  const r = await Promise.all(results);
  fs.rmSync(file, { force: true });
  Store.destroy(store.name);
  const sum = (p) => r.reduce((a, x) => a + x.ops[p], 0);
  return {
    writers,
    storeMiB: WRITERS_MIB,
    baselineOpsPerSec: sum(2) / (MS / 1000),
    duringOpsPerSec: sum(3) / (MS / 1000),
    ratio: sum(3) / sum(2),
    worstSetMsBaseline: Math.max(...r.map((x) => x.worst[2])) / 1e6,
    worstSetMsDuring: Math.max(...r.map((x) => x.worst[3])) / 1e6,
    snapshots: snaps.length,
    snapshotMs: median(snaps),
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
    expectedSaveMiB: bytes / 64 / MiB + 1,
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
  ].filter(([, d]) => fs.existsSync(d));
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
