// An independent reading and writing of the snapshot format, version 1, as
// docs/snapshot-format.md describes it: the tests use it to check that the
// native writer follows the document, and to build files the native writer
// never makes (future versions, edited entries).
import { crc32c } from './snapshot';

export interface ParsedEntry {
  key: Buffer;
  kind: number;
  flags: number;
  value: Buffer;
  expiryMs: bigint;
}

export interface ParsedFile {
  formatVersion: number;
  minReaderVersion: number;
  codec: number;
  v8WireVersion: number;
  createdMs: bigint;
  fileId: bigint;
  lastVersions: bigint[];
  storeName: string;
  threadkvVersion: string;
  nodeVersion: string;
  blocks: ParsedEntry[][];
  trailer: { entryCount: bigint; blockCount: bigint; dataBytes: bigint; fileId: bigint; crcOfCrcs: number };
}

/** Parses a well-formed file, checking every CRC and magic; throws on anything else. */
export function parseSnapshot(b: Buffer): ParsedFile {
  const fail = (what: string): never => {
    throw new Error(`parseSnapshot: ${what}`);
  };
  if (b.toString('latin1', 0, 8) !== 'TKVSNAP\0') fail('magic');
  const headerSize = b.readUInt32LE(12);
  if (b.readUInt32LE(headerSize - 4) !== crc32c(b.subarray(0, headerSize - 4))) fail('header crc');
  let at = 40;
  const shards = b.readUInt32LE(36);
  const lastVersions: bigint[] = [];
  for (let i = 0; i < shards; i++, at += 8) lastVersions.push(b.readBigUInt64LE(at));
  const nameLen = b.readUInt16LE(at);
  const storeName = b.toString('utf8', at + 2, at + 2 + nameLen);
  at += 2 + nameLen;
  const tkvLen = b[at]!;
  const threadkvVersion = b.toString('latin1', at + 1, at + 1 + tkvLen);
  at += 1 + tkvLen;
  const nodeLen = b[at]!;
  const nodeVersion = b.toString('latin1', at + 1, at + 1 + nodeLen);
  at += 1 + nodeLen;
  if (at !== headerSize - 4) fail('header layout');
  const fileId = b.readBigUInt64LE(28);
  const blocks: ParsedEntry[][] = [];
  let crcOfCrcs = 0;
  at = headerSize;
  while (b.toString('latin1', at, at + 4) === 'TKVB') {
    if (b.readUInt32LE(at + 28) !== crc32c(b.subarray(at, at + 28))) fail(`block header crc at ${at}`);
    if (b.readUInt32LE(at + 4) !== blocks.length) fail('block index');
    if (b.readBigUInt64LE(at + 16) !== fileId) fail('block file id');
    const size = b.readUInt32LE(at + 8);
    const count = b.readUInt32LE(at + 12);
    const payload = b.subarray(at + 32, at + 32 + size);
    if (b.readUInt32LE(at + 24) !== crc32c(payload)) fail('payload crc');
    crcOfCrcs = crc32c(b.subarray(at + 24, at + 28), crcOfCrcs);
    const entries: ParsedEntry[] = [];
    let p = 0;
    for (let i = 0; i < count; i++) {
      const keySize = payload.readUInt32LE(p);
      const valueSize = payload.readUInt32LE(p + 4);
      entries.push({
        kind: payload[p + 8]!,
        flags: payload[p + 9]!,
        expiryMs: payload.readBigInt64LE(p + 10),
        key: payload.subarray(p + 18, p + 18 + keySize),
        value: payload.subarray(p + 18 + keySize, p + 18 + keySize + valueSize),
      });
      p += 18 + keySize + valueSize;
    }
    if (p !== size) fail('payload layout');
    blocks.push(entries);
    at += 32 + size;
  }
  if (b.length - at !== 56 || b.toString('latin1', at, at + 8) !== 'TKVTRAIL' || b.toString('latin1', at + 48, at + 56) !== 'TKVEND\0\0') fail('trailer');
  if (b.readUInt32LE(at + 44) !== crc32c(b.subarray(at, at + 44))) fail('trailer crc');
  const trailer = {
    entryCount: b.readBigUInt64LE(at + 8),
    blockCount: b.readBigUInt64LE(at + 16),
    dataBytes: b.readBigUInt64LE(at + 24),
    fileId: b.readBigUInt64LE(at + 32),
    crcOfCrcs: b.readUInt32LE(at + 40),
  };
  if (trailer.crcOfCrcs !== crcOfCrcs) fail('crc of crcs');
  return {
    formatVersion: b.readUInt16LE(8),
    minReaderVersion: b.readUInt16LE(10),
    codec: b[16]!,
    v8WireVersion: b[17]!,
    createdMs: b.readBigInt64LE(20),
    fileId,
    lastVersions,
    storeName,
    threadkvVersion,
    nodeVersion,
    blocks,
    trailer,
  };
}

/** Writes `f` as a file (counts, sizes and CRCs computed; the trailer's counts from the blocks). */
export function buildSnapshot(f: ParsedFile): Buffer {
  const u16 = (v: number) => { const x = Buffer.alloc(2); x.writeUInt16LE(v); return x; };
  const u32 = (v: number) => { const x = Buffer.alloc(4); x.writeUInt32LE(v >>> 0); return x; };
  const u64 = (v: bigint) => { const x = Buffer.alloc(8); x.writeBigUInt64LE(v); return x; };
  const i64 = (v: bigint) => { const x = Buffer.alloc(8); x.writeBigInt64LE(v); return x; };
  const name = Buffer.from(f.storeName, 'utf8');
  const header = Buffer.concat([
    Buffer.from('TKVSNAP\0', 'latin1'), u16(f.formatVersion), u16(f.minReaderVersion), u32(0),
    Buffer.from([f.codec, f.v8WireVersion]), u16(0), i64(f.createdMs), u64(f.fileId), u32(f.lastVersions.length),
    ...f.lastVersions.map(u64), u16(name.length), name,
    Buffer.from([f.threadkvVersion.length]), Buffer.from(f.threadkvVersion, 'latin1'),
    Buffer.from([f.nodeVersion.length]), Buffer.from(f.nodeVersion, 'latin1'), u32(0),
  ]);
  header.writeUInt32LE(header.length, 12);
  header.writeUInt32LE(crc32c(header.subarray(0, header.length - 4)), header.length - 4);
  const parts: Buffer[] = [header];
  let crcOfCrcs = 0;
  let entries = 0n;
  let dataBytes = 0n;
  f.blocks.forEach((block, index) => {
    const payload = Buffer.concat(
      block.flatMap((e) => [u32(e.key.length), u32(e.value.length), Buffer.from([e.kind, e.flags]), i64(e.expiryMs), e.key, e.value]),
    );
    const bh = Buffer.concat([Buffer.from('TKVB', 'latin1'), u32(index), u32(payload.length), u32(block.length), u64(f.fileId), u32(crc32c(payload)), u32(0)]);
    bh.writeUInt32LE(crc32c(bh.subarray(0, 28)), 28);
    crcOfCrcs = crc32c(bh.subarray(24, 28), crcOfCrcs);
    entries += BigInt(block.length);
    for (const e of block) dataBytes += BigInt(e.key.length + e.value.length);
    parts.push(bh, payload);
  });
  const trailer = Buffer.concat([Buffer.from('TKVTRAIL', 'latin1'), u64(entries), u64(BigInt(f.blocks.length)), u64(dataBytes), u64(f.fileId), u32(crcOfCrcs), u32(0), Buffer.from('TKVEND\0\0', 'latin1')]);
  trailer.writeUInt32LE(crc32c(trailer.subarray(0, 44)), 44);
  parts.push(trailer);
  return Buffer.concat(parts);
}
