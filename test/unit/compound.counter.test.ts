import assert from 'node:assert/strict';
import { ErrorCode } from 'threadkv';
import { CODEC_NAMES, snapshot, storeFactory, throwsUnchanged, throwsWith } from '../support/store';

// increment() (native counters) and update() (optimistic read-modify-write).

describe('compound: increment()', () => {
  const open = storeFactory('compound-increment');

  it('an absent key counts as 0; the default delta is 1; returns the new value', () => {
    const s = open();
    assert.equal(s.increment('c'), 1);
    assert.equal(s.increment('c'), 2);
    assert.equal(s.increment('c', 10), 12);
    assert.equal(s.increment('c', -20), -8);
    assert.equal(s.increment('fresh', -3), -3);
    assert.equal(s.get('c'), -8);
  });

  it('integers are exact up to ±Number.MAX_SAFE_INTEGER', () => {
    const s = open();
    const max = Number.MAX_SAFE_INTEGER;
    assert.equal(s.increment('c', max - 1), max - 1);
    assert.equal(s.increment('c'), max);
    assert.equal(s.get('c'), max);
    assert.equal(s.increment('n', -max), -max);
    assert.equal(s.increment('n', max), 0);
    assert.ok(Object.is(s.get('n'), 0));
  });

  it('a fractional delta or value makes a floating-point counter; integers again are exact', () => {
    const s = open();
    assert.equal(s.increment('c', 0.5), 0.5);
    assert.equal(s.increment('c', 0.25), 0.75);
    assert.equal(s.increment('c', 0.25), 1);
    assert.equal(s.increment('c', 2), 3);
    assert.equal(s.increment('f', 0.1), 0.1);
    assert.equal(s.increment('f', 0.2), 0.1 + 0.2); // plain double arithmetic
  });

  it('increments numbers stored with set(), under every codec that stores numbers', () => {
    const v8 = open();
    v8.set('i', 41).set('f', 1.5).set('neg0', -0);
    assert.equal(v8.increment('i'), 42);
    assert.equal(v8.increment('f'), 2.5);
    assert.equal(v8.increment('neg0'), 1);
    const json = open({ codec: 'json' });
    json.set('i', 41).set('f', -1.5).set('e', 1e21).set('t', 1e-7);
    assert.equal(json.increment('i'), 42);
    assert.equal(json.increment('f', 0.5), -1);
    assert.equal(json.increment('e', 0.5), 1e21 + 0.5);
    assert.equal(json.increment('t', 1), 1 + 1e-7);
  });

  it('reads back as a number with get(), getMany(), iteration, swap, take: every codec', () => {
    for (const codec of CODEC_NAMES) {
      const s = open({ codec });
      s.increment('c', 5);
      assert.equal(s.get('c'), 5, codec);
      assert.deepEqual(s.getMany(['c']), [5], codec);
      assert.deepEqual([...s.entries()], [['c', 5]], codec);
      assert.deepEqual(s.getEntry('c')?.value, 5, codec);
      assert.equal(s.increment('c', 0.5), 5.5, codec);
      assert.equal(s.take('c'), 5.5, codec);
    }
  });

  it('a non-number value: TypeError naming the key, nothing changes', () => {
    const s = open();
    const values: unknown[] = ['5', '', true, false, null, undefined, { n: 1 }, [1], new Uint8Array([1]), 5n];
    values.forEach((v, i) => {
      s.set(`k${i}`, v);
    });
    values.forEach((_, i) => {
      throwsUnchanged(s, () => s.increment(`k${i}`), TypeError, ErrorCode.NOT_A_NUMBER, `"k${i}"`, JSON.stringify(s.name));
    });
  });

  it('json codec: a JSON string, even "5", is not a number', () => {
    const s = open({ codec: 'json' });
    s.set('s', '5').set('o', { n: 5 }).set('a', [5]).set('b', true).set('z', null);
    for (const k of ['s', 'o', 'a', 'b', 'z']) throwsUnchanged(s, () => s.increment(k), TypeError, ErrorCode.NOT_A_NUMBER, `"${k}"`);
  });

  it('string and buffer codecs: stored text or bytes are not numbers', () => {
    const s = open({ codec: 'string' });
    s.set('s', '5');
    throwsUnchanged(s, () => s.increment('s'), TypeError, ErrorCode.NOT_A_NUMBER, '"s"');
    const b = open({ codec: 'buffer' });
    b.set('b', new Uint8Array(8));
    throwsUnchanged(b, () => b.increment('b'), TypeError, ErrorCode.NOT_A_NUMBER, '"b"');
  });

  it('a result outside what a counter holds: RangeError, nothing changes', () => {
    const s = open();
    s.increment('max', Number.MAX_SAFE_INTEGER);
    throwsUnchanged(s, () => s.increment('max'), RangeError, ErrorCode.COUNTER_RANGE, '"max"', '9007199254740991');
    s.increment('min', -Number.MAX_SAFE_INTEGER);
    throwsUnchanged(s, () => s.increment('min', -1), RangeError, ErrorCode.COUNTER_RANGE, '"min"', 'by -1');
    throwsUnchanged(s, () => s.increment('absent', 2 ** 53), RangeError, ErrorCode.COUNTER_RANGE);
    s.set('big', 1e20); // an integer, but not a safe one: no exact integer sum
    throwsUnchanged(s, () => s.increment('big'), RangeError, ErrorCode.COUNTER_RANGE, '"big"');
    assert.equal(s.increment('big', 0.5), 1e20); // fractional: double arithmetic
    s.set('huge', 1.7e308);
    throwsUnchanged(s, () => s.increment('huge', 1.5e308), RangeError, ErrorCode.COUNTER_RANGE);
    s.set('nan', NaN).set('inf', Infinity);
    throwsUnchanged(s, () => s.increment('nan'), RangeError, ErrorCode.COUNTER_RANGE, '"nan"');
    throwsUnchanged(s, () => s.increment('inf'), RangeError, ErrorCode.COUNTER_RANGE, '"inf"');
  });

  it('a bad delta: TypeError (not a number) or RangeError (not finite), nothing changes', () => {
    const s = open();
    s.set('c', 1);
    for (const bad of ['1', null, 1n, {}, true]) {
      throwsUnchanged(s, () => s.increment('c', bad as unknown as number), TypeError, ErrorCode.INVALID_ARGUMENT, 'delta');
    }
    for (const bad of [NaN, Infinity, -Infinity]) {
      throwsUnchanged(s, () => s.increment('c', bad), RangeError, ErrorCode.INVALID_ARGUMENT, 'delta', String(bad));
    }
    // undefined is the default delta
    assert.equal(s.increment('c', undefined), 2);
  });

  it('a bad key: the key error first, before a bad delta', () => {
    const s = open();
    throwsUnchanged(s, () => s.increment(5 as unknown as string), TypeError, ErrorCode.KEY_TYPE);
    throwsUnchanged(s, () => s.increment(5 as unknown as string, 'x' as unknown as number), TypeError, ErrorCode.KEY_TYPE);
    const short = open({ maxKeyBytes: 3 });
    throwsUnchanged(short, () => short.increment('long key'), RangeError, ErrorCode.KEY_TOO_LONG);
  });

  it('maxValueBytes under 8 (a counter is 8 bytes): RangeError', () => {
    const s = open({ maxValueBytes: 7 });
    throwsUnchanged(s, () => s.increment('c'), RangeError, ErrorCode.VALUE_TOO_LARGE, '"c"', '8 bytes');
  });

  it('a counter costs 8 value bytes, and incrementing in place keeps memory unchanged', () => {
    const s = open();
    s.increment('c');
    const m = s.memory();
    for (let i = 0; i < 100; i++) s.increment('c', i % 2 ? 0.5 : 1);
    assert.deepEqual(s.memory(), m);
  });
});

describe('compound: update()', () => {
  const open = storeFactory('compound-update');

  it('stores fn(current) and returns it; fn sees undefined when the key is absent', () => {
    const s = open<number>();
    const seen: Array<number | undefined> = [];
    assert.equal(
      s.update('k', (v) => {
        seen.push(v);
        return (v ?? 0) + 10;
      }),
      10,
    );
    assert.equal(
      s.update('k', (v) => {
        seen.push(v);
        return v! * 3;
      }),
      30,
    );
    assert.deepEqual(seen, [undefined, 10]);
    assert.equal(s.get('k'), 30);
  });

  it('works with objects (fn gets a copy it may mutate)', () => {
    const s = open<{ list: number[] }>();
    s.set('k', { list: [1] });
    const out = s.update('k', (v) => {
      v!.list.push(2);
      return v;
    });
    assert.deepEqual(out, { list: [1, 2] });
    assert.deepEqual(s.get('k'), { list: [1, 2] });
  });

  it('fn returning undefined deletes the key (or leaves it absent)', () => {
    const s = open<number>();
    s.set('k', 1);
    assert.equal(
      s.update('k', () => undefined),
      undefined,
    );
    assert.equal(s.has('k'), false);
    assert.equal(
      s.update('absent', () => undefined),
      undefined,
    );
    assert.equal(s.has('absent'), false);
    assert.equal(s.size, 0);
  });

  it('retries when the key changes between its read and its write; fn runs again with the new value', () => {
    const s = open<number>();
    s.set('k', 1);
    const seen: number[] = [];
    const out = s.update('k', (v) => {
      seen.push(v!);
      if (seen.length === 1) s.set('k', 100); // another writer wins the race
      return v! + 1;
    });
    assert.deepEqual(seen, [1, 100]);
    assert.equal(out, 101);
    assert.equal(s.get('k'), 101);
  });

  it('retries on a concurrent delete and on a concurrent insert too', () => {
    const s = open<number>();
    s.set('k', 1);
    let n = 0;
    assert.equal(
      s.update('k', (v) => {
        if (n++ === 0) s.delete('k');
        return (v ?? 0) + 1;
      }),
      1,
    );
    n = 0;
    assert.equal(
      s.update('fresh', (v) => {
        if (n++ === 0) s.set('fresh', 50);
        return (v ?? 0) + 1;
      }),
      51,
    );
    n = 0;
    s.set('gone', 5);
    assert.equal(
      s.update('gone', (_v) => {
        if (n++ === 0) s.set('gone', 6); // the delete must not remove a newer write
        return undefined;
      }),
      undefined,
    );
    assert.equal(n, 2);
    assert.equal(s.has('gone'), false);
  });

  it('gives up after maxRetries lost races with ERR_THREADKV_UPDATE_CONTENDED, having written nothing itself', () => {
    const s = open<number>();
    s.set('k', 0);
    let calls = 0;
    throwsWith(
      () =>
        s.update(
          'k',
          (v) => {
            calls++;
            s.set('k', v!); // always changes the version before update can write
            return -1;
          },
          { maxRetries: 3 },
        ),
      Error,
      ErrorCode.UPDATE_CONTENDED,
      '"k"',
      '4 attempts',
      JSON.stringify(s.name),
    );
    assert.equal(calls, 4);
    assert.equal(s.get('k'), 0);
  });

  it('the default bound is 1000 retries', () => {
    const s = open<number>();
    s.set('k', 0);
    let calls = 0;
    assert.throws(
      () =>
        s.update('k', (v) => {
          calls++;
          s.set('k', v!);
          return 1;
        }),
      { code: ErrorCode.UPDATE_CONTENDED },
    );
    assert.equal(calls, 1001);
  });

  it('maxRetries: 0 means one attempt', () => {
    const s = open<number>();
    assert.equal(s.update('k', () => 1, { maxRetries: 0 }), 1);
  });

  it('fn throwing: the error propagates and nothing changes', () => {
    const s = open<number>();
    s.set('k', 1);
    const before = snapshot(s);
    assert.throws(
      () =>
        s.update('k', () => {
          throw new Error('fn failed');
        }),
      /fn failed/,
    );
    assert.deepEqual(snapshot(s), before);
  });

  it('errors: bad fn, bad options, bad key, unencodable result; the store is unchanged', () => {
    const s = open({ codec: 'json' });
    s.set('k', 1);
    throwsUnchanged(s, () => s.update('k', 5 as unknown as () => number), TypeError, ErrorCode.INVALID_ARGUMENT, 'fn');
    throwsUnchanged(s, () => s.update('k', () => 1, { maxRetries: -1 }), RangeError, ErrorCode.INVALID_ARGUMENT, 'maxRetries');
    throwsUnchanged(s, () => s.update('k', () => 1, { maxRetries: 1.5 }), RangeError, ErrorCode.INVALID_ARGUMENT, 'maxRetries');
    throwsUnchanged(s, () => s.update('k', () => 1, { maxRetries: '3' as unknown as number }), TypeError, ErrorCode.INVALID_ARGUMENT, 'maxRetries');
    throwsUnchanged(s, () => s.update('k', () => 1, 3 as unknown as object), TypeError, ErrorCode.INVALID_ARGUMENT, 'options');
    throwsUnchanged(s, () => s.update(3 as unknown as string, () => 1), TypeError, ErrorCode.KEY_TYPE);
    throwsUnchanged(s, () => s.update('k', () => (() => 1) as unknown as number), TypeError, ErrorCode.VALUE_TYPE, '"k"');
  });
});
