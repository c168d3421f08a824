import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCode, type RestoreInfo, type Store } from 'threadkv';
import { storeFactory } from '../support/store';
import { contents, tempDirs } from '../support/snapshot';

// A damaged file is never loaded as wrong data: every single-byte change of
// a small snapshot, every truncation and random files are refused (the store
// unchanged) with onCorrupt 'throw', and with 'skip' they load only entries
// that are in the original, byte for byte, and count what they skipped.

describe('snapshot corruption', () => {
  const open = storeFactory('snapcorrupt');
  const tmp = tempDirs();

  function refusedUnchanged(dst: Store<string>, file: string, what: string): void {
    const before = contents(dst);
    let thrown: unknown;
    try {
      dst.restoreSync(file);
    } catch (err) {
      thrown = err;
    }
    assert.ok(thrown instanceof Error, `${what}: loaded`);
    const code = (thrown as { code?: string }).code;
    assert.ok(code === ErrorCode.SNAPSHOT_CORRUPT || code === ErrorCode.SNAPSHOT_VERSION, `${what}: ${code} ${(thrown as Error).message}`);
    assert.deepEqual(contents(dst), before, `${what}: the store changed`);
  }

  function skipLoadsOnlyTruth(dst: Store<string>, file: string, truth: Map<string, string>, what: string): number {
    dst.clear();
    let r: RestoreInfo;
    try {
      r = dst.restoreSync(file, { onCorrupt: 'skip', mode: 'fillMissing' });
    } catch (err) {
      assert.ok([ErrorCode.SNAPSHOT_CORRUPT, ErrorCode.SNAPSHOT_VERSION].includes((err as { code: never }).code), `${what}: ${(err as Error).message}`);
      assert.equal(dst.size, 0);
      return 0;
    }
    for (const [k, v] of contents(dst)) assert.equal(truth.get(k), v, `${what}: wrong data for ${JSON.stringify(k)}`);
    assert.ok(r.skippedCorrupt >= 1, `${what}: loaded ${r.entries} entries and reported nothing skipped`);
    return r.entries;
  }

  function smallSnapshot(): { file: string; bytes: Buffer; truth: Map<string, string> } {
    const src = open<string>({ codec: 'string', shards: 4 });
    const truth = new Map<string, string>();
    for (let i = 0; i < 12; i++) truth.set(`key ${i} \u00e9`, `value ${i} ${'*'.repeat(i)}`);
    truth.set('lone \uD800', 'and \uDFFF');
    for (const [k, v] of truth) src.set(k, v);
    const file = path.join(tmp(), 'small.snap');
    src.snapshotSync(file, { fsync: false });
    return { file, bytes: fs.readFileSync(file), truth };
  }

  it('refuses every single-byte change of a small snapshot, and skip mode never loads wrong data', () => {
    const { file, bytes, truth } = smallSnapshot();
    const dst = open<string>({ codec: 'string', shards: 4 });
    dst.set('sentinel', 'untouched');
    const bad = path.join(path.dirname(file), 'bad.snap');
    const skipDst = open<string>({ codec: 'string', shards: 4 });
    for (let i = 0; i < bytes.length; i++) {
      for (const mask of [0x01, 0x80, 0xff]) {
        const copy = Buffer.from(bytes);
        copy[i] = copy[i]! ^ mask;
        fs.writeFileSync(bad, copy);
        refusedUnchanged(dst, bad, `byte ${i} ^ ${mask}`);
        skipLoadsOnlyTruth(skipDst, bad, truth, `byte ${i} ^ ${mask}`);
      }
    }
    assert.deepEqual(contents(dst), [['sentinel', 'untouched']]);
  });

  it('refuses every truncation', () => {
    const { file, bytes, truth } = smallSnapshot();
    const dst = open<string>({ codec: 'string', shards: 4 });
    dst.set('sentinel', 'untouched');
    const skipDst = open<string>({ codec: 'string', shards: 4 });
    const bad = path.join(path.dirname(file), 'cut.snap');
    for (let n = 0; n < bytes.length; n++) {
      fs.writeFileSync(bad, bytes.subarray(0, n));
      refusedUnchanged(dst, bad, `truncated to ${n}`);
      skipLoadsOnlyTruth(skipDst, bad, truth, `truncated to ${n}`);
    }
  });

  it('refuses random files, with or without the right magic', () => {
    const dst = open<string>({ codec: 'string' });
    const bad = path.join(tmp(), 'random.snap');
    let seed = 12345;
    const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 8;
    for (let i = 0; i < 300; i++) {
      const junk = Buffer.alloc(rand() % 3000);
      for (let j = 0; j < junk.length; j++) junk[j] = rand() & 0xff;
      if (i % 2 === 0 && junk.length >= 8) junk.write('TKVSNAP\0', 0, 'latin1');
      fs.writeFileSync(bad, junk);
      refusedUnchanged(dst, bad, `random file ${i}`);
      skipLoadsOnlyTruth(dst, bad, new Map(), `random file ${i}`);
    }
  });

  it('in a multi-block file, skip mode loads every block but the damaged one', () => {
    const src = open<string>({ codec: 'string', shards: 1 });
    const truth = new Map<string, string>();
    for (let i = 0; i < 40; i++) truth.set(`k${i}`, `${i}:`.padEnd(100_000, String.fromCharCode(97 + (i % 26))));
    for (const [k, v] of truth) src.set(k, v);
    const file = path.join(tmp(), 'multi.snap');
    src.snapshotSync(file, { fsync: false });
    const bytes = fs.readFileSync(file);
    // Find the block headers ("TKVB" + index).
    const blocks: number[] = [];
    for (let at = bytes.readUInt32LE(12); bytes.toString('latin1', at, at + 4) === 'TKVB'; at += 32 + bytes.readUInt32LE(at + 8)) blocks.push(at);
    assert.ok(blocks.length >= 4, `${blocks.length} blocks`);
    const dst = open<string>({ codec: 'string' });
    for (const [b, at] of blocks.entries()) {
      for (const offset of [at, at + 5, at + 29, at + 32, at + 40_000]) {
        const copy = Buffer.from(bytes);
        copy[offset] = copy[offset]! ^ 0x10;
        fs.writeFileSync(file, copy);
        const before = dst.size;
        assert.throws(() => dst.restoreSync(file), { code: ErrorCode.SNAPSHOT_CORRUPT, message: /byte offset \d+/ });
        assert.equal(dst.size, before);
        const loaded = skipLoadsOnlyTruth(dst, file, truth, `block ${b} byte ${offset}`);
        const r = dst.restoreSync(file, { onCorrupt: 'skip' });
        assert.equal(r.skippedCorrupt, 1, `block ${b} byte ${offset}`);
        assert.equal(loaded, r.entries);
        assert.ok(r.entries > 0 && r.entries < truth.size, `block ${b}: ${r.entries} entries`);
      }
    }
  });

  it('says what is wrong and where', () => {
    const { file, bytes } = smallSnapshot();
    const dst = open<string>({ codec: 'string', shards: 4 });
    const bad = path.join(path.dirname(file), 'where.snap');
    const headerSize = bytes.readUInt32LE(12);
    const copy = Buffer.from(bytes);
    copy[headerSize + 40] = copy[headerSize + 40]! ^ 1;
    fs.writeFileSync(bad, copy);
    assert.throws(() => dst.restoreSync(bad), (err: Error & Record<string, unknown>) => {
      assert.equal(err.code, ErrorCode.SNAPSHOT_CORRUPT);
      assert.match(err.message, /block 0 \(at byte offset \d+\) fails its checksum \(stored 0x[0-9a-f]{8}, computed 0x[0-9a-f]{8}\)/);
      assert.match(err.message, /the store was not changed/);
      assert.equal(err.path, bad);
      assert.equal(err.block, 0);
      assert.equal(err.offset, headerSize + 32);
      return true;
    });
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 20));
    assert.throws(() => dst.restoreSync(bad), { code: ErrorCode.SNAPSHOT_CORRUPT, message: /before its trailer \(truncated\?\)/ });
    fs.writeFileSync(bad, '{"not": "a snapshot"}');
    assert.throws(() => dst.restoreSync(bad), { code: ErrorCode.SNAPSHOT_CORRUPT, message: /not a threadkv snapshot.*7b 22 6e 6f/ });
  });
});
