import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode } from 'threadkv';
import { storeFactory } from '../support/store';
import { contents, samples, tempDirs } from '../support/snapshot';
import { buildSnapshot, parseSnapshot } from '../support/snapshot-format';
import { fixture } from '../support/workers';

// Compatibility: the format-version-1 golden file must always restore; a
// file of a future format fails cleanly; the native writer follows the
// documented layout (checked by an independent reader, test/support/snapshot-format.ts).

const golden = (): Buffer => fs.readFileSync(fixture(path.join('snapshot', 'v1-golden.tkvsnap')));

describe('snapshot format compatibility', () => {
  const open = storeFactory('snapgolden');
  const tmp = tempDirs();

  it('restores the format version 1 golden file', () => {
    const s = open({ codec: 'v8' });
    const file = path.join(tmp(), 'golden.snap');
    fs.writeFileSync(file, golden());
    const r = s.restoreSync(file);
    const want = Object.entries(samples('v8'));
    want.push(['counter', 41], ['expires-2100', 'far']);
    assert.equal(r.entries, want.length);
    assert.equal(r.skippedExpired, 1, 'the entry that expired in 2001');
    assert.equal(r.skippedCorrupt, 0);
    assert.deepEqual(contents(s), want.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    const left = s.ttl('expires-2100')!;
    const expected = 4_102_444_800_000 - Date.now();
    assert.ok(Math.abs(left - expected) < 60_000, `ttl ${left}, expected about ${expected}`);
    assert.equal(s.increment('counter'), 42, 'a restored counter is a counter');
  });

  it('the golden file is what the document describes', () => {
    const f = parseSnapshot(golden());
    assert.equal(f.formatVersion, 1);
    assert.equal(f.minReaderVersion, 1);
    assert.equal(f.codec, 0);
    assert.equal(f.v8WireVersion, 15);
    assert.equal(f.storeName, 'golden');
    assert.equal(f.threadkvVersion, '0.1.0');
    assert.equal(f.nodeVersion, 'v20.20.2');
    assert.equal(f.lastVersions.length, 4);
  });

  it('refuses a file of a future format with a version error, and reads a newer one it is allowed to', () => {
    const s = open({ codec: 'v8' });
    s.set('keep', 1);
    const dir = tmp();
    const future = path.join(dir, 'future.snap');
    fs.writeFileSync(future, buildSnapshot({ ...parseSnapshot(golden()), formatVersion: 3, minReaderVersion: 2 }));
    assert.throws(() => s.restoreSync(future), (err: Error & Record<string, unknown>) => {
      assert.equal(err.code, ErrorCode.SNAPSHOT_VERSION);
      assert.match(err.message, /format version 3, which needs a reader of format version 2 or later; this threadkv \([^)]+\) reads format versions up to 1/);
      assert.equal(err.path, future);
      return true;
    });
    assert.deepEqual(contents(s), [['keep', 1]]);
    const compatible = path.join(dir, 'compatible.snap');
    fs.writeFileSync(compatible, buildSnapshot({ ...parseSnapshot(golden()), formatVersion: 2, minReaderVersion: 1 }));
    assert.equal(s.restoreSync(compatible).skippedExpired, 1);
  });

  it('refuses values serialized by a newer V8 than this Node reads, at restore rather than at get', () => {
    const f = parseSnapshot(golden());
    f.v8WireVersion = 99;
    const file = path.join(tmp(), 'newer-v8.snap');
    fs.writeFileSync(file, buildSnapshot(f));
    const s = open({ codec: 'v8' });
    assert.throws(() => s.restoreSync(file), { code: ErrorCode.SNAPSHOT_VERSION, message: /V8 wire format version 99 \(written by Node v20\.20\.2\), and this Node \(v\d+/ });
    // A value whose own header claims a newer version, under an honest-looking file header.
    const g = parseSnapshot(golden());
    const block = g.blocks[0]!;
    block.push({ key: Buffer.from('new'), kind: 0, flags: 0, value: Buffer.from([0xff, 0x63, 0x22, 0x01, 0x78]), expiryMs: 0n });
    fs.writeFileSync(file, buildSnapshot(g));
    assert.throws(() => s.restoreSync(file, { onCorrupt: 'skip' }), { code: ErrorCode.SNAPSHOT_VERSION, message: /version 99/ });
    assert.equal(s.size, 0);
  });

  it('the native writer follows the documented layout', () => {
    const s = open({ codec: 'string', shards: 8 });
    s.set('a', 'x').set('b', 'y', { ttlMs: 60_000 });
    s.increment('n', 3);
    const file = path.join(tmp(), 'layout.snap');
    const before = Date.now();
    s.snapshotSync(file);
    const f = parseSnapshot(fs.readFileSync(file));
    assert.equal(f.codec, 2);
    assert.equal(f.v8WireVersion, 0);
    assert.equal(f.lastVersions.length, 8);
    assert.equal(f.nodeVersion, process.version);
    assert.ok(f.createdMs >= BigInt(before) - 1000n && f.createdMs <= BigInt(Date.now()) + 1000n);
    const entries = f.blocks.flat();
    assert.equal(f.trailer.entryCount, 3n);
    const byKey = new Map(entries.map((e) => [e.key.toString(), e]));
    assert.deepEqual([byKey.get('a')!.kind, byKey.get('a')!.flags, byKey.get('a')!.value.toString(), byKey.get('a')!.expiryMs], [1, 2, 'x', 0n]);
    const b = byKey.get('b')!;
    assert.ok(Number(b.expiryMs) > before + 50_000 && Number(b.expiryMs) <= Date.now() + 60_001);
    assert.equal(byKey.get('n')!.kind, 3); // an int64 counter
    assert.equal(byKey.get('n')!.value.readBigInt64LE(0), 3n);
  });
});
