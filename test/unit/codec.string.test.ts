import assert from 'node:assert/strict';
import { type Store, ErrorCode, type StoreOptions } from 'threadkv';
import { storeFactory } from '../support/store';

// The 'string' codec: strings only, stored as WTF-8 text, so every JS string
// (lone surrogates included) comes back exactly.

const KB = 1024;
const MB = 1024 * 1024;

describe("codec 'string'", () => {
  const openAny = storeFactory('codec.string', { codec: 'string' });
  const open = (options?: StoreOptions): Store<string> => openAny<string>(options);

  /** Compares strings code unit by code unit, with a readable failure. */
  function assertSameString(got: unknown, want: string, what = ''): void {
    assert.equal(typeof got, 'string', what);
    const g = got as string;
    if (g === want) return;
    let i = 0;
    while (i < g.length && i < want.length && g.charCodeAt(i) === want.charCodeAt(i)) i++;
    assert.fail(
      `${what}: strings differ at index ${i} of ${want.length} (got length ${g.length}): ` +
        `got U+${g.charCodeAt(i).toString(16)}, want U+${want.charCodeAt(i).toString(16)}`,
    );
  }

  it('round-trips the empty string, and it is a present value', () => {
    const s = open();
    s.set('k', '');
    assert.equal(s.get('k'), '');
    assert.equal(s.has('k'), true);
    assert.equal(s.size, 1);
  });

  const samples: [string, string][] = [
    ['ASCII', 'The quick brown fox'],
    ['NUL characters', '\0a\0\0b\0'],
    ['control characters', '\u0001\u001f\u007f\r\n\t'],
    ['Latin-1 (2-byte UTF-8)', '\u00e9\u00ff\u0080'],
    ['BMP (3-byte UTF-8)', '\u0800\u4e2d\uffef\u20ac'],
    ['astral (4-byte UTF-8)', '\u{10000}\u{1F600}\u{10FFFF}'],
    ['combining sequences, not normalized', 'e\u0301 \u00e9'],
    ['U+FFFD, the replacement character', '\uFFFD'],
    ['lone high surrogate', '\uD800'],
    ['lone low surrogate', '\uDFFF'],
    ['highest lone high, lowest lone low', '\uDBFF|\uDC00'],
    ['lone surrogates at both ends', '\uDC00middle\uDBFF'],
    ['low then high (not a pair)', '\uDC00\uD800'],
    ['two highs then a low (one lone, one pair)', '\uD800\uD800\uDC00'],
    ['high, low, low (one pair, one lone)', '\uD800\uDC00\uDC00'],
    ['U+FFFD right next to lone surrogates', '\uFFFD\uD800\uFFFD\uDFFF\uFFFD'],
    ['the WTF-8 bytes of a lone surrogate written as Latin-1', '\u00ed\u00a0\u0080'],
    ['noncharacters and BOM', '\uFEFF\uFFFE\uFFFF\u{FFFFF}'],
  ];
  for (const [what, str] of samples) {
    it(`round-trips ${what} exactly`, () => {
      const s = open();
      s.set('k', str);
      assertSameString(s.get('k'), str, what);
      // and as the whole of a longer string, on both sides of the 512-byte inline buffer
      const long = `${'a'.repeat(600)}${str}${'b'.repeat(600)}`;
      s.set('long', long);
      assertSameString(s.get('long'), long, `${what} (long)`);
    });
  }

  it('each of the 2048 lone surrogates round-trips and is distinct from U+FFFD', () => {
    const s = open();
    for (let u = 0xd800; u <= 0xdfff; u++) s.set(`k${u}`, `<${String.fromCharCode(u)}>`);
    s.set('fffd', '<\uFFFD>');
    for (let u = 0xd800; u <= 0xdfff; u++) assertSameString(s.get(`k${u}`), `<${String.fromCharCode(u)}>`, `U+${u.toString(16)}`);
    assert.equal(s.get('fffd'), '<\uFFFD>');
  });

  it('every UTF-16 code unit in one string round-trips', () => {
    let all = '';
    for (let u = 0; u < 0x10000; u++) all += String.fromCharCode(u);
    const s = open();
    s.set('all', all);
    assertSameString(s.get('all'), all);
    // reversed, the surrogates pair up differently
    const rev = all.split('').reverse().join('');
    s.set('rev', rev);
    assertSameString(s.get('rev'), rev);
  });

  it('random strings of code units (including surrogates) round-trip', () => {
    let seed = 12345;
    const rand = (): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed;
    };
    const s = open();
    for (let n = 0; n < 300; n++) {
      const len = rand() % 700;
      let str = '';
      for (let i = 0; i < len; i++) {
        const r = rand() % 10;
        str += String.fromCharCode(r < 4 ? rand() % 0x80 : r < 6 ? 0xd800 + (rand() % 0x800) : r < 7 ? 0xfffd : rand() % 0x10000);
      }
      s.set('k', str);
      assertSameString(s.get('k'), str, `string #${n}`);
    }
  });

  it('strings near the native inline buffers (256 UTF-16 units in, 512 bytes formerly), with multi-byte characters across the boundary', () => {
    const s = open();
    const lengths = [];
    for (let n = 248; n <= 260; n++) lengths.push(n);
    for (let n = 500; n <= 515; n++) lengths.push(n);
    for (const n of lengths) {
      for (const tail of ['', '\u00e9', '\u20ac', '\u{1F600}', '\uD800', '\uDFFF', '\uFFFD']) {
        const str = 'x'.repeat(n) + tail + 'y';
        s.set('k', str);
        assertSameString(s.get('k'), str, `${n} + ${JSON.stringify(tail)}`);
      }
    }
  });

  it('a 3 MB string round-trips, ASCII, multi-byte and with lone surrogates', () => {
    const s = open();
    const ascii = 'abc'.repeat(MB);
    s.set('ascii', ascii);
    assert.equal(s.get('ascii'), ascii);
    const multi = '\u00e9\u4e2d\u{1F600}'.repeat(MB / 3);
    s.set('multi', multi);
    assert.equal(s.get('multi'), multi);
    const lone = `\uDFFF${'z'.repeat(3 * MB)}\uD800`;
    s.set('lone', lone);
    assertSameString(s.get('lone'), lone);
    assert.equal(s.get('ascii'), ascii);
  });

  it('strings of 16 KiB, 20 KB, 1 MiB and 2 MB round-trip (native read-buffer sizes)', () => {
    const s = open();
    for (const n of [16 * KB - 1, 16 * KB, 16 * KB + 1, 20 * KB, MB - 1, MB, MB + 1, 2 * MB]) {
      const str = 'q'.repeat(n - 1) + '\u00e9';
      s.set(`k${n}`, str);
      assert.equal(s.get(`k${n}`), str, `${n}`);
    }
    assert.equal(s.get(`k${16 * KB}`), 'q'.repeat(16 * KB - 1) + '\u00e9');
  });

  it('get() returns a string (typeof string), never an object', () => {
    const s = open();
    s.set('k', 'v');
    assert.equal(typeof s.get('k'), 'string');
    assert.equal(s.get('missing'), undefined);
  });

  describe('values that are not strings: TypeError naming the key, store unchanged', () => {
    const bad: [string, unknown][] = [
      ['a number', 42],
      ['NaN', NaN],
      ['a boolean', true],
      ['null', null],
      ['undefined', undefined],
      ['a bigint', 1n],
      ['a symbol', Symbol('s')],
      ['a String object', new String('boxed')],
      ['an object with toString', { toString: () => 'nope' }],
      ['an array', ['a']],
      ['a Buffer', Buffer.from('bytes')],
      ['a Uint8Array', new Uint8Array([97])],
      ['a function', () => 'f'],
    ];
    for (const [what, value] of bad) {
      it(what, () => {
        const s = open();
        s.set('k', 'previous');
        const mem = s.memory();
        assert.throws(
          () => s.set('k', value as string),
          (err: Error & { code?: string }) => {
            assert.equal(Object.getPrototypeOf(err), TypeError.prototype);
            assert.equal(err.code, ErrorCode.VALUE_TYPE);
            assert.ok(err.message.includes('"k"'), err.message);
            assert.ok(err.message.includes("'string'"), err.message);
            return true;
          },
        );
        assert.throws(() => s.put('new', value as string), { name: 'TypeError', code: ErrorCode.VALUE_TYPE, message: /"new"/ });
        assert.equal(s.get('k'), 'previous');
        assert.equal(s.has('new'), false);
        assert.equal(s.size, 1);
        assert.deepEqual(s.memory(), mem);
      });
    }
  });

  it('maxValueBytes counts UTF-8 bytes: exactly at the limit is accepted, one over is not', () => {
    const s = open({ maxValueBytes: 12 });
    for (const ok of ['a'.repeat(12), '\u00e9'.repeat(6), '\u20ac'.repeat(4), '\u{1F600}'.repeat(3), '\uD800'.repeat(4), `${'\u{1F600}'.repeat(2)}\uDFFFa`]) {
      s.set('k', ok);
      assertSameString(s.get('k'), ok);
    }
    s.set('k', 'kept');
    for (const [tooLong, bytes] of [
      ['a'.repeat(13), 13],
      ['\u00e9'.repeat(6) + 'a', 13],
      ['\u20ac'.repeat(5), 15],
      ['\u{1F600}'.repeat(3) + 'a', 13],
      ['\uD800'.repeat(5), 15],
      ['\uDFFF'.repeat(4) + 'a', 13],
    ] as const) {
      assert.throws(() => s.set('k', tooLong), { name: 'RangeError', code: ErrorCode.VALUE_TOO_LARGE, message: new RegExp(`${bytes} bytes.*\\(12\\)`) }, JSON.stringify(tooLong));
    }
    assert.equal(s.get('k'), 'kept');
  });

  it('maxValueBytes is checked on strings longer than the inline buffer too', () => {
    const s = open({ maxValueBytes: 1000 });
    s.set('k', '\u20ac'.repeat(333)); // 999 bytes
    assert.throws(() => s.set('k', '\u20ac'.repeat(334)), { name: 'RangeError', code: ErrorCode.VALUE_TOO_LARGE, message: /1002 bytes/ });
    assert.throws(() => s.set('k', 'x'.repeat(MB)), { name: 'RangeError', code: ErrorCode.VALUE_TOO_LARGE, message: new RegExp(`${MB} bytes`) });
    assert.equal(s.get('k'), '\u20ac'.repeat(333));
  });
});
