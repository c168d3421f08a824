import assert from 'node:assert/strict';
import { Store, ErrorCode } from 'threadkv';
import { throwsWith } from '../support/store';
import { uniqueName } from '../support/workers';

// Time to live: per store (ttlMs) and per write ({ ttlMs }), ttl(), expire(),
// and expired entries invisible to every operation at once.

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

describe('ttl: expiry', () => {
  const names: string[] = [];
  const open = <V = unknown>(options?: Parameters<typeof Store.open>[1]): Store<V> => {
    const name = uniqueName('ttl');
    names.push(name);
    return Store.open<V>(name, options);
  };
  afterEach(() => {
    for (const n of names.splice(0)) Store.destroy(n);
  });

  it('ttl(): Infinity without expiry, undefined when absent, the time left otherwise', () => {
    const s = open();
    s.set('forever', 1);
    assert.equal(s.ttl('forever'), Infinity);
    assert.equal(s.ttl('nope'), undefined);
    s.set('short', 1, { ttlMs: 10_000 });
    const left = s.ttl('short')!;
    assert.ok(left > 9_000 && left <= 10_000, String(left));
  });

  it('an entry written with { ttlMs } disappears from every operation once it expires', () => {
    const s = open<number>({ codec: 'json' });
    s.set('k', 1, { ttlMs: 30 });
    s.set('other', 2);
    assert.equal(s.get('k'), 1);
    sleep(60);
    assert.equal(s.get('k'), undefined);
    assert.equal(s.has('k'), false);
    assert.equal(s.getEntry('k'), undefined);
    assert.deepEqual(s.getMany(['k', 'other']), [undefined, 2]);
    assert.deepEqual([...s.keys()], ['other']);
    assert.equal(s.size, 1);
    assert.equal(s.ttl('k'), undefined);
    assert.equal(s.expire('k', 1000), false);
    assert.equal(s.compareAndDelete('k', 1), false);
    assert.equal(s.delete('k'), false);
  });

  it('writes treat an expired key as absent: setIfAbsent inserts, getOrSet stores, swap and take return undefined, increment starts at 0', () => {
    const s = open<number>({ codec: 'json' });
    const expire = (k: string): void => {
      s.set(k, 100, { ttlMs: 10 });
    };
    for (const k of ['a', 'b', 'c', 'd', 'e', 'f']) expire(k);
    sleep(40);
    assert.equal(s.setIfAbsent('a', 1), true);
    assert.equal(s.getOrSet('b', 2), 2);
    assert.equal(s.swap('c', 3), undefined);
    assert.equal(s.take('d'), undefined);
    assert.equal(s.increment('e', 5), 5);
    assert.equal(s.compareAndSet('f', null, 6), true);
    assert.deepEqual(s.getMany(['a', 'b', 'c', 'd', 'e', 'f']), [1, 2, 3, undefined, 5, 6]);
  });

  it('the store default ttlMs applies to every write, and a write may override it (Infinity: never)', () => {
    const s = open({ ttlMs: 30 });
    assert.equal(s.options.ttlMs, 30);
    s.set('default', 1);
    s.set('longer', 1, { ttlMs: 60_000 });
    s.set('never', 1, { ttlMs: Infinity });
    s.setMany([['batch', 1]]);
    s.setIfAbsent('ins', 1);
    s.getOrSet('gos', 1);
    s.increment('ctr');
    assert.ok(s.ttl('default')! <= 30);
    sleep(60);
    assert.deepEqual(s.getMany(['default', 'longer', 'never', 'batch', 'ins', 'gos', 'ctr']), [
      undefined, 1, 1, undefined, undefined, undefined, undefined,
    ]);
    assert.equal(s.ttl('never'), Infinity);
  });

  it('expire() sets, extends and removes a deadline', () => {
    const s = open();
    s.set('k', 1);
    assert.equal(s.expire('k', 20), true);
    assert.ok(s.ttl('k')! <= 20);
    assert.equal(s.expire('k', Infinity), true);
    assert.equal(s.ttl('k'), Infinity);
    sleep(40);
    assert.equal(s.get('k'), 1);
    s.expire('k', 10);
    sleep(30);
    assert.equal(s.get('k'), undefined);
  });

  it('setMany and setIfAbsent take { ttlMs }', () => {
    const s = open();
    // 200 ms, not less: on a loaded machine the thread can stall for tens of
    // milliseconds between the writes and the ttl() reads (an entry already
    // gone reads as undefined, which is not <= 200 either).
    s.setMany([['a', 1], ['b', 2]], { atomic: true, ttlMs: 200 });
    assert.equal(s.setIfAbsent('c', 3, { ttlMs: 200 }), true);
    assert.equal(s.getOrSet('d', 4, { ttlMs: 200 }), 4);
    for (const k of ['a', 'b', 'c', 'd']) assert.ok(s.ttl(k)! <= 200, `ttl(${k}) = ${s.ttl(k)}`);
    sleep(220);
    assert.equal(s.size, 0);
  });

  it('ttlMs is validated: store option and per write', () => {
    const n = uniqueName('ttl-bad');
    throwsWith(() => Store.open(n, { ttlMs: 0 }), RangeError, ErrorCode.INVALID_OPTION, 'options.ttlMs');
    throwsWith(() => Store.open(n, { ttlMs: 1.5 }), RangeError, ErrorCode.INVALID_OPTION, 'options.ttlMs');
    throwsWith(() => Store.open(n, { ttlMs: '5' as unknown as number }), TypeError, ErrorCode.INVALID_OPTION, 'options.ttlMs');
    const s = open();
    throwsWith(() => s.set('k', 1, { ttlMs: 0 }), RangeError, ErrorCode.INVALID_ARGUMENT, 'set', 'ttlMs');
    throwsWith(() => s.set('k', 1, { ttlMs: -5 }), RangeError, ErrorCode.INVALID_ARGUMENT, 'ttlMs');
    throwsWith(() => s.set('k', 1, { ttlMs: NaN }), RangeError, ErrorCode.INVALID_ARGUMENT, 'ttlMs');
    throwsWith(() => s.set('k', 1, { ttlMs: '1' as unknown as number }), TypeError, ErrorCode.INVALID_ARGUMENT, 'ttlMs');
    throwsWith(() => s.set('k', 1, null as unknown as object), TypeError, ErrorCode.INVALID_ARGUMENT, 'options');
    throwsWith(() => s.expire('k', 0), RangeError, ErrorCode.INVALID_ARGUMENT, 'expire');
    throwsWith(() => s.setMany([['k', 1]], { ttlMs: -1 }), RangeError, ErrorCode.INVALID_ARGUMENT, 'setMany');
    assert.equal(s.size, 0);
  });

  it('the ttlMs option is compared at open', () => {
    const name = uniqueName('ttl-open');
    names.push(name);
    Store.open(name, { ttlMs: 1000 });
    throwsWith(() => Store.open(name, { ttlMs: 2000 }), Error, ErrorCode.OPTION_MISMATCH, 'ttlMs');
    assert.equal(Store.open(name).options.ttlMs, 1000);
  });

  it("with evictionPolicy 'none', expired entries make room for new writes", () => {
    const s = open({ maxEntries: 2, shards: 1, evictionPolicy: 'none' });
    s.set('a', 1, { ttlMs: 10 });
    s.set('b', 1, { ttlMs: 10 });
    sleep(30);
    s.set('c', 1);
    s.set('d', 1);
    assert.deepEqual([...s.keys()].sort(), ['c', 'd']);
  });
});
