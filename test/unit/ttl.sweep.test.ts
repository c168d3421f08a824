import assert from 'node:assert/strict';
import { Store } from 'threadkv';
import { uniqueName } from '../support/workers';

// The background sweep reclaims expired entries' memory with no thread
// touching the store: stats().bytes and entries drop on their own.

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('ttl: background sweep', () => {
  let name = '';
  beforeEach(() => {
    name = uniqueName('ttl-sweep');
  });
  afterEach(() => {
    Store.destroy(name);
  });

  it('reclaims expired entries without any access: stats().bytes drops to what is left', async () => {
    const s = Store.open<string>(name, { codec: 'string', shards: 8 });
    for (let i = 0; i < 5000; i++) s.set(`t${i}`, 'x'.repeat(100), { ttlMs: 50 });
    s.set('stay', 'y');
    const before = s.stats();
    assert.equal(before.entries, 5001);
    // Nothing touches the store from here on except stats(), which only reads counters.
    let after = s.stats();
    for (let waited = 0; waited < 5000 && after.entries > 1; waited += 50) {
      await sleep(50);
      after = s.stats();
    }
    assert.equal(after.entries, 1);
    assert.equal(after.bytes, 4 + 1 + 48);
    assert.equal(after.expirations, 5000);
    assert.equal(after.hits + after.misses, 0, 'nothing read the store');
    assert.equal(s.get('stay'), 'y');
  });

  it('a store with only far deadlines keeps its entries', async () => {
    const s = Store.open(name);
    s.set('k', 1, { ttlMs: 60_000 });
    await sleep(250);
    assert.equal(s.stats().entries, 1);
    assert.equal(s.stats().expirations, 0);
  });
});
