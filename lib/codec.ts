// Codecs turn JS values into what the native store keeps, and back. The
// native side stores strings, numbers, booleans, null and undefined as
// themselves (no encoding), and anything else as opaque bytes.
import * as v8 from 'node:v8';
import { valueTypeError, describeType } from './errors';
import type { NativeValue } from './native';
import type { CodecName } from './types';

export interface Codec {
  readonly name: CodecName;
  /** Throws a TypeError naming `key` when the value cannot be encoded. */
  encode(store: string, key: string, value: unknown): NativeValue;
  decode(raw: NativeValue): unknown;
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

const v8Codec: Codec = {
  name: 'v8',
  encode(store, key, value) {
    switch (typeof value) {
      case 'string':
      case 'number':
      case 'boolean':
      case 'undefined':
        return value;
      case 'function':
      case 'symbol':
        throw valueTypeError(store, key, 'v8', `${describeType(value)} is not structured-clonable`);
      default:
        if (value === null) return null;
    }
    try {
      return v8.serialize(value);
    } catch (err) {
      throw valueTypeError(store, key, 'v8', (err as Error).message);
    }
  },
  decode(raw) {
    return raw instanceof Uint8Array ? deserializeCopy(raw) : raw;
  },
};

const jsonCodec: Codec = {
  name: 'json',
  encode(store, key, value) {
    // A number is stored as a number (what increment() counts with), as
    // JSON.stringify would give it back: -0 as 0, NaN and ±Infinity as null.
    if (typeof value === 'number') return Number.isFinite(value) ? (value === 0 ? 0 : value) : 'null';
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (err) {
      throw valueTypeError(store, key, 'json', (err as Error).message);
    }
    if (text === undefined) throw valueTypeError(store, key, 'json', `${describeType(value)} has no JSON form`);
    return text;
  },
  decode(raw) {
    // Text is JSON; a number is stored as itself.
    return typeof raw === 'string' ? JSON.parse(raw) : raw;
  },
};

const stringCodec: Codec = {
  name: 'string',
  encode(store, key, value) {
    if (typeof value !== 'string') throw valueTypeError(store, key, 'string', `expected a string, got ${describeType(value)}`);
    return value;
  },
  decode(raw) {
    return raw;
  },
};

const bufferCodec: Codec = {
  name: 'buffer',
  encode(store, key, value) {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) return value;
    throw valueTypeError(store, key, 'buffer', `expected a TypedArray, DataView, Buffer or ArrayBuffer, got ${describeType(value)}`);
  },
  decode(raw) {
    // Bytes come as a view of memory the binding reuses (a plain
    // Uint8Array): copy them into a Buffer of the caller's (small ones from
    // Node's Buffer pool, as Buffer.from does; allocUnsafe + set is the
    // faster way to the same). Values too large for the scratch memory come
    // as a Buffer of their own already.
    if (!(raw instanceof Uint8Array) || Buffer.isBuffer(raw)) return raw;
    const copy = Buffer.allocUnsafe(raw.length); // every byte is written next
    copy.set(raw);
    return copy;
  },
};

export const codecs: readonly Codec[] = [v8Codec, jsonCodec, stringCodec, bufferCodec];
