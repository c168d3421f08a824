// The only file that loads the compiled addon. node-gyp-build picks
// build/Release (a local build) or prebuilds/<platform>-<arch> (the shipped
// binary); THREADKV_PREBUILD=<dir> points it at another build (the TSAN one).
import * as path from 'node:path';
import nodeGypBuild = require('node-gyp-build');
import { makeError } from './errors';

/** A native store handle (an N-API External). */
export type NativeHandle = { readonly __brand: 'threadkv.handle' };

/** What a value looks like on the native side (see lib/codec.ts). */
export type NativeValue = string | number | boolean | null | undefined | ArrayBufferView | ArrayBuffer;

export interface NativeBinding {
  setup(makeError: (...args: never[]) => Error): void;
  open(
    name: string,
    codec: number,
    shards: number,
    maxKeyBytes: number,
    maxValueBytes: number,
    specified: number,
  ): [NativeHandle, number, number, number, number, boolean];
  destroy(name: string): boolean;
  close(handle: NativeHandle): void;
  get(handle: NativeHandle, key: string): NativeValue;
  set(handle: NativeHandle, key: string, value: NativeValue): void;
  has(handle: NativeHandle, key: string): boolean;
  delete(handle: NativeHandle, key: string): boolean;
  clear(handle: NativeHandle): void;
  size(handle: NativeHandle): number;
  memory(handle: NativeHandle): [number, number, number];
  names(): string[];
  /** Only in the ThreadSanitizer self-test build. */
  racyIncrement?(n: number): number;
}

const root = path.join(__dirname, '..');

/** Absolute path of the loaded `.node` file. */
export const bindingPath: string = nodeGypBuild.resolve(root);

// eslint-disable-next-line @typescript-eslint/no-require-imports
export const native: NativeBinding = require(bindingPath) as NativeBinding;
native.setup(makeError as (...args: never[]) => Error);
