'use strict';
// The issue's performance targets, evaluated on one run's numbers. Ratios
// between contenders are taken per trial (the two processes ran minutes
// apart at most, in the same trial) and the median of those ratios is
// compared with the target; min–max of the per-trial ratios is shown.

const { summary, fmt } = require('./stats');

/** Per-trial values f(resultA, resultB) for two (contender, workload) cells. */
function paired(trials, a, b, f) {
  const byTrial = new Map();
  for (const t of trials) {
    if (!byTrial.has(t.trial)) byTrial.set(t.trial, new Map());
    byTrial.get(t.trial).set(t.contender, t);
  }
  const xs = [];
  for (const m of byTrial.values()) {
    const ca = m.get(a.c);
    const cb = m.get(b.c);
    if (!ca || !cb) continue;
    const ra = ca.results.find((r) => r.id === a.w && !r.skipped);
    const rb = cb.results.find((r) => r.id === b.w && !r.skipped);
    if (ra && rb) xs.push(f(ra, rb));
  }
  return xs.length ? summary(xs) : null;
}

const nsRatio = (ra, rb) => ra.nsPerOp / rb.nsPerOp;
const mopsRatio = (ra, rb) => ra.mops / rb.mops;

function single(trials, c, w, f) {
  const xs = [];
  for (const t of trials) {
    if (t.contender !== c) continue;
    const r = t.results.find((x) => x.id === w && !x.skipped);
    if (r) xs.push(f(r));
  }
  return xs.length ? summary(xs) : null;
}

/**
 * Returns [{ id, target, measured, value, limit, kind: 'max'|'min', met, verdict }]
 * (value null when the run did not include what the target needs).
 */
function evaluate({ trials, memory }) {
  const out = [];
  const add = (id, target, s, limit, kind, unit, detail) => {
    if (!s) {
      out.push({ id, target, measured: 'not measured in this run', value: null, limit, kind, met: null, verdict: '–' });
      return;
    }
    const v = s.median;
    const met = kind === 'max' ? v <= limit : v >= limit;
    let verdict;
    if (met) verdict = 'met';
    else if (kind === 'max') verdict = `missed: ${fmt((v / limit - 1) * 100)}% over`;
    else verdict = `missed: ${fmt((1 - v / limit) * 100)}% short`;
    // A median on one side with trials on both: say so.
    if (s.n > 1 && s.min <= limit && s.max >= limit && s.min !== s.max) verdict += ' (trials on both sides)';
    const range = s.n > 1 ? ` (${fmt(s.min)}–${fmt(s.max)})` : '';
    out.push({ id, target, measured: `${fmt(v)}${unit}${range}${detail ? `; ${detail}` : ''}`, value: v, limit, kind, met, verdict });
  };

  add('get-string-vs-map', "pure get S, 1 thread, codec 'string' ≤ 1.5× Map.get", paired(trials, { c: 'threadkv-string', w: 'get-S' }, { c: 'map', w: 'get-S' }, nsRatio), 1.5, 'max', '×');
  add('get-default-vs-map', 'pure get S, 1 thread, default codec ≤ 2× Map.get', paired(trials, { c: 'threadkv', w: 'get-S' }, { c: 'map', w: 'get-S' }, nsRatio), 2, 'max', '×');
  add('get-vs-lmdb-latest', 'pure get S, 1 thread ≥ 3× faster than lmdb reading the latest commit', paired(trials, { c: 'lmdb-latest', w: 'get-S' }, { c: 'threadkv', w: 'get-S' }, nsRatio), 3, 'min', '×');
  add('put-vs-lmdb', 'put S, 1 thread ≥ 10× faster than lmdb putSync', paired(trials, { c: 'lmdb', w: 'put-S' }, { c: 'threadkv', w: 'put-S' }, nsRatio), 10, 'min', '×');
  add('r95-2w-mops', 'get-heavy 95/5 S, 2 workers ≥ 4 Mops/s', single(trials, 'threadkv', 'r95-S-2w', (r) => r.mops), 4, 'min', ' Mops/s');
  add('r95-2w-vs-sharedmap', 'get-heavy 95/5 S, 2 workers ≥ 4× sharedmap', paired(trials, { c: 'threadkv', w: 'r95-S-2w' }, { c: 'sharedmap', w: 'r95-S-2w' }, mopsRatio), 4, 'min', '×');
  const latest95 = paired(trials, { c: 'threadkv', w: 'r95-S-2w' }, { c: 'lmdb-latest', w: 'r95-S-2w' }, mopsRatio);
  add('r95-2w-vs-lmdb', 'get-heavy 95/5 S, 2 workers ≥ 6× lmdb', paired(trials, { c: 'threadkv', w: 'r95-S-2w' }, { c: 'lmdb', w: 'r95-S-2w' }, mopsRatio), 6, 'min', '×', latest95 ? `${fmt(latest95.median)}× lmdb reading the latest commit` : '');
  add('r50-2w-vs-sharedmap', 'write-heavy 50/50 S, 2 workers ≥ 3× sharedmap', paired(trials, { c: 'threadkv', w: 'r50-S-2w' }, { c: 'sharedmap', w: 'r50-S-2w' }, mopsRatio), 3, 'min', '×');
  const latest50 = paired(trials, { c: 'threadkv', w: 'r50-S-2w' }, { c: 'lmdb-latest', w: 'r50-S-2w' }, mopsRatio);
  add('r50-2w-vs-lmdb', 'write-heavy 50/50 S, 2 workers ≥ 30× lmdb', paired(trials, { c: 'threadkv', w: 'r50-S-2w' }, { c: 'lmdb', w: 'r50-S-2w' }, mopsRatio), 30, 'min', '×', latest50 ? `${fmt(latest50.median)}× lmdb reading the latest commit` : '');
  add('oversub-95', '8 workers on 2 cores ≥ 0.8× own 2-worker throughput (95/5 S)', paired(trials, { c: 'threadkv', w: 'r95-S-8w' }, { c: 'threadkv', w: 'r95-S-2w' }, mopsRatio), 0.8, 'min', '×');
  add('oversub-50', '8 workers on 2 cores ≥ 0.8× own 2-worker throughput (50/50 S)', paired(trials, { c: 'threadkv', w: 'r50-S-8w' }, { c: 'threadkv', w: 'r50-S-2w' }, mopsRatio), 0.8, 'min', '×');
  add('sharded-vs-1shard', 'sharded default ≥ 1.3× shards: 1 at 2 workers 50/50 S', paired(trials, { c: 'threadkv', w: 'r50-S-2w' }, { c: 'threadkv-1shard', w: 'r50-S-2w' }, mopsRatio), 1.3, 'min', '×');

  // M get with v8 ≤ 1.2 × (v8.deserialize alone + the S string get), all
  // three timed in the same threadkv process, per trial.
  const perTrial = [];
  const parts = [];
  for (const t of trials) {
    if (t.contender !== 'threadkv') continue;
    const r = (id) => t.results.find((x) => x.id === id && !x.skipped);
    const m = r('get-M');
    const d = r('aux-v8-deserialize-M');
    const g = r('get-S');
    if (m && d && g) {
      perTrial.push(m.nsPerOp / (d.nsPerOp + g.nsPerOp));
      parts.push([m.nsPerOp, d.nsPerOp, g.nsPerOp]);
    }
  }
  if (perTrial.length) {
    const med = (i) => summary(parts.map((p) => p[i])).median;
    add(
      'get-M-v8',
      'pure get M, default codec ≤ 1.2× (v8.deserialize alone + S get)',
      summary(perTrial),
      1.2,
      'max',
      '×',
      `medians: get M ${fmt(med(0))} ns; v8.deserialize alone ${fmt(med(1))} ns + get S ${fmt(med(2))} ns, same process`,
    );
  } else add('get-M-v8', 'pure get M, default codec ≤ 1.2× (v8.deserialize alone + S get)', null, 1.2, 'max', '×');

  valueTargets(trials, memory, add);

  if (memory && !memory.error) {
    const one = (x) => ({ median: x, min: x, max: x, n: 1 });
    add('memory-store', `per-entry overhead ≤ 64 B beyond key and value, by store.memory() (${memory.entries.toLocaleString('en-US')} entries)`, one(memory.overheadByMemory), 64, 'max', ' B', `header ${fmt(memory.headerBytes)} B + slots ${fmt(memory.slotBytesPerEntry)} B`);
    add('memory-rss', `per-entry overhead ≤ 64 B beyond key and value, by process RSS (${memory.entries.toLocaleString('en-US')} entries)`, one(memory.overheadByRss), 64, 'max', ' B', `RSS growth minus JS heap growth`);
  } else {
    add('memory-store', 'per-entry overhead ≤ 64 B beyond key and value, by store.memory()', null, 64, 'max', ' B');
    add('memory-rss', 'per-entry overhead ≤ 64 B beyond key and value, by process RSS', null, 64, 'max', ' B');
  }
  return out;
}

/** Per-trial f(row, reference) of two results of one contender process (a reference is an aux row). */
function sameProcess(trials, c, w, ref, f) {
  const xs = [];
  for (const t of trials) {
    if (t.contender !== c) continue;
    const r = t.results.find((x) => x.id === w && !x.skipped);
    const a = t.results.find((x) => x.id === ref);
    if (r && a) xs.push(f(r, a));
  }
  return xs.length ? summary(xs) : null;
}

// Issue 14: the value path for real AI payloads.
function valueTargets(trials, memory, add) {
  const ns = (w) => single(trials, 'threadkv', w, (r) => r.nsPerOp);
  const nsVs = (w, ref) => sameProcess(trials, 'threadkv', w, ref, nsRatio);
  add('get-V', 'get Float32Array(1536) ≤ 1,200 ns', ns('get-V'), 1200, 'max', ' ns');
  add('get-V-vs-clone', 'get Float32Array(1536) ≤ 0.25× structuredClone of it (same process)', nsVs('get-V', 'aux-structuredClone-V'), 0.25, 'max', '×');
  add('put-V', 'set Float32Array(1536) ≤ 1,000 ns', ns('put-V'), 1000, 'max', ' ns');
  add('get-OV', 'get object with a Float32Array(1536) ≤ 2,500 ns', ns('get-OV'), 2500, 'max', ' ns');
  add('put-OV', 'set object with a Float32Array(1536) ≤ 2,500 ns', ns('put-OV'), 2500, 'max', ' ns');
  add('get-N', 'get number[1536] ≤ 10,000 ns', ns('get-N'), 10000, 'max', ' ns');
  add('put-N', 'set number[1536] ≤ 10,000 ns', ns('put-N'), 10000, 'max', ' ns');
  add('get-C', 'get chat completion (~1 KB) ≤ 1.0× JSON.parse of its JSON text (same process)', nsVs('get-C', 'aux-JSON.parse-C'), 1, 'max', '×');
  add('get-M-vs-lmdb', 'get M ≤ 0.5× lmdb-js get M (same trial)', paired(trials, { c: 'threadkv', w: 'get-M' }, { c: 'lmdb', w: 'get-M' }, nsRatio), 0.5, 'max', '×');
  add('put-M', 'set M ≤ 3,000 ns', ns('put-M'), 3000, 'max', ' ns');
  add('r95-M-vs-lmdb', 'get-heavy 95/5 M, 2 workers ≥ 2× lmdb-js', paired(trials, { c: 'threadkv', w: 'r95-M-2w' }, { c: 'lmdb', w: 'r95-M-2w' }, mopsRatio), 2, 'min', '×');
  const mapScale = paired(trials, { c: 'map', w: 'r100-S-2w' }, { c: 'map', w: 'r100-S-1w' }, mopsRatio);
  add(
    'get-S-scaling',
    'pure get S, 2 workers ≥ 1.8× 1 worker (total throughput)',
    paired(trials, { c: 'threadkv', w: 'r100-S-2w' }, { c: 'threadkv', w: 'r100-S-1w' }, mopsRatio),
    1.8,
    'min',
    '×',
    mapScale ? `Map ${fmt(mapScale.median)}× in the same run` : '',
  );
  const churn = memory && !memory.error && memory.churn;
  add(
    'churn-rss',
    `RSS growth after ${churn ? churn.writes.toLocaleString('en-US') : '1,000,000'} sets of M into 1,000 keys ≤ 32 MiB`,
    churn ? { median: churn.rssGrowthMiB, min: churn.rssGrowthMiB, max: churn.rssGrowthMiB, n: 1 } : null,
    32,
    'max',
    ' MiB',
    churn ? `peak +${fmt(churn.peakGrowthMiB)} MiB; JS heap +${fmt(churn.heapGrowthMiB)} MiB` : '',
  );
}

module.exports = { evaluate, paired, single, sameProcess };
