'use strict';
// The "measured cause" column of the Targets table: built from numbers
// measured in the same run (the callgrind profile, the C++ table, the codec
// and memory figures), so it stays true when the results change.

const { fmt } = require('./stats');

function profCase(ctx, id) {
  const p = ctx.profile;
  if (!p || !p.cases) return null;
  return p.cases.find((c) => c.id === id) || null;
}

function cat(c, re) {
  if (!c) return 0;
  return c.categories.filter((x) => re.test(x.name)).reduce((s, x) => s + x.perOp, 0);
}

function getBreakdown(ctx, id) {
  const c = profCase(ctx, id);
  const m = profCase(ctx, 'map-S');
  if (!c || !m) return '';
  const parts = [
    ['N-API call plumbing', cat(c, /^N-API/)],
    ['key → WTF-8 + hash', cat(c, /^JS string/)],
    ['result string out (incl. the copy under the lock)', cat(c, /^value out/)],
    ['binding + core (probe, copy)', cat(c, /^threadkv binding/)],
    ['rwlock', cat(c, /^lock/)],
    ['GC', cat(c, /^GC/)],
  ]
    .filter(([, x]) => x >= 1)
    .map(([n, x]) => `${n} ${fmt(x)}`)
    .join(', ');
  return `callgrind: ${fmt(c.perOp)} instructions per get vs ${fmt(m.perOp)} for Map.get (${fmt(c.perOp / m.perOp)}×): ${parts}. The fixed cost of crossing N-API with a string in and a string out (each an N-API call into V8's string code) is several times a whole Map.get; with 100,000 keys each get also misses the cache on the slot array and on the entry, where Map.get touches its own table and the stored key string.`;
}

function nativeCell(ctx, variant, mix, threads) {
  const n = ctx.native;
  if (!n || !n.rows) return null;
  const r = n.rows.find((x) => x.variant === variant && x.mix === mix);
  return r && r.threads[threads] ? r.threads[threads].median : null;
}

function mopsOf(ctx, w, c) {
  const a = ctx.agg[w] && ctx.agg[w][c];
  return a && a.mops ? a.mops.median : null;
}

function nsOf(ctx, w, c) {
  const a = ctx.agg[w] && ctx.agg[w][c];
  return a && a.ns ? a.ns.median : null;
}

function oversub(ctx, prefix, mix) {
  const s = [];
  const m8 = mopsOf(ctx, `${prefix}-S-8w`, 'map');
  const m2 = mopsOf(ctx, `${prefix}-S-2w`, 'map');
  if (m8 && m2) s.push(`private Maps (no lock, nothing shared) keep ${fmt(m8 / m2)}× in the same run: that much is the cost of 8 V8 threads on 2 cores (scheduling, caches), not of the store`);
  const o8 = mopsOf(ctx, `${prefix}-S-8w`, 'threadkv-1shard');
  const o2 = mopsOf(ctx, `${prefix}-S-2w`, 'threadkv-1shard');
  if (o8 && o2) s.push(`shards: 1 keeps ${fmt(o8 / o2)}×`);
  const c8 = nativeCell(ctx, 'shared-64', mix, 8);
  const c2 = nativeCell(ctx, 'shared-64', mix, 2);
  if (c8 && c2) s.push(`the C++ core alone keeps ${fmt(c8 / c2)}× (${fmt(c8)} vs ${fmt(c2)} Mops/s)`);
  return s.join('; ') + (s.length ? '.' : '');
}

const CAUSES = {
  'get-string-vs-map': (ctx) => getBreakdown(ctx, 'tkv-string-S'),
  'get-default-vs-map': (ctx) => getBreakdown(ctx, 'tkv-v8-S'),
  'get-vs-lmdb-latest': (ctx) => {
    const t = nsOf(ctx, 'get-S', 'threadkv');
    const l = nsOf(ctx, 'get-S', 'lmdb-latest');
    return t && l ? `threadkv get S ${fmt(t)} ns vs lmdb with resetReadTxn ${fmt(l)} ns; see the get breakdown above.` : '';
  },
  'r95-2w-mops': (ctx) => {
    const one = mopsOf(ctx, 'r95-S-1w', 'threadkv');
    const two = mopsOf(ctx, 'r95-S-2w', 'threadkv');
    const map2 = mopsOf(ctx, 'r95-S-2w', 'map');
    const c2 = nativeCell(ctx, 'shared-64', '95/5', 2);
    const s = [];
    if (one && two) s.push(`2 workers do ${fmt(two / one)}× one worker (${fmt(two)} vs ${fmt(one)} Mops/s), so the store scales and each worker is limited by its own per-op cost, ${fmt(1000 / one)} ns: the single-thread get cost (see the get rows and the instruction profile)`);
    if (c2) s.push(`the C++ core alone does ${fmt(c2)} Mops/s at 2 threads`);
    if (map2) s.push(map2 < 4 ? `even private Maps reach only ${fmt(map2)} Mops/s at 2 workers in this run: the machine was slow` : `private Maps reach ${fmt(map2)} Mops/s at 2 workers in this run`);
    return s.join('; ') + '.';
  },
  'r95-2w-vs-sharedmap': (ctx) => CAUSES['r95-2w-mops'](ctx),
  'r95-2w-vs-lmdb': (ctx) => CAUSES['r95-2w-mops'](ctx),
  'r50-2w-vs-sharedmap': (ctx) => {
    const p = nsOf(ctx, 'put-S', 'threadkv');
    return p ? `put S costs ${fmt(p)} ns in one thread (N-API + key conversion + entry malloc + exclusive lock); half the ops are puts.` : '';
  },
  'r50-2w-vs-lmdb': (ctx) => CAUSES['r50-2w-vs-sharedmap'](ctx),
  'oversub-95': (ctx) => oversub(ctx, 'r95', '95/5'),
  'oversub-50': (ctx) => oversub(ctx, 'r50', '50/50'),
  'sharded-vs-1shard': (ctx) => {
    const a = nativeCell(ctx, 'shared-64', '50/50', 2);
    const b = nativeCell(ctx, 'shared-1', '50/50', 2);
    return a && b ? `C++ core alone at 2 threads, 50/50: 64 shards ${fmt(a)} Mops/s vs 1 shard ${fmt(b)} (${fmt(a / b)}×). In Node the lock is held for a small part of each op (the N-API and codec work happen outside it), so contention on one lock matters less.` : '';
  },
  'get-M-v8': (ctx) => {
    const c = profCase(ctx, 'tkv-v8-M');
    const d = profCase(ctx, 'v8deser-M');
    return c && d ? `callgrind: get M ${fmt(c.perOp)} instructions vs v8.deserialize alone ${fmt(d.perOp)}: the decode is the cost; the time difference comes from cache misses and GC of the decoded objects.` : '';
  },
  'memory-store': (ctx) => {
    const m = ctx.memory;
    return m ? `entry header ${fmt(m.headerBytes)} B + slot array ${fmt(m.slotBytesPerEntry)} B per entry (8-byte slots; tables double at 3/4 load, so they are 37–75% full).` : '';
  },
  'memory-rss': (ctx) => {
    const m = ctx.memory;
    if (!m) return '';
    const req = m.headerBytes + m.avgKeyBytes + m.avgValueBytes;
    // glibc: 8-byte chunk header, 16-byte alignment, 32-byte minimum.
    const chunk = Math.max(32, Math.ceil((req + 8) / 16) * 16);
    const expected = chunk - m.avgKeyBytes - m.avgValueBytes + m.slotBytesPerEntry;
    const rest = m.overheadByRss - expected;
    return `each entry is one malloc of ${fmt(req)} B (a ${fmt(m.headerBytes)} B header + key + value) that glibc serves as a ${chunk} B chunk (+${fmt(chunk - req)} B), and the slot arrays add ${fmt(m.slotBytesPerEntry)} B per entry: ${fmt(expected)} B expected${rest > 2 ? `; the remaining ${fmt(rest)} B are mostly the benchmark loop's own (the same loop with no store grew RSS beyond the JS heap by ~6.3 B per key)` : ''}.`;
  },
};

// Issue 14's targets: instruction counts of the same run where it has them.
function perOp(ctx, id) {
  const c = profCase(ctx, id);
  return c ? c.perOp : null;
}

Object.assign(CAUSES, {
  'put-M': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-M-put');
    const v = perOp(ctx, 'v8ser-M');
    const s = [];
    if (t && v) s.push(`callgrind: a put of M costs ${fmt(t)} instructions, v8.serialize(M) alone ${fmt(v)}`);
    s.push('the object format is encoded in JavaScript: a for-in over each of M\'s ~60 properties, a type test, a shape-tree step and a write per value (~100–150 instructions a property), then one native write of its ~30 strings; reaching 3 µs needs about a third fewer instructions than v8.serialize, which this encoder does not reach (docs/design.md, "Values")');
    return s.join('; ') + '.';
  },
  'get-C': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-C');
    const j = perOp(ctx, 'json-parse-C');
    return t && j ? `callgrind: a get of C costs ${fmt(t)} instructions, JSON.parse of its text ${fmt(j)} (${fmt(t / j)}×); the rest of the time is cache misses and GC of the decoded objects.` : '';
  },
  'get-V': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-V');
    return t ? `callgrind: ${fmt(t)} instructions a get (a 6 KiB copy into the pool, one typed array made natively); the rest is page faults of fresh pool slabs until the first GCs return memory to malloc, and the machine's load.` : '';
  },
  'get-V-vs-clone': (ctx) => CAUSES['get-V'](ctx),
  'put-V': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-V-put');
    return t ? `callgrind: ${fmt(t)} instructions a put (N-API, a 6 KiB malloc and copy, the lock, the free of the replaced entry).` : '';
  },
  'get-OV': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-OV');
    const v = perOp(ctx, 'tkv-v8-V');
    return t ? `callgrind: ${fmt(t)} instructions a get${v ? ` (a get of the bare vector ${fmt(v)})` : ''}: the object format's decode of the four other fields and a typed array made in JavaScript over the pool slab, on top of the vector's copy; the rest is the pool's page faults and the machine's load, as for V.` : '';
  },
  'put-OV': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-OV-put');
    const v = perOp(ctx, 'tkv-v8-V-put');
    return t ? `callgrind: ${fmt(t)} instructions a put${v ? ` (a put of the bare vector ${fmt(v)})` : ''}: the object format's encoder in JavaScript (a for-in, a type test and a write per field, the vector's 6 KiB copied into the encoder's buffer), then the native copy into the entry.` : '';
  },
  'get-N': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-N');
    return t ? `callgrind: ${fmt(t)} instructions a get (about ${fmt(t / 1536)} an element): a new JavaScript array of 1,536 elements filled from the stored block element by element; the rest is GC of the arrays made.` : '';
  },
  'put-N': (ctx) => {
    const t = perOp(ctx, 'tkv-v8-N-put');
    return t ? `callgrind: ${fmt(t)} instructions a put (about ${fmt(t / 1536)} an element): the encoder writes each element into an f64 block while it checks that it is a number and whether all are integers (then narrowed to int8/16/32), in JavaScript.` : '';
  },
  'get-S-scaling': (ctx) => {
    const r = ctx.readScaling;
    const base = 'every get writes its shard\'s cache line (the pthread_rwlock reader count, twice, and the hit counter): with uniform keys the last writer of a shard\'s line is the other thread about half the time, whatever the shard count, so about half the gets wait for a line transfer; a Map writes nothing shared';
    if (!r || !r.rows) return base + '.';
    const row = (m) => r.rows.find((x) => x.mode === m);
    const parts = ['shared', 'split', 'separate', 'map', 'arith'].map((m) => row(m)).filter(Boolean).map((x) => `${x.mode} ${fmt(x.scaling)}× (CPU ${fmt(x.cpu1)} → ${fmt(x.cpu2)} ns/op)`);
    return `${base}. bench/read-scaling.js in this run, 2 workers vs 1: ${parts.join(', ')} ("split": each worker on its own half of the shards; "arith": no memory at all).`;
  },
});

function causeFor(id, ctx) {
  const f = CAUSES[id];
  if (!f) return '';
  try {
    return f(ctx) || '';
  } catch {
    return '';
  }
}

module.exports = { causeFor };
