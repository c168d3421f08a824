import assert from 'node:assert/strict';
import * as v8 from 'node:v8';
import { Store, ErrorCode, type StoreOptions } from 'threadkv';
import { storeFactory, throwsWith } from '../support/store';

// Every error a handle throws: its class, its code, what its message names
// (the key, the limit, the actual size, the store), and that the store is
// unchanged after any failed call.

/** Everything observable about a store, to compare before and after a failed call. */
function snapshot(s: Store, keys: string[]): unknown {
  const m = s.memory();
  return { size: s.size, entries: m.entries, entryBytes: m.entryBytes, values: keys.map((k) => [k, s.has(k), s.get(k)]) };
}

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('errors', () => {
  const open = storeFactory('store.errors');

  describe('ErrorCode', () => {
    it('has a distinct ERR_THREADKV_* string per error', () => {
      const codes = Object.values(ErrorCode);
      assert.ok(codes.length >= 10);
      assert.equal(new Set(codes).size, codes.length);
      for (const c of codes) assert.match(c, /^ERR_THREADKV_[A-Z_]+$/);
      for (const k of ['KEY_TYPE', 'KEY_TOO_LONG', 'VALUE_TYPE', 'VALUE_TOO_LARGE', 'CLOSED', 'DESTROYED', 'OPTION_MISMATCH', 'INVALID_OPTION', 'INVALID_NAME'])
        assert.equal(typeof (ErrorCode as Record<string, string>)[k], 'string', k);
    });
  });

  describe('key not a string: TypeError', () => {
    const badKeys: [string, unknown, RegExp][] = [
      ['a number', 1, /a number/],
      ['NaN', NaN, /a number/],
      ['null', null, /null/],
      ['undefined', undefined, /undefined/],
      ['a boolean', true, /a boolean/],
      ['a bigint', 1n, /a bigint/],
      ['a symbol', Symbol('k'), /a symbol/],
      ['an object', { toString: () => 'k' }, /an instance of Object/],
      ['an array', ['k'], /an array/],
      ['a String object', new String('k'), /String/],
      ['a Buffer', Buffer.from('k'), /Buffer/],
      ['a function', () => 'k', /a function/],
    ];
    const calls: [string, (s: Store, k: string) => unknown][] = [
      ['get', (s, k) => s.get(k)],
      ['set', (s, k) => s.set(k, 'v')],
      ['put', (s, k) => s.put(k, 'v')],
      ['has', (s, k) => s.has(k)],
      ['delete', (s, k) => s.delete(k)],
    ];
    for (const [what, key, type] of badKeys) {
      it(`${what} as key, in every method`, () => {
        const s = open();
        s.set('existing', 'value');
        const before = snapshot(s, ['existing']);
        for (const [method, call] of calls) {
          const err = throwsWith(() => call(s, key as string), TypeError, ErrorCode.KEY_TYPE, 'key', 'string', JSON.stringify(s.name));
          assert.match(err.message, type, `${method}: ${err.message}`);
        }
        assert.deepEqual(snapshot(s, ['existing']), before);
      });
    }

    it('is reported before a bad value', () => {
      const s = open();
      throwsWith(() => s.set(1 as unknown as string, () => 1), TypeError, ErrorCode.KEY_TYPE);
      throwsWith(() => s.set(null as unknown as string, Symbol('v')), TypeError, ErrorCode.KEY_TYPE);
      const str = open({ codec: 'string' });
      throwsWith(() => str.set(2 as unknown as string, 2 as unknown as string), TypeError, ErrorCode.KEY_TYPE);
      assert.equal(s.size, 0);
      assert.equal(str.size, 0);
    });

    it('the key is not converted: a number key does not reach its string form', () => {
      const s = open();
      s.set('1', 'one');
      assert.throws(() => s.get(1 as unknown as string), TypeError);
      assert.throws(() => s.delete(1 as unknown as string), TypeError);
      assert.equal(s.get('1'), 'one');
    });
  });

  describe('key over maxKeyBytes: RangeError', () => {
    it('names the key, the limit, the actual size in UTF-8 bytes and the store, in every method', () => {
      const s = open({ maxKeyBytes: 8 });
      s.set('ok', 1);
      const before = snapshot(s, ['ok']);
      const key = '\u00e9'.repeat(5); // 5 characters, 10 bytes
      for (const call of [() => s.get(key), () => s.set(key, 1), () => s.put(key, 1), () => s.has(key), () => s.delete(key)]) {
        throwsWith(call, RangeError, ErrorCode.KEY_TOO_LONG, JSON.stringify(key), 'maxKeyBytes', '(8)', '10 bytes', JSON.stringify(s.name));
      }
      assert.deepEqual(snapshot(s, ['ok']), before);
    });

    it('with the default limit of 65536 bytes', () => {
      const s = open();
      throwsWith(() => s.set('k'.repeat(65537), 1), RangeError, ErrorCode.KEY_TOO_LONG, '65536', '65537');
      throwsWith(() => s.get('\u20ac'.repeat(21846)), RangeError, ErrorCode.KEY_TOO_LONG, '65536', '65538');
      assert.equal(s.size, 0);
    });

    it('a very long key is shortened in the message', () => {
      const s = open({ maxKeyBytes: 100 });
      const key = `start-${'x'.repeat(100000)}-end`;
      const err = throwsWith(() => s.set(key, 1), RangeError, ErrorCode.KEY_TOO_LONG, 'start-xxxx', String(utf8(key)), '(100)');
      assert.ok(err.message.length < 1000, `message is ${err.message.length} characters long`);
      assert.ok(!err.message.includes('-end'));
    });

    it('is reported before a bad value', () => {
      const s = open({ maxKeyBytes: 2 });
      throwsWith(() => s.set('abc', () => 1), RangeError, ErrorCode.KEY_TOO_LONG);
      const b = open({ codec: 'buffer', maxKeyBytes: 2, maxValueBytes: 1 });
      throwsWith(() => b.set('abc', Buffer.alloc(10)), RangeError, ErrorCode.KEY_TOO_LONG);
    });

    it('an overwrite that fails on the key keeps nothing', () => {
      const s = open({ maxKeyBytes: 3 });
      s.set('abc', 'kept');
      throwsWith(() => s.set('abcd', 'new'), RangeError, ErrorCode.KEY_TOO_LONG);
      assert.equal(s.get('abc'), 'kept');
      assert.equal(s.size, 1);
    });
  });

  describe('value the codec cannot encode: TypeError naming the key', () => {
    const cases: { codec: StoreOptions['codec']; what: string; value: unknown; good: unknown }[] = [
      { codec: 'v8', what: 'a function', value: () => 1, good: { a: 1 } },
      { codec: 'v8', what: 'a class', value: class A {}, good: { a: 1 } },
      { codec: 'v8', what: 'a symbol', value: Symbol('v'), good: { a: 1 } },
      { codec: 'v8', what: 'an object holding a function', value: { f() {} }, good: { a: 1 } },
      { codec: 'v8', what: 'an array holding a symbol', value: [1, Symbol('s')], good: [1] },
      { codec: 'v8', what: 'a Map holding a function', value: new Map([['f', () => 1]]), good: new Map() },
      { codec: 'v8', what: 'a WeakMap', value: new WeakMap(), good: 1 },
      { codec: 'v8', what: 'a Promise', value: Promise.resolve(1), good: 1 },
      { codec: 'json', what: 'a BigInt', value: 1n, good: 1 },
      { codec: 'json', what: 'a nested BigInt', value: { a: [2n] }, good: { a: [2] } },
      { codec: 'json', what: 'a cyclic object', value: (() => { const o: Record<string, unknown> = {}; o.self = o; return o; })(), good: {} },
      { codec: 'json', what: 'a cyclic array', value: (() => { const a: unknown[] = []; a.push(a); return a; })(), good: [] },
      { codec: 'json', what: 'undefined', value: undefined, good: null },
      { codec: 'json', what: 'a function', value: () => 1, good: 'f' },
      { codec: 'json', what: 'a symbol', value: Symbol('v'), good: 's' },
      { codec: 'json', what: 'a toJSON that throws', value: { toJSON() { throw new Error('no'); } }, good: 0 },
      { codec: 'string', what: 'a number', value: 1, good: '1' },
      { codec: 'string', what: 'null', value: null, good: '' },
      { codec: 'string', what: 'undefined', value: undefined, good: 'u' },
      { codec: 'string', what: 'a boolean', value: false, good: 'false' },
      { codec: 'string', what: 'a String object', value: new String('s'), good: 's' },
      { codec: 'string', what: 'an object', value: { toString: () => 's' }, good: 's' },
      { codec: 'string', what: 'a Buffer', value: Buffer.from('s'), good: 's' },
      { codec: 'string', what: 'a symbol', value: Symbol('s'), good: 's' },
      { codec: 'buffer', what: 'a string', value: 'bytes', good: Buffer.from('b') },
      { codec: 'buffer', what: 'a number', value: 1, good: Buffer.from('b') },
      { codec: 'buffer', what: 'an array of numbers', value: [1, 2, 3], good: Buffer.from('b') },
      { codec: 'buffer', what: 'a plain object', value: { length: 1, 0: 1 }, good: Buffer.from('b') },
      { codec: 'buffer', what: 'null', value: null, good: Buffer.from('b') },
      { codec: 'buffer', what: 'undefined', value: undefined, good: Buffer.from('b') },
      { codec: 'buffer', what: 'a boolean', value: true, good: Buffer.from('b') },
    ];
    for (const { codec, what, value, good } of cases) {
      it(`codec '${codec}': ${what}`, () => {
        const s = open({ codec });
        const key = 'the "key"\n';
        s.set(key, good);
        s.set('other', good);
        const before = snapshot(s, [key, 'other']);
        throwsWith(() => s.set(key, value), TypeError, ErrorCode.VALUE_TYPE, JSON.stringify(key), `'${codec}'`, JSON.stringify(s.name));
        throwsWith(() => s.put(key, value), TypeError, ErrorCode.VALUE_TYPE, JSON.stringify(key));
        throwsWith(() => s.set('new key', value), TypeError, ErrorCode.VALUE_TYPE, '"new key"');
        assert.deepEqual(snapshot(s, [key, 'other', 'new key']), { ...(before as object), values: [...(before as { values: unknown[] }).values, ['new key', false, undefined]] });
      });
    }

    it('the message says why (codec string: expected a string)', () => {
      const s = open({ codec: 'string' });
      throwsWith(() => s.set('k', 5 as unknown as string), TypeError, ErrorCode.VALUE_TYPE, /string/, /number/);
    });

    it('the message says why (codec buffer: expected bytes)', () => {
      const s = open({ codec: 'buffer' });
      throwsWith(() => s.set('k', 'x'), TypeError, ErrorCode.VALUE_TYPE, /TypedArray|Buffer/, /string/);
    });

    it('the message says why (codec json: BigInt, circular)', () => {
      const s = open({ codec: 'json' });
      throwsWith(() => s.set('k', 1n), TypeError, ErrorCode.VALUE_TYPE, /BigInt/);
      const o: Record<string, unknown> = {};
      o.o = o;
      throwsWith(() => s.set('k', o), TypeError, ErrorCode.VALUE_TYPE, /circular/i);
    });
  });

  describe('value over maxValueBytes once encoded: RangeError', () => {
    it("codec 'v8': counts the serialized size, names key, limit, size and store", () => {
      // A RegExp inside: this value is stored through v8.serialize (plain
      // data takes the codec's own format, whose size codec.values tests).
      const value = { list: Array.from({ length: 50 }, (_, i) => i), text: 'hello', re: /x/g };
      const encoded = v8.serialize(value).length;
      const s = open({ maxValueBytes: encoded - 1 });
      s.set('k', 'small');
      const before = snapshot(s, ['k']);
      throwsWith(() => s.set('k', value), RangeError, ErrorCode.VALUE_TOO_LARGE, '"k"', 'maxValueBytes', `(${encoded - 1})`, `${encoded} bytes`, JSON.stringify(s.name));
      throwsWith(() => s.put('new', value), RangeError, ErrorCode.VALUE_TOO_LARGE, '"new"');
      assert.deepEqual(snapshot(s, ['k', 'new']), { ...(before as object), values: [['k', true, 'small'], ['new', false, undefined]] });
      // exactly at the limit is accepted
      const atLimit = open({ maxValueBytes: encoded });
      atLimit.set('k', value);
      assert.deepEqual(atLimit.get('k'), value);
    });

    it("codec 'v8': strings count in UTF-8 bytes (lone surrogates as 3), a number fits in 8", () => {
      const s = open({ maxValueBytes: 8 });
      s.set('a', 'abcdefgh');
      s.set('b', '\u20ac\u20ac'); // 6 bytes
      s.set('c', 1.5);
      s.set('d', true).set('e', null).set('f', undefined).set('g', '');
      throwsWith(() => s.set('h', 'abcdefghi'), RangeError, ErrorCode.VALUE_TOO_LARGE, '9 bytes', '(8)');
      throwsWith(() => s.set('h', '\u20ac\u20ac\u20ac'), RangeError, ErrorCode.VALUE_TOO_LARGE, '9 bytes');
      s.set('i', '\uD800\uDC00\uD800'); // a pair (4 bytes) and a lone surrogate (3 bytes)
      throwsWith(() => s.set('h', '\uD800\uD800\uD800'), RangeError, ErrorCode.VALUE_TOO_LARGE, '9 bytes');
      assert.equal(s.has('h'), false);
      assert.equal(s.get('i'), '\uD800\uDC00\uD800');
    });

    it("codec 'json': counts the JSON text in UTF-8 bytes", () => {
      const value = { a: '\u00e9\u00e9' }; // {"a":"éé"} = 12 bytes
      assert.equal(utf8(JSON.stringify(value)), 12);
      const s = open({ codec: 'json', maxValueBytes: 11 });
      throwsWith(() => s.set('k', value), RangeError, ErrorCode.VALUE_TOO_LARGE, '12 bytes', '(11)', '"k"');
      assert.equal(s.size, 0);
      const ok = open({ codec: 'json', maxValueBytes: 12 });
      ok.set('k', value);
      assert.deepEqual(ok.get('k'), value);
    });

    it("codec 'string': counts UTF-8 bytes, lone surrogates as 3", () => {
      const s = open({ codec: 'string', maxValueBytes: 6 });
      s.set('k', '\uD800\uDFFF'); // a pair: 4 bytes
      s.set('k2', '\uDFFF\uD800'); // two lone surrogates: 6 bytes
      throwsWith(() => s.set('k', '\uDFFF\uD800a'), RangeError, ErrorCode.VALUE_TOO_LARGE, '7 bytes', '(6)');
      throwsWith(() => s.set('k', 'abcdefg'), RangeError, ErrorCode.VALUE_TOO_LARGE, '7 bytes');
      assert.equal(s.get('k'), '\uD800\uDFFF');
      assert.equal(s.get('k2'), '\uDFFF\uD800');
    });

    it("codec 'buffer': counts bytes, not elements", () => {
      const s = open({ codec: 'buffer', maxValueBytes: 16 });
      s.set('k', new Float64Array(2));
      throwsWith(() => s.set('k', new Uint16Array(9)), RangeError, ErrorCode.VALUE_TOO_LARGE, '18 bytes', '(16)');
      throwsWith(() => s.set('k', new Float64Array(3)), RangeError, ErrorCode.VALUE_TOO_LARGE, '24 bytes');
      throwsWith(() => s.set('k', new ArrayBuffer(17)), RangeError, ErrorCode.VALUE_TOO_LARGE, '17 bytes');
      throwsWith(() => s.set('k', new DataView(new ArrayBuffer(100), 10, 17)), RangeError, ErrorCode.VALUE_TOO_LARGE, '17 bytes');
      assert.equal((s.get('k') as Buffer).length, 16);
    });

    it('maxValueBytes 0 accepts only empty values', () => {
      const b = open({ codec: 'buffer', maxValueBytes: 0 });
      b.set('k', Buffer.alloc(0));
      throwsWith(() => b.set('k', Buffer.alloc(1)), RangeError, ErrorCode.VALUE_TOO_LARGE, '1 bytes', '(0)');
      const str = open({ codec: 'string', maxValueBytes: 0 });
      str.set('k', '');
      throwsWith(() => str.set('k', 'a'), RangeError, ErrorCode.VALUE_TOO_LARGE);
      assert.equal(str.get('k'), '');
    });

    it('a large value over the limit (8 MB over 4 MB) keeps the old value', () => {
      const s = open({ maxValueBytes: 4 * 1024 * 1024 });
      s.set('k', 'old');
      throwsWith(() => s.set('k', 'x'.repeat(8 * 1024 * 1024)), RangeError, ErrorCode.VALUE_TOO_LARGE, String(8 * 1024 * 1024), String(4 * 1024 * 1024));
      assert.equal(s.get('k'), 'old');
      assert.equal(s.size, 1);
    });
  });

  describe('closed handle and destroyed store: Error naming the store', () => {
    it('closed', () => {
      const s = open();
      s.set('k', 1);
      s.close();
      throwsWith(() => s.get('k'), Error, ErrorCode.CLOSED, JSON.stringify(s.name), 'closed');
      throwsWith(() => s.set('k', 2), Error, ErrorCode.CLOSED, JSON.stringify(s.name));
      assert.equal(Store.open(s.name).get('k'), 1);
    });

    it('destroyed', () => {
      const s = open();
      Store.destroy(s.name);
      throwsWith(() => s.get('k'), Error, ErrorCode.DESTROYED, JSON.stringify(s.name), 'destroyed');
    });
  });

  describe('open() errors', () => {
    it('option mismatch: Error naming the option', () => {
      const s = open({ shards: 2 });
      throwsWith(() => Store.open(s.name, { shards: 4 }), Error, ErrorCode.OPTION_MISMATCH, 'shards', JSON.stringify(s.name));
    });

    it('invalid option: RangeError or TypeError naming the option', () => {
      throwsWith(() => open({ shards: 5 }), RangeError, ErrorCode.INVALID_OPTION, 'shards');
      throwsWith(() => open({ codec: 'yaml' as never }), TypeError, ErrorCode.INVALID_OPTION, 'codec');
      throwsWith(() => open({ nope: 1 } as StoreOptions), TypeError, ErrorCode.INVALID_OPTION, 'nope');
    });

    it('invalid name: TypeError or RangeError', () => {
      throwsWith(() => Store.open(7 as unknown as string), TypeError, ErrorCode.INVALID_NAME, 'name');
      throwsWith(() => Store.open(''), RangeError, ErrorCode.INVALID_NAME, 'name');
    });
  });

  it('every error carries a stack and an own code property', () => {
    const s = open({ maxKeyBytes: 1, codec: 'string' });
    const errors: unknown[] = [];
    for (const f of [
      () => s.get(1 as unknown as string),
      () => s.get('ab'),
      () => s.set('a', 1 as unknown as string),
      () => Store.open('', {}),
      () => Store.open(s.name, { shards: 1 }),
    ]) {
      try {
        f();
      } catch (err) {
        errors.push(err);
      }
    }
    assert.equal(errors.length, 5);
    for (const err of errors as (Error & { code: string })[]) {
      assert.ok(err instanceof Error);
      assert.ok(Object.hasOwn(err, 'code'));
      assert.ok(Object.values(ErrorCode).includes(err.code as never), err.code);
      assert.equal(typeof err.stack, 'string');
      assert.ok(err.message.length > 0);
    }
  });
});
