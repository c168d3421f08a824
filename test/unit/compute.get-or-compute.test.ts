import assert from 'node:assert/strict';
import { ErrorCode, Store } from 'threadkv';
import { storeFactory } from '../support/store';
import { deferred, rejectsAbort, rejectsWith, sleep, tick, wakerState } from '../support/compute';

// getOrCompute / getOrComputeSync in one thread: every rule of the API that
// one thread can show (the cross-thread ones are in test/workers/compute.threads.test.ts
// and test/stress/compute.test.ts).

describe('getOrCompute()', () => {
  const open = storeFactory('compute');

  afterEach(() => {
    const w = wakerState();
    assert.equal(w.handlers, 0, 'a settled getOrCompute left a wake handler behind');
    assert.equal(w.holds, 0, 'a settled getOrCompute still holds the event loop');
  });

  describe('hit', () => {
    it('returns a copy of the stored value and never calls the factory', async () => {
      const s = open();
      s.set('k', { a: [1, 2] });
      const got = (await s.getOrCompute('k', () => assert.fail('factory called on a hit'))) as { a: number[] };
      assert.deepEqual(got, { a: [1, 2] });
      got.a.push(3);
      assert.deepEqual(s.get('k'), { a: [1, 2] }, 'the caller got the stored object itself');
    });

    it('a stored undefined or null is a hit', async () => {
      const s = open();
      s.set('u', undefined);
      s.set('n', null);
      assert.equal(await s.getOrCompute('u', () => 1), undefined);
      assert.equal(await s.getOrCompute('n', () => 1), null);
      assert.equal(s.stats().loads, 0);
    });

    it('returns a promise even on a hit', () => {
      const s = open();
      s.set('k', 1);
      const p = s.getOrCompute('k', () => 2);
      assert.ok(p instanceof Promise);
      return p;
    });
  });

  describe('miss', () => {
    it('calls the factory with the key and a context holding an AbortSignal, stores and returns its value', async () => {
      const s = open();
      const seen: unknown[] = [];
      const v = await s.getOrCompute('k', (key, ctx) => {
        seen.push(key, ctx.signal instanceof AbortSignal, ctx.signal.aborted);
        return { computed: key };
      });
      assert.deepEqual(seen, ['k', true, false]);
      assert.deepEqual(v, { computed: 'k' });
      assert.deepEqual(s.get('k'), { computed: 'k' });
      const st = s.stats();
      assert.equal(st.loads, 1);
      assert.equal(st.sets, 1);
      assert.equal(st.flightsInProgress, 0);
    });

    it('an async factory works the same', async () => {
      const s = open();
      assert.equal(await s.getOrCompute('k', async () => { await sleep(5); return 'late'; }), 'late');
      assert.equal(s.get('k'), 'late');
    });

    it('concurrent calls in one thread run the factory once, and every caller gets an equal copy', async () => {
      const s = open();
      let calls = 0;
      const gate = deferred<void>();
      const factory = async (): Promise<{ n: number }> => {
        calls++;
        await gate.promise;
        return { n: 42 };
      };
      const ps = Array.from({ length: 5 }, () => s.getOrCompute('k', factory));
      await tick();
      assert.equal(s.stats().flightsInProgress, 1);
      assert.equal(s.has('k'), false, 'a computation in progress is not an entry');
      assert.equal(s.size, 0);
      assert.deepEqual([...s.keys()], []);
      gate.resolve();
      const values = await Promise.all(ps);
      assert.equal(calls, 1);
      for (const v of values) assert.deepEqual(v, { n: 42 });
      assert.equal(new Set(values).size, 5, 'callers must get their own copies');
      const st = s.stats();
      assert.equal(st.loads, 1);
      assert.equal(st.loadsJoined, 4);
    });

    it('stores with options.ttlMs', async () => {
      const s = open();
      await s.getOrCompute('k', () => 1, { ttlMs: 60_000 });
      const left = s.ttl('k')!;
      assert.ok(left > 59_000 && left <= 60_000, `ttl ${left}`);
      await s.getOrCompute('short', () => 1, { ttlMs: 20 });
      await sleep(40);
      assert.equal(s.has('short'), false);
      let calls = 0;
      await s.getOrCompute('short', () => ++calls);
      assert.equal(calls, 1, 'an expired value is a miss');
    });

    it('every caller gets an equal value under every codec', async () => {
      for (const [codec, value] of [
        ['json', { a: 1, d: '2020-01-01T00:00:00.000Z' }],
        ['string', 'text \u{1F600}'],
        ['buffer', Buffer.from([1, 2, 3])],
        ['v8', new Map([[1, new Set([2])]])],
      ] as const) {
        const s = open({ codec });
        const gate = deferred<void>();
        const ps = [0, 1, 2].map(() =>
          s.getOrCompute('k', async () => {
            await gate.promise;
            return value as never;
          }),
        );
        await tick();
        gate.resolve();
        const got = await Promise.all(ps);
        for (const v of got) assert.deepEqual(v, s.get('k'), codec);
        if (codec === 'buffer') for (const v of got) assert.ok(Buffer.isBuffer(v));
      }
    });
  });

  describe('failure', () => {
    it("the factory's error rejects every caller with an equal error, and is not cached", async () => {
      const s = open();
      const gate = deferred<void>();
      let calls = 0;
      const factory = async (): Promise<string> => {
        calls++;
        await gate.promise;
        const err = new RangeError('backend said no') as RangeError & { code: string; status: number };
        err.code = 'E_BACKEND';
        err.status = 503;
        throw err;
      };
      const ps = [0, 1, 2].map(() => s.getOrCompute('k', factory));
      await tick();
      gate.resolve();
      for (const p of ps) {
        const err = await rejectsWith(p, RangeError, 'E_BACKEND', 'backend said no');
        assert.equal((err as unknown as { status: number }).status, 503);
      }
      assert.equal(calls, 1);
      assert.equal(s.has('k'), false);
      assert.equal(s.stats().loadErrors, 1);
      assert.equal(await s.getOrCompute('k', () => { calls++; return 'ok'; }), 'ok', 'the next call must compute again');
      assert.equal(calls, 2);
    });

    it('a thrown non-Error value is shared as is', async () => {
      const s = open();
      const gate = deferred<void>();
      const ps = [0, 1].map(() =>
        s.getOrCompute('k', async () => {
          await gate.promise;
          throw { reason: 'plain object' }; // eslint-disable-line no-throw-literal
        }),
      );
      await tick();
      gate.resolve();
      for (const p of ps) await assert.rejects(p, (e: unknown) => { assert.deepEqual(e, { reason: 'plain object' }); return true; });
    });

    it('a value the codec cannot encode, or too large, fails every caller and stores nothing', async () => {
      const s = open({ codec: 'json', maxValueBytes: 8 });
      const gate = deferred<void>();
      const ps = [0, 1].map(() =>
        s.getOrCompute('k', async () => {
          await gate.promise;
          return 'x'.repeat(100);
        }),
      );
      await tick();
      gate.resolve();
      for (const p of ps) await rejectsWith(p, RangeError, ErrorCode.VALUE_TOO_LARGE, '"k"');
      assert.equal(s.has('k'), false);
      await rejectsWith(s.getOrCompute('f', () => 1n as never), TypeError, ErrorCode.VALUE_TYPE);
    });

    it('a value refused by a limit fails every caller with STORE_FULL', async () => {
      const s = open({ maxEntries: 1, evictionPolicy: 'none', shards: 1 });
      s.set('other', 1);
      const gate = deferred<void>();
      const ps = [0, 1].map(() =>
        s.getOrCompute('k', async () => {
          await gate.promise;
          return 2;
        }),
      );
      await tick();
      gate.resolve();
      for (const p of ps) await rejectsWith(p, RangeError, ErrorCode.STORE_FULL);
      assert.equal(s.stats().flightsInProgress, 0);
    });
  });

  describe('a write of the key while it is computed invalidates the computation', () => {
    // Every write method that writes or removes the key: its callers still
    // get the computed value, it is not stored (the write wins), the
    // factory's signal aborts, and the next call computes again (or hits the
    // written value).

    // A computation of 'k' whose factory waits for `gate`; `signal()` is its ctx.signal.
    const computeUntilReleased = (s: Store<unknown>) => {
      const gate = deferred<string>();
      let seen: AbortSignal | undefined;
      const first = s.getOrCompute('k', (_k, ctx) => {
        seen = ctx.signal;
        return gate.promise;
      });
      return { gate, first, signal: () => seen };
    };
    const writes: Array<[string, (s: Store<unknown>) => void, boolean]> = [
      ['set', (s) => s.set('k', 'written'), true],
      ['put', (s) => s.put('k', 'written'), true],
      ['setIfAbsent', (s) => s.setIfAbsent('k', 'written'), true],
      ['swap', (s) => s.swap('k', 'written'), true],
      ['compareAndSet', (s) => s.compareAndSet('k', null, 'written'), true],
      ['update', (s) => s.update('k', () => 'written'), true],
      ['increment', (s) => s.increment('k'), true],
      ['setMany', (s) => s.setMany([['other', 1], ['k', 'written']]), true],
      ['setMany atomic', (s) => s.setMany([['other', 1], ['k', 'written']], { atomic: true }), true],
      ['delete', (s) => s.delete('k'), false],
      ['take', (s) => s.take('k'), false],
      ['deleteMany', (s) => s.deleteMany(['other', 'k']), false],
      ['deleteMany atomic', (s) => s.deleteMany(['other', 'k'], { atomic: true }), false],
      ['clear', (s) => s.clear(), false],
    ];
    for (const [name, write, leavesValue] of writes) {
      it(`${name}`, async () => {
        const s = open();
        const { gate, first, signal: signalOf } = computeUntilReleased(s);
        const joined = s.getOrCompute('k', () => 'never');
        await tick();
        assert.equal(s.stats().flightsInProgress, 1);
        s.set('unrelated', 1);  // another key: nothing happens
        await tick();
        assert.equal(signalOf()?.aborted, false);
        write(s);
        const expected = s.get('k');
        assert.equal(expected === undefined, !leavesValue);
        // Told after the write (through the waker): the signal aborts.
        for (let i = 0; i < 200 && !signalOf()?.aborted; i++) await sleep(5);
        assert.equal(signalOf()?.aborted, true);
        const reason = signalOf()!.reason as Error;
        assert.equal(reason.name, 'AbortError');
        assert.match(reason.message, /written while it ran/);
        // A factory that ignores its signal still hands its value to its callers.
        gate.resolve('computed');
        assert.equal(await first, 'computed');
        assert.equal(await joined, 'computed');
        assert.deepEqual(s.get('k'), expected);  // not stored: the write wins
        // The next call computes again, or hits the written value.
        let calls = 0;
        const next = await s.getOrCompute('k', () => {
          calls++;
          return 'again';
        });
        assert.equal(calls, leavesValue ? 0 : 1);
        assert.deepEqual(next, leavesValue ? expected : 'again');
      });
    }

    it('failed conditional writes and writes of other keys do not invalidate', async () => {
      const s = open();
      const { gate, first, signal: signalOf } = computeUntilReleased(s);
      await tick();
      assert.equal(s.compareAndSet('k', 12345, 'no'), false);
      assert.equal(s.compareAndDelete('k', 12345), false);
      assert.equal(s.setIfAbsent('other', 1), true);
      await sleep(20);
      assert.equal(signalOf()?.aborted, false);
      gate.resolve('computed');
      assert.equal(await first, 'computed');
      assert.equal(s.get('k'), 'computed');
    });
  });

  describe('waitTimeoutMs and signal detach only their caller', () => {
    it('a waiting caller times out with ERR_THREADKV_COMPUTE_TIMEOUT; the others get the value', async () => {
      const s = open();
      const gate = deferred<void>();
      const leader = s.getOrCompute('k', async () => { await gate.promise; return 'v'; });
      const impatient = s.getOrCompute('k', () => 'never', { waitTimeoutMs: 10 });
      const patient = s.getOrCompute('k', () => 'never');
      await rejectsWith(impatient, Error, ErrorCode.COMPUTE_TIMEOUT, '"k"', '10 ms');
      gate.resolve();
      assert.equal(await leader, 'v');
      assert.equal(await patient, 'v');
      assert.equal(s.stats().loadTimeouts, 1);
    });

    it('waitTimeoutMs: 0 gives up at once when another caller computes', async () => {
      const s = open();
      const gate = deferred<void>();
      const leader = s.getOrCompute('k', async () => { await gate.promise; return 'v'; });
      await rejectsWith(s.getOrCompute('k', () => 'x', { waitTimeoutMs: 0 }), Error, ErrorCode.COMPUTE_TIMEOUT);
      gate.resolve();
      assert.equal(await leader, 'v');
    });

    it('waitTimeoutMs does not bound the caller that computes', async () => {
      const s = open();
      assert.equal(await s.getOrCompute('k', async () => { await sleep(30); return 'v'; }, { waitTimeoutMs: 1 }), 'v');
    });

    it("a waiting caller's signal rejects it with an AbortError (cause: the reason); the flight goes on", async () => {
      const s = open();
      const gate = deferred<void>();
      const leader = s.getOrCompute('k', async () => { await gate.promise; return 'v'; });
      const ac = new AbortController();
      const waiting = s.getOrCompute('k', () => 'x', { signal: ac.signal });
      const reason = new Error('user gave up');
      ac.abort(reason);
      await rejectsAbort(waiting, reason);
      gate.resolve();
      assert.equal(await leader, 'v');
      assert.equal(s.get('k'), 'v');
    });

    it("the computing caller's signal detaches it too, and the computation still completes for the others", async () => {
      const s = open();
      const gate = deferred<void>();
      const ac = new AbortController();
      let factorySignal: AbortSignal | undefined;
      const leader = s.getOrCompute(
        'k',
        async (_k, ctx) => {
          factorySignal = ctx.signal;
          await gate.promise;
          return 'v';
        },
        { signal: ac.signal },
      );
      const other = s.getOrCompute('k', () => 'x');
      await tick();
      ac.abort();
      await rejectsAbort(leader);
      assert.equal(factorySignal!.aborted, false, "a caller's own signal never cancels the computation");
      gate.resolve();
      assert.equal(await other, 'v');
      assert.equal(s.get('k'), 'v');
    });

    it('an already aborted signal rejects at once, without calling the factory', async () => {
      const s = open();
      const ac = new AbortController();
      ac.abort();
      await rejectsAbort(s.getOrCompute('k', () => assert.fail('called'), { signal: ac.signal }));
      assert.equal(s.stats().loads, 0);
    });
  });

  describe('leaseMs: a hung leader is taken over', () => {
    it('after the lease a waiting caller computes with its own factory; the late result is discarded', async () => {
      const s = open();
      const hung = deferred<string>();
      let leaderSignal: AbortSignal | undefined;
      const first = s.getOrCompute(
        'k',
        (_k, ctx) => {
          leaderSignal = ctx.signal;
          return hung.promise;
        },
        { leaseMs: 30 },
      );
      const second = s.getOrCompute('k', () => 'second');
      assert.equal(await second, 'second');
      assert.equal(s.get('k'), 'second');
      // The first leader hears of it through its thread's waker (a later turn).
      for (let i = 0; i < 200 && !leaderSignal!.aborted; i++) await tick();
      assert.equal(leaderSignal!.aborted, true, "the first leader's ctx.signal aborts when it loses the key");
      assert.equal((leaderSignal!.reason as Error).name, 'AbortError');
      assert.equal(s.stats().leadersLost, 1);
      // The first factory ignores its signal and finishes late: not stored.
      hung.resolve('late');
      assert.equal(await first, 'late', 'the late leader still answers its own caller');
      assert.equal(s.get('k'), 'second', 'a late result must be discarded');
    });

    it('a leader whose factory stops on its aborted signal joins the new computation', async () => {
      const s = open();
      const first = s.getOrCompute(
        'k',
        (_k, ctx) =>
          new Promise<string>((_resolve, reject) => {
            ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
          }),
        { leaseMs: 20 },
      );
      const second = s.getOrCompute('k', async () => { await sleep(20); return 'second'; });
      assert.equal(await second, 'second');
      assert.equal(await first, 'second');
      assert.equal(s.stats().loadErrors, 0, 'giving up after an abort is not a failure');
    });
  });

  describe('argument errors reject (never throw) and change nothing', () => {
    it('bad factory, options, key; closed handle', async () => {
      const s = open();
      const bad = <T>(f: () => Promise<T>): Promise<T> => {
        let p: Promise<T>;
        assert.doesNotThrow(() => {
          p = f();
        });
        return p!;
      };
      await rejectsWith(bad(() => s.getOrCompute('k', 'nope' as never)), TypeError, ErrorCode.INVALID_ARGUMENT, 'factory must be a function');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, 5 as never)), TypeError, ErrorCode.INVALID_ARGUMENT, 'options must be an object');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { ttlMs: -1 })), RangeError, ErrorCode.INVALID_ARGUMENT, 'ttlMs');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { waitTimeoutMs: -1 })), RangeError, ErrorCode.INVALID_ARGUMENT, 'waitTimeoutMs');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { waitTimeoutMs: '1' as never })), TypeError, ErrorCode.INVALID_ARGUMENT, 'waitTimeoutMs');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { leaseMs: 0 })), RangeError, ErrorCode.INVALID_ARGUMENT, 'leaseMs');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { leaseMs: NaN })), RangeError, ErrorCode.INVALID_ARGUMENT, 'leaseMs');
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1, { signal: {} as never })), TypeError, ErrorCode.INVALID_ARGUMENT, 'signal');
      await rejectsWith(bad(() => s.getOrCompute(5 as never, () => 1)), TypeError, ErrorCode.KEY_TYPE);
      assert.equal(s.size, 0);
      assert.equal(s.stats().loads, 0);
      s.close();
      await rejectsWith(bad(() => s.getOrCompute('k', () => 1)), Error, ErrorCode.CLOSED);
    });
  });

  describe('a destroyed store', () => {
    it('rejects new calls, and a computation that ends after the destroy fails its callers', async () => {
      const name = `compute-destroy-${process.pid}`;
      const s = Store.open(name);
      const gate = deferred<void>();
      const ps = [0, 1].map(() => s.getOrCompute('k', async () => { await gate.promise; return 1; }));
      await tick();
      Store.destroy(name);
      gate.resolve();
      for (const p of ps) await rejectsWith(p, Error, ErrorCode.DESTROYED);
      await rejectsWith(s.getOrCompute('k', () => 1), Error, ErrorCode.DESTROYED);
    });
  });
});

describe('getOrComputeSync()', () => {
  const open = storeFactory('compute-sync');

  it('hit: the stored value, no factory call', () => {
    const s = open();
    s.set('k', [1]);
    assert.deepEqual(s.getOrComputeSync('k', () => assert.fail('called')), [1]);
  });

  it('miss: computes, stores (with ttlMs), returns', () => {
    const s = open();
    assert.deepEqual(s.getOrComputeSync('k', (key) => ({ key }), { ttlMs: 60_000 }), { key: 'k' });
    assert.deepEqual(s.get('k'), { key: 'k' });
    assert.ok(s.ttl('k')! <= 60_000);
    assert.equal(s.stats().loads, 1);
  });

  it('a thrown error propagates and is not cached', () => {
    const s = open();
    assert.throws(() => s.getOrComputeSync('k', () => { throw new TypeError('nope'); }), TypeError);
    assert.equal(s.has('k'), false);
    assert.equal(s.getOrComputeSync('k', () => 2), 2);
  });

  it('a factory calling getOrComputeSync of its own key gets ERR_THREADKV_RECURSIVE_COMPUTE, not a deadlock', () => {
    const s = open();
    let inner: unknown;
    const v = s.getOrComputeSync('k', () => {
      try {
        s.getOrComputeSync('k', () => 'inner');
      } catch (err) {
        inner = err;
      }
      return 'outer';
    });
    assert.equal(v, 'outer');
    assert.ok(inner instanceof Error);
    assert.equal((inner as { code?: string }).code, ErrorCode.RECURSIVE_COMPUTE);
    assert.match((inner as Error).message, /"k"/);
  });

  it("getOrComputeSync of a key this thread's pending getOrCompute computes is refused too", async () => {
    const s = open();
    const gate = deferred<void>();
    const pending = s.getOrCompute('k', async () => { await gate.promise; return 'async'; });
    assert.throws(() => s.getOrComputeSync('k', () => 'sync'), (e: Error & { code?: string }) => e.code === ErrorCode.RECURSIVE_COMPUTE);
    gate.resolve();
    assert.equal(await pending, 'async');
  });

  it('a getOrCompute of the same key inside the sync factory joins it', async () => {
    const s = open();
    let joined: Promise<unknown> | undefined;
    s.getOrComputeSync('k', () => {
      joined = s.getOrCompute('k', () => 'second factory');
      return 'sync value';
    });
    assert.equal(await joined, 'sync value');
  });

  it('a factory returning a promise is a TypeError; nothing is stored', () => {
    const s = open();
    assert.throws(
      () => s.getOrComputeSync('k', (() => Promise.resolve(1)) as never),
      (e: Error & { code?: string }) => e instanceof TypeError && e.code === ErrorCode.INVALID_ARGUMENT && /getOrCompute/.test(e.message),
    );
    assert.equal(s.has('k'), false);
    assert.equal(s.stats().flightsInProgress, 0);
  });

  it('argument errors throw: factory, options (signal is not an option), key', () => {
    const s = open();
    assert.throws(() => s.getOrComputeSync('k', 1 as never), TypeError);
    assert.throws(() => s.getOrComputeSync('k', () => 1, { signal: new AbortController().signal } as never), /signal/);
    assert.throws(() => s.getOrComputeSync('k', () => 1, { leaseMs: -5 }), RangeError);
    assert.throws(() => s.getOrComputeSync(1 as never, () => 1), (e: Error & { code?: string }) => e.code === ErrorCode.KEY_TYPE);
  });
});
