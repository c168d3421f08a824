// Validation and defaults for Store.open(). The native side trusts what
// arrives here: every limit is checked in this file first. The names,
// defaults and option bits are the addon's (native/core/options.h, handed
// over at load: see NativeConstants); test/unit/constants.native.test.ts
// checks that the TypeScript types (CodecName, EvictionPolicy) list the same.
import { invalidName, invalidOption, invalidOptions, describeType } from './errors';
import { constants } from './native';
import type { CodecName, EvictionPolicy, StoreOptions } from './types';

/** Codec names, in the native enum's order. */
export const CODECS = constants.codecs as readonly CodecName[];
/** Eviction policy names, in the native enum's order. */
export const EVICTION_POLICIES = constants.evictionPolicies as readonly EvictionPolicy[];

export const DEFAULTS = {
  codec: constants.defaults.codec as CodecName,
  shards: constants.defaults.shards,
  maxKeyBytes: constants.defaults.maxKeyBytes,
  maxValueBytes: constants.defaults.maxValueBytes,
};

export const LIMITS = {
  maxShards: 65536,
  /** Entry sizes are 32-bit in the native table. */
  maxBytes: 2 ** 31 - 1,
  maxNameLength: 1024,
  /** Capacity limits (maxEntries, store-wide maxBytes): exact integers. */
  maxCapacity: Number.MAX_SAFE_INTEGER,
  /** Times to live, in milliseconds (about 285 000 years). */
  maxTtlMs: Number.MAX_SAFE_INTEGER,
};

/** Bit per option (native/core/options.h, OptionBit). */
const OptionBit = constants.optionBits;

export interface NormalizedOptions {
  codec: CodecName;
  shards: number;
  maxKeyBytes: number;
  maxValueBytes: number;
  /** 0: no limit. */
  maxEntries: number;
  /** 0: no limit. */
  maxBytes: number;
  evictionPolicy: EvictionPolicy;
  /** 0: no default time to live. */
  ttlMs: number;
  /** Which options the caller gave (OptionBit mask). */
  specified: number;
  /** This handle's own choice (not a store option): binary results own their ArrayBuffer. */
  privateBuffers: boolean;
}

export function validateName(name: unknown): string {
  if (typeof name !== 'string') throw invalidName(TypeError, `must be a string, got ${describeType(name)}`);
  if (name.length === 0) throw invalidName(RangeError, 'must not be empty');
  if (name.length > LIMITS.maxNameLength)
    throw invalidName(RangeError, `is ${name.length} characters long, over the limit of ${LIMITS.maxNameLength}`);
  return name;
}

function integerOption(
  options: StoreOptions,
  option: 'shards' | 'maxKeyBytes' | 'maxValueBytes' | 'maxEntries' | 'maxBytes' | 'ttlMs',
  min: number,
  max: number,
): number {
  const v: unknown = options[option];
  if (typeof v !== 'number') throw invalidOption(TypeError, option, `must be a number, got ${describeType(v)}`);
  if (!Number.isInteger(v) || v < min || v > max)
    throw invalidOption(RangeError, option, `must be an integer from ${min} to ${max}, got ${v}`);
  return v;
}

const KNOWN = new Set(['codec', 'shards', 'maxKeyBytes', 'maxValueBytes', 'maxEntries', 'maxBytes', 'evictionPolicy', 'ttlMs', 'privateBuffers']);

export function normalizeOptions(options: StoreOptions | undefined): NormalizedOptions {
  const out: NormalizedOptions = {
    codec: DEFAULTS.codec,
    shards: DEFAULTS.shards,
    maxKeyBytes: DEFAULTS.maxKeyBytes,
    maxValueBytes: DEFAULTS.maxValueBytes,
    maxEntries: 0,
    maxBytes: 0,
    evictionPolicy: 'none',
    ttlMs: 0,
    specified: 0,
    privateBuffers: false,
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
    out.codec = CODECS[i]!;
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
  if (options.maxEntries !== undefined) {
    out.maxEntries = integerOption(options, 'maxEntries', 1, LIMITS.maxCapacity);
    out.specified |= OptionBit.maxEntries;
  }
  if (options.maxBytes !== undefined) {
    out.maxBytes = integerOption(options, 'maxBytes', 1, LIMITS.maxCapacity);
    out.specified |= OptionBit.maxBytes;
  }
  if (options.ttlMs !== undefined) {
    out.ttlMs = integerOption(options, 'ttlMs', 1, LIMITS.maxTtlMs);
    out.specified |= OptionBit.ttlMs;
  }
  if (options.privateBuffers !== undefined) {
    const p: unknown = options.privateBuffers;
    if (typeof p !== 'boolean') throw invalidOption(TypeError, 'privateBuffers', `must be a boolean, got ${describeType(p)}`);
    out.privateBuffers = p;
  }
  if (options.evictionPolicy !== undefined) {
    const p: unknown = options.evictionPolicy;
    const i = EVICTION_POLICIES.indexOf(p as EvictionPolicy);
    if (i < 0)
      throw invalidOption(
        TypeError,
        'evictionPolicy',
        `must be one of ${EVICTION_POLICIES.map((n) => `'${n}'`).join(', ')}, got ${typeof p === 'string' ? `'${p}'` : describeType(p)}`,
      );
    out.evictionPolicy = EVICTION_POLICIES[i]!;
    out.specified |= OptionBit.evictionPolicy;
  } else if (out.maxEntries !== 0 || out.maxBytes !== 0) {
    // A limit with no policy given: evict (SIEVE). Not marked as specified,
    // so a later open that leaves the policy out attaches to any policy.
    out.evictionPolicy = 'sieve';
  }
  return out;
}

/**
 * A per-write time to live (`{ ttlMs }` of set, setIfAbsent, getOrSet,
 * setMany): undefined for the store's default, else a number of
 * milliseconds greater than 0 (fractions allowed), or Infinity for "never
 * expires". Throws the caller's error otherwise.
 */
export function validateTtl(ttl: unknown, fail: (Ctor: typeof TypeError | typeof RangeError, message: string) => Error): number | undefined {
  if (ttl === undefined) return undefined;
  if (typeof ttl !== 'number') throw fail(TypeError, `ttlMs must be a number, got ${describeType(ttl)}`);
  if (!(ttl > 0) || (Number.isFinite(ttl) ? ttl > LIMITS.maxTtlMs : ttl !== Infinity))
    throw fail(RangeError, `ttlMs must be a number of milliseconds above 0 (at most ${LIMITS.maxTtlMs}), or Infinity for no expiry, got ${ttl}`);
  return ttl;
}
