#!/usr/bin/env node
'use strict';
// Checks (or, with --fix, applies) the C++ style of .clang-format on every
// tracked native source, with clang-format 14 (Debian: apt-get install
// clang-format-14). Exits non-zero, naming the files, when one differs.
const { execFileSync, spawnSync } = require('node:child_process');
const path = require('node:path');

const root = path.join(__dirname, '..');
const fix = process.argv.includes('--fix');
const tool = ['clang-format-14', 'clang-format'].find((t) => spawnSync(t, ['--version'], { stdio: 'ignore' }).status === 0);
if (!tool) {
  console.error('format-check: clang-format not found; install it (Debian: apt-get install clang-format-14)');
  process.exit(2);
}
const version = execFileSync(tool, ['--version'], { encoding: 'utf8' }).trim();
if (!/version 14\./.test(version)) console.warn(`format-check: ${version}: the style is checked with clang-format 14; others may differ`);
const files = execFileSync('git', ['ls-files', '--', 'native/*.cc', 'native/*.h'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
const differ = [];
for (const f of files) {
  const r = spawnSync(tool, fix ? ['-i', f] : ['--dry-run', '--Werror', f], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) differ.push(f);
}
if (fix) {
  console.log(`format-check: formatted ${files.length} files`);
} else if (differ.length > 0) {
  console.error(`format-check: ${differ.length} of ${files.length} files differ from .clang-format (npm run format fixes them):\n  ${differ.join('\n  ')}`);
  process.exit(1);
} else {
  console.log(`format-check: ${files.length} files follow .clang-format`);
}
