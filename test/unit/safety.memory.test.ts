// Allocation failure: every std::bad_alloc inside a native call becomes an
// Error with code ERR_THREADKV_OUT_OF_MEMORY, and the store is exactly as it
// was. Before the fix, set threw an Error without a code and every other
// method ended the process in std::terminate (exit 134). Each case runs in a
// child process that caps its own address space (prlimit --as, soft limit)
// a little above what it uses, then writes (or reads) a 256 MiB value
// (test/fixtures/oom-child.js). Linux only (prlimit, /proc); skipped under
// the sanitizer builds, whose shadow memory needs terabytes of address space.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ErrorCode } from 'threadkv';
import { fixture } from '../support/workers';

interface Outcome {
  threw: boolean;
  type?: string;
  code?: string | null;
  message?: string;
  stored?: number;
  unchanged: boolean;
  value?: number | null;
}

function underCap(method: string, stored = false): Outcome {
  const r = spawnSync(process.execPath, ['--expose-gc', fixture('oom-child.js'), method, ...(stored ? ['stored'] : [])], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const output = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `${method} exited with ${r.status} (signal ${r.signal}):\n${output.slice(0, 3000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Outcome;
}

describe('safety: out of memory', function () {
  this.timeout(120_000);
  before(function () {
    const probe = spawnSync('prlimit', ['--version']);
    if (process.platform !== 'linux' || probe.status !== 0 || process.env.THREADKV_TSAN === '1' || process.env.THREADKV_ASAN === '1') this.skip();
  });

  const writes = ['set', 'setIfAbsent', 'getOrSet', 'getOrSetFactory', 'swap', 'compareAndSet', 'update', 'setManyAtomic'];
  for (const method of writes) {
    it(`${method} of a value that cannot be allocated: ERR_THREADKV_OUT_OF_MEMORY, store unchanged`, () => {
      const o = underCap(method);
      assert.equal(o.threw, true);
      assert.equal(o.type, 'Error');
      assert.equal(o.code, ErrorCode.OUT_OF_MEMORY, o.message);
      assert.match(o.message!, /out of memory.*nothing was changed/);
      assert.equal(o.unchanged, true, 'the store changed');
    });
  }

  it('a non-atomic setMany refused for memory says so, with the store unchanged (the entries are made before any is stored)', () => {
    const o = underCap('setMany');
    assert.equal(o.code, ErrorCode.OUT_OF_MEMORY, o.message);
    assert.equal(o.unchanged, true);
  });

  for (const method of ['get', 'getMany']) {
    it(`${method} of a stored value that cannot be copied out: ERR_THREADKV_OUT_OF_MEMORY, store unchanged`, () => {
      const o = underCap(method, true);
      assert.equal(o.code, ErrorCode.OUT_OF_MEMORY, o.message);
      assert.equal(o.unchanged, true);
    });
  }

  for (const method of ['take', 'swapOut']) {
    it(`${method} of a large stored value hands it over without a second copy (no allocation to fail after the store changed)`, () => {
      const o = underCap(method, true);
      assert.equal(o.threw, false, o.message);
      assert.equal(o.value, 256 * 1024 * 1024);
    });
  }
});
