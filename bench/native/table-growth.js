'use strict';
// Builds and runs bench/native/table_growth.cc: the latency of every Upsert
// while one table grows to 2M keys (incremental rehashing against the
// stop-the-world baseline it replaced), then, when valgrind is installed,
// the instructions per operation of the hot paths in the steady state
// (callgrind), both tables side by side.
//
//   node bench/native/table-growth.js [--keys=2000000] [--trials=5] [--clock=wall|cpu]
//                                     [--no-latency] [--no-callgrind] [--quick]
//
// The build goes to build-bench-native/ at the repository root (git-ignored).

const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..', '..');
const BUILD = path.join(ROOT, 'build-bench-native');

function parse(argv) {
  const o = {};
  for (const a of argv) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (!m) throw new Error(`unknown argument ${a}`);
    o[m[1]] = m[2] === undefined ? true : m[2];
  }
  return o;
}

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function build() {
  const q = { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] };
  execFileSync('cmake', ['-S', path.join('bench', 'native'), '-B', BUILD, '-DCMAKE_BUILD_TYPE=Release'], q);
  execFileSync('cmake', ['--build', BUILD, '--target', 'table_growth', '--parallel', '2'], q);
  return path.join(BUILD, 'table_growth');
}

// Instructions collected in MeasuredOps (callgrind's totals line).
function callgrindIr(exe, args) {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'tg-')), 'callgrind.out');
  const r = spawnSync(
    'valgrind',
    [
      '--tool=callgrind',
      '--toggle-collect=*MeasuredOps*',
      `--callgrind-out-file=${out}`,
      exe,
      'steady',
      ...args,
    ],
    { encoding: 'utf8', maxBuffer: 64 << 20 },
  );
  if (r.status !== 0) throw new Error(`callgrind failed: ${r.stderr.slice(-2000)}`);
  const text = fs.readFileSync(out, 'utf8');
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  const m = /^(?:summary|totals): (\d+)/m.exec(text);
  if (!m) throw new Error('no totals in the callgrind output');
  return Number(m[1]);
}

function main() {
  const o = parse(process.argv.slice(2));
  const quick = !!o.quick;
  const exe = build();
  if (!o['no-latency']) {
    const keys = String(o.keys || (quick ? 200000 : 2000000));
    const trials = String(o.trials || (quick ? 2 : 5));
    const clock = String(o.clock || 'wall');
    console.log(`## Upsert latency while one table grows to ${keys} keys (${clock} clock)\n`);
    const r = spawnSync(exe, ['latency', `--keys=${keys}`, `--trials=${trials}`, `--clock=${clock}`], {
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (r.status !== 0) throw new Error(`table_growth failed: ${r.stderr}`);
    process.stdout.write(r.stdout + '\n');
  }
  if (o['no-callgrind']) return;
  if (!have('valgrind')) {
    console.log('(valgrind not installed: no instruction counts)');
    return;
  }
  const ops = quick ? 20000 : 150000;
  const cases = [
    ['find-hit', 150000, 1 << 20],
    ['find-miss', 150000, 1 << 20],
    ['replace', 150000, 1 << 20],
    ['churn', 150000, 1 << 20],
    // Homes recomputed from keys (the path of tables over 2^20 slots).
    ['churn', 150000, 1024],
  ];
  console.log(`## Instructions per operation, steady state (callgrind, ${ops} operations, 150,000 keys in 262,144 slots)\n`);
  console.log('| operation | before | now | change |');
  console.log('|---|---:|---:|---:|');
  for (const [op, keys, tagHome] of cases) {
    const args = [`--op=${op}`, `--keys=${keys}`, `--ops=${ops}`, `--tag-home=${tagHome}`];
    const before = callgrindIr(exe, ['--impl=old', ...args]) / ops;
    const now = callgrindIr(exe, ['--impl=new', ...args]) / ops;
    const name = tagHome < 1 << 20 ? `${op} (homes from keys)` : op;
    const pct = ((now / before - 1) * 100).toFixed(1);
    console.log(`| ${name} | ${before.toFixed(1)} | ${now.toFixed(1)} | ${pct >= 0 ? '+' : ''}${pct}% |`);
  }
}

main();
