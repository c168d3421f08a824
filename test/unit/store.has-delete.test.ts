import assert from 'node:assert/strict';
import { Store, type StoreOptions } from 'threadkv';
import { storeFactory } from '../support/store';

// has / delete: presence is independent of the value (falsy values and
// undefined are present), delete reports whether it removed something.

describe('Store#has() / Store#delete()', () => {
  const open = storeFactory('store.has-delete');

  describe('has()', () => {
    it('is false for a key never set', () => {
      const s = open();
      assert.equal(s.has('nope'), false);
      assert.equal(s.has(''), false);
    });

    it('is true after set() and false after delete()', () => {
      const s = open();
      s.set('k', 'v');
      assert.equal(s.has('k'), true);
      s.delete('k');
      assert.equal(s.has('k'), false);
    });

    it('is true for every falsy value and for undefined', () => {
      const s = open();
      const falsy: unknown[] = [undefined, null, false, 0, -0, NaN, '', 0n];
      falsy.forEach((v, i) => {
        s.set(`f${i}`, v);
      });
      falsy.forEach((_, i) => {
        assert.equal(s.has(`f${i}`), true, `value #${i}`);
      });
      assert.equal(s.size, falsy.length);
    });

    it('returns a boolean', () => {
      const s = open();
      s.set('k', 1);
      assert.equal(typeof s.has('k'), 'boolean');
      assert.equal(typeof s.has('x'), 'boolean');
    });

    it('does not change the store', () => {
      const s = open();
      s.set('k', { a: 1 });
      const mem = s.memory();
      for (let i = 0; i < 10; i++) {
        s.has('k');
        s.has('other');
      }
      assert.equal(s.size, 1);
      assert.deepEqual(s.memory(), mem);
      assert.deepEqual(s.get('k'), { a: 1 });
    });

    it('is exact: no prefix, suffix or case matches', () => {
      const s = open();
      s.set('Key', 1);
      for (const k of ['key', 'KEY', 'Ke', 'Keys', ' Key', 'Key ', 'Key\0']) assert.equal(s.has(k), false, JSON.stringify(k));
      assert.equal(s.has('Key'), true);
    });

    it('sees writes made through other handles', () => {
      const a = open();
      const b = Store.open(a.name);
      a.set('k', 1);
      assert.equal(b.has('k'), true);
      b.delete('k');
      assert.equal(a.has('k'), false);
    });
  });

  describe('delete()', () => {
    it('returns true when the key was present, false when it was not', () => {
      const s = open();
      s.set('k', 1);
      assert.equal(s.delete('k'), true);
      assert.equal(s.delete('k'), false);
      assert.equal(s.delete('never'), false);
    });

    it('removes the key: get() is undefined and size shrinks', () => {
      const s = open();
      s.set('a', 1).set('b', 2);
      assert.equal(s.size, 2);
      s.delete('a');
      assert.equal(s.get('a'), undefined);
      assert.equal(s.size, 1);
    });

    it('leaves other keys alone', () => {
      const s = open<number>();
      for (let i = 0; i < 200; i++) s.set(`k${i}`, i);
      for (let i = 0; i < 200; i += 3) assert.equal(s.delete(`k${i}`), true);
      for (let i = 0; i < 200; i++) {
        assert.equal(s.has(`k${i}`), i % 3 !== 0);
        assert.equal(s.get(`k${i}`), i % 3 === 0 ? undefined : i);
      }
      assert.equal(s.size, 200 - Math.ceil(200 / 3));
    });

    it('a failed delete leaves size unchanged', () => {
      const s = open();
      s.set('a', 1);
      assert.equal(s.delete('b'), false);
      assert.equal(s.size, 1);
    });

    it('removes keys whose value is undefined or falsy', () => {
      const s = open();
      s.set('u', undefined).set('z', 0).set('e', '').set('n', null);
      for (const k of ['u', 'z', 'e', 'n']) assert.equal(s.delete(k), true, k);
      assert.equal(s.size, 0);
    });

    it('the key can be set again after delete', () => {
      const s = open();
      s.set('k', 'first');
      s.delete('k');
      s.set('k', 'second');
      assert.equal(s.get('k'), 'second');
      assert.equal(s.size, 1);
    });

    it('deletes the empty key', () => {
      const s = open();
      s.set('', 'empty');
      assert.equal(s.delete(''), true);
      assert.equal(s.has(''), false);
    });

    it('deleting every key empties the store and its entry memory', () => {
      const s = open({ shards: 4 });
      for (let i = 0; i < 1000; i++) s.set(`k${i}`, 'x'.repeat(i % 50));
      for (let i = 0; i < 1000; i++) assert.equal(s.delete(`k${i}`), true);
      assert.equal(s.size, 0);
      const m = s.memory();
      assert.equal(m.entries, 0);
      assert.equal(m.entryBytes, 0);
    });

    it('returns a boolean and is seen through other handles', () => {
      const a = open();
      const b = Store.open(a.name);
      a.set('k', 1);
      const r = b.delete('k');
      assert.equal(typeof r, 'boolean');
      assert.equal(r, true);
      assert.equal(a.delete('k'), false);
      assert.equal(a.size, 0);
    });

    it('works on every codec', () => {
      const cases: [StoreOptions['codec'], unknown][] = [
        ['v8', { a: 1 }],
        ['json', [1]],
        ['string', 's'],
        ['buffer', Buffer.from('b')],
      ];
      for (const [codec, value] of cases) {
        const s = open({ codec });
        s.set('k', value);
        assert.equal(s.has('k'), true, codec);
        assert.equal(s.delete('k'), true, codec);
        assert.equal(s.has('k'), false, codec);
        assert.equal(s.delete('k'), false, codec);
      }
    });
  });
});
