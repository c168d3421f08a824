'use strict';
// What a pooled binary get costs beyond its instructions: minor page faults
// a get (independent of the machine's load), ns a get and the ratio to a
// structuredClone of the same value timed in the same process, for a
// Float32Array(1536) (6 KiB, the large pool) over 2,000 keys. Each trial is a
// fresh process; its first windows (the first scavenge cycle of slab memory:
// fresh pages whatever the pool does) are left out.
//
//   node bench/pool.js [--trials=5] [--windows=12] [--n=10000] [--skip=4] [--baseline=DIR] [--json]
//
// --baseline=DIR: also run another build of the package (a checkout of an
// older commit, built) in alternating trials, for a before/after in one run.

const { execFileSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');
const { fmt, parseArgs, textTable } = require('./lib/stats');

const args = parseArgs(process.argv.slice(2));

if (args.child) {
  child(args);
} else {
  main(args);
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function child(a) {
  const { Store } = require(a.child);
  const n = Number(a.n);
  const windows = Number(a.windows);
  const skip = Number(a.skip);
  const s = Store.open(`bench-pool-${process.pid}`);
  const DIMS = 1536;
  const NK = 2000;
  const keys = [];
  for (let i = 0; i < NK; i++) {
    const v = new Float32Array(DIMS);
    for (let j = 0; j < DIMS; j++) v[j] = Math.sin(i * 0.37 + j * 0.013);
    keys.push(`k:${i}`);
    s.set(keys[i], v);
  }
  const ref = s.get(keys[0]).slice();
  let j = 0;
  let sink = 0;
  const gets = (count) => {
    for (let i = 0; i < count; i++) {
      sink += s.get(keys[j]).length;
      j = (j + 7919) % NK;
    }
  };
  const clones = (count) => {
    for (let i = 0; i < count; i++) sink += structuredClone(ref).length;
  };
  const time = (fn, count) => {
    const f0 = process.resourceUsage().minorPageFault;
    const t0 = process.hrtime.bigint();
    fn(count);
    const ns = Number(process.hrtime.bigint() - t0) / count;
    return { ns, faults: (process.resourceUsage().minorPageFault - f0) / count };
  };
  const rows = [];
  for (let w = 0; w < windows; w++) {
    const g = time(gets, n);
    const c = time(clones, n >> 2);
    if (w >= skip) rows.push({ getNs: g.ns, getFaults: g.faults, cloneNs: c.ns, cloneFaults: c.faults });
  }
  if (sink < 0) console.log(sink);
  process.stdout.write(
    JSON.stringify({
      getNs: median(rows.map((r) => r.getNs)),
      getFaults: median(rows.map((r) => r.getFaults)),
      getFaultsMean: rows.reduce((t, r) => t + r.getFaults, 0) / rows.length,
      cloneNs: median(rows.map((r) => r.cloneNs)),
      ratio: median(rows.map((r) => r.getNs / r.cloneNs)),
      rssMiB: process.memoryUsage().rss / 2 ** 20,
    }),
  );
}

function main(a) {
  const trials = Number(a.trials || 5);
  const builds = [{ name: 'this build', dir: path.resolve(__dirname, '..') }];
  if (a.baseline) builds.unshift({ name: `baseline (${path.basename(path.resolve(a.baseline))})`, dir: path.resolve(a.baseline) });
  const load0 = os.loadavg();
  const results = builds.map(() => []);
  for (let t = 0; t < trials; t++) {
    builds.forEach((b, i) => {
      const out = execFileSync(process.execPath, [
        __filename,
        `--child=${b.dir}`,
        `--n=${a.n || 10000}`,
        `--windows=${a.windows || 12}`,
        `--skip=${a.skip || 4}`,
      ]);
      results[i].push(JSON.parse(out.toString()));
    });
  }
  const load1 = os.loadavg();
  const summary = builds.map((b, i) => {
    const r = results[i];
    const pick = (k) => median(r.map((x) => x[k]));
    return {
      build: b.name,
      faultsPerGet: pick('getFaults'),
      faultsPerGetMean: pick('getFaultsMean'),
      getNs: pick('getNs'),
      cloneNs: pick('cloneNs'),
      ratio: pick('ratio'),
      trialsGetNs: r.map((x) => Math.round(x.getNs)),
      trialsFaults: r.map((x) => Number(x.getFaultsMean.toFixed(4))),
    };
  });
  if (a.json) {
    console.log(JSON.stringify({ loadavg: [load0, load1], trials, summary }, null, 2));
    return;
  }
  console.log(
    `get Float32Array(1536) from the pool, ${trials} trials (medians of per-trial medians); load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after`,
  );
  console.log(
    textTable(
      ['build', 'minor faults / get (median, mean)', 'get ns', 'structuredClone ns (same process)', 'get / structuredClone', 'get ns by trial', 'faults / get by trial (mean)'],
      summary.map((x) => [
        x.build,
        `${x.faultsPerGet.toFixed(4)}, ${x.faultsPerGetMean.toFixed(4)}`,
        fmt(x.getNs),
        fmt(x.cloneNs),
        `${x.ratio.toFixed(3)}×`,
        x.trialsGetNs.join(' '),
        x.trialsFaults.join(' '),
      ]),
    ),
  );
}
