// Keyv's official storage-adapter test suite (@keyv/test-suite) against
// threadkv/keyv, plus the adapter's own behaviour. Run: npm run test:keyv.
//
// Versions (see test/keyv/README.md): keyv 5.6.0 (the suite peers
// keyv ^5.5.4; keyv 6 needs Node >= 22.19), @keyv/test-suite 2.1.2,
// vitest 4.1.12 (the suite runs on vitest ^4; vitest 5 needs Node >= 22.12).
import * as test from 'vitest';
import { describe, expect, it } from 'vitest';
import Keyv from 'keyv';
import keyvTestSuite, { keyvIteratorTests } from '@keyv/test-suite';
import { Store } from 'threadkv';
import { KeyvThreadKv } from 'threadkv/keyv';

const name = `keyv-suite-${process.pid}`;
// A new adapter per call, all on the one process-wide store `name`: what
// several Keyv instances (or threads) sharing a cache look like.
const store = () => new KeyvThreadKv({ name });

describe('@keyv/test-suite: api, values, namespaces', () => {
  keyvTestSuite(test, Keyv, store);
});

// Keyv 5 wires keyv.iterator() only for its own SQL/Mongo/Redis/etcd
// adapters; this subclass does what KeyvThreadKv's docs tell users to do.
class IterableKeyv extends Keyv {
  constructor(...args: ConstructorParameters<typeof Keyv>) {
    super(...args);
    const adapter = this.store;
    if (adapter instanceof KeyvThreadKv) this.iterator = this.generateIterator(adapter.iterator.bind(adapter));
  }
}

describe('@keyv/test-suite: iterator', () => {
  keyvIteratorTests(test, IterableKeyv, store);
});

describe('KeyvThreadKv', () => {
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

  it('stores keys as Keyv prefixes them, in the named threadkv store', async () => {
    const storeName = `${name}-layout`;
    const keyv = new Keyv({ store: new KeyvThreadKv(storeName), namespace: 'ns' });
    await keyv.set('k', { a: 1 });
    const raw = Store.open(storeName);
    expect([...raw.keys()]).toEqual(['ns:k']);
    expect(typeof raw.get('ns:k')).toBe('string'); // Keyv's default serializer
    Store.destroy(storeName);
  });

  it('defaults: store "keyv", codec v8; store options pass through', () => {
    const a = new KeyvThreadKv();
    expect(a.store.name).toBe('keyv');
    expect(a.store.options.codec).toBe('v8');
    const storeName = `${name}-options`;
    const b = new KeyvThreadKv({ name: storeName, shards: 4, maxEntries: 100, ttlMs: 60_000 });
    expect(b.store.options).toMatchObject({ codec: 'v8', shards: 4, maxEntries: 100, ttlMs: 60_000 });
    expect(b.opts).toMatchObject({ name: storeName, dialect: 'threadkv', shards: 4 });
    Store.destroy(storeName);
  });

  it("a Keyv ttl also expires the entry natively: has() and the store itself no longer see it", async () => {
    const storeName = `${name}-ttl`;
    const adapter = new KeyvThreadKv(storeName);
    const keyv = new Keyv({ store: adapter });
    await keyv.set('short', 'v', 40);
    await keyv.set('long', 'v');
    expect(adapter.store.ttl('keyv:short')).toBeGreaterThan(0);
    expect(adapter.store.ttl('keyv:long')).toBe(Infinity);
    await sleep(80);
    expect(await keyv.has('short')).toBe(false); // Keyv 5 trusts the adapter's has()
    expect(adapter.store.has('keyv:short')).toBe(false);
    expect(await keyv.get('long')).toBe('v');
    Store.destroy(storeName);
  });

  it('setMany with different ttls', async () => {
    const storeName = `${name}-setmany`;
    const adapter = new KeyvThreadKv(storeName);
    const keyv = new Keyv({ store: adapter });
    expect(await keyv.setMany([{ key: 'a', value: 1 }, { key: 'b', value: 2, ttl: 30 }, { key: 'c', value: 3, ttl: 60_000 }])).toEqual([true, true, true]);
    expect(await keyv.get(['a', 'b', 'c'])).toEqual([1, 2, 3]);
    expect(adapter.store.ttl('keyv:a')).toBe(Infinity);
    await sleep(60);
    expect(await keyv.get(['a', 'b', 'c'])).toEqual([1, undefined, 3]);
    Store.destroy(storeName);
  });

  it('clear() with no namespace empties the store; with one, only that namespace', async () => {
    const storeName = `${name}-clear`;
    const plain = new Keyv({ store: new KeyvThreadKv(storeName), namespace: undefined });
    const ns = new Keyv({ store: new KeyvThreadKv(storeName), namespace: 'ns' });
    await plain.set('x', 1);
    await ns.set('y', 2);
    await ns.clear();
    expect(await plain.get('x')).toBe(1);
    await ns.set('y', 2);
    await plain.clear();
    expect(Store.open(storeName).size).toBe(0);
    Store.destroy(storeName);
  });

  it('with Keyv serialization off, the v8 codec keeps Map, Date and BigInt', async () => {
    const storeName = `${name}-raw`;
    const keyv = new Keyv({ store: new KeyvThreadKv(storeName), serialize: undefined, deserialize: undefined });
    const value = { m: new Map([['k', 1n]]), when: new Date(0) };
    await keyv.set('v', value);
    expect(await keyv.get('v')).toEqual(value);
    Store.destroy(storeName);
  });

  it('disconnect() closes the handle; the entries stay', async () => {
    const storeName = `${name}-disconnect`;
    const keyv = new Keyv({ store: new KeyvThreadKv(storeName) });
    await keyv.set('k', 'kept');
    await keyv.disconnect();
    await expect(keyv.store.get('keyv:k')).rejects.toThrow();
    expect(await new Keyv({ store: new KeyvThreadKv(storeName) }).get('k')).toBe('kept');
    Store.destroy(storeName);
  });
});
