/**
 * Values of every kind the value path treats differently (native binary
 * formats, the default codec's own object format, its v8.serialize
 * fallback), built deterministically so that another thread can build the
 * same ones to compare with (test/unit/codec.values.test.ts,
 * test/fixtures/codec-worker.ts), and what a read must return for them.
 */
import { isDeepStrictEqual } from 'node:util';
import * as v8 from 'node:v8';

function floats(n: number, seed: number): number[] {
  return Array.from({ length: n }, (_, j) => Math.sin(seed * 0.37 + j * 0.013));
}

/** A 1 KB chat completion, as an OpenAI-style API returns it. */
export function chatCompletion(i: number): Record<string, unknown> {
  return {
    id: `chatcmpl-${i}AbCdEf`,
    object: 'chat.completion',
    created: 1733500000 + i,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: `Paris is the capital of France (#${i}). Café, naïve, 東京, 🚀.`, refusal: null, tool_calls: [] },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 25, completion_tokens: 61, total_tokens: 86, completion_tokens_details: { reasoning_tokens: 0 } },
    system_fingerprint: 'fp_0ba0d124f1',
  };
}

/** [name, build] for every value kind (build(seed) is deterministic). */
export const PAYLOADS: [string, (seed: number) => unknown][] = [
  // Native binary formats.
  ['Float32Array(1536) (an embedding)', (s) => Float32Array.from(floats(1536, s))],
  ['Float64Array(3072) (24 KiB: over the pool limit)', (s) => Float64Array.from(floats(3072, s))],
  ['Int8Array', (s) => Int8Array.from([-128, -1, 0, s % 100, 127])],
  ['Uint8Array', (s) => Uint8Array.from([0, 1, 254, 255, s % 256])],
  ['Uint8ClampedArray', (s) => Uint8ClampedArray.from([0, 128, 255, s % 256])],
  ['Int16Array', (s) => Int16Array.from([-32768, -1, 0, 32767, s])],
  ['Uint16Array', (s) => Uint16Array.from([0, 1, 65535, s])],
  ['Int32Array', (s) => Int32Array.from([-(2 ** 31), -1, 0, 2 ** 31 - 1, s])],
  ['Uint32Array', (s) => Uint32Array.from([0, 1, 2 ** 32 - 1, s])],
  ['Float32Array with -0, NaN, Infinity', (s) => Float32Array.from([0, -0, 1.5, NaN, Infinity, -3.4e38, s])],
  ['Float64Array with -0, NaN, MIN_VALUE', (s) => Float64Array.from([0, -0, Math.PI, NaN, -Infinity, Number.MIN_VALUE, s])],
  ['BigInt64Array', (s) => BigInt64Array.from([-(2n ** 63n), -1n, 0n, 2n ** 63n - 1n, BigInt(s)])],
  ['BigUint64Array', (s) => BigUint64Array.from([0n, 1n, 2n ** 64n - 1n, BigInt(s)])],
  ['DataView', (s) => new DataView(Uint8Array.from([1, 2, 3, s % 256, 5]).buffer, 1, 3)],
  ['ArrayBuffer', (s) => Uint8Array.from([9, 8, 7, s % 256]).buffer],
  ['Buffer', (s) => Buffer.from(`buffer ${s}`)],
  ['Uint16Array view at an odd offset of a larger buffer', (s) => new Uint16Array(Uint8Array.from({ length: 20 }, (_, i) => i + s).buffer, 2, 5)],
  ['empty Float32Array', () => new Float32Array(0)],
  // The default codec's own format.
  ['object with a vector', (s) => ({ id: `doc-${s}`, model: 'text-embedding-3-small', dims: 1536, vector: Float32Array.from(floats(1536, s)), createdAt: 1733500000000 + s })],
  ['number[1536] of doubles', (s) => floats(1536, s)],
  ['number[] with -0, NaN, ±Infinity, integers', (s) => [-0, NaN, Infinity, -Infinity, 0, 1, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 53, s, 0.1]],
  ['chat completion (~1 KB)', (s) => chatCompletion(s)],
  ['array of 100 objects', (s) => Array.from({ length: 100 }, (_, i) => ({ i, name: `item ${i}`, ok: i % 2 === 0, s }))],
  ['-0, NaN, undefined and null inside objects', (s) => ({ z: -0, n: NaN, u: undefined, nil: null, s, a: [-0, undefined, null] })],
  ['Map and Set, nested, with object keys', (s) => new Map<unknown, unknown>([['a', new Set([1, 'x', s])], [{ k: s }, new Map([[1n, [2]]])]])],
  // (An invalid Date is kept too, but isDeepStrictEqual calls new Date(NaN) unequal to itself: tested on its own.)
  ['Dates inside an object', (s) => ({ d: new Date(1700000000000 + s), epoch: new Date(0), min: new Date(-8.64e15) })],
  ['BigInt, small and large, nested', (s) => ({ a: 1n, b: -(2n ** 100n) - BigInt(s), c: [0n] })],
  ['typed arrays of every type inside an object', (s) => ({
    i8: Int8Array.from([s % 100, -1]),
    u8: Uint8Array.from([s % 256]),
    f32: Float32Array.from([0.5, s]),
    f64: Float64Array.from([-0, s]),
    b64: BigInt64Array.from([-1n]),
    dv: new DataView(Uint8Array.from([7, s % 256]).buffer),
    ab: Uint8Array.from([1, 2, 3]).buffer,
    buf: Buffer.from(`nested ${s}`),
  })],
  ['strings: Latin-1, wide, astral, lone surrogates', (s) => ({ l: `café ÿ ${s}`, w: '東京 €', e: '🚀💩', lone: `a\uD800b\uDFFF${s}`, flip: '\uDC00\uD800' })],
  ['keys: __proto__, constructor, numeric, empty, lone surrogate', (s) => JSON.parse(`{"__proto__": ${s}, "constructor": 1, "2": "two", "0": "zero", "": "empty", "\\ud800": "lone"}`) as unknown],
  ['an object of 100 keys', (s) => Object.fromEntries(Array.from({ length: 100 }, (_, i) => [`key${i}`, i * s]))],
  ['deep nesting (200 levels)', (s) => {
    let v: unknown = s;
    for (let i = 0; i < 200; i++) v = i % 2 ? [v] : { v };
    return v;
  }],
  // The v8.serialize fallback (what this format does not represent).
  ['sparse array', (s) => {
    const a: unknown[] = [1, , 3]; // eslint-disable-line no-sparse-arrays
    a[10] = s;
    return a;
  }],
  ['array with a named property (a RegExp match)', (s) => `abc${s}`.match(/b(c)/)],
  ['number[40] with a named property', (s) => Object.assign(floats(40, s), { extra: 'x' })],
  ['RegExp', () => /a+b/giu],
  ['boxed primitives', (s) => [Object(s), Object('s'), Object(true), Object(5n)]],
  ['Error', (s) => Object.assign(new RangeError(`bad ${s}`), { stack: 'RangeError: bad' })],
  ['object cycle', (s) => {
    const o: Record<string, unknown> = { s };
    o.self = o;
    return o;
  }],
  ['shared reference', (s) => {
    const shared = { s };
    return { a: shared, b: [shared] };
  }],
  ['class instance (a plain object back)', (s) => {
    class Point {
      #secret = 1;
      constructor(
        public x: number,
        public y: number,
      ) {}
      get secret(): number {
        return this.#secret;
      }
    }
    return new Point(s, 2);
  }],
  ['null-prototype object', (s) => Object.assign(Object.create(null) as object, { s })],
  ['Map holding a typed array', (s) => new Map([['v', Float32Array.from([s, 1])]])],
];

/** Whether `v` holds a Node Buffer somewhere (structuredClone makes those Uint8Arrays; the store keeps them Buffers). */
function holdsBuffer(v: unknown, seen = new Set<unknown>()): boolean {
  if (Buffer.isBuffer(v)) return true;
  if (typeof v !== 'object' || v === null || seen.has(v) || ArrayBuffer.isView(v)) return false;
  seen.add(v);
  if (v instanceof Map) return [...v].some(([k, x]) => holdsBuffer(k, seen) || holdsBuffer(x, seen));
  if (v instanceof Set) return [...v].some((x) => holdsBuffer(x, seen));
  return Object.values(v).some((x) => holdsBuffer(x, seen));
}

/**
 * Why `got` is not what a read of `input` must return under the default
 * codec (structuredClone of the input; Buffers stay Buffers, as Node's
 * v8.serialize keeps them), or null if it is.
 */
export function cloneMismatch(got: unknown, input: unknown): string | null {
  const viaV8 = v8.deserialize(v8.serialize(input));
  if (!isDeepStrictEqual(got, viaV8)) return 'differs from v8.deserialize(v8.serialize(input))';
  if (!holdsBuffer(input) && !isDeepStrictEqual(got, structuredClone(input))) return 'differs from structuredClone(input)';
  // isDeepStrictEqual does not see shared references and cycles: check those.
  if (typeof input === 'object' && input !== null && !ArrayBuffer.isView(input)) {
    const o = input as Record<string, unknown>;
    const g = got as Record<string, unknown>;
    if ('self' in o && o.self === o && g.self !== g) return 'a cycle was not kept';
    if ('a' in o && 'b' in o && Array.isArray(o.b) && o.a === o.b[0] && g.a !== (g.b as unknown[])[0]) return 'a shared reference was not kept';
  }
  return null;
}

/** Whether the `json` codec can store `v` (JSON.stringify gives text that parses back to a value). */
function jsonable(v: unknown): boolean {
  try {
    return JSON.stringify(v) !== undefined;
  } catch {
    return false;
  }
}

/** The bytes of a binary value, as a Buffer (what the `buffer` codec reads back). */
function bytesOf(v: ArrayBufferView | ArrayBuffer): Buffer {
  return ArrayBuffer.isView(v) ? Buffer.from(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)) : Buffer.from(new Uint8Array(v));
}

/**
 * The payloads a codec other than the default takes, each with what a read
 * returns: `json` the JSON round trip, `buffer` the bytes as a Buffer,
 * `string` the string.
 */
export function payloadsFor(codec: 'json' | 'buffer' | 'string'): [string, (seed: number) => unknown, (v: unknown) => unknown][] {
  const out: [string, (seed: number) => unknown, (v: unknown) => unknown][] = [];
  for (const [name, make] of PAYLOADS) {
    const v = make(1);
    if (codec === 'json' && jsonable(v) && !ArrayBuffer.isView(v)) out.push([name, make, (x) => JSON.parse(JSON.stringify(x)) as unknown]);
    if (codec === 'buffer' && (ArrayBuffer.isView(v) || v instanceof ArrayBuffer)) out.push([name, make, (x) => bytesOf(x as ArrayBufferView)]);
  }
  if (codec === 'string') {
    out.push(['a string with lone surrogates', (s) => `a\uD800b${s}\uDFFF`, (x) => x]);
    out.push(['the chat completion as JSON text', (s) => JSON.stringify(chatCompletion(s)), (x) => x]);
  }
  return out;
}
