// Type tests of the main entry point, 'threadkv' (a CommonJS consumer: this
// .ts file is CommonJS under "module": "nodenext", as the repository's
// package.json has no "type"). Checked by `npm run test:types`, never run.
import { ErrorCode, Store, Watcher } from 'threadkv';
import type {
  BatchOptions,
  CodecName,
  ComputeContext,
  GetOrComputeOptions,
  GetOrComputeSyncOptions,
  IterateOptions,
  ResolvedStoreOptions,
  StoreOptions,
  StoreStats,
  ThreadKvError,
  VersionedEntry,
  ChangeEvent,
  ChangeType,
  WatchEventType,
  WatchOptions,
  WriteOptions,
} from 'threadkv';
import { type Equal, expectType, } from './helpers';

interface User {
  a: number;
}

type ErrorCodeOf<K extends keyof typeof ErrorCode> = (typeof ErrorCode)[K];

// ---- Generics flow through Store.open<V> ----
const s = Store.open<User>('types-user');
expectType<Equal<typeof s, Store<User>>>(true);
const v: User | undefined = s.get('k');
expectType<Equal<ReturnType<typeof s.get>, User | undefined>>(true);
void v;
expectType<Equal<typeof s.set, (key: string, value: User, options?: WriteOptions) => Store<User>>>(true);
s.set('k', { a: 1 }).set('k2', { a: 2 }, { ttlMs: 1000 }); // chainable
expectType<Equal<ReturnType<typeof s.take>, User | undefined>>(true);
expectType<Equal<ReturnType<typeof s.swap>, User | undefined>>(true);
expectType<Equal<ReturnType<typeof s.getEntry>, VersionedEntry<User> | undefined>>(true);
expectType<Equal<ReturnType<typeof s.getMany>, (User | undefined)[]>>(true);
expectType<Equal<ReturnType<typeof s.values>, IterableIterator<User>>>(true);
expectType<Equal<ReturnType<typeof s.entries>, IterableIterator<[string, User]>>>(true);
expectType<Equal<ReturnType<typeof s.keys>, IterableIterator<string>>>(true);
for (const [key, user] of s) {
  expectType<Equal<typeof key, string>>(true);
  expectType<Equal<typeof user, User>>(true);
}
const made = s.getOrSet('k', (key) => ({ a: key.length }));
expectType<Equal<typeof made, User>>(true);
const given = s.getOrSet('k', { a: 1 }, { ttlMs: 10 });
expectType<Equal<typeof given, User>>(true);
const next = s.update('k', (old) => {
  expectType<Equal<typeof old, User | undefined>>(true);
  return old === undefined ? { a: 0 } : { a: old.a + 1 };
}, { maxRetries: 5 });
expectType<Equal<typeof next, User | undefined>>(true);
// ---- getOrCompute / getOrComputeSync ----
const computed = s.getOrCompute('k', async (key, ctx) => {
  expectType<Equal<typeof key, string>>(true);
  expectType<Equal<typeof ctx, ComputeContext>>(true);
  expectType<Equal<typeof ctx.signal, AbortSignal>>(true);
  return { a: key.length };
});
expectType<Equal<typeof computed, Promise<User>>>(true);
const computedSyncFactory = s.getOrCompute('k', (key) => ({ a: key.length }), {
  ttlMs: 1000,
  waitTimeoutMs: 50,
  leaseMs: 30_000,
  signal: AbortSignal.timeout(100),
});
expectType<Equal<typeof computedSyncFactory, Promise<User>>>(true);
const computedSync = s.getOrComputeSync('k', (key) => ({ a: key.length }), { ttlMs: 1, waitTimeoutMs: 1, leaseMs: 1 });
expectType<Equal<typeof computedSync, User>>(true);
const computeOptions: GetOrComputeOptions = { waitTimeoutMs: 1 };
const computeSyncOptions: GetOrComputeSyncOptions = { leaseMs: 1 };
void computeOptions;
void computeSyncOptions;
// @ts-expect-error getOrComputeSync takes no signal
s.getOrComputeSync('k', () => ({ a: 1 }), { signal: AbortSignal.timeout(1) });
// @ts-expect-error the factory must produce the store's value type
void s.getOrCompute('k', () => 'not a user');
expectType<Equal<ErrorCodeOf<'COMPUTE_TIMEOUT'>, 'ERR_THREADKV_COMPUTE_TIMEOUT'>>(true);
expectType<Equal<ErrorCodeOf<'RECURSIVE_COMPUTE'>, 'ERR_THREADKV_RECURSIVE_COMPUTE'>>(true);
const loadsField: StoreStats['loads'] = 0;
void loadsField;

// ---- watch ----
const watcher = s.watch({ prefix: 'user:', events: ['set', 'delete'], maxQueue: 100, signal: AbortSignal.timeout(1) } satisfies WatchOptions);
expectType<Equal<typeof watcher, Watcher>>(true);
watcher.on('change', (batch) => {
  expectType<Equal<typeof batch, ChangeEvent[]>>(true);
  for (const e of batch) {
    expectType<Equal<typeof e.type, ChangeType>>(true);
    const fields: [string, number, number, number | undefined] = [e.key, e.version, e.seq, e.lost];
    void fields;
  }
});
watcher.once('close', () => {});
const refed: Watcher = watcher.unref().ref();
void refed;
watcher.close();
const closedNow: boolean = watcher.closed;
void closedNow;
void (async () => {
  for await (const batch of s.watch({ key: 'k' })) {
    expectType<Equal<typeof batch, ChangeEvent[]>>(true);
    break;
  }
})();
expectType<Equal<WatchEventType, 'set' | 'delete' | 'expire' | 'evict' | 'clear'>>(true);
expectType<Equal<ChangeType, WatchEventType | 'overflow'>>(true);
const watchersField: StoreStats['watchers'] = 0;
void watchersField;
// @ts-expect-error: not an event a watcher can ask for
s.watch({ events: ['overflow'] });
// @ts-expect-error: a prefix is a string
s.watch({ prefix: 1 });
// @ts-expect-error: 'change' listeners get a batch
watcher.on('change', (batch: string) => void batch);
// @ts-expect-error: a Watcher is made by store.watch()
new Watcher();

const entry = s.getEntry('k');
if (entry !== undefined) {
  expectType<Equal<typeof entry.value, User>>(true);
  expectType<Equal<typeof entry.version, number>>(true);
  const stored: boolean = s.compareAndSet('k', entry.version, { a: 3 });
  void stored;
}
s.compareAndSet('k', null, { a: 4 });
s.setMany([['a', { a: 1 }], ['b', { a: 2 }]], { atomic: true, ttlMs: 5 } satisfies BatchOptions);
const deleted: number = s.deleteMany(new Set(['a', 'b']));
void deleted;
const prefixed: string[] = [...s.keys({ prefix: 'user:' } satisfies IterateOptions)];
void prefixed;
const n: number = Store.open<number>('types-counter').increment('hits', 2);
void n;
// The default value type is unknown: narrow before use.
const anything = Store.open('types-unknown').get('k');
expectType<Equal<typeof anything, unknown>>(true);

// ---- Options and results ----
const opts: StoreOptions = { codec: 'json', shards: 8, maxEntries: 1000, maxBytes: 1 << 20, evictionPolicy: 'sieve', ttlMs: 60_000 };
Store.open('types-opts', opts);
const resolved: ResolvedStoreOptions = s.options;
expectType<Equal<typeof resolved.codec, CodecName>>(true);
expectType<Equal<CodecName, 'v8' | 'json' | 'string' | 'buffer'>>(true);
const stats: StoreStats = s.stats();
void stats.hits;
const names: string[] = Store.list();
const _existed: boolean = Store.destroy('types-opts');
void names;
void _existed;

// ---- Errors ----
try {
  s.get('k');
} catch (err) {
  const e = err as ThreadKvError;
  if (e.code === ErrorCode.KEY_TYPE || e.code === ErrorCode.UPDATE_CONTENDED) void e.message;
  // @ts-expect-error: not an ErrorCode
  if (e.code === 'ERR_SOMETHING_ELSE') void 0;
}

// ---- Wrong arguments are compile errors ----
// @ts-expect-error: keys are strings
s.get(1);
// @ts-expect-error: keys are strings
s.set(42, { a: 1 });
// @ts-expect-error: the value must be a User
s.set('k', { a: 'one' });
// @ts-expect-error: the value must be a User
s.set('k', 'text');
// @ts-expect-error: the factory must return a User
s.getOrSet('k', () => 'text');
// A factory that returns a Promise is a type error (getOrCompute is the async
// one), for a typed store and an untyped one alike; a factory that only
// throws is fine.
// @ts-expect-error getOrSet needs a synchronous factory
s.getOrSet('k', async () => ({ a: 1 }));
// @ts-expect-error getOrSet needs a synchronous factory
Store.open('untyped').getOrSet('k', () => Promise.resolve(5));
expectType<Equal<unknown, ReturnType<typeof untypedGetOrSet>>>(true);
function untypedGetOrSet(): unknown {
  return Store.open('untyped').getOrSet('k', (key) => key.length);
}
s.getOrSet('k', () => {
  throw new Error('no value');
});
// @ts-expect-error: update's function must return a User or undefined
s.update('k', () => 5);
// @ts-expect-error: setMany takes [key, value] pairs of User
s.setMany([['k', 1]]);
// @ts-expect-error: a version is a number or null
s.compareAndSet('k', '3', { a: 1 });
// @ts-expect-error: unknown option
Store.open('types-bad', { unknownOption: true });
// @ts-expect-error: no such codec
Store.open('types-bad', { codec: 'msgpack' });
// @ts-expect-error: shards is a number
Store.open('types-bad', { shards: '64' });
// @ts-expect-error: no such eviction policy
Store.open('types-bad', { evictionPolicy: 'lru' });
// @ts-expect-error: the name is a string
Store.open(1);
// @ts-expect-error: ttlMs is a number
s.set('k', { a: 1 }, { ttlMs: '10' });
// @ts-expect-error: keys() takes an options object
s.keys('user:');
// @ts-expect-error: name and options are readonly
s.name = 'other';
// @ts-expect-error: the constructor is private: use Store.open
new Store();
