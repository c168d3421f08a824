'use strict';
// Builds and runs the C++ lock-design microbenchmark (kvbench.cc) and prints
// a table of medians (min–max) in Mops/s.
//
//   node bench/native/run.js [--quick] [--runs=5] [--ms=150] [--threads=1,2,4,8] [--json] [--build-only]
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
  ['shared-1', 'one std::shared_mutex (threadkv::Store, shards 1)'],
  ['mutex-64', '64 shards of std::mutex'],
  ['shared-64', '64 shards of std::shared_mutex (threadkv::Store, shards 64: shipped)'],
];

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
  const out = execFileSync(exe, [`--ms=${ms}`, `--runs=${runs}`, `--threads=${threads}`, '--mixes=95,50'], {
    encoding: 'utf8',
    maxBuffer: 64 << 20,
  });
  const cells = new Map();
  for (const line of out.split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line);
    const k = `${r.variant}|${r.mix}|${r.threads}`;
    if (!cells.has(k)) cells.set(k, []);
    cells.get(k).push(r.mops);
  }
  const rows = [];
  for (const [variant, label] of VARIANTS) {
    for (const mix of ['95/5', '50/50']) {
      const row = { variant, label, mix, threads: {} };
      for (const t of threads.split(',').map(Number)) {
        const xs = cells.get(`${variant}|${mix}|${t}`);
        if (xs) row.threads[t] = summary(xs);
      }
      rows.push(row);
    }
  }
  return { runs, ms, threads: threads.split(',').map(Number), rows };
}

function print(r) {
  console.log(`C++ core, Mops/s (median of ${r.runs} runs of ${r.ms} ms, min–max), 100,000 keys, uniform:`);
  console.log(
    textTable(
      ['variant', 'mix', ...r.threads.map((t) => `${t} thr`)],
      r.rows.map((x) => [x.variant, x.mix, ...r.threads.map((t) => (x.threads[t] ? `${fmt(x.threads[t].median)} (${fmt(x.threads[t].min)}–${fmt(x.threads[t].max)})` : '–'))]),
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
