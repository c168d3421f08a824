'use strict';
// The cost of expiry (issue: expiry that costs nothing while nothing
// expires, size in O(shards)). Each row runs in a fresh child process:
//
//  (a) idle CPU: the process's CPU time (process.cpuUsage) over --idle-ms
//      (default 5 s) of no traffic at all, after 1M entries were set with a
//      one-hour TTL, against the same with no TTL;
//  (b) `size` and `memory()`: median and max time per call with 1M entries
//      with a TTL (and with none);
//  (c) reclaim lateness: 10,000 entries with a 200 ms TTL and no traffic:
//      when stats() first shows them all gone, after their deadline;
//  (d) the longest hold of a shard lock by the sweep: one thread's slowest
//      `set` (and its 99.9th percentile) while 1M entries expire at once,
//      against the same thread with nothing expiring.
//
//   node bench/expiry.js [--entries=1000000] [--idle-ms=5000] [--baseline=DIR] [--json]
//
// --baseline=DIR: a built checkout of threadkv to compare with (rows a, b
// and c run there too, in the same run). Not part of CI; quote the load
// average printed with the table (the machine may be shared).

const { spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { parseArgs, mdTable, fmt, median } = require('./lib/stats');

const args = parseArgs(process.argv.slice(2));
const N = Number(args.entries || 1_000_000);
const IDLE_MS = Number(args['idle-ms'] || 5000);

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function nowMs() {
  return Number(process.hrtime.bigint()) / 1e6;
}

// ---- the child: one measurement, printed as JSON ----

async function child(kind, pkg, ttl) {
  const { Store } = require(pkg);
  const name = `expiry-bench-${kind}-${process.pid}`;
  const store = Store.open(name, { codec: 'string' });
  const opt = ttl ? { ttlMs: ttl } : undefined;
  const fill = (n, prefix, o) => {
    for (let i = 0; i < n; i++) store.set(`${prefix}${i}`, 'value-0123456789', o);
  };
  if (kind === 'idle') {
    fill(N, 'k', opt);
    await sleep(1000); // anything the writes themselves started (a first plan) settles
    const c0 = process.cpuUsage();
    const t0 = nowMs();
    await sleep(IDLE_MS);
    const c = process.cpuUsage(c0);
    const wall = nowMs() - t0;
    return { cpuPct: ((c.user + c.system) / 1000 / wall) * 100, wallMs: wall, size: store.size };
  }
  if (kind === 'size') {
    fill(N, 'k', opt);
    const time = (f) => {
      const xs = [];
      for (let i = 0; i < 200; i++) {
        const t = nowMs();
        f();
        xs.push((nowMs() - t) * 1000);
      }
      return { median: median(xs), max: Math.max(...xs) };
    };
    let sink = 0;
    const size = time(() => {
      sink += store.size;
    });
    const memory = time(() => {
      sink += store.memory().entries;
    });
    return { sizeUs: size, memoryUs: memory, sink };
  }
  if (kind === 'reclaim') {
    const n = 10_000;
    const rounds = [];
    for (let r = 0; r < 5; r++) {
      const ttlMs = 200;
      fill(n, `r${r}-`, { ttlMs });
      const deadline = nowMs() + ttlMs; // the last entry's deadline (ms, this clock)
      let first = NaN;
      for (;;) {
        const left = store.stats().entries;
        const t = nowMs();
        if (left < n && Number.isNaN(first)) first = t - deadline;
        if (left === 0) {
          rounds.push({ firstMs: first, allMs: t - deadline });
          break;
        }
        if (t - deadline > 10_000) {
          rounds.push({ firstMs: first, allMs: NaN });
          break;
        }
        await sleep(1);
      }
      await sleep(50);
    }
    return { rounds };
  }
  if (kind === 'hold') {
    const lat = (ms) => {
      // One thread's sets, each timed, for `ms`.
      const xs = [];
      const end = nowMs() + ms;
      let i = 0;
      while (nowMs() < end) {
        const t = nowMs();
        store.set(`w${i++ % 1000}`, 'x');
        xs.push((nowMs() - t) * 1000);
      }
      xs.sort((a, b) => a - b);
      return { n: xs.length, p999Us: xs[Math.floor(xs.length * 0.999)], maxUs: xs[xs.length - 1] };
    };
    const quiet = lat(1500);
    // 1M entries that expire together, 1.5 s from now; the writer runs across that moment.
    const ttlMs = 1500;
    fill(N, 'k', { ttlMs });
    const filled = nowMs();
    const before = store.stats();
    const busy = lat(ttlMs + 1500 - (nowMs() - filled));
    await sleep(200);
    const after = store.stats();
    return {
      quiet,
      busy,
      expired: after.expirations - before.expirations,
      sweeps: after.sweeps - before.sweeps,
      cascades: after.expiryCascades,
    };
  }
  throw new Error(`unknown child ${kind}`);
}

function runChild(kind, pkg, ttl) {
  const r = spawnSync(process.execPath, [__filename, `--child=${kind}`, `--pkg=${pkg}`, `--ttl=${ttl || 0}`, `--entries=${N}`, `--idle-ms=${IDLE_MS}`], {
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`child ${kind} failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function main() {
  if (args.child) {
    const out = await child(args.child, args.pkg, Number(args.ttl) || undefined);
    process.stdout.write(`${JSON.stringify(out)}\n`);
    process.exit(0); // the sweeper thread never ends: leave without waiting
  }
  const here = path.join(__dirname, '..');
  const pkgs = [{ label: 'this build', dir: here }];
  if (args.baseline) pkgs.push({ label: 'baseline', dir: path.resolve(String(args.baseline)) });
  const load0 = os.loadavg();
  const result = { entries: N, idleMs: IDLE_MS, rows: [] };
  const rows = [];
  for (const p of pkgs) {
    const idleTtl = runChild('idle', p.dir, 3_600_000);
    const idleNone = runChild('idle', p.dir, 0);
    rows.push([`(a) idle CPU, ${fmt(N)} entries, 1 h TTL, ${IDLE_MS / 1000} s no traffic`, p.label, `${fmt(idleTtl.cpuPct)} % of a core`, `${fmt(idleNone.cpuPct)} % (no TTL)`]);
    const sizeTtl = runChild('size', p.dir, 3_600_000);
    const sizeNone = runChild('size', p.dir, 0);
    rows.push([`(b) size, ${fmt(N)} TTL'd entries`, p.label, `${fmt(sizeTtl.sizeUs.median)} µs (max ${fmt(sizeTtl.sizeUs.max)})`, `${fmt(sizeNone.sizeUs.median)} µs (no TTL)`]);
    rows.push([`(b) memory(), ${fmt(N)} TTL'd entries`, p.label, `${fmt(sizeTtl.memoryUs.median)} µs (max ${fmt(sizeTtl.memoryUs.max)})`, `${fmt(sizeNone.memoryUs.median)} µs (no TTL)`]);
    const rec = runChild('reclaim', p.dir, 0);
    const all = rec.rounds.map((x) => x.allMs);
    rows.push(['(c) reclaim: 10,000 entries, 200 ms TTL, no traffic: all gone after the deadline', p.label, `median ${fmt(median(all))} ms, max ${fmt(Math.max(...all))} ms`, `first seen gone: median ${fmt(median(rec.rounds.map((x) => x.firstMs)))} ms`]);
    result.rows.push({ pkg: p.label, idleTtl, idleNone, sizeTtl, sizeNone, reclaim: rec });
    if (p.dir === here) {
      const hold = runChild('hold', p.dir, 0);
      rows.push([`(d) one thread's set while ${fmt(N)} entries expire at once`, p.label, `max ${fmt(hold.busy.maxUs)} µs, p99.9 ${fmt(hold.busy.p999Us)} µs`, `nothing expiring: max ${fmt(hold.quiet.maxUs)} µs, p99.9 ${fmt(hold.quiet.p999Us)} µs; ${fmt(hold.expired)} expired in ${fmt(hold.sweeps)} lock holds`]);
      result.hold = hold;
    }
  }
  const load1 = os.loadavg();
  result.loadavg = [load0, load1];
  if (args.json) {
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
    return;
  }
  console.log(`expiry: ${fmt(N)} entries, node ${process.version}, ${os.cpus().length} CPUs, load average ${load0.map((x) => x.toFixed(2)).join(' ')} -> ${load1.map((x) => x.toFixed(2)).join(' ')}\n`);
  console.log(mdTable(['row', 'build', 'result', 'beside it'], rows, ['l', 'l', 'r', 'r']));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
