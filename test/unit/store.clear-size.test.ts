import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { storeFactory } from '../support/store';

// clear(), the size getter and memory(): entry counts and byte accounting.

describe('Store#clear() / Store#size / Store#memory()', () => {
  const open = storeFactory('store.clear-size');

  describe('size', () => {
    it('is 0 for a new store', () => {
      assert.equal(open().size, 0);
    });

    it('is a number property, not a method', () => {
      const s = open();
      assert.equal(typeof s.size, 'number');
      const desc = Object.getOwnPropertyDescriptor(Store.prototype, 'size');
      assert.ok(desc && typeof desc.get === 'function' && desc.set === undefined);
    });

    it('counts new keys, not overwrites', () => {
      const s = open();
      s.set('a', 1);
      assert.equal(s.size, 1);
      s.set('b', 1);
      assert.equal(s.size, 2);
      s.set('a', 2);
      s.put('b', 3);
      assert.equal(s.size, 2);
    });

    it('drops on delete of a present key only', () => {
      const s = open();
      s.set('a', 1).set('b', 2);
      s.delete('zzz');
      assert.equal(s.size, 2);
      s.delete('a');
      assert.equal(s.size, 1);
      s.delete('a');
      assert.equal(s.size, 1);
    });

    it('is the same through every handle', () => {
      const a = open();
      const b = Store.open(a.name);
      for (let i = 0; i < 50; i++) a.set(`k${i}`, i);
      assert.equal(b.size, 50);
      b.delete('k0');
      assert.equal(a.size, 49);
    });

    for (const shards of [1, 8, 64, 65536]) {
      it(`counts across all ${shards} shard(s)`, () => {
        const s = open({ shards });
        for (let i = 0; i < 3000; i++) s.set(`key-${i}`, i);
        assert.equal(s.size, 3000);
        for (let i = 0; i < 3000; i += 2) s.delete(`key-${i}`);
        assert.equal(s.size, 1500);
      });
    }
  });

  describe('clear()', () => {
    it('removes every entry', () => {
      const s = open();
      for (let i = 0; i < 500; i++) s.set(`k${i}`, { i });
      s.set('', 'empty key').set('u', undefined);
      s.clear();
      assert.equal(s.size, 0);
      for (let i = 0; i < 500; i++) {
        assert.equal(s.has(`k${i}`), false);
        assert.equal(s.get(`k${i}`), undefined);
      }
      assert.equal(s.has(''), false);
      assert.equal(s.has('u'), false);
    });

    it('returns undefined', () => {
      const s = open();
      s.set('a', 1);
      assert.equal(s.clear(), undefined);
    });

    it('on an empty store is a no-op, and may be repeated', () => {
      const s = open();
      s.clear();
      s.clear();
      assert.equal(s.size, 0);
    });

    it('leaves the store usable, with the same name and options', () => {
      const s = open<string>({ codec: 'string', shards: 4, maxKeyBytes: 50 });
      s.set('a', 'x');
      s.clear();
      s.set('a', 'y').set('b', 'z');
      assert.equal(s.get('a'), 'y');
      assert.equal(s.size, 2);
      assert.ok(Store.list().includes(s.name));
      assert.deepEqual({ ...Store.open(s.name).options }, { codec: 'string', shards: 4, maxKeyBytes: 50, maxValueBytes: 67108864 });
    });

    it('is seen by every handle', () => {
      const a = open();
      const b = Store.open(a.name);
      a.set('x', 1).set('y', 2);
      b.clear();
      assert.equal(a.size, 0);
      assert.equal(a.get('x'), undefined);
    });

    it('clears only its own store', () => {
      const a = open();
      const b = open();
      a.set('k', 1);
      b.set('k', 2);
      a.clear();
      assert.equal(b.get('k'), 2);
      assert.equal(b.size, 1);
    });

    for (const shards of [1, 65536]) {
      it(`clears all ${shards} shard(s)`, () => {
        const s = open({ shards });
        for (let i = 0; i < 2000; i++) s.set(`k${i}`, i);
        s.clear();
        assert.equal(s.size, 0);
        for (let i = 0; i < 2000; i += 97) assert.equal(s.has(`k${i}`), false);
      });
    }
  });

  describe('memory()', () => {
    it('returns { entries, entryBytes, slotBytes } as numbers', () => {
      const m = open().memory();
      assert.deepEqual(Object.keys(m).sort(), ['entries', 'entryBytes', 'slotBytes']);
      for (const v of Object.values(m)) assert.ok(Number.isInteger(v) && v >= 0);
    });

    it('is all zero entries and entry bytes for an empty store', () => {
      const m = open().memory();
      assert.equal(m.entries, 0);
      assert.equal(m.entryBytes, 0);
    });

    it('entries follows size', () => {
      const s = open();
      for (let i = 0; i < 100; i++) s.set(`k${i}`, i);
      s.delete('k5');
      assert.equal(s.memory().entries, 99);
      assert.equal(s.memory().entries, s.size);
    });

    it('entryBytes covers at least the key and value bytes of each entry', () => {
      const s = open<string>({ codec: 'string' });
      s.set('abc', 'x'.repeat(1000));
      const one = s.memory().entryBytes;
      assert.ok(one >= 1003, `entryBytes ${one}`);
      s.set('de', '\u00e9'.repeat(100)); // 2 key bytes + 200 value bytes
      assert.ok(s.memory().entryBytes >= one + 202);
    });

    it('entryBytes changes by exactly the value size difference on overwrite, counted in UTF-8 bytes', () => {
      const s = open<string>({ codec: 'string' });
      s.set('k', '');
      const base = s.memory().entryBytes;
      s.set('k', 'abcd');
      assert.equal(s.memory().entryBytes, base + 4);
      s.set('k', '\u00e9\u20ac\u{1F600}'); // 2 + 3 + 4 bytes
      assert.equal(s.memory().entryBytes, base + 9);
      s.set('k', '\uD800'); // a lone surrogate is 3 bytes in WTF-8
      assert.equal(s.memory().entryBytes, base + 3);
      s.set('k', '');
      assert.equal(s.memory().entryBytes, base);
    });

    it('entryBytes returns to its previous value after delete', () => {
      const s = open();
      s.set('a', 'first');
      const before = s.memory().entryBytes;
      s.set('b', { big: 'y'.repeat(5000) });
      assert.ok(s.memory().entryBytes > before + 5000);
      s.delete('b');
      assert.equal(s.memory().entryBytes, before);
    });

    it('entries and entryBytes are 0 after clear()', () => {
      const s = open({ shards: 16 });
      for (let i = 0; i < 300; i++) s.set(`k${i}`, 'v'.repeat(i));
      s.clear();
      const m = s.memory();
      assert.equal(m.entries, 0);
      assert.equal(m.entryBytes, 0);
    });

    it('is the same through every handle', () => {
      const a = open();
      const b = Store.open(a.name);
      a.set('k', [1, 2, 3]);
      assert.deepEqual(b.memory(), a.memory());
    });

    it('returns a new object each call', () => {
      const s = open();
      const m1 = s.memory();
      s.set('k', 1);
      const m2 = s.memory();
      assert.notEqual(m1, m2);
      assert.equal(m1.entries, 0);
      assert.equal(m2.entries, 1);
    });
  });
});
