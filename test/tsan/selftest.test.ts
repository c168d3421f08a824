// Proves that the ThreadSanitizer run can fail: a child process loads the
// TSAN build (it inherits LD_PRELOAD, TSAN_OPTIONS and THREADKV_PREBUILD
// from scripts/run-tsan.js), races the deliberately racy native function
// from two workers, and must exit with TSAN's exit code (66) and a data race
// report naming that function. Runs only under `npm run test:tsan`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

describe('tsan: self-test', () => {
  before(function () {
    if (process.env.THREADKV_TSAN !== '1') this.skip();
  });

  it('a race between two workers in the addon is reported, and fails the process with exit code 66', function () {
    this.timeout(120_000);
    const r = spawnSync(process.execPath, [path.join(__dirname, 'racy-child.js')], { encoding: 'utf8', timeout: 110_000 });
    // Not forwarded on success: the runner fails on any report it sees.
    const output = `${r.stdout}${r.stderr}`;
    assert.equal(r.status, 66, `expected exit code 66 (TSAN's), got ${r.status} (signal ${r.signal}); output:\n${output.slice(0, 4000)}`);
    assert.match(output, /WARNING: ThreadSanitizer: data race/);
    assert.match(output, /RacyIncrement/);
  });
});
