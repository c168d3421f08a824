#!/usr/bin/env node
'use strict';
// Builds the C++ core and its GoogleTest tests (native/test) in three
// variants and runs them with ctest:
//
//   plain  build-native/plain  no sanitizer
//   tsan   build-native/tsan   -fsanitize=thread
//   asan   build-native/asan   -fsanitize=address,undefined (LeakSanitizer included)
//
// Usage:
//   node scripts/test-native.js [plain] [tsan] [asan]   # default: all three
//   node scripts/test-native.js --selftest [tsan] [asan]
//       builds the deliberate-bug tests (THREADKV_SANITIZER_SELFTEST=ON, in
//       build-native/<variant>, as one more target) and checks that every one of them
//       FAILS with its sanitizer's report: proof that the sanitizers really run
//   node scripts/test-native.js --with-selftest         # both of the above
//   --no-fuzz-replay  builds and runs the GoogleTest targets only, not the
//       fuzz corpus replays (label fuzz-replay; CI replays every corpus with
//       npm run test:fuzz, under ASan+UBSan, anyway)
//   --build-only      builds what the run would run, runs nothing (CI builds
//       the sanitizer variants at low priority while other suites run)
//
// Every build uses -DTHREADKV_WERROR=ON. THREADKV_STRESS_SCALE (a number,
// default 1) scales the stress tests' iterations. Exits non-zero if any
// variant fails. No dependencies beyond Node, CMake, Ninja, a C++20 compiler
// with the sanitizer runtimes, and GoogleTest (Debian: libgtest-dev).
const { spawn, spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');

const VARIANTS = {
  plain: { sanitize: '' },
  tsan: { sanitize: 'thread' },
  asan: { sanitize: 'address,undefined' },
};

// Sanitizer settings for every test run. Options already in the environment
// come first, ours last: later settings win, so a stray detect_leaks=0 or
// halt_on_error=0 in the caller's environment cannot silently weaken a run.
const SAN_OPTIONS = {
  TSAN_OPTIONS: { ours: 'halt_on_error=1 exitcode=66 second_deadlock_stack=1', sep: ' ' },
  ASAN_OPTIONS: { ours: 'detect_leaks=1:abort_on_error=0:halt_on_error=1', sep: ':' },
  UBSAN_OPTIONS: { ours: 'halt_on_error=1:print_stacktrace=1', sep: ':' },
};

// The GoogleTest targets of native/test (CMakeLists.txt there).
const GTEST_TARGETS = ['threadkv_core_unit', 'threadkv_core_stress'];
// The tests of native/fuzz's replay and harness self-test targets, as
// discovered (fuzz_<name>.*, FuzzHarness.*) or, when they are not built, the
// placeholders ctest lists for them (<target>_NOT_BUILT).
const FUZZ_REPLAY_TESTS = '^(fuzz_|threadkv_fuzz_selftest|FuzzHarness\\.)';

// The self-test cases: each must exit non-zero with this report.
const SELFTEST_EXPECT = {
  Tsan: /ThreadSanitizer: data race/,
  Asan: /AddressSanitizer: heap-use-after-free/,
  Lsan: /LeakSanitizer: detected memory leaks/,
  Ubsan: /runtime error: signed integer overflow/,
};
const SELFTEST_REQUIRED = { tsan: ['Tsan'], asan: ['Asan', 'Lsan', 'Ubsan'] };

function usage(message) {
  if (message) console.error(`test-native: ${message}`);
  console.error(
    'usage: node scripts/test-native.js [--selftest | --with-selftest] [--no-fuzz-replay] [--build-only] [plain] [tsan] [asan]',
  );
  process.exit(2);
}

const args = process.argv.slice(2);
let runTests = true;
let runSelftest = false;
let fuzzReplay = true;
let buildOnly = false;
const chosen = [];
for (const a of args) {
  if (a === '--selftest') {
    runTests = false;
    runSelftest = true;
  } else if (a === '--with-selftest') {
    runSelftest = true;
  } else if (a === '--no-fuzz-replay') {
    fuzzReplay = false;
  } else if (a === '--build-only') {
    buildOnly = true;
  } else if (a === '-h' || a === '--help') {
    usage();
  } else if (Object.hasOwn(VARIANTS, a)) {
    if (!chosen.includes(a)) chosen.push(a);
  } else {
    usage(`unknown argument ${JSON.stringify(a)}`);
  }
}
const variants = chosen.length ? chosen : Object.keys(VARIANTS);

function sanitizerEnv() {
  const env = { ...process.env };
  for (const [name, { ours, sep }] of Object.entries(SAN_OPTIONS)) {
    env[name] = env[name] ? `${env[name]}${sep}${ours}` : ours;
  }
  return env;
}

function requireTool(cmd, hint) {
  const r = spawnSync(cmd, ['--version'], { stdio: 'ignore' });
  if (r.error || r.status !== 0) {
    console.error(`test-native: \`${cmd}\` not found; ${hint}`);
    process.exit(2);
  }
}

function show(cmd, argv) {
  return [cmd, ...argv].map((a) => (/^[\w./=:,+-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

// Runs a command, streaming its output through; resolves to
// { code, output } (output captured only when `capture` is set).
function run(cmd, argv, { env = process.env, capture = false, quiet = false } = {}) {
  if (!quiet) console.log(`$ ${show(cmd, argv)}`);
  return new Promise((resolve) => {
    const child = spawn(cmd, argv, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks = [];
    const forward = (out) => (chunk) => {
      if (capture) chunks.push(chunk);
      if (!quiet) out.write(chunk);
    };
    child.stdout.on('data', forward(process.stdout));
    child.stderr.on('data', forward(process.stderr));
    child.on('error', (err) => resolve({ code: 127, output: String(err) }));
    child.on('close', (code, signal) =>
      resolve({ code: code === null ? 128 : code, signal, output: Buffer.concat(chunks).toString() }));
  });
}

const seconds = (t0) => ((Date.now() - t0) / 1000).toFixed(1);

async function configureAndBuild(dir, sanitize, selftest, target) {
  const configure = await run('cmake', [
    '-S', '.', '-B', dir, '-G', 'Ninja',
    '-DCMAKE_BUILD_TYPE=RelWithDebInfo',
    '-DTHREADKV_WERROR=ON',
    `-DTHREADKV_SANITIZE=${sanitize}`,
    `-DTHREADKV_SANITIZER_SELFTEST=${selftest ? 'ON' : 'OFF'}`,
  ]);
  if (configure.code !== 0) {
    return `configure failed (if ${dir} was configured with another generator, delete it)`;
  }
  const targets = Array.isArray(target) ? target : target ? [target] : [];
  const build = await run('cmake', ['--build', dir, ...(targets.length ? ['--target', ...targets] : [])]);
  return build.code === 0 ? null : 'build failed';
}

// TSAN needs a fixed address layout; with high mmap randomisation
// (vm.mmap_rnd_bits > 28 on newer kernels) older runtimes die at start-up with
// "unexpected memory mapping". Rerunning without ASLR works around it.
const TSAN_MAPPING = /ThreadSanitizer: unexpected memory mapping|FATAL: ThreadSanitizer/;
function withoutAslr(cmd, argv) {
  const setarch = spawnSync('setarch', [os.machine(), '-R', 'true'], { stdio: 'ignore' });
  if (setarch.error || setarch.status !== 0) return null;
  return ['setarch', [os.machine(), '-R', cmd, ...argv]];
}

async function testVariant(name) {
  const dir = path.join('build-native', name);
  const t0 = Date.now();
  // Without the fuzz replays: the GoogleTest targets only (the selftest
  // target is built by selftestVariant).
  const err = await configureAndBuild(dir, VARIANTS[name].sanitize, false, fuzzReplay ? null : GTEST_TARGETS);
  const buildTime = seconds(t0);
  if (err) return { name, ok: false, line: `${err} after ${buildTime} s` };
  if (buildOnly) return { name, ok: true, line: `built in ${buildTime} s (--build-only)` };
  const t1 = Date.now();
  const jobs = String(Math.max(1, os.availableParallelism ? os.availableParallelism() : os.cpus().length));
  const ctestArgs = ['--test-dir', dir, '--output-on-failure', '-j', jobs, ...(fuzzReplay ? [] : ['-E', FUZZ_REPLAY_TESTS])];
  let r = await run('ctest', ctestArgs, { env: sanitizerEnv(), capture: true });
  if (r.code !== 0 && name === 'tsan' && TSAN_MAPPING.test(r.output)) {
    const retry = withoutAslr('ctest', ctestArgs);
    if (retry) {
      console.log('test-native: TSAN could not map its shadow memory; rerunning without ASLR');
      r = await run(retry[0], retry[1], { env: sanitizerEnv(), capture: true });
    }
  }
  const testTime = seconds(t1);
  const m = /(\d+)% tests passed, (\d+) tests? failed out of (\d+)/.exec(r.output);
  const counts = m ? `${Number(m[3]) - Number(m[2])}/${m[3]} tests passed` : 'no ctest summary';
  const noTests = /No tests were found/.test(r.output) || (m && Number(m[3]) === 0);
  const ok = r.code === 0 && !noTests;
  return { name, ok, line: `${counts}; build ${buildTime} s, tests ${testTime} s` };
}

async function selftestVariant(name) {
  if (!SELFTEST_REQUIRED[name]) return { name: `${name} selftest`, ok: true, line: 'skipped (no sanitizer)' };
  // The variant's own build directory: turning the option on only adds the
  // self-test target (the core's flags do not change), so nothing already
  // built there is rebuilt, and ctest runs with the option off again.
  const dir = path.join('build-native', name);
  const t0 = Date.now();
  const err = await configureAndBuild(dir, VARIANTS[name].sanitize, true, 'threadkv_sanitizer_selftest');
  if (err) return { name: `${name} selftest`, ok: false, line: err };
  if (buildOnly) return { name: `${name} selftest`, ok: true, line: `built in ${seconds(t0)} s (--build-only)` };
  const exe = path.join(root, dir, 'native', 'test', 'threadkv_sanitizer_selftest');
  const list = spawnSync(exe, ['--gtest_list_tests'], { encoding: 'utf8', env: sanitizerEnv() });
  const cases = (list.stdout || '')
    .split('\n')
    .filter((l) => /^ {2}\w/.test(l))
    .map((l) => l.trim().split(/\s/)[0]);
  const problems = [];
  for (const kind of SELFTEST_REQUIRED[name]) {
    if (!cases.some((c) => c.startsWith(kind))) problems.push(`no ${kind} case built`);
  }
  for (const c of cases) {
    const kind = Object.keys(SELFTEST_EXPECT).find((k) => c.startsWith(k));
    if (!kind) {
      problems.push(`${c}: unknown case`);
      continue;
    }
    const full = `SanitizerSelftest.${c}`;
    const argv = [`--gtest_filter=${full}`];
    let r = await run(exe, argv, { env: sanitizerEnv(), capture: true, quiet: true });
    if (name === 'tsan' && TSAN_MAPPING.test(r.output) && !SELFTEST_EXPECT[kind].test(r.output)) {
      const retry = withoutAslr(exe, argv);
      if (retry) r = await run(retry[0], retry[1], { env: sanitizerEnv(), capture: true, quiet: true });
    }
    const ran = r.output.includes(`[ RUN      ] ${full}`);
    const reported = SELFTEST_EXPECT[kind].test(r.output);
    const failed = r.code !== 0;
    if (ran && reported && failed) {
      console.log(`test-native: ${name} selftest ${c}: failed as it must (exit ${r.code}, ${SELFTEST_EXPECT[kind].source})`);
    } else {
      process.stdout.write(r.output);
      problems.push(`${c}: ${!ran ? 'did not run' : !reported ? `no "${SELFTEST_EXPECT[kind].source}" report` : 'exited 0'}`);
    }
  }
  const line = problems.length
    ? `SANITIZER DID NOT CATCH A DELIBERATE BUG: ${problems.join('; ')}`
    : `${cases.length} deliberate bug(s) caught (${cases.join(', ')}); ${seconds(t0)} s`;
  return { name: `${name} selftest`, ok: problems.length === 0, line };
}

async function main() {
  requireTool('cmake', 'install CMake >= 3.20');
  requireTool('ctest', 'install CMake >= 3.20');
  requireTool('ninja', 'install Ninja (Debian: ninja-build)');
  const results = [];
  if (runTests) {
    for (const v of variants) {
      console.log(`\n===== test-native: ${v} =====`);
      results.push(await testVariant(v));
    }
  }
  if (runSelftest) {
    // The plain variant has no sanitizer to test: skipped unless named.
    for (const v of variants.filter((x) => SELFTEST_REQUIRED[x] || chosen.includes(x))) {
      console.log(`\n===== test-native: ${v} sanitizer selftest =====`);
      results.push(await selftestVariant(v));
    }
  }
  console.log('\n===== test-native: summary =====');
  for (const r of results) console.log(`test-native: ${r.name.padEnd(14)} ${r.ok ? 'PASS' : 'FAIL'}  ${r.line}`);
  process.exit(results.every((r) => r.ok) ? 0 : 1);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
