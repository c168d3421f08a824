/**
 * Round-trip properties of every codec, with arbitrary values and keys
 * (fast-check): what goes in comes back exactly.
 */
import assert from 'node:assert/strict';
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { Store, type CodecName } from 'threadkv';
import { uniqueName } from '../support/workers';
import { LONE_SURROGATES, anyString, byteViews, bytesOf, readBack, sameStored, v8Value } from '../support/values';
import { iterateEntries } from '../support/ops';

const NUM_RUNS = 200;

/** Runs `body` with a fresh store of `codec`, destroyed afterwards. */
function withStore<T>(codec: CodecName, body: (s: Store<unknown>) => T): T {
  const name = uniqueName(`roundtrip-${codec}`);
  const s = Store.open(name, { codec });
  try {
    return body(s);
  } finally {
    Store.destroy(name);
  }
}

describe('model: codec round trips (fast-check)', () => {
  describe('v8', () => {
    it('keeps arbitrary structured-clonable values exactly (util.isDeepStrictEqual)', () => {
      withStore('v8', (s) => {
        fc.assert(
          fc.property(v8Value(3), (value) => {
            s.set('k', value);
            const got = s.get('k');
            assert.ok(isDeepStrictEqual(got, value), `${fc.stringify(got)} !== ${fc.stringify(value)}`);
            // A fresh copy every time.
            if (typeof value === 'object' && value !== null) assert.notEqual(s.get('k'), got);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    });

    it('keeps the primitives stored natively exactly: -0, NaN, ±Infinity, undefined (present), every string', () => {
      withStore('v8', (s) => {
        for (const v of [-0, 0, NaN, Infinity, -Infinity, Number.MIN_VALUE, -Number.MAX_VALUE, 2 ** 53 + 2, undefined, null, true, false, '']) {
          s.set('k', v);
          assert.ok(Object.is(s.get('k'), v), `${String(v)} came back as ${String(s.get('k'))}`);
          assert.equal(s.has('k'), true);
        }
        fc.assert(
          fc.property(anyString({ maxLength: 50 }), (str) => {
            s.set('k', str);
            assert.equal(s.get('k'), str);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    });

    it('keeps what structured clone keeps, and documents what it does not (prototype, lastIndex, invalid Date)', () => {
      withStore('v8', (s) => {
        // Structured clone keeps own data, not prototypes: a class instance
        // (or a null-prototype object) comes back as a plain object.
        class Point {
          constructor(
            public x: number,
            public y: number,
          ) {}
        }
        s.set('p', new Point(1, 2));
        const p = s.get('p') as object;
        assert.equal(Object.getPrototypeOf(p), Object.prototype);
        assert.deepStrictEqual({ ...p }, { x: 1, y: 2 });
        const bare = Object.assign(Object.create(null) as object, { a: 1 });
        s.set('n', bare);
        assert.equal(Object.getPrototypeOf(s.get('n')), Object.prototype);
        // A RegExp keeps source and flags; lastIndex comes back 0.
        const re = /a+/gy;
        re.lastIndex = 3;
        s.set('r', re);
        const r = s.get('r') as RegExp;
        assert.equal(r.source, 'a+');
        assert.equal(r.flags, 'gy');
        assert.equal(r.lastIndex, 0);
        // An invalid Date stays invalid (isDeepStrictEqual calls it unequal to itself).
        s.set('d', new Date(NaN));
        const d = s.get('d') as Date;
        assert.ok(d instanceof Date && Number.isNaN(d.getTime()));
      });
    });
  });

  describe('json', () => {
    it('gives back the JSON round trip of arbitrary JSON values (exactly the value, except -0 reads as 0)', () => {
      withStore('json', (s) => {
        fc.assert(
          fc.property(fc.jsonValue(), (value) => {
            s.set('k', value);
            const got = s.get('k');
            assert.ok(isDeepStrictEqual(got, readBack('json', value)), `${fc.stringify(got)} for ${fc.stringify(value)}`);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    });

    it('keeps JSON strings with lone surrogates exactly', () => {
      withStore('json', (s) => {
        fc.assert(
          fc.property(anyString({ maxLength: 30 }), (str) => {
            s.set('k', { str });
            assert.equal((s.get('k') as { str: string }).str, str);
          }),
          { numRuns: NUM_RUNS },
        );
      });
    });
  });

  describe('string', () => {
    it('keeps arbitrary strings exactly, lone surrogates included (stored as WTF-8)', () => {
      withStore('string', (s) => {
        fc.assert(
          fc.property(anyString({ maxLength: 200 }), (str) => {
            s.set('k', str);
            assert.equal(s.get('k'), str);
          }),
          { numRuns: NUM_RUNS },
        );
        for (const lone of LONE_SURROGATES) {
          for (const str of [lone, `a${lone}`, `${lone}b`, `${lone}${lone}`, `\uDE00\uD83D`, `x\uD83D\uDE00${lone}`]) {
            s.set('k', str);
            assert.equal(s.get('k'), str, `lost ${JSON.stringify(str)}`);
          }
        }
      });
    });
  });

  describe('buffer', () => {
    it('gives back the exact bytes of any view, as a Buffer', () => {
      withStore('buffer', (s) => {
        fc.assert(
          fc.property(byteViews, (view) => {
            s.set('k', view);
            const got = s.get('k');
            assert.ok(sameStored('buffer', got, readBack('buffer', view)), `${fc.stringify(got)} for ${fc.stringify(view)}`);
            // A copy: changing the input afterwards changes nothing stored.
            const bytes = bytesOf(view);
            if (bytes.length > 0 && !(view instanceof ArrayBuffer)) {
              const input = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
              input[0]! ^= 0xff;
              const after = s.get('k') as Buffer;
              input[0]! ^= 0xff; // restore: fast-check may show the value in a report
              assert.ok(Buffer.compare(after, bytes) === 0, 'the stored bytes changed with the input');
            }
          }),
          { numRuns: NUM_RUNS },
        );
      });
    });
  });

  describe('keys', () => {
    it('arbitrary distinct keys (empty, lone surrogates, any code point) are distinct entries and read back', () => {
      const codec: CodecName = 'v8';
      fc.assert(
        fc.property(fc.uniqueArray(anyString({ maxLength: 8 }), { minLength: 1, maxLength: 30 }), (keys) => {
          withStore(codec, (s) => {
            keys.forEach((k, i) => {
              s.set(k, i);
            });
            assert.equal(s.size, keys.length, 'every distinct key is its own entry');
            keys.forEach((k, i) => {
              assert.equal(s.get(k), i, `key ${JSON.stringify(k)}`);
              assert.equal(s.has(k), true);
            });
            // The keys come back exactly.
            const listed = iterateEntries(s).map(([k]) => k);
            assert.deepStrictEqual([...listed].sort(), [...keys].sort());
            // Deleting one leaves the others.
            assert.equal(s.delete(keys[0]!), true);
            assert.equal(s.has(keys[0]!), false);
            keys.slice(1).forEach((k, i) => {
              assert.equal(s.get(k), i + 1);
            });
          });
        }),
        { numRuns: 100 },
      );
    });

    it('keys differing only in a lone surrogate are distinct from each other and from U+FFFD', () => {
      withStore('string', (s) => {
        const keys = ['\uFFFD', ...LONE_SURROGATES, 'a\uD800', 'a\uDC00', 'a\uFFFD', '\uDE00\uD83D', '\uD83D\uDE00', ''];
        keys.forEach((k, i) => {
          s.set(k, String(i));
        });
        assert.equal(s.size, keys.length);
        keys.forEach((k, i) => {
          assert.equal(s.get(k), String(i), `key ${JSON.stringify(k)}`);
        });
      });
    });
  });

  it('stored values compare as the codecs promise (sameStored sanity)', () => {
    // Guards the helper the model tests rely on.
    assert.equal(sameStored('string', 'a\uD800', 'a\uFFFD'), false);
    assert.equal(sameStored('v8', -0, 0), false);
    assert.equal(sameStored('buffer', Buffer.from([1]), new Uint8Array([1])), true);
    assert.equal(sameStored('buffer', new Uint8Array([1]), new Uint8Array([1])), false, 'the buffer codec must return a Buffer');
  });
});
