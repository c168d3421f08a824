'use strict';
// Turns one run's data into bench/RESULTS.md and bench/throughput.svg.

const { snapshotMarkdown } = require('./snapshot-report');
const { summary, fmt, mdTable } = require('./stats');
const { paired } = require('./targets');
const { chart } = require('./svg');
const { causeFor } = require('./notes');

function cell(s, digits) {
  if (!s || !Number.isFinite(s.median)) return '–';
  if (s.n <= 1) return fmt(s.median, digits);
  return `${fmt(s.median, digits)} (${fmt(s.min, digits)}–${fmt(s.max, digits)})`;
}

/** agg[workload][contender] = { ns, mops, ratio } from the trials. */
function aggregate(trials, workloads, contenders) {
  const agg = {};
  for (const w of workloads) {
    agg[w.id] = {};
    for (const c of contenders) {
      const rs = trials.filter((t) => t.contender === c.id).map((t) => t.results.find((r) => r.id === w.id)).filter(Boolean);
      const ok = rs.filter((r) => !r.skipped);
      if (ok.length === 0) {
        agg[w.id][c.id] = { skipped: rs.length > 0 };
        continue;
      }
      agg[w.id][c.id] = {
        ns: summary(ok.map((r) => r.nsPerOp)),
        mops: summary(ok.map((r) => r.mops)),
        ratio: c.id === 'threadkv' ? null : paired(trials, { c: c.id, w: w.id }, { c: 'threadkv', w: w.id }, (a, b) => a.mops / b.mops),
      };
    }
  }
  return agg;
}

function machineSection(m) {
  return [
    '## Machine',
    '',
    mdTable(
      ['', ''],
      [
        ['CPU', `${m.cpuModel}, ${m.cores} logical cores`],
        ['memory', `${m.memGiB} GiB`],
        ['OS', `${m.platform} (${m.arch})`],
        ['Node.js', `${m.node} (V8 ${m.v8})`],
        ['load average (1, 5, 15 min)', `before: ${m.loadBefore.map((x) => x.toFixed(2)).join(', ')}; after: ${m.loadAfter ? m.loadAfter.map((x) => x.toFixed(2)).join(', ') : '–'}`],
        ['redis-server', m.redis || 'not installed: Redis rows skipped'],
        ['valgrind', m.valgrind ? 'installed' : 'not installed: no instruction profile'],
      ],
      ['l', 'l'],
    ),
  ].join('\n');
}

function headline(agg, workloads, contenders) {
  const rows = workloads.map((w) => {
    const unit = w.threads === 0 ? 'ns/op' : 'Mops/s';
    return [
      `${w.title} (${unit})`,
      ...contenders.map((c) => {
        const a = agg[w.id][c.id];
        if (!a || !a.ns) return '–';
        return w.threads === 0 ? fmt(a.ns.median) : fmt(a.mops.median);
      }),
    ];
  });
  return mdTable(['workload', ...contenders.map((c) => c.short || c.id)], rows);
}

function detailTables(agg, workloads, contenders) {
  const out = [];
  for (const w of workloads) {
    out.push(`### ${w.title}`);
    out.push('');
    const rows = contenders.map((c) => {
      const a = agg[w.id][c.id];
      if (!a || !a.ns) return [c.label, a && a.skipped ? 'n/a (codec)' : '–', '–', '–'];
      return [c.label, cell(a.ns), cell(a.mops), c.id === 'threadkv' ? '1' : cell(a.ratio)];
    });
    out.push(mdTable(['contender', w.threads === 0 ? 'ns/op' : 'ns/op (all threads together)', 'Mops/s', 'throughput vs threadkv (×)'], rows));
    out.push('');
  }
  return out.join('\n');
}

function targetsSection(targets, ctx) {
  const rows = targets.map((t) => {
    const cause = t.met === false ? causeFor(t.id, ctx) : '';
    return [t.target, t.measured, t.met === null ? '–' : t.met ? '**met**' : `**${t.verdict}**`, cause || ''];
  });
  return mdTable(['target', 'measured (median of per-trial values, min–max)', 'result', 'measured cause of a miss'], rows, ['l', 'l', 'l', 'l']);
}

function nativeSection(n) {
  if (!n) return '_not run_';
  if (n.error) return `_failed: ${n.error}_`;
  const keysOf = { uniform: 'uniform', zipf: 'Zipfian 0.99', hot: 'one hot key' };
  const rows = n.rows.map((x) => [`${x.variant}: ${x.label}`, keysOf[x.dist] ?? x.dist ?? 'uniform', x.mix, ...n.threads.map((t) => cell(x.threads[t]))]);
  return [
    `Mops/s, median of ${n.runs} runs of ${n.ms} ms (min–max); std::thread, 100,000 keys \`k:<i>\`, 16-byte values; keys uniform, Zipfian (0.99) or all gets and sets on one hot key; no Node, no N-API, no codec.`,
    '',
    mdTable(['variant', 'keys', 'mix', ...n.threads.map((t) => `${t} thread${t > 1 ? 's' : ''}`)], rows),
  ].join('\n');
}

// table-growth.js prints each trial, then the medians and minima over the
// trials: the report keeps the summary (from "medians of" on).
function growthMarkdown(md) {
  const i = md.indexOf('medians of');
  const text = i >= 0 ? md.slice(i) : md.replace(/^## .*\n+/, '');
  // Each table needs a blank line before it to render as one.
  return text.replace(/\n(?=\| table)/g, '\n\n');
}

function fairnessSection(f) {
  if (!f) return '_not run_';
  if (f.error) return `_failed: ${f.error}_`;
  const labels = { 'mutex-64': '64 shards of `std::mutex`', 'rw-64': '64 shards of `std::shared_mutex` (glibc: reader-preferring)', 'wprw-64': '64 shards of the writer-preferring rwlock (`rwlock.h`)', 'shared-64': '`threadkv::Store`, 64 shards (shipped)' };
  const rows = f.rows.map((x) => [
    labels[x.variant] ?? x.variant,
    fmt(x.sets1),
    fmt(x.sets4),
    x.ratio ? `${fmt(x.ratio.median)} (${fmt(x.ratio.min)}–${fmt(x.ratio.max)})` : '–',
    `${fmt(x.p99)} µs`,
    `${fmt(x.max)} µs`,
    `${fmt(x.reads1)} / ${fmt(x.reads4)}`,
  ]);
  return [
    `One thread sets a key while 1, then 4, threads read it in a loop (C++ core alone, median of ${f.runs} runs of ${f.ms} ms; 5 threads on this machine's cores, so the max column measures the scheduler too). Targets (issue 12): the writer keeps ≥ 0.2× its 1-reader rate beside 4 readers, p99 set latency under 2 ms.`,
    '',
    mdTable(['lock', 'sets/s, 1 reader', 'sets/s, 4 readers', '4 / 1 (min–max)', 'p99 set, 4 readers', 'max set, 4 readers', 'reads Mops/s, 1 / 4 readers'], rows),
  ].join('\n');
}

function codecsSection(c) {
  if (!c) return '_not run_';
  if (c.error) return `_failed: ${c.error}_`;
  const out = [];
  out.push(`Codec functions alone, ns per call (median of ${c.rounds} interleaved rounds of ${c.ms} ms, min–max). S = a 16-character string, M = the ~1 KB object.`);
  out.push('');
  out.push(
    mdTable(
      ['codec', 'S encode', 'S decode', 'M encode', 'M decode', 'bytes S / M'],
      c.codec.map((x) => [x.codec + (x.note ? ` (${x.note})` : ''), cell(x.S.enc), cell(x.S.dec), cell(x.M.enc), cell(x.M.dec), `${x.S.bytes} / ${x.M.bytes}`]),
    ),
  );
  out.push('');
  out.push("threadkv's `string` and `buffer` codecs do no JS work; their cost is the store call itself. Through the store, one hot key (no cache misses), ns per call:");
  out.push('');
  out.push(
    mdTable(
      ['codec', 'S set', 'S get', 'M set', 'M get', 'values'],
      c.store.map((x) => [x.codec, cell(x.S.set), cell(x.S.get), cell(x.M.set), cell(x.M.get), x.what]),
    ),
  );
  out.push('');
  const methods = ['v8 (structured clone)', 'threadkv default codec', 'msgpackr structuredClone'];
  const differs = c.fidelity.filter((f) => f['msgpackr structuredClone'] !== 'same');
  out.push(`**Fidelity.** \`new Packr({ structuredClone: true })\` round-trips ${c.fidelity.length - differs.length} of ${c.fidelity.length} structured-clonable values like the structured clone algorithm; it differs on: ${differs.map((f) => f.value).join(', ') || 'none'}.`);
  out.push('');
  out.push(mdTable(['value', ...methods], c.fidelity.map((f) => [f.value, ...methods.map((m) => (f[m] === 'same' ? 'same' : `\`${f[m].replace(/\|/g, '\\|')}\``))]), ['l', 'l', 'l', 'l']));
  return out.join('\n');
}

function memorySection(m) {
  if (!m) return '_not run_';
  if (m.error) return `_failed: ${m.error}_`;
  return mdTable(
    ['measure', 'value'],
    [
      ['entries', `${m.entries.toLocaleString('en-US')} (key \`k:<i>\`, ${fmt(m.avgKeyBytes)} B on average; value a 16-character string, 16 B)`],
      ['shards', String(m.shards)],
      ['store.memory(): entryBytes', m.storeMemory.entryBytes.toLocaleString('en-US')],
      ['store.memory(): slotBytes', m.storeMemory.slotBytes.toLocaleString('en-US')],
      ['overhead per entry by store.memory()', `${fmt(m.overheadByMemory)} B = entry header ${fmt(m.headerBytes)} B + slot array ${fmt(m.slotBytesPerEntry)} B`],
      ['process RSS growth', `${fmt(m.rssDeltaBytes / 2 ** 20)} MiB (of which JS heap ${fmt(m.jsHeapDeltaBytes / 2 ** 20)} MiB)`],
      ['overhead per entry by RSS', `${fmt(m.overheadByRss)} B (${fmt(m.overheadByRssRaw)} B without subtracting the JS heap)`],
      ...(m.churn
        ? [[`RSS after ${m.churn.writes.toLocaleString('en-US')} sets of M into 1,000 keys`, `+${fmt(m.churn.rssGrowthMiB)} MiB after GC (peak +${fmt(m.churn.peakGrowthMiB)} MiB; JS heap +${fmt(m.churn.heapGrowthMiB)} MiB)`]]
        : []),
    ],
    ['l', 'l'],
  );
}

function readScalingSection(r) {
  if (!r) return '_not run_';
  if (r.error) return `_failed: ${r.error}_`;
  const what = {
    shared: 'one store, both workers on every shard',
    split: "one store, each worker on its own half of the shards (no shard's lock or counter line written by both)",
    separate: 'one store per worker',
    map: 'one Map per worker',
    arith: 'integer arithmetic only (no memory): how much two threads get from the machine',
  };
  return [
    `Pure gets of S (100,000 keys, 64 shards), 1 worker vs 2, medians of ${r.rounds} rounds of ${r.ms} ms. CPU ns/op is the process CPU time per get: a cache line moving between cores on each get shows there even when the machine is busy.`,
    '',
    mdTable(
      ['setup', 'ns/op per thread, 1 worker', 'ns/op per thread, 2 workers', 'CPU ns/op, 1 worker', 'CPU ns/op, 2 workers', '2 workers / 1 worker'],
      r.rows.map((x) => [`${x.mode}: ${what[x.mode] || ''}`, fmt(x.ns1), fmt(x.ns2), fmt(x.cpu1), fmt(x.cpu2), `${fmt(x.scaling)}×`]),
    ),
  ].join('\n');
}

function profileSection(p) {
  if (!p) return '_not run_';
  if (p.error) return `_failed: ${p.error}_`;
  if (p.skipped) return `_skipped: ${p.skipped}_`;
  const out = [];
  out.push('`valgrind --tool=callgrind` on a single-thread loop (bench/lib/getloop.js; 10,000 keys, `node --single-threaded`), collecting only inside the measured loop after 30,000 warm-up calls; self instructions per call, grouped by function name. Instruction counts leave out cache misses (the tables above have those): they show the fixed cost of each call.');
  out.push('');
  const cats = [...new Set(p.cases.flatMap((c) => c.categories.map((x) => x.name)))];
  const rows = cats.map((name) => [name, ...p.cases.map((c) => {
    const x = c.categories.find((y) => y.name === name);
    return x && Math.abs(x.perOp) >= 0.5 ? fmt(x.perOp) : '·';
  })]);
  rows.unshift(['**total instructions per call**', ...p.cases.map((c) => `**${fmt(c.perOp)}**`)]);
  out.push(mdTable(['where', ...p.cases.map((c) => c.title)], rows));
  out.push('');
  for (const c of p.cases.filter((x) => x.id.startsWith('tkv-'))) {
    out.push(`<details><summary>Top functions (self instructions per call): ${c.title}</summary>`);
    out.push('');
    out.push(mdTable(['function', 'instr/call', 'counted under'], c.top.map((x) => [`\`${x.fn}\``, fmt(x.perOp), x.category])));
    out.push('');
    out.push('</details>');
    out.push('');
  }
  return out.join('\n');
}

function contenderNotes(contenders) {
  const notes = {
    threadkv: 'Store.open(name) with default options (v8 codec: strings stored natively, objects v8-serialized; 64 shards). Preloaded in the process main thread; workers open it by name.',
    'threadkv-string': "Store.open(name, { codec: 'string' }); S rows only.",
    'threadkv-1shard': 'Store.open(name, { shards: 1 }): every operation takes the one std::shared_mutex (the global-lock baseline).',
    map: 'A plain Map in each thread, preloaded in each thread: nothing is shared, so this is the ceiling, not a competitor. M values are live objects (get returns the stored object; no copy, no codec).',
    lmdb: "lmdb-js 3 on a tmpfs folder, `noSync: true`; values msgpack-encoded (lmdb-js's default); set = `putSync` (one write transaction each). Its reads use a per-thread snapshot renewed once per event-loop turn, so a synchronous loop may read stale data: not linearizable.",
    'lmdb-latest': 'lmdb-js as above, calling `resetReadTxn()` before each get: its only way to read other threads\' latest commits.',
    sharedmap: 'sharedmap 1.2 (SharedArrayBuffer hash map, strings only): created in the main thread, handed to workers; S as is, M as JSON text (131,072 slots).',
    owner: 'One extra worker owns a Map (S strings, M as JSON text); every other thread writes its request into its own SharedArrayBuffer channel, rings a doorbell (Atomics.notify) and sleeps in Atomics.wait until answered. With N workers there are N+1 threads.',
    redis: "redis-server on 127.0.0.1 (no persistence) through ioredis, one connection per thread, one request in flight per thread (await each); S as is, M as JSON.",
  };
  return contenders.map((c) => `- **${c.label}**: ${notes[c.id] || ''}`).join('\n');
}

function render(data) {
  const { workloads, contenders, trials, machine } = data;
  const agg = aggregate(trials, workloads, contenders);
  const ctx = { ...data, agg };
  const out = [];
  out.push(`# threadkv benchmark results`);
  out.push('');
  out.push(`Run on ${data.date} (${data.mode} mode, \`${data.command}\`), ${data.elapsedMin.toFixed(1)} minutes${data.revision ? `, threadkv at \`${data.revision}\`` : ''}. Generated by \`bench/run.js\`; ${data.amended ? 'every number below comes from this one run, except what is listed here' : 'every number below comes from this one run'}.`);
  out.push('');
  // Rows re-measured after the run (a later change to what they measure), and sections measured separately.
  for (const a of data.amended ?? []) out.push(`- ${a}`);
  if (data.amended) out.push('');
  out.push(machineSection(machine));
  out.push('');
  out.push('## Method');
  out.push('');
  out.push(
    [
      `- Each contender runs in its own fresh Node process, once per trial; ${data.runs} trials, contenders in a rotated order each trial. Cells are **medians over the trials, with min–max**. Ratios between contenders are computed per trial and their median is shown.`,
      `- 100,000 keys \`k:<i>\` preloaded; S = a 16-character string, M = a ~1 KB nested object (970 B as v8, 1,051 B as JSON). Keys are chosen uniformly or by a scrambled Zipfian (θ = 0.99) from a precomputed sequence; sets overwrite existing keys.`,
      '- The AI payload rows (issue 14) use 2,000 keys each: V = a `Float32Array(1536)` embedding, OV = `{ id, model, dims, vector: Float32Array(1536), createdAt }`, N = the embedding as a `number[1536]`, C = a ~1 KB chat-completion object. lmdb-js stores V and OV with msgpackr\'s `moreTypes` (so that they read back as typed arrays); sharedmap, the owner thread and Redis (JSON) run S and M only. References (`structuredClone`, `JSON.parse`, msgpackr `unpack`) are timed in the threadkv process right after the row they are compared with.',
      `- Latency rows ("pure get", "put"): the process main thread alone, ${data.warmupMs} ms warm-up then ${data.durationMs} ms timed; ns/op = time / ops. Throughput rows: N worker threads warm up (${data.warmupMs} ms, times N / cores when N exceeds the cores), meet at a SharedArrayBuffer barrier, run ${data.durationMs} ms until a shared stop flag, and report op counts; Mops/s = all ops / (last end − first start). "8 workers" runs 8 threads on the machine's ${machine.cores} cores.`,
      '- The same loop source runs for every contender, compiled afresh per workload (`new Function`), so no contender inherits another\'s JIT feedback.',
      '- The machine is a small, shared VM: absolute numbers move by up to 2× between processes; compare within a table.',
    ].join('\n'),
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(targetsSection(data.targets, ctx));
  out.push('');
  out.push('## Headline (medians)');
  out.push('');
  out.push(headline(agg, workloads, contenders));
  out.push('');
  out.push('![Throughput by worker thread count](throughput.svg)');
  out.push('');
  out.push('## Every row');
  out.push('');
  out.push('"throughput vs threadkv" is the contender\'s throughput divided by threadkv\'s (defaults) in the same trial: below 1 is slower than threadkv.');
  out.push('');
  out.push(detailTables(agg, workloads, contenders));
  out.push('## C++ core alone: lock designs (`node bench/native/run.js`)');
  out.push('');
  out.push(nativeSection(data.native));
  out.push('');
  if (data.fairness !== undefined) {
    out.push('## Writer fairness (`node bench/native/run.js --fairness`)');
    out.push('');
    if (data.fairness?.note) out.push(`_${data.fairness.note}._`, '');
    out.push(fairnessSection(data.fairness));
    out.push('');
  }
  if (data.expiry !== undefined) {
    out.push('## Expiry (`node bench/expiry.js`)');
    out.push('');
    if (data.expiry?.note) out.push(`_${data.expiry.note}._`, '');
    out.push(data.expiry === null ? '_not run_' : data.expiry.error ? `_failed: ${data.expiry.error}_` : data.expiry.markdown);
    out.push('');
  }
  if (data.growth !== undefined) {
    out.push('## Writes while a table grows (`node bench/native/table-growth.js`)');
    out.push('');
    if (data.growth?.note) out.push(`_${data.growth.note}._`, '');
    out.push(data.growth === null ? '_not run_' : data.growth.error ? `_failed: ${data.growth.error}_` : growthMarkdown(data.growth.markdown));
    out.push('');
  }
  out.push('## Codecs (`node bench/codecs.js`)');
  out.push('');
  out.push(codecsSection(data.codecs));
  out.push('');
  out.push('## Memory per entry (`node bench/memory.js`)');
  out.push('');
  out.push(memorySection(data.memory));
  out.push('');
  out.push('## Read scaling (`node bench/read-scaling.js`)');
  out.push('');
  out.push(readScalingSection(data.readScaling));
  out.push('');
  out.push('## Snapshot and restore (`node bench/snapshot.js`)');
  out.push('');
  if (data.snapshot?.note) out.push(`_${data.snapshot.note}._`, '');
  out.push(snapshotMarkdown(data.snapshot));
  out.push('');
  out.push('## Where a call spends its instructions (`node bench/profile.js`)');
  out.push('');
  out.push(profileSection(data.profile));
  out.push('');
  if (data.compute !== undefined) {
    out.push('## getOrCompute: one computation per key for every thread (`node bench/compute.js`)');
    out.push('');
    out.push(require('../compute').section(data.compute));
    out.push('');
  }
  if (data.watch !== undefined) {
    out.push('## watch: what change events cost writers, and what a watcher gets (`node bench/watch.js`)');
    out.push('');
    if (data.watch?.note) out.push(`_${data.watch.note}._`, '');
    out.push(require('../watch').section(data.watch));
    out.push('');
  }
  out.push('## Contenders');
  out.push('');
  out.push(contenderNotes(contenders));
  out.push('');
  if (data.errors && data.errors.length) {
    out.push('## Errors during the run');
    out.push('');
    out.push(data.errors.map((e) => `- ${e}`).join('\n'));
    out.push('');
  }
  return { markdown: out.join('\n'), agg };
}

function renderSvg(data, agg) {
  const xs = [1, 2, 8];
  const panels = [
    ['95% get / 5% set', 'r95-S'],
    ['50% get / 50% set', 'r50-S'],
  ].map(([title, prefix]) => ({
    title: `${title}, S, uniform keys`,
    series: data.contenders
      .map((c) => ({
        id: c.id,
        label: c.short || c.id,
        points: xs
          .map((x) => {
            const a = agg[`${prefix}-${x}w`] && agg[`${prefix}-${x}w`][c.id];
            return a && a.mops ? { x, median: a.mops.median, min: a.mops.min, max: a.mops.max } : null;
          })
          .filter(Boolean),
      }))
      .filter((s) => s.points.length > 0),
  }));
  return chart({
    title: 'threadkv: throughput by worker thread count',
    subtitle: `${data.date}, ${data.machine.cores} cores, Node ${data.machine.node}; medians of ${data.runs} runs, whiskers min–max; 100,000 keys`,
    panels,
    xs,
  });
}

module.exports = { render, renderSvg, aggregate };
