// Helpers for the snapshot tests: temporary directories, a CRC32C to edit
// files the way a writer would, and sample values of every kind per codec.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CodecName, Store } from 'threadkv';

/** A fresh directory (under the OS temp dir), removed after each test of the suite. */
export function tempDirs(): () => string {
  const made: string[] = [];
  afterEach(() => {
    for (const d of made.splice(0)) fs.rmSync(d, { recursive: true, force: true });
  });
  return () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-snap-'));
    made.push(d);
    return d;
  };
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let b = 0; b < 256; b++) {
    let c = b;
    for (let i = 0; i < 8; i++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[b] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), as the snapshot format uses it. */
export function crc32c(bytes: Uint8Array, crc = 0): number {
  let c = ~crc >>> 0;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

/** Rewrites a snapshot header's CRC after an edit of its bytes (in place). */
export function resealHeader(file: Buffer): Buffer {
  const size = file.readUInt32LE(12);
  file.writeUInt32LE(crc32c(file.subarray(0, size - 4)), size - 4);
  return file;
}

/** Values of every kind each codec stores, by key. */
export function samples(codec: CodecName): Record<string, unknown> {
  const strings = {
    ascii: 'plain text',
    empty: '',
    unicode: 'caf\u00e9 \u20ac \u{1F600}',
    lone: 'lone \uD800 and \uDFFF',
    long: 'x'.repeat(5000),
  };
  switch (codec) {
    case 'v8':
      return {
        ...strings,
        int: 42,
        negZero: -0,
        float: 3.25,
        nan: NaN,
        inf: -Infinity,
        yes: true,
        no: false,
        nil: null,
        undef: undefined,
        object: { a: 1, nested: { list: [1, 'two', null] } },
        array: [1, 2, 3],
        map: new Map<unknown, unknown>([['k', 1], [2, 'v']]),
        set: new Set([1, 'a']),
        date: new Date(1_700_000_000_000),
        bigint: 12345678901234567890n,
        typed: new Float32Array([1.5, -2.25, 3]),
        bytes: new Uint8Array([0, 255, 7]),
        regexp: /ab+c/gi,
      };
    case 'json':
      return { ...strings, int: 42, float: -1.5, yes: true, no: false, nil: null, object: { a: [1, { b: 'c' }] }, array: [] };
    case 'string':
      return strings;
    case 'buffer':
      return { empty: Buffer.alloc(0), small: Buffer.from([1, 2, 3]), big: Buffer.alloc(70_000, 9), text: Buffer.from('text') };
  }
}

/** Every [key, value] of a store, sorted by key. */
export function contents(store: Store): [string, unknown][] {
  return [...store.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
