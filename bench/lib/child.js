'use strict';
// One contender, one trial, one fresh process:
//   node bench/lib/child.js --contender=ID --workloads=a,b --duration=MS --warmup=MS --trial=N [--redis-port=P]
// Preloads the shared data once, runs the latency workloads in this main
// thread, then the throughput workloads in worker threads, and prints one
// JSON line: { contender, results: [{ id, ops, ns, nsPerOp, mops } | { id, skipped }] }.

const { Worker } = require('node:worker_threads');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');
const { keyCount, makeKeys, makeSequence, makeWritePool, freshLoop, stopAfter, sleepMs, valueM } = require('./common');
const { contender } = require('./contenders');
const { byId } = require('./workloads');

function parseArgs(argv) {
  const o = {};
  for (const a of argv) {
    const m = /^--([^=]+)(?:=(.*))?$/.exec(a);
    if (m) o[m[1]] = m[2] === undefined ? true : m[2];
  }
  return o;
}

const args = parseArgs(process.argv.slice(2));
const c = contender(args.contender);
const workloads = String(args.workloads).split(',').map(byId);
const durationMs = Number(args.duration || 300);
const warmupMs = Number(args.warmup || 100);
const trial = Number(args.trial || 0);

class Pool {
  constructor(share) {
    this.share = share;
    this.workers = [];
  }

  async ensure(n) {
    while (this.workers.length < n) {
      const index = this.workers.length + 1;
      const w = new Worker(path.join(__dirname, 'worker.js'), {
        workerData: { contender: c.id, share: this.share, index },
      });
      const entry = { w, queue: [], waiters: [], error: null };
      w.on('message', (m) => {
        if (m.type === 'error') entry.error = new Error(`worker ${index}: ${m.message}`);
        const waiter = entry.waiters.shift();
        if (waiter) waiter(m);
        else entry.queue.push(m);
      });
      w.on('error', (err) => {
        entry.error = err;
        for (const waiter of entry.waiters.splice(0)) waiter({ type: 'error', message: String(err.stack || err) });
      });
      this.workers.push(entry);
      const first = await this.next(entry);
      if (first.type !== 'ready') throw new Error(`worker ${index} did not start: ${first.message || first.type}`);
    }
  }

  next(entry) {
    if (entry.error && entry.queue.length === 0) return Promise.reject(entry.error);
    const m = entry.queue.shift();
    if (m) return Promise.resolve(m);
    return new Promise((resolve) => entry.waiters.push(resolve));
  }

  async expect(entry, type) {
    const m = await this.next(entry);
    if (m.type === 'error') throw new Error(m.message);
    if (m.type !== type) throw new Error(`expected '${type}' from a worker, got '${m.type}'`);
    return m;
  }

  async close() {
    for (const e of this.workers) e.w.postMessage({ cmd: 'exit' });
    await Promise.all(
      this.workers.map(
        (e) =>
          new Promise((resolve) => {
            const t = setTimeout(() => e.w.terminate().then(resolve, resolve), 5000);
            e.w.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
          }),
      ),
    );
  }
}

async function latency(w, adapters, keys) {
  let a = adapters.get(w.kind);
  if (!a) {
    a = await c.adapter(w.kind, state.share, 0);
    adapters.set(w.kind, a);
  }
  const seq = makeSequence({ dist: w.dist, writeFrac: w.writeFrac, seed: 1 + trial * 100, n: keyCount(w.kind) });
  const pool = makeWritePool(w.kind, 0);
  const loop = freshLoop(!!c.async);
  const warm = await loop(a, keys, seq, pool, 0, stopAfter(warmupMs));
  const t0 = process.hrtime.bigint();
  const r = await loop(a, keys, seq, pool, warm.next, stopAfter(durationMs));
  const ns = Number(process.hrtime.bigint() - t0);
  return { id: w.id, ops: r.ops, hits: r.hits, ns, nsPerOp: ns / r.ops, mops: (r.ops / ns) * 1e3 };
}

// A reference timed in the same process right after a threadkv row (an
// "aux" result: not a workload, read by bench/lib/targets.js).
function auxRow(id, fn) {
  let n = 0;
  const run = (stop) => {
    let ops = 0;
    for (;;) {
      for (let i = 0; i < 16; i++) if (fn() !== null) n++;
      ops += 16;
      if (stop()) return ops;
    }
  };
  run(stopAfter(warmupMs));
  const t0 = process.hrtime.bigint();
  const ops = run(stopAfter(durationMs));
  const ns = Number(process.hrtime.bigint() - t0);
  return { id, aux: true, ops, hits: n, ns, nsPerOp: ns / ops, mops: (ops / ns) * 1e3 };
}

// For the target "M get ≤ 1.2× (v8.deserialize alone + S get)": the decode
// alone, timed in the same process right after the M get row.
function deserializeAlone() {
  const bytes = new Uint8Array(v8.serialize(valueM(12345)));
  return auxRow('aux-v8-deserialize-M', () => v8.deserialize(bytes));
}

// The references of issue 14's targets, after the rows they compare with.
function valueReferences(id) {
  const { valueOf } = require('./common');
  switch (id) {
    case 'get-V':
    case 'get-OV': {
      const kind = id.slice(4);
      const v = valueOf(kind, 12345);
      return [auxRow(`aux-structuredClone-${kind}`, () => structuredClone(v))];
    }
    case 'get-C': {
      const text = JSON.stringify(valueOf('C', 12345));
      return [auxRow('aux-JSON.parse-C', () => JSON.parse(text))];
    }
    case 'get-N': {
      const { Packr } = require('msgpackr');
      const packr = new Packr();
      const bytes = packr.pack(valueOf('N', 12345));
      return [auxRow('aux-msgpackr-unpack-N', () => packr.unpack(bytes))];
    }
    default:
      return [];
  }
}

async function throughput(w, pool) {
  await pool.ensure(w.threads);
  const ctlBuf = new SharedArrayBuffer(16);
  const ctl = new Int32Array(ctlBuf);
  const entries = pool.workers.slice(0, w.threads);
  // More threads than cores: each gets a share of the CPU, so the warm-up
  // (wall time) grows with the oversubscription to give the JIT as much.
  const warm = warmupMs * Math.max(1, w.threads / os.cpus().length);
  entries.forEach((e, i) =>
    e.w.postMessage({ cmd: 'run', workload: w, ctl: ctlBuf, warmupMs: warm, seed: trial * 100 + 10 + i }),
  );
  const done = [];
  try {
    for (const e of entries) await pool.expect(e, 'arrived');
    Atomics.store(ctl, 1, 1); // go
    Atomics.notify(ctl, 1);
    sleepMs(durationMs);
    Atomics.store(ctl, 2, 1); // stop
    for (const e of entries) done.push(await pool.expect(e, 'done'));
  } catch (err) {
    // Release any worker still waiting at the barrier, then report.
    Atomics.store(ctl, 2, 1);
    Atomics.store(ctl, 1, 1);
    Atomics.notify(ctl, 1);
    throw err;
  }
  let ops = 0;
  let hits = 0;
  let t0 = null;
  let t1 = null;
  for (const d of done) {
    ops += d.ops;
    hits += d.hits;
    const a = BigInt(d.t0);
    const b = BigInt(d.t1);
    if (t0 === null || a < t0) t0 = a;
    if (t1 === null || b > t1) t1 = b;
  }
  const ns = Number(t1 - t0);
  return { id: w.id, ops, hits, ns, nsPerOp: ns / ops, mops: (ops / ns) * 1e3, threads: w.threads };
}

let state = null;

async function main() {
  const kinds = [...new Set(workloads.filter((w) => c.supports(w.kind)).map((w) => w.kind))];
  state = await c.create({ kinds, redisPort: Number(args['redis-port'] || 0) });
  const keys = makeKeys();
  const adapters = new Map();
  const results = [];
  const pool = new Pool(state.share);
  try {
    for (const w of workloads.filter((x) => x.threads === 0)) {
      results.push(c.supports(w.kind) ? await latency(w, adapters, keys) : { id: w.id, skipped: true });
      if (w.id === 'get-M' && c.id === 'threadkv') results.push(deserializeAlone());
      if (c.id === 'threadkv') results.push(...valueReferences(w.id));
    }
    for (const w of workloads.filter((x) => x.threads > 0)) {
      results.push(c.supports(w.kind) ? await throughput(w, pool) : { id: w.id, skipped: true });
    }
  } finally {
    await pool.close();
    for (const a of adapters.values()) if (typeof a.close === 'function') await a.close();
    await c.destroy(state);
  }
  process.stdout.write(JSON.stringify({ contender: c.id, trial, results }) + '\n');
}

main().then(
  () => process.exit(0),
  (err) => {
    process.stderr.write(String((err && err.stack) || err) + '\n');
    if (state) Promise.resolve(c.destroy(state)).catch(() => {});
    process.exit(1);
  },
);
