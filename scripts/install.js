#!/usr/bin/env node
'use strict';
// npm `install` hook. Uses the prebuilt binary when one loads on this
// machine; otherwise (or with --build-from-source) builds from source with
// cmake-js. Never downloads anything.
//
// The build tools (cmake-js, node-addon-api) are optional peer dependencies:
// an install that finds a matching prebuilt binary needs neither, so npm
// does not install them (2 packages instead of 42). Without a usable binary
// and without them, this fails with what to install.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const fromSource = process.env.npm_config_build_from_source === 'true';

let why = 'asked to build from source (--build-from-source)';
if (!fromSource) {
  try {
    const binding = require('node-gyp-build').resolve(root);
    require(binding); // must really load, not just exist
    console.log(`threadkv: using ${path.relative(root, binding)}`);
    process.exit(0);
  } catch (err) {
    why = `no usable prebuilt binary for ${process.platform}-${process.arch} (${String(err?.message).split('\n')[0]})`;
  }
}

function resolveFrom(request) {
  try {
    return require.resolve(request, { paths: [root] });
  } catch {
    return null;
  }
}
const cmakeJs = resolveFrom('cmake-js/bin/cmake-js');
const addonApi = resolveFrom('node-addon-api');
if (cmakeJs === null || addonApi === null) {
  const missing = [cmakeJs === null && 'cmake-js', addonApi === null && 'node-addon-api'].filter(Boolean).join(' and ');
  console.error(
    [
      `threadkv: ${why}; building from source needs ${missing}, which are not installed.`,
      'threadkv: install the build tools next to threadkv, then rebuild it (a C++20 compiler and CMake are needed too):',
      'threadkv:   npm install --save-dev cmake-js@^8 node-addon-api@^8 && npm rebuild threadkv',
    ].join('\n'),
  );
  process.exit(1);
}
console.log(`threadkv: ${why}; building from source`);
// THREADKV_WERROR=1 makes every compiler warning an error (CI builds this way,
// so that the build `npm ci` makes is also the warning check).
const argv = [cmakeJs, 'compile', '-d', root];
if (process.env.THREADKV_WERROR === '1') argv.push('--CDTHREADKV_WERROR=ON');
const r = spawnSync(process.execPath, argv, { stdio: 'inherit', cwd: root });
process.exit(r.status === null ? 1 : r.status);
