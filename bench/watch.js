'use strict';
// watch: what change notifications cost the writers, and what a watcher gets.
//
//   node bench/watch.js [--quick] [--json] [--baseline=DIR] [--rounds=N] [--instructions | --no-instructions]
//
// 1. Put cost in instructions (callgrind, bench/profile.js; exact whatever
//    the machine's load): a put with no watcher, with one watcher on a
//    prefix no key has, and with one watcher on every key (each put queues
//    an event; its thread never drains, so this is the writer's cost per
//    matching event without a wake-up, which a writer pays only when the
//    watcher is idle).
//    With --baseline=DIR (a built checkout of threadkv to compare with, e.g.
//    the main branch), the same put there: "today". Not with --quick unless
//    --instructions is given.
// 2. Put throughput (ns per put, one thread, each round a fresh process,
//    modes in a rotated order, medians): no watcher (and "today" with
//    --baseline), a watcher on a prefix no key has, a watcher on every key
//    drained by a consumer in another thread.
// 3. Latency write -> listener: a writer worker writes one key every ~1 ms
//    (the watcher's thread idle in between); the delay from just before the
//    set() to the watcher's 'change' listener, on the process-wide monotonic
//    clock. p50 / p99 / max.
// 4. Throughput to one watcher: writer workers write flat out (setMany of 64
//    keys, not atomic: one event per key) for a fixed time; the watcher in the
//    main thread counts what is delivered (and what it lost, by overflow).
// 5. Memory per watcher: a watcher nobody drains (its events wait natively)
//    while 10^6 puts run, for maxQueue 10^3 .. 10^6: RSS growth over a run
//    with no watcher, against the bound maxQueue x (32 bytes + key) x 2.
//
// Then each of issue 16's targets with what was measured for it, met or
// missed, and for a miss what the measurements say about its cause.
//
// No timing assertion: the exit status is non-zero only when something
// failed to run. The report says whether the machine was loaded.

const { spawn } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');

const args = Object.fromEntries(
  process.argv
    .slice(2)
    .map((a) => /^--([^=]+)(?:=(.*))?$/.exec(a))
    .filter(Boolean)
    .map((m) => [m[1], m[2] ?? true]),
);
const here = path.join(__dirname, '..');
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};
const now = () => Number(process.hrtime.bigint());
// CPU time of the calling thread in ns (Linux: /proc/thread-self/schedstat),
// or NaN elsewhere. On a shared machine, wall time mostly measures how long
// a thread waited for a core; CPU time does not.
function threadCpuNs() {
  try {
    return Number(require('node:fs').readFileSync('/proc/thread-self/schedstat', 'utf8').split(' ')[0]);
  } catch {
    return NaN;
  }
}
const KEYS = 10_000;
const keyOf = (i) => `k:${i}`;
const VALUE = 'a 16-char value.';

// ---------------------------------------------------------------------------
// Children and workers
// ---------------------------------------------------------------------------

// --child=put --pkg=DIR --mode=none|miss|match --n=N: ns per put, one thread,
// in CPU time of the writing thread and in wall time.
async function childPut() {
  const { Store } = require(args.pkg);
  const name = `watch-bench-put-${process.pid}`;
  const store = Store.open(name);
  for (let i = 0; i < KEYS; i++) store.set(keyOf(i), VALUE);
  let consumer;
  if (args.mode === 'miss') store.watch({ prefix: 'no key has this prefix:' }).unref();
  if (args.mode === 'match') {
    consumer = new Worker(__filename, { workerData: { kind: 'consume', store: name, pkg: args.pkg } });
    await new Promise((r) => consumer.once('message', r));
  }
  const n = Number(args.n || 500_000);
  const loop = (count, start) => {
    let j = start;
    for (let i = 0; i < count; i++) {
      store.set(keyOf(j), VALUE);
      j += 7919;
      if (j >= KEYS) j -= KEYS;
    }
    return j;
  };
  const warm = 100_000;
  const j = loop(warm, 0);  // JIT warm-up
  const c0 = threadCpuNs();
  const t0 = now();
  loop(n, j);
  const wallNsPerPut = (now() - t0) / n;
  const cpuNsPerPut = (threadCpuNs() - c0) / n;
  let delivered = 0;
  if (consumer) {
    consumer.postMessage('stop');
    delivered = await new Promise((r) => consumer.once('message', r));
  }
  process.stdout.write(`${JSON.stringify({ cpuNsPerPut, wallNsPerPut, puts: warm + n, delivered })}\n`);
  process.exit(0);
}

function runWorker(d) {
  const { Store } = require(d.pkg || here);
  const store = Store.open(d.store);
  if (d.kind === 'consume') {
    // Drains everything, as a real watcher would (drops nothing: maxQueue large).
    const w = store.watch({ maxQueue: 10_000_000 });
    let count = 0;
    w.on('change', (b) => {
      count += b.length;
    });
    parentPort.on('message', () => {
      // Everything written is queued already: wait until it is all here.
      const done = () => {
        w.close();
        parentPort.postMessage(count);
        parentPort.close();
      };
      let last = -1;
      const check = () => (count === last ? done() : ((last = count), setTimeout(check, 50)));
      check();
    });
    parentPort.postMessage('ready');
  } else if (d.kind === 'pace') {
    // One write every ~1 ms; the time just before each set() into `times`.
    const times = new Float64Array(d.times);
    const cell = new Int32Array(new SharedArrayBuffer(4));
    for (let i = 0; i < d.n; i++) {
      Atomics.wait(cell, 0, 0, 0.5 + Math.random());
      times[i] = now();
      store.set(`lat:${i}`, i);
    }
    parentPort.postMessage('done');
  } else if (d.kind === 'flood') {
    const stop = new Int32Array(d.stop);
    const batch = Array.from({ length: 64 }, (_, i) => [`f:${d.index}:${i}`, i]);
    Atomics.add(stop, 1, 1);  // ready
    while (Atomics.load(stop, 2) === 0) {
      // wait for every writer
    }
    const c0 = threadCpuNs();
    let n = 0;
    while (Atomics.load(stop, 0) === 0) {
      store.setMany(batch);
      n += batch.length;
    }
    parentPort.postMessage({ n, cpuNs: threadCpuNs() - c0 });
  }
}

function runChild(childArgs) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [__filename, ...childArgs], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (c) => (out += c));
    p.on('close', (code) => {
      const line = out.trim().split('\n').pop();
      if (code !== 0 || !line) reject(new Error(`child ${childArgs.join(' ')} exited ${code}`));
      else resolve(JSON.parse(line));
    });
  });
}

// ---------------------------------------------------------------------------
// The measurements
// ---------------------------------------------------------------------------

async function instructions(baseline) {
  const { run } = require('./profile');
  const r = await run({ cases: ['tkv-v8-S-put', 'tkv-v8-S-put-watch-miss', 'tkv-v8-S-put-watch-match'] });
  if (r.skipped) return { skipped: r.skipped };
  const per = Object.fromEntries(r.cases.map((c) => [c.id, c.perOp]));
  const out = { none: per['tkv-v8-S-put'], miss: per['tkv-v8-S-put-watch-miss'], match: per['tkv-v8-S-put-watch-match'] };
  if (baseline) {
    // The same case in the baseline checkout (its own bench/profile.js).
    const { run: runBase } = require(path.join(baseline, 'bench', 'profile.js'));
    const b = await runBase({ cases: ['tkv-v8-S-put'] });
    if (!b.skipped) out.today = b.cases[0].perOp;
  }
  return out;
}

async function putThroughput(quick, baseline) {
  const modes = [
    ...(baseline ? [{ label: 'today (baseline build), no watcher', pkg: baseline, mode: 'none' }] : []),
    { label: 'no watcher', pkg: here, mode: 'none' },
    { label: 'one watcher, prefix matching nothing', pkg: here, mode: 'miss' },
    { label: 'one watcher on every key, drained by another thread', pkg: here, mode: 'match' },
  ];
  const rounds = Number(args.rounds || (quick ? 2 : 9));
  const cpu = modes.map(() => []);
  const wall = modes.map(() => []);
  const delivered = modes.map(() => []);
  for (let r = 0; r < rounds; r++) {
    for (let k = 0; k < modes.length; k++) {
      const i = (k + r) % modes.length;
      const m = modes[i];
      const res = await runChild(['--child=put', `--pkg=${m.pkg}`, `--mode=${m.mode}`, `--n=${quick ? 100_000 : 500_000}`]);
      cpu[i].push(res.cpuNsPerPut);
      wall[i].push(res.wallNsPerPut);
      delivered[i].push(res.delivered / res.puts);
    }
  }
  const base = modes.findIndex((m) => m.mode === 'none' && m.pkg === here);
  const today = modes.findIndex((m) => m.pkg !== here);
  const ratio = (xs, ys) => median(xs.map((x, j) => x / ys[j]));
  return modes.map((m, i) => ({
    label: m.label,
    cpuNsPerPut: median(cpu[i]),
    cpuMin: Math.min(...cpu[i]),
    cpuMax: Math.max(...cpu[i]),
    wallNsPerPut: median(wall[i]),
    vsNoWatcher: ratio(cpu[i], cpu[base]),
    vsToday: today >= 0 ? ratio(cpu[i], cpu[today]) : undefined,
    deliveredPerPut: m.mode === 'match' ? median(delivered[i]) : undefined,
  }));
}

async function latency(quick) {
  const { Store } = require(here);
  const name = `watch-bench-lat-${process.pid}`;
  const store = Store.open(name);
  const n = quick ? 300 : 3000;
  const times = new SharedArrayBuffer(8 * n);
  const t = new Float64Array(times);
  const samples = [];
  const w = store.watch({ prefix: 'lat:' });
  w.on('change', (batch) => {
    const at = now();
    for (const e of batch) samples.push((at - t[Number(e.key.slice(4))]) / 1000);
  });
  const worker = new Worker(__filename, { workerData: { kind: 'pace', store: name, n, times } });
  await new Promise((r) => worker.once('message', r));
  while (samples.length < n) await new Promise((r) => setTimeout(r, 5));
  w.close();
  Store.destroy(name);
  return { samples: samples.length, p50us: pct(samples, 50), p99us: pct(samples, 99), maxUs: Math.max(...samples) };
}

async function toOneWatcher(quick, writers) {
  const { Store } = require(here);
  const name = `watch-bench-flood-${process.pid}-${writers}`;
  const store = Store.open(name);
  const stop = new SharedArrayBuffer(12);  // [stop, ready writers, go]
  const cells = new Int32Array(stop);
  let events = 0;
  let lost = 0;
  const w = store.watch({ maxQueue: 1_000_000 });
  w.on('change', (batch) => {
    for (const e of batch) {
      if (e.type === 'overflow') lost += e.lost;
      else events++;
    }
  });
  const ws = Array.from({ length: writers }, (_, index) => new Worker(__filename, { workerData: { kind: 'flood', store: name, stop, index } }));
  const results = ws.map((x) => new Promise((r) => x.once('message', r)));
  while (Atomics.load(cells, 1) < writers) await new Promise((r) => setTimeout(r, 5));
  const c0 = threadCpuNs();
  const t0 = now();
  Atomics.store(cells, 2, 1);
  await new Promise((r) => setTimeout(r, quick ? 300 : 1500));
  Atomics.store(cells, 0, 1);
  const outs = await Promise.all(results);
  const written = outs.reduce((a, o) => a + o.n, 0);
  // The rest drains (this thread's CPU time counts it too).
  let last = -1;
  while (events + lost !== last) {
    last = events + lost;
    await new Promise((r) => setTimeout(r, 50));
  }
  const cpuNs = threadCpuNs() - c0;
  const wallS = (now() - t0) / 1e9;
  w.close();
  Store.destroy(name);
  return {
    writers,
    written,
    delivered: events,
    lost,
    // What the watching thread can take: events per second of its own CPU time.
    eventsPerCpuSecond: events / (cpuNs / 1e9),
    eventsPerSecond: events / wallS,
    writerCpuNsPerWrite: outs.reduce((a, o) => a + o.cpuNs, 0) / written,
  };
}

// --child=memory --maxQueue=N (0: no watcher): RSS growth over 10^6 puts.
async function childMemory() {
  const { Store } = require(here);
  const store = Store.open(`watch-bench-mem-${process.pid}`);
  for (let i = 0; i < KEYS; i++) store.set(keyOf(i), VALUE);
  const q = Number(args.maxQueue);
  const w = q > 0 ? store.watch({ maxQueue: q }).unref() : undefined;  // no listener: nothing drains
  const before = process.memoryUsage().rss;
  const n = 1_000_000;
  for (let i = 0; i < n; i++) store.set(keyOf(i % KEYS), VALUE);
  const after = process.memoryUsage().rss;
  let lost = 0;
  if (w) {
    w.ref();
    const got = await new Promise((r) => w.once('change', r));
    for (const e of got) if (e.type === 'overflow') lost = e.lost;
    w.close();
  }
  process.stdout.write(`${JSON.stringify({ rssGrowthMiB: (after - before) / 2 ** 20, lost })}\n`);
  process.exit(0);
}

async function memory(quick) {
  const queues = quick ? [0, 10_000] : [0, 1_000, 10_000, 100_000, 1_000_000];
  const out = [];
  for (const q of queues) {
    const r = await runChild(['--child=memory', `--maxQueue=${q}`]);
    // bound: maxQueue records (32 bytes + a 6-byte key each), twice (queue + batch buffers)
    out.push({ maxQueue: q, rssGrowthMiB: r.rssGrowthMiB, lost: r.lost, boundMiB: (q * (32 + 6) * 2) / 2 ** 20 });
  }
  return out;
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

// The issue's targets against what this run measured. Each: { target,
// measured, met (true / false / undefined: not measured), cause (of a miss,
// from the measurements) }.
function targets(r) {
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const pctOf = (ratio) => `${ratio >= 1 ? '+' : ''}${f((ratio - 1) * 100, 1)}%`;
  const loaded = r.load.some((x) => x > r.cores);
  const loadNote = `1-min load average ${r.load.map((x) => x.toFixed(1)).join(' -> ')} on ${r.cores} cores`;
  const out = [];
  const ins = r.instructions && !r.instructions.skipped ? r.instructions : undefined;
  const row = (label) => r.puts.find((p) => p.label === label);
  const none = row('no watcher');
  const miss = row('one watcher, prefix matching nothing');
  const match = row('one watcher on every key, drained by another thread');
  const today = r.puts.find((p) => p.vsToday !== undefined && p.label.startsWith('today'));
  // CPU time of one thread, a fresh process per round: noisy on a shared
  // machine. A miss there is blamed on the noise when the instruction
  // counts meet the target, or when the spread of the rounds covers it.
  const noisy = (p, ref) => `CPU times spread ${f(p.cpuMin)}–${f(p.cpuMax)} ns against ${f(ref.cpuMin)}–${f(ref.cpuMax)} ns${loaded ? `; ${loadNote}` : ''}`;
  {
    const t = { target: 'put, no watcher: within 2% of today' };
    if (ins && ins.today !== undefined) {
      const ratio = ins.none / ins.today;
      t.measured = `${pctOf(ratio)} instructions (${Math.round(ins.none)} vs ${Math.round(ins.today)})`;
      t.met = ratio <= 1.02;
      if (!t.met) t.cause = 'more instructions per put than the baseline build: see the callgrind profile (node bench/profile.js --cases=tkv-v8-S-put)';
    } else if (today && none) {
      t.measured = `${pctOf(none.vsToday)} CPU time (${f(none.cpuNsPerPut)} vs ${f(today.cpuNsPerPut)} ns)`;
      t.met = none.vsToday <= 1.02;
      if (!t.met) t.cause = `CPU time only (no instruction counts in this run): ${noisy(none, today)}`;
    } else {
      t.measured = 'not measured: pass --baseline=DIR (a built checkout to compare with)';
    }
    out.push(t);
  }
  {
    const t = { target: 'put, one watcher on a prefix matching nothing: within 5% of no watcher' };
    const parts = [];
    if (ins) parts.push(`${pctOf(ins.miss / ins.none)} instructions (${Math.round(ins.miss)} vs ${Math.round(ins.none)})`);
    if (miss) parts.push(`${pctOf(miss.vsNoWatcher)} CPU time (${f(miss.cpuNsPerPut)} vs ${f(none.cpuNsPerPut)} ns)`);
    t.measured = parts.join('; ');
    if (ins) {
      t.met = ins.miss / ins.none <= 1.05;
      if (!t.met) t.cause = 'more instructions per put with the watcher: see node bench/profile.js --cases=tkv-v8-S-put-watch-miss';
    } else if (miss) {
      t.met = miss.vsNoWatcher <= 1.05;
      if (!t.met) t.cause = `CPU time only (run without --quick, or with --instructions, for exact counts): ${noisy(miss, none)}`;
    }
    out.push(t);
  }
  {
    const t = { target: 'added cost per matching event on the writer: at most 150 ns' };
    const parts = [];
    const ns = match && none ? match.cpuNsPerPut - none.cpuNsPerPut : NaN;
    if (match) parts.push(`${f(ns)} ns CPU time (a put with a drained watcher on every key, minus a put with none)`);
    if (ins) parts.push(`+${f(ins.match - ins.none, 0)} instructions (queued, not drained)`);
    t.measured = parts.join('; ');
    if (match) {
      t.met = ns <= 150;
      if (!t.met) {
        // How much of it the writer's own instructions explain, at the no-watcher put's ns per instruction.
        const own = ins ? ((ins.match - ins.none) * none.cpuNsPerPut) / ins.none : NaN;
        t.cause = Number.isFinite(own)
          ? `the writer's extra instructions account for about ${f(own, 0)} ns; the other ${f(ns - own, 0)} ns come with the drain (the queue's lines and the hub lock shared with the draining thread, wake-ups of an idle watcher, blocks the writer had to allocate when the watcher's prediction fell short); ${noisy(match, none)}`
          : `${noisy(match, none)} (run with --instructions to split the writer's own instructions from the cost of the drain)`;
      }
    }
    out.push(t);
  }
  {
    const l = r.latency;
    for (const [name, v, limit] of [['p50', l.p50us, 200], ['p99', l.p99us, 5000]]) {
      const t = { target: `latency write -> listener, ${name}: at most ${limit >= 1000 ? `${limit / 1000} ms` : `${limit} µs`}`, measured: `${f(v)} µs (${l.samples} writes)` };
      t.met = v <= limit;
      if (!t.met) t.cause = loaded ? `the watching thread waited for a core: ${loadNote}` : 'the wake-up path (the machine was not loaded)';
      out.push(t);
    }
  }
  {
    const best = r.flood.reduce((a, b) => (b.eventsPerCpuSecond > a.eventsPerCpuSecond ? b : a));
    const wall = Math.max(...r.flood.map((x) => x.eventsPerSecond));
    const t = {
      target: 'throughput to one watcher: at least 1 M events/s',
      measured: `${Math.round(best.eventsPerCpuSecond).toLocaleString('en-US')} events per second of the watching thread's CPU (${best.writers} writer${best.writers > 1 ? 's' : ''}); best wall-clock rate ${Math.round(wall).toLocaleString('en-US')}/s`,
    };
    t.met = best.eventsPerCpuSecond >= 1e6;
    if (!t.met) {
      const lost = r.flood.reduce((a, x) => a + x.lost, 0);
      t.cause = `${lost > 0 ? `${lost.toLocaleString('en-US')} events lost to overflow; ` : ''}${loaded ? loadNote : 'the machine was not loaded'}`;
    }
    out.push(t);
  }
  {
    const base = r.memory.find((m) => m.maxQueue === 0);
    const rows = r.memory.filter((m) => m.maxQueue > 0);
    // RSS moves by whole pages and malloc's own reserves: 1 MiB of slack
    // over the bound (10^6 events queued unbounded would take 38 MiB).
    const over = rows.filter((m) => m.rssGrowthMiB - (base ? Math.max(0, base.rssGrowthMiB) : 0) > m.boundMiB + 1);
    const t = {
      target: 'memory per watcher bounded by maxQueue (RSS growth over the no-watcher run, within the bound + 1 MiB)',
      measured: rows.map((m) => `maxQueue ${m.maxQueue.toLocaleString('en-US')}: ${f(m.rssGrowthMiB)} MiB (bound ${f(m.boundMiB)})`).join('; '),
      met: over.length === 0,
    };
    if (!t.met) t.cause = `RSS grew past the bound for maxQueue ${over.map((m) => m.maxQueue).join(', ')} (RSS also counts the JS heap: compare the no-watcher row)`;
    out.push(t);
  }
  return out;
}

function section(r) {
  if (!r) return '(not run)';
  if (r.error) return `(failed: ${r.error})`;
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [];
  lines.push(`Machine load (1-min average) ${r.load.map((x) => x.toFixed(1)).join(' -> ')} on ${r.cores} cores${r.load[0] > r.cores ? ': **under load**, times are upper bounds' : ''}.`);
  lines.push('');
  const ins = r.instructions;
  if (ins && !ins.skipped) {
    lines.push('Put cost in instructions (callgrind, default codec, 16-char value, one thread; exact under any load):');
    lines.push('');
    lines.push('| put | instructions | vs no watcher |');
    lines.push('|---|---:|---:|');
    if (ins.today !== undefined) lines.push(`| today (baseline build) | ${Math.round(ins.today)} | ${f(ins.today - ins.none, 0)} |`);
    lines.push(`| no watcher | ${Math.round(ins.none)} | 0 |`);
    lines.push(`| one watcher, prefix matching nothing | ${Math.round(ins.miss)} | +${f(ins.miss - ins.none, 0)} |`);
    lines.push(`| one watcher on every key (an event queued per put, no wake-up) | ${Math.round(ins.match)} | **+${f(ins.match - ins.none, 0)}** |`);
    lines.push('');
  } else if (ins) {
    lines.push(`Instruction counts: skipped (${ins.skipped}).`);
    lines.push('');
  }
  lines.push('| put, one thread (a fresh process per round, modes rotated) | CPU ns per put, median (min–max) | wall ns | vs no watcher | vs today |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const p of r.puts) {
    lines.push(`| ${p.label} | ${f(p.cpuNsPerPut)} (${f(p.cpuMin)}–${f(p.cpuMax)}) | ${f(p.wallNsPerPut)} | ${f(p.vsNoWatcher, 3)} | ${p.vsToday === undefined ? '–' : f(p.vsToday, 3)} |`);
  }
  lines.push('');
  lines.push('CPU time is the writing thread\'s own (`/proc/thread-self/schedstat`): on a shared machine wall time mostly measures waiting for a core. Ratios are per round, then the median.');
  const match = r.puts.find((p) => p.deliveredPerPut !== undefined);
  if (match) lines.push(`The matching watcher's consumer thread received ${f(match.deliveredPerPut * 100, 1)}% of the events of the puts made while it watched.`);
  lines.push('');
  const l = r.latency;
  lines.push(`Latency, write (just before \`set\`, in a worker) -> the watcher's \`'change'\` listener (main thread, idle in between), ${l.samples} writes ~1 ms apart: p50 **${f(l.p50us)} µs**, p99 **${f(l.p99us)} µs**, max ${f(l.maxUs, 0)} µs.`);
  lines.push('');
  lines.push('| throughput to one watcher (main thread) | events delivered | per second of the watching thread\'s CPU | per second of wall time | lost (overflow) | writer CPU ns per write |');
  lines.push('|---|---:|---:|---:|---:|---:|');
  for (const t of r.flood) {
    lines.push(`| ${t.writers} writer worker${t.writers > 1 ? 's' : ''}, setMany of 64 (one event per key) | ${t.delivered.toLocaleString('en-US')} | **${Math.round(t.eventsPerCpuSecond).toLocaleString('en-US')}** | ${Math.round(t.eventsPerSecond).toLocaleString('en-US')} | ${t.lost.toLocaleString('en-US')} | ${f(t.writerCpuNsPerWrite)} |`);
  }
  lines.push('');
  lines.push('| memory, a watcher nobody drains, 10^6 puts | RSS growth MiB | bound (maxQueue x 38 B x 2) MiB | events lost |');
  lines.push('|---|---:|---:|---:|');
  for (const m of r.memory) {
    lines.push(`| ${m.maxQueue === 0 ? 'no watcher' : `maxQueue ${m.maxQueue.toLocaleString('en-US')}`} | ${f(m.rssGrowthMiB)} | ${m.maxQueue === 0 ? '–' : f(m.boundMiB)} | ${m.maxQueue === 0 ? '–' : m.lost.toLocaleString('en-US')} |`);
  }
  lines.push('');
  lines.push('| target (issue 16) | measured | |');
  lines.push('|---|---|---|');
  for (const t of targets(r)) {
    const verdict = t.met === undefined ? 'not measured' : t.met ? 'met' : `**missed**: ${t.cause}`;
    lines.push(`| ${t.target} | ${t.measured || '–'} | ${verdict} |`);
  }
  return lines.join('\n');
}

async function main() {
  const quick = !!args.quick;
  const baseline = typeof args.baseline === 'string' ? path.resolve(args.baseline) : undefined;
  const log = (s) => process.stderr.write(`${s}\n`);
  const r = { cores: os.cpus().length, load: [os.loadavg()[0]] };
  if (args.instructions === true || (!quick && args['no-instructions'] === undefined)) {
    log('watch: instruction counts (callgrind)...');
    r.instructions = await instructions(baseline);
  }
  log('watch: put throughput...');
  r.puts = await putThroughput(quick, baseline);
  log('watch: latency...');
  r.latency = await latency(quick);
  log('watch: throughput to one watcher...');
  r.flood = [await toOneWatcher(quick, 1), await toOneWatcher(quick, 2)];
  log('watch: memory...');
  r.memory = await memory(quick);
  r.load.push(os.loadavg()[0]);
  if (args.json) process.stdout.write(`${JSON.stringify(r)}\n`);
  else process.stdout.write(`${section(r)}\n`);
}

module.exports = { section, targets };

if (!isMainThread) {
  runWorker(workerData);
} else if (require.main === module) {
  const run = args.child === 'put' ? childPut : args.child === 'memory' ? childMemory : main;
  run().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
