import assert from 'node:assert/strict';
import { ErrorCode, } from 'threadkv';
import { storeFactory } from '../support/store';

// The 'json' codec: JSON.stringify in, JSON.parse out, with JSON's own
// semantics (Dates become strings, undefined properties vanish, ...).

describe("codec 'json'", () => {
  const open = storeFactory('codec.json', { codec: 'json' });

  function roundTrip(value: unknown): unknown {
    const s = open();
    s.set('k', value);
    return s.get('k');
  }

  it('round-trips JSON values exactly', () => {
    const values: unknown[] = [
      0, 1, -1, 1.5, 1e300, -1e-300, Number.MAX_SAFE_INTEGER, true, false, null, '', 'text', '1', 'null', 'true', '"quoted"',
      [], {}, [1, 'a', null, true, [[]], { x: [] }],
      { a: 1, b: { c: [1, 2, { d: 'e' }] }, '': 'empty key', 'k\u00e9y': '\u{1F600}' },
    ];
    for (const v of values) assert.deepEqual(roundTrip(v), v, JSON.stringify(v));
  });

  it('keeps the type of top-level primitives: the string "1" stays a string, 1 stays a number', () => {
    const s = open();
    s.set('str', '1').set('num', 1).set('bool', 'true').set('nul', 'null');
    assert.equal(s.get('str'), '1');
    assert.equal(s.get('num'), 1);
    assert.equal(s.get('bool'), 'true');
    assert.equal(s.get('nul'), 'null');
  });

  it('follows JSON semantics for values JSON cannot represent', () => {
    assert.equal(roundTrip(new Date('2020-01-02T03:04:05.006Z')), '2020-01-02T03:04:05.006Z');
    assert.deepEqual(roundTrip({ a: undefined, b: 1, f: () => 1, s: Symbol('s') }), { b: 1 });
    assert.deepEqual(roundTrip([undefined, () => 1, Symbol('s'), NaN, Infinity, -Infinity]), [null, null, null, null, null, null]);
    assert.equal(roundTrip(NaN), null);
    assert.equal(roundTrip(Infinity), null);
    assert.ok(Object.is(roundTrip(-0), 0));
    assert.deepEqual(roundTrip(new Map([[1, 2]])), {});
    assert.deepEqual(roundTrip(new Set([1])), {});
    assert.deepEqual(roundTrip(/re/g), {});
    assert.deepEqual(roundTrip(new Uint8Array([1, 2])), { 0: 1, 1: 2 });
    // eslint-disable-next-line no-sparse-arrays
    assert.deepEqual(roundTrip([1, , 3]), [1, null, 3]);
    assert.equal(roundTrip(new String('boxed')), 'boxed');
  });

  it('honours toJSON', () => {
    assert.deepEqual(roundTrip({ toJSON: () => ({ replaced: true }) }), { replaced: true });
    assert.deepEqual(roundTrip({ nested: { toJSON: (key: string) => `key:${key}` } }), { nested: 'key:nested' });
  });

  it('class instances come back as plain objects', () => {
    class P {
      x = 1;
      get y(): number {
        return 2;
      }
    }
    const got = roundTrip(new P());
    assert.equal(Object.getPrototypeOf(got), Object.prototype);
    assert.deepEqual(got, { x: 1 });
  });

  it('strings with lone surrogates, astral characters, NUL and U+FFFD round-trip exactly', () => {
    for (const str of ['\uD800', '\uDFFF', 'a\uDC00\uD800b', '\u{1F600}', '\0', '\uFFFD\uD800', '\u2028\u2029', '"\\/\b\f\n\r\t']) {
      assert.equal(roundTrip(str), str, JSON.stringify(str));
      assert.deepEqual(roundTrip({ [str]: [str] }), { [str]: [str] });
    }
  });

  it('returns a fresh copy each time; mutating it or the input does not change the store', () => {
    const s = open<{ a: number[]; o: { b: number } }>();
    const v = { a: [1], o: { b: 1 } };
    s.set('k', v);
    v.a.push(2);
    v.o.b = 2;
    const x = s.get('k')!;
    x.a.push(3);
    x.o.b = 3;
    const y = s.get('k')!;
    assert.notEqual(x, y);
    assert.deepEqual(y, { a: [1], o: { b: 1 } });
  });

  it('large values (20 KB, 2 MB, 5 MB) round-trip', () => {
    const s = open();
    for (const n of [20 * 1024, 2 * 1024 * 1024, 5 * 1024 * 1024]) {
      const v = { text: 'j'.repeat(n), list: Array.from({ length: 1000 }, (_, i) => ({ i, s: String(i) })) };
      s.set(`k${n}`, v);
      assert.deepEqual(s.get(`k${n}`), v);
    }
    s.set('small', [1]);
    assert.deepEqual(s.get('small'), [1]);
  });

  it('has, delete, size and clear behave as with any codec', () => {
    const s = open();
    s.set('a', null).set('b', 0).set('c', '');
    assert.equal(s.size, 3);
    assert.equal(s.has('a'), true);
    assert.equal(s.get('a'), null);
    assert.equal(s.delete('a'), true);
    s.clear();
    assert.equal(s.size, 0);
  });

  describe('values JSON cannot encode: TypeError naming the key, store unchanged', () => {
    const cyclicObject = (): unknown => {
      const o: Record<string, unknown> = { a: 1 };
      o.me = o;
      return o;
    };
    const cyclicArray = (): unknown => {
      const a: unknown[] = [1];
      a.push([a]);
      return a;
    };
    const cases: [string, () => unknown][] = [
      ['a BigInt', () => 10n],
      ['a BigInt inside an object', () => ({ n: 1, deep: { big: [1n] } })],
      ['a BigInt inside an array', () => [0, 1n]],
      ['a cyclic object', cyclicObject],
      ['a cyclic array', cyclicArray],
      ['undefined', () => undefined],
      ['a function', () => () => 1],
      ['a symbol', () => Symbol('x')],
      ['a toJSON returning undefined', () => ({ toJSON: () => undefined })],
      ['a throwing getter', () => ({ get boom(): never { throw new Error('getter'); } })],
    ];
    for (const [what, make] of cases) {
      it(what, () => {
        const s = open();
        s.set('k', { previous: true });
        s.set('other', 1);
        const mem = s.memory();
        assert.throws(
          () => s.set('k', make()),
          (err: Error & { code?: string }) => {
            assert.equal(Object.getPrototypeOf(err), TypeError.prototype, `${err.constructor.name}: ${err.message}`);
            assert.equal(err.code, ErrorCode.VALUE_TYPE);
            assert.ok(err.message.includes('"k"'), err.message);
            assert.ok(err.message.includes("'json'"), err.message);
            assert.ok(err.message.includes(JSON.stringify(s.name)), err.message);
            return true;
          },
        );
        assert.throws(() => s.set('fresh', make()), { name: 'TypeError', code: ErrorCode.VALUE_TYPE });
        assert.deepEqual(s.get('k'), { previous: true });
        assert.equal(s.has('fresh'), false);
        assert.equal(s.size, 2);
        assert.deepEqual(s.memory(), mem);
      });
    }
  });

  it('maxValueBytes counts the JSON text in UTF-8 bytes: at the limit is accepted, one byte over is not', () => {
    const v = ['\u20ac']; // ["€"] = 7 bytes
    assert.equal(Buffer.byteLength(JSON.stringify(v)), 7);
    const s = open({ maxValueBytes: 7 });
    s.set('k', v);
    assert.deepEqual(s.get('k'), v);
    assert.throws(() => s.set('k', ['\u20aca']), { name: 'RangeError', code: ErrorCode.VALUE_TOO_LARGE, message: /8 bytes/ });
    assert.deepEqual(s.get('k'), v);
  });
});
