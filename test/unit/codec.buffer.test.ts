import assert from 'node:assert/strict';
import { type Store, ErrorCode, type StoreOptions } from 'threadkv';
import { storeFactory } from '../support/store';

// The 'buffer' codec: the bytes of any TypedArray, DataView or ArrayBuffer
// in (only the bytes the view covers), a Buffer of its own out.

const KB = 1024;
const MB = 1024 * 1024;

function pattern(n: number, seed: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 13 + seed * 101 + (i >> 10)) & 0xff;
  return out;
}

/** The bytes a view or ArrayBuffer covers, as a Buffer. */
function bytesOf(v: ArrayBufferView | ArrayBuffer): Buffer {
  return v instanceof ArrayBuffer ? Buffer.from(new Uint8Array(v)) : Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength));
}

describe("codec 'buffer'", () => {
  const openAny = storeFactory('codec.buffer', { codec: 'buffer' });
  const open = (options?: StoreOptions): Store<ArrayBufferView | ArrayBuffer> => openAny<ArrayBufferView | ArrayBuffer>(options);

  const inputs: [string, () => ArrayBufferView | ArrayBuffer][] = [
    ['Buffer', () => Buffer.from('hello bytes')],
    ['Buffer.alloc', () => Buffer.alloc(100, 7)],
    ['Uint8Array', () => new Uint8Array([0, 1, 127, 128, 255])],
    ['Uint8ClampedArray', () => new Uint8ClampedArray([0, 255, 300])],
    ['Int8Array', () => new Int8Array([-128, -1, 0, 127])],
    ['Uint16Array', () => new Uint16Array([0x0102, 0xfffe, 0])],
    ['Int16Array', () => new Int16Array([-2, 2, -32768])],
    ['Uint32Array', () => new Uint32Array([0xdeadbeef, 1])],
    ['Int32Array', () => new Int32Array([-1, 2 ** 31 - 1])],
    ['Float32Array', () => new Float32Array([1.5, -0, NaN, Infinity])],
    ['Float64Array', () => new Float64Array([Math.PI, -0, NaN, -Infinity, 5e-324])],
    ['BigInt64Array', () => new BigInt64Array([-1n, 2n ** 62n])],
    ['BigUint64Array', () => new BigUint64Array([2n ** 64n - 1n, 0n])],
    ['DataView', () => new DataView(pattern(19, 1).buffer)],
    ['ArrayBuffer', () => pattern(23, 2).buffer],
    ['Uint8Array over a SharedArrayBuffer', () => { const u = new Uint8Array(new SharedArrayBuffer(6)); u.set([1, 2, 3, 4, 5, 6]); return u; }],
  ];

  for (const [type, make] of inputs) {
    it(`accepts a ${type} and returns a Buffer of exactly its bytes`, () => {
      const s = open();
      const v = make();
      s.set('k', v);
      const got = s.get('k');
      assert.ok(Buffer.isBuffer(got), `got ${Object.prototype.toString.call(got)}`);
      assert.equal(got.length, v.byteLength);
      assert.deepEqual(got, bytesOf(v));
    });
  }

  it('an empty Buffer, typed array, DataView and ArrayBuffer are stored as empty Buffers', () => {
    const s = open();
    for (const v of [Buffer.alloc(0), new Float64Array(0), new DataView(new ArrayBuffer(0)), new ArrayBuffer(0), new Uint8Array(8).subarray(4, 4)]) {
      s.set('k', v);
      assert.equal(s.has('k'), true);
      const got = s.get('k');
      assert.ok(Buffer.isBuffer(got));
      assert.equal(got.length, 0);
    }
  });

  describe('views store only the bytes they cover', () => {
    it('a Uint8Array subarray', () => {
      const s = open();
      const base = pattern(64, 3);
      s.set('k', base.subarray(10, 20));
      assert.deepEqual(s.get('k'), Buffer.from(pattern(64, 3).subarray(10, 20)));
    });

    it('a Uint16Array / Float64Array subarray (element size counted)', () => {
      const s = open();
      const u16 = new Uint16Array([1, 2, 3, 4, 5, 6, 7, 8]);
      s.set('u16', u16.subarray(3, 6));
      assert.deepEqual(s.get('u16'), bytesOf(new Uint16Array([4, 5, 6])));
      assert.equal((s.get('u16') as Buffer).length, 6);
      const f64 = new Float64Array([1.5, 2.5, 3.5, 4.5]);
      s.set('f64', f64.subarray(1, 3));
      assert.deepEqual(s.get('f64'), bytesOf(new Float64Array([2.5, 3.5])));
      const back = new Float64Array(new Uint8Array(s.get('f64') as Buffer).buffer);
      assert.deepEqual([...back], [2.5, 3.5]);
    });

    it('a typed array built over part of an ArrayBuffer', () => {
      const s = open();
      const ab = pattern(64, 4).buffer;
      s.set('k', new Int32Array(ab, 8, 3));
      assert.deepEqual(s.get('k'), Buffer.from(pattern(64, 4).subarray(8, 20)));
    });

    it('a DataView over part of an ArrayBuffer', () => {
      const s = open();
      const ab = pattern(40, 5).buffer;
      s.set('k', new DataView(ab, 7, 11));
      assert.deepEqual(s.get('k'), Buffer.from(pattern(40, 5).subarray(7, 18)));
    });

    it("a small Buffer that lives in Node's shared pool", () => {
      const s = open();
      const pooled = Buffer.from('pooled');
      assert.ok(pooled.byteOffset > 0 || pooled.buffer.byteLength > pooled.length, 'expected a pooled Buffer');
      s.set('k', pooled);
      assert.deepEqual(s.get('k'), Buffer.from('pooled'));
    });

    it('a Buffer slice', () => {
      const s = open();
      const b = Buffer.from('0123456789');
      s.set('k', b.subarray(2, 5));
      assert.equal((s.get('k') as Buffer).toString(), '234');
    });
  });

  describe('copies', () => {
    it('mutating the input after set() does not change the store', () => {
      const s = open();
      const b = Buffer.from('original');
      const f = new Float64Array([1, 2]);
      const ab = pattern(8, 6).buffer;
      const dv = new DataView(pattern(8, 7).buffer);
      s.set('b', b).set('f', f).set('ab', ab).set('dv', dv);
      b.fill(0);
      f.fill(9);
      new Uint8Array(ab).fill(1);
      dv.setUint32(0, 0xffffffff);
      assert.equal((s.get('b') as Buffer).toString(), 'original');
      assert.deepEqual(s.get('f'), bytesOf(new Float64Array([1, 2])));
      assert.deepEqual(s.get('ab'), Buffer.from(pattern(8, 6)));
      assert.deepEqual(s.get('dv'), Buffer.from(pattern(8, 7)));
    });

    it('mutating a returned Buffer does not change the store or another read', () => {
      const s = open();
      s.set('k', Buffer.from('stored'));
      const a = s.get('k') as Buffer;
      const b = s.get('k') as Buffer;
      assert.notEqual(a, b);
      a.fill(0x21);
      assert.equal(b.toString(), 'stored');
      assert.equal((s.get('k') as Buffer).toString(), 'stored');
    });

    it('the returned Buffer shares no memory with the input', () => {
      const s = open();
      const input = new Uint8Array([1, 2, 3]);
      s.set('k', input);
      const out = s.get('k') as Buffer;
      assert.notEqual(out.buffer, input.buffer);
      out[0] = 100;
      assert.equal(input[0], 1);
    });

    for (const [label, size] of [
      ['10 bytes', 10],
      ['20 KB', 20 * KB],
      ['2 MB', 2 * MB],
      ['5 MB', 5 * MB],
    ] as const) {
      it(`${label}: a Buffer read earlier is not changed by later reads`, () => {
        const s = open();
        s.set('A', pattern(size, 1)).set('B', pattern(size, 2)).set('C', pattern(3 * MB, 3)).set('D', pattern(5, 4));
        const a = s.get('A') as Buffer;
        s.get('B');
        s.get('C');
        s.get('D');
        const b = s.get('B') as Buffer;
        assert.deepEqual(a, Buffer.from(pattern(size, 1)));
        assert.deepEqual(b, Buffer.from(pattern(size, 2)));
        b.fill(0);
        assert.deepEqual(a, Buffer.from(pattern(size, 1)));
        assert.deepEqual(s.get('B'), Buffer.from(pattern(size, 2)));
      });
    }
  });

  it('large values (20 KB, 1 MiB +- 1, 2 MB, 5 MB) round-trip', () => {
    const s = open();
    for (const n of [16 * KB, 20 * KB, MB - 1, MB, MB + 1, 2 * MB, 5 * MB]) {
      s.set(`k${n}`, pattern(n, n & 0xff));
      const got = s.get(`k${n}`) as Buffer;
      assert.equal(got.length, n);
      assert.ok(got.equals(pattern(n, n & 0xff)), `${n} bytes`);
    }
  });

  it('a Float64Array can be rebuilt from the bytes read back', () => {
    const s = open();
    const f = new Float64Array([0.1, 0.2, -0, NaN]);
    s.set('k', f);
    const got = s.get('k') as Buffer;
    const rebuilt = new Float64Array(got.buffer.slice(got.byteOffset, got.byteOffset + got.byteLength));
    assert.deepEqual(rebuilt, f);
  });

  describe('values that are not bytes: TypeError naming the key, store unchanged', () => {
    const bad: [string, unknown][] = [
      ['a string', 'text'],
      ['a number', 7],
      ['a boolean', false],
      ['null', null],
      ['undefined', undefined],
      ['a bigint', 1n],
      ['a symbol', Symbol('b')],
      ['an array of numbers', [1, 2, 3]],
      ['an array-like object', { 0: 1, length: 1 }],
      ['a plain object', { a: 1 }],
      ['a Blob', new Blob(['x'])],
      ['a function', () => 0],
    ];
    for (const [what, value] of bad) {
      it(what, () => {
        const s = open();
        s.set('k', Buffer.from('prev'));
        const mem = s.memory();
        assert.throws(
          () => s.set('k', value as ArrayBuffer),
          (err: Error & { code?: string }) => {
            assert.equal(Object.getPrototypeOf(err), TypeError.prototype, `${err.constructor.name}: ${err.message}`);
            assert.equal(err.code, ErrorCode.VALUE_TYPE);
            assert.ok(err.message.includes('"k"'), err.message);
            assert.ok(err.message.includes("'buffer'"), err.message);
            return true;
          },
        );
        assert.throws(() => s.put('new', value as ArrayBuffer), { name: 'TypeError', code: ErrorCode.VALUE_TYPE, message: /"new"/ });
        assert.deepEqual(s.get('k'), Buffer.from('prev'));
        assert.equal(s.has('new'), false);
        assert.equal(s.size, 1);
        assert.deepEqual(s.memory(), mem);
      });
    }
  });

  it('maxValueBytes counts bytes: exactly at the limit is accepted, one byte over is not', () => {
    const s = open({ maxValueBytes: 24 });
    for (const ok of [Buffer.alloc(24), new Float64Array(3), new Uint16Array(12), new Int32Array(6), new ArrayBuffer(24), new DataView(new ArrayBuffer(30), 6), new BigInt64Array(3)]) {
      s.set('k', ok);
      assert.equal((s.get('k') as Buffer).length, 24, ok.constructor.name);
    }
    s.set('k', Buffer.from('kept'));
    for (const [tooBig, bytes] of [
      [Buffer.alloc(25), 25],
      [new Uint16Array(13), 26],
      [new Float32Array(7), 28],
      [new Float64Array(4), 32],
      [new ArrayBuffer(25), 25],
      [new DataView(new ArrayBuffer(30), 5), 25],
      [new Uint8Array(100).subarray(0, 25), 25],
    ] as const) {
      assert.throws(() => s.set('k', tooBig), { name: 'RangeError', code: ErrorCode.VALUE_TOO_LARGE, message: new RegExp(`${bytes} bytes.*\\(24\\)`) }, tooBig.constructor.name);
    }
    assert.deepEqual(s.get('k'), Buffer.from('kept'));
    // a small view over a big buffer is measured by the view
    s.set('view', new Uint8Array(1000).subarray(100, 124));
    assert.equal((s.get('view') as Buffer).length, 24);
  });
});
