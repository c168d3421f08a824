import assert from 'node:assert/strict';
import { Store, ErrorCode, type StoreOptions } from 'threadkv';

// close() makes one handle unusable and keeps the data; Store.destroy()
// frees the store and makes every handle on it unusable.

/** Every method of a handle, called with valid arguments. */
const methods: [string, (s: Store) => unknown][] = [
  ['get', (s) => s.get('k')],
  ['set', (s) => s.set('k', 1)],
  ['put', (s) => s.put('k', 1)],
  ['has', (s) => s.has('k')],
  ['delete', (s) => s.delete('k')],
  ['clear', (s) => s.clear()],
  ['size', (s) => s.size],
  ['memory', (s) => s.memory()],
];

/** Calls with bad arguments: the closed/destroyed error comes first. */
const badCalls: [string, (s: Store) => unknown][] = [
  ['set with a function value', (s) => s.set('k', () => 1)],
  ['set with a symbol value', (s) => s.set('k', Symbol('v'))],
  ['set with a non-string key', (s) => s.set(1 as unknown as string, 1)],
  ['get with a non-string key', (s) => s.get(null as unknown as string)],
  ['has with a non-string key', (s) => s.has({} as unknown as string)],
  ['delete with a non-string key', (s) => s.delete(undefined as unknown as string)],
];

function assertStoreError(fn: () => unknown, code: string, name: string, what: string): void {
  let thrown: unknown;
  try {
    fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error, `${what}: expected an error`);
  const err = thrown as Error & { code?: string };
  assert.equal(Object.getPrototypeOf(err), Error.prototype, `${what}: expected a plain Error, got ${err.constructor.name}: ${err.message}`);
  assert.equal(err.code, code, `${what}: ${err.message}`);
  assert.ok(err.message.includes(JSON.stringify(name)), `${what}: message ${JSON.stringify(err.message)} should name the store`);
}

describe('Store#close() / Store.destroy()', () => {
  let seq = 0;
  let title = '';
  const created: string[] = [];

  beforeEach(function () {
    title = this.currentTest!.title.replace(/[^\w .,:()-]/g, '_').slice(0, 120);
  });

  afterEach(() => {
    for (const name of created.splice(0)) Store.destroy(name);
  });

  function uniqueName(): string {
    const name = `store.close-destroy#${++seq} ${title}`;
    created.push(name);
    return name;
  }

  function open<V = unknown>(options?: StoreOptions): Store<V> {
    return Store.open<V>(uniqueName(), options);
  }

  describe('close()', () => {
    for (const [method, call] of methods) {
      it(`a closed handle throws an Error naming the store from ${method}`, () => {
        const s = open();
        s.set('k', 'v');
        s.close();
        assertStoreError(() => call(s), ErrorCode.CLOSED, s.name, method);
        // still closed the second time
        assertStoreError(() => call(s), ErrorCode.CLOSED, s.name, method);
      });
    }

    for (const [what, call] of badCalls) {
      it(`a closed handle reports being closed before bad arguments (${what})`, () => {
        const s = open();
        s.close();
        assertStoreError(() => call(s), ErrorCode.CLOSED, s.name, what);
      });
    }

    it('the message says the handle is closed', () => {
      const s = open();
      s.close();
      assert.throws(() => s.get('k'), /closed/);
    });

    it('returns undefined, and closing twice is a no-op', () => {
      const s = open();
      assert.equal(s.close(), undefined);
      assert.doesNotThrow(() => s.close());
      assertStoreError(() => s.get('k'), ErrorCode.CLOSED, s.name, 'get');
    });

    it('name and options stay readable', () => {
      const s = open({ codec: 'json', shards: 2 });
      const name = s.name;
      s.close();
      assert.equal(s.name, name);
      assert.equal(s.options.codec, 'json');
      assert.equal(s.options.shards, 2);
    });

    it('keeps the data: other handles are unaffected', () => {
      const a = open<string>();
      const b = Store.open<string>(a.name);
      a.set('k', 'v').set('k2', 'v2');
      a.close();
      assert.equal(b.get('k'), 'v');
      assert.equal(b.size, 2);
      b.set('k3', 'v3');
      assert.equal(b.size, 3);
      assert.ok(Store.list().includes(a.name));
    });

    it('a new open after every handle is closed sees the data', () => {
      const a = open<number>({ shards: 4 });
      a.set('k', 42);
      a.close();
      const again = Store.open<number>(a.name);
      assert.equal(again.get('k'), 42);
      assert.equal(again.options.shards, 4);
    });

    it('closing one handle does not close another on the same store', () => {
      const a = open();
      const b = Store.open(a.name);
      const c = Store.open(a.name);
      b.close();
      a.set('x', 1);
      assert.equal(c.get('x'), 1);
      assertStoreError(() => b.get('x'), ErrorCode.CLOSED, a.name, 'get');
    });
  });

  describe('Store.destroy()', () => {
    it('returns true for an existing store and removes it from Store.list()', () => {
      const s = open();
      assert.equal(Store.destroy(s.name), true);
      assert.ok(!Store.list().includes(s.name));
    });

    it('returns false for a name that does not exist, or was already destroyed', () => {
      const name = uniqueName();
      assert.equal(Store.destroy(name), false);
      Store.open(name);
      assert.equal(Store.destroy(name), true);
      assert.equal(Store.destroy(name), false);
    });

    for (const [method, call] of methods) {
      it(`every handle on a destroyed store throws an Error naming the store from ${method}`, () => {
        const a = open();
        a.set('k', 'v');
        const b = Store.open(a.name);
        const c = Store.open(a.name);
        Store.destroy(a.name);
        for (const h of [a, b, c]) assertStoreError(() => call(h), ErrorCode.DESTROYED, a.name, method);
      });
    }

    for (const [what, call] of badCalls.filter(([w]) => !w.includes('key'))) {
      it(`a destroyed store is reported before a bad value (${what})`, () => {
        const s = open();
        Store.destroy(s.name);
        assertStoreError(() => call(s), ErrorCode.DESTROYED, s.name, what);
      });
    }

    it('a destroyed store is reported before an oversized value, as before an unencodable one', () => {
      const s = open({ maxValueBytes: 4 });
      Store.destroy(s.name);
      assertStoreError(() => s.set('k', () => 1), ErrorCode.DESTROYED, s.name, 'unencodable value');
      assertStoreError(() => s.set('k', 'too large'), ErrorCode.DESTROYED, s.name, 'oversized value');
    });

    it('the message says the store was destroyed', () => {
      const s = open();
      Store.destroy(s.name);
      assert.throws(() => s.get('k'), /destroyed/);
    });

    it('a closed handle on a destroyed store still throws an Error naming the store', () => {
      const s = open();
      s.close();
      Store.destroy(s.name);
      assert.throws(() => s.get('k'), (err: Error & { code?: string }) => {
        assert.ok(err.code === ErrorCode.CLOSED || err.code === ErrorCode.DESTROYED, err.code);
        assert.ok(err.message.includes(JSON.stringify(s.name)));
        return true;
      });
    });

    it('close() on a handle of a destroyed store is harmless', () => {
      const s = open();
      Store.destroy(s.name);
      assert.doesNotThrow(() => s.close());
    });

    it('name and options of a handle stay readable after destroy', () => {
      const s = open({ codec: 'string' });
      Store.destroy(s.name);
      assert.equal(typeof s.name, 'string');
      assert.equal(s.options.codec, 'string');
    });

    it('a later open creates a fresh, empty store, with new options if wanted', () => {
      const s = open<unknown>({ codec: 'json', shards: 8 });
      s.set('k', { a: 1 });
      Store.destroy(s.name);
      const fresh = Store.open<string>(s.name, { codec: 'string', shards: 2 });
      assert.equal(fresh.size, 0);
      assert.equal(fresh.get('k'), undefined);
      assert.deepEqual({ ...fresh.options }, { codec: 'string', shards: 2, maxKeyBytes: 65536, maxValueBytes: 67108864 });
      assert.ok(Store.list().includes(s.name));
    });

    it('a later open without options creates the store with the defaults', () => {
      const s = open({ codec: 'buffer', shards: 8, maxKeyBytes: 10, maxValueBytes: 10 });
      Store.destroy(s.name);
      assert.deepEqual({ ...Store.open(s.name).options }, { codec: 'v8', shards: 64, maxKeyBytes: 65536, maxValueBytes: 67108864 });
    });

    it('old handles stay dead after the name is opened again, and do not see the new store', () => {
      const old = open<string>();
      old.set('k', 'old');
      Store.destroy(old.name);
      const fresh = Store.open<string>(old.name);
      fresh.set('k', 'new');
      assertStoreError(() => old.get('k'), ErrorCode.DESTROYED, old.name, 'get');
      assertStoreError(() => old.set('k', 'from old'), ErrorCode.DESTROYED, old.name, 'set');
      assertStoreError(() => old.clear(), ErrorCode.DESTROYED, old.name, 'clear');
      assert.equal(fresh.get('k'), 'new');
      assert.equal(fresh.size, 1);
    });

    it('destroying the new store does not bring the old one back', () => {
      const name = uniqueName();
      Store.open(name).set('k', 1);
      Store.destroy(name);
      Store.open(name).set('k', 2);
      assert.equal(Store.destroy(name), true);
      assert.equal(Store.destroy(name), false);
      assert.equal(Store.open(name).get('k'), undefined);
    });

    it('destroys only the named store', () => {
      const a = open();
      const b = open();
      a.set('k', 1);
      b.set('k', 2);
      Store.destroy(a.name);
      assert.equal(b.get('k'), 2);
      assert.ok(Store.list().includes(b.name));
    });

    it('works when every handle was already closed', () => {
      const s = open();
      s.set('k', 1);
      s.close();
      assert.equal(Store.destroy(s.name), true);
      assert.equal(Store.open(s.name).size, 0);
    });

    it('destroys a store with many entries across many shards', () => {
      const s = open({ shards: 1024 });
      for (let i = 0; i < 5000; i++) s.set(`k${i}`, { i, pad: 'p'.repeat(i % 100) });
      assert.equal(Store.destroy(s.name), true);
      assertStoreError(() => s.size, ErrorCode.DESTROYED, s.name, 'size');
      assert.equal(Store.open(s.name).size, 0);
    });

    it('validates the name like Store.open()', () => {
      assert.throws(() => Store.destroy(1 as unknown as string), { name: 'TypeError', code: ErrorCode.INVALID_NAME });
      assert.throws(() => Store.destroy(undefined as unknown as string), { name: 'TypeError', code: ErrorCode.INVALID_NAME });
      assert.throws(() => Store.destroy(''), { name: 'RangeError', code: ErrorCode.INVALID_NAME });
      assert.throws(() => Store.destroy('d'.repeat(1025)), { name: 'RangeError', code: ErrorCode.INVALID_NAME });
    });
  });
});
