// Proves that the AddressSanitizer run can fail: a child process loads the
// ASan build (it inherits LD_PRELOAD, ASAN_OPTIONS and THREADKV_PREBUILD
// from scripts/run-asan.js) and calls its deliberate use-after-free, which
// must be reported as a heap-use-after-free and end the process with ASan's
// exit code (67). Runs only under `npm run test:asan`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

describe('asan: self-test', () => {
  before(function () {
    if (process.env.THREADKV_ASAN !== '1') this.skip();
  });

  it('a read of freed memory in the addon is reported, and fails the process with exit code 67', function () {
    this.timeout(60_000);
    const nativePath = path.join(__dirname, '..', '..', 'dist', 'native.js');
    const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(nativePath)}).native.useAfterFree()`], {
      encoding: 'utf8',
      timeout: 50_000,
    });
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 67, `expected exit code 67 (ASan's), got ${r.status} (signal ${r.signal}); output:\n${output.slice(0, 4000)}`);
    // Not forwarded on success: the runner fails on any report it sees.
    assert.match(output, /AddressSanitizer: heap-use-after-free/);
    assert.match(output, /UseAfterFree/);
  });
});
