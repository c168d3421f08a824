import assert from 'node:assert/strict';
import { ErrorCode } from 'threadkv';
import { snapshot, storeFactory, throwsUnchanged, throwsWith } from '../support/store';

// getMany / setMany / deleteMany: one native call each; every key and value
// is checked before anything changes.

describe('compound: getMany()', () => {
  const open = storeFactory('compound-getmany');

  it('values in key order, undefined where absent, duplicates repeated', () => {
    const s = open();
    s.set('a', 1).set('b', { x: [1] }).set('c', 'three');
    assert.deepEqual(s.getMany(['c', 'missing', 'a', 'b', 'a']), ['three', undefined, 1, { x: [1] }, 1]);
    assert.deepEqual(s.getMany([]), []);
  });

  it('takes any iterable of keys (a Set, a generator, map keys)', () => {
    const s = open();
    s.set('a', 1).set('b', 2);
    assert.deepEqual(s.getMany(new Set(['b', 'a'])), [2, 1]);
    function* gen(): Generator<string> {
      yield 'a';
      yield 'b';
    }
    assert.deepEqual(s.getMany(gen()), [1, 2]);
    assert.deepEqual(s.getMany(new Map([['b', 0]]).keys()), [2]);
  });

  it('v8: typed arrays in the values are independent copies', () => {
    const s = open();
    s.set('a', { bytes: new Uint8Array([1, 2, 3]) });
    s.set('b', new Float64Array([1.5, 2.5]));
    const [a, b] = s.getMany(['a', 'b']) as [{ bytes: Uint8Array }, Float64Array];
    assert.deepEqual([...a.bytes], [1, 2, 3]);
    assert.deepEqual([...b], [1.5, 2.5]);
    // The values of one batch may share an ArrayBuffer (docs/api.md), never bytes.
    assert.ok(a.bytes.buffer !== b.buffer || a.bytes.byteOffset + 3 <= b.byteOffset || b.byteOffset + 16 <= a.bytes.byteOffset);
    a.bytes[0] = 99;
    assert.deepEqual([...b], [1.5, 2.5]);
    assert.deepEqual(s.getMany(['a']), [{ bytes: new Uint8Array([1, 2, 3]) }]);
  });

  it('buffer codec: each value is a Buffer of its own', () => {
    const s = open<Uint8Array>({ codec: 'buffer' });
    s.set('a', new Uint8Array([1])).set('b', new Uint8Array([2, 2]));
    const [a, b] = s.getMany(['a', 'b']);
    assert.ok(Buffer.isBuffer(a) && Buffer.isBuffer(b));
    assert.deepEqual([...a!], [1]);
    assert.deepEqual([...b!], [2, 2]);
    a![0] = 9;
    assert.deepEqual([...b!], [2, 2]);
    assert.deepEqual([...s.get('a')!], [1]);
  });

  it('json and string codecs; keys with lone surrogates', () => {
    const j = open({ codec: 'json' });
    j.set('\ud800', { lone: true }).set('\udfff', [2]);
    assert.deepEqual(j.getMany(['\udfff', '\ud800']), [[2], { lone: true }]);
    const t = open({ codec: 'string' });
    t.set('k', 'text \ud83d');
    assert.deepEqual(t.getMany(['k']), ['text \ud83d']);
  });

  it('large values (over the 1 MiB scratch size) come back intact', () => {
    const s = open();
    const big = 'x'.repeat(3 << 20);
    const bytes = new Uint8Array(2 << 20).fill(5);
    s.set('big', big).set('bytes', { bytes });
    const [a, b] = s.getMany(['big', 'bytes']) as [string, { bytes: Uint8Array }];
    assert.equal(a, big);
    assert.deepEqual(b.bytes, bytes);
  });

  it('errors: not an iterable, a string, a bad key inside', () => {
    const s = open();
    for (const bad of [undefined, null, 5, 'ab', { length: 1 }]) {
      throwsWith(() => s.getMany(bad as unknown as string[]), TypeError, ErrorCode.INVALID_ARGUMENT, 'getMany', 'keys');
    }
    throwsWith(() => s.getMany(['a', 5 as unknown as string]), TypeError, ErrorCode.KEY_TYPE);
    const short = open({ maxKeyBytes: 2 });
    throwsWith(() => short.getMany(['ok', 'too long']), RangeError, ErrorCode.KEY_TOO_LONG, '"too long"');
  });
});

describe('compound: setMany()', () => {
  const open = storeFactory('compound-setmany');

  for (const atomic of [false, true]) {
    describe(atomic ? 'atomic: true' : 'default (per key)', () => {
      const opts = atomic ? { atomic: true } : undefined;

      it('stores every entry; a later duplicate key wins', () => {
        const s = open();
        s.set('a', 'old');
        s.setMany(
          [
            ['a', 1],
            ['b', { two: 2 }],
            ['c', 'three'],
            ['b', 'last'],
          ],
          opts,
        );
        assert.deepEqual(s.getMany(['a', 'b', 'c']), [1, 'last', 'three']);
        assert.equal(s.size, 3);
      });

      it('takes any iterable of pairs (a Map, a generator); an empty one is a no-op', () => {
        const s = open();
        s.setMany(new Map<string, unknown>([['m', 1], ['n', 2]]), opts);
        function* gen(): Generator<[string, number]> {
          for (let i = 0; i < 300; i++) yield [`g${i}`, i];
        }
        s.setMany(gen(), opts);
        assert.equal(s.size, 302);
        assert.equal(s.get('g299'), 299);
        const before = snapshot(s);
        s.setMany([], opts);
        assert.deepEqual(snapshot(s), before);
      });

      it('every codec', () => {
        const b = open<Uint8Array>({ codec: 'buffer' });
        b.setMany([['x', new Uint8Array([1, 2])], ['y', Buffer.from('hi')]], opts);
        assert.deepEqual([...b.get('x')!], [1, 2]);
        assert.equal(b.get('y')!.toString(), 'hi');
        const j = open({ codec: 'json' });
        j.setMany([['x', { a: [1] }], ['y', 'str']], opts);
        assert.deepEqual(j.getMany(['x', 'y']), [{ a: [1] }, 'str']);
        const t = open({ codec: 'string' });
        t.setMany([['x', 'a'], ['\ud800', 'b']], opts);
        assert.deepEqual(t.getMany(['x', '\ud800']), ['a', 'b']);
      });

      it('a bad key anywhere: the error, and nothing is stored (the entries before it neither)', () => {
        const s = open();
        s.set('keep', 1);
        throwsUnchanged(s, () => s.setMany([['a', 1], [5 as unknown as string, 2], ['b', 3]], opts), TypeError, ErrorCode.KEY_TYPE);
        const short = open({ maxKeyBytes: 3 });
        throwsUnchanged(short, () => short.setMany([['a', 1], ['b', 2], ['long', 3]], opts), RangeError, ErrorCode.KEY_TOO_LONG, '"long"');
      });

      it('a bad value anywhere: the error, and nothing is stored', () => {
        const j = open({ codec: 'json' });
        j.set('keep', 1);
        throwsUnchanged(j, () => j.setMany([['a', 1], ['b', () => 1], ['c', 3]], opts), TypeError, ErrorCode.VALUE_TYPE, '"b"');
        const small = open({ maxValueBytes: 4 });
        throwsUnchanged(small, () => small.setMany([['a', 'ok'], ['b', 'too big']], opts), RangeError, ErrorCode.VALUE_TOO_LARGE, '"b"');
        const str = open({ codec: 'string' });
        throwsUnchanged(str, () => str.setMany([['a', 'ok'], ['b', 5 as unknown as string]], opts), TypeError, ErrorCode.VALUE_TYPE, '"b"');
      });

      it('an entry that is not a pair, or entries that are not iterable: TypeError, nothing stored', () => {
        const s = open();
        throwsUnchanged(s, () => s.setMany([['a', 1], 5 as unknown as [string, number]], opts), TypeError, ErrorCode.INVALID_ARGUMENT, 'entry 1');
        throwsUnchanged(s, () => s.setMany([null as unknown as [string, number]], opts), TypeError, ErrorCode.INVALID_ARGUMENT, 'entry 0');
        for (const bad of [undefined, null, 5, 'ab', {}]) {
          throwsUnchanged(s, () => s.setMany(bad as unknown as [], opts), TypeError, ErrorCode.INVALID_ARGUMENT, 'entries');
        }
      });

      it('an iterable that throws: the error, and nothing stored', () => {
        const s = open();
        function* gen(): Generator<[string, number]> {
          yield ['a', 1];
          throw new Error('source failed');
        }
        const before = snapshot(s);
        assert.throws(() => s.setMany(gen(), opts), /source failed/);
        assert.deepEqual(snapshot(s), before);
      });
    });
  }

  it('options.atomic must be a boolean; options must be an object', () => {
    const s = open();
    throwsUnchanged(s, () => s.setMany([['a', 1]], { atomic: 1 as unknown as boolean }), TypeError, ErrorCode.INVALID_ARGUMENT, 'atomic');
    throwsUnchanged(s, () => s.setMany([['a', 1]], 'atomic' as unknown as object), TypeError, ErrorCode.INVALID_ARGUMENT, 'options');
  });

  it('atomic: every entry gets its own new version', () => {
    const s = open({ shards: 1 });
    s.set('a', 0);
    const v0 = s.getEntry('a')!.version;
    s.setMany([['a', 1], ['b', 2]], { atomic: true });
    const va = s.getEntry('a')!.version;
    const vb = s.getEntry('b')!.version;
    assert.ok(va > v0);
    assert.notEqual(va, vb);
  });

  it('atomic over many shards and thousands of entries (tables grow under the locks)', () => {
    const s = open({ shards: 16 });
    const entries: Array<[string, number]> = [];
    for (let i = 0; i < 20000; i++) entries.push([`k${i}`, i]);
    s.setMany(entries, { atomic: true });
    assert.equal(s.size, 20000);
    assert.equal(s.get('k12345'), 12345);
  });
});

describe('compound: deleteMany()', () => {
  const open = storeFactory('compound-deletemany');

  for (const atomic of [false, true]) {
    const opts = atomic ? { atomic: true } : undefined;
    it(`${atomic ? 'atomic' : 'per key'}: deletes the present keys and counts them (duplicates once)`, () => {
      const s = open();
      for (let i = 0; i < 10; i++) s.set(`k${i}`, i);
      assert.equal(s.deleteMany(['k1', 'k3', 'absent', 'k3', 'k5'], opts), 3);
      assert.equal(s.size, 7);
      assert.deepEqual(s.getMany(['k1', 'k2', 'k3']), [undefined, 2, undefined]);
      assert.equal(s.deleteMany(new Set(['k0', 'k2']), opts), 2);
      assert.equal(s.deleteMany([], opts), 0);
      assert.equal(s.size, 5);
    });

    it(`${atomic ? 'atomic' : 'per key'}: a bad key anywhere: the error, and nothing is deleted`, () => {
      const s = open();
      s.set('a', 1).set('b', 2);
      throwsUnchanged(s, () => s.deleteMany(['a', 5 as unknown as string, 'b'], opts), TypeError, ErrorCode.KEY_TYPE);
      throwsUnchanged(s, () => s.deleteMany('ab' as unknown as string[], opts), TypeError, ErrorCode.INVALID_ARGUMENT, 'keys');
    });
  }

  it('options.atomic must be a boolean', () => {
    const s = open();
    throwsWith(() => s.deleteMany(['a'], { atomic: 'yes' as unknown as boolean }), TypeError, ErrorCode.INVALID_ARGUMENT, 'atomic');
  });
});
