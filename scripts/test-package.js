#!/usr/bin/env node
'use strict';
// Proves the npm package installs and works the way users get it:
//   1. prebuildify + npm pack, in a staged copy of the working tree;
//   2. npm install of the tarball into an empty project with every compiler
//      and build tool hidden from PATH (so only the prebuilt binary can work);
//   3. a smoke test there: require and import, main thread and workers,
//      checking that the binary came from prebuilds/;
//   4. the same smoke test under Node 18 (Debian's nodejs 18 package files,
//      fetched with apt-get download and unpacked with dpkg -x into a cache
//      folder: the machine's node is never replaced). Skip with --no-node18;
//   5. what the install added (threadkv and node-gyp-build only: the build
//      tools are optional peer dependencies), what ships (docs/, LICENSE,
//      source maps that resolve, README links that resolve in the package);
//   6. a tarball without prebuilds/ and without the build tools: the install
//      fails with the message that says what to install; with them
//      installed, it builds from source (skip with --no-source-build).
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const args = new Set(process.argv.slice(2));
const keep = args.has('--keep');
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-package-'));
const log = (m) => console.log(`test-package: ${m}`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with ${r.status ?? r.signal}`);
}

function stageSources() {
  const src = path.join(stage, 'src');
  const files = execFileSync('git', ['ls-files', '-co', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
    .split('\0')
    .filter(Boolean);
  for (const f of files) {
    const from = path.join(root, f);
    if (!fs.existsSync(from) || fs.statSync(from).isDirectory()) continue;
    fs.mkdirSync(path.dirname(path.join(src, f)), { recursive: true });
    fs.copyFileSync(from, path.join(src, f));
  }
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(src, 'node_modules'), 'dir');
  return src;
}

// A PATH on which every compiler and build tool fails loudly.
function noCompilerPath() {
  const bin = path.join(stage, 'nocc');
  fs.mkdirSync(bin);
  for (const tool of ['cc', 'c++', 'gcc', 'g++', 'clang', 'clang++', 'cmake', 'ninja', 'make', 'ld']) {
    fs.writeFileSync(path.join(bin, tool), `#!/bin/sh\necho "NOCC: ${tool} was called" >&2\nexit 127\n`, { mode: 0o755 });
  }
  return `${bin}${path.delimiter}${process.env.PATH}`;
}

const smokeCjs = `
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { Store } = require('threadkv');
const s = Store.open('smoke', { codec: 'v8' });
s.set('obj', { a: [1, 2], m: new Map([['k', 1]]) });
assert.deepEqual(s.get('obj'), { a: [1, 2], m: new Map([['k', 1]]) });
const w = new Worker("const { Store } = require('threadkv'); const s = Store.open('smoke'); s.set('from-worker', s.get('obj').a.length);", { eval: true });
w.on('exit', (code) => {
  assert.equal(code, 0);
  assert.equal(s.get('from-worker'), 2);
  const loaded = require.cache[require.resolve('threadkv')] && Object.keys(require.cache).find((p) => p.endsWith('.node'));
  assert.match(loaded, /prebuilds[\\\\/]linux-x64[\\\\/]threadkv/);
  console.log('cjs ok ' + process.version + ' ' + loaded.slice(loaded.indexOf('prebuilds')));
});
// The Keyv adapter entry point (keyv itself is not installed: the adapter needs none).
const { KeyvThreadKv } = require('threadkv/keyv');
const adapter = new KeyvThreadKv('smoke-keyv');
assert.ok(adapter.store instanceof Store);
adapter.set('keyv:k', 'v', 60000).then(() => adapter.get('keyv:k')).then((v) => {
  assert.equal(v, 'v');
  console.log('cjs threadkv/keyv ok');
});
`;
const smokeMjs = `
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Store } from 'threadkv';
import { KeyvThreadKv } from 'threadkv/keyv';
const adapter = new KeyvThreadKv({ name: 'smoke-keyv-esm' });
assert.ok(adapter.store instanceof Store);
await adapter.set('keyv:k', { n: 1 });
assert.deepEqual(await adapter.get('keyv:k'), { n: 1 });
const s = Store.open('smoke-esm', { codec: 'json' });
s.set('k', { n: 1 });
const w = new Worker(new URL('./worker.mjs', import.meta.url));
w.on('exit', (code) => {
  assert.equal(code, 0);
  assert.deepEqual(s.get('k'), { n: 2 });
  console.log('esm ok ' + process.version);
});
`;
const workerMjs = `
import { Store } from 'threadkv';
const s = Store.open('smoke-esm');
s.set('k', { n: s.get('k').n + 1 });
`;

function node18() {
  const cache = path.join(root, '.cache', 'node18');
  const nodeBin = path.join(cache, 'usr', 'bin', 'node');
  if (!fs.existsSync(nodeBin)) {
    fs.mkdirSync(path.join(cache, 'debs'), { recursive: true });
    const pkgs = ['nodejs', 'libnode108', 'libc-ares2', 'node-undici', 'node-acorn', 'node-cjs-module-lexer', 'libuv1'];
    log(`fetching Debian's Node 18 package files (${pkgs.join(', ')})`);
    const dl = spawnSync('apt-get', ['download', ...pkgs.map((p) => (p === 'nodejs' || p === 'libnode108' ? `${p}=18.*` : p))], {
      cwd: path.join(cache, 'debs'),
      stdio: 'inherit',
    });
    if (dl.status !== 0) throw new Error('apt-get download failed (run apt-get update first)');
    for (const deb of fs.readdirSync(path.join(cache, 'debs'))) run('dpkg', ['-x', path.join(cache, 'debs', deb), cache]);
  }
  // Debian's libnode loads its externalized builtins from absolute
  // /usr/share paths: overlay the unpacked share/ on it, in a private mount
  // namespace only (nothing changes outside this process tree).
  const wrapper = path.join(stage, 'node18');
  fs.writeFileSync(
    wrapper,
    `#!/bin/sh
exec unshare -m --propagation private sh -c 'mount -t overlay overlay -o lowerdir=${cache}/usr/share:/usr/share /usr/share && LD_LIBRARY_PATH=${cache}/usr/lib/x86_64-linux-gnu exec ${nodeBin} "$@"' node18 "$@"
`,
    { mode: 0o755 },
  );
  return wrapper;
}

// What the consumer got: the packages installed with threadkv, the docs,
// the license, source maps that resolve, README links that resolve.
function checkInstalled(consumer) {
  const lock = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', '.package-lock.json'), 'utf8'));
  const installed = Object.keys(lock.packages).filter((p) => p.startsWith('node_modules/')).map((p) => p.slice('node_modules/'.length)).sort();
  log(`installed with a matching prebuilt binary: ${installed.length} packages (${installed.join(', ')})`);
  if (installed.join(',') !== 'node-gyp-build,threadkv') throw new Error(`expected only threadkv and node-gyp-build, got ${installed.join(', ')}`);
  const pkg = path.join(consumer, 'node_modules', 'threadkv');
  for (const must of ['LICENSE', 'CHANGELOG.md', 'README.md', 'docs/api.md']) {
    if (!fs.existsSync(path.join(pkg, must))) throw new Error(`the package lacks ${must}`);
  }
  for (const map of fs.readdirSync(path.join(pkg, 'dist')).filter((f) => f.endsWith('.js.map'))) {
    const m = JSON.parse(fs.readFileSync(path.join(pkg, 'dist', map), 'utf8'));
    m.sources.forEach((source, i) => {
      const resolves = fs.existsSync(path.resolve(pkg, 'dist', m.sourceRoot || '', source)) || typeof m.sourcesContent?.[i] === 'string';
      if (!resolves) throw new Error(`dist/${map}: source ${source} neither ships nor is inlined`);
    });
  }
  const readme = fs.readFileSync(path.join(pkg, 'README.md'), 'utf8');
  for (const [, target] of readme.matchAll(/\]\(((?!https?:)[^)#]+)(#[^)]*)?\)/g)) {
    if (!fs.existsSync(path.join(pkg, target))) throw new Error(`README.md links to ${target}, which the package does not ship`);
  }
  log('ships LICENSE, CHANGELOG.md, docs/; source maps resolve; README links resolve');
}

// The from-source fallback: a tarball without prebuilt binaries.
function checkFromSource(src, env) {
  fs.rmSync(path.join(src, 'prebuilds'), { recursive: true, force: true });
  const dir = path.join(stage, 'source-only');
  fs.mkdirSync(dir);
  // dist/ is built by the first pack; prepack would load the addon, gone with prebuilds/.
  run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: src });
  const tarball = path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.tgz')));
  const consumer = path.join(stage, 'consumer-source');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer-source', version: '1.0.0', private: true }));
  log('npm install <tarball without prebuilds> without the build tools: must fail and say what to install');
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: consumer, env, encoding: 'utf8' });
  const out = `${r.stdout}${r.stderr}`;
  if (r.status === 0) throw new Error('installing a tarball without prebuilds and without cmake-js succeeded');
  if (!out.includes('npm install --save-dev cmake-js@^8 node-addon-api@^8 && npm rebuild threadkv')) {
    throw new Error(`the failed install does not say what to install:\n${out.slice(-3000)}`);
  }
  log('failed as it must, with the instructions');
  if (args.has('--no-source-build')) return;
  log('with cmake-js and node-addon-api installed first (and compilers): builds from source');
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--save-dev', 'cmake-js@^8', 'node-addon-api@^8'], { cwd: consumer });
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', tarball], { cwd: consumer });
  if (!fs.existsSync(path.join(consumer, 'node_modules', 'threadkv', 'build', 'Release', 'threadkv.node'))) throw new Error('no build from source');
  run(process.execPath, ['-e', "const { Store } = require('threadkv'); Store.open('s').set('k', 1); if (Store.open('s').get('k') !== 1) process.exit(1); console.log('from source ok')"], { cwd: consumer });
}

try {
  const src = stageSources();
  log(`staged the working tree in ${src}`);
  run('npm', ['run', 'prebuildify'], { cwd: src });
  const prebuilt = fs.readdirSync(path.join(src, 'prebuilds', 'linux-x64'));
  log(`prebuilds/linux-x64: ${prebuilt.join(', ')}`);
  run('npm', ['pack', '--pack-destination', stage], { cwd: src });
  const tarball = fs.readdirSync(stage).find((f) => f.endsWith('.tgz'));
  const listing = execFileSync('tar', ['tzf', path.join(stage, tarball)], { encoding: 'utf8' });
  for (const must of ['package/prebuilds/linux-x64/', 'package/dist/index.js', 'package/dist/index.mjs', 'package/dist/index.d.ts', 'package/dist/keyv.js', 'package/dist/keyv.mjs', 'package/dist/keyv.d.ts', 'package/scripts/install.js', 'package/CMakeLists.txt', 'package/native/core/store.h']) {
    if (!listing.includes(must)) throw new Error(`the tarball lacks ${must}`);
  }
  if (listing.includes('package/test/') || listing.includes('package/node_modules/')) throw new Error('the tarball ships tests or node_modules');

  const consumer = path.join(stage, 'consumer');
  fs.mkdirSync(consumer);
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  fs.writeFileSync(path.join(consumer, 'smoke.cjs'), smokeCjs);
  fs.writeFileSync(path.join(consumer, 'smoke.mjs'), smokeMjs);
  fs.writeFileSync(path.join(consumer, 'worker.mjs'), workerMjs);
  const env = { ...process.env, PATH: noCompilerPath() };
  delete env.npm_config_build_from_source;
  log('npm install <tarball> with compilers hidden from PATH');
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', path.join(stage, tarball)], { cwd: consumer, env });
  if (fs.existsSync(path.join(consumer, 'node_modules', 'threadkv', 'build'))) throw new Error('install built from source');
  run(process.execPath, ['smoke.cjs'], { cwd: consumer, env });
  run(process.execPath, ['smoke.mjs'], { cwd: consumer, env });
  if (!args.has('--no-node18')) {
    const n18 = node18();
    run(n18, ['smoke.cjs'], { cwd: consumer, env });
    run(n18, ['smoke.mjs'], { cwd: consumer, env });
  }
  checkInstalled(consumer);
  checkFromSource(src, env);
  log('passed');
} finally {
  if (!keep) fs.rmSync(stage, { recursive: true, force: true });
  else log(`kept ${stage}`);
}
