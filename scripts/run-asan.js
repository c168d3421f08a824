#!/usr/bin/env node
'use strict';
// Runs the unit tests (test/unit/safety.reentrancy among them, which runs
// its hostile calls in child processes) and test/asan's self-test against the
// AddressSanitizer build of the addon (npm run build:asan puts it in
// asan/build/Release), with libasan preloaded into Node. Fails on a
// non-zero mocha exit, on any "ERROR: AddressSanitizer" line in the output,
// and on a spec glob that matches no file. The child processes inherit the
// preload and the build: a use-after-free in them is reported there, and
// the tests assert their exit code and output.
//
// ASAN_OPTIONS: detect_leaks=0 (Node itself does not free everything at
// exit: leak reports would be Node's); halt_on_error=1 and exitcode=67 so a
// report ends the process with a code the tests can tell from a crash.
const { runSanitizedMocha } = require('./lib/sanitized-mocha');

runSanitizedMocha({
  name: 'run-asan',
  buildDir: 'asan',
  runtime: 'libasan.so',
  env: { ASAN_OPTIONS: 'detect_leaks=0:halt_on_error=1:exitcode=67', THREADKV_ASAN: '1' },
  report: /ERROR: AddressSanitizer/,
  // test/stress/watch.test.ts: watcher threads terminated (1,000 under
  // THREADKV_ASAN) while writers run, and writers x watchers.
  // test/stress/snapshot-pit.test.ts and test/workers/snapshot-race.test.ts:
  // snapshots while workers write, delete and clear (the entries a save keeps
  // alive for its file, then frees).
  specs: [
    'test/unit/**/*.test.ts',
    'test/asan/**/*.test.ts',
    'test/stress/watch.test.ts',
    'test/stress/snapshot-pit.test.ts',
    'test/workers/snapshot-race.test.ts',
  ],
});
