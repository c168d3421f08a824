// Codecs turn JS values into what the native store keeps, and back. The
// native side stores strings, numbers, booleans, null and undefined as
// themselves (no encoding), binary values (TypedArray, DataView, ArrayBuffer,
// Buffer) as their bytes with a format tag, and anything else as the bytes a
// codec made (docs/design.md, "Values").
//
// Formats travel beside the values through this thread's value cells: a
// codec's encode() puts the format of the bytes it returns in
// cells[IN_TAG], read by the very next native call; a native call that
// returns bytes puts their format in cells[OUT_TAG], read by decode() at
// once. Batch results (getMany, scan) carry the format as their first byte.
import * as v8 from 'node:v8';
import { setTimeout as setTimer } from 'node:timers';
import { markAsUntransferable } from 'node:worker_threads';
import {
  Fmt,
  TooLarge,
  binaryValue,
  decode as decodeFormat,
  encode as encodeFormat,
  encodedFormat,
  encoderBuffer,
  unreadable,
  viewFormat,
} from './codec-format';
import { ErrorCode, describeType, makeError, valueTypeError } from './errors';
import { native, type NativeValue } from './native';
import type { CodecName } from './types';

export interface Codec {
  readonly name: CodecName;
  /**
   * What to pass to the native side for `value`, refusing it (a TypeError
   * naming `key`) when it cannot be encoded, or (a RangeError) when it is
   * over `maxBytes`. For bytes, sets cells[IN_TAG] to their format and
   * cells[IN_LENGTH] to how many of the view's bytes are the value (0: all;
   * the encoder passes its reused buffer whole).
   */
  encode(store: string, key: string, value: unknown, maxBytes: number): NativeValue;
  /**
   * The value of a single-value native result (its format in
   * cells[OUT_TAG]; encoded bytes come as the ArrayBuffer holding them, at
   * cells[OUT_OFFSET], cells[OUT_LENGTH] long).
   */
  decode(raw: NativeValue): unknown;
  /** The value of one element of a batch result (bytes as [format, ...bytes]). */
  decodeListed(raw: NativeValue): unknown;
  /**
   * What a read would return for the value `encode` just returned as
   * `encoded`, with format `tag` and length `length`, without another trip
   * to the store.
   */
  storedCopy(encoded: NativeValue, tag: number, length: number): unknown;
}

// ---- this thread's pools and cells ------------------------------------------

// Pool slabs and batch arenas: not zeroed (every byte a result covers is
// written first), and untransferable, as Node's own Buffer pool is, so that a
// postMessage transfer list cannot detach the other results sharing one.
// newSlab(size) makes one; newSlab(size, ab) marks one the binding made over
// memory it recycles, and arms the trim below.
const allocUnsafeSlow = Buffer.allocUnsafeSlow;
function newSlab(size: number, made?: ArrayBuffer): ArrayBuffer {
  if (made === undefined) made = allocUnsafeSlow(size).buffer as ArrayBuffer;
  else armTrim();
  markAsUntransferable(made);
  return made;
}

// Recycled slab memory a thread stops needing is freed a second or two
// later: every second while slabs are made (and until none is held), the
// binding frees the spare blocks the last second did not take. The timer
// never keeps a thread alive.
const TRIM_MS = 1000;
let trimArmed = false;
function trimSlabs(): void {
  trimArmed = false;
  if (native.valueTrimSlabs() > 0) armTrim();
}
function armTrim(): void {
  if (trimArmed) return;
  trimArmed = true;
  setTimer(trimSlabs, TRIM_MS).unref();
}

/**
 * Whether a slab marked untransferable stays attached whatever JS does: the
 * binding reuses a slab's memory once its ArrayBuffer is collected, which is
 * safe only if no other ArrayBuffer can have taken that memory over. Node
 * refuses a marked buffer in a transfer list; `ArrayBuffer.prototype.transfer`
 * (Node 21+, and the web streams built on it) moves memory to a new buffer
 * unless the runtime refuses it for a marked one: tried once here.
 */
function slabsStayAttached(): boolean {
  const transfer = (ArrayBuffer.prototype as unknown as { transfer?: unknown }).transfer;
  if (typeof transfer !== 'function') return true;
  const probe = new ArrayBuffer(8);
  markAsUntransferable(probe);
  try {
    transfer.call(probe);
    return false;
  } catch {
    return true;
  }
}

/** This thread's value cells (native/binding/values.h). */
export const cells: Int32Array = native.valueSetup(newSlab, slabsStayAttached());
export const IN_TAG = 0;
export const OUT_TAG = 1;
export const IN_LENGTH = 2;
export const OUT_OFFSET = 3;
export const OUT_LENGTH = 4;

// ---- helpers ----------------------------------------------------------------

/**
 * The format and length of the bytes value the next native call gets. Both
 * cells are written for every bytes value: a call that threw before reading
 * them (a closed handle, a bad key) must not leave a length that applies to
 * the next value.
 */
function tagBytes(tag: number, length: number): void {
  cells[IN_TAG] = tag;
  cells[IN_LENGTH] = length;
}

/** `bytes`: the value's size once encoded, or (not `exact`) a lower bound of it. */
function tooLarge(store: string, key: string, maxBytes: number, bytes: number, exact = false): Error {
  return makeError(ErrorCode.VALUE_TOO_LARGE, store, key, maxBytes, bytes, exact ? undefined : 'atLeast');
}

function refuseUnreadable(store: string, key: string, codec: CodecName, v: ArrayBufferView | ArrayBuffer): void {
  if (unreadable(v)) throw valueTypeError(store, key, codec, 'a view of a detached or out-of-bounds ArrayBuffer cannot be stored');
}

function internal(): Error {
  return new Error('threadkv: a stored value has a format this codec does not read (internal error)');
}

/** A binary value as its own copy: a new ArrayBuffer, nothing shared. */
function ownCopy(v: unknown): unknown {
  if (Buffer.isBuffer(v)) {
    const b = allocUnsafeSlow(v.length);
    b.set(v);
    return b;
  }
  if (v instanceof DataView) return new DataView(v.buffer.slice(v.byteOffset, v.byteOffset + v.byteLength));
  if (ArrayBuffer.isView(v)) return (v as unknown as { slice(): unknown }).slice();
  return v; // an ArrayBuffer result is always its own
}


/**
 * v8.deserialize() returns typed arrays that alias the input buffer. The
 * native get hands the v8 codec a view of a scratch buffer reused by the next
 * get, so every typed array read out of it must be copied: this deserializer
 * does that (it is the only difference from v8.deserialize).
 */
class CopyingDeserializer extends v8.DefaultDeserializer {
  readonly #source: ArrayBufferLike;

  constructor(bytes: Uint8Array) {
    super(bytes);
    this.#source = bytes.buffer;
  }

  // Not in @types/node, but public in Node's lib/v8.js and documented as the
  // hook subclasses override.
  _readHostObject(): unknown {
    const view = (v8.DefaultDeserializer.prototype as unknown as { _readHostObject(this: v8.Deserializer): unknown })
      ._readHostObject.call(this) as ArrayBufferView;
    // Node's deserializer returns either a view of the input (aligned case)
    // or, for a misaligned typed array, a view into its shared Buffer pool.
    // Only a view that owns its whole ArrayBuffer may be handed out as is.
    if (view.buffer !== this.#source && view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) return view;
    const copy = new Uint8Array(view.byteLength);
    copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
    if (Buffer.isBuffer(view)) return Buffer.from(copy.buffer, 0, copy.byteLength);
    if (view instanceof DataView) return new DataView(copy.buffer);
    const Ctor = view.constructor as { new (b: ArrayBuffer, o: number, l: number): ArrayBufferView; BYTES_PER_ELEMENT: number };
    return new Ctor(copy.buffer, 0, view.byteLength / Ctor.BYTES_PER_ELEMENT);
  }
}

export function deserializeCopy(bytes: Uint8Array): unknown {
  const d = new CopyingDeserializer(bytes);
  d.readHeader();
  return d.readValue();
}

// ---- v8: structured clone ------------------------------------------------------

/** The v8 codec's encode for everything but the native scalars. */
function encodeOther(store: string, key: string, value: unknown, maxBytes: number): NativeValue {
  if (typeof value === 'function' || typeof value === 'symbol') {
    throw valueTypeError(store, key, 'v8', `${describeType(value)} is not structured-clonable`);
  }
  if (typeof value === 'object' && value !== null) {
    if (ArrayBuffer.isView(value)) {
      refuseUnreadable(store, key, 'v8', value);
      tagBytes(Buffer.isBuffer(value) ? Fmt.Buffer : Fmt.DeriveBinary, 0);
      return value;
    }
    if (value instanceof ArrayBuffer && !(value as ArrayBuffer & { resizable?: boolean }).resizable) {
      refuseUnreadable(store, key, 'v8', value);
      tagBytes(Fmt.DeriveBinary, 0);
      return value;
    }
  }
  let n: number;
  try {
    n = encodeFormat(value, maxBytes);
  } catch (err) {
    if (err instanceof TooLarge) throw tooLarge(store, key, maxBytes, err.bytes, err.exact);
    throw valueTypeError(store, key, 'v8', (err as Error).message);
  }
  if (n >= 0) {
    tagBytes(encodedFormat(), n);
    return encoderBuffer();
  }
  let bytes: Buffer;
  try {
    bytes = v8.serialize(value);
  } catch (err) {
    throw valueTypeError(store, key, 'v8', (err as Error).message);
  }
  tagBytes(Fmt.Codec, 0);
  return bytes;
}

/**
 * The default codec: every value the structured clone algorithm accepts,
 * kept exactly. Scalars go natively; binary values as their bytes; objects,
 * arrays, Map, Set, Date and BigInt through lib/codec-format.ts; anything
 * that format cannot keep exactly (RegExp, Error, boxed primitives, sparse
 * arrays, arrays with named properties, shared references and cycles, class
 * instances...) through v8.serialize, as every value went before the format
 * existed. Entries of either kind read back with their own decoder.
 */
function v8Codec(own: boolean): Codec {
  const fromBytes = (buffer: ArrayBufferLike, at: number, len: number, format: number, pooled: boolean): unknown => {
    if (format === Fmt.Object || format === Fmt.ObjectWithBinaries) return decodeFormat(buffer, at, len, pooled, own);
    if (format === Fmt.Codec) return deserializeCopy(new Uint8Array(buffer, at, len));
    throw internal();
  };
  return {
    name: 'v8',
    // Small enough for the JIT to inline into Store#set: strings, numbers,
    // booleans and undefined are stored natively, as they are.
    encode(store, key, value, maxBytes) {
      if (typeof value === 'string') {
        // From its length, before any copy: every character is at least a byte.
        if (value.length > maxBytes) throw tooLarge(store, key, maxBytes, value.length);
        return value;
      }
      if (typeof value === 'number' || typeof value === 'boolean' || value === undefined || value === null) return value;
      return encodeOther(store, key, value, maxBytes);
    },
    decode(raw) {
      if (typeof raw !== 'object' || raw === null) return raw;
      const format = cells[OUT_TAG]!;
      if (format !== Fmt.Codec && format <= Fmt.LastBinary) {
        if (format === Fmt.Buffer) {
          const u8 = raw as Uint8Array;
          raw = Buffer.from(u8.buffer, u8.byteOffset, u8.byteLength);
        }
        return own ? ownCopy(raw) : raw;
      }
      return fromBytes(raw as ArrayBuffer, cells[OUT_OFFSET]!, cells[OUT_LENGTH]!, format, format === Fmt.ObjectWithBinaries);
    },
    decodeListed(raw) {
      if (typeof raw !== 'object' || raw === null) return raw;
      const u8 = raw as Uint8Array;
      const format = u8[0]!;
      if (format !== Fmt.Codec && format <= Fmt.LastBinary) {
        // The arena is this call's, untransferable: results may share it.
        return binaryValue(format, u8.buffer as ArrayBuffer, u8.byteOffset + 1, u8.byteLength - 1, !own);
      }
      return fromBytes(u8.buffer, u8.byteOffset + 1, u8.byteLength - 1, format, true);
    },
    storedCopy(enc, tag, length) {
      if (typeof enc !== 'object' || enc === null) return enc;
      if (tag === Fmt.DeriveBinary || tag === Fmt.Buffer) {
        const v = enc as ArrayBufferView | ArrayBuffer;
        if (ArrayBuffer.isView(v)) {
          const format = tag === Fmt.Buffer ? Fmt.Buffer : viewFormat(v);
          return binaryValue(format, v.buffer as ArrayBuffer, v.byteOffset, v.byteLength, false);
        }
        return v.slice(0);
      }
      // The encoder's buffer (object format) or v8 bytes: decoded into copies.
      const u8 = enc as Uint8Array;
      return fromBytes(u8.buffer, u8.byteOffset, length > 0 ? length : u8.byteLength, tag, false);
    },
  };
}

// ---- json -------------------------------------------------------------------

const jsonCodec: Codec = {
  name: 'json',
  encode(store, key, value, maxBytes) {
    // A number is stored as a number (what increment() counts with), as
    // JSON.stringify would give it back: -0 as 0, NaN and ±Infinity as null.
    if (typeof value === 'number') return Number.isFinite(value) ? (value === 0 ? 0 : value) : 'null';
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) refuseUnreadable(store, key, 'json', value);
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw valueTypeError(store, key, 'json', (err as Error).message);
    }
    if (text === undefined) throw valueTypeError(store, key, 'json', `${describeType(value)} has no JSON form`);
    if (text.length > maxBytes) throw tooLarge(store, key, maxBytes, text.length);
    return text;
  },
  decode(raw) {
    // Text is JSON; a number is stored as itself.
    return typeof raw === 'string' ? JSON.parse(raw) : raw;
  },
  decodeListed(raw) {
    return typeof raw === 'string' ? JSON.parse(raw) : raw;
  },
  storedCopy(enc) {
    return typeof enc === 'string' ? JSON.parse(enc) : enc;
  },
};

// ---- string -------------------------------------------------------------------

const stringCodec: Codec = {
  name: 'string',
  encode(store, key, value, maxBytes) {
    if (typeof value !== 'string') {
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) refuseUnreadable(store, key, 'string', value);
      throw valueTypeError(store, key, 'string', `expected a string, got ${describeType(value)}`);
    }
    if (value.length > maxBytes) throw tooLarge(store, key, maxBytes, value.length);
    return value;
  },
  decode(raw) {
    return raw;
  },
  decodeListed(raw) {
    return raw;
  },
  storedCopy(enc) {
    return enc;
  },
};

// ---- buffer -------------------------------------------------------------------

/** Bytes in (any TypedArray, DataView, Buffer or ArrayBuffer), a Buffer out. */
function bufferCodec(own: boolean): Codec {
  const asBuffer = (buffer: ArrayBuffer, at: number, len: number, shared: boolean): Buffer => {
    if (shared) return Buffer.from(buffer, at, len);
    const b = allocUnsafeSlow(len); // every byte is written next
    b.set(new Uint8Array(buffer, at, len));
    return b;
  };
  return {
    name: 'buffer',
    encode(store, key, value) {
      if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
        refuseUnreadable(store, key, 'buffer', value);
        tagBytes(Fmt.DeriveBinary, 0);
        return value;
      }
      throw valueTypeError(store, key, 'buffer', `expected a TypedArray, DataView, Buffer or ArrayBuffer, got ${describeType(value)}`);
    },
    decode(raw) {
      if (typeof raw !== 'object' || raw === null) return raw;
      const format = cells[OUT_TAG]!;
      if (format === Fmt.Codec) {
        // Bytes stored before formats existed: the ArrayBuffer the binding
        // reuses (or one of their own, for large ones): copied.
        const at = cells[OUT_OFFSET]!;
        const len = cells[OUT_LENGTH]!;
        if (own) return asBuffer(raw as ArrayBuffer, at, len, false);
        const copy = Buffer.allocUnsafe(len); // Node's pool, as Buffer.from does; every byte is written next
        copy.set(new Uint8Array(raw as ArrayBuffer, at, len));
        return copy;
      }
      if (raw instanceof ArrayBuffer) return Buffer.from(raw); // its own
      // Binary formats come from the pool (or a buffer of their own, when large).
      const v = raw as ArrayBufferView;
      return asBuffer(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength, !own);
    },
    decodeListed(raw) {
      if (typeof raw !== 'object' || raw === null) return raw;
      const u8 = raw as Uint8Array;
      return asBuffer(u8.buffer as ArrayBuffer, u8.byteOffset + 1, u8.byteLength - 1, !own);
    },
    storedCopy(enc) {
      const v = enc as ArrayBufferView | ArrayBuffer;
      return ArrayBuffer.isView(v) ? asBuffer(v.buffer as ArrayBuffer, v.byteOffset, v.byteLength, false) : asBuffer(v, 0, v.byteLength, false);
    },
  };
}

/**
 * `value` as encode() returned it with format `tag`, safe to keep while other
 * values are encoded: the encoder's reused buffer is copied out.
 */
export function settle(value: NativeValue, tag: number, length: number): NativeValue {
  return tag === Fmt.Object || tag === Fmt.ObjectWithBinaries ? (value as Uint8Array).slice(0, length) : value;
}

/** The codecs, by name; binary results are views into this thread's pools. */
export const codecs: Readonly<Record<CodecName, Codec>> = {
  v8: v8Codec(false),
  json: jsonCodec,
  string: stringCodec,
  buffer: bufferCodec(false),
};

/** The same, for handles opened with `privateBuffers: true`: every binary result owns its ArrayBuffer. */
export const privateCodecs: Readonly<Record<CodecName, Codec>> = {
  v8: v8Codec(true),
  json: jsonCodec,
  string: stringCodec,
  buffer: bufferCodec(true),
};

