import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Store, ErrorCode, type CodecName } from 'threadkv';
import { storeFactory, throwsWith, CODEC_NAMES } from '../support/store';
import { contents, samples, tempDirs } from '../support/snapshot';

// snapshot / snapshotSync / restore / restoreSync in one process: round
// trips of every codec and value kind, modes, limits, argument checks and
// the errors a user meets.

async function rejectsWith(p: Promise<unknown>, Ctor: ErrorConstructor | TypeErrorConstructor | RangeErrorConstructor, code: string, ...parts: string[]): Promise<Error & Record<string, unknown>> {
  let thrown: unknown;
  try {
    await p;
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Error, 'expected a rejection');
  const err = thrown as Error & Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(err), Ctor.prototype, `${err.constructor.name}: ${err.message}`);
  assert.equal(err.code, code, err.message);
  for (const part of parts) assert.ok(err.message.includes(part), `${JSON.stringify(err.message)} should include ${JSON.stringify(part)}`);
  return err;
}

describe('snapshot and restore', () => {
  const open = storeFactory('snap');
  const tmp = tempDirs();

  for (const codec of CODEC_NAMES) {
    it(`round-trips every value kind of codec '${codec}', sync and async, into another shard count`, async () => {
      const src = open({ codec: codec as CodecName, shards: 8 });
      const values = samples(codec as CodecName);
      for (const [k, v] of Object.entries(values)) src.set(k, v);
      if (codec !== 'string' && codec !== 'buffer') src.increment('counter', 7);
      const dir = tmp();
      const file = path.join(dir, 'a.snap');
      const info = await src.snapshot(file);
      assert.equal(info.path, file);
      assert.equal(info.entries, src.size);
      assert.equal(info.bytes, fs.statSync(file).size);
      assert.ok(info.ms >= 0);
      assert.deepEqual(fs.readdirSync(dir), ['a.snap']);
      for (const shards of [1, 64]) {
        const dst = open({ codec: codec as CodecName, shards });
        const r = shards === 1 ? dst.restoreSync(file) : await dst.restore(file);
        assert.deepEqual(r.entries, src.size);
        assert.equal(r.skippedExpired, 0);
        assert.equal(r.skippedCorrupt, 0);
        assert.equal(r.bytes, info.bytes);
        assert.deepEqual(contents(dst), contents(src));
      }
      const sync = src.snapshotSync(path.join(dir, 'b.snap'), { fsync: false });
      assert.equal(sync.entries, info.entries);
      assert.deepEqual(fs.readFileSync(path.join(dir, 'b.snap')).length, info.bytes);
    });
  }

  it('keeps time to live as a deadline and skips entries already expired', async () => {
    const src = open({ shards: 4 });
    src.set('hour', 1, { ttlMs: 3_600_000 });
    src.set('brief', 2, { ttlMs: 60 });
    src.set('never', 3);
    const file = path.join(tmp(), 't.snap');
    src.snapshotSync(file);
    await new Promise((r) => setTimeout(r, 120));
    const dst = open({ shards: 4, ttlMs: 5_000 });
    const r = dst.restoreSync(file);
    assert.equal(r.entries, 2);
    assert.equal(r.skippedExpired, 1);
    const left = dst.ttl('hour')!;
    assert.ok(left > 3_600_000 - 10_000 && left <= 3_600_000, `ttl ${left}`);
    assert.equal(dst.ttl('never'), Infinity, "an entry saved without expiry keeps none (the store's ttlMs is for new writes)");
    assert.equal(dst.has('brief'), false);
  });

  it("'replace' makes the store's content the file's; 'fillMissing' keeps present keys", async () => {
    const src = open({ codec: 'string' });
    src.set('a', 'file-a').set('b', 'file-b');
    const file = path.join(tmp(), 'm.snap');
    await src.snapshot(file);
    const replace = open({ codec: 'string' });
    replace.set('b', 'live-b').set('c', 'live-c');
    assert.equal((await replace.restore(file)).entries, 2);
    assert.deepEqual(contents(replace), [['a', 'file-a'], ['b', 'file-b']]);
    const fill = open({ codec: 'string' });
    fill.set('b', 'live-b').set('c', 'live-c');
    assert.equal((await fill.restore(file, { mode: 'fillMissing' })).entries, 1);
    assert.deepEqual(contents(fill), [['a', 'file-a'], ['b', 'live-b'], ['c', 'live-c']]);
  });

  it('gives restored entries, and every later write, versions above any the saved store handed out', async () => {
    const src = open({ codec: 'string', shards: 4 });
    for (let i = 0; i < 500; i++) src.set('hot', `v${i}`);
    src.set('cold', 'c');
    const before = src.getEntry('hot')?.version ?? 0;
    const file = path.join(tmp(), 'v.snap');
    await src.snapshot(file);
    for (const mode of ['replace', 'fillMissing'] as const) {
      const dst = open({ codec: 'string', shards: 1 });
      dst.restoreSync(file, { mode });
      for (const k of ['hot', 'cold']) assert.ok((dst.getEntry(k)?.version ?? 0) > before, `${mode} ${k}`);
      // A version kept from before the snapshot never matches a restored entry.
      assert.equal(dst.compareAndSet('hot', before, 'stale'), false);
      assert.equal(dst.get('hot'), 'v499');
      dst.set('new', 'n');
      assert.ok((dst.getEntry('new')?.version ?? 0) > before);
    }
  });

  it('refuses a file of another codec, naming both, and changes nothing', async () => {
    const src = open({ codec: 'json' });
    src.set('a', { x: 1 });
    const file = path.join(tmp(), 'c.snap');
    src.snapshotSync(file);
    const dst = open({ codec: 'v8' });
    dst.set('keep', 1);
    const err = await rejectsWith(dst.restore(file), Error, ErrorCode.SNAPSHOT_CODEC, "codec 'json'", "codec 'v8'", file);
    assert.equal(err.path, file);
    throwsWith(() => dst.restoreSync(file), Error, ErrorCode.SNAPSHOT_CODEC, "codec 'json'");
    assert.deepEqual(contents(dst), [['keep', 1]]);
  });

  it('applies the limits of the store it restores into, as set does', async () => {
    const src = open({ codec: 'string', shards: 1 });
    for (let i = 0; i < 100; i++) src.set(`k${i}`, 'v'.repeat(100));
    const file = path.join(tmp(), 'l.snap');
    src.snapshotSync(file);
    const none = open({ codec: 'string', shards: 1, maxEntries: 50, evictionPolicy: 'none' });
    none.set('keep', 'me');
    throwsWith(() => none.restoreSync(file), RangeError, ErrorCode.STORE_FULL, 'maxEntries', 'the store was not changed');
    assert.deepEqual(contents(none), [['keep', 'me']]);
    const sieve = open({ codec: 'string', shards: 1, maxEntries: 50 });
    assert.equal(sieve.restoreSync(file).entries, 100);
    assert.equal(sieve.size, 50);
    const short = open({ codec: 'string', maxKeyBytes: 2 });
    throwsWith(() => short.restoreSync(file), RangeError, ErrorCode.KEY_TOO_LONG, 'maxKeyBytes (2)', 'the store was not changed');
    const small = open({ codec: 'string', maxValueBytes: 10 });
    await rejectsWith(small.restore(file), RangeError, ErrorCode.VALUE_TOO_LARGE, 'maxValueBytes (10)');
  });

  it('reports I/O errors as Node does, with the path and errno, and leaves no temporary file', async () => {
    const s = open();
    s.set('k', 1);
    const dir = tmp();
    const missing = await rejectsWith(s.restore(path.join(dir, 'nope.snap')), Error, 'ENOENT', 'no such file or directory', 'nope.snap');
    assert.equal(missing.errno, -2);
    assert.equal(missing.syscall, 'open');
    assert.equal(missing.path, path.join(dir, 'nope.snap'));
    throwsWith(() => s.snapshotSync(path.join(dir, 'no-such-dir', 'x.snap')), Error, 'ENOENT', 'open');
    fs.mkdirSync(path.join(dir, 'sub'));
    const onDir = await rejectsWith(s.snapshot(path.join(dir, 'sub')), Error, 'EISDIR', 'rename');
    assert.equal(onDir.syscall, 'rename');
    assert.deepEqual(fs.readdirSync(dir), ['sub'], 'the temporary file was removed');
    await rejectsWith(s.restore(dir), Error, 'EISDIR');
  });

  it('checks its arguments', async () => {
    const s = open();
    const file = path.join(tmp(), 'x.snap');
    throwsWith(() => s.snapshotSync(42 as never), TypeError, ErrorCode.INVALID_ARGUMENT, 'snapshotSync', 'path must be a string');
    await rejectsWith(s.snapshot(''), RangeError, ErrorCode.INVALID_ARGUMENT, 'path must not be empty');
    await rejectsWith(s.snapshot('a\0b'), RangeError, ErrorCode.INVALID_ARGUMENT, 'NUL');
    throwsWith(() => s.snapshotSync(file, { fsync: 'yes' } as never), TypeError, ErrorCode.INVALID_ARGUMENT, 'options.fsync must be a boolean');
    throwsWith(() => s.snapshotSync(file, { fsnc: true } as never), TypeError, ErrorCode.INVALID_ARGUMENT, 'options.fsnc is not a known option');
    throwsWith(() => s.snapshotSync(file, 5 as never), TypeError, ErrorCode.INVALID_ARGUMENT, 'options must be an object');
    s.snapshotSync(file);
    throwsWith(() => s.restoreSync(file, { mode: 'merge' } as never), TypeError, ErrorCode.INVALID_ARGUMENT, "options.mode must be 'replace' or 'fillMissing', got 'merge'");
    await rejectsWith(s.restore(file, { onCorrupt: 'ignore' } as never), TypeError, ErrorCode.INVALID_ARGUMENT, "options.onCorrupt must be 'throw' or 'skip'");
    await rejectsWith(s.restore(null as never), TypeError, ErrorCode.INVALID_ARGUMENT, 'path must be a string, got null');
  });

  it('fails cleanly on a closed handle or a destroyed store', async () => {
    const name = `snap-closed-${process.pid}`;
    const a = Store.open(name);
    const b = Store.open(name);
    a.set('k', 1);
    const file = path.join(tmp(), 'x.snap');
    a.close();
    throwsWith(() => a.snapshotSync(file), Error, ErrorCode.CLOSED);
    await rejectsWith(a.restore(file), Error, ErrorCode.CLOSED);
    Store.destroy(name);
    await rejectsWith(b.snapshot(file), Error, ErrorCode.DESTROYED);
    throwsWith(() => b.restoreSync(file), Error, ErrorCode.DESTROYED);
    assert.equal(fs.existsSync(file), false);
  });

  it('runs snapshots concurrently: each file is complete, the last rename wins', async () => {
    const s = open({ codec: 'string' });
    for (let i = 0; i < 2000; i++) s.set(`k${i}`, `v${i}`);
    const dir = tmp();
    const file = path.join(dir, 'same.snap');
    const infos = await Promise.all([s.snapshot(file), s.snapshot(file), s.snapshot(path.join(dir, 'other.snap')), s.snapshot(file, { fsync: false })]);
    for (const i of infos) assert.equal(i.entries, 2000);
    assert.deepEqual(fs.readdirSync(dir).sort(), ['other.snap', 'same.snap']);
    const dst = open({ codec: 'string' });
    dst.restoreSync(file);
    assert.equal(dst.size, 2000);
  });

  it('snapshots an empty store', () => {
    const s = open();
    const file = path.join(tmp(), 'e.snap');
    const info = s.snapshotSync(file);
    assert.equal(info.entries, 0);
    const d = open();
    d.set('x', 1);
    const { ms, ...rest } = d.restoreSync(file);
    assert.ok(ms >= 0);
    assert.deepEqual(rest, { entries: 0, skippedExpired: 0, skippedCorrupt: 0, bytes: info.bytes });
    assert.equal(d.size, 0, "'replace' with an empty file empties the store");
  });
});
