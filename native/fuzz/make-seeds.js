#!/usr/bin/env node
'use strict';
// Writes the named, hand-made seeds of corpus/core and corpus/table: inputs
// that reach what random mutation finds slowly (every JSON text through a
// json store's increment, SIEVE churn under both limits, expiry with sweeps
// and purges, growth to thousands of keys and back, a killed store, the
// huge-table path). The rest of each corpus is what fuzzing found (hash
// names). The byte layout is the decoder's (README.md, core_harness.cc and
// table_harness.cc): change both together. Usage: node native/fuzz/make-seeds.js
const fs = require('node:fs');
const path = require('node:path');

const OP = {
  put: 0, putReplaced: 1, read: 2, has: 3, erase: 4, eraseRemoved: 5, insert: 6, insertOrRead: 7,
  compareAndPut: 8, compareAndErase: 9, increment: 10, readMany: 11, putMany: 12, eraseMany: 13,
  scan: 14, clear: 15, sizes: 16, stats: 17, expire: 18, sweep: 19, bulkPut: 20, bulkErase: 21,
  fullCheck: 22, advanceClock: 23, kill: 26,
};
// Key selectors (DecodeKey): small pool k0..k23, the colliding pool, m<n>.
const small = (i) => [i % 24];
const collide = (i) => [112 + (i % 48)];
const m = (n) => [160, n & 255];
// Values (DecodeValue).
const shortBytes = (len, c = 0x61) => [0, len, c];
const longBytes = (len) => [3, len & 255, len >> 8];
const text = (index, flags = 0) => [4, (index % 32) | (flags << 5)];
const int64 = (index) => [5, index % 128];
const float64 = (index) => [6, index % 160];
const TRUE = [7];
// Expiry (DecodeExpiry).
const DEFAULT = [0];
const NEVER = [128];
const FAR = [180];
const NEAR = (ms) => [199 + Math.min(Math.max(ms, 1), 24)]; // 1-24 ms ahead on the fake clock
const PAST = [230];
const u16 = (n) => [n & 255, (n >> 8) & 255];

// Header: shards code, policy/codec/limits/ttl byte, maxEntries - 1, maxBytes - 64.
// ttl: 0 none, 1 20 ms, 2 about 11.6 days, 3 saturating.
function header({ shards = 1, sieve = false, json = false, maxEntries = 0, maxBytes = 0, ttl = 0 } = {}) {
  const shardsCode = shards === 64 ? 7 << 2 : Math.log2(shards);
  const limits = (maxEntries ? 1 : 0) | (maxBytes ? 2 : 0);
  return [
    shardsCode,
    (sieve ? 1 : 0) | (json ? 2 : 0) | (limits << 2) | (ttl << 4),
    maxEntries ? maxEntries - 1 : 0,
    ...u16(maxBytes ? maxBytes - 64 : 0),
  ];
}

const core = {
  'put-read': [...header(), OP.put, ...small(0), ...shortBytes(3), ...DEFAULT, OP.read, ...small(0)],
  // Text (JSON numbers among it) is not a counter; numbers of every edge.
  'json-increments': (() => {
    const out = header({ json: true });
    for (let t = 0; t < 32; ++t) {
      out.push(OP.put, ...small(t), ...text(t, t % 3 === 2 ? 1 : 0), ...(t % 2 ? FAR : DEFAULT));
      out.push(OP.increment, ...small(t), t % 24);
    }
    for (let t = 0; t < 20; ++t) {
      out.push(OP.put, ...m(t), ...(t % 2 ? int64(t) : float64(t)), ...DEFAULT);
      for (let d = 0; d < 3; ++d) out.push(OP.increment, ...m(t), (t * 3 + d) % 24);
    }
    out.push(OP.increment, ...small(5), 200, ...u16(0xfff0), OP.fullCheck);
    return out;
  })(),
  // Near deadlines passing as the fake clock moves: reads, writes and
  // batches meeting expired entries, purges under a full shard, sweeps.
  clock: (() => {
    const out = header({ shards: 2, maxEntries: 10, maxBytes: 1500, ttl: 1 });
    for (let i = 0; i < 20; ++i) out.push(OP.put, ...small(i), ...shortBytes(i % 9), ...[NEAR(i + 1), DEFAULT, FAR, NEAR(3)][i % 4]);
    for (let step = 0; step < 8; ++step) {
      out.push(OP.advanceClock, ...u16(3 + step * 2), OP.stats);
      for (let i = 0; i < 20; i += 3) out.push(OP.read, ...small(i + step));
      out.push(OP.put, ...m(step), ...longBytes(100 + 20 * step), ...NEAR(5), OP.increment, ...small(step), 0);
      out.push(OP.expire, ...small(step + 5), 130 + step, OP.insert, ...small(step + 1), ...TRUE, ...DEFAULT);
      out.push(OP.putMany, 1 | (1 << 1), ...small(step), ...TRUE, ...NEAR(2), ...m(step + 50), ...TRUE, ...DEFAULT);
      if (step % 3 === 2) out.push(OP.sweep, ...u16(step * 5));
    }
    out.push(OP.advanceClock, 0xff, 0xff, OP.sweep, 0, 1, OP.sizes, OP.fullCheck);
    return out;
  })(),
  'sieve-churn': (() => {
    const out = header({ shards: 2, sieve: true, maxEntries: 16, maxBytes: 2064 });
    out.push(OP.bulkPut, ...u16(199), 3, 8, ...DEFAULT);
    for (let i = 0; i < 24; ++i) out.push(OP.read, ...small(i), OP.put, ...small(i), ...shortBytes(i), ...DEFAULT);
    for (let i = 0; i < 8; ++i) out.push(OP.put, ...m(i), ...longBytes(300 + 40 * i), ...DEFAULT);
    out.push(OP.putMany, 1 | (5 << 1));
    for (let i = 0; i < 6; ++i) out.push(...collide(i), ...shortBytes(4), ...DEFAULT);
    out.push(OP.putMany, 0 | (7 << 1));
    for (let i = 0; i < 8; ++i) out.push(...small(i % 3), ...shortBytes(i), ...DEFAULT);
    out.push(OP.insertOrRead, ...small(1), ...TRUE, ...DEFAULT, OP.increment, ...m(200), 0, OP.stats, OP.fullCheck);
    return out;
  })(),
  'ttl-mix': (() => {
    const out = header({ shards: 4, maxEntries: 12, maxBytes: 3000 });
    for (let i = 0; i < 24; ++i) out.push(OP.put, ...small(i), ...shortBytes(i % 7), ...[PAST, FAR, NEVER, DEFAULT][i % 4]);
    out.push(OP.stats, OP.sizes);
    for (let i = 0; i < 12; ++i) out.push(OP.expire, ...small(i), [10, 100, 200, 250][i % 4]);
    out.push(OP.bulkPut, ...u16(40), 1, 130, ...PAST, OP.put, ...m(1), ...longBytes(1200), ...DEFAULT);
    out.push(OP.compareAndPut, ...small(3), 1, ...shortBytes(2), ...PAST, OP.sweep, ...u16(7), OP.stats);
    out.push(OP.clear, OP.sweep, ...u16(300), OP.put, ...small(0), ...shortBytes(1), ...FAR, OP.fullCheck);
    return out;
  })(),
  'grow-shrink': (() => {
    const out = header();
    out.push(OP.bulkPut, ...u16(1023), 0, 4, ...DEFAULT, OP.sizes);
    for (let i = 0; i < 48; ++i) out.push(OP.put, ...collide(i), ...shortBytes(i % 5), ...DEFAULT);
    for (let i = 0; i < 48; i += 2) out.push(OP.erase, ...collide(i));
    out.push(OP.scan, 0, 1, ...collide(3), 1, OP.bulkErase, ...u16(1023), 0, OP.sizes, OP.fullCheck);
    out.push(OP.eraseMany, 1 | (7 << 1), ...collide(1), ...collide(5), ...collide(9), ...collide(13), ...small(0), ...small(1), ...small(1), ...small(2));
    return out;
  })(),
  'kill': (() => {
    const out = header({ shards: 8, sieve: true, maxEntries: 64 });
    for (let i = 0; i < 10; ++i) out.push(OP.put, ...small(i), ...shortBytes(3), ...DEFAULT);
    out.push(OP.kill, 0);
    out.push(OP.read, ...small(1), OP.put, ...small(2), ...shortBytes(1), ...DEFAULT, OP.insert, ...small(3), ...TRUE, ...DEFAULT);
    out.push(OP.increment, ...small(4), 0, OP.readMany, 2, ...small(0), ...small(1), ...small(2));
    out.push(OP.putMany, 1 | (1 << 1), ...small(5), ...TRUE, ...DEFAULT, ...small(6), ...TRUE, ...DEFAULT);
    out.push(OP.eraseMany, 0, ...small(0), OP.scan, 3, 0, OP.scan, 8, 0, OP.clear, OP.sizes, OP.stats, OP.sweep, 1, 0);
    return out;
  })(),
};

// Table: header (mode, mode argument), then operations (% 16).
const T = {
  upsert: 0, find: 3, erase: 4, reserve: 6, bulkUpsert: 7, bulkErase: 8, checkAll: 9, sweepWalk: 10, drain: 11, move: 12,
  walkWhileWriting: 13,
};
const tkey = (i) => [i % 128];
const table = {
  'upsert-find': [0, 0, T.upsert, 0, T.find, 0],
  'huge-path': [1, 0, T.bulkUpsert, ...u16(600), 0, T.checkAll, T.sweepWalk, 1, 0, T.bulkErase, ...u16(300), 0, T.checkAll,
    T.reserve, ...u16(400), T.bulkUpsert, ...u16(350), 5, T.move, T.checkAll, T.drain, T.checkAll],
  'collisions': (() => {
    const out = [3, 1];
    for (let i = 0; i < 40; ++i) out.push(T.upsert, ...tkey(i));
    for (let i = 0; i < 40; i += 3) out.push(T.erase, ...tkey(i));
    out.push(T.checkAll, T.sweepWalk, 2, 1, T.checkAll);
    for (let i = 0; i < 40; ++i) out.push(T.find, ...tkey(i));
    return out;
  })(),
  'tag-collisions': (() => {
    const out = [2, 2];
    out.push(T.bulkUpsert, ...u16(200), 1);
    for (let i = 0; i < 32; ++i) out.push(T.upsert, ...tkey(i), T.erase, ...tkey(i + 1));
    out.push(T.sweepWalk, 3, 0, T.bulkErase, ...u16(200), 1, T.checkAll);
    return out;
  })(),
  // Tiny migration steps (1 slot, 1 move: header bits 2-3 = 1): growth and
  // shrink migrations across many operations, a walk in 3-slot calls with
  // bulk upserts (3) and erases (4) and single writes (1, 2) between them
  // (round byte = what + 5 * bulk base).
  'migrating-walk': (() => {
    const out = [0 | (1 << 2), 0, T.bulkUpsert, ...u16(700), 0, T.checkAll, T.walkWhileWriting, 2, 3, 1];
    for (let i = 0; i < 24; ++i) {
      const w = [3, 1, 0, 4, 2][i % 5];
      out.push(w + 5 * (i % 8), ...(w === 1 || w === 2 ? tkey(i) : []));
    }
    out.push(T.checkAll, T.bulkErase, ...u16(650), 0, T.walkWhileWriting, 40, 2, 0, 0, 0, 4 + 5, T.checkAll);
    return out;
  })(),
};

for (const [target, seeds] of Object.entries({ core, table })) {
  const dir = path.join(__dirname, 'corpus', target);
  fs.mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(seeds)) {
    fs.writeFileSync(path.join(dir, name), Buffer.from(bytes));
    console.log(`corpus/${target}/${name}: ${bytes.length} bytes`);
  }
}
