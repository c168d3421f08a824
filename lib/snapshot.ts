// Snapshot and restore (Store#snapshot, #snapshotSync, #restore,
// #restoreSync): argument checks and defaults, the native call, and the
// result or error. The file format and the crash-safe protocol live in
// native/core/snapshot; docs/snapshot-format.md and docs/operations.md
// describe them.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { getSystemErrorMap } from 'node:util';
import * as v8 from 'node:v8';
import { describeType, invalidArgument, snapshotError, type SnapshotFacts } from './errors';
import { native, type NativeHandle } from './native';
import { CODECS } from './options';
import type { RestoreInfo, RestoreOptions, SnapshotInfo, SnapshotOptions } from './types';

const MODES = ['replace', 'fillMissing'] as const;
const ON_CORRUPT = ['throw', 'skip'] as const;

let threadkvVersion: string | undefined;
function packageVersion(): string {
  if (threadkvVersion === undefined) {
    try {
      const pkg = JSON.parse(readFileSync(path.join(__dirname, '..', 'package.json'), 'utf8')) as { version?: unknown };
      threadkvVersion = typeof pkg.version === 'string' ? pkg.version : 'unknown';
    } catch {
      threadkvVersion = 'unknown';
    }
  }
  return threadkvVersion;
}

let v8Version: number | undefined;
/** The wire-format version V8's serializer writes here (and the newest its deserializer reads). */
export function v8WireVersion(): number {
  if (v8Version === undefined) {
    const header = v8.serialize(undefined); // 0xFF, then the version as a varint
    let v = 0;
    for (let i = 1, shift = 0; i < header.length && shift < 28; i++, shift += 7) {
      v |= (header[i]! & 0x7f) << shift;
      if ((header[i]! & 0x80) === 0) break;
    }
    v8Version = v;
  }
  return v8Version;
}

// Microseconds to pause after each block written: a throttle and the
// seam crash tests use to stop a snapshot between blocks (like Redis's
// rdb-key-save-delay). Read from the environment at each snapshot.
function pauseMicros(): number {
  const raw = process.env.THREADKV_SNAPSHOT_BLOCK_DELAY_US;
  if (raw === undefined || raw === '') return 0;
  const n = Number(raw);
  return Number.isInteger(n) && n > 0 ? Math.min(n, 10_000_000) : 0;
}

function systemError(errno: number): [string, string] {
  const entry = getSystemErrorMap().get(-errno);
  return entry ? [entry[0], entry[1]] : [`E${errno}`, `system error ${errno}`];
}

function fail(op: 'snapshot' | 'restore', store: string, file: string, facts: SnapshotFacts): Error {
  return snapshotError(op, store, file, facts, { codecs: CODECS, threadkvVersion: packageVersion(), systemError });
}

function checkPath(store: string, method: string, file: unknown): string {
  if (typeof file !== 'string') throw invalidArgument(TypeError, store, method, `path must be a string, got ${describeType(file)}`);
  if (file.length === 0) throw invalidArgument(RangeError, store, method, 'path must not be empty');
  if (file.includes('\0')) throw invalidArgument(RangeError, store, method, 'path must not contain a NUL character');
  return file;
}

function checkOptions(store: string, method: string, options: unknown, known: readonly string[]): Record<string, unknown> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw invalidArgument(TypeError, store, method, `options must be an object, got ${describeType(options)}`);
  }
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw invalidArgument(TypeError, store, method, `options.${k} is not a known option (known: ${known.join(', ')})`);
  }
  return options as Record<string, unknown>;
}

function oneOf<T extends string>(store: string, method: string, name: string, value: unknown, allowed: readonly T[]): number {
  if (value === undefined) return 0;
  const i = allowed.indexOf(value as T);
  if (i < 0) {
    const got = typeof value === 'string' ? `'${value}'` : describeType(value);
    throw invalidArgument(TypeError, store, method, `options.${name} must be ${allowed.map((a) => `'${a}'`).join(' or ')}, got ${got}`);
  }
  return i;
}

type SaveArgs = [handle: NativeHandle, path: string, fsync: boolean, pauseUs: number, threadkv: string, node: string];
type LoadArgs = [handle: NativeHandle, path: string, mode: number, onCorrupt: number, maxV8: number];

function saveArgs(handle: NativeHandle, store: string, method: string, file: unknown, options: SnapshotOptions | undefined): SaveArgs {
  const p = checkPath(store, method, file);
  const o = checkOptions(store, method, options, ['fsync']);
  const fsync = o.fsync;
  if (fsync !== undefined && typeof fsync !== 'boolean') {
    throw invalidArgument(TypeError, store, method, `options.fsync must be a boolean, got ${describeType(fsync)}`);
  }
  return [handle, p, fsync !== false, pauseMicros(), packageVersion(), process.version];
}

function loadArgs(handle: NativeHandle, store: string, method: string, codec: string, file: unknown, options: RestoreOptions | undefined): LoadArgs {
  const p = checkPath(store, method, file);
  const o = checkOptions(store, method, options, ['mode', 'onCorrupt']);
  const mode = oneOf(store, method, 'mode', o.mode, MODES);
  const onCorrupt = oneOf(store, method, 'onCorrupt', o.onCorrupt, ON_CORRUPT);
  return [handle, p, mode, onCorrupt, codec === 'v8' ? v8WireVersion() : 255];
}

type Settled = [true, number[]] | [false, SnapshotFacts];

function snapshotInfo(file: string, r: Settled, store: string, started: number): SnapshotInfo {
  if (!r[0]) throw fail('snapshot', store, file, r[1]);
  const [entries, bytes, retained] = r[1];
  const info: SnapshotInfo = { path: file, entries: entries!, bytes: bytes!, ms: performance.now() - started };
  // The most bytes of entries writers replaced or deleted that the snapshot
  // kept at once (docs/operations.md): a diagnostic, non-enumerable so that
  // SnapshotInfo keeps its shape.
  Object.defineProperty(info, 'retainedBytes', { value: retained ?? 0, enumerable: false });
  return info;
}

function restoreInfo(file: string, r: Settled, store: string, started: number): RestoreInfo {
  if (!r[0]) throw fail('restore', store, file, r[1]);
  const [entries, skippedExpired, skippedCorrupt, bytes] = r[1];
  return { entries: entries!, skippedExpired: skippedExpired!, skippedCorrupt: skippedCorrupt!, bytes: bytes!, ms: performance.now() - started };
}

export function snapshotSync(handle: NativeHandle, store: string, file: string, options: SnapshotOptions | undefined): SnapshotInfo {
  const started = performance.now();
  const args = saveArgs(handle, store, 'snapshotSync', file, options);
  return snapshotInfo(args[1], native.snapshotSync(...args) as Settled, store, started);
}

export async function snapshot(handle: NativeHandle, store: string, file: string, options: SnapshotOptions | undefined): Promise<SnapshotInfo> {
  const started = performance.now();
  const args = saveArgs(handle, store, 'snapshot', file, options);
  return snapshotInfo(args[1], (await native.snapshot(...args)) as Settled, store, started);
}

export function restoreSync(handle: NativeHandle, store: string, codec: string, file: string, options: RestoreOptions | undefined): RestoreInfo {
  const started = performance.now();
  const args = loadArgs(handle, store, 'restoreSync', codec, file, options);
  return restoreInfo(args[1], native.restoreSync(...args) as Settled, store, started);
}

export async function restore(handle: NativeHandle, store: string, codec: string, file: string, options: RestoreOptions | undefined): Promise<RestoreInfo> {
  const started = performance.now();
  const args = loadArgs(handle, store, 'restore', codec, file, options);
  return restoreInfo(args[1], (await native.restore(...args)) as Settled, store, started);
}
