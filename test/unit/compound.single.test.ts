import assert from 'node:assert/strict';
import { Store, ErrorCode } from 'threadkv';
import { snapshot, storeFactory, throwsUnchanged, throwsWith } from '../support/store';

// The compound single-key operations: setIfAbsent, getOrSet, swap, take,
// getEntry (versions), compareAndSet, compareAndDelete. Their semantics, and
// for each error: its class, code, what it names, and an unchanged store.

describe('compound single-key operations', () => {
  const open = storeFactory('compound-single');

  describe('setIfAbsent()', () => {
    it('stores and returns true when the key is absent', () => {
      const s = open();
      assert.equal(s.setIfAbsent('k', { a: 1 }), true);
      assert.deepEqual(s.get('k'), { a: 1 });
      assert.equal(s.size, 1);
    });

    it('returns false and changes nothing (value, version) when the key is present', () => {
      const s = open();
      s.set('k', 'first');
      const before = snapshot(s);
      assert.equal(s.setIfAbsent('k', 'second'), false);
      assert.deepEqual(snapshot(s), before);
      assert.equal(s.get('k'), 'first');
    });

    it('a key holding undefined (v8) or null is present', () => {
      const s = open();
      s.set('u', undefined);
      s.set('n', null);
      assert.equal(s.setIfAbsent('u', 1), false);
      assert.equal(s.setIfAbsent('n', 1), false);
      assert.equal(s.get('u'), undefined);
      assert.equal(s.get('n'), null);
    });

    it('stores again after the key is deleted', () => {
      const s = open();
      assert.equal(s.setIfAbsent('k', 1), true);
      s.delete('k');
      assert.equal(s.setIfAbsent('k', 2), true);
      assert.equal(s.get('k'), 2);
    });

    it('errors: bad key, unencodable value, value too large; the store is unchanged', () => {
      const s = open({ codec: 'json', maxValueBytes: 10 });
      s.set('k', 1);
      throwsUnchanged(s, () => s.setIfAbsent(7 as unknown as string, 1), TypeError, ErrorCode.KEY_TYPE);
      throwsUnchanged(s, () => s.setIfAbsent('fresh', (() => 1) as unknown as number), TypeError, ErrorCode.VALUE_TYPE, '"fresh"');
      throwsUnchanged(s, () => s.setIfAbsent('fresh', 'x'.repeat(20) as unknown as number), RangeError, ErrorCode.VALUE_TOO_LARGE, '"fresh"');
      // A bad value is reported even when the key is present.
      throwsUnchanged(s, () => s.setIfAbsent('k', (() => 1) as unknown as number), TypeError, ErrorCode.VALUE_TYPE, '"k"');
    });
  });

  describe('getOrSet()', () => {
    it('returns on insert exactly what get returns afterwards, under every codec', () => {
      const name = `getorset-codecs-${process.pid}`;
      const j = Store.open(`${name}-json`, { codec: 'json' });
      assert.equal(j.getOrSet('d', new Date(0) as unknown), '1970-01-01T00:00:00.000Z');
      assert.ok(Object.is(j.getOrSet('z', -0 as unknown), 0));
      assert.deepEqual(j.getOrSet('d', 'other'), j.get('d'));
      const b = Store.open(`${name}-buffer`, { codec: 'buffer' });
      const inserted = b.getOrSet('k', new Uint16Array([1, 2]) as unknown);
      assert.ok(Buffer.isBuffer(inserted));
      assert.deepEqual(inserted, b.get('k'));
      Store.destroy(`${name}-json`);
      Store.destroy(`${name}-buffer`);
    });

    it('with a value: stores and returns it when absent, returns a copy of the present one otherwise', () => {
      const s = open();
      const v = { n: 1 };
      const inserted = s.getOrSet('k', v);
      assert.deepEqual(inserted, v); // equal to what was stored...
      assert.notEqual(inserted, v); // ...but a copy, like every read
      const again = s.getOrSet('k', { n: 2 });
      assert.deepEqual(again, { n: 1 });
      assert.notEqual(again, v); // a copy
      assert.deepEqual(s.get('k'), { n: 1 });
    });

    it('with a factory: calls it once, with the key, only when the key is absent', () => {
      const s = open();
      const calls: string[] = [];
      const made = s.getOrSet('k', (key) => {
        calls.push(key);
        return { made: key };
      });
      assert.deepEqual(made, { made: 'k' });
      assert.deepEqual(calls, ['k']);
      const present = s.getOrSet('k', () => {
        calls.push('again');
        return { made: 'again' };
      });
      assert.deepEqual(present, { made: 'k' });
      assert.deepEqual(calls, ['k']);
    });

    it('a present undefined (v8) is returned without calling the factory', () => {
      const s = open();
      s.set('u', undefined);
      let called = false;
      assert.equal(
        s.getOrSet('u', () => {
          called = true;
          return 1;
        }),
        undefined,
      );
      assert.equal(called, false);
    });

    it('a throwing factory: the error propagates and nothing is stored', () => {
      const s = open();
      s.set('other', 1);
      const before = snapshot(s);
      assert.throws(
        () =>
          s.getOrSet('k', () => {
            throw new Error('factory failed');
          }),
        /factory failed/,
      );
      assert.deepEqual(snapshot(s), before);
    });

    it('a factory may use the store (no lock is held while it runs)', () => {
      const s = open<number>();
      const v = s.getOrSet('k', () => {
        s.set('side', 1);
        return (s.get('side') ?? 0) + 1;
      });
      assert.equal(v, 2);
      assert.equal(s.get('k'), 2);
    });

    it('when the factory itself stores the key first, that value wins and is returned', () => {
      const s = open<string>();
      const v = s.getOrSet('k', () => {
        s.set('k', 'raced');
        return 'mine';
      });
      assert.equal(v, 'raced');
      assert.equal(s.get('k'), 'raced');
    });

    it('buffer codec: the present value comes back as a Buffer', () => {
      const s = open<Uint8Array>({ codec: 'buffer' });
      s.set('k', new Uint8Array([1, 2, 3]));
      const got = s.getOrSet('k', new Uint8Array([9]));
      assert.ok(Buffer.isBuffer(got));
      assert.deepEqual([...got], [1, 2, 3]);
    });

    it('errors: bad key, unencodable value (factory result too); the store is unchanged', () => {
      const s = open({ codec: 'string' });
      throwsUnchanged(s, () => s.getOrSet(null as unknown as string, 'v'), TypeError, ErrorCode.KEY_TYPE);
      throwsUnchanged(s, () => s.getOrSet('k', 5 as unknown as string), TypeError, ErrorCode.VALUE_TYPE, '"k"');
      throwsUnchanged(s, () => s.getOrSet('k', () => 5 as unknown as string), TypeError, ErrorCode.VALUE_TYPE, '"k"');
    });
  });

  describe('swap()', () => {
    it('stores the value and returns the previous one (undefined when absent)', () => {
      const s = open();
      assert.equal(s.swap('k', 'one'), undefined);
      assert.equal(s.swap('k', { two: [2] }), 'one');
      assert.deepEqual(s.swap('k', 3), { two: [2] });
      assert.equal(s.get('k'), 3);
      assert.equal(s.size, 1);
    });

    it('returns independent copies of typed arrays (v8) and Buffers (buffer codec)', () => {
      const s = open();
      s.set('k', { a: new Uint8Array([1, 2]) });
      const old = s.swap('k', { a: new Uint8Array([3, 4]) }) as { a: Uint8Array };
      s.set('other', new Uint8Array(100).fill(7));
      assert.deepEqual([...old.a], [1, 2]);
      const b = open<Uint8Array>({ codec: 'buffer' });
      b.set('k', new Uint8Array([5]));
      const prev = b.swap('k', new Uint8Array([6]))!;
      assert.ok(Buffer.isBuffer(prev));
      assert.deepEqual([...prev], [5]);
    });

    it('errors: the store is unchanged', () => {
      const s = open({ codec: 'json' });
      s.set('k', 1);
      throwsUnchanged(s, () => s.swap('k', Symbol('x') as unknown as number), TypeError, ErrorCode.VALUE_TYPE, '"k"');
      throwsUnchanged(s, () => s.swap(1 as unknown as string, 2), TypeError, ErrorCode.KEY_TYPE);
    });
  });

  describe('take()', () => {
    it('removes the key and returns its value; undefined when absent', () => {
      const s = open();
      s.set('k', { deep: { x: 1 } });
      s.set('other', 1);
      assert.deepEqual(s.take('k'), { deep: { x: 1 } });
      assert.equal(s.has('k'), false);
      assert.equal(s.size, 1);
      assert.equal(s.take('k'), undefined);
      assert.equal(s.size, 1);
    });

    it('returns strings, numbers, booleans, null as themselves, every codec', () => {
      const s = open();
      for (const v of ['text', '', 1.5, -0, true, false, null, 'lone \ud800']) {
        s.set('k', v);
        assert.ok(Object.is(s.take('k'), v), String(v));
      }
      const j = open({ codec: 'json' });
      j.set('k', [1, { a: 'b' }]);
      assert.deepEqual(j.take('k'), [1, { a: 'b' }]);
    });

    it('errors: bad key; the store is unchanged', () => {
      const s = open();
      s.set('k', 1);
      throwsUnchanged(s, () => s.take({} as unknown as string), TypeError, ErrorCode.KEY_TYPE);
    });
  });

  describe('getEntry() and versions', () => {
    it('undefined when absent; { value, version } when present', () => {
      const s = open();
      assert.equal(s.getEntry('k'), undefined);
      s.set('k', { a: 1 });
      const e = s.getEntry('k')!;
      assert.deepEqual(e.value, { a: 1 });
      assert.ok(Number.isSafeInteger(e.version) && e.version > 0, String(e.version));
    });

    it('every kind of write gives the key a new, higher version', () => {
      const s = open<unknown>();
      const versions: number[] = [];
      const record = (): void => {
        versions.push(s.getEntry('k')!.version);
      };
      s.set('k', 1);
      record();
      s.set('k', 1); // the same value: still a new write
      record();
      s.swap('k', 2);
      record();
      assert.equal(s.compareAndSet('k', versions.at(-1)!, 3), true);
      record();
      s.increment('k');
      record();
      s.update('k', (v) => (v as number) + 1);
      record();
      s.setMany([['k', 10]]);
      record();
      s.setMany([['k', 11]], { atomic: true });
      record();
      s.delete('k');
      assert.equal(s.setIfAbsent('k', 0), true);
      record();
      s.take('k');
      s.getOrSet('k', 5);
      record();
      s.clear();
      s.set('k', 1);
      record();
      for (let i = 1; i < versions.length; i++) assert.ok(versions[i]! > versions[i - 1]!, `versions ${versions.join(', ')}`);
    });

    it('reads and failed writes do not change the version', () => {
      const s = open();
      s.set('k', 'text');
      const v = s.getEntry('k')!.version;
      s.get('k');
      s.has('k');
      s.getMany(['k']);
      [...s.entries()];
      s.setIfAbsent('k', 'x');
      s.getOrSet('k', 'x');
      s.compareAndSet('k', v + 1000, 'x');
      s.compareAndSet('k', null, 'x');
      s.compareAndDelete('k', v + 1000);
      assert.throws(() => s.increment('k'));
      assert.equal(s.getEntry('k')!.version, v);
      assert.equal(s.get('k'), 'text');
    });

    it('no ABA: a version is never reused for the key, across delete, re-insert and clear', () => {
      const s = open({ shards: 1 });
      s.set('k', 'same');
      const v1 = s.getEntry('k')!.version;
      s.delete('k');
      s.set('k', 'same');
      const v2 = s.getEntry('k')!.version;
      assert.ok(v2 > v1);
      assert.equal(s.compareAndSet('k', v1, 'stale'), false);
      s.clear();
      s.set('k', 'same');
      const v3 = s.getEntry('k')!.version;
      assert.ok(v3 > v2, `${v3} after clear must exceed ${v2}`);
      assert.equal(s.compareAndDelete('k', v2), false);
      assert.equal(s.get('k'), 'same');
    });

    it('every handle, in this thread, sees the same versions', () => {
      const s = open();
      s.set('k', 1);
      const other = Store.open(s.name);
      assert.deepEqual(other.getEntry('k'), s.getEntry('k'));
      other.close();
    });

    it('errors: bad key', () => {
      const s = open();
      throwsWith(() => s.getEntry(undefined as unknown as string), TypeError, ErrorCode.KEY_TYPE);
    });
  });

  describe('compareAndSet()', () => {
    it('null: stores only if absent', () => {
      const s = open();
      assert.equal(s.compareAndSet('k', null, 1), true);
      assert.equal(s.get('k'), 1);
      assert.equal(s.compareAndSet('k', null, 2), false);
      assert.equal(s.get('k'), 1);
    });

    it('a version: stores only if it is the current one', () => {
      const s = open();
      s.set('k', 'a');
      const v = s.getEntry('k')!.version;
      assert.equal(s.compareAndSet('k', v, 'b'), true);
      assert.equal(s.get('k'), 'b');
      assert.equal(s.compareAndSet('k', v, 'c'), false); // stale now
      assert.equal(s.get('k'), 'b');
      assert.equal(s.compareAndSet('absent', v, 'x'), false);
      assert.equal(s.has('absent'), false);
    });

    it('numbers that are not versions never match', () => {
      const s = open();
      s.set('k', 'a');
      const before = snapshot(s);
      for (const bad of [0, -1, 0.5, NaN, Infinity, -Infinity, 2 ** 60, Number.MAX_VALUE]) {
        assert.equal(s.compareAndSet('k', bad, 'x'), false, String(bad));
        assert.equal(s.compareAndSet('absent', bad, 'x'), false, String(bad));
      }
      assert.deepEqual(snapshot(s), before);
    });

    it('errors: expectedVersion not a number or null, bad key, bad value; the store is unchanged', () => {
      const s = open({ codec: 'json' });
      s.set('k', 1);
      const v = s.getEntry('k')!.version;
      for (const bad of [undefined, '1', String(v), {}, 1n]) {
        throwsUnchanged(s, () => s.compareAndSet('k', bad as unknown as number, 2), TypeError, ErrorCode.INVALID_ARGUMENT, 'expectedVersion', JSON.stringify(s.name));
      }
      throwsUnchanged(s, () => s.compareAndSet(1 as unknown as string, v, 2), TypeError, ErrorCode.KEY_TYPE);
      throwsUnchanged(s, () => s.compareAndSet('k', v, (() => 1) as unknown as number), TypeError, ErrorCode.VALUE_TYPE, '"k"');
      // A bad key is reported before a bad expectedVersion.
      throwsUnchanged(s, () => s.compareAndSet(1 as unknown as string, 'x' as unknown as number, 2), TypeError, ErrorCode.KEY_TYPE);
    });
  });

  describe('compareAndDelete()', () => {
    it('deletes only if the version is the current one', () => {
      const s = open();
      s.set('k', 1);
      const v = s.getEntry('k')!.version;
      s.set('k', 2);
      assert.equal(s.compareAndDelete('k', v), false);
      assert.equal(s.get('k'), 2);
      const v2 = s.getEntry('k')!.version;
      assert.equal(s.compareAndDelete('k', v2), true);
      assert.equal(s.has('k'), false);
      assert.equal(s.compareAndDelete('k', v2), false);
      assert.equal(s.size, 0);
    });

    it('errors: expectedVersion not a number (null included), bad key; the store is unchanged', () => {
      const s = open();
      s.set('k', 1);
      for (const bad of [null, undefined, '1', {}]) {
        throwsUnchanged(s, () => s.compareAndDelete('k', bad as unknown as number), TypeError, ErrorCode.INVALID_ARGUMENT, 'expectedVersion');
      }
      throwsUnchanged(s, () => s.compareAndDelete(Symbol('k') as unknown as string, 1), TypeError, ErrorCode.KEY_TYPE);
    });
  });

  describe('on a closed handle or a destroyed store', () => {
    it('every compound method throws CLOSED / DESTROYED', () => {
      const calls: Array<[string, (s: Store) => unknown]> = [
        ['setIfAbsent', (s) => s.setIfAbsent('k', 1)],
        ['getOrSet', (s) => s.getOrSet('k', 1)],
        ['getOrSet(factory)', (s) => s.getOrSet('k', () => 1)],
        ['swap', (s) => s.swap('k', 1)],
        ['take', (s) => s.take('k')],
        ['getEntry', (s) => s.getEntry('k')],
        ['compareAndSet', (s) => s.compareAndSet('k', null, 1)],
        ['compareAndSet(bad version)', (s) => s.compareAndSet('k', 'x' as unknown as number, 1)],
        ['compareAndDelete', (s) => s.compareAndDelete('k', 1)],
        ['increment', (s) => s.increment('k')],
        ['increment(bad delta)', (s) => s.increment('k', 'x' as unknown as number)],
        ['update', (s) => s.update('k', () => 1)],
        ['getMany', (s) => s.getMany(['k'])],
        ['setMany', (s) => s.setMany([['k', 1]])],
        ['setMany(atomic)', (s) => s.setMany([['k', 1]], { atomic: true })],
        ['deleteMany', (s) => s.deleteMany(['k'])],
        ['entries', (s) => [...s.entries()]],
        ['keys', (s) => [...s.keys()]],
      ];
      for (const [what, call] of calls) {
        const s = open();
        s.close();
        assert.throws(() => call(s), { name: 'Error', code: ErrorCode.CLOSED }, what);
        const d = open();
        Store.destroy(d.name);
        assert.throws(() => call(d), { name: 'Error', code: ErrorCode.DESTROYED }, what);
      }
    });
  });
});
