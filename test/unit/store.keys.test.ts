import assert from 'node:assert/strict';
import { type Store, ErrorCode, } from 'threadkv';
import { storeFactory } from '../support/store';

// Keys: any JS string, compared exactly (as WTF-8, so lone surrogates are
// keys of their own), up to maxKeyBytes UTF-8 bytes.

const utf8 = (s: string): number => Buffer.byteLength(s, 'utf8');

describe('keys', () => {
  const open = storeFactory('store.keys');

  /**
   * Sets every key to its index and checks that each reads back its own
   * value: the keys are pairwise distinct, and each is found exactly.
   */
  function assertDistinct(s: Store<unknown>, keys: string[]): void {
    const before = s.size;
    keys.forEach((k, i) => {
      s.set(k, i);
    });
    assert.equal(s.size, before + keys.length, 'every key is a separate entry');
    keys.forEach((k, i) => {
      assert.equal(s.get(k), i, `key #${i} ${JSON.stringify(k).slice(0, 80)}`);
      assert.equal(s.has(k), true);
    });
    keys.forEach((k, i) => {
      assert.equal(s.delete(k), true, `delete key #${i}`);
      assert.equal(s.has(k), false);
    });
    assert.equal(s.size, before);
  }

  it('the empty string is a key, distinct from " " and "\\0"', () => {
    const s = open();
    s.set('', 'empty');
    assert.equal(s.get(''), 'empty');
    assert.equal(s.has(''), true);
    assert.equal(s.has(' '), false);
    assert.equal(s.has('\0'), false);
    assertDistinct(s, [' ', '\0', '\0\0']);
    assert.equal(s.delete(''), true);
    assert.equal(s.size, 0);
  });

  it('keys are case-sensitive and not trimmed', () => {
    assertDistinct(open(), ['key', 'Key', 'KEY', ' key', 'key ', 'key\n', 'k ey']);
  });

  it('NUL characters are part of the key', () => {
    assertDistinct(open(), ['a', 'a\0', 'a\0b', 'a\0c', '\0a', 'ab']);
  });

  it('keys that look like numbers or object properties are ordinary keys', () => {
    const s = open();
    assertDistinct(s, ['1', '01', '1.0', '-0', '0', 'NaN', 'undefined', 'null', '__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString', 'length', 'size']);
    assert.equal(s.has('__proto__'), false);
    assert.equal(s.get('constructor'), undefined);
  });

  it('unicode keys: Latin-1, BMP, astral, RTL, emoji sequences', () => {
    assertDistinct(open(), ['\u00e9', '\u00c9', '\u4e2d\u6587', '\u0645\u0631\u062d\u0628\u0627', '\u{1F600}', '\u{1F468}\u200D\u{1F469}\u200D\u{1F467}', '\u{10FFFF}', '\u{10000}', '\u20ac', '\u00a0']);
  });

  it('keys are not normalized: precomposed and decomposed forms differ', () => {
    const s = open();
    assert.equal('\u00e9'.normalize('NFD'), 'e\u0301');
    assertDistinct(s, ['\u00e9', 'e\u0301', '\u212b', '\u00c5', 'A\u030a']);
  });

  describe('lone surrogates (keys are WTF-8)', () => {
    it("'\\uD800' and '\\uDFFF' are distinct keys, and distinct from U+FFFD", () => {
      const s = open();
      s.set('\uD800', 'high').set('\uDFFF', 'low').set('\uFFFD', 'replacement');
      assert.equal(s.size, 3);
      assert.equal(s.get('\uD800'), 'high');
      assert.equal(s.get('\uDFFF'), 'low');
      assert.equal(s.get('\uFFFD'), 'replacement');
      assert.equal(s.delete('\uDFFF'), true);
      assert.equal(s.get('\uD800'), 'high');
      assert.equal(s.has('\uDFFF'), false);
      assert.equal(s.get('\uFFFD'), 'replacement');
    });

    it('all 2048 lone surrogates, U+FFFD and some pairs are distinct keys', () => {
      const keys: string[] = [];
      for (let u = 0xd800; u <= 0xdfff; u++) keys.push(String.fromCharCode(u));
      keys.push('\uFFFD', '\uFFFD\uFFFD', '\uD800\uDC00', '\uDBFF\uDFFF', '\uD83D\uDE00');
      assertDistinct(open(), keys);
    });

    it('a pair is not the same key as its halves, nor as the halves reversed', () => {
      assertDistinct(open(), ['\uD83D\uDE00', '\uD83D', '\uDE00', '\uDE00\uD83D', '\uD83D\uD83D', '\uDE00\uDE00', '\uD83D\uDE00\uD83D', '\uD83D\uD83D\uDE00']);
    });

    it('lone surrogates inside longer keys', () => {
      assertDistinct(open(), ['a\uD800b', 'a\uDFFFb', 'a\uFFFDb', 'ab', 'a\uD800', '\uD800b', 'a\uD800\uD800b', 'a\uDC00\uD800b']);
    });

    it('a key with a lone surrogate is found by an equal string built another way', () => {
      const s = open();
      s.set('x\uD800y', 1);
      const built = ['x', String.fromCharCode(0xd800), 'y'].join('');
      assert.equal(s.get(built), 1);
      assert.equal(s.get(JSON.parse('"x\\ud800y"')), 1);
    });
  });

  describe('maxKeyBytes counts UTF-8 bytes', () => {
    const rejects = (s: Store, key: string, bytes: number, limit: number): void => {
      for (const call of [() => s.set(key, 1), () => s.get(key), () => s.has(key), () => s.delete(key), () => s.put(key, 1)]) {
        assert.throws(call, (err: Error & { code?: string }) => {
          assert.equal(Object.getPrototypeOf(err), RangeError.prototype, err.message);
          assert.equal(err.code, ErrorCode.KEY_TOO_LONG);
          assert.ok(err.message.includes(`${bytes} bytes`), err.message);
          assert.ok(err.message.includes(`(${limit})`), err.message);
          return true;
        });
      }
    };

    const cases: [string, string, number][] = [
      // [what, unit, bytes per unit]
      ['ASCII (1 byte)', 'a', 1],
      ['Latin-1 (2 bytes)', '\u00e9', 2],
      ['BMP (3 bytes)', '\u20ac', 3],
      ['astral (4 bytes, 2 UTF-16 units)', '\u{1F600}', 4],
      ['lone surrogate (3 bytes)', '\uD800', 3],
      ['U+FFFD (3 bytes)', '\uFFFD', 3],
    ];
    for (const [what, unit, width] of cases) {
      it(`${what}: a key of exactly maxKeyBytes is accepted, one byte over is rejected`, () => {
        const limit = 12 * width + 1; // room for 12 units and one ASCII byte
        const s = open({ maxKeyBytes: limit });
        const exact = unit.repeat(12) + 'z';
        assert.equal(utf8(exact), limit);
        s.set(exact, 'exact');
        assert.equal(s.get(exact), 'exact');
        assert.equal(s.has(exact), true);
        const over = unit.repeat(12) + 'zz';
        rejects(s, over, limit + 1, limit);
        if (width > 1) rejects(s, unit.repeat(13), 13 * width, limit); // one more character instead of the 'z'
        assert.equal(s.size, 1);
        assert.equal(s.delete(exact), true);
      });
    }

    it('the limit is in bytes, not characters: 4 euro signs (4 chars, 12 bytes) exceed maxKeyBytes 10', () => {
      const s = open({ maxKeyBytes: 10 });
      s.set('a'.repeat(10), 1);
      rejects(s, '\u20ac'.repeat(4), 12, 10);
      rejects(s, '\u{1F600}'.repeat(3), 12, 10); // 6 UTF-16 units
      s.set('\u{1F600}\u{1F600}\u00e9', 2); // 10 bytes
      assert.equal(s.size, 2);
    });

    it('maxKeyBytes 1: only the empty key and 1-byte keys', () => {
      const s = open({ maxKeyBytes: 1 });
      s.set('', 0).set('a', 1).set('\0', 2).set('\u007f', 3);
      rejects(s, '\u0080', 2, 1);
      rejects(s, 'ab', 2, 1);
      rejects(s, '\uD800', 3, 1);
      assert.equal(s.size, 4);
    });

    it('the default limit is 65536 bytes', () => {
      const s = open();
      const exact = 'k'.repeat(65536);
      s.set(exact, 'exact');
      assert.equal(s.get(exact), 'exact');
      rejects(s, 'k'.repeat(65537), 65537, 65536);
      const euro = '\u20ac'.repeat(21845) + 'x'; // 65536 bytes
      s.set(euro, 'euro');
      assert.equal(s.get(euro), 'euro');
      rejects(s, '\u20ac'.repeat(21846), 65538, 65536);
      assert.equal(s.size, 2);
    });
  });

  it('very long keys (100 KB, 1 MB) work with a bigger maxKeyBytes', () => {
    const s = open<string>({ maxKeyBytes: 2 * 1024 * 1024 });
    const k100 = 'L'.repeat(100 * 1024);
    const k1m = '\u00e9'.repeat(512 * 1024); // 1 MiB of UTF-8
    s.set(k100, 'hundred').set(k1m, 'mega');
    assert.equal(s.get(k100), 'hundred');
    assert.equal(s.get(k1m), 'mega');
    // keys that differ only in the first or the last character
    const first = `M${k100.slice(1)}`;
    const last = `${k100.slice(0, -1)}M`;
    const longer = `${k100}L`;
    const shorter = k100.slice(1);
    for (const k of [first, last, longer, shorter]) assert.equal(s.has(k), false);
    assertDistinct(s as Store<unknown>, [first, last, longer, shorter, `${k100}\uD800`, `${k100}\uDFFF`]);
    assert.equal(s.delete(k100), true);
    assert.equal(s.get(k1m), 'mega');
    assert.equal(s.size, 1);
  });

  describe('keys around the native inline key buffer (192 bytes) and the 512-byte string buffer', () => {
    const lengths = [
      ...Array.from({ length: 21 }, (_, i) => 180 + i), // 180..200
      ...Array.from({ length: 21 }, (_, i) => 500 + i), // 500..520
    ];

    it('ASCII keys of every length around the thresholds are distinct and found', () => {
      const s = open();
      const keys: string[] = [];
      for (const n of lengths) {
        keys.push('k'.repeat(n));
        keys.push('k'.repeat(n - 1) + 'j'); // differs in the last byte only
        keys.push('j' + 'k'.repeat(n - 1)); // differs in the first byte only
      }
      assertDistinct(s, keys);
    });

    for (const [what, tail] of [
      ['2-byte', '\u00e9'],
      ['3-byte', '\u20ac'],
      ['4-byte', '\u{1F600}'],
      ['lone high surrogate', '\uD800'],
      ['lone low surrogate', '\uDFFF'],
      ['U+FFFD', '\uFFFD'],
    ] as const) {
      it(`a ${what} character across the threshold: keys stay exact and distinct`, () => {
        const s = open();
        const keys: string[] = [];
        for (const n of lengths) {
          keys.push('a'.repeat(n) + tail); // the character straddles byte n
          keys.push('a'.repeat(n) + tail + 'b');
          keys.push('a'.repeat(n) + 'b');
        }
        // the same keys with another last character must not collide
        keys.push(...lengths.map((n) => 'a'.repeat(n) + (tail === '\uFFFD' ? '\uD800' : '\uFFFD')));
        assertDistinct(s, [...new Set(keys)]);
      });
    }

    it('lone surrogates and U+FFFD at the same position past the inline buffer are distinct', () => {
      for (const n of [186, 187, 188, 189, 190, 191, 192, 193, 505, 508, 509, 510, 511, 512]) {
        assertDistinct(open(), ['a'.repeat(n) + '\uD800', 'a'.repeat(n) + '\uDFFF', 'a'.repeat(n) + '\uFFFD', 'a'.repeat(n) + '\uD800\uDFFF']);
      }
    });

    it('maxKeyBytes exactly at 192 and 512, with a multi-byte character at the end', () => {
      for (const limit of [191, 192, 193, 511, 512, 513]) {
        const s = open({ maxKeyBytes: limit });
        const exact = 'x'.repeat(limit - 3) + '\u20ac';
        assert.equal(utf8(exact), limit);
        s.set(exact, limit);
        assert.equal(s.get(exact), limit);
        const over = 'x'.repeat(limit - 2) + '\u20ac';
        assert.throws(() => s.set(over, 0), { name: 'RangeError', code: ErrorCode.KEY_TOO_LONG, message: new RegExp(`${limit + 1} bytes`) });
        assert.throws(() => s.get(over), { code: ErrorCode.KEY_TOO_LONG });
        const overLone = 'x'.repeat(limit - 2) + '\uDBFF';
        assert.throws(() => s.set(overLone, 0), { code: ErrorCode.KEY_TOO_LONG });
        assert.equal(s.size, 1);
      }
    });
  });

  it('the same keys in different stores are independent', () => {
    const a = open();
    const b = open();
    a.set('\uD800', 'a').set('', 'a');
    assert.equal(b.has('\uD800'), false);
    assert.equal(b.has(''), false);
  });

  it('keys work the same on every codec', () => {
    const keys = ['', '\uD800', '\uDFFF', '\uFFFD', '\u{1F600}', 'x'.repeat(300)];
    const values: Record<string, unknown> = { v8: { a: 1 }, json: [1], string: 'str', buffer: Buffer.from('buf') };
    for (const codec of ['v8', 'json', 'string', 'buffer'] as const) {
      const s = open({ codec });
      for (const k of keys) s.set(k, values[codec]);
      assert.equal(s.size, keys.length, codec);
      for (const k of keys) assert.deepEqual(s.get(k), values[codec], `${codec} ${JSON.stringify(k).slice(0, 20)}`);
    }
  });
});
