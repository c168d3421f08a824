import assert from 'node:assert/strict';
import { ErrorCode, Store } from 'threadkv';
import { CODEC_NAMES, storeFactory, throwsWith } from '../support/store';

// keys() / values() / entries() / [Symbol.iterator]: weakly consistent,
// shard by shard, optionally by prefix.

const byKey = (a: [string, unknown], b: [string, unknown]): number => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0);

describe('compound: iteration', () => {
  const open = storeFactory('compound-iterate');

  it('an empty store yields nothing', () => {
    const s = open();
    assert.deepEqual([...s], []);
    assert.deepEqual([...s.keys()], []);
    assert.deepEqual([...s.values()], []);
    assert.deepEqual([...s.entries()], []);
  });

  it('keys, values, entries and the default iterator agree with the contents', () => {
    for (const shards of [1, 4, 64]) {
      const s = open({ shards });
      const want: Array<[string, unknown]> = [];
      for (let i = 0; i < 500; i++) want.push([`key${i}`, i % 3 === 0 ? { i } : `v${i}`]);
      s.setMany(want);
      want.sort(byKey);
      assert.deepEqual([...s.entries()].sort(byKey), want);
      assert.deepEqual([...s].sort(byKey), want);
      assert.deepEqual([...s.keys()].sort(), want.map(([k]) => k).sort());
      const values = [...s.values()];
      assert.equal(values.length, 500);
      const entries = [...s.entries()];
      assert.deepEqual(
        entries.map(([, v]) => v),
        [...s.values()],
        'values() yields in the same order as entries()',
      );
    }
  });

  it('a store is iterable with for...of, spread, Array.from, new Map()', () => {
    const s = open<number>();
    s.set('a', 1).set('b', 2);
    const seen: string[] = [];
    for (const [k, v] of s) seen.push(`${k}=${v}`);
    assert.deepEqual(seen.sort(), ['a=1', 'b=2']);
    assert.deepEqual(new Map(s), new Map([['a', 1], ['b', 2]]));
    assert.equal(Array.from(s.keys()).length, 2);
  });

  it('every codec decodes values (json parsed, buffer as Buffers, v8 typed arrays copied)', () => {
    for (const codec of CODEC_NAMES) {
      const s = open({ codec });
      const v = codec === 'buffer' ? new Uint8Array([1, 2]) : codec === 'string' ? 'text' : { a: [1, 'x'] };
      s.set('k', v);
      const [[k, got]] = [...s.entries()] as Array<[string, unknown]>;
      assert.equal(k, 'k');
      if (codec === 'buffer') {
        assert.ok(Buffer.isBuffer(got));
        assert.deepEqual([...(got as Buffer)], [1, 2]);
      } else {
        assert.deepEqual(got, v, codec);
      }
    }
    const s = open();
    s.set('a', new Uint8Array([1])).set('b', new Uint8Array([2]));
    const arrays = [...s.values()] as Uint8Array[];
    const second = arrays[1]![0];
    arrays[0]![0] = 42; // writing one value's copy touches neither the other nor the store
    assert.equal(arrays[1]![0], second);
    assert.deepEqual((s.getMany(['a', 'b']) as Uint8Array[]).map((a) => a[0]), [1, 2]);
  });

  it('keys come back exactly: empty, non-ASCII, astral, and lone surrogates', () => {
    const s = open<number>();
    const keys = ['', 'plain', 'caf\u00e9', '\u{1f600}', '\ud800', '\udfff', 'a\ud83db', '\ud83d\ude00\ud83d', '\uffff', 'x'.repeat(1000)];
    keys.forEach((k, i) => {
      s.set(k, i);
    });
    assert.deepEqual([...s.keys()].sort(), [...keys].sort());
    for (const [k, v] of s) assert.equal(s.get(k), v);
  });

  describe('{ prefix }', () => {
    it('only keys starting with the prefix, on keys(), values(), entries()', () => {
      const s = open<number>();
      for (let i = 0; i < 200; i++) s.set(`${i % 2 ? 'user:' : 'item:'}${i}`, i);
      s.set('user', -1).set('use', -2).set('user:', -3);
      const users = [...s.keys({ prefix: 'user:' })].sort();
      assert.equal(users.length, 101);
      assert.ok(users.every((k) => k.startsWith('user:')));
      assert.deepEqual([...s.entries({ prefix: 'user:' })].map(([k]) => k).sort(), users);
      assert.equal([...s.values({ prefix: 'item:' })].length, 100);
      assert.deepEqual([...s.keys({ prefix: '' })].length, 203);
      assert.deepEqual([...s.keys({ prefix: 'nothing' })], []);
      assert.deepEqual([...s.keys({ prefix: 'user:' + 'x'.repeat(100000) })], []);
    });

    it('matches as JS strings: non-ASCII, and surrogates at the end of the prefix', () => {
      const s = open<number>();
      const keys = ['\ud83d\ude00a', '\ud83d\ude01', '\ud83dx', '\ud83d', '\ud83e\ude00', 'caf\u00e9', 'cafe', '\ude00', 'a\ude00'];
      keys.forEach((k, i) => {
        s.set(k, i);
      });
      for (const prefix of ['\ud83d', '\ud83d\ude00', '\ude00', 'caf', 'caf\u00e9', 'a', '\ud83e']) {
        const want = keys.filter((k) => k.startsWith(prefix)).sort();
        assert.deepEqual([...s.keys({ prefix })].sort(), want, JSON.stringify(prefix));
        assert.deepEqual([...s.entries({ prefix })].map(([k]) => k).sort(), want, JSON.stringify(prefix));
      }
    });
  });

  describe('weak consistency under changes made by the loop itself', () => {
    it('never throws; each key at most once; keys present throughout are all seen', () => {
      const s = open<number>({ shards: 4 });
      for (let i = 0; i < 1000; i++) s.set(`stable${i}`, i);
      for (let i = 0; i < 1000; i++) s.set(`doomed${i}`, i);
      const seen = new Map<string, number>();
      let n = 0;
      for (const [k] of s) {
        seen.set(k, (seen.get(k) ?? 0) + 1);
        // grow and shrink the tables while iterating: rehashes between shards
        if (n < 1000) s.delete(`doomed${n}`);
        s.set(`new${n}`, n);
        if (n % 7 === 0) s.delete(`new${n - 1}`);
        n++;
      }
      for (const [k, count] of seen) assert.equal(count, 1, k);
      for (let i = 0; i < 1000; i++) assert.ok(seen.has(`stable${i}`), `stable${i}`);
    });

    it('clear() during the loop ends it quietly', () => {
      const s = open<number>({ shards: 8 });
      for (let i = 0; i < 100; i++) s.set(`k${i}`, i);
      let count = 0;
      for (const _ of s.keys()) {
        void _;
        if (count++ === 0) s.clear();
      }
      assert.ok(count >= 1 && count <= 100);
    });

    it('is lazy: nothing is read before the first next(), and breaking out early is fine', () => {
      const s = open<number>();
      const it = s.keys();
      s.set('late', 1); // added after keys() but before the first next()
      assert.deepEqual([...it], ['late']);
      s.set('more', 2);
      for (const _ of s) {
        void _;
        break;
      }
    });
  });

  it('options must be an object with a string prefix', () => {
    const s = open();
    for (const method of ['keys', 'values', 'entries'] as const) {
      throwsWith(() => s[method]({ prefix: 5 as unknown as string }), TypeError, ErrorCode.INVALID_ARGUMENT, method, 'prefix');
      throwsWith(() => s[method]('pre' as unknown as object), TypeError, ErrorCode.INVALID_ARGUMENT, method, 'options');
    }
  });

  it('a handle closed during the loop: the next step throws CLOSED; a destroyed store: DESTROYED', () => {
    const s = open<number>({ shards: 4 });
    for (let i = 0; i < 100; i++) s.set(`k${i}`, i);
    const it = s.keys();
    it.next();
    s.close();
    assert.throws(() => {
      for (;;) if (it.next().done) break;
    }, { code: ErrorCode.CLOSED });
    const d = open<number>({ shards: 4 });
    for (let i = 0; i < 100; i++) d.set(`k${i}`, i);
    const it2 = d.entries();
    it2.next();
    Store.destroy(d.name);
    assert.throws(() => {
      for (;;) if (it2.next().done) break;
    }, { code: ErrorCode.DESTROYED });
  });
});
