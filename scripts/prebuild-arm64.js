#!/usr/bin/env node
'use strict';
// Cross-builds the linux-arm64 (glibc) prebuilt binary on a linux-x64 Debian
// 12 machine and checks that it loads and works on arm64 Node:
//   1. cmake-js with Debian's cross compiler (g++-aarch64-linux-gnu) into
//      build-arm64/, stripped into prebuilds/linux-arm64/threadkv.glibc.node
//      (the name prebuildify --napi --tag-libc gives, which node-gyp-build
//      looks for);
//   2. Debian's arm64 Node 18 package files, fetched with apt-get download
//      through a private apt state under .cache/arm64 (APT::Architecture=arm64
//      there; the machine's dpkg architectures and apt lists are not touched)
//      and unpacked with dpkg -x;
//   3. a smoke test of the package (dist/ and prebuilds/linux-arm64 only)
//      under qemu-user with that Node: require and import, a worker thread,
//      a ttl, the Keyv adapter; it checks the binary came from prebuilds/.
// Needs (as root): apt-get install -y g++-aarch64-linux-gnu qemu-user
// Usage: node scripts/prebuild-arm64.js [--no-check]
const { execFileSync, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const root = path.join(__dirname, '..');
const check = !process.argv.includes('--no-check');
const log = (m) => console.log(`prebuild-arm64: ${m}`);

function run(cmd, argv, opts = {}) {
  const r = spawnSync(cmd, argv, { stdio: 'inherit', cwd: root, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed with ${r.status ?? r.signal}`);
}

function need(tool, pkg) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} not found: apt-get install -y ${pkg}`);
}

// ---- 1. Cross-build and strip ----
need('aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu');
log('cross-building with aarch64-linux-gnu-g++ into build-arm64/');
run(process.execPath, [
  require.resolve('cmake-js/bin/cmake-js'),
  'rebuild',
  '-O', 'build-arm64',
  '--arch', 'arm64',
  '--CDCMAKE_SYSTEM_NAME=Linux',
  '--CDCMAKE_SYSTEM_PROCESSOR=aarch64',
  '--CDCMAKE_CXX_COMPILER=aarch64-linux-gnu-g++',
  '--CDTHREADKV_WERROR=ON',
]);
const built = path.join(root, 'build-arm64', 'Release', 'threadkv.node');
const outDir = path.join(root, 'prebuilds', 'linux-arm64');
const prebuilt = path.join(outDir, 'threadkv.glibc.node');
fs.mkdirSync(outDir, { recursive: true });
run('aarch64-linux-gnu-strip', ['--strip-unneeded', '-o', prebuilt, built]);
const fileInfo = execFileSync('file', ['-b', prebuilt], { encoding: 'utf8' }).trim();
if (!/ARM aarch64/.test(fileInfo)) throw new Error(`not an arm64 binary: ${fileInfo}`);
const symbols = execFileSync('aarch64-linux-gnu-objdump', ['-T', prebuilt], { encoding: 'utf8' });
const newest = (prefix) =>
  [...new Set(symbols.match(new RegExp(`${prefix}_[0-9.]+`, 'g')) ?? [])]
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
    .pop();
log(`${path.relative(root, prebuilt)}: ${fs.statSync(prebuilt).size} bytes; needs ${newest('GLIBC')}, ${newest('GLIBCXX')}`);
if (!check) process.exit(0);

// ---- 2. Debian's arm64 Node, through a private apt state ----
need('qemu-aarch64', 'qemu-user');
const cache = path.join(root, '.cache', 'arm64');
const sysroot = path.join(cache, 'root');
const nodeBin = path.join(sysroot, 'usr', 'bin', 'node');
if (!fs.existsSync(nodeBin)) {
  const lists = path.join(cache, 'apt', 'lists');
  const aptCache = path.join(cache, 'apt', 'cache');
  const debs = path.join(cache, 'debs');
  for (const d of [path.join(lists, 'partial'), path.join(aptCache, 'archives', 'partial'), debs]) fs.mkdirSync(d, { recursive: true });
  const apt = [
    '-o', `Dir::State::Lists=${lists}`,
    '-o', `Dir::Cache=${aptCache}`,
    '-o', 'Dir::State::status=/dev/null',
    '-o', 'APT::Architecture=arm64',
    '-o', 'APT::Architectures::=arm64',
  ];
  log("fetching Debian's arm64 Node 18 (private apt state in .cache/arm64)");
  run('apt-get', [...apt, '-qq', 'update']);
  const depends = execFileSync(
    'apt-cache',
    [...apt, 'depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces', '--no-enhances', '--no-pre-depends', 'nodejs'],
    { encoding: 'utf8' },
  );
  const pkgs = [...new Set(depends.split('\n').filter((l) => l && !l.startsWith(' ') && !l.startsWith('<')))];
  log(`apt-get download ${pkgs.join(' ')}`);
  run('apt-get', [...apt, 'download', ...pkgs.map((p) => (p === 'nodejs' || p === 'libnode108' ? `${p}=18.*` : p))], { cwd: debs });
  for (const deb of fs.readdirSync(debs)) run('dpkg', ['-x', path.join(debs, deb), sysroot]);
}

// ---- 3. Smoke test under qemu-user ----
const stage = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-arm64-'));
try {
  run('npm', ['run', 'build:ts']);
  const pkg = path.join(stage, 'node_modules', 'threadkv');
  fs.mkdirSync(path.join(pkg, 'prebuilds'), { recursive: true });
  fs.cpSync(path.join(root, 'dist'), path.join(pkg, 'dist'), { recursive: true });
  fs.cpSync(outDir, path.join(pkg, 'prebuilds', 'linux-arm64'), { recursive: true });
  fs.copyFileSync(path.join(root, 'package.json'), path.join(pkg, 'package.json'));
  fs.symlinkSync(path.join(root, 'node_modules', 'node-gyp-build'), path.join(stage, 'node_modules', 'node-gyp-build'), 'dir');
  fs.writeFileSync(
    path.join(stage, 'smoke.cjs'),
    `
const assert = require('node:assert/strict');
const { Worker } = require('node:worker_threads');
const { Store } = require('threadkv');
const { KeyvThreadKv } = require('threadkv/keyv');
assert.equal(process.arch, 'arm64');
const s = Store.open('arm64', { shards: 8 });
s.set('obj', { a: [1, 2], m: new Map([['k', 1n]]) });
assert.deepEqual(s.get('obj'), { a: [1, 2], m: new Map([['k', 1n]]) });
s.set('short', 1, { ttlMs: 30 });
assert.equal(s.increment('n', 41), 41);
const w = new Worker("const { Store } = require('threadkv'); const s = Store.open('arm64'); s.increment('n'); s.set('w', s.get('obj').a.length);", { eval: true });
w.on('exit', async (code) => {
  assert.equal(code, 0);
  assert.equal(s.get('n'), 42);
  assert.equal(s.get('w'), 2);
  await new Promise((r) => setTimeout(r, 60));
  assert.equal(s.has('short'), false);
  const kv = new KeyvThreadKv('arm64-keyv');
  await kv.set('keyv:k', 'v', 1000);
  assert.equal(await kv.get('keyv:k'), 'v');
  const loaded = Object.keys(require.cache).find((p) => p.endsWith('.node'));
  assert.match(loaded, /prebuilds[\\\\/]linux-arm64[\\\\/]threadkv\\.glibc\\.node$/);
  console.log('arm64 cjs ok ' + process.version + ' ' + loaded.slice(loaded.indexOf('prebuilds')));
});
`,
  );
  fs.writeFileSync(
    path.join(stage, 'smoke.mjs'),
    `
import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { KeyvThreadKv } from 'threadkv/keyv';
const s = Store.open('arm64-esm', { codec: 'json' });
s.set('k', { n: 1 });
assert.deepEqual(s.get('k'), { n: 1 });
assert.ok(new KeyvThreadKv('arm64-esm-keyv').store instanceof Store);
console.log('arm64 esm ok ' + process.version);
`,
  );
  const qemu = ['-L', sysroot, nodeBin];
  log('smoke test under qemu-aarch64 with Debian arm64 Node');
  run('qemu-aarch64', [...qemu, 'smoke.cjs'], { cwd: stage });
  run('qemu-aarch64', [...qemu, 'smoke.mjs'], { cwd: stage });
  log('passed');
} finally {
  fs.rmSync(stage, { recursive: true, force: true });
}
