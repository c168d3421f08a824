'use strict';
// A benchmark worker thread: attaches to its contender's shared data (or
// builds its private copy, for Map), then on each 'run' command warms up,
// meets the others at the SharedArrayBuffer barrier, runs until the stop flag
// and reports its op count and the monotonic clock at start and end.

const { parentPort, workerData } = require('node:worker_threads');
const { keyCount, makeKeys, makeSequence, makeWritePool, freshLoop, stopAfter } = require('./common');
const { contender } = require('./contenders');

// ctl (Int32Array on a SharedArrayBuffer): [arrived, go, stop]
const ARRIVED = 0;
const GO = 1;
const STOP = 2;

const c = contender(workerData.contender);
const keys = makeKeys();
const adapters = new Map();

async function adapterFor(kind) {
  let a = adapters.get(kind);
  if (!a) {
    a = await c.adapter(kind, workerData.share, workerData.index);
    adapters.set(kind, a);
  }
  return a;
}

async function run(msg) {
  const w = msg.workload;
  const a = await adapterFor(w.kind);
  const seq = makeSequence({ dist: w.dist, writeFrac: w.writeFrac, seed: msg.seed, n: keyCount(w.kind) });
  const pool = makeWritePool(w.kind, workerData.index);
  const loop = freshLoop(!!c.async);
  const ctl = new Int32Array(msg.ctl);
  const warm = await loop(a, keys, seq, pool, 0, stopAfter(msg.warmupMs));
  Atomics.add(ctl, ARRIVED, 1);
  parentPort.postMessage({ type: 'arrived' });
  while (Atomics.load(ctl, GO) === 0) Atomics.wait(ctl, GO, 0);
  const t0 = process.hrtime.bigint();
  const r = await loop(a, keys, seq, pool, warm.next, () => Atomics.load(ctl, STOP) !== 0);
  const t1 = process.hrtime.bigint();
  parentPort.postMessage({ type: 'done', ops: r.ops, hits: r.hits, t0: String(t0), t1: String(t1) });
}

parentPort.on('message', (msg) => {
  if (msg.cmd === 'run') {
    run(msg).catch((err) => parentPort.postMessage({ type: 'error', message: String((err && err.stack) || err) }));
  } else if (msg.cmd === 'exit') {
    (async () => {
      for (const a of adapters.values()) if (typeof a.close === 'function') await a.close();
      parentPort.postMessage({ type: 'closed' });
      parentPort.close();
    })().catch(() => parentPort.close());
  }
});

parentPort.postMessage({ type: 'ready' });
