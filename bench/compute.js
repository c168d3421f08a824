'use strict';
// getOrCompute: one computation per missing key for every thread.
//
//   node bench/compute.js [--quick] [--json] [--keys=10000] [--iterations=2000]
//
// 1. Once per key: W = 2, 4, 8 workers x 4 concurrent callers per key x
//    `keys` keys, the workers started together at a SharedArrayBuffer
//    barrier. Factory calls are counted per key in a SharedArrayBuffer; every
//    caller's value is compared with the stored one. Also: getOrSet with the
//    same load, for the number of factory calls it makes.
// 2. Hit cost: ns per call on a present key, in one thread, against `get`
//    and against `get` plus a resolved promise (what a hit must cost), and
//    getOrComputeSync against `get`. Medians of interleaved rounds.
// 3. Wake latency: a leader in one worker completes (timestamp taken when
//    its factory returns), a waiter in another worker resumes (timestamp
//    taken in its continuation): the delay on the process-wide monotonic
//    clock, async (an idle waiter's event loop woken through its waker) and
//    sync (a thread blocked in getOrComputeSync). p50 / p99 / max.
// 4. Leader terminated mid-factory: 4 waiting workers and the main thread
//    wait on a computation whose worker is then terminated; the time from
//    the leader's 'exit' event to the last waiter's settling.
// 5. Memory: RSS and store memory before and after 10^6 computations (10^5
//    with --quick), each on a new key, two callers each, keys deleted as they
//    go: flat means no per-flight leak; no flight left running.
//
// No timing assertion: the exit status is non-zero only when something
// failed to run or a correctness check (one factory call per key, equal
// values) failed. The report says whether the machine was loaded.

const os = require('node:os');
const v8 = require('node:v8');
const vm = require('node:vm');
const { Worker, isMainThread, parentPort, workerData } = require('node:worker_threads');
const { Store } = require('threadkv');

// ---------------------------------------------------------------------------
// Worker side
// ---------------------------------------------------------------------------

function barrier(sab, parties) {
  const a = new Int32Array(sab);
  Atomics.add(a, 0, 1);
  while (Atomics.load(a, 0) < parties) {
    // spin: everyone is about to run flat out
  }
}

async function runWorker(d) {
  const store = Store.open(d.store);
  const now = () => Number(process.hrtime.bigint());
  if (d.kind === 'burst') {
    const calls = new Int32Array(d.calls);
    const values = new Array(d.keys * d.callers);
    barrier(d.barrier, d.parties);
    const t0 = now();
    const pending = [];
    for (let k = 0; k < d.keys; k++) {
      const key = `k${k}`;
      for (let c = 0; c < d.callers; c++) {
        const factory = () => {
          Atomics.add(calls, k, 1);
          return `w${d.index}c${c}:${k}`;
        };
        if (d.method === 'getOrSet') {
          values[k * d.callers + c] = store.getOrSet(key, factory);
        } else {
          pending.push(store.getOrCompute(key, factory).then((v) => (values[k * d.callers + c] = v)));
        }
      }
      // Let the callers of one key overlap, without unbounded promise piles.
      if (pending.length >= 256) await Promise.all(pending.splice(0));
    }
    await Promise.all(pending);
    parentPort.postMessage({ values, ns: now() - t0 });
    return;
  }
  if (d.kind === 'lead') {
    // Leads iteration i's key once the waiter has joined, and stamps the
    // moment its factory returns.
    // sync[0]: the waiter is ready for iteration i (i + 1); sync[1]: the
    // leader's computation of iteration i is running (i + 1).
    const sync = new Int32Array(d.sync);
    const stamps = new Float64Array(d.stamps);
    for (let i = 0; i < d.iterations; i++) {
      while (Atomics.load(sync, 0) !== i + 1) Atomics.wait(sync, 0, i, 50);
      store.getOrComputeSync(`w${i}`, () => {
        Atomics.store(sync, 1, i + 1);
        Atomics.notify(sync, 1);
        const want = d.joinedBase + i + 1;
        while (store.stats().loadsJoined < want) {
          // the waiter is on its way in
        }
        stamps[2 * i] = now();
        return i;
      });
    }
    parentPort.postMessage('done');
    return;
  }
  if (d.kind === 'wait') {
    const sync = new Int32Array(d.sync);
    const stamps = new Float64Array(d.stamps);
    for (let i = 0; i < d.iterations; i++) {
      Atomics.store(sync, 0, i + 1);
      Atomics.notify(sync, 0);
      while (Atomics.load(sync, 1) !== i + 1) Atomics.wait(sync, 1, i, 50);
      if (d.sync_) {
        store.getOrComputeSync(`w${i}`, () => -1);
        stamps[2 * i + 1] = now();
      } else {
        await store.getOrCompute(`w${i}`, () => -1).then(() => {
          stamps[2 * i + 1] = now();
        });
      }
    }
    parentPort.postMessage('done');
    return;
  }
  if (d.kind === 'hang') {
    store.getOrCompute(d.key, () => {
      parentPort.postMessage('computing');
      return new Promise(() => setInterval(() => {}, 1000));
    });
    return;
  }
  if (d.kind === 'join') {
    parentPort.postMessage('joining');
    await store.getOrCompute(d.key, () => 'taken over');
    parentPort.postMessage({ settledAt: now() });
    return;
  }
  throw new Error(`unknown worker kind ${d.kind}`);
}

// ---------------------------------------------------------------------------
// Main side
// ---------------------------------------------------------------------------

let seq = 0;
const uniqueName = (p) => `bench-compute-${p}-${process.pid}-${++seq}`;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function startWorker(data) {
  const w = new Worker(__filename, { workerData: data });
  const messages = [];
  const waiting = [];
  w.on('message', (m) => {
    if (m && m.error) throw new Error(m.error);
    const r = waiting.shift();
    if (r) r(m);
    else messages.push(m);
  });
  w.on('error', (err) => {
    throw err;
  });
  const exited = new Promise((r) => w.once('exit', () => r(Number(process.hrtime.bigint()))));
  return {
    worker: w,
    exited,
    next: () => (messages.length ? Promise.resolve(messages.shift()) : new Promise((r) => waiting.push(r))),
  };
}

function pct(sorted, p) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

function median(xs) {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[s.length >> 1] : NaN;
}

async function oncePerKey(workers, keys, method) {
  const name = uniqueName(`burst-${method}-${workers}`);
  const store = Store.open(name);
  const callers = 4;
  const calls = new SharedArrayBuffer(4 * keys);
  const sab = new SharedArrayBuffer(4);
  const peers = Array.from({ length: workers }, (_, index) =>
    startWorker({ kind: 'burst', method, store: name, index, parties: workers, barrier: sab, calls, keys, callers }),
  );
  const outs = await Promise.all(peers.map((p) => p.next()));
  await Promise.all(peers.map((p) => p.exited));
  const counts = new Int32Array(calls);
  let factoryCalls = 0;
  let keysOverOne = 0;
  let mismatched = 0;
  for (let k = 0; k < keys; k++) {
    factoryCalls += counts[k];
    if (counts[k] !== 1) keysOverOne++;
    const stored = store.get(`k${k}`);
    for (const o of outs) for (let c = 0; c < callers; c++) if (o.values[k * callers + c] !== stored) mismatched++;
  }
  const st = store.stats();
  Store.destroy(name);
  return {
    method,
    workers,
    callersPerKey: callers,
    keys,
    factoryCallsPerKey: factoryCalls / keys,
    keysComputedMoreThanOnce: keysOverOne,
    callersWithAnotherValue: mismatched,
    joined: st.loadsJoined,
    msMedianPerWorker: median(outs.map((o) => o.ns / 1e6)),
  };
}

/** Instructions per hit (callgrind, bench/profile.js): exact, whatever the machine's load. */
async function hitInstructions() {
  const { run } = require('./profile');
  const r = await run({ cases: ['tkv-v8-S', 'tkv-v8-S-get-promise', 'tkv-v8-S-goc', 'tkv-v8-S-gocs'] });
  if (r.skipped) return { skipped: r.skipped };
  const per = Object.fromEntries(r.cases.map((c) => [c.id, c.perOp]));
  return {
    get: per['tkv-v8-S'],
    getPlusPromise: per['tkv-v8-S-get-promise'],
    getOrCompute: per['tkv-v8-S-goc'],
    getOrComputeSync: per['tkv-v8-S-gocs'],
  };
}

function hitCost(quick) {
  const name = uniqueName('hits');
  const store = Store.open(name);
  const N = 1024;
  const keys = Array.from({ length: N }, (_, i) => `h${i}`);
  for (const k of keys) store.set(k, 'a 16-char value.');
  const factory = () => 'never';
  const loops = {
    get: (i) => store.get(keys[i & (N - 1)]),
    'get + Promise.resolve': (i) => Promise.resolve(store.get(keys[i & (N - 1)])),
    getOrCompute: (i) => store.getOrCompute(keys[i & (N - 1)], factory),
    getOrComputeSync: (i) => store.getOrComputeSync(keys[i & (N - 1)], factory),
  };
  const ms = quick ? 40 : 150;
  const rounds = quick ? 3 : 9;
  const samples = Object.fromEntries(Object.keys(loops).map((k) => [k, []]));
  const labels = Object.keys(loops);
  for (let r = 0; r < rounds; r++) {
    // Rotated order, and a full GC before each: the promise loops leave
    // garbage that would otherwise be collected in the next loop's time.
    for (let j = 0; j < labels.length; j++) {
      const label = labels[(j + r) % labels.length];
      const fn = loops[label];
      settleGc();
      const end = process.hrtime.bigint() + BigInt(ms * 1e6);
      const t0 = process.hrtime.bigint();
      let n = 0;
      let t;
      let i = 0;
      do {
        for (let b = 0; b < 256; b++) fn(i++);
        n += 256;
        t = process.hrtime.bigint();
      } while (t < end);
      samples[label].push(Number(t - t0) / n);
    }
  }
  Store.destroy(name);
  const ns = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
  return {
    ns,
    ratioVsGet: ns.getOrCompute / ns.get,
    ratioVsGetPlusPromise: ns.getOrCompute / ns['get + Promise.resolve'],
    syncRatioVsGet: ns.getOrComputeSync / ns.get,
  };
}

async function wakeLatency(iterations, sync) {
  const name = uniqueName(`wake-${sync ? 'sync' : 'async'}`);
  const store = Store.open(name);
  const syncCells = new SharedArrayBuffer(8);
  const stamps = new SharedArrayBuffer(16 * iterations);
  const joinedBase = store.stats().loadsJoined;
  const leader = startWorker({ kind: 'lead', store: name, sync: syncCells, stamps, iterations, joinedBase });
  const waiter = startWorker({ kind: 'wait', store: name, sync: syncCells, stamps, iterations, sync_: sync });
  await Promise.all([leader.next(), waiter.next()]);
  await Promise.all([leader.exited, waiter.exited]);
  const s = new Float64Array(stamps);
  const us = [];
  for (let i = 0; i < iterations; i++) us.push((s[2 * i + 1] - s[2 * i]) / 1000);
  us.sort((a, b) => a - b);
  const st = store.stats();
  Store.destroy(name);
  return {
    mode: sync ? 'sync (getOrComputeSync)' : 'async (getOrCompute)',
    iterations,
    joined: st.loadsJoined - joinedBase,
    p50us: pct(us, 50),
    p99us: pct(us, 99),
    maxUs: us[us.length - 1],
  };
}

async function leaderTerminated(repeats) {
  const out = [];
  for (let r = 0; r < repeats; r++) {
    const name = uniqueName('terminate');
    const store = Store.open(name);
    const leader = startWorker({ kind: 'hang', store: name, key: 'k' });
    await leader.next();
    const waiters = Array.from({ length: 4 }, () => startWorker({ kind: 'join', store: name, key: 'k' }));
    for (const w of waiters) await w.next();
    let mainSettled = 0;
    const mine = store.getOrCompute('k', () => 'taken over by main').then(() => (mainSettled = Number(process.hrtime.bigint())));
    while (store.stats().loadsJoined < 5) await sleep(1);
    leader.worker.terminate();
    const exitAt = await leader.exited;
    const settled = await Promise.all(waiters.map((w) => w.next()));
    await mine;
    const last = Math.max(mainSettled, ...settled.map((m) => m.settledAt));
    out.push((last - exitAt) / 1e6);
    await Promise.all(waiters.map((w) => w.exited));
    Store.destroy(name);
  }
  out.sort((a, b) => a - b);
  // Negative: the last waiter settled before Node delivered 'exit' on main.
  return { repeats, waiters: 5, medianMs: median(out), maxMs: out[out.length - 1], all: out.map((x) => Number(x.toFixed(2))) };
}

function settleGc() {
  if (typeof global.gc !== 'function') {
    v8.setFlagsFromString('--expose-gc');
    global.gc = vm.runInNewContext('gc');
  }
  for (let i = 0; i < 3; i++) global.gc();
  return process.memoryUsage().rss;
}

async function memoryFlat(flights) {
  const name = uniqueName('memory');
  const store = Store.open(name);
  const run = async (n, from) => {
    for (let i = from; i < from + n; i += 512) {
      const batch = [];
      for (let j = i; j < Math.min(from + n, i + 512); j++) {
        const key = `m${j}`;
        const f = async () => j;
        batch.push(store.getOrCompute(key, f), store.getOrCompute(key, f));
      }
      await Promise.all(batch);
      for (let j = i; j < Math.min(from + n, i + 512); j++) store.delete(`m${j}`);
    }
  };
  await run(Math.min(50_000, flights / 10), 0); // warm-up: JIT, pools
  const rss0 = settleGc();
  const mem0 = store.memory();
  await run(flights / 2, 1e8);
  const rssHalf = settleGc();
  await run(flights / 2, 2e8);
  const rss1 = settleGc();
  const mem1 = store.memory();
  const st = store.stats();
  Store.destroy(name);
  return {
    flights,
    rssMiB: [rss0, rssHalf, rss1].map((x) => Number((x / 2 ** 20).toFixed(1))),
    rssGrowthSecondHalfKiB: Math.round((rss1 - rssHalf) / 1024),
    storeBytesBefore: mem0.entryBytes + mem0.slotBytes,
    storeBytesAfter: mem1.entryBytes + mem1.slotBytes,
    flightsInProgress: st.flightsInProgress,
    loads: st.loads,
  };
}

/** The markdown section for bench/RESULTS.md (also used by bench/lib/report.js). */
function section(r) {
  if (!r) return '(not run)';
  if (r.error) return `(failed: ${r.error})`;
  const f = (x, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '–');
  const lines = [];
  lines.push(`Machine load (1-min average) ${r.load.map((x) => x.toFixed(1)).join(' -> ')} on ${r.cores} cores${r.load[0] > r.cores ? ': **under load**, latencies are upper bounds' : ''}.`);
  lines.push('');
  lines.push('| once per key | workers | callers per key | keys | factory calls per key | keys computed twice | callers with another value | ms per worker |');
  lines.push('|---|---:|---:|---:|---:|---:|---:|---:|');
  for (const b of r.once) {
    lines.push(`| ${b.method} | ${b.workers} | ${b.callersPerKey} | ${b.keys} | ${f(b.factoryCallsPerKey, 3)} | ${b.keysComputedMoreThanOnce} | ${b.callersWithAnotherValue} | ${f(b.msMedianPerWorker, 0)} |`);
  }
  lines.push('');
  const h = r.hits;
  lines.push(`Hit cost, ns per call (one thread, median of rounds): get ${f(h.ns.get)}, get + Promise.resolve ${f(h.ns['get + Promise.resolve'])}, getOrCompute ${f(h.ns.getOrCompute)} (**${f(h.ratioVsGet, 2)}x get**, ${f(h.ratioVsGetPlusPromise, 2)}x get + a promise), getOrComputeSync ${f(h.ns.getOrComputeSync)} (${f(h.syncRatioVsGet, 2)}x get).`);
  const hi = r.hitInstructions;
  if (hi && !hi.skipped) {
    lines.push('');
    lines.push(`Hit cost in instructions (callgrind, default codec, 16-char value; exact under any load): get ${Math.round(hi.get)}, get + Promise.resolve ${Math.round(hi.getPlusPromise)}, getOrCompute ${Math.round(hi.getOrCompute)} (**${f(hi.getOrCompute / hi.get, 2)}x get**, ${f(hi.getOrCompute / hi.getPlusPromise, 2)}x get + a promise), getOrComputeSync ${Math.round(hi.getOrComputeSync)} (${f(hi.getOrComputeSync / hi.get, 2)}x get).`);
  }
  lines.push('');
  lines.push('| wake latency (leader completes -> waiter resumes) | samples | p50 us | p99 us | max us |');
  lines.push('|---|---:|---:|---:|---:|');
  for (const w of r.wake) lines.push(`| ${w.mode} | ${w.joined} | ${f(w.p50us)} | ${f(w.p99us)} | ${f(w.maxUs, 0)} |`);
  lines.push('');
  const t = r.terminated;
  lines.push(`Leader worker terminated mid-factory, ${t.waiters} waiters (4 workers + main): last waiter settled ${f(t.medianMs, 2)} ms (median of ${t.repeats}; max ${f(t.maxMs, 2)}) after the leader's \`exit\` event (negative: before main saw \`exit\`).`);
  lines.push('');
  const m = r.memory;
  lines.push(`Memory: ${m.flights.toLocaleString('en-US')} computations (2 callers each, keys deleted as they go): RSS ${m.rssMiB.join(' -> ')} MiB (start, half, end; growth over the second half ${m.rssGrowthSecondHalfKiB} KiB); store memory ${m.storeBytesBefore} -> ${m.storeBytesAfter} bytes; flights left running: ${m.flightsInProgress}.`);
  return lines.join('\n');
}

async function main() {
  const args = Object.fromEntries(process.argv.slice(2).map((a) => /^--([^=]+)(?:=(.*))?$/.exec(a)).filter(Boolean).map((m) => [m[1], m[2] ?? true]));
  const quick = !!args.quick;
  const keys = Number(args.keys || (quick ? 1000 : 10_000));
  const iterations = Number(args.iterations || (quick ? 200 : 2000));
  const log = (s) => process.stderr.write(`${s}\n`);
  const r = { cores: os.cpus().length, load: [os.loadavg()[0]] };
  r.once = [];
  for (const w of quick ? [2, 4] : [2, 4, 8]) {
    log(`once per key: ${w} workers...`);
    r.once.push(await oncePerKey(w, keys, 'getOrCompute'));
  }
  r.once.push(await oncePerKey(quick ? 4 : 8, keys, 'getOrSet'));
  log('hit cost...');
  r.hits = hitCost(quick);
  if (!quick && !args['no-callgrind']) {
    log('hit instructions (callgrind)...');
    r.hitInstructions = await hitInstructions();
  }
  log('wake latency...');
  r.wake = [await wakeLatency(iterations, false), await wakeLatency(iterations, true)];
  log('leader terminated...');
  r.terminated = await leaderTerminated(quick ? 3 : 10);
  log('memory...');
  r.memory = await memoryFlat(quick ? 100_000 : 1_000_000);
  r.load.push(os.loadavg()[0]);
  const bad = r.once.filter((b) => b.method === 'getOrCompute' && (b.keysComputedMoreThanOnce !== 0 || b.callersWithAnotherValue !== 0));
  if (args.json) console.log(JSON.stringify(r));
  else console.log(section(r));
  if (bad.length > 0 || r.memory.flightsInProgress !== 0) {
    console.error('bench/compute.js: a correctness check failed (see the table)');
    process.exitCode = 1;
  }
}

module.exports = { section };

if (!isMainThread) {
  runWorker(workerData).catch((err) => {
    parentPort.postMessage({ error: String(err && err.stack) });
  });
} else if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
