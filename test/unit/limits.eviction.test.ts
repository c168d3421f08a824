import assert from 'node:assert/strict';
import { Store, ErrorCode } from 'threadkv';
import { storeFactory, throwsWith } from '../support/store';
import { uniqueName } from '../support/workers';

// maxEntries / maxBytes with evictionPolicy 'sieve' (the default with a
// limit): writes evict other entries (of the same shard first), reads only
// mark entries visited, and a write never evicts its own key.

const OVERHEAD = 64; // per-entry charge counted by maxBytes in a store that evicts (docs/operations.md)

describe('limits: eviction (SIEVE)', () => {
  const open = storeFactory('limits-eviction');

  it("defaults to 'sieve' when a limit is given, and reports the limits in options", () => {
    const s = open({ maxEntries: 10, shards: 1 });
    assert.deepEqual({ ...s.options }, { codec: 'v8', shards: 1, maxKeyBytes: 65536, maxValueBytes: 67108864, maxEntries: 10, evictionPolicy: 'sieve' });
  });

  it('maxEntries holds: the store never has more entries than the limit (one shard)', () => {
    const s = open({ maxEntries: 100, shards: 1 });
    for (let i = 0; i < 1000; i++) {
      s.set(`k${i}`, i);
      assert.ok(s.size <= 100);
    }
    assert.equal(s.size, 100);
    const st = s.stats();
    assert.equal(st.entries, 100);
    assert.equal(st.evictions, 900);
    assert.equal(st.sets, 1000);
  });

  for (const shards of [8, 64, 4096]) {
    it(`the limit is the store's, exactly (${shards} shards): no eviction below it, never above`, () => {
      const s = open({ maxEntries: 100, shards });
      for (let i = 0; i < 100; i++) s.set(`k${i}`, i);
      assert.equal(s.size, 100);
      assert.equal(s.stats().evictions, 0);
      for (let i = 100; i < 5000; i++) {
        s.set(`k${i}`, i);
        if (i % 97 === 0) assert.equal(s.stats().entries, 100); // O(shards) each: not every write
      }
      assert.equal(s.size, 100);
      assert.equal(s.stats().evictions, 4900);
    });
  }

  it('eviction reaches other shards when the written key\'s shard has nothing to give', () => {
    // 64 shards, 10 entries: most shards hold none, so most writes evict
    // from another shard.
    const s = open({ maxEntries: 10, shards: 64 });
    for (let i = 0; i < 1000; i++) {
      s.set(`k${i}`, i);
      assert.equal(s.get(`k${i}`), i);
    }
    assert.equal(s.size, 10);
    assert.equal(s.stats().evictions, 990);
  });

  it('maxBytes holds, counting key + value + the per-entry overhead', () => {
    const s = open({ maxBytes: 10_000, shards: 1, codec: 'string' });
    const value = 'x'.repeat(100);
    for (let i = 0; i < 500; i++) {
      s.set(`key${String(i).padStart(4, '0')}`, value);
      const st = s.stats();
      assert.ok(st.bytes <= 10_000, `bytes ${st.bytes}`);
    }
    const st = s.stats();
    assert.equal(st.bytes, st.entries * (7 + 100 + OVERHEAD));
    assert.equal(st.entries, Math.floor(10_000 / (7 + 100 + OVERHEAD)));
  });

  it('a write never evicts the key it writes, even when every other entry is hot', () => {
    const s = open({ maxEntries: 4, shards: 1 });
    for (let i = 0; i < 4; i++) s.set(`pre${i}`, i);
    for (let round = 0; round < 200; round++) {
      for (const k of [...s.keys()]) s.get(k); // everything visited
      const key = `new${round}`;
      s.set(key, round);
      assert.equal(s.get(key), round, `round ${round}`);
      assert.equal(s.size, 4);
    }
  });

  it('every write path evicts and keeps its own key: setIfAbsent, getOrSet, swap, compareAndSet, increment', () => {
    const s = open({ maxEntries: 3, shards: 1 });
    s.set('a', 1).set('b', 2).set('c', 3);
    assert.equal(s.setIfAbsent('d', 4), true);
    assert.equal(s.get('d'), 4);
    assert.equal(s.getOrSet('e', 5), 5);
    assert.equal(s.get('e'), 5);
    assert.equal(s.swap('f', 6), undefined);
    assert.equal(s.get('f'), 6);
    assert.equal(s.compareAndSet('g', null, 7), true);
    assert.equal(s.get('g'), 7);
    assert.equal(s.increment('h', 8), 8);
    assert.equal(s.get('h'), 8);
    assert.equal(s.size, 3);
    assert.equal(s.stats().evictions, 5);
  });

  it('replacing a key does not evict (the entry count does not grow)', () => {
    const s = open({ maxEntries: 3, shards: 1 });
    s.set('a', 1).set('b', 2).set('c', 3);
    for (let i = 0; i < 100; i++) s.set('b', i);
    assert.deepEqual([...s.keys()].sort(), ['a', 'b', 'c']);
    assert.equal(s.stats().evictions, 0);
  });

  it('a hot set re-read between one-hit scans larger than the capacity survives', () => {
    const s = open({ maxEntries: 200, shards: 1 });
    const hot = Array.from({ length: 50 }, (_, i) => `hot${i}`);
    for (const k of hot) s.set(k, k);
    let scan = 0;
    for (let round = 0; round < 20; round++) {
      for (const k of hot) assert.equal(s.get(k), k, `hot key ${k} evicted in round ${round}`);
      // A one-hit scan of 1000 keys: 5x the capacity.
      for (let i = 0; i < 1000; i++) {
        s.set(`scan${scan++}`, i);
        // the hot set is re-read every 100 scan writes (well within one sweep of the hand)
        if (i % 100 === 99) for (const k of hot) assert.equal(s.get(k), k, `hot key ${k} evicted mid-scan`);
      }
    }
    assert.equal(s.size, 200);
  });

  it('an entry larger than maxBytes is refused with a RangeError, nothing changed; one a shard\'s share would refuse fits', () => {
    const s = open({ maxBytes: 4096, shards: 4, codec: 'string' });
    s.set('a', 'small');
    throwsWith(() => s.set('big', 'x'.repeat(4100)), RangeError, ErrorCode.OVER_BUDGET, 'maxBytes', '"big"', '4096');
    throwsWith(() => s.setIfAbsent('big', 'x'.repeat(4100)), RangeError, ErrorCode.OVER_BUDGET);
    throwsWith(() => s.setMany([['big', 'x'.repeat(4100)]]), RangeError, ErrorCode.OVER_BUDGET);
    assert.deepEqual([...s.keys()], ['a']);
    s.set('big', 'x'.repeat(2000)); // over a quarter of maxBytes: evicts 'a' only if it must
    assert.equal(s.get('big'), 'x'.repeat(2000));
    assert.equal(s.get('a'), 'small');
  });

  it('atomic setMany: never evicts a key of the same batch, and stays within the limit', () => {
    const s = open({ maxEntries: 10, shards: 1 });
    for (let i = 0; i < 10; i++) s.set(`old${i}`, i);
    for (let i = 0; i < 10; i++) s.get(`old${i}`); // hot: the batch must still get room
    const batch: [string, number][] = Array.from({ length: 8 }, (_, i) => [`b${i}`, i]);
    s.setMany(batch, { atomic: true });
    for (const [k, v] of batch) assert.equal(s.get(k), v);
    assert.equal(s.size, 10);
    assert.equal(s.stats().evictions, 8);
  });

  it('atomic setMany with duplicate keys counts each key once', () => {
    const s = open({ maxEntries: 2, shards: 1 });
    s.setMany([['a', 1], ['b', 2], ['a', 3], ['b', 4]], { atomic: true });
    assert.deepEqual(s.getMany(['a', 'b']), [3, 4]);
  });

  it('an atomic batch larger than the store\'s limit is refused, nothing changed', () => {
    const s = open({ maxEntries: 4, shards: 1 });
    s.set('x', 1);
    throwsWith(
      () => s.setMany(Array.from({ length: 5 }, (_, i) => [`b${i}`, i] as [string, number]), { atomic: true }),
      RangeError,
      ErrorCode.OVER_BUDGET,
      'atomic batch',
    );
    assert.deepEqual([...s.keys()], ['x']);
  });

  it('delete and clear keep the queue consistent (no stale entries evicted later)', () => {
    const s = open({ maxEntries: 5, shards: 1 });
    for (let i = 0; i < 1000; i++) {
      s.set(`k${i % 37}`, i);
      if (i % 3 === 0) s.delete(`k${(i * 7) % 37}`);
      if (i % 101 === 0) s.clear();
      if (i % 5 === 0) s.take(`k${(i * 11) % 37}`);
      assert.ok(s.size <= 5);
    }
    const st = s.stats();
    assert.equal(st.entries, s.size);
  });

  it('options are compared at open: a different limit or policy is an error; leaving them out attaches', () => {
    const name = open({ maxEntries: 10 }).name;
    throwsWith(() => Store.open(name, { maxEntries: 11 }), Error, ErrorCode.OPTION_MISMATCH, 'maxEntries');
    throwsWith(() => Store.open(name, { evictionPolicy: 'none' }), Error, ErrorCode.OPTION_MISMATCH, 'evictionPolicy');
    throwsWith(() => Store.open(name, { maxBytes: 100 }), Error, ErrorCode.OPTION_MISMATCH, 'maxBytes');
    const again = Store.open(name, { maxEntries: 10, evictionPolicy: 'sieve' });
    assert.equal(again.options.maxEntries, 10);
    assert.equal(Store.open(name).options.evictionPolicy, 'sieve');
  });

  it('validates the new options with TypeError / RangeError', () => {
    const n = uniqueName('limits-bad');
    throwsWith(() => Store.open(n, { maxEntries: '10' as unknown as number }), TypeError, ErrorCode.INVALID_OPTION, 'options.maxEntries');
    throwsWith(() => Store.open(n, { maxEntries: 0 }), RangeError, ErrorCode.INVALID_OPTION, 'options.maxEntries');
    throwsWith(() => Store.open(n, { maxEntries: 1.5 }), RangeError, ErrorCode.INVALID_OPTION, 'options.maxEntries');
    throwsWith(() => Store.open(n, { maxBytes: -1 }), RangeError, ErrorCode.INVALID_OPTION, 'options.maxBytes');
    throwsWith(() => Store.open(n, { maxBytes: 2 ** 53 }), RangeError, ErrorCode.INVALID_OPTION, 'options.maxBytes');
    throwsWith(() => Store.open(n, { evictionPolicy: 'lru' as 'none' }), TypeError, ErrorCode.INVALID_OPTION, "options.evictionPolicy", "'lru'");
    assert.equal(Store.list().includes(n), false);
  });
});
