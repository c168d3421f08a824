#!/usr/bin/env node
'use strict';
// npm `install` hook. Uses the prebuilt binary when one loads on this
// machine; otherwise (or with --build-from-source) builds from source with
// cmake-js. Never downloads anything.
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.join(__dirname, '..');
const fromSource = process.env.npm_config_build_from_source === 'true';

if (!fromSource) {
  try {
    const binding = require('node-gyp-build').resolve(root);
    require(binding); // must really load, not just exist
    console.log(`threadkv: using ${path.relative(root, binding)}`);
    process.exit(0);
  } catch (err) {
    console.log(`threadkv: no usable prebuilt binary (${String(err && err.message).split('\n')[0]}); building from source`);
  }
}
const cmakeJs = require.resolve('cmake-js/bin/cmake-js');
const r = spawnSync(process.execPath, [cmakeJs, 'compile', '-d', root], { stdio: 'inherit', cwd: root });
process.exit(r.status === null ? 1 : r.status);
