import assert from 'node:assert/strict';
import { ErrorCode } from 'threadkv';
import { snapshot, storeFactory, throwsWith } from '../support/store';

// evictionPolicy 'none' with a limit: a write past the limit throws a
// RangeError and changes nothing; writes within it (and replacements that
// do not grow past it) go through.

describe("limits: evictionPolicy 'none'", () => {
  const open = storeFactory('limits-none');

  it('without a limit, the policy is none and nothing is limited (today\'s behaviour)', () => {
    const s = open({ shards: 1 });
    for (let i = 0; i < 10_000; i++) s.set(`k${i}`, i);
    assert.equal(s.size, 10_000);
    assert.equal(s.options.evictionPolicy, undefined);
    assert.equal(s.stats().evictions, 0);
  });

  it('maxEntries: every write path past the limit throws a RangeError and changes nothing', () => {
    const s = open({ maxEntries: 3, shards: 1, evictionPolicy: 'none' });
    s.set('a', 1).set('b', 2).set('c', 3);
    const before = snapshot(s);
    const full = [ErrorCode.STORE_FULL, "evictionPolicy is 'none'", 'maxEntries', 'nothing was changed'] as const;
    throwsWith(() => s.set('d', 4), RangeError, ...full);
    throwsWith(() => s.setIfAbsent('d', 4), RangeError, ...full);
    throwsWith(() => s.getOrSet('d', 4), RangeError, ...full);
    throwsWith(() => s.swap('d', 4), RangeError, ...full);
    throwsWith(() => s.compareAndSet('d', null, 4), RangeError, ...full);
    throwsWith(() => s.increment('d'), RangeError, ...full);
    throwsWith(() => s.setMany([['d', 4]], { atomic: true }), RangeError, ...full);
    throwsWith(() => s.setMany([['a', 9], ['d', 4]], { atomic: true }), RangeError, ...full);
    assert.deepEqual(snapshot(s), before);
    assert.equal(s.stats().evictions, 0);
  });

  it('replacing present keys, and writes after a delete, still work at the limit', () => {
    const s = open({ maxEntries: 3, shards: 1, evictionPolicy: 'none' });
    s.set('a', 1).set('b', 2).set('c', 3);
    s.set('a', 10);
    s.setMany([['b', 20], ['c', 30]], { atomic: true });
    assert.equal(s.increment('c', 1), 31);
    s.delete('a');
    s.set('d', 4);
    assert.deepEqual(s.getMany(['a', 'b', 'c', 'd']), [undefined, 20, 31, 4]);
  });

  it('maxBytes: a write that would pass the byte limit throws and changes nothing; a smaller replacement passes', () => {
    const s = open({ maxBytes: 1000, shards: 1, codec: 'string', evictionPolicy: 'none' });
    s.set('a', 'x'.repeat(400));
    s.set('b', 'x'.repeat(400)); // 2 * (1 + 400 + 72) = 930
    const before = snapshot(s);
    throwsWith(() => s.set('c', 'x'.repeat(10)), RangeError, ErrorCode.STORE_FULL, 'maxBytes');
    throwsWith(() => s.set('a', 'x'.repeat(500)), RangeError, ErrorCode.STORE_FULL, 'maxBytes');
    assert.deepEqual(snapshot(s), before);
    s.set('a', 'x'.repeat(300));
    assert.equal(s.stats().bytes, 1 + 300 + 72 + 1 + 400 + 72);
  });
});
