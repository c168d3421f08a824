import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { storeFactory } from '../support/store';

// get / set / put on the default (v8) codec: what goes in comes out, as a
// fresh copy, overwrites replace, and every handle sees the same data.

describe('Store#get() / Store#set() / Store#put()', () => {
  const open = storeFactory('store.get-set');

  it('get() of a missing key returns undefined', () => {
    const s = open();
    assert.equal(s.get('missing'), undefined);
    assert.equal(s.get(''), undefined);
    assert.equal(s.size, 0);
  });

  it('set() then get() returns the value', () => {
    const s = open();
    s.set('k', 'v');
    assert.equal(s.get('k'), 'v');
  });

  it('set() returns the handle, so calls chain', () => {
    const s = open<number>();
    assert.equal(s.set('a', 1), s);
    s.set('b', 2).set('c', 3).put('d', 4);
    assert.deepEqual(['a', 'b', 'c', 'd'].map((k) => s.get(k)), [1, 2, 3, 4]);
  });

  it('put() returns the handle and stores like set()', () => {
    const s = open<string>();
    assert.equal(s.put('k', 'put'), s);
    assert.equal(s.get('k'), 'put');
    s.set('k', 'set');
    assert.equal(s.get('k'), 'set');
    s.put('k', 'put again');
    assert.equal(s.get('k'), 'put again');
    assert.equal(s.size, 1);
  });

  it('set() overwrites: the last value wins and size does not grow', () => {
    const s = open();
    s.set('k', 1);
    s.set('k', 2);
    s.set('k', 3);
    assert.equal(s.get('k'), 3);
    assert.equal(s.size, 1);
  });

  it('an overwrite may change the type of the value', () => {
    const s = open();
    const values: unknown[] = ['text', 42, { a: [1] }, null, true, new Map([[1, 2]]), undefined, 'x'.repeat(30000), new Uint8Array([1, 2]), 7n, -0, ''];
    for (const v of values) {
      s.set('k', v);
      const got = s.get('k');
      if (typeof v === 'number') assert.ok(Object.is(got, v));
      else assert.deepEqual(got, v);
      assert.equal(s.has('k'), true);
    }
    assert.equal(s.size, 1);
  });

  it('stores primitives exactly', () => {
    const s = open();
    const values: unknown[] = [
      0, -0, 1, -1, 0.1, 1 / 3, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 2 ** 53 + 2, Number.MAX_VALUE, Number.MIN_VALUE,
      Number.EPSILON, NaN, Infinity, -Infinity, true, false, null, '', 'a', 'multi\nline\ttext', '\0', 2n ** 64n, -1n, 0n,
    ];
    values.forEach((v, i) => {
      s.set(`k${i}`, v);
    });
    values.forEach((v, i) => {
      assert.ok(Object.is(s.get(`k${i}`), v), `value #${i} ${String(v)}`);
    });
    assert.equal(s.size, values.length);
  });

  it('undefined is a value: the key is present and get() returns undefined', () => {
    const s = open();
    s.set('u', undefined);
    assert.equal(s.get('u'), undefined);
    assert.equal(s.has('u'), true);
    assert.equal(s.size, 1);
  });

  it('stores objects and arrays by value', () => {
    const s = open();
    const v = { n: 1, s: 'two', nested: { arr: [1, 'x', null, { deep: [true] }] }, list: [[1, 2], [3]] };
    s.set('obj', v);
    assert.deepEqual(s.get('obj'), v);
    s.set('arr', [1, 2, 3]);
    assert.deepEqual(s.get('arr'), [1, 2, 3]);
  });

  it('get() returns a fresh copy each time', () => {
    const s = open<{ a: number[] }>();
    s.set('k', { a: [1, 2] });
    const x = s.get('k')!;
    const y = s.get('k')!;
    assert.notEqual(x, y);
    assert.notEqual(x.a, y.a);
    x.a.push(3);
    (x as { extra?: number }).extra = 1;
    assert.deepEqual(s.get('k'), { a: [1, 2] });
    assert.deepEqual(y, { a: [1, 2] });
  });

  it('mutating a value after set() does not change the store', () => {
    const s = open<{ a: number[]; m: Map<string, number> }>();
    const v = { a: [1], m: new Map([['x', 1]]) };
    s.set('k', v);
    v.a.push(2);
    v.m.set('y', 2);
    assert.deepEqual(s.get('k'), { a: [1], m: new Map([['x', 1]]) });
  });

  it('keys are independent', () => {
    const s = open<number>();
    for (let i = 0; i < 100; i++) s.set(`key${i}`, i);
    for (let i = 0; i < 100; i++) assert.equal(s.get(`key${i}`), i);
    s.set('key50', -1);
    assert.equal(s.get('key49'), 49);
    assert.equal(s.get('key51'), 51);
  });

  for (const shards of [1, 2, 64, 65536]) {
    it(`10000 keys read back correctly with ${shards} shard(s)`, () => {
      const s = open<string>({ shards });
      for (let i = 0; i < 10000; i++) s.set(`k${i}`, `v${i}`);
      assert.equal(s.size, 10000);
      for (let i = 0; i < 10000; i++) assert.equal(s.get(`k${i}`), `v${i}`);
      for (let i = 0; i < 10000; i += 2) s.set(`k${i}`, `w${i}`);
      for (let i = 0; i < 10000; i++) assert.equal(s.get(`k${i}`), i % 2 === 0 ? `w${i}` : `v${i}`);
      assert.equal(s.size, 10000);
    });
  }

  it('writes through one handle are read through another', () => {
    const a = open<string>();
    const b = Store.open<string>(a.name);
    a.set('k', 'a');
    assert.equal(b.get('k'), 'a');
    b.put('k', 'b');
    assert.equal(a.get('k'), 'b');
  });

  it('values bigger than the read buffers (20 KB, 2 MB) and then small ones read back correctly', () => {
    const s = open<string | number[]>();
    const big = 'b'.repeat(2 * 1024 * 1024);
    const mid = Array.from({ length: 5000 }, (_, i) => i);
    s.set('big', big).set('mid', mid).set('small', 'small');
    assert.equal(s.get('small'), 'small');
    assert.equal(s.get('big'), big);
    assert.deepEqual(s.get('mid'), mid);
    assert.equal(s.get('small'), 'small');
    assert.equal(s.get('big'), big);
  });
});
