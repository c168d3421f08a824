'use strict';
// Runs mocha against a sanitizer build of the addon (scripts/run-tsan.js,
// scripts/run-asan.js): the sanitizer runtime preloaded into Node,
// THREADKV_PREBUILD pointing the loader at the build, and the run failed on
// a non-zero mocha exit or any sanitizer report line in the output (mocha
// prints "N passing" even when the sanitizer failed the process). Every
// spec glob must match at least one file: a run that silently tests nothing
// cannot fail.
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const root = path.join(__dirname, '..', '..');

// The files under `root` matching a glob of `*` (within one path segment)
// and `**/` (any number of segments), relative to `root`, sorted.
function expandGlob(pattern) {
  const segments = pattern.split('/');
  const firstWild = segments.findIndex((s) => s.includes('*'));
  if (firstWild < 0) return fs.existsSync(path.join(root, pattern)) ? [pattern] : [];
  const base = segments.slice(0, firstWild).join('/');
  const re = new RegExp(
    `^${pattern
      .split(/(\*\*\/|\*)/)
      .map((part) => (part === '**/' ? '(?:[^/]+/)*' : part === '*' ? '[^/]*' : part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
  );
  const found = [];
  const walk = (rel) => {
    const dir = path.join(root, rel);
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (entry.isDirectory()) {
        if (entry.name !== 'node_modules') walk(child);
      } else if (re.test(child)) {
        found.push(child);
      }
    }
  };
  walk(base);
  return found.sort();
}

/**
 * name: 'run-tsan' / 'run-asan'; addonDir: where the build's .node lives;
 * runtime: the sanitizer library to preload (as gcc names it); env: extra
 * variables; report: the RegExp of a report line; specs: the default globs.
 */
function runSanitizedMocha({ name, buildDir, runtime, env: extra, report, specs: defaults }) {
  const addonDir = path.join(root, buildDir, 'build', 'Release');
  if (!fs.existsSync(addonDir) || !fs.readdirSync(addonDir).some((f) => f.endsWith('.node'))) {
    console.error(`${name}: no build found in ${path.relative(root, addonDir)}; build it first (see docs/testing.md)`);
    process.exit(2);
  }
  const lib = execFileSync('gcc', [`-print-file-name=${runtime}`], { encoding: 'utf8' }).trim();
  if (!path.isAbsolute(lib) || !fs.existsSync(lib)) {
    console.error(`${name}: ${runtime} not found (gcc says ${JSON.stringify(lib)}); install the sanitizer runtime`);
    process.exit(2);
  }
  const specs = process.argv.slice(2).length ? process.argv.slice(2) : defaults;
  const empty = specs.filter((s) => expandGlob(s).length === 0);
  if (empty.length > 0) {
    console.error(`${name}: FAILED: no test file matches ${empty.map((s) => JSON.stringify(s)).join(', ')}`);
    process.exit(1);
  }
  const env = { ...process.env, LD_PRELOAD: lib, THREADKV_PREBUILD: path.join(root, buildDir), ...extra };
  const mocha = path.join(root, 'node_modules', 'mocha', 'bin', 'mocha.js');
  const child = spawn(process.execPath, [mocha, ...specs], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let reports = 0;
  const scan = (out) => (chunk) => {
    reports += (chunk.toString().match(new RegExp(report.source, 'g')) || []).length;
    out.write(chunk);
  };
  child.stdout.on('data', scan(process.stdout));
  child.stderr.on('data', scan(process.stderr));
  child.on('close', (code, signal) => {
    if (signal || code !== 0 || reports > 0) {
      console.error(`\n${name}: FAILED (exit code ${code}, signal ${signal}, ${reports} sanitizer report(s))`);
      process.exit(1);
    }
    console.log(`\n${name}: clean (no sanitizer report, mocha exit 0)`);
  });
}

module.exports = { expandGlob, runSanitizedMocha };
