import assert from 'node:assert/strict';
import { Keyv } from 'keyv';
import { Store } from 'threadkv';
import { KeyvThreadKv } from 'threadkv/keyv';
import { fixture, makeBarrier, runWorkers, uniqueName } from '../support/workers';

// threadkv/keyv: one Keyv cache shared by worker threads (each thread builds
// its own Keyv and adapter on the same store name).
describe('keyv adapter: a Keyv cache shared by worker threads', () => {
  const file = fixture('keyv-worker.ts');

  it('a value one worker caches, another worker (and the main thread) reads', async () => {
    const name = uniqueName('keyv-share');
    const value = { name: 'Ada', roles: ['admin'], n: 1 };
    const [stored] = await runWorkers<boolean>(file, 1, () => ({ scenario: 'set', store: name, key: 'user:1', value }));
    assert.equal(stored, true);
    const [seen] = await runWorkers<{ value: unknown; has: boolean }>(file, 1, () => ({ scenario: 'get', store: name, key: 'user:1' }));
    assert.deepEqual(seen, { value, has: true });
    const main = new Keyv({ store: new KeyvThreadKv(name), namespace: 'app' });
    assert.deepEqual(await main.get('user:1'), value);
    Store.destroy(name);
  });

  it('two workers writing at once each read every key the other wrote', async () => {
    const name = uniqueName('keyv-both');
    const keys = 300;
    const parties = 2;
    const barrier = makeBarrier();
    const results = await runWorkers<{ seen: number; wrong: number }>(file, parties, (index) => ({
      scenario: 'write-then-read-other',
      store: name,
      index,
      parties,
      keys,
      barrier,
    }));
    assert.deepEqual(results, [
      { seen: keys, wrong: 0 },
      { seen: keys, wrong: 0 },
    ]);
    assert.equal(Store.open(name).size, parties * keys);
    Store.destroy(name);
  });

  it('an entry a worker cached with a ttl expires for every thread', async () => {
    const name = uniqueName('keyv-ttl');
    const ttl = 1000;
    const started = Date.now();
    await runWorkers(file, 1, () => ({ scenario: 'set', store: name, key: 'token', value: 'abc', ttl }));
    const raw = Store.open(name);
    const left = raw.ttl('app:token');
    // A worker can take longer than the ttl to start on a loaded machine (or
    // under TSAN): the entry is then already gone, which is also right.
    if (Date.now() - started < ttl / 2) assert.ok(left !== undefined && left > 0 && left <= ttl, `ttl left: ${left}`);
    else assert.ok(left === undefined || (left > 0 && left <= ttl), `ttl left: ${left}`);
    // Past the deadline the worker set (it counts from the set, which came
    // after `started` by however long the worker took to start).
    await new Promise((resolve) => setTimeout(resolve, (left ?? 0) + 50));
    const [stale] = await runWorkers<{ value: unknown; has: boolean }>(file, 1, () => ({ scenario: 'get', store: name, key: 'token' }));
    assert.deepEqual(stale, { value: undefined, has: false });
    assert.equal(raw.has('app:token'), false);
    Store.destroy(name);
  });

  it("a worker's clear() empties its namespace only, for every thread", async () => {
    const name = uniqueName('keyv-clear');
    const app = new Keyv({ store: new KeyvThreadKv(name), namespace: 'app' });
    const other = new Keyv({ store: new KeyvThreadKv(name), namespace: 'other' });
    await app.set('a', 1);
    await other.set('a', 2);
    await runWorkers(file, 1, () => ({ scenario: 'clear', store: name, namespace: 'app' }));
    assert.equal(await app.get('a'), undefined);
    assert.equal(await other.get('a'), 2);
    Store.destroy(name);
  });
});
