/**
 * fast-check arbitraries for store keys and values, per codec, and what a
 * stored value must read back as (test/unit/model.*.test.ts).
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import type { CodecName } from 'threadkv';

/** Lone surrogates: UTF-16 code units that no valid UTF-8 can carry (the store keeps strings as WTF-8). */
export const LONE_SURROGATES = ['\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D', '\uDE00'] as const;

/**
 * Any JS string: every code point (`unit: 'binary'`, which includes
 * surrogate code points), plus lone surrogates mixed in on purpose, so that
 * strings like `'a\uD800'` and `'\uDE00\uD83D'` (a low before a high:
 * not a pair) come up often.
 */
export function anyString(constraints: { minLength?: number; maxLength?: number } = {}): fc.Arbitrary<string> {
  return fc.string({
    ...constraints,
    unit: fc.oneof(
      { weight: 4, arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }) },
      { weight: 1, arbitrary: fc.constantFrom(...LONE_SURROGATES) },
    ),
  });
}

/** RegExps (structured clone keeps source and flags; lastIndex is reset to 0). */
export const regExp: fc.Arbitrary<RegExp> = fc
  .tuple(fc.constantFrom('a+', '^x.*y$', '\\d{2,3}', '[\\u0000-\\uffff]', '(?<n>b)\\k<n>', ''), fc.subarray(['g', 'i', 'm', 's', 'u', 'y', 'd']))
  .map(([source, flags]) => new RegExp(source, flags.join('')));

/**
 * Structured-clonable values as the v8 codec must keep them exactly (by
 * `util.isDeepStrictEqual`): primitives including -0, NaN, ±Infinity,
 * undefined, bigint and every string; arrays (sparse too), plain objects,
 * Map, Set, Date, RegExp, boxed primitives and typed arrays, nested.
 *
 * Left out on purpose, because structured clone does not keep them (so the
 * store cannot): objects with a null or class prototype (they come back as
 * plain objects with the same own properties), a RegExp's lastIndex (comes
 * back 0), functions and symbols (rejected with a TypeError). Invalid Dates
 * (NaN time) are kept by the store but `isDeepStrictEqual` says
 * `new Date(NaN)` differs from itself, so they are tested on their own.
 */
export function v8Value(maxDepth = 3): fc.Arbitrary<unknown> {
  return fc.anything({
    maxDepth,
    maxKeys: 5,
    key: fc.oneof(anyString({ maxLength: 6 }), fc.constantFrom('__proto__', 'constructor', 'length', '0')),
    values: [
      fc.boolean(),
      fc.integer(),
      fc.double(), // includes -0, NaN, ±Infinity
      fc.constantFrom(-0, NaN, Infinity, -Infinity, Number.MIN_VALUE, Number.MAX_SAFE_INTEGER),
      anyString({ maxLength: 12 }),
      fc.constant(null),
      fc.constant(undefined),
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      regExp,
      fc.bigInt64Array({ maxLength: 3 }), // withTypedArray has no bigint arrays
      fc.bigUint64Array({ maxLength: 3 }),
    ],
    withBoxedValues: true,
    withMap: true,
    withSet: true,
    withTypedArray: true,
    withSparseArray: true,
    withObjectString: true,
  });
}

/** Bytes, in the views the buffer codec accepts (it always gives back a Buffer). */
export const byteViews: fc.Arbitrary<ArrayBufferView | ArrayBuffer> = fc
  .tuple(fc.uint8Array({ maxLength: 300 }), fc.constantFrom('Uint8Array', 'Buffer', 'ArrayBuffer', 'DataView', 'Int16Array', 'Float64Array', 'slice'))
  .map(([bytes, kind]) => {
    switch (kind) {
      case 'Buffer':
        return Buffer.from(bytes);
      case 'ArrayBuffer':
        return bytes.slice().buffer;
      case 'DataView':
        return new DataView(bytes.slice().buffer);
      case 'Int16Array':
        return new Int16Array(bytes.slice(0, bytes.length & ~1).buffer);
      case 'Float64Array':
        return new Float64Array(bytes.slice(0, bytes.length & ~7).buffer);
      case 'slice': {
        // a view into the middle of a larger buffer
        const big = new Uint8Array(bytes.length + 8).fill(0xee);
        big.set(bytes, 4);
        return big.subarray(4, 4 + bytes.length);
      }
      default:
        return bytes;
    }
  });

/** The bytes of any buffer-codec input. */
export function bytesOf(v: ArrayBufferView | ArrayBuffer): Buffer {
  if (v instanceof ArrayBuffer) return Buffer.from(v.slice(0));
  return Buffer.from(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
}

/** Values a store of `codec` accepts. */
export function valueFor(codec: CodecName): fc.Arbitrary<unknown> {
  switch (codec) {
    case 'v8':
      return v8Value(2);
    case 'json':
      return fc.jsonValue({ maxDepth: 2 });
    case 'string':
      return anyString({ maxLength: 20 });
    case 'buffer':
      return byteViews;
  }
}

/**
 * What `get` must return after `set(key, value)` with `codec`: the value
 * itself (v8, string), its JSON round trip (json: -0 becomes 0, since
 * JSON.stringify(-0) is "0"), its bytes as a Buffer (buffer).
 */
export function readBack(codec: CodecName, value: unknown): unknown {
  switch (codec) {
    case 'json':
      return JSON.parse(JSON.stringify(value)) as unknown;
    case 'buffer':
      return bytesOf(value as ArrayBufferView | ArrayBuffer);
    default:
      return value;
  }
}

/** Whether `got` is exactly what `readBack` said (a Buffer, for the buffer codec; a number, for a counter). */
export function sameStored(codec: CodecName, got: unknown, expected: unknown): boolean {
  // A counter (increment) reads back as a number under every codec.
  if (typeof expected === 'number') return Object.is(got, expected);
  if (codec === 'buffer') {
    return Buffer.isBuffer(got) && expected instanceof Uint8Array && Buffer.compare(got, expected) === 0;
  }
  if (codec === 'string') return got === expected;
  return isDeepStrictEqual(got, expected);
}

/** A value the codec must refuse with a TypeError (code ERR_THREADKV_VALUE_TYPE). */
export function invalidValueFor(codec: CodecName): fc.Arbitrary<unknown> {
  switch (codec) {
    case 'v8':
      return fc.constantFrom<unknown>(() => 1, Symbol('s'), { f() {} }, [Symbol.iterator]);
    case 'json':
      return fc.constantFrom<unknown>(undefined, () => 1, 1n, { big: 2n }, Symbol('s'));
    case 'string':
      return fc.constantFrom<unknown>(1, null, undefined, true, {}, ['a'], Buffer.from('a'), new String('a'));
    case 'buffer':
      return fc.constantFrom<unknown>('abc', 1, null, undefined, [1, 2], { length: 1, 0: 1 });
  }
}
