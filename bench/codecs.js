'use strict';
// Codec costs, measured apart from the store, and msgpackr's structured-clone
// fidelity.
//
//   node bench/codecs.js [--quick] [--rounds=5] [--ms=100] [--json]
//
// 1. The codec functions alone (JS), encode and decode, S and M: the `v8`
//    module, threadkv's own v8 decode (a deserializer that copies typed arrays
//    out of the reused scratch buffer), JSON, msgpackr (default and
//    structured-clone mode). threadkv's `string` and `buffer` codecs do no JS
//    work (the bytes are copied natively), so for them part 2 is the figure.
// 2. Through the store: threadkv set and get of one hot key (no cache misses)
//    per codec: what the codec plus the N-API call cost end to end.
// 3. Fidelity: which structured-clonable values msgpackr's structured-clone
//    mode does not round-trip like the structured clone algorithm (v8), with
//    threadkv's default codec as a control.
// Cells are medians of `rounds` interleaved rounds (min–max shown).

const v8 = require('node:v8');
const path = require('node:path');
const { Packr } = require('msgpackr');
const { Store } = require('threadkv');
const { deserializeCopy } = require(path.join(__dirname, '..', 'dist', 'codec.js'));
const { valueS, valueM } = require('./lib/common');
const { summary, fmt, parseArgs, textTable, timeLoop } = require('./lib/stats');

const args = parseArgs(process.argv.slice(2));
const quick = !!args.quick;
const rounds = Number(args.rounds || (quick ? 2 : 5));
const ms = Number(args.ms || (quick ? 30 : 100));

const S = valueS(12345);
const M = valueM(12345);
const packr = new Packr();
const packrSC = new Packr({ structuredClone: true });

let sink = 0;
const consume = (x) => {
  if (x === 1234.5678) sink++;
};

// name -> { enc(value) -> encoded, dec(encoded) -> value }
const CODECS = [
  { name: 'v8 module (v8.serialize / v8.deserialize)', enc: (v) => v8.serialize(v), dec: (b) => v8.deserialize(b) },
  {
    name: 'threadkv v8 codec (v8.serialize / copying deserializer)',
    enc: (v) => v8.serialize(v),
    dec: (b) => deserializeCopy(b),
    note: 'for S the store keeps strings natively and skips both',
  },
  { name: 'JSON (stringify / parse)', enc: (v) => JSON.stringify(v), dec: (s) => JSON.parse(s) },
  { name: 'msgpackr (default)', enc: (v) => packr.pack(v), dec: (b) => packr.unpack(b) },
  { name: 'msgpackr structuredClone', enc: (v) => packrSC.pack(v), dec: (b) => packrSC.unpack(b) },
];

function codecTimes() {
  const cells = new Map(); // key -> [ns...]
  const push = (k, x) => (cells.has(k) ? cells.get(k) : cells.set(k, []).get(k)).push(x);
  for (let r = 0; r < rounds; r++) {
    for (const c of CODECS) {
      for (const [kind, value] of [
        ['S', S],
        ['M', M],
      ]) {
        const encoded = c.enc(value);
        // Decode from a Uint8Array view at offset 0 of its own buffer, like the
        // store's scratch buffer.
        const bytes = typeof encoded === 'string' ? encoded : new Uint8Array(encoded);
        if (r === 0) {
          timeLoop(() => consume(c.enc(value)), ms / 2);
          timeLoop(() => consume(c.dec(bytes)), ms / 2);
        }
        push(`${c.name}|${kind}|enc`, timeLoop(() => consume(c.enc(value)), ms));
        push(`${c.name}|${kind}|dec`, timeLoop(() => consume(c.dec(bytes)), ms));
        push(`${c.name}|${kind}|size`, typeof encoded === 'string' ? Buffer.byteLength(encoded) : encoded.length);
      }
    }
  }
  return CODECS.map((c) => {
    const row = { codec: c.name, note: c.note };
    for (const kind of ['S', 'M']) {
      row[kind] = {
        enc: summary(cells.get(`${c.name}|${kind}|enc`)),
        dec: summary(cells.get(`${c.name}|${kind}|dec`)),
        bytes: cells.get(`${c.name}|${kind}|size`)[0],
      };
    }
    return row;
  });
}

// ---- through the store ------------------------------------------------------

const STORE_CASES = [
  { codec: 'v8', S: S, M: M, what: 'S as a native string; M in the object format' },
  { codec: 'json', S: S, M: M, what: 'JSON text' },
  { codec: 'string', S: S, M: JSON.stringify(M), what: 'M given as its JSON text (no parse on get)' },
  { codec: 'buffer', S: Buffer.from(S), M: v8.serialize(M), what: 'S as UTF-8 bytes, M as v8 bytes (no decode on get)' },
];

function storeTimes() {
  const cells = new Map();
  const push = (k, x) => (cells.has(k) ? cells.get(k) : cells.set(k, []).get(k)).push(x);
  const stores = STORE_CASES.map((c) => Store.open(`codecs-bench-${c.codec}`, { codec: c.codec }));
  for (let r = 0; r < rounds; r++) {
    STORE_CASES.forEach((c, i) => {
      const s = stores[i];
      for (const kind of ['S', 'M']) {
        const key = `hot:${kind}`;
        const value = c[kind];
        s.set(key, value);
        if (r === 0) {
          timeLoop(() => s.set(key, value), ms / 2);
          timeLoop(() => consume(s.get(key)), ms / 2);
        }
        push(`${c.codec}|${kind}|set`, timeLoop(() => s.set(key, value), ms));
        push(`${c.codec}|${kind}|get`, timeLoop(() => consume(s.get(key)), ms));
      }
    });
  }
  return STORE_CASES.map((c) => ({
    codec: c.codec,
    what: c.what,
    S: { set: summary(cells.get(`${c.codec}|S|set`)), get: summary(cells.get(`${c.codec}|S|get`)) },
    M: { set: summary(cells.get(`${c.codec}|M|set`)), get: summary(cells.get(`${c.codec}|M|get`)) },
  }));
}

// ---- fidelity -----------------------------------------------------------------

function fidelityValues() {
  const cyc = { name: 'root' };
  cyc.self = cyc;
  const cycArr = [1];
  cycArr.push(cycArr);
  const cycMap = new Map();
  cycMap.set('me', cycMap);
  const nested = { a: { b: {} } };
  nested.a.b.up = nested.a;
  const shared = { x: 1 };
  const sparse = [1, , 3]; // eslint-disable-line no-sparse-arrays
  const sparseBig = [];
  sparseBig[9] = 'last';
  const withProps = [1, 2];
  withProps.extra = 'prop';
  return [
    ['Map', new Map([[1, 'one'], ['k', { v: [1, 2] }], [{ objKey: true }, 'object key']])],
    ['Set', new Set([1, 'two', { three: 3 }])],
    ['Date', new Date(1700000000123)],
    ['invalid Date', new Date(NaN)],
    ['RegExp with flags', /ab+c/gimsuy],
    ['Uint8Array', new Uint8Array([1, 2, 255])],
    ['Int16Array', new Int16Array([-1, 2, -300])],
    ['Float32Array', new Float32Array([1.5, -0, NaN])],
    ['Float64Array', new Float64Array([Math.PI, -0, Infinity])],
    ['BigInt64Array', new BigInt64Array([1n, -(2n ** 63n)])],
    ['Uint8Array view at an offset', new Uint8Array(new Uint8Array([9, 8, 7, 6, 5]).buffer, 1, 3)],
    ['DataView', new DataView(new Uint8Array([1, 2, 3, 4]).buffer)],
    ['ArrayBuffer', new Uint8Array([4, 5, 6]).buffer],
    ['BigInt small', 123n],
    ['BigInt large', 2n ** 100n + 7n],
    ['negative BigInt', -(2n ** 70n)],
    ['-0', -0],
    ['-0 in an object', { z: -0 }],
    ['NaN', NaN],
    ['Infinity', -Infinity],
    ['undefined', undefined],
    ['undefined in an array', [1, undefined, 3]],
    ['undefined property', { a: undefined, b: 1 }],
    ['sparse array [1, , 3]', sparse],
    ['sparse array, only index 9 set', sparseBig],
    ['array with a named property', withProps],
    ['object cycle', cyc],
    ['array cycle', cycArr],
    ['Map holding itself', cycMap],
    ['nested cycle (child points to parent)', nested],
    ['shared reference (same object twice)', { a: shared, b: shared }],
    ['boxed primitives', [Object(1), Object('s'), Object(true), Object(5n)]],
    ['Error', Object.assign(new RangeError('bad'), { stack: 'RangeError: bad' })],
    ['nested Map of Sets of Dates', new Map([['s', new Set([new Date(0), new Date(86400000)])]])],
    ['object with numeric keys', { 1: 'a', 0: 'b', x: 'c' }],
    ['lone surrogate string', 'a\ud800b'],
  ];
}

function tagOf(x) {
  return Object.prototype.toString.call(x);
}

/** First difference between a (original) and b (copy), or null. */
function diff(a, b, where = '$', seen = new Map()) {
  if (typeof a !== typeof b) return `${where}: ${typeof a} became ${typeof b}${b === undefined || b === null ? '' : ` (${tagOf(b)})`}`;
  if (a === null || typeof a !== 'object') {
    if (Object.is(a, b)) return null;
    return `${where}: ${fmtPrim(a)} became ${fmtPrim(b)}`;
  }
  if (b === null) return `${where}: object became null`;
  if (seen.has(a)) return seen.get(a) === b ? null : `${where}: a shared/cyclic reference became a separate copy`;
  seen.set(a, b);
  if (tagOf(a) !== tagOf(b)) return `${where}: ${tagOf(a)} became ${tagOf(b)}`;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b) && a.constructor && b.constructor && a.constructor.name !== b.constructor.name)
    return `${where}: ${a.constructor.name} became ${b.constructor.name}`;
  if (a instanceof Date) return Object.is(a.getTime(), b.getTime()) ? null : `${where}: Date ${a.getTime()} became ${b.getTime()}`;
  if (a instanceof RegExp) return a.source === b.source && a.flags === b.flags ? null : `${where}: ${a} became ${b}`;
  if (a instanceof Error) {
    if (a.name !== b.name || a.message !== b.message) return `${where}: ${a.name}('${a.message}') became ${b.name}('${b.message}')`;
    return null;
  }
  if (a instanceof Number || a instanceof String || a instanceof Boolean || a instanceof BigInt)
    return Object.is(a.valueOf(), b.valueOf()) ? null : `${where}: boxed ${a.valueOf()} became ${b.valueOf()}`;
  if (a instanceof ArrayBuffer) return diffBytes(new Uint8Array(a), new Uint8Array(b), where);
  if (ArrayBuffer.isView(a)) {
    if (a.byteLength !== b.byteLength) return `${where}: byteLength ${a.byteLength} became ${b.byteLength}`;
    if (a instanceof DataView) return diffBytes(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), new Uint8Array(b.buffer, b.byteOffset, b.byteLength), where);
    for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return `${where}[${i}]: ${fmtPrim(a[i])} became ${fmtPrim(b[i])}`;
    return null;
  }
  if (a instanceof Map) {
    if (a.size !== b.size) return `${where}: Map size ${a.size} became ${b.size}`;
    const ea = [...a];
    const eb = [...b];
    for (let i = 0; i < ea.length; i++) {
      const d = diff(ea[i][0], eb[i][0], `${where}.key#${i}`, seen) || diff(ea[i][1], eb[i][1], `${where}.get(${fmtKey(ea[i][0])})`, seen);
      if (d) return d;
    }
    return null;
  }
  if (a instanceof Set) {
    if (a.size !== b.size) return `${where}: Set size ${a.size} became ${b.size}`;
    const ea = [...a];
    const eb = [...b];
    for (let i = 0; i < ea.length; i++) {
      const d = diff(ea[i], eb[i], `${where}#${i}`, seen);
      if (d) return d;
    }
    return null;
  }
  if (Array.isArray(a)) {
    if (a.length !== b.length) return `${where}: length ${a.length} became ${b.length}`;
    for (let i = 0; i < a.length; i++) {
      if (i in a !== i in b) return `${where}[${i}]: ${i in a ? 'element' : 'hole'} became ${i in b ? 'an undefined element' : 'a hole'}`;
    }
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  for (const k of ka) if (!Object.prototype.hasOwnProperty.call(b, k)) return `${where}.${k}: property lost`;
  for (const k of kb) if (!Object.prototype.hasOwnProperty.call(a, k)) return `${where}.${k}: property added`;
  for (const k of ka) {
    const d = diff(a[k], b[k], Array.isArray(a) ? `${where}[${k}]` : `${where}.${k}`, seen);
    if (d) return d;
  }
  return null;
}

function diffBytes(x, y, where) {
  if (x.length !== y.length) return `${where}: ${x.length} bytes became ${y.length}`;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return `${where}: byte ${i} differs`;
  return null;
}

function fmtPrim(x) {
  if (typeof x === 'bigint') return `${x}n`;
  if (Object.is(x, -0)) return '-0';
  if (typeof x === 'string') return JSON.stringify(x);
  return String(x);
}

function fmtKey(k) {
  return typeof k === 'object' && k !== null ? '{…}' : fmtPrim(k);
}

function roundTrip(fn, value) {
  try {
    return { value: fn(value) };
  } catch (err) {
    return { error: String(err.message || err).split('\n')[0] };
  }
}

function fidelity() {
  const store = Store.open('codecs-bench-fidelity');
  const methods = [
    ['v8 (structured clone)', (v) => v8.deserialize(v8.serialize(v))],
    ['threadkv default codec', (v) => (store.set('f', v), store.get('f'))],
    ['msgpackr structuredClone', (v) => packrSC.unpack(packrSC.pack(v))],
  ];
  return fidelityValues().map(([name, value]) => {
    const row = { value: name };
    for (const [m, fn] of methods) {
      const r = roundTrip(fn, value);
      row[m] = r.error ? `throws: ${r.error}` : diff(value, r.value) || 'same';
    }
    return row;
  });
}

function run() {
  const codec = codecTimes();
  const store = storeTimes();
  const fid = fidelity();
  return { rounds, ms, codec, store, fidelity: fid, sink };
}

function cell(s) {
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function print(r) {
  console.log(`Codec functions alone, ns per call (median of ${r.rounds} rounds of ${r.ms} ms, min–max):`);
  console.log(
    textTable(
      ['codec', 'S encode', 'S decode', 'M encode', 'M decode', 'S bytes', 'M bytes'],
      r.codec.map((c) => [c.codec, cell(c.S.enc), cell(c.S.dec), cell(c.M.enc), cell(c.M.dec), c.S.bytes, c.M.bytes]),
    ),
  );
  console.log('\nThrough threadkv (one hot key), ns per call:');
  console.log(
    textTable(
      ['codec', 'S set', 'S get', 'M set', 'M get', 'values'],
      r.store.map((c) => [c.codec, cell(c.S.set), cell(c.S.get), cell(c.M.set), cell(c.M.get), c.what]),
    ),
  );
  const differs = r.fidelity.filter((f) => f['msgpackr structuredClone'] !== 'same');
  console.log(`\nFidelity: msgpackr structuredClone differs from the structured clone algorithm on ${differs.length} of ${r.fidelity.length} values:`);
  for (const f of differs) console.log(`  ${f.value}: ${f['msgpackr structuredClone']}`);
  const ctl = r.fidelity.filter((f) => f['threadkv default codec'] !== f['v8 (structured clone)']);
  if (ctl.length) {
    console.log('\nthreadkv default codec differs from v8.serialize/deserialize on:');
    for (const f of ctl) console.log(`  ${f.value}: ${f['threadkv default codec']} (v8: ${f['v8 (structured clone)']})`);
  }
}

if (require.main === module) {
  const r = run();
  if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
  else print(r);
}

module.exports = { run, print };
