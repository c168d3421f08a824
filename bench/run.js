'use strict';
// threadkv benchmark suite: `npm run bench` (full, ~10-15 min) or
// `npm run bench -- --quick` (smoke test, under a minute; CI runs it).
//
// Options:
//   --quick                 fewer runs, shorter durations, fewer contenders and workloads
//   --only=a,b              contenders (threadkv, threadkv-string, threadkv-1shard, map,
//                           lmdb, lmdb-latest, sharedmap, owner, redis)
//   --workload=a,b          workload ids or globs (get-S, get-S-zipf, get-M, put-S, put-M,
//                           r95-S-1w, r95-S-2w, r95-S-8w, r50-S-*, r95-S-zipf-2w, ..., 'r50-*')
//   --runs=N                trials (default 5; quick 2)
//   --duration=MS           timed phase per workload (default 300; quick 80)
//   --warmup=MS             warm-up per workload (default 100; quick 25)
//   --skip=codecs,native,fairness,growth,expiry,memory,readscaling,snapshot,profile,compute,watch
//                           skip the side benchmarks
//   --out=DIR               where RESULTS.md and throughput.svg go (default: bench/ for a
//                           full unfiltered run, a temporary folder otherwise)
//   --no-write              print only
//   --render=FILE           re-render the report from a run's raw data (saved by every run
//                           as <tmpdir>/threadkv-bench-last-data.json)
// No timing assertion anywhere: the exit status is non-zero only when
// something failed to run.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { ALL, QUICK, contender } = require('./lib/contenders');
const { selectWorkloads } = require('./lib/workloads');
const { parseArgs, fmt, textTable } = require('./lib/stats');
const { evaluate } = require('./lib/targets');
const { render, renderSvg } = require('./lib/report');
const { startRedis, stopRedis, redisVersion } = require('./lib/redis');

const args = parseArgs(process.argv.slice(2));
const quick = !!args.quick;
const runs = Number(args.runs || (quick ? 2 : 5));
const durationMs = Number(args.duration || (quick ? 80 : 300));
const warmupMs = Number(args.warmup || (quick ? 25 : 100));
const skip = new Set(String(args.skip || '').split(',').filter(Boolean));
const filtered = !!(args.only || args.workload || args.runs || args.duration || args.warmup || skip.size);

const log = (s) => process.stderr.write(s + '\n');
const errors = [];

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function pickContenders() {
  if (args.only) return String(args.only).split(',').filter(Boolean).map(contender);
  return quick ? QUICK.map(contender) : ALL.slice();
}

const running = new Set(); // child processes, ended on SIGINT/SIGTERM
let redisServer = null;
// One tmpfs folder for the children's lmdb files, removed at the end.
const scratchDir = fs.mkdtempSync(path.join(fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir(), 'threadkv-bench-'));
process.env.THREADKV_BENCH_TMP = scratchDir;
const removeScratch = () => fs.rmSync(scratchDir, { recursive: true, force: true });

/** Runs a node script, returns its stdout (throws with stderr on failure). */
function runNode(script, scriptArgs, { timeoutMs = 600000, nodeArgs = [] } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...nodeArgs, script, ...scriptArgs], { stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    child.once('exit', () => running.delete(child));
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const timer = setTimeout(() => {
      err += `\n(timed out after ${timeoutMs} ms)`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${path.basename(script)} exited with ${code ?? signal}: ${err.trim().split('\n').slice(-6).join(' | ')}`));
    });
  });
}

function lastJson(out) {
  const lines = out.trim().split('\n');
  return JSON.parse(lines[lines.length - 1]);
}

/** The threadkv revision measured: `git describe --always --dirty`, if any. */
function revision() {
  const r = spawnSync('git', ['describe', '--always', '--dirty'], { cwd: path.join(__dirname, '..'), encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

function machineInfo(redis) {
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: (cpus[0] && cpus[0].model.trim()) || 'unknown',
    memGiB: (os.totalmem() / 2 ** 30).toFixed(1),
    platform: os.platform(),
    arch: os.arch(),
    node: process.version,
    v8: process.versions.v8,
    loadBefore: os.loadavg(),
    redis,
    valgrind: have('valgrind'),
  };
}

async function main() {
  const t0 = Date.now();
  const contenders = pickContenders();
  const workloads = selectWorkloads(args.workload, quick);
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' ');

  let redis = null;
  let redisNote = null;
  if (contenders.some((c) => c.id === 'redis')) {
    if (!have('redis-server')) {
      log('redis-server is not on PATH: skipping the Redis contender');
      redisNote = null;
    } else {
      try {
        redis = await startRedis();
        redisServer = redis;
        redisNote = `${redis.version}, started for this run on 127.0.0.1 (no persistence)`;
      } catch (err) {
        errors.push(`Redis: ${err.message}`);
        log(`Redis: ${err.message}`);
      }
    }
  }
  const active = contenders.filter((c) => c.id !== 'redis' || redis);
  const machine = machineInfo(redisNote || (redisVersion() ? 'installed but not used in this run' : null));

  // A smoke test has no timings to protect: build the C++ benchmark while the
  // trials run. (A full run builds it afterwards, on a quiet machine.)
  const nativeBuild =
    quick && !skip.has('native')
      ? runNode(path.join(__dirname, 'native', 'run.js'), ['--build-only']).catch((err) => err)
      : Promise.resolve();

  log(`threadkv bench: ${quick ? 'quick' : 'full'} mode, ${runs} trials x ${active.length} contenders x ${workloads.length} workloads, ${durationMs} ms each`);
  const trials = [];
  try {
    for (let trial = 1; trial <= runs; trial++) {
      const k = (trial - 1) % active.length;
      const order = active.slice(k).concat(active.slice(0, k));
      for (const c of order) {
        const ws = workloads.map((w) => w.id).join(',');
        const started = Date.now();
        try {
          const out = await runNode(path.join(__dirname, 'lib', 'child.js'), [
            `--contender=${c.id}`,
            `--workloads=${ws}`,
            `--duration=${durationMs}`,
            `--warmup=${warmupMs}`,
            `--trial=${trial}`,
            ...(redis ? [`--redis-port=${redis.port}`] : []),
          ], { timeoutMs: 30000 + workloads.length * (durationMs + warmupMs) * 40 });
          trials.push(lastJson(out));
          log(`  trial ${trial}/${runs} ${c.id.padEnd(16)} ${((Date.now() - started) / 1000).toFixed(1)} s`);
        } catch (err) {
          errors.push(`trial ${trial}, ${c.id}: ${err.message}`);
          log(`  trial ${trial}/${runs} ${c.id}: FAILED ${err.message}`);
        }
      }
    }
  } finally {
    await stopRedis(redis);
  }

  const side = async (name, fn) => {
    if (skip.has(name)) return null;
    const s = Date.now();
    log(`${name}...`);
    try {
      const r = await fn();
      log(`  ${name} ${((Date.now() - s) / 1000).toFixed(1)} s`);
      return r;
    } catch (err) {
      errors.push(`${name}: ${err.message}`);
      log(`  ${name}: FAILED ${err.message}`);
      return { error: err.message.slice(0, 300) };
    }
  };
  const q = quick ? ['--quick'] : [];
  const codecs = await side('codecs', async () => lastJson(await runNode(path.join(__dirname, 'codecs.js'), [...q, '--json'])));
  await nativeBuild;
  const native = await side('native', async () => lastJson(await runNode(path.join(__dirname, 'native', 'run.js'), [...q, '--json'])));
  // Issue 12: the writer beside 1 and 4 readers of its key, per lock; and
  // the latency of every write while one table grows to 2M keys.
  const fairness = await side('fairness', async () =>
    lastJson(await runNode(path.join(__dirname, 'native', 'run.js'), [...q, '--fairness', '--json'])),
  );
  const growth = await side('growth', async () => ({
    markdown: (await runNode(path.join(__dirname, 'native', 'table-growth.js'), [...q, '--no-callgrind'], { timeoutMs: 900000 })).trim(),
  }));
  // Issue 12: idle CPU of expiry, size/memory() with TTLs, reclaim lateness.
  const expiry = await side('expiry', async () => ({
    markdown: (await runNode(path.join(__dirname, 'expiry.js'), quick ? ['--entries=200000', '--idle-ms=2000'] : [], { timeoutMs: 900000 })).trim(),
  }));
  const memory = await side('memory', async () =>
    lastJson(
      await runNode(path.join(__dirname, 'memory.js'), [`--entries=${quick ? 100000 : 1000000}`, `--churn=${quick ? 50000 : 1000000}`, '--json'], {
        nodeArgs: ['--expose-gc'],
      }),
    ),
  );
  const snapshot = await side('snapshot', async () =>
    lastJson(await runNode(path.join(__dirname, 'snapshot.js'), [...q, '--json'], { timeoutMs: 1800000 })),
  );
  // Pure gets of S at 1 and 2 workers, in setups that differ in what the two share.
  const readScaling = quick ? null : await side('readscaling', async () => lastJson(await runNode(path.join(__dirname, 'read-scaling.js'), ['--json'])));
  const profile = quick
    ? null
    : await side('profile', async () => lastJson(await runNode(path.join(__dirname, 'profile.js'), ['--json'], { timeoutMs: 900000 })));
  const compute = await side('compute', async () =>
    lastJson(await runNode(path.join(__dirname, 'compute.js'), [...q, '--json'], { timeoutMs: 1800000 })),
  );
  const watch = await side('watch', async () =>
    lastJson(await runNode(path.join(__dirname, 'watch.js'), [...q, '--json'], { timeoutMs: 1800000 })),
  );

  machine.loadAfter = os.loadavg();
  const targets = evaluate({ trials, codecs, memory });
  const data = {
    date,
    mode: quick ? 'quick' : 'full',
    filtered,
    revision: revision(),
    command: `npm run bench${process.argv.length > 2 ? ' -- ' + process.argv.slice(2).join(' ') : ''}`,
    elapsedMin: (Date.now() - t0) / 60000,
    machine,
    runs,
    durationMs,
    warmupMs,
    contenders: active,
    workloads,
    trials,
    codecs,
    native,
    fairness,
    growth,
    expiry,
    memory,
    snapshot,
    readScaling,
    profile,
    compute,
    watch,
    targets,
    errors,
  };
  // The raw data, to re-render the report without re-running (--render=FILE).
  const dataFile = path.join(os.tmpdir(), 'threadkv-bench-last-data.json');
  fs.writeFileSync(dataFile, JSON.stringify(data));
  log(`raw data: ${dataFile}`);
  writeReport(data, t0);
}

function writeReport(data, t0) {
  const { workloads, targets } = data;
  const active = data.contenders;
  const { markdown, agg } = render(data);
  const svg = renderSvg(data, agg);

  // Console summary.
  const rows = workloads.map((w) => [
    w.id + (w.threads === 0 ? ' ns/op' : ' Mops/s'),
    ...active.map((c) => {
      const a = agg[w.id][c.id];
      if (!a || !a.ns) return '–';
      return w.threads === 0 ? fmt(a.ns.median) : fmt(a.mops.median);
    }),
  ]);
  console.log('\n' + textTable(['workload', ...active.map((c) => c.id)], rows));
  console.log('\nTargets:');
  console.log(textTable(['target', 'measured', 'result'], targets.map((t) => [t.target, t.measured, t.met === null ? '–' : t.met ? 'met' : t.verdict])));

  if (!args['no-write']) {
    const outDir = args.out ? path.resolve(String(args.out)) : data.mode !== 'full' || data.filtered ? path.join(os.tmpdir(), 'threadkv-bench-last') : __dirname;
    fs.mkdirSync(outDir, { recursive: true });
    fs.writeFileSync(path.join(outDir, 'RESULTS.md'), markdown);
    fs.writeFileSync(path.join(outDir, 'throughput.svg'), svg);
    console.log(`\nWrote ${path.join(outDir, 'RESULTS.md')} and throughput.svg (${((Date.now() - t0) / 60000).toFixed(1)} min)`);
  }
  if (errors.length) {
    console.error(`\n${errors.length} error(s):\n  ${errors.join('\n  ')}`);
    process.exitCode = 1;
  }
}

for (const sig of ['SIGINT', 'SIGTERM']) {
  process.once(sig, () => {
    for (const child of running) child.kill('SIGKILL');
    stopRedis(redisServer).finally(() => {
      removeScratch();
      process.exit(130);
    });
  });
}

/** --render=FILE: re-renders RESULTS.md and the chart from a run's raw data. */
function rerender(file) {
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  const { contender: byId } = require('./lib/contenders');
  const { byId: workloadById } = require('./lib/workloads');
  data.contenders = data.contenders.map((c) => byId(c.id));
  data.workloads = data.workloads.map((w) => workloadById(w.id));
  data.targets = evaluate(data);
  writeReport(data, Date.now());
}

(args.render ? Promise.resolve().then(() => rerender(String(args.render))) : main())
  .catch((err) => {
    console.error(err);
    process.exitCode = 1;
  })
  .finally(removeScratch);
