// Type tests of 'threadkv/keyv' with Keyv 5: the adapter is a
// KeyvStoreAdapter, takes StoreOptions plus a name, and Keyv accepts it.
import Keyv, { type KeyvStoreAdapter } from 'keyv';
import type { Store, StoreOptions } from 'threadkv';
import { KeyvThreadKv, type KeyvThreadKvOptions } from 'threadkv/keyv';
import { type Equal, expectType } from './helpers';

const adapter = new KeyvThreadKv({ name: 'types-cache', maxEntries: 1000, ttlMs: 60_000 });
const asKeyv: KeyvStoreAdapter = adapter; // structurally a Keyv 5 adapter
const keyv = new Keyv<{ id: number }>({ store: adapter, namespace: 'users' });
new Keyv(new KeyvThreadKv('types-cache'));
new Keyv({ store: new KeyvThreadKv() });
void asKeyv;

expectType<Equal<typeof adapter.store, Store<unknown>>>(true);
expectType<Equal<typeof adapter.namespace, string | undefined>>(true);
const options: KeyvThreadKvOptions = { name: 'x', codec: 'json', shards: 4 };
const storeOptions: StoreOptions = options; // every store option passes through
void storeOptions;

async function use(): Promise<void> {
  const ok: boolean = await keyv.set('1', { id: 1 }, 1000);
  const got = await keyv.get('1');
  expectType<Equal<typeof got, { id: number } | undefined>>(true);
  const _raw: unknown = await adapter.get('users:1');
  const _many: unknown[] = await adapter.getMany(['users:1']);
  const _results: boolean[] = await keyv.setMany([{ key: '2', value: { id: 2 }, ttl: 10 }]);
  const _any: boolean = await adapter.deleteMany(['users:1']);
  for await (const [key, value] of adapter.iterator('users')) {
    expectType<Equal<typeof key, string>>(true);
    void value;
  }
  await adapter.clear();
  await adapter.disconnect();
  adapter.on('error', (err: unknown) => void err);
  for (const used of [ok, _raw, _many, _results, _any]) void used;
}
void use;

// @ts-expect-error: the name is a string
new KeyvThreadKv(42);
// @ts-expect-error: no such codec
new KeyvThreadKv({ codec: 'msgpack' });
// @ts-expect-error: unknown option
new KeyvThreadKv({ name: 'x', url: 'redis://localhost' });
// @ts-expect-error: Keyv's ttl is a number of milliseconds
adapter.set('k', 'v', '10s');
