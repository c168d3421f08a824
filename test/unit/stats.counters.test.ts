import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { uniqueName } from '../support/workers';

describe('stats()', () => {
  let name = '';
  beforeEach(() => {
    name = uniqueName('stats');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('a fresh store: all zero, with its shard count', () => {
    const s = Store.open(name, { shards: 4 });
    assert.deepEqual(s.stats(), {
      entries: 0, bytes: 0, hits: 0, misses: 0, sets: 0, deletes: 0, evictions: 0, expirations: 0,
      contendedReads: 0, contendedWrites: 0, shards: 4, expiryCascades: 0, sweeps: 0,
      loads: 0, loadsJoined: 0, loadErrors: 0, loadTimeouts: 0, leadersLost: 0, flightsInProgress: 0, watchers: 0,
    });
  });

  it('counts hits, misses, sets and deletes per operation', () => {
    const s = Store.open<number>(name, { codec: 'json' });
    s.set('a', 1).set('b', 2);
    s.get('a');
    s.get('a');
    s.get('zz');
    s.has('b');
    s.has('nope');
    s.getMany(['a', 'x', 'y']);
    s.increment('c');
    s.setMany([['d', 1], ['e', 2]]);
    s.delete('a');
    s.delete('a');
    s.take('b');
    const st = s.stats();
    assert.equal(st.hits, 4);
    assert.equal(st.misses, 4);
    assert.equal(st.sets, 5);
    assert.equal(st.deletes, 2);
    assert.equal(st.entries, 3);
    assert.equal(st.evictions, 0);
  });

  it('bytes is key + encoded value + 48 per entry (no eviction: no queue links)', () => {
    const s = Store.open<string>(name, { codec: 'string' });
    s.set('ab', 'hello');
    s.set('c', '');
    assert.equal(s.stats().bytes, 2 + 5 + 48 + 1 + 0 + 48);
    s.clear();
    assert.equal(s.stats().bytes, 0);
  });

  it('every handle, on every thread, sees the same counters', () => {
    const a = Store.open(name);
    const b = Store.open(name);
    a.set('k', 1);
    b.get('k');
    assert.deepEqual(a.stats(), b.stats());
  });

  it('a destroyed store throws', () => {
    const s = Store.open(name);
    Store.destroy(name);
    assert.throws(() => s.stats(), /destroyed/);
  });
});
