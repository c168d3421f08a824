import assert from 'node:assert/strict';
import { Store, ErrorCode, type StoreOptions } from 'threadkv';
import { throwsWith, type ErrorClass } from '../support/store';

// Store.open: creating a store, attaching to it, creation options (resolved,
// repeated, mismatched), and validation of options and names.

describe('Store.open()', () => {
  let seq = 0;
  let title = '';
  const created: string[] = [];

  beforeEach(function () {
    title = this.currentTest!.title.replace(/[^\w .,:()-]/g, '_').slice(0, 120);
  });

  afterEach(() => {
    for (const name of created.splice(0)) Store.destroy(name);
  });

  /** A store name no other test uses; destroyed after the test. */
  function uniqueName(tag = ''): string {
    const name = `store.open#${++seq} ${title}${tag}`;
    created.push(name);
    return name;
  }

  describe('creating and attaching', () => {
    it('creates an empty store the first time a name is opened', () => {
      const name = uniqueName();
      assert.ok(!Store.list().includes(name));
      const store = Store.open(name);
      assert.ok(store instanceof Store);
      assert.equal(store.name, name);
      assert.equal(store.size, 0);
      assert.ok(Store.list().includes(name));
    });

    it('attaches to the existing store on later opens: same data across handles', () => {
      const name = uniqueName();
      const a = Store.open<number | string>(name);
      a.set('x', 1);
      const b = Store.open<number | string>(name);
      assert.notEqual(a, b, 'each open returns a new handle');
      assert.equal(b.get('x'), 1);
      b.set('y', 'from b');
      assert.equal(a.get('y'), 'from b');
      a.delete('x');
      assert.equal(b.has('x'), false);
      assert.equal(a.size, 1);
      assert.equal(b.size, 1);
    });

    it('lists a store once however many handles are open on it', () => {
      const name = uniqueName();
      Store.open(name);
      Store.open(name);
      Store.open(name, {});
      assert.equal(Store.list().filter((n) => n === name).length, 1);
    });

    it('different names are different stores', () => {
      const a = Store.open(uniqueName('-a'));
      const b = Store.open(uniqueName('-b'));
      a.set('k', 'a');
      assert.equal(b.has('k'), false);
      assert.equal(b.size, 0);
    });

    it('names are compared exactly (case, whitespace, unicode)', () => {
      const base = uniqueName();
      const variants = [base.toUpperCase(), `${base} `, ` ${base}`, `${base}\0`, `${base}\u00e9`, `${base}e\u0301`, `${base}\u{1F600}`];
      for (const v of variants) created.push(v);
      Store.open(base).set('k', 'base');
      for (const v of variants) assert.equal(Store.open(v).has('k'), false, JSON.stringify(v));
      assert.equal(Store.open(base).get('k'), 'base');
    });

    it('accepts names of 1 and 1024 characters, and any characters', () => {
      const tag = uniqueName();
      const names = [
        '\uE123', // one character (private use: no other test picks it)
        tag + 'y'.repeat(1024 - tag.length),
        (tag.length % 2 === 0 ? tag : `${tag}_`) + '\u{1F600}'.repeat((1024 - tag.length) >> 1), // 1024 UTF-16 units
        `${tag}/with/slash`,
        `${tag} with space`,
        `${tag}a\0b`,
        `${tag}\u00e9\u4e2d\u0645`,
      ];
      for (const name of names) {
        assert.ok(name.length <= 1024);
        created.push(name);
        const s = Store.open(name);
        assert.equal(s.name, name);
        s.set('k', name);
        assert.equal(Store.open(name).get('k'), name);
        assert.ok(Store.list().includes(name), JSON.stringify(name).slice(0, 40));
      }
      assert.equal(names[1]!.length, 1024);
      assert.equal(names[2]!.length, 1024);
    });

    it('names that differ only by lone surrogates are different stores', () => {
      const tag = uniqueName();
      const high = `${tag}\uD800`;
      const low = `${tag}\uDFFF`;
      const fffd = `${tag}\uFFFD`;
      created.push(high, low, fffd);
      Store.open(high).set('k', 'high');
      assert.equal(Store.open(low).has('k'), false);
      assert.equal(Store.open(fffd).has('k'), false);
      assert.ok(Store.list().includes(high));
      assert.ok(Store.list().includes(low));
      assert.equal(Store.destroy(low), true);
      assert.equal(Store.open(high).get('k'), 'high');
    });

    it('Store.list() returns an array of the names of existing stores', () => {
      const a = uniqueName('-a');
      const b = uniqueName('-b');
      Store.open(a);
      Store.open(b);
      const list = Store.list();
      assert.ok(Array.isArray(list));
      assert.ok(list.every((n) => typeof n === 'string'));
      assert.ok(list.includes(a));
      assert.ok(list.includes(b));
      Store.destroy(a);
      assert.ok(!Store.list().includes(a));
      assert.ok(Store.list().includes(b));
    });
  });

  describe('options', () => {
    it('resolves defaults: codec v8, 64 shards, 64 KiB keys, 64 MiB values', () => {
      const store = Store.open(uniqueName());
      assert.deepEqual({ ...store.options }, { codec: 'v8', shards: 64, maxKeyBytes: 65536, maxValueBytes: 67108864 });
    });

    it('store.options is frozen', () => {
      const store = Store.open(uniqueName(), { shards: 4 });
      assert.ok(Object.isFrozen(store.options));
      assert.equal(Reflect.set(store.options, 'shards', 8), false);
      assert.equal(store.options.shards, 4);
    });

    it('fills in the options left out with the defaults', () => {
      const cases: [StoreOptions, object][] = [
        [{ codec: 'json' }, { codec: 'json', shards: 64, maxKeyBytes: 65536, maxValueBytes: 67108864 }],
        [{ shards: 1 }, { codec: 'v8', shards: 1, maxKeyBytes: 65536, maxValueBytes: 67108864 }],
        [{ maxKeyBytes: 10 }, { codec: 'v8', shards: 64, maxKeyBytes: 10, maxValueBytes: 67108864 }],
        [{ maxValueBytes: 0 }, { codec: 'v8', shards: 64, maxKeyBytes: 65536, maxValueBytes: 0 }],
        [
          { codec: 'buffer', shards: 65536, maxKeyBytes: 2 ** 31 - 1, maxValueBytes: 2 ** 31 - 1 },
          { codec: 'buffer', shards: 65536, maxKeyBytes: 2 ** 31 - 1, maxValueBytes: 2 ** 31 - 1 },
        ],
      ];
      for (const [given, resolved] of cases) {
        assert.deepEqual({ ...Store.open(uniqueName(), given).options }, resolved, JSON.stringify(given));
      }
    });

    it('accepts every codec', () => {
      for (const codec of ['v8', 'json', 'string', 'buffer'] as const) {
        assert.equal(Store.open(uniqueName(codec), { codec }).options.codec, codec);
      }
    });

    it('accepts every power of two from 1 to 65536 as shards', () => {
      for (let shards = 1; shards <= 65536; shards *= 2) {
        const store = Store.open(uniqueName(`-${shards}`), { shards });
        assert.equal(store.options.shards, shards);
        store.set('a', 1).set('b', 2);
        assert.equal(store.size, 2);
      }
    });

    it('accepts the limits of maxKeyBytes (1 .. 2^31-1) and maxValueBytes (0 .. 2^31-1)', () => {
      assert.equal(Store.open(uniqueName('k1'), { maxKeyBytes: 1 }).options.maxKeyBytes, 1);
      assert.equal(Store.open(uniqueName('kmax'), { maxKeyBytes: 2 ** 31 - 1 }).options.maxKeyBytes, 2 ** 31 - 1);
      assert.equal(Store.open(uniqueName('v0'), { maxValueBytes: 0 }).options.maxValueBytes, 0);
      assert.equal(Store.open(uniqueName('vmax'), { maxValueBytes: 2 ** 31 - 1 }).options.maxValueBytes, 2 ** 31 - 1);
    });

    it('attaching without options takes the creation options', () => {
      const name = uniqueName();
      const created = { codec: 'json', shards: 8, maxKeyBytes: 100, maxValueBytes: 1000 } as const;
      Store.open(name, created).set('k', { a: 1 });
      const attached = Store.open(name);
      assert.deepEqual({ ...attached.options }, created);
      // and it really uses them: the json codec, the key limit
      assert.deepEqual(attached.get('k'), { a: 1 });
      assert.throws(() => attached.set('k'.repeat(101), 1), RangeError);
    });

    it('attaching with an empty options object takes the creation options', () => {
      const name = uniqueName();
      Store.open(name, { codec: 'string', shards: 2, maxKeyBytes: 7, maxValueBytes: 9 });
      assert.deepEqual({ ...Store.open(name, {}).options }, { codec: 'string', shards: 2, maxKeyBytes: 7, maxValueBytes: 9 });
    });

    it('options explicitly set to undefined count as left out', () => {
      const name = uniqueName();
      Store.open(name, { codec: 'json', shards: 8 });
      const s = Store.open(name, { codec: undefined, shards: undefined, maxKeyBytes: undefined, maxValueBytes: undefined });
      assert.equal(s.options.codec, 'json');
      assert.equal(s.options.shards, 8);
    });

    it('attaching with options equal to the creation options (all or some) succeeds', () => {
      const name = uniqueName();
      const opts = { codec: 'buffer', shards: 16, maxKeyBytes: 300, maxValueBytes: 4000 } as const;
      Store.open(name, opts).set('k', Buffer.from('x'));
      assert.deepEqual({ ...Store.open(name, opts).options }, opts);
      assert.deepEqual({ ...Store.open(name, { codec: 'buffer' }).options }, opts);
      assert.deepEqual({ ...Store.open(name, { shards: 16 }).options }, opts);
      assert.deepEqual({ ...Store.open(name, { maxKeyBytes: 300 }).options }, opts);
      assert.deepEqual({ ...Store.open(name, { maxValueBytes: 4000, shards: 16 }).options }, opts);
      assert.deepEqual(Store.open(name).get('k'), Buffer.from('x'));
    });

    it('a store created with defaults accepts the defaults given explicitly', () => {
      const name = uniqueName();
      Store.open(name);
      const s = Store.open(name, { codec: 'v8', shards: 64, maxKeyBytes: 65536, maxValueBytes: 67108864 });
      assert.equal(s.options.shards, 64);
    });

    describe('opening an existing name with different options throws an Error naming the option', () => {
      const cases: { option: keyof StoreOptions; create: StoreOptions; reopen: StoreOptions; have: string; want: string }[] = [
        { option: 'codec', create: { codec: 'json' }, reopen: { codec: 'string' }, have: "'json'", want: "'string'" },
        { option: 'codec', create: {}, reopen: { codec: 'buffer' }, have: "'v8'", want: "'buffer'" },
        { option: 'shards', create: { shards: 8 }, reopen: { shards: 16 }, have: '8', want: '16' },
        { option: 'shards', create: {}, reopen: { shards: 1 }, have: '64', want: '1' },
        { option: 'maxKeyBytes', create: { maxKeyBytes: 100 }, reopen: { maxKeyBytes: 101 }, have: '100', want: '101' },
        { option: 'maxKeyBytes', create: {}, reopen: { maxKeyBytes: 1 }, have: '65536', want: '1' },
        { option: 'maxValueBytes', create: { maxValueBytes: 8 }, reopen: { maxValueBytes: 9 }, have: '8', want: '9' },
        { option: 'maxValueBytes', create: {}, reopen: { maxValueBytes: 1024 }, have: '67108864', want: '1024' },
      ];
      for (const c of cases) {
        it(`${c.option}: created with ${JSON.stringify(c.create)}, opened with ${JSON.stringify(c.reopen)}`, () => {
          const name = uniqueName();
          const first = Store.open<number>(name, c.create);
          if (c.create.codec !== 'buffer' && c.create.codec !== 'string') first.set('k', 1);
          const before = first.size;
          throwsWith(
            () => Store.open(name, c.reopen),
            Error,
            ErrorCode.OPTION_MISMATCH,
            c.option,
            JSON.stringify(name),
            `${c.option}: ${c.have}`,
            `${c.option}: ${c.want}`,
          );
          // the existing store and its handles are unchanged
          assert.equal(first.size, before);
          assert.deepEqual({ ...Store.open(name).options }, { ...first.options });
          assert.equal(Store.list().filter((n) => n === name).length, 1);
        });
      }

      it('names a differing option, not one that matches', () => {
        const name = uniqueName();
        Store.open(name, { codec: 'json', shards: 8, maxKeyBytes: 100, maxValueBytes: 1000 });
        const err = throwsWith(
          () => Store.open(name, { codec: 'json', shards: 8, maxKeyBytes: 100, maxValueBytes: 999 }),
          Error,
          ErrorCode.OPTION_MISMATCH,
          'maxValueBytes',
        );
        assert.ok(!/\bcodec\b|\bshards\b|maxKeyBytes/.test(err.message), err.message);
      });

      it('with several differences, names one of them', () => {
        const name = uniqueName();
        Store.open(name, { codec: 'json', shards: 8 });
        const err = throwsWith(() => Store.open(name, { codec: 'string', shards: 4 }), Error, ErrorCode.OPTION_MISMATCH);
        assert.match(err.message, /\bcodec\b|\bshards\b/);
      });

      it('the same open succeeds once the option is left out', () => {
        const name = uniqueName();
        Store.open(name, { shards: 8 });
        assert.throws(() => Store.open(name, { shards: 16, codec: 'v8' }), { code: ErrorCode.OPTION_MISMATCH });
        assert.equal(Store.open(name, { codec: 'v8' }).options.shards, 8);
      });
    });
  });

  describe('option validation', () => {
    const bad: { options: unknown; Ctor: ErrorClass; option: string }[] = [
      // shards: a power of two from 1 to 65536
      ...[0, 3, 6, 12, 100, 65535, 65537, 131072, 2 ** 32, -1, -64, 1.5, 64.5, NaN, Infinity, -Infinity].map((v) => ({
        options: { shards: v },
        Ctor: RangeError as ErrorClass,
        option: 'shards',
      })),
      ...['64', null, true, 64n, {}, [64]].map((v) => ({ options: { shards: v }, Ctor: TypeError as ErrorClass, option: 'shards' })),
      // maxKeyBytes: an integer from 1 to 2^31-1
      ...[0, -1, 1.5, NaN, Infinity, 2 ** 31, 2 ** 32].map((v) => ({ options: { maxKeyBytes: v }, Ctor: RangeError as ErrorClass, option: 'maxKeyBytes' })),
      ...['10', null, false, 10n].map((v) => ({ options: { maxKeyBytes: v }, Ctor: TypeError as ErrorClass, option: 'maxKeyBytes' })),
      // maxValueBytes: an integer from 0 to 2^31-1
      ...[-1, 0.5, NaN, -Infinity, 2 ** 31].map((v) => ({ options: { maxValueBytes: v }, Ctor: RangeError as ErrorClass, option: 'maxValueBytes' })),
      ...['10', null, [], 1n].map((v) => ({ options: { maxValueBytes: v }, Ctor: TypeError as ErrorClass, option: 'maxValueBytes' })),
      // codec: one of the four names
      ...['V8', 'JSON', 'msgpack', '', ' v8', null, 0, {}, ['v8']].map((v) => ({ options: { codec: v }, Ctor: TypeError as ErrorClass, option: 'codec' })),
      // unknown option keys, even when undefined
      { options: { codecs: 'v8' }, Ctor: TypeError, option: 'codecs' },
      { options: { maxKeySize: 10 }, Ctor: TypeError, option: 'maxKeySize' },
      { options: { shards: 8, extra: 1 }, Ctor: TypeError, option: 'extra' },
      { options: { unknown: undefined }, Ctor: TypeError, option: 'unknown' },
    ];

    for (const { options, Ctor, option } of bad) {
      const shown = typeof options === 'object' && options !== null ? Object.entries(options).map(([k, v]) => `${k}: ${typeof v === 'bigint' ? `${v}n` : typeof v === 'string' ? `'${v}'` : Array.isArray(v) ? `[${v}]` : typeof v === 'object' && v !== null ? '{}' : String(v)}`).join(', ') : String(options);
      it(`rejects { ${shown} } with a ${Ctor.name} naming ${option}`, () => {
        const name = uniqueName();
        throwsWith(() => Store.open(name, options as StoreOptions), Ctor, ErrorCode.INVALID_OPTION, option);
        assert.ok(!Store.list().includes(name), 'a failed open must not create the store');
      });
    }

    it('shards errors say it must be a power of two', () => {
      throwsWith(() => Store.open(uniqueName(), { shards: 3 }), RangeError, ErrorCode.INVALID_OPTION, 'shards', /power of two/, '3');
      throwsWith(() => Store.open(uniqueName(), { shards: 131072 }), RangeError, ErrorCode.INVALID_OPTION, 'shards', '65536');
    });

    it('range errors name the limits and the value given', () => {
      throwsWith(() => Store.open(uniqueName(), { maxKeyBytes: 0 }), RangeError, ErrorCode.INVALID_OPTION, 'maxKeyBytes', '1', String(2 ** 31 - 1), '0');
      throwsWith(() => Store.open(uniqueName(), { maxValueBytes: 2 ** 31 }), RangeError, ErrorCode.INVALID_OPTION, 'maxValueBytes', String(2 ** 31 - 1), String(2 ** 31));
    });

    it('codec errors list the known codecs and the one given', () => {
      throwsWith(() => Store.open(uniqueName(), { codec: 'msgpack' as never }), TypeError, ErrorCode.INVALID_OPTION, 'codec', 'msgpack', 'v8', 'json', 'string', 'buffer');
    });

    it('invalid options do not affect an existing store of the same name', () => {
      const name = uniqueName();
      const s = Store.open(name, { shards: 8 });
      s.set('k', 'v');
      assert.throws(() => Store.open(name, { shards: 7 }), { code: ErrorCode.INVALID_OPTION });
      assert.throws(() => Store.open(name, { bogus: 1 } as StoreOptions), { code: ErrorCode.INVALID_OPTION });
      assert.equal(Store.open(name).get('k'), 'v');
      assert.equal(Store.open(name).options.shards, 8);
    });

    for (const options of [5, 'v8', true, null, Symbol('o'), 1n, () => ({}), [], [{ codec: 'json' }]]) {
      it(`rejects options that are not an object (${typeof options === 'symbol' ? 'a symbol' : options === null ? 'null' : Array.isArray(options) ? 'an array' : typeof options}) with a TypeError`, () => {
        const name = uniqueName();
        throwsWith(() => Store.open(name, options as unknown as StoreOptions), TypeError, ErrorCode.INVALID_OPTION, 'options');
        assert.ok(!Store.list().includes(name));
      });
    }

    it('the message for options that are not an object reads "options must be an object"', () => {
      throwsWith(() => Store.open(uniqueName(), 5 as unknown as StoreOptions), TypeError, ErrorCode.INVALID_OPTION, /\boptions must be an object\b/, 'a number');
    });
  });

  describe('name validation', () => {
    for (const name of [undefined, null, 1, true, {}, ['a'], Symbol('s'), 1n, new String('a')]) {
      const shown = typeof name === 'symbol' ? 'a symbol' : typeof name === 'bigint' ? '1n' : name instanceof String ? 'a String object' : JSON.stringify(name) ?? 'undefined';
      it(`rejects a name that is not a string (${shown}) with a TypeError`, () => {
        throwsWith(() => Store.open(name as unknown as string), TypeError, ErrorCode.INVALID_NAME, 'name', 'string');
      });
    }

    it('rejects an empty name with a RangeError', () => {
      throwsWith(() => Store.open(''), RangeError, ErrorCode.INVALID_NAME, 'name', 'empty');
      assert.ok(!Store.list().includes(''));
    });

    it('rejects a name over 1024 characters with a RangeError naming the length and the limit', () => {
      const name = 'n'.repeat(1025);
      throwsWith(() => Store.open(name), RangeError, ErrorCode.INVALID_NAME, 'name', '1025', '1024');
      throwsWith(() => Store.open('\u{1F600}'.repeat(513)), RangeError, ErrorCode.INVALID_NAME, '1026', '1024');
      assert.ok(!Store.list().includes(name));
    });

    it('checks the name before the options', () => {
      throwsWith(() => Store.open('', { shards: 3 }), RangeError, ErrorCode.INVALID_NAME);
    });
  });
});
