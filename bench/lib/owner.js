'use strict';
// The "owner thread" store: one worker owns a plain Map per kind; every other
// thread calls it synchronously through a SharedArrayBuffer channel of its
// own and sleeps in Atomics.wait until the owner answers. Values travel as
// UTF-8 text (S as is, M as JSON). This is what a user can build today with
// no native code.

const { Worker, isMainThread, workerData } = require('node:worker_threads');

const CHANNELS = 16; // main thread + up to 15 workers
const HDR = 8; // int32s per channel header
const DATA = 16384; // bytes per channel
// ctl[0]: doorbell (bumped by every request), ctl[1]: shutdown
// channel c header at int32 index 8 + c*HDR: [state, op, kind, keyLen, valLen]
const ST_IDLE = 0;
const ST_REQ = 1;
const ST_DONE = 2;
const OP_GET = 1;
const OP_SET = 2;

function layout(sab) {
  const i32 = new Int32Array(sab, 0, 8 + CHANNELS * HDR);
  const dataOff = i32.byteLength;
  const buf = Buffer.from(sab, dataOff, CHANNELS * DATA);
  return { i32, buf };
}

function start(kinds) {
  const sab = new SharedArrayBuffer((8 + CHANNELS * HDR) * 4 + CHANNELS * DATA);
  const ready = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(__filename, { workerData: { threadkvBenchOwner: true, sab, ready: ready.buffer, kinds: [...kinds] } });
  worker.unref();
  // Wait (blocking) until the owner has preloaded its maps.
  while (Atomics.load(ready, 0) === 0) Atomics.wait(ready, 0, 0, 100);
  if (Atomics.load(ready, 0) !== 1) throw new Error('owner thread failed to start');
  return { share: { sab }, worker };
}

function stop(state) {
  const { i32 } = layout(state.share.sab);
  Atomics.store(i32, 1, 1);
  Atomics.add(i32, 0, 1);
  Atomics.notify(i32, 0);
  state.worker.terminate();
}

function client(share, idx, kind) {
  if (idx >= CHANNELS) throw new Error('owner: too many threads');
  const { i32, buf } = layout(share.sab);
  const h = 8 + idx * HDR;
  const off = idx * DATA;
  const k = kind === 'M' ? 1 : 0;
  const call = (op, key, value) => {
    const keyLen = buf.write(key, off, 'utf8');
    let valLen = 0;
    if (value !== undefined) valLen = buf.write(value, off + keyLen, 'utf8');
    i32[h + 1] = op;
    i32[h + 2] = k;
    i32[h + 3] = keyLen;
    i32[h + 4] = valLen;
    Atomics.store(i32, h, ST_REQ);
    Atomics.add(i32, 0, 1);
    Atomics.notify(i32, 0, 1);
    while (Atomics.load(i32, h) === ST_REQ) Atomics.wait(i32, h, ST_REQ);
    const len = i32[h + 4];
    Atomics.store(i32, h, ST_IDLE);
    if (op !== OP_GET || len < 0) return undefined;
    return buf.toString('utf8', off, off + len);
  };
  if (kind === 'S') {
    return {
      get: (key) => call(OP_GET, key),
      set(key, v) {
        call(OP_SET, key, v);
      },
    };
  }
  return {
    get(key) {
      const s = call(OP_GET, key);
      return s === undefined ? undefined : JSON.parse(s);
    },
    set(key, v) {
      call(OP_SET, key, JSON.stringify(v));
    },
  };
}

function ownerMain() {
  const { NKEYS, keyOf, valueOf } = require('./common');
  const ready = new Int32Array(workerData.ready);
  const maps = [new Map(), new Map()];
  try {
    for (const kind of workerData.kinds) {
      const m = maps[kind === 'M' ? 1 : 0];
      for (let i = 0; i < NKEYS; i++) {
        const v = valueOf(kind, i);
        m.set(keyOf(i), kind === 'M' ? JSON.stringify(v) : v);
      }
    }
  } catch (err) {
    Atomics.store(ready, 0, 2);
    Atomics.notify(ready, 0);
    throw err;
  }
  const { i32, buf } = layout(workerData.sab);
  Atomics.store(ready, 0, 1);
  Atomics.notify(ready, 0);
  for (;;) {
    const bell = Atomics.load(i32, 0);
    if (Atomics.load(i32, 1) === 1) return;
    let served = 0;
    for (let c = 0; c < CHANNELS; c++) {
      const h = 8 + c * HDR;
      if (Atomics.load(i32, h) !== ST_REQ) continue;
      const off = c * DATA;
      const m = maps[i32[h + 2]];
      const keyLen = i32[h + 3];
      const key = buf.toString('utf8', off, off + keyLen);
      if (i32[h + 1] === OP_SET) {
        m.set(key, buf.toString('utf8', off + keyLen, off + keyLen + i32[h + 4]));
      } else {
        const v = m.get(key);
        i32[h + 4] = v === undefined ? -1 : buf.write(v, off, 'utf8');
      }
      Atomics.store(i32, h, ST_DONE);
      Atomics.notify(i32, h, 1);
      served++;
    }
    if (served === 0) Atomics.wait(i32, 0, bell);
  }
}

if (!isMainThread && workerData && workerData.threadkvBenchOwner === true) ownerMain();

module.exports = { start, stop, client };
