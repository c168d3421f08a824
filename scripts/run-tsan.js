#!/usr/bin/env node
'use strict';
// Runs the worker and stress suites against the ThreadSanitizer build of the
// addon (npm run build:tsan puts it in tsan/build/Release). Fails on a
// non-zero mocha exit (TSAN makes it 66 on any report) and, belt and braces,
// on any "WARNING: ThreadSanitizer" line in the output: mocha prints
// "N passing" even when TSAN failed the run.
//
// TSAN_OPTIONS: ignore_noninstrumented_modules=1 keeps reports to races where
// both sides are in instrumented (addon) code; Node and V8 themselves are not
// instrumented and would otherwise report their own benign races.
// detect_deadlocks=0: TSAN's lock-order checker tracks at most 64 locks held
// by one thread, and clear()/size() hold every shard lock at once (64 by
// default). Lock-order safety is argued in docs/concurrency.md (one global
// order: ascending shard index) and checked by the native gtest TSAN run on
// stores with fewer shards, where the detector stays on.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..');
const addonDir = path.join(root, 'tsan', 'build', 'Release');
if (!fs.existsSync(addonDir) || !fs.readdirSync(addonDir).some((f) => f.endsWith('.node'))) {
  console.error('run-tsan: no TSAN build found; run `npm run build:tsan` first');
  process.exit(2);
}
const libtsan = execFileSync('gcc', ['-print-file-name=libtsan.so'], { encoding: 'utf8' }).trim();
if (!path.isAbsolute(libtsan) || !fs.existsSync(libtsan)) {
  console.error(`run-tsan: libtsan not found (gcc says ${JSON.stringify(libtsan)}); install libtsan2`);
  process.exit(2);
}
const specs = process.argv.slice(2).length
  ? process.argv.slice(2)
  : ['test/workers/**/*.test.ts', 'test/stress/**/*.test.ts', 'test/tsan/**/*.test.ts'];
const env = {
  ...process.env,
  LD_PRELOAD: libtsan,
  TSAN_OPTIONS: 'ignore_noninstrumented_modules=1 exitcode=66 detect_deadlocks=0',
  THREADKV_PREBUILD: path.join(root, 'tsan'),
  THREADKV_TSAN: '1',
};
const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
const child = spawn(process.execPath, [mocha, ...specs], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
let reports = 0;
const scan = (out) => (chunk) => {
  const text = chunk.toString();
  reports += (text.match(/WARNING: ThreadSanitizer/g) || []).length;
  out.write(chunk);
};
child.stdout.on('data', scan(process.stdout));
child.stderr.on('data', scan(process.stderr));
child.on('close', (code, signal) => {
  if (signal || code !== 0 || reports > 0) {
    console.error(`\nrun-tsan: FAILED (exit code ${code}, signal ${signal}, ${reports} ThreadSanitizer report(s))`);
    process.exit(1);
  }
  console.log('\nrun-tsan: clean (no ThreadSanitizer report, mocha exit 0)');
});
