#!/usr/bin/env node
'use strict';
// Builds the libFuzzer targets of native/fuzz (clang, ASan+UBSan, in
// build-fuzz/) and runs each for a bounded time, starting from its committed
// corpus (native/fuzz/corpus/<name>/) and its regressions
// (native/fuzz/regressions/<name>/). Fails on any crash, leak, timeout,
// out-of-memory or model mismatch, and prints the reproducer and how to
// replay it. See native/fuzz/README.md.
//
// Usage:
//   node scripts/test-fuzz.js [options] [-libfuzzer_flag=value ...]
//     --seconds=N | --minutes=N  time per target (default: each target's own, about a minute)
//     --target=NAME              only this target (repeatable)
//     --jobs=N                   targets run side by side (default: the CPU count)
//     --fork=N                   N fuzzing processes per target (libFuzzer -fork), for long runs
//     --seed=N                   libFuzzer's random seed (default: a new one, printed)
//     --merge                    afterwards, add the inputs that found new coverage to
//                                native/fuzz/corpus/<name>/ (minimized; commit them)
//     --coverage                 instead of fuzzing: line coverage of native/core by the
//                                corpora (clang source-based coverage, needs llvm-profdata/llvm-cov)
//   Arguments of the form -name=value go to libFuzzer as they are.
//
// Environment: CXX_FUZZ picks the compiler (default clang++-14, then
// clang++). THREADKV_FUZZ_SECONDS sets the time per target like --seconds.
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fuzzDir = path.join(root, 'native', 'fuzz');
const buildDir = path.join(root, 'build-fuzz');

// One line per target: native/fuzz/fuzz_<name>.cc. `seconds`: time per CI
// run. `canary`: a corpus file on which the target's deliberately wrong model
// (THREADKV_FUZZ_FAULT=1) must report a mismatch, proving that a mismatch
// fails the run (leave it out for a target without a model).
const TARGETS = [
  { name: 'core', seconds: 75, canary: 'put-read', args: ['-max_len=4096', '-len_control=20'] },
  { name: 'table', seconds: 45, canary: 'upsert-find', args: ['-max_len=2048', '-len_control=20'] },
  // The snapshot loader on any file (a malloc limit far below the default: a
  // few bytes must never make the loader ask for much memory).
  {
    name: 'snapshot_load',
    seconds: 45,
    canary: 'kinds-string',
    args: ['-max_len=16384', '-len_control=20', '-malloc_limit_mb=64'],
  },
];

// Sanitizer settings: ours last, so a stray setting in the caller's
// environment cannot weaken the run.
const SAN_OPTIONS = {
  ASAN_OPTIONS: { ours: 'detect_leaks=1:abort_on_error=1:halt_on_error=1', sep: ':' },
  UBSAN_OPTIONS: { ours: 'halt_on_error=1:print_stacktrace=1', sep: ':' },
};

const MISMATCH = 'THREADKV FUZZ MISMATCH';

function usage(message) {
  if (message) console.error(`test-fuzz: ${message}`);
  console.error(
    'usage: node scripts/test-fuzz.js [--seconds=N | --minutes=N] [--target=NAME] [--jobs=N] [--fork=N] ' +
      '[--seed=N] [--merge] [--coverage] [-libfuzzer_flag=value ...]',
  );
  process.exit(2);
}

function parseArgs(argv) {
  const opts = { seconds: null, targets: [], jobs: null, fork: 0, seed: null, merge: false, coverage: false, extra: [] };
  const num = (a, v) => {
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) usage(`${a} needs a positive number`);
    return n;
  };
  for (const a of argv) {
    const [k, v] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (k === '--seconds') opts.seconds = num(a, v);
    else if (k === '--minutes') opts.seconds = num(a, v) * 60;
    else if (k === '--target') opts.targets.push(v);
    else if (k === '--jobs') opts.jobs = Math.floor(num(a, v));
    else if (k === '--fork') opts.fork = Math.floor(num(a, v));
    else if (k === '--seed') opts.seed = Math.floor(num(a, v));
    else if (a === '--merge') opts.merge = true;
    else if (a === '--coverage') opts.coverage = true;
    else if (a === '-h' || a === '--help') usage();
    else if (/^-[a-z_]+=/.test(a)) opts.extra.push(a);
    else usage(`unknown argument ${JSON.stringify(a)}`);
  }
  if (opts.seconds === null && process.env.THREADKV_FUZZ_SECONDS) {
    opts.seconds = num('THREADKV_FUZZ_SECONDS', process.env.THREADKV_FUZZ_SECONDS);
  }
  return opts;
}

// llvm-symbolizer of the compiler's own LLVM (Debian installs it only under
// a versioned name), so that reports show functions and lines.
let symbolizer = null;
function findSymbolizer(compiler) {
  const r = spawnSync(compiler, ['-print-prog-name=llvm-symbolizer'], { encoding: 'utf8' });
  const p = r.status === 0 ? r.stdout.trim() : '';
  symbolizer = p && path.isAbsolute(p) && fs.existsSync(p) ? p : null;
}

function sanitizerEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const [name, { ours, sep }] of Object.entries(SAN_OPTIONS)) {
    const mine = symbolizer ? `${ours}${sep}external_symbolizer_path=${symbolizer}` : ours;
    env[name] = env[name] ? `${env[name]}${sep}${mine}` : mine;
  }
  return env;
}

function findCompiler() {
  const candidates = process.env.CXX_FUZZ ? [process.env.CXX_FUZZ] : ['clang++-14', 'clang++'];
  for (const c of candidates) {
    const r = spawnSync(c, ['--version'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return c;
  }
  console.error(
    `test-fuzz: no clang found (tried ${candidates.join(', ')}). libFuzzer needs clang: on Debian, ` +
      'apt-get install clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14 (or set CXX_FUZZ)',
  );
  process.exit(2);
}

function run(cmd, argv, { env = process.env, logFile = null, quiet = false } = {}) {
  if (!quiet) console.log(`$ ${[cmd, ...argv].join(' ')}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    const log = logFile ? fs.createWriteStream(logFile) : null;
    const chunks = [];
    const sink = (out) => (chunk) => {
      if (log) log.write(chunk);
      else chunks.push(chunk);
      if (!quiet && !log) out.write(chunk);
    };
    child.stdout.on('data', sink(process.stdout));
    child.stderr.on('data', sink(process.stderr));
    child.on('error', (err) => {
      running.delete(child);
      resolve({ code: 127, signal: null, output: String(err) });
    });
    child.on('close', (code, signal) => {
      running.delete(child);
      const finish = () =>
        resolve({
          code: code === null ? 128 : code,
          signal,
          output: log ? fs.readFileSync(logFile, 'utf8') : Buffer.concat(chunks).toString(),
        });
      if (log) log.end(finish);
      else finish();
    });
  });
}

// One run at a time per build directory: two would share (and clear) each
// other's artifacts and logs.
function takeLock(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const lock = path.join(dir, 'test-fuzz.lock');
  try {
    const pid = Number(fs.readFileSync(lock, 'utf8'));
    if (pid && pid !== process.pid) {
      process.kill(pid, 0); // throws if no such process
      console.error(`test-fuzz: another run (pid ${pid}) is using ${path.relative(root, dir)}; wait for it or stop it`);
      process.exit(2);
    }
  } catch {
    // no lock, or its process is gone
  }
  fs.writeFileSync(lock, String(process.pid));
  process.on('exit', () => {
    try {
      if (Number(fs.readFileSync(lock, 'utf8')) === process.pid) fs.unlinkSync(lock);
    } catch {
      // already gone
    }
  });
}

const running = new Set();
for (const sig of ['SIGINT', 'SIGTERM']) {
  process.on(sig, () => {
    for (const child of running) child.kill('SIGTERM');
    process.exit(130);
  });
}

const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(0);

// Every fuzz_<name>.cc must have a line in TARGETS and the reverse, so that
// no target goes unfuzzed by mistake.
function checkTargets() {
  const files = fs
    .readdirSync(fuzzDir)
    .filter((f) => /^fuzz_\w+\.cc$/.test(f))
    .map((f) => f.slice('fuzz_'.length, -'.cc'.length));
  const problems = [];
  for (const f of files) {
    if (!TARGETS.some((t) => t.name === f)) problems.push(`native/fuzz/fuzz_${f}.cc has no line in TARGETS (scripts/test-fuzz.js)`);
  }
  for (const t of TARGETS) {
    if (!files.includes(t.name)) problems.push(`TARGETS names ${t.name}, but native/fuzz/fuzz_${t.name}.cc does not exist`);
    const corpus = path.join(fuzzDir, 'corpus', t.name);
    if (!fs.existsSync(corpus) || inputsIn(corpus).length === 0) problems.push(`native/fuzz/corpus/${t.name}/ has no seed input`);
  }
  if (problems.length) {
    for (const p of problems) console.error(`test-fuzz: ${p}`);
    process.exit(2);
  }
}

function inputsIn(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => !f.startsWith('.') && !f.startsWith('README'))
    .map((f) => path.join(dir, f))
    .filter((f) => fs.statSync(f).isFile());
}

async function build(compiler, targets, dir, extraDefs = []) {
  const configure = await run('cmake', [
    '-S', '.', '-B', dir, '-G', 'Ninja',
    `-DCMAKE_CXX_COMPILER=${compiler}`,
    '-DCMAKE_BUILD_TYPE=',
    '-DTHREADKV_FUZZ=ON',
    '-DBUILD_TESTING=OFF',
    ...extraDefs,
  ]);
  if (configure.code !== 0) return `configure failed (if ${path.relative(root, dir)} was configured with another generator or compiler, delete it)`;
  const b = await run('cmake', ['--build', dir, '--target', ...targets.map((t) => `fuzz_${t.name}`)]);
  return b.code === 0 ? null : 'build failed';
}

function exe(dir, t) {
  return path.join(dir, 'native', 'fuzz', `fuzz_${t.name}`);
}

// The harness must be able to fail: with a deliberately wrong model the
// canary input must be reported as a mismatch (and the run count as failed).
async function canary(t) {
  if (!t.canary) return null;
  const input = path.join(fuzzDir, 'corpus', t.name, t.canary);
  if (!fs.existsSync(input)) return `canary input native/fuzz/corpus/${t.name}/${t.canary} is missing`;
  const r = await run(exe(buildDir, t), [input], { env: sanitizerEnv({ THREADKV_FUZZ_FAULT: '1' }), quiet: true });
  if (r.code !== 0 && r.output.includes(MISMATCH)) return null;
  process.stdout.write(r.output);
  return `the canary (a deliberately wrong model) was not reported as a mismatch (exit ${r.code})`;
}

function parseStats(output) {
  const stat = (name) => {
    const m = new RegExp(`stat::${name}:\\s+(\\d+)`).exec(output);
    return m ? Number(m[1]) : null;
  };
  const lines = output.split('\n').filter((l) => /^#\d+\s/.test(l) && l.includes('cov:'));
  const last = lines.length ? lines[lines.length - 1] : '';
  const field = (re) => {
    const m = re.exec(last);
    return m ? m[1] : '?';
  };
  const seed = /INFO: Seed: (\d+)/.exec(output);
  return {
    execs: stat('number_of_executed_units'),
    execPerSec: stat('average_exec_per_sec'),
    newUnits: stat('new_units_added'),
    peakRss: stat('peak_rss_mb'),
    cov: field(/cov: (\d+)/),
    ft: field(/ft: (\d+)/),
    corp: field(/corp: (\d+\/\S+)/),
    seed: seed ? seed[1] : '?',
  };
}

// The part of a failing log worth printing: from the first report line on.
function failureReport(output) {
  const lines = output.split('\n');
  const start = lines.findIndex((l) =>
    l.includes(MISMATCH) || /==\d+==ERROR|runtime error:|ERROR: libFuzzer|LeakSanitizer|SUMMARY:/.test(l),
  );
  const from = start >= 0 ? Math.max(0, start - 2) : Math.max(0, lines.length - 60);
  return lines.slice(from, from + 150).join('\n');
}

function reproducers(dir) {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir)
    .filter((f) => /^(crash|leak|timeout|oom)-/.test(f))
    .map((f) => path.join(dir, f));
}

async function fuzzTarget(t, opts) {
  const secs = opts.seconds ?? t.seconds;
  const work = path.join(buildDir, 'corpus', t.name);
  const artifacts = path.join(buildDir, 'artifacts', t.name);
  const logs = path.join(buildDir, 'logs');
  fs.mkdirSync(work, { recursive: true });
  fs.rmSync(artifacts, { recursive: true, force: true });
  fs.mkdirSync(artifacts, { recursive: true });
  fs.mkdirSync(logs, { recursive: true });
  const logFile = path.join(logs, `${t.name}.log`);
  const dict = path.join(fuzzDir, `fuzz_${t.name}.dict`);
  const args = [
    `-max_total_time=${Math.round(secs)}`,
    '-print_final_stats=1',
    '-timeout=30',
    '-rss_limit_mb=3072',
    '-malloc_limit_mb=1024',
    `-artifact_prefix=${artifacts}${path.sep}`,
    ...(t.args || []),
    ...(fs.existsSync(dict) ? [`-dict=${dict}`] : []),
    ...(opts.seed !== null ? [`-seed=${opts.seed}`] : []),
    ...(opts.fork ? [`-fork=${opts.fork}`] : []),
    ...opts.extra,
    work, // new inputs go here (the first directory), never into the repo
    path.join(fuzzDir, 'corpus', t.name),
    ...(inputsIn(path.join(fuzzDir, 'regressions', t.name)).length ? [path.join(fuzzDir, 'regressions', t.name)] : []),
  ];
  console.log(`test-fuzz: ${t.name}: fuzzing for ${Math.round(secs)} s (log: ${path.relative(root, logFile)})`);
  const t0 = Date.now();
  const r = await run(exe(buildDir, t), args, { env: sanitizerEnv(), logFile, quiet: true });
  const stats = parseStats(r.output);
  const found = reproducers(artifacts);
  const ok = r.code === 0 && found.length === 0 && stats.execs !== null;
  return { t, ok, code: r.code, signal: r.signal, output: r.output, stats, found, time: seconds(t0), logFile };
}

function printFailure(res) {
  const { t } = res;
  console.log(`\n===== test-fuzz: ${t.name} FAILED (exit ${res.code}${res.signal ? `, ${res.signal}` : ''}) =====`);
  console.log(failureReport(res.output));
  const bin = path.relative(root, exe(buildDir, t));
  for (const f of res.found) {
    const rel = path.relative(root, f);
    const bytes = fs.readFileSync(f);
    console.log(`\ntest-fuzz: reproducer ${rel} (${bytes.length} bytes)`);
    if (bytes.length <= 4096) console.log(`  base64: ${bytes.toString('base64')}`);
    console.log(`  replay:      ${bin} ${rel}`);
    console.log(`  trace:       THREADKV_FUZZ_TRACE=1 ${bin} ${rel}`);
    console.log(`  minimize:    ${bin} -minimize_crash=1 -runs=10000 ${rel}`);
    console.log(`  keep it:     cp ${rel} native/fuzz/regressions/${t.name}/<what-it-found>  (replayed by npm run test:native)`);
  }
  if (!res.found.length) console.log(`test-fuzz: no reproducer file was written; full log: ${path.relative(root, res.logFile)}`);
}

async function pool(items, jobs, fn) {
  const results = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return results;
}

async function merge(targets) {
  for (const t of targets) {
    const repo = path.join(fuzzDir, 'corpus', t.name);
    const before = inputsIn(repo).length;
    const r = await run(exe(buildDir, t), ['-merge=1', ...(t.args || []), repo, path.join(buildDir, 'corpus', t.name)], {
      env: sanitizerEnv(),
      quiet: true,
    });
    if (r.code !== 0) {
      process.stdout.write(r.output);
      console.error(`test-fuzz: merge of ${t.name} failed`);
      return false;
    }
    console.log(`test-fuzz: ${t.name}: native/fuzz/corpus/${t.name}/ ${before} -> ${inputsIn(repo).length} inputs`);
  }
  return true;
}

// Line coverage of native/core by the committed corpora plus the work
// corpora of earlier runs (build-fuzz/corpus), with clang's source-based
// coverage (build-fuzz-cov/, no sanitizers).
async function coverage(compiler, targets) {
  const dir = path.join(root, 'build-fuzz-cov');
  const err = await build(compiler, targets, dir, ['-DTHREADKV_FUZZ_COVERAGE=ON']);
  if (err) {
    console.error(`test-fuzz: coverage build: ${err}`);
    return false;
  }
  const suffix = /-\d+$/.exec(compiler);
  const tool = (name) => (suffix ? `${name}${suffix[0]}` : name);
  const profiles = [];
  for (const t of targets) {
    const raw = path.join(dir, `${t.name}.profraw`);
    const dirs = [path.join(fuzzDir, 'corpus', t.name), path.join(fuzzDir, 'regressions', t.name), path.join(buildDir, 'corpus', t.name)]
      .filter((d) => inputsIn(d).length);
    const r = await run(exe(dir, t), ['-runs=0', ...(t.args || []), ...dirs], {
      env: { ...process.env, LLVM_PROFILE_FILE: raw },
      quiet: true,
    });
    if (r.code !== 0) {
      process.stdout.write(r.output);
      return false;
    }
    profiles.push(raw);
  }
  const data = path.join(dir, 'fuzz.profdata');
  if ((await run(tool('llvm-profdata'), ['merge', '-sparse', ...profiles, '-o', data])).code !== 0) return false;
  const objects = targets.flatMap((t, i) => (i === 0 ? [exe(dir, t)] : ['-object', exe(dir, t)]));
  const r = await run(tool('llvm-cov'), [
    'report', ...objects, `-instr-profile=${data}`,
    path.join(root, 'native', 'core'),
  ]);
  return r.code === 0;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  checkTargets();
  const unknown = opts.targets.filter((n) => !TARGETS.some((t) => t.name === n));
  if (unknown.length) usage(`unknown target(s): ${unknown.join(', ')} (known: ${TARGETS.map((t) => t.name).join(', ')})`);
  const targets = opts.targets.length ? TARGETS.filter((t) => opts.targets.includes(t.name)) : TARGETS;
  for (const tool of ['cmake', 'ninja']) {
    const r = spawnSync(tool, ['--version'], { stdio: 'ignore' });
    if (r.error || r.status !== 0) {
      console.error(`test-fuzz: \`${tool}\` not found`);
      process.exit(2);
    }
  }
  const compiler = findCompiler();
  findSymbolizer(compiler);
  takeLock(opts.coverage ? path.join(root, 'build-fuzz-cov') : buildDir);
  if (opts.coverage) process.exit((await coverage(compiler, targets)) ? 0 : 1);

  const t0 = Date.now();
  const err = await build(compiler, targets, buildDir);
  if (err) {
    console.error(`test-fuzz: ${err}`);
    process.exit(1);
  }
  console.log(`test-fuzz: built ${targets.map((t) => `fuzz_${t.name}`).join(', ')} in ${seconds(t0)} s`);

  for (const t of targets) {
    const problem = await canary(t);
    if (problem) {
      console.error(`test-fuzz: ${t.name}: ${problem}`);
      process.exit(1);
    }
    if (t.canary) console.log(`test-fuzz: ${t.name}: canary ok (a wrong model is reported as a mismatch)`);
  }

  const cpus = os.availableParallelism ? os.availableParallelism() : os.cpus().length;
  const jobs = opts.jobs ?? Math.max(1, cpus);
  const results = await pool(targets, jobs, (t) => fuzzTarget(t, opts));

  for (const res of results) if (!res.ok) printFailure(res);
  if (opts.merge && results.every((r) => r.ok) && !(await merge(targets))) process.exit(1);

  console.log('\n===== test-fuzz: summary =====');
  for (const { t, ok, stats, time } of results) {
    console.log(
      `test-fuzz: ${t.name.padEnd(14)} ${ok ? 'PASS' : 'FAIL'}  ${stats.execs ?? '?'} execs (${stats.execPerSec ?? '?'}/s) ` +
        `in ${time} s, cov ${stats.cov} ft ${stats.ft}, corpus ${stats.corp}, ${stats.newUnits ?? '?'} new, ` +
        `peak RSS ${stats.peakRss ?? '?'} MB, seed ${stats.seed}`,
    );
  }
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
