// A call rejected for one of its arguments touches nothing: not the entry
// (its SIEVE bit), not the counters. The checks that order errors (closed
// handle, destroyed store, bad key, then the other argument) used to call
// the native has(), which counted a hit and marked the entry visited; they
// now call a native argument check that reads no entry.
import assert from 'node:assert/strict';
import { ErrorCode } from 'threadkv';
import { storeFactory, throwsWith } from '../support/store';

describe('errors: a refused call touches nothing', () => {
  const open = storeFactory('errors-untouched');

  const refused: Array<[string, (s: ReturnType<ReturnType<typeof storeFactory>>) => unknown, ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, string]> = [
    ['increment with a string delta', (s) => s.increment('a', 'x' as unknown as number), TypeError, ErrorCode.INVALID_ARGUMENT],
    ['increment with an infinite delta', (s) => s.increment('a', Infinity), RangeError, ErrorCode.INVALID_ARGUMENT],
    ['compareAndSet with a string version', (s) => s.compareAndSet('a', 'v' as unknown as number, 1), TypeError, ErrorCode.INVALID_ARGUMENT],
    ['compareAndDelete with a string version', (s) => s.compareAndDelete('a', 'v' as unknown as number), TypeError, ErrorCode.INVALID_ARGUMENT],
    ['update without a function', (s) => s.update('a', 5 as unknown as () => number), TypeError, ErrorCode.INVALID_ARGUMENT],
    ['set of a value the codec refuses', (s) => s.set('a', () => 1), TypeError, ErrorCode.VALUE_TYPE],
    ['swap of a value the codec refuses', (s) => s.swap('a', Symbol('x')), TypeError, ErrorCode.VALUE_TYPE],
    ['getOrSet whose factory returns a Promise', (s) => s.getOrSet('b', (() => Promise.resolve(1)) as unknown as () => number), TypeError, ErrorCode.INVALID_ARGUMENT],
  ];

  for (const [what, call, Ctor, code] of refused) {
    it(`${what}: no hit or miss counted, and the key's SIEVE bit left clear`, () => {
      // SIEVE over 2 entries in one shard: the hand starts at the oldest
      // entry ('a') and evicts it unless it was read (visited) since.
      const s = open({ shards: 1, maxEntries: 2, evictionPolicy: 'sieve' });
      s.set('a', 1).set('c', 3);
      const before = s.stats();
      throwsWith(() => call(s), Ctor, code);
      const after = s.stats();
      assert.equal(after.hits, before.hits, 'hits');
      assert.equal(after.misses - before.misses, what.startsWith('getOrSet') ? 1 : 0, 'misses');
      s.set('d', 4); // evicts the unvisited oldest entry
      assert.deepEqual([...s.keys()].sort(), ['c', 'd'], "'a' was marked visited by the refused call");
    });
  }

  it('the order of errors is kept: closed handle, destroyed store, bad key, then the other argument', () => {
    const s = open();
    throwsWith(() => s.increment(5 as unknown as string, 'x' as unknown as number), TypeError, ErrorCode.KEY_TYPE);
    const other = open();
    other.close();
    throwsWith(() => other.increment(5 as unknown as string, 'x' as unknown as number), Error, ErrorCode.CLOSED);
  });
});
