// Validation and defaults for Store.open(). The native side trusts what
// arrives here: every limit is checked in this file first.
import { invalidName, invalidOption, invalidOptions, describeType } from './errors';
import type { CodecName, StoreOptions } from './types';

export const CODECS: readonly CodecName[] = ['v8', 'json', 'string', 'buffer'];

export const DEFAULTS = {
  codec: 'v8' as CodecName,
  shards: 64,
  maxKeyBytes: 64 * 1024,
  maxValueBytes: 64 * 1024 * 1024,
};

export const LIMITS = {
  maxShards: 65536,
  /** Entry sizes are 32-bit in the native table. */
  maxBytes: 2 ** 31 - 1,
  maxNameLength: 1024,
};

/** Bit per option, matching native/core/options.h (OptionBit). */
export const OptionBit = { codec: 1, shards: 2, maxKeyBytes: 4, maxValueBytes: 8 } as const;

export interface NormalizedOptions {
  codec: number;
  shards: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** Which options the caller gave (OptionBit mask). */
  specified: number;
}

export function validateName(name: unknown): string {
  if (typeof name !== 'string') throw invalidName(TypeError, `must be a string, got ${describeType(name)}`);
  if (name.length === 0) throw invalidName(RangeError, 'must not be empty');
  if (name.length > LIMITS.maxNameLength)
    throw invalidName(RangeError, `is ${name.length} characters long, over the limit of ${LIMITS.maxNameLength}`);
  return name;
}

function integerOption(options: StoreOptions, option: 'shards' | 'maxKeyBytes' | 'maxValueBytes', min: number, max: number): number {
  const v: unknown = options[option];
  if (typeof v !== 'number') throw invalidOption(TypeError, option, `must be a number, got ${describeType(v)}`);
  if (!Number.isInteger(v) || v < min || v > max)
    throw invalidOption(RangeError, option, `must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

const KNOWN = new Set(['codec', 'shards', 'maxKeyBytes', 'maxValueBytes']);

export function normalizeOptions(options: StoreOptions | undefined): NormalizedOptions {
  const out: NormalizedOptions = {
    codec: 0,
    shards: DEFAULTS.shards,
    maxKeyBytes: DEFAULTS.maxKeyBytes,
    maxValueBytes: DEFAULTS.maxValueBytes,
    specified: 0,
  };
  if (options === undefined) return out;
  if (options === null || typeof options !== 'object' || Array.isArray(options))
    throw invalidOptions(`must be an object, got ${describeType(options)}`);
  for (const k of Object.keys(options)) {
    if (!KNOWN.has(k)) throw invalidOption(TypeError, k, `is not a known option (known: ${[...KNOWN].join(', ')})`);
  }
  if (options.codec !== undefined) {
    const c: unknown = options.codec;
    const i = CODECS.indexOf(c as CodecName);
    if (i < 0)
      throw invalidOption(TypeError, 'codec', `must be one of ${CODECS.map((n) => `'${n}'`).join(', ')}, got ${typeof c === 'string' ? `'${c}'` : describeType(c)}`);
    out.codec = i;
    out.specified |= OptionBit.codec;
  }
  if (options.shards !== undefined) {
    const s = integerOption(options, 'shards', 1, LIMITS.maxShards);
    if ((s & (s - 1)) !== 0) throw invalidOption(RangeError, 'shards', `must be a power of two from 1 to ${LIMITS.maxShards}, got ${s}`);
    out.shards = s;
    out.specified |= OptionBit.shards;
  }
  if (options.maxKeyBytes !== undefined) {
    out.maxKeyBytes = integerOption(options, 'maxKeyBytes', 1, LIMITS.maxBytes);
    out.specified |= OptionBit.maxKeyBytes;
  }
  if (options.maxValueBytes !== undefined) {
    out.maxValueBytes = integerOption(options, 'maxValueBytes', 0, LIMITS.maxBytes);
    out.specified |= OptionBit.maxValueBytes;
  }
  return out;
}
