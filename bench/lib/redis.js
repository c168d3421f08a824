'use strict';
// Starts a throwaway redis-server on 127.0.0.1 (no persistence) when one is
// installed, and stops it after the run.

const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');

function redisVersion() {
  const r = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  const m = /v=(\S+)/.exec(r.stdout);
  return m ? m[1] : 'unknown version';
}

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function tryConnect(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, '127.0.0.1');
    c.once('connect', () => {
      c.end();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
}

async function startRedis() {
  const version = redisVersion();
  if (!version) return null;
  const port = await freePort();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-bench-redis-'));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir, '--daemonize', 'no', '--loglevel', 'warning', '--protected-mode', 'yes'],
    { stdio: 'ignore' },
  );
  const deadline = Date.now() + 10000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (await tryConnect(port)) return { port, version, child, dir };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGTERM');
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error('redis-server did not start');
}

async function stopRedis(r) {
  if (!r) return;
  if (r.child.exitCode === null) {
    const exited = new Promise((resolve) => r.child.once('exit', resolve));
    r.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    if (r.child.exitCode === null) r.child.kill('SIGKILL');
  }
  fs.rmSync(r.dir, { recursive: true, force: true });
}

module.exports = { startRedis, stopRedis, redisVersion };
