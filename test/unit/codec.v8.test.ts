import assert from 'node:assert/strict';
import { storeFactory } from '../support/store';

// The default codec, 'v8': structured clone through v8.serialize. What goes
// in comes out equal, as a copy that shares no memory with the store, with
// an earlier read, or with the native read buffer that later reads reuse.

const KB = 1024;
const MB = 1024 * 1024;

/** Bytes 0..n-1 following a pattern that depends on `seed`. */
function pattern(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed * 7 + (i >> 8)) & 0xff;
  return out;
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

describe("codec 'v8'", () => {
  const open = storeFactory('codec.v8', { codec: 'v8' });
  const openPlain = storeFactory('codec.v8-default');

  /** set then get, through a fresh store. */
  function roundTrip<T>(value: T): T {
    const s = open<T>();
    s.set('k', value);
    return s.get('k') as T;
  }

  it('is the default codec', () => {
    assert.equal(openPlain().options.codec, 'v8');
  });

  describe('fidelity', () => {
    it('primitives: -0, NaN, Infinity, -Infinity, undefined, null, booleans', () => {
      for (const v of [-0, 0, NaN, Infinity, -Infinity, undefined, null, true, false, 1.5e-300, -123456789.125]) {
        assert.ok(Object.is(roundTrip(v), v), String(v));
      }
    });

    it('primitives nested in objects and arrays, -0 included', () => {
      const v = { negZero: -0, nan: NaN, inf: Infinity, ninf: -Infinity, u: undefined, n: null, t: true, f: false, arr: [-0, NaN, undefined, null] };
      const got = roundTrip(v);
      assert.deepEqual(got, v);
      assert.ok(Object.is(got.negZero, -0));
      assert.ok(Object.is(got.arr[0], -0));
      assert.ok('u' in got);
    });

    it('BigInt, small and huge, positive and negative, top-level and nested', () => {
      for (const v of [0n, 1n, -1n, 2n ** 64n, -(2n ** 64n), 2n ** 1000n + 12345n, -(3n ** 500n)]) {
        assert.equal(roundTrip(v), v);
      }
      assert.deepEqual(roundTrip({ a: [1n, -2n], m: new Map([[3n, 4n]]) }), { a: [1n, -2n], m: new Map([[3n, 4n]]) });
    });

    it('nested objects and arrays', () => {
      const v = {
        a: 1,
        b: 'two',
        c: [1, [2, [3, [4, [5, { deep: { deeper: { deepest: ['end'] } } }]]]]],
        d: { e: { f: { g: { h: { i: { j: null } } } } } },
        'key with spaces': { '': 'empty key', '0': 'numeric key', '\u{1F600}': 'emoji key' },
      };
      assert.deepEqual(roundTrip(v), v);
    });

    it('deep nesting (1000 levels)', () => {
      let v: unknown = 'leaf';
      for (let i = 0; i < 1000; i++) v = i % 2 ? [v] : { v };
      assert.deepEqual(roundTrip(v), v);
    });

    it('arrays with holes and sparse arrays keep their holes and length', () => {
      // eslint-disable-next-line no-sparse-arrays
      const holes = [1, , 3, , , 6];
      const got = roundTrip(holes);
      assert.equal(got.length, 6);
      assert.ok(!(1 in got));
      assert.ok(!(3 in got));
      assert.deepEqual(got, holes);

      const sparse: unknown[] = [];
      sparse[5] = 'five';
      sparse[100000] = 'far';
      const g2 = roundTrip(sparse);
      assert.equal(g2.length, 100001);
      assert.equal(g2[5], 'five');
      assert.equal(g2[100000], 'far');
      assert.equal(Object.keys(g2).length, 2);

      assert.deepEqual(roundTrip(new Array(10)), new Array(10));
      assert.equal(roundTrip(new Array(10)).length, 10);
    });

    it('arrays keep extra named properties', () => {
      const a = Object.assign([1, 2], { extra: 'x' });
      const got = roundTrip(a);
      assert.equal((got as unknown as { extra: string }).extra, 'x');
      assert.deepEqual([...got], [1, 2]);
    });

    it('Map and Set, with object keys, nested, in insertion order', () => {
      const key = { id: 1 };
      const m = new Map<unknown, unknown>([
        ['s', 1],
        [2, 'two'],
        [key, new Set([1, 'a', { x: 1 }])],
        [NaN, -0],
        [null, undefined],
      ]);
      const got = roundTrip(m);
      assert.ok(got instanceof Map);
      assert.deepEqual(got, m);
      assert.deepEqual([...got.keys()].slice(0, 2), ['s', 2]);
      const s = new Set<unknown>(['b', 'a', 3, new Map([[1, 1]]), [1, 2]]);
      const gs = roundTrip(s);
      assert.ok(gs instanceof Set);
      assert.deepEqual(gs, s);
      assert.deepEqual([...gs][0], 'b');
      assert.deepEqual(roundTrip(new Map()), new Map());
      assert.deepEqual(roundTrip(new Set()), new Set());
    });

    it('Date, including invalid dates and the extremes', () => {
      for (const d of [new Date(0), new Date('2024-02-29T12:34:56.789Z'), new Date(8.64e15), new Date(-8.64e15)]) {
        const got = roundTrip(d);
        assert.ok(got instanceof Date);
        assert.equal(got.getTime(), d.getTime());
      }
      assert.ok(Number.isNaN(roundTrip(new Date(NaN)).getTime()));
    });

    it('RegExp with source and flags', () => {
      for (const r of [/a+b/, /x/gimsuy, /[\u{1F600}-\u{1F64F}]/u, /\/path\/(\d+)/g, /(?<year>\d{4})/]) {
        const got = roundTrip(r);
        assert.ok(got instanceof RegExp);
        assert.equal(got.source, r.source);
        assert.equal(got.flags, r.flags);
      }
    });

    it('boxed primitives', () => {
      const got = roundTrip([new Number(3), new String('s'), new Boolean(false), Object(5n)]);
      assert.deepEqual(got, [new Number(3), new String('s'), new Boolean(false), Object(5n)]);
    });

    it('class instances come back as plain objects with their own data', () => {
      class Point {
        constructor(
          public x: number,
          public y: number,
        ) {}
        norm(): number {
          return Math.hypot(this.x, this.y);
        }
      }
      const got = roundTrip(new Point(3, 4));
      assert.equal(Object.getPrototypeOf(got), Object.prototype);
      assert.deepEqual({ ...got }, { x: 3, y: 4 });
    });

    it('shared references and cycles are kept', () => {
      const shared = { n: 1 };
      const v: Record<string, unknown> = { a: shared, b: shared, list: [shared] };
      v.self = v;
      const got = roundTrip(v) as { a: object; b: object; list: object[]; self: unknown };
      assert.equal(got.a, got.b);
      assert.equal(got.list[0], got.a);
      assert.equal(got.self, got);
      assert.notEqual(got.a, shared);
    });

    const typedArrays: [string, () => ArrayBufferView][] = [
      ['Int8Array', () => new Int8Array([-128, -1, 0, 1, 127])],
      ['Uint8Array', () => new Uint8Array([0, 1, 254, 255])],
      ['Uint8ClampedArray', () => new Uint8ClampedArray([0, 128, 255])],
      ['Int16Array', () => new Int16Array([-32768, -1, 0, 32767])],
      ['Uint16Array', () => new Uint16Array([0, 1, 65535])],
      ['Int32Array', () => new Int32Array([-(2 ** 31), -1, 0, 2 ** 31 - 1])],
      ['Uint32Array', () => new Uint32Array([0, 1, 2 ** 32 - 1])],
      ['Float32Array', () => new Float32Array([0, -0, 1.5, NaN, Infinity, -3.4e38])],
      ['Float64Array', () => new Float64Array([0, -0, Math.PI, NaN, -Infinity, Number.MIN_VALUE])],
      ['BigInt64Array', () => new BigInt64Array([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n])],
      ['BigUint64Array', () => new BigUint64Array([0n, 1n, 2n ** 64n - 1n])],
    ];

    for (const [type, make] of typedArrays) {
      it(`${type}: same type, same elements, at top level and nested at every byte offset`, () => {
        const v = make();
        const got = roundTrip(v);
        assert.equal(got.constructor, v.constructor);
        assert.deepEqual(got, v);
        // nested behind a string of 0..7 characters, so the typed array sits
        // at every alignment in the serialized bytes
        for (let pad = 0; pad < 8; pad++) {
          const nested = roundTrip({ pad: 'p'.repeat(pad), v: make(), empty: new (v.constructor as new (n: number) => ArrayBufferView)(0) });
          assert.equal(nested.v.constructor, v.constructor);
          assert.deepEqual(nested.v, v, `pad ${pad}`);
          assert.equal(nested.empty.byteLength, 0);
        }
      });
    }

    it('a typed array that is a subarray view keeps only its own elements', () => {
      const base = new Uint16Array([1, 2, 3, 4, 5, 6]);
      const view = base.subarray(2, 4);
      const got = roundTrip(view);
      assert.ok(got instanceof Uint16Array);
      assert.deepEqual([...got], [3, 4]);
      assert.equal(got.byteOffset % 2, 0);
    });

    it('DataView, including one over part of a buffer', () => {
      const ab = new ArrayBuffer(16);
      new Uint8Array(ab).set(pattern(16, 1));
      const whole = new DataView(ab);
      const part = new DataView(ab, 3, 7);
      const gw = roundTrip(whole);
      assert.ok(gw instanceof DataView);
      assert.deepEqual(bytesOf(gw), bytesOf(whole));
      const gp = roundTrip(part);
      assert.ok(gp instanceof DataView);
      assert.equal(gp.byteLength, 7);
      assert.deepEqual(bytesOf(gp), pattern(16, 1).subarray(3, 10));
    });

    it('ArrayBuffer', () => {
      const ab = new ArrayBuffer(33);
      new Uint8Array(ab).set(pattern(33, 2));
      const got = roundTrip(ab);
      assert.ok(got instanceof ArrayBuffer);
      assert.equal(got.byteLength, 33);
      assert.deepEqual(new Uint8Array(got), pattern(33, 2));
      assert.equal(roundTrip(new ArrayBuffer(0)).byteLength, 0);
    });

    it('Buffer comes back as a Buffer, a Uint8Array as a Uint8Array', () => {
      const b = Buffer.from('hello, buffer');
      const gb = roundTrip(b);
      assert.ok(Buffer.isBuffer(gb));
      assert.equal(gb.toString(), 'hello, buffer');
      const u = new Uint8Array([1, 2, 3]);
      const gu = roundTrip(u);
      assert.ok(!Buffer.isBuffer(gu));
      assert.ok(gu instanceof Uint8Array);
      assert.deepEqual(gu, u);
      // a pooled Buffer (a view into Node's shared slab) keeps only its bytes
      const pooled = Buffer.from('pool');
      assert.ok(pooled.buffer.byteLength > pooled.length);
      assert.equal(roundTrip(pooled).toString(), 'pool');
    });

    it('every typed array type together in one object', () => {
      const v: Record<string, ArrayBufferView | ArrayBuffer> = {};
      for (const [type, make] of typedArrays) v[type] = make();
      v.DataView = new DataView(pattern(5, 3).buffer);
      v.ArrayBuffer = pattern(6, 4).buffer;
      v.Buffer = Buffer.from('b');
      const got = roundTrip(v);
      for (const [type, make] of typedArrays) assert.deepEqual(got[type], make(), type);
      assert.deepEqual(bytesOf(got.DataView as DataView), pattern(5, 3));
      assert.deepEqual(new Uint8Array(got.ArrayBuffer as ArrayBuffer), pattern(6, 4));
      assert.ok(Buffer.isBuffer(got.Buffer));
    });

    describe('strings', () => {
      const strings: [string, string][] = [
        ['empty', ''],
        ['ASCII', 'hello world'],
        ['NUL characters', 'a\0b\0\0c'],
        ['Latin-1', 'caf\u00e9 \u00ff'],
        ['BMP', '\u4e2d\u6587 \u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u20ac'],
        ['astral', '\u{1F600}\u{1F4A9}\u{10FFFF}\u{10000}'],
        ['lone high surrogate', '\uD800'],
        ['lone low surrogate', '\uDFFF'],
        ['lone surrogates among text', 'a\uD83Db\uDE00c'],
        ['a low then a high surrogate (not a pair)', '\uDC00\uD800'],
        ['U+FFFD next to a lone surrogate', '\uFFFD\uD800\uFFFD'],
        ['U+FFFD alone', '\uFFFD'],
        ['a pair split by a lone surrogate', '\uD83D\uD83D\uDE00\uDE00'],
        ['BOM and noncharacters', '\uFEFF\uFFFE\uFFFF'],
      ];
      for (const [what, str] of strings) {
        it(`${what}: top level and nested`, () => {
          assert.equal(roundTrip(str), str);
          assert.deepEqual(roundTrip({ s: str, a: [str] }), { s: str, a: [str] });
        });
      }

      it('every UTF-16 code unit, in one string', () => {
        let all = '';
        for (let u = 0; u < 0x10000; u++) all += String.fromCharCode(u);
        assert.equal(roundTrip(all), all);
      });

      it('long strings: 20 KB, 2 MB and 5 MB, ASCII and not', () => {
        for (const n of [20 * KB, 2 * MB, 5 * MB]) {
          const ascii = 'abcdefghij'.repeat(n / 10);
          assert.equal(roundTrip(ascii), ascii);
          const mixed = `\uD800${'\u00e9\u{1F600}x'.repeat(n / 8)}\uDFFF`;
          assert.equal(roundTrip(mixed), mixed);
        }
      });
    });
  });

  describe('copies', () => {
    it('get() returns a new object every time; mutating it does not change the store', () => {
      const s = open<{ list: number[]; map: Map<string, number>; bytes: Uint8Array; date: Date }>();
      s.set('k', { list: [1, 2], map: new Map([['a', 1]]), bytes: new Uint8Array([1, 2, 3]), date: new Date(5) });
      const a = s.get('k')!;
      a.list.push(3);
      a.map.set('b', 2);
      a.bytes[0] = 99;
      a.bytes.fill(7);
      a.date.setTime(999);
      const b = s.get('k')!;
      assert.notEqual(a, b);
      assert.deepEqual(b, { list: [1, 2], map: new Map([['a', 1]]), bytes: new Uint8Array([1, 2, 3]), date: new Date(5) });
    });

    it('mutating the value after set() does not change the store', () => {
      const s = open<{ bytes: Uint8Array; f: Float64Array; ab: ArrayBuffer; set: Set<number> }>();
      const v = { bytes: new Uint8Array([1, 2]), f: new Float64Array([1.5]), ab: new ArrayBuffer(2), set: new Set([1]) };
      s.set('k', v);
      v.bytes[0] = 50;
      v.f[0] = -1;
      new Uint8Array(v.ab)[0] = 9;
      v.set.add(2);
      const got = s.get('k')!;
      assert.deepEqual(got.bytes, new Uint8Array([1, 2]));
      assert.deepEqual(got.f, new Float64Array([1.5]));
      assert.deepEqual(new Uint8Array(got.ab), new Uint8Array(2));
      assert.deepEqual(got.set, new Set([1]));
    });

    for (const [label, size] of [
      ['small (under the 16 KiB read buffer)', 1000],
      ['20 KB (over the 16 KiB read buffer)', 20 * KB],
      ['200 KB', 200 * KB],
      ['2 MB (over the 1 MiB read-buffer limit)', 2 * MB],
      ['5 MB', 5 * MB],
    ] as const) {
      it(`${label}: a typed array read earlier is not changed by later reads`, () => {
        const s = open<{ tag: string; bytes: Uint8Array; f64: Float64Array; i32: Int32Array }>();
        const make = (seed: number) => ({
          tag: `value ${seed}`,
          bytes: pattern(size, seed),
          f64: Float64Array.from({ length: 16 }, (_, i) => seed * 1000 + i + 0.5),
          i32: Int32Array.from({ length: 7 }, (_, i) => seed * -100 - i),
        });
        s.set('A', make(1));
        s.set('B', make(2));
        s.set('C', make(3));
        const a = s.get('A')!;
        const b = s.get('B')!;
        // a read of another size in between (reallocating the read buffer)
        s.set('tiny', { bytes: new Uint8Array([9]) } as never);
        s.set('huge', { bytes: pattern(3 * MB, 4) } as never);
        s.get('tiny');
        s.get('huge');
        const c = s.get('C')!;
        const a2 = s.get('A')!;
        assert.deepEqual(a, make(1));
        assert.deepEqual(b, make(2));
        assert.deepEqual(c, make(3));
        assert.deepEqual(a2, make(1));
        // the two reads of A share nothing
        a2.bytes.fill(0);
        a2.f64.fill(0);
        a2.i32.fill(0);
        assert.deepEqual(a, make(1));
        assert.deepEqual(s.get('A'), make(1));
      });
    }

    it('a top-level Uint8Array read earlier is not changed by later reads of the same size', () => {
      const s = open<Uint8Array>();
      s.set('A', pattern(100, 1));
      s.set('B', pattern(100, 2));
      const a = s.get('A')!;
      const b = s.get('B')!;
      assert.deepEqual(a, pattern(100, 1));
      assert.deepEqual(b, pattern(100, 2));
      b.fill(0);
      assert.deepEqual(a, pattern(100, 1));
      assert.deepEqual(s.get('B'), pattern(100, 2));
    });

    it('typed arrays in one value do not overlap each other', () => {
      const s = open<Record<string, ArrayBufferView>>();
      for (let pad = 0; pad < 8; pad++) {
        const v = {
          pad: 'p'.repeat(pad) as unknown as ArrayBufferView,
          a: new Float64Array([1, 2]),
          b: new Int32Array([3, 4, 5]),
          c: new Uint8Array([6, 7]),
          d: new Uint16Array([8]),
          e: new DataView(new Uint8Array([10, 11]).buffer),
        };
        s.set('k', v);
        const got = s.get('k')!;
        (got.a as Float64Array).fill(-1);
        (got.b as Int32Array).fill(-1);
        (got.c as Uint8Array).fill(255);
        (got.d as Uint16Array).fill(65535);
        (got.e as DataView).setUint16(0, 0xffff);
        const again = s.get('k')!;
        assert.deepEqual(again.a, new Float64Array([1, 2]), `pad ${pad}`);
        assert.deepEqual(again.b, new Int32Array([3, 4, 5]));
        assert.deepEqual(again.c, new Uint8Array([6, 7]));
        assert.deepEqual(again.d, new Uint16Array([8]));
        assert.deepEqual(bytesOf(again.e as DataView), new Uint8Array([10, 11]));
        // filling one array of a read leaves its siblings alone
        (again.a as Float64Array).fill(0);
        assert.deepEqual(again.b, new Int32Array([3, 4, 5]));
        assert.deepEqual(again.c, new Uint8Array([6, 7]));
        assert.deepEqual(again.d, new Uint16Array([8]));
      }
    });

    it('typed arrays read back view pool memory, never the read buffer that later reads reuse', () => {
      const s = open<{ a: Uint8Array; b: Float64Array }>();
      s.set('k', { a: new Uint8Array([1, 2, 3]), b: new Float64Array([4.5, 5.5]) });
      const got = s.get('k')!;
      // Pool slabs are at least 32 KiB; the two arrays do not overlap, and
      // each starts at a multiple of its element size.
      assert.ok(got.a.buffer.byteLength >= 32 * KB);
      const [x, y] = [got.a, got.b].sort((p, q) => p.byteOffset - q.byteOffset);
      assert.ok(x!.buffer !== y!.buffer || x!.byteOffset + x!.byteLength <= y!.byteOffset);
      assert.equal(got.b.byteOffset % 8, 0);
      for (let i = 0; i < 2000; i++) s.get('k');
      assert.deepEqual(got, { a: new Uint8Array([1, 2, 3]), b: new Float64Array([4.5, 5.5]) });
    });

    it('with privateBuffers, every typed array read back owns an ArrayBuffer of exactly its size', () => {
      const s = open<{ p: string; a: Float64Array; b: Int32Array; c: Uint8Array }>({ privateBuffers: true });
      for (let pad = 0; pad < 8; pad++) {
        s.set('k', { p: 'x'.repeat(pad), a: new Float64Array([1, 2]), b: new Int32Array([3, 4, 5]), c: new Uint8Array([6]) });
        const got = s.get('k')!;
        assert.notEqual(got.a.buffer, got.b.buffer, `pad ${pad}`);
        assert.equal(got.a.buffer.byteLength, 16, `pad ${pad}: Float64Array over a ${got.a.buffer.byteLength}-byte buffer`);
        assert.equal(got.b.buffer.byteLength, 12, `pad ${pad}: Int32Array over a ${got.b.buffer.byteLength}-byte buffer`);
        assert.equal(got.c.buffer.byteLength, 1);
        assert.equal(got.a.byteOffset + got.b.byteOffset + got.c.byteOffset, 0);
      }
    });
  });

  describe('large values (crossing the 16 KiB and 1 MiB native read thresholds)', () => {
    for (const [label, size] of [
      ['16 KiB - 64', 16 * KB - 64],
      ['16 KiB + 64', 16 * KB + 64],
      ['20 KB', 20 * KB],
      ['1 MiB - 64', MB - 64],
      ['1 MiB + 64', MB + 64],
      ['2 MB', 2 * MB],
      ['5 MB', 5 * MB],
    ] as const) {
      it(`an object holding ${label} of bytes, strings and numbers`, () => {
        const s = open();
        const v = {
          bytes: pattern(size, 5),
          floats: new Float64Array(size / 64).map((_, i) => i / 3),
          text: 'x'.repeat(size / 4),
          list: Array.from({ length: 100 }, (_, i) => ({ i, s: `item${i}` })),
          map: new Map([['k', pattern(size / 8, 6)]]),
        };
        s.set('big', v);
        s.set('small', { n: 1 });
        assert.deepEqual(s.get('big'), v);
        assert.deepEqual(s.get('small'), { n: 1 });
        assert.deepEqual(s.get('big'), v);
      });
    }

    it('reads alternate between small, 20 KB, 2 MB and 5 MB values correctly', () => {
      const s = open<Uint8Array>();
      const sizes = [10, 20 * KB, 2 * MB, 5 * MB, 15 * KB, 900 * KB];
      sizes.forEach((n, i) => {
        s.set(`k${i}`, pattern(n, i));
      });
      for (const order of [[0, 1, 2, 3, 4, 5], [3, 0, 5, 2, 1, 4], [5, 4, 3, 2, 1, 0]]) {
        const got = order.map((i) => [i, s.get(`k${i}`)!] as const);
        for (const [i, g] of got) assert.deepEqual(g, pattern(sizes[i]!, i), `value ${i} (${sizes[i]} bytes)`);
      }
    });
  });
});
