'use strict';
// Builds and runs the C++ lock-design microbenchmark (kvbench.cc) and prints
// a table of medians (min–max) in Mops/s.
//
//   node bench/native/run.js [--quick] [--runs=5] [--ms=150] [--threads=1,2,4,8] [--dists=uniform,zipf,hot]
//                            [--fairness] [--json] [--build-only]
//
// --fairness: the writer beside 1 and 4 readers of its key, per lock (sets/s,
// the ratio of its 4-reader to its 1-reader rate, p99 and max set latency).
//
// The build goes to build-bench-native/ at the repository root (git-ignored),
// with CMake when it is installed, else with g++ (or $CXX) directly.

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const { summary, fmt, parseArgs, textTable } = require('../lib/stats');

const ROOT = path.join(__dirname, '..', '..');
const BUILD = path.join(ROOT, 'build-bench-native');
const VARIANTS = [
  ['mutex-1', 'one std::mutex, one table'],
  ['shared-1', 'one shard lock (threadkv::Store, shards 1)'],
  ['mutex-64', '64 shards of std::mutex'],
  ['rw-64', '64 shards of std::shared_mutex (glibc: reader-preferring)'],
  ['wprw-64', '64 shards of the writer-preferring shared mutex (native/core/rwlock.h)'],
  ['shared-64', 'threadkv::Store, shards 64 (shipped: the writer-preferring lock)'],
];
const FAIR_VARIANTS = ['mutex-64', 'rw-64', 'wprw-64', 'shared-64'];

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function build(log) {
  const exe = path.join(BUILD, 'kvbench');
  if (have('cmake')) {
    const q = { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] };
    execFileSync('cmake', ['-S', path.join('bench', 'native'), '-B', BUILD, '-DCMAKE_BUILD_TYPE=Release'], q);
    execFileSync('cmake', ['--build', BUILD, '--parallel', '2'], q);
  } else {
    const cxx = process.env.CXX || 'g++';
    const core = fs
      .readdirSync(path.join(ROOT, 'native', 'core'))
      .filter((f) => f.endsWith('.cc'))
      .map((f) => path.join(ROOT, 'native', 'core', f));
    fs.mkdirSync(BUILD, { recursive: true });
    log(`(no cmake: building with ${cxx})`);
    execFileSync(cxx, ['-std=c++20', '-O2', '-DNDEBUG', '-I', path.join(ROOT, 'native'), path.join(__dirname, 'kvbench.cc'), ...core, '-o', exe, '-pthread'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }
  return exe;
}

function run(opts = {}) {
  const quick = !!opts.quick;
  const runs = Number(opts.runs || (quick ? 1 : 5));
  const ms = Number(opts.ms || (quick ? 30 : 150));
  const threads = String(opts.threads || (quick ? '1,2,8' : '1,2,4,8'));
  const log = opts.log || ((s) => process.stderr.write(s + '\n'));
  const exe = build(log);
  if (opts.fairness) return runFairness(exe, runs, Number(opts.ms || (quick ? 100 : 500)));
  const dists = String(opts.dists || 'uniform,zipf,hot').split(',');
  const cells = runGrouped(exe, [`--ms=${ms}`, `--runs=${runs}`, `--threads=${threads}`, '--mixes=95,50', `--dists=${dists}`], (r) => [
    `${r.variant}|${r.dist}|${r.mix}|${r.threads}`,
    r.mops,
  ]);
  const rows = [];
  for (const dist of dists) {
    for (const [variant, label] of VARIANTS) {
      for (const mix of ['95/5', '50/50']) {
        const row = { variant, label, dist, mix, threads: {} };
        for (const t of threads.split(',').map(Number)) {
          const xs = cells.get(`${variant}|${dist}|${mix}|${t}`);
          if (xs) row.threads[t] = summary(xs);
        }
        rows.push(row);
      }
    }
  }
  return { runs, ms, threads: threads.split(',').map(Number), rows };
}

// Runs kvbench with `args` and groups its JSON lines: pick(line) gives [cell key, value].
function runGrouped(exe, args, pick) {
  const out = execFileSync(exe, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  const cells = new Map();
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const [k, v] = pick(JSON.parse(line));
    if (!cells.has(k)) cells.set(k, []);
    cells.get(k).push(v);
  }
  return cells;
}

function runFairness(exe, runs, ms) {
  const args = ['--fairness', `--ms=${ms}`, `--runs=${runs}`, '--readers=1,4', `--variants=${FAIR_VARIANTS}`];
  const cells = runGrouped(exe, args, (r) => [`${r.variant}|${r.readers}`, r]);
  const med = (rs, f) => summary(rs.map(f)).median;
  const rows = FAIR_VARIANTS.map((variant) => {
    const one = cells.get(`${variant}|1`) || [];
    const four = cells.get(`${variant}|4`) || [];
    // The ratio per run (1 and 4 readers measured back to back), then its median.
    const ratios = four.map((r, i) => (one[i] ? r.sets_per_s / one[i].sets_per_s : NaN)).filter(Number.isFinite);
    return {
      variant,
      sets1: med(one, (r) => r.sets_per_s),
      sets4: med(four, (r) => r.sets_per_s),
      ratio: ratios.length ? summary(ratios) : null,
      p99: med(four, (r) => r.p99_us),
      max: med(four, (r) => r.max_us),
      reads1: med(one, (r) => r.reads_mops),
      reads4: med(four, (r) => r.reads_mops),
    };
  });
  return { fairness: true, runs, ms, rows };
}

function print(r) {
  if (r.fairness) {
    console.log(`C++ core: one writer of a key beside 1 / 4 threads reading it (median of ${r.runs} runs of ${r.ms} ms):`);
    console.log(
      textTable(
        ['variant', 'sets/s, 1 reader', 'sets/s, 4 readers', '4 / 1 (min–max)', 'p99 set, 4 readers', 'max set, 4 readers', 'reads Mops/s 1 / 4'],
        r.rows.map((x) => [
          x.variant,
          fmt(x.sets1),
          fmt(x.sets4),
          x.ratio ? `${fmt(x.ratio.median)} (${fmt(x.ratio.min)}–${fmt(x.ratio.max)})` : '–',
          `${fmt(x.p99)} µs`,
          `${fmt(x.max)} µs`,
          `${fmt(x.reads1)} / ${fmt(x.reads4)}`,
        ]),
      ),
    );
    for (const [v, label] of VARIANTS) if (FAIR_VARIANTS.includes(v)) console.log(`  ${v}: ${label}`);
    return;
  }
  console.log(`C++ core, Mops/s (median of ${r.runs} runs of ${r.ms} ms, min–max), 100,000 keys (uniform, Zipf 0.99, or one hot key):`);
  console.log(
    textTable(
      ['variant', 'keys', 'mix', ...r.threads.map((t) => `${t} thr`)],
      r.rows.map((x) => [x.variant, x.dist, x.mix, ...r.threads.map((t) => (x.threads[t] ? `${fmt(x.threads[t].median)} (${fmt(x.threads[t].min)}–${fmt(x.threads[t].max)})` : '–'))]),
    ),
  );
  for (const [v, label] of VARIANTS) console.log(`  ${v}: ${label}`);
}

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  if (args['build-only']) {
    build((s) => process.stderr.write(s + '\n'));
    process.exit(0);
  }
  const r = run(args);
  if (args.json) process.stdout.write(JSON.stringify(r) + '\n');
  else print(r);
}

module.exports = { run, print, VARIANTS };
