#!/usr/bin/env node
'use strict';
// prebuildify runs `<node-gyp> rebuild --target=.. --devdir=.. --arch=.. --release`;
// prebuildify has no cmake-js backend, so this maps that call onto cmake-js.
// N-API builds do not depend on the Node version, so --target/--devdir are dropped.
const { spawnSync } = require('node:child_process');

const args = ['rebuild'];
for (const a of process.argv.slice(2)) {
  if (a.startsWith('--arch=')) args.push('--arch', a.slice('--arch='.length));
  else if (a === '--debug') args.push('--debug');
}
const r = spawnSync(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), ...args], { stdio: 'inherit' });
process.exit(r.status === null ? 1 : r.status);
