import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { PAYLOADS } from '../support/payloads';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// The value path across threads (issue 14): workers write and read the same
// keys at once, with binary values (native, pooled per thread), objects in
// the default codec's format (shapes named per thread) and v8-serialized
// values; every read must be exactly one of the values written. The
// ThreadSanitizer run (npm run test:tsan) runs this file.

const KINDS = [
  'Float32Array(1536) (an embedding)',
  'Float64Array(3072) (24 KiB: over the pool limit)',
  'object with a vector',
  'number[1536] of doubles',
  'chat completion (~1 KB)',
  'Map and Set, nested, with object keys',
  'typed arrays of every type inside an object',
  'Buffer',
  'RegExp',
  'object cycle',
].map((name) => {
  const i = PAYLOADS.findIndex(([n]) => n === name);
  assert.ok(i >= 0, name);
  return i;
});

describe('workers: values written and read by several threads at once', () => {
  for (const privateBuffers of [false, true]) {
    it(`4 workers on the same keys, every read exact${privateBuffers ? ' (privateBuffers)' : ''}`, async function () {
      this.timeout(120_000);
      const name = uniqueName('values-race');
      try {
        const barrier = makeBarrier();
        const ms = process.env.THREADKV_TSAN ? 1500 : 600;
        const results = await runWorkers<string[]>(fixture('codec-worker.ts'), 4, (i) => ({
          store: name,
          role: 'race',
          seed: i,
          parties: 4,
          barrier,
          ms,
          kinds: KINDS,
          privateBuffers,
        }));
        assert.deepEqual(results.flat(), []);
      } finally {
        Store.destroy(name);
      }
    });
  }
});
