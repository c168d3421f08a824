'use strict';
// Run by selftest.test.ts in a child process, with the TSAN build loaded:
// two workers meet at a spin barrier, then both call the deliberately racy
// native function racyIncrement (a plain int bumped with no lock) at once.
// ThreadSanitizer must report the race and make the process exit 66.
const path = require('node:path');
const { Worker } = require('node:worker_threads');

const nativePath = path.join(__dirname, '..', '..', 'dist', 'native.js');
const barrier = new SharedArrayBuffer(4);
const body = `
  const { workerData } = require('node:worker_threads');
  const { native } = require(workerData.nativePath);
  const a = new Int32Array(workerData.barrier);
  Atomics.add(a, 0, 1);
  while (Atomics.load(a, 0) < 2) {}
  const end = Date.now() + 300;
  while (Date.now() < end) native.racyIncrement(10000);
`;
const { native } = require(nativePath);
if (typeof native.racyIncrement !== 'function') {
  console.error('racy-child: racyIncrement is missing: not the TSAN build');
  process.exit(3);
}
for (let i = 0; i < 2; i++) new Worker(body, { eval: true, workerData: { nativePath, barrier } });
