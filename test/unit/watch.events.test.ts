import assert from 'node:assert/strict';
import { ErrorCode, Store, Watcher, type ChangeEvent } from 'threadkv';
import { storeFactory, throwsWith } from '../support/store';
import { rejectsAbort, sleep, tick, wakerState } from '../support/compute';
import { brief, checkSeqs, nextEvents, watcherTracker } from '../support/watch';

// store.watch() in one thread: every rule one thread can show. The
// cross-thread rules are in test/workers/watch.test.ts, the stress and
// termination runs in test/stress/watch.test.ts.

describe('watch()', () => {
  const open = storeFactory('watch');
  const track = watcherTracker();

  afterEach(async () => {
    await tick();
    const w = wakerState();
    assert.equal(w.handlers, 0, 'a closed watcher left a wake handler behind');
    assert.equal(w.holds, 0, 'a closed watcher still holds the event loop');
  });

  describe('options', () => {
    it('rejects bad options with coded TypeErrors and RangeErrors naming the option', () => {
      const s = open({ maxKeyBytes: 16 });
      const A = ErrorCode.INVALID_ARGUMENT;
      throwsWith(() => s.watch(5 as never), TypeError, A, 'watch', 'options must be an object, got a number');
      throwsWith(() => s.watch(null as never), TypeError, A, 'options must be an object, got null');
      throwsWith(() => s.watch({ prefix: 'a', key: 'b' }), TypeError, A, 'options.prefix and options.key cannot both be given');
      throwsWith(() => s.watch({ prefix: 1 as never }), TypeError, A, 'options.prefix must be a string, got a number');
      throwsWith(() => s.watch({ key: null as never }), TypeError, A, 'options.key must be a string, got null');
      throwsWith(() => s.watch({ key: 'x'.repeat(17) }), RangeError, A, 'options.key is 17 bytes', "maxKeyBytes (16)");
      throwsWith(() => s.watch({ prefix: 'é'.repeat(9) }), RangeError, A, 'options.prefix is 18 bytes');
      throwsWith(() => s.watch({ events: 'set' as never }), TypeError, A, "options.events must be an array of 'set', 'delete', 'expire', 'evict', 'clear', got a string");
      throwsWith(() => s.watch({ events: [] }), RangeError, A, 'options.events must name at least one');
      throwsWith(() => s.watch({ events: ['set', 'update' as never] }), TypeError, A, "options.events must hold only", "got 'update'");
      throwsWith(() => s.watch({ events: ['overflow' as never] }), TypeError, A, "got 'overflow'");
      throwsWith(() => s.watch({ maxQueue: '10' as never }), TypeError, A, 'options.maxQueue must be a number, got a string');
      for (const bad of [0, -1, 1.5, NaN, Infinity, 2 ** 32]) {
        throwsWith(() => s.watch({ maxQueue: bad }), RangeError, A, 'options.maxQueue must be an integer from 1 to 4294967295', `got ${bad}`);
      }
      throwsWith(() => s.watch({ signal: {} as never }), TypeError, A, 'options.signal must be an AbortSignal, got an instance of Object');
      throwsWith(() => s.watch({ prefx: 'a' } as never), TypeError, A, 'options.prefx is not a known option');
      assert.equal(s.stats().watchers, 0, 'a refused watch() subscribed anyway');
    });

    it('accepts the limits: maxQueue 1 and 2^32 - 1, a key of exactly maxKeyBytes, every event name', () => {
      const s = open({ maxKeyBytes: 16 });
      track(s.watch({ maxQueue: 1 }));
      track(s.watch({ maxQueue: 2 ** 32 - 1 }));
      track(s.watch({ key: 'x'.repeat(16) }));
      track(s.watch({ prefix: '' }));
      track(s.watch({ events: ['set', 'delete', 'expire', 'evict', 'clear', 'set'] }));
      assert.equal(s.stats().watchers, 5);
    });

    it('a closed handle or a destroyed store throws as every method does; an aborted signal throws an AbortError', () => {
      const s = open();
      const name = s.name;
      const ac = new AbortController();
      ac.abort('why');
      assert.throws(() => s.watch({ signal: ac.signal }), (e: Error) => e.name === 'AbortError' && e.cause === 'why');
      assert.equal(s.stats().watchers, 0);
      const other = Store.open(name);
      other.close();
      throwsWith(() => other.watch(), Error, ErrorCode.CLOSED);
      throwsWith(() => other.watch({ signal: ac.signal }), Error, ErrorCode.CLOSED);
      Store.destroy(name);
      throwsWith(() => s.watch(), Error, ErrorCode.DESTROYED);
    });
  });

  describe('events of every write', () => {
    it('set / put / delete, with the versions getEntry sees, and only after the write returned', async () => {
      const s = open();
      const w = track(s.watch());
      let delivered = 0;
      w.on('change', (b) => (delivered += b.length));
      s.set('a', 1);
      const va = s.getEntry('a')!.version;
      s.put('a', 2);
      const va2 = s.getEntry('a')!.version;
      assert.equal(s.delete('a'), true);
      assert.equal(s.delete('a'), false);  // absent: no event
      assert.equal(delivered, 0, 'delivered synchronously, inside the write');
      const got = await nextEvents(w, 3);
      assert.deepEqual(
        got.map((e) => [e.type, e.key, e.version]),
        [['set', 'a', va], ['set', 'a', va2], ['delete', 'a', va2]],
      );
      checkSeqs(got, true);
      for (const e of got) assert.equal(Object.hasOwn(e, 'lost'), false);
    });

    it('every compound write emits, failed ones do not', async () => {
      const s = open();
      const w = track(s.watch());
      s.setIfAbsent('a', 1);
      s.setIfAbsent('a', 2);  // present: nothing written
      s.getOrSet('b', 'one');
      s.getOrSet('b', 'two');  // present
      s.swap('a', 3);
      s.take('a');
      s.take('a');  // absent
      s.set('c', 1);
      assert.equal(s.compareAndSet('c', 12345, 2), false);
      assert.equal(s.compareAndSet('c', s.getEntry('c')!.version, 2), true);
      assert.equal(s.compareAndDelete('c', 12345), false);
      assert.equal(s.compareAndDelete('c', s.getEntry('c')!.version), true);
      s.update('d', () => 1);
      s.update('d', () => undefined);
      s.increment('n');
      s.increment('n', 5);
      assert.throws(() => s.increment('b'));  // not a number: nothing written
      s.set('end', 1);
      const got = await nextEvents(w, 12);
      assert.deepEqual(brief(got), [
        ['set', 'a'], ['set', 'b'], ['set', 'a'], ['delete', 'a'], ['set', 'c'], ['set', 'c'], ['delete', 'c'],
        ['set', 'd'], ['delete', 'd'], ['set', 'n'], ['set', 'n'], ['set', 'end'],
      ]);
      assert.ok(got[10]!.version > got[9]!.version);
      checkSeqs(got, true);
    });

    it('setMany / deleteMany: atomic ones as consecutive seqs in one batch; others per key', async () => {
      const s = open({ shards: 8 });
      const w = track(s.watch());
      const batches: ChangeEvent[][] = [];
      w.on('change', (b) => batches.push(b));
      s.setMany([['x', 1], ['y', 2], ['z', 3]], { atomic: true });
      await nextEvents(w, 3);
      const all = batches.flat();
      assert.deepEqual(brief(all), [['set', 'x'], ['set', 'y'], ['set', 'z']]);
      assert.equal(batches.length, 1, 'an atomic setMany was split across batches');
      checkSeqs(all, true);
      batches.length = 0;
      assert.equal(s.deleteMany(['x', 'nope', 'z'], { atomic: true }), 2);
      s.setMany([['p', 1]]);
      s.deleteMany(['p', 'y']);
      const more = await nextEvents(w, 5);
      assert.deepEqual(brief(more), [['delete', 'x'], ['delete', 'z'], ['set', 'p'], ['delete', 'p'], ['delete', 'y']]);
      assert.equal(more[1]!.seq, more[0]!.seq + 1);
    });

    it('clear: one event, key "", version 0, to every watcher whatever its key or prefix', async () => {
      const s = open();
      const all = track(s.watch());
      const key = track(s.watch({ key: 'k' }));
      const prefix = track(s.watch({ prefix: 'p:' }));
      const setsOnly = track(s.watch({ events: ['set'] }));
      for (let i = 0; i < 100; i++) s.set(`x${i}`, i);
      s.clear();
      s.clear();  // an empty store's clear is a write too
      s.set('p:1', 1);
      const a = await nextEvents(all, 103);
      assert.deepEqual(brief(a.slice(100, 102)), [['clear', ''], ['clear', '']]);
      assert.equal(a[100]!.version, 0);
      assert.deepEqual(brief(await nextEvents(key, 2)), [['clear', ''], ['clear', '']]);
      assert.deepEqual(brief(await nextEvents(prefix, 3)), [['clear', ''], ['clear', ''], ['set', 'p:1']]);
      const so = await nextEvents(setsOnly, 101);
      assert.equal(so.filter((e) => e.type === 'clear').length, 0, 'a watcher that did not ask for clear got one');
    });

    it('getOrCompute storing its value emits a set', async () => {
      const s = open();
      const w = track(s.watch());
      assert.equal(await s.getOrCompute('k', () => 42), 42);
      const [e] = await nextEvents(w, 1);
      assert.deepEqual([e!.type, e!.key, e!.version], ['set', 'k', s.getEntry('k')!.version]);
    });

    it('evictions under maxEntries are evict events with the evicted entry\'s version', async () => {
      const s = open({ shards: 1, maxEntries: 4, evictionPolicy: 'sieve' });
      const w = track(s.watch());
      const versions = new Map<string, number>();
      for (let i = 0; i < 10; i++) {
        s.set(`k${i}`, i);
        versions.set(`k${i}`, s.getEntry(`k${i}`)!.version);
      }
      const got = await nextEvents(w, 16);
      const evicts = got.filter((e) => e.type === 'evict');
      assert.equal(evicts.length, 6);
      for (const e of evicts) {
        assert.equal(e.version, versions.get(e.key));
        assert.equal(s.has(e.key), false);
      }
      assert.equal(s.stats().evictions, 6);
    });

    it('expire: the background sweep removes an expired entry within one sweep interval of its deadline', async function () {
      this.timeout(20_000);
      const s = open();
      const w = track(s.watch({ events: ['expire'] }));
      const arrivals = new Map<string, number>();
      w.on('change', (b) => {
        for (const e of b) arrivals.set(e.key, performance.now());
      });
      const deadlines = new Map<string, number>();
      for (let i = 0; i < 20; i++) {
        const ttl = 20 + i * 7;
        deadlines.set(`t${i}`, performance.now() + ttl);
        s.set(`t${i}`, i, { ttlMs: ttl });
      }
      s.set('forever', 1);
      const until = performance.now() + 3000;
      while (arrivals.size < 20 && performance.now() < until) await sleep(10);
      assert.equal(arrivals.size, 20, `only ${arrivals.size} of 20 expire events`);
      // The documented bound: deadline + one sweep interval (100 ms) + the
      // sweep pass itself. Delivery to this thread adds a wake-up; allow a
      // generous margin for a loaded machine, and check no event is early.
      let worst = 0;
      for (const [k, at] of arrivals) {
        const late = at - deadlines.get(k)!;
        assert.ok(late >= -1, `${k} expired ${-late} ms before its deadline`);
        worst = Math.max(worst, late);
      }
      assert.ok(worst < 100 + 400, `an expire event came ${worst.toFixed(0)} ms after its deadline`);
      assert.equal(arrivals.has('forever'), false);
    });

    it('an expired entry met by a write is an expire event, then the write\'s own', async () => {
      const s = open();
      const w = track(s.watch());
      s.set('k', 1, { ttlMs: 30 });
      await sleep(60);
      s.set('k', 2);  // maybe before the sweep reached it, maybe after: an expire either way
      const got = await nextEvents(w, 3);
      assert.deepEqual(brief(got), [['set', 'k'], ['expire', 'k'], ['set', 'k']]);
      assert.equal(got[1]!.version, got[0]!.version, 'the expire carries the expired entry\'s version');
      assert.ok(got[2]!.version > got[0]!.version);
    });

    it('expire() (a new TTL) changes no value and emits nothing', async () => {
      const s = open();
      s.set('k', 1);
      const w = track(s.watch());
      assert.equal(s.expire('k', 60_000), true);
      s.set('after', 1);
      assert.deepEqual(brief(await nextEvents(w, 1)), [['set', 'after']]);
    });
  });

  describe('filters', () => {
    it('key: only that key; prefix: only keys under it; events: only those kinds', async () => {
      const s = open();
      const key = track(s.watch({ key: 'user:1' }));
      const prefix = track(s.watch({ prefix: 'user:' }));
      const deletes = track(s.watch({ events: ['delete'] }));
      s.set('user:1', 1);
      s.set('user:10', 1);
      s.set('other', 1);
      s.delete('user:1');
      s.delete('other');
      assert.deepEqual(brief(await nextEvents(key, 2)), [['set', 'user:1'], ['delete', 'user:1']]);
      const p = await nextEvents(prefix, 3);
      assert.deepEqual(brief(p), [['set', 'user:1'], ['set', 'user:10'], ['delete', 'user:1']]);
      checkSeqs(p, false);
      assert.deepEqual(brief(await nextEvents(deletes, 2)), [['delete', 'user:1'], ['delete', 'other']]);
    });

    it('keys are exact JS strings: non-ASCII, astral, lone surrogates, empty, and a prefix ending in a high surrogate', async () => {
      const s = open();
      const keys = ['é', '日本', '😀x', '\ud800', 'a\udc00b', '', 'plain'];
      const w = track(s.watch());
      const hi = track(s.watch({ prefix: '\ud83d' }));  // the first half of 😀
      for (const k of keys) s.set(k, 1);
      const got = await nextEvents(w, keys.length);
      assert.deepEqual(got.map((e) => e.key), keys);
      assert.deepEqual(brief(await nextEvents(hi, 1)), [['set', '😀x']]);
    });
  });

  describe('delivery', () => {
    it('events wait (natively) while nobody consumes; a listener added later gets them', async () => {
      const s = open();
      const w = track(s.watch());
      s.set('a', 1);
      s.set('b', 2);
      await sleep(30);
      const got = await nextEvents(w, 2);
      assert.deepEqual(brief(got), [['set', 'a'], ['set', 'b']]);
    });

    it('for await: batches in order; leaving the loop closes the watcher', async () => {
      const s = open();
      const w = track(s.watch());
      s.set('a', 1);
      const seen: ChangeEvent[] = [];
      setTimeout(() => s.set('b', 2), 20);
      for await (const batch of w) {
        seen.push(...batch);
        if (seen.length >= 2) break;
      }
      assert.deepEqual(brief(seen), [['set', 'a'], ['set', 'b']]);
      assert.equal(w.closed, true);
      assert.equal(s.stats().watchers, 0);
    });

    it('two iterations and a listener each get every batch', async () => {
      const s = open();
      const w = track(s.watch());
      const it1 = w[Symbol.asyncIterator]();
      const it2 = w[Symbol.asyncIterator]();
      const p1 = it1.next();
      s.set('a', 1);
      const r1 = await p1;
      assert.deepEqual(brief(r1.value as ChangeEvent[]), [['set', 'a']]);
      const r2 = await it2.next();  // buffered for it while it1 drove the drain
      assert.deepEqual(brief(r2.value as ChangeEvent[]), [['set', 'a']]);
      w.close();
      assert.deepEqual(await it1.next(), { value: undefined, done: true });
    });

    it('a full queue drops, counts, and reports one overflow after what it kept; then carries on', async () => {
      const s = open();
      const w = track(s.watch({ maxQueue: 5 }));
      for (let i = 0; i < 12; i++) s.set(`k${i}`, i);
      const got = await nextEvents(w, 6);
      assert.deepEqual(brief(got.slice(0, 5)), [0, 1, 2, 3, 4].map((i) => ['set', `k${i}`]));
      const o = got[5]!;
      assert.deepEqual([o.type, o.key, o.version, o.lost], ['overflow', '', 0, 7]);
      assert.equal(o.seq, got[4]!.seq + 7, 'the overflow carries the seq of the last event it lost');
      checkSeqs(got, true);
      s.set('after', 1);
      const [next] = await nextEvents(w, 1);
      assert.deepEqual([next!.type, next!.key], ['set', 'after']);
      assert.equal(next!.seq, o.seq + 1);
    });

    it('an atomic batch that does not fit is lost whole, never split', async () => {
      const s = open();
      const w = track(s.watch({ maxQueue: 4 }));
      s.set('a', 1);
      s.setMany([['b1', 1], ['b2', 2], ['b3', 3], ['b4', 4]], { atomic: true });
      const got = await nextEvents(w, 2);
      assert.deepEqual(brief(got), [['set', 'a'], ['overflow', '']]);
      assert.equal(got[1]!.lost, 4);
    });

    it('a listener that throws does not stop the others, and the error is not lost', async () => {
      const s = open();
      const w = track(s.watch());
      const errors: unknown[] = [];
      const onUncaught = (err: unknown): void => {
        errors.push(err);
      };
      const mochaHandlers = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.on('uncaughtException', onUncaught);
      try {
        w.on('change', () => {
          throw new Error('boom');
        });
        s.set('a', 1);
        await sleep(50);
        assert.equal(errors.length, 1);
        assert.equal((errors[0] as Error).message, 'boom');
        // The watcher goes on.
        w.removeAllListeners('change');
        s.set('b', 1);
        assert.deepEqual(brief(await nextEvents(w, 1)), [['set', 'b']]);
      } finally {
        process.removeListener('uncaughtException', onUncaught);
        for (const h of mochaHandlers) process.on('uncaughtException', h as (err: Error) => void);
      }
    });
  });

  describe('lifetime', () => {
    it('close(): nothing more is delivered, iterations end, "close" is emitted once, stats().watchers drops', async () => {
      const s = open();
      const w = s.watch();
      assert.ok(w instanceof Watcher);
      assert.equal(s.stats().watchers, 1);
      let closes = 0;
      w.on('close', () => closes++);
      const it = w[Symbol.asyncIterator]();
      const pending = it.next();
      w.close();
      w.close();
      assert.deepEqual(await pending, { value: undefined, done: true });
      let got = 0;
      w.on('change', () => got++);
      s.set('a', 1);
      await sleep(20);
      assert.equal(got, 0);
      assert.equal(closes, 1);
      assert.equal(w.closed, true);
      assert.equal(s.stats().watchers, 0);
      assert.deepEqual(await w[Symbol.asyncIterator]().next(), { value: undefined, done: true });
    });

    it('signal: aborting closes it; a waiting next() and later ones reject with an AbortError', async () => {
      const s = open();
      const ac = new AbortController();
      const w = s.watch({ signal: ac.signal });
      const it = w[Symbol.asyncIterator]();
      const pending = it.next();
      ac.abort('stop');
      await rejectsAbort(pending, 'stop');
      await rejectsAbort(it.next(), 'stop');
      assert.equal(w.closed, true);
      assert.equal(s.stats().watchers, 0);
    });

    it('ref / unref: counted holds of this thread\'s loop, released by close', () => {
      const s = open();
      const w = s.watch();
      assert.equal(wakerState().holds, 1);
      assert.equal(w.unref(), w);
      assert.equal(w.unref(), w);
      assert.equal(wakerState().holds, 0);
      assert.equal(w.ref(), w);
      assert.equal(wakerState().holds, 1);
      w.close();
      assert.equal(wakerState().holds, 0);
      w.ref();
      assert.equal(wakerState().holds, 0, 'ref() after close held the loop');
    });

    it('Store.destroy: a last clear, then the watcher closes itself', async () => {
      const s = open();
      const w = s.watch();
      const batches: ChangeEvent[][] = [];
      w.on('change', (b) => batches.push(b));
      const closed = new Promise<void>((r) => w.once('close', r));
      s.set('a', 1);
      Store.destroy(s.name);
      await closed;
      assert.deepEqual(brief(batches.flat()), [['set', 'a'], ['clear', '']]);
      assert.equal(w.closed, true);
    });

    it('does not depend on the handle it came from', async () => {
      const s = open();
      const w = track(s.watch());
      s.close();
      const other = Store.open(s.name);
      other.set('a', 1);
      assert.deepEqual(brief(await nextEvents(w, 1)), [['set', 'a']]);
    });
  });
});
