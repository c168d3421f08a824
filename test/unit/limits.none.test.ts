import assert from 'node:assert/strict';
import { ErrorCode } from 'threadkv';
import { snapshot, storeFactory, throwsWith } from '../support/store';

// evictionPolicy 'none' with a limit: a write past the limit throws a
// RangeError and changes nothing; writes within it (and replacements that
// do not grow past it) go through.

// What maxBytes counts per entry beyond key and value (docs/operations.md).
const OVERHEAD = 48;

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
    const s = open({ maxBytes: 950, shards: 1, codec: 'string', evictionPolicy: 'none' });
    s.set('a', 'x'.repeat(400));
    s.set('b', 'x'.repeat(400)); // 2 * (1 + 400 + 48) = 898
    const before = snapshot(s);
    throwsWith(() => s.set('c', 'x'.repeat(10)), RangeError, ErrorCode.STORE_FULL, 'maxBytes', '(950)'); // + 59
    throwsWith(() => s.set('a', 'x'.repeat(500)), RangeError, ErrorCode.STORE_FULL, 'maxBytes'); // + 100
    assert.deepEqual(snapshot(s), before);
    s.set('a', 'x'.repeat(300));
    assert.equal(s.stats().bytes, 1 + 300 + OVERHEAD + 1 + 400 + OVERHEAD);
  });

  // The limits are the store's, exactly as given, however the keys fall
  // over the shards: the (n+1)-th distinct key is refused only when n are
  // held, never earlier, never later.
  for (const shards of [1, 64, 4096]) {
    it(`maxEntries: 10 is exactly 10 with ${shards} shard(s), whatever the keys`, () => {
      for (let round = 0; round < 5; round++) {
        const s = open({ maxEntries: 10, shards, evictionPolicy: 'none' });
        for (let i = 0; i < 10; i++) s.set(`r${round}-k${i}`, i);
        throwsWith(() => s.set(`r${round}-k10`, 10), RangeError, ErrorCode.STORE_FULL, 'maxEntries', '(10)');
        assert.equal(s.size, 10);
        s.delete(`r${round}-k0`);
        s.set(`r${round}-k10`, 10);
        assert.equal(s.size, 10);
      }
    });
  }

  it('maxBytes: an entry fits if it fits the store, not a shard\'s share (64 shards)', () => {
    const s = open({ maxBytes: 1 << 20, shards: 64, codec: 'string', evictionPolicy: 'none' });
    const big = 'x'.repeat(50 << 10);
    for (let i = 0; i < 20; i++) s.set(`big${i}`, big); // 20 * (5 + 51200 + 48): 1,025,060 of 1,048,576
    throwsWith(() => s.set('big20', big), RangeError, ErrorCode.STORE_FULL, 'maxBytes');
    assert.equal(s.size, 20);
    // maxBytes: 4000 takes entries until 4000 bytes, not until a shard's 63.
    const small = open({ maxBytes: 4000, shards: 64, evictionPolicy: 'none', codec: 'string' });
    let n = 0;
    let used = 0;
    for (;;) {
      const key = `k${n}`;
      const charge = key.length + 1 + OVERHEAD;
      if (used + charge > 4000) {
        throwsWith(() => small.set(key, 'v'), RangeError, ErrorCode.STORE_FULL, 'maxBytes');
        break;
      }
      small.set(key, 'v');
      used += charge;
      n++;
    }
    assert.equal(small.stats().bytes, used);
    assert.ok(n > 70, `${n} entries`);
  });
});
