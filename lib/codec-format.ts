// The default codec's own format for objects, arrays and the other
// structured-clonable values it can represent exactly (docs/design.md,
// "Values"): a fast encoder for JSON-like data with typed arrays, Map, Set,
// Date and BigInt, which gives up (returns -1) on anything else so that the
// value is stored through v8.serialize instead (a format tag per entry says
// which). Decoding builds plain objects with one compiled object literal per
// shape, strings with one slice each of a single string, and typed arrays as
// views into pool memory.
//
// Layout of an encoded value (little-endian):
//   0   u8  version (1)
//   1   u8  string encoding: 0 UTF-8 (the strings are well-formed), 1 UTF-16LE
//   4   u32 offset of the shape table
//   8   u32 offset of the strings (they run to the end)
//   12  u32 number of shapes
//   16  the value (tag byte, then its data; see T_* below)
//   ... the shape table: per shape a u32 slot (0 here; the binding writes
//       this environment's id for the shape into the copy a read gets), a
//       u32 descriptor length, the descriptor, padded to 4 bytes. A
//       descriptor is [u8 key encoding][varint key count][varint length of
//       each key][the keys' characters].
//   ... the strings: every string of the value, concatenated, in the order
//       the value reads them (strings carry only their length, in UTF-16
//       units), written at the end by Node's native UTF-8 or UTF-16 writer:
//       a character loop in JS costs ~2 ns a character, the writer ~0.3.
// Byte runs of typed arrays and number arrays are 8-aligned from the start
// of the value, so that a copy at an 8-aligned address can be viewed in place.
import { inspect, types } from 'node:util';

/** Entry formats of bytes values: native/binding/values.h has the same numbers. */
export const Fmt = {
  Codec: 0,
  Int8Array: 1,
  Uint8Array: 2,
  Uint8ClampedArray: 3,
  Int16Array: 4,
  Uint16Array: 5,
  Int32Array: 6,
  Uint32Array: 7,
  Float32Array: 8,
  Float64Array: 9,
  BigInt64Array: 10,
  BigUint64Array: 11,
  DataView: 12,
  ArrayBuffer: 13,
  Buffer: 14,
  LastBinary: 14,
  Object: 32,
  ObjectWithBinaries: 33,
  /** In-tag only: a binary value whose format the binding reads from it. */
  DeriveBinary: 255,
} as const;

type ViewCtor = new (buffer: ArrayBufferLike, byteOffset: number, length: number) => ArrayBufferView;
/** Typed array constructors by format (index 1..11). */
const VIEW_CTORS: (ViewCtor | undefined)[] = [
  undefined,
  Int8Array,
  Uint8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array as unknown as ViewCtor,
  BigUint64Array as unknown as ViewCtor,
];
const ELEMENT_SIZE = [1, 1, 1, 1, 2, 2, 4, 4, 4, 8, 8, 8, 1, 1, 1];
const FMT_BY_NAME: Record<string, number> = {
  Int8Array: Fmt.Int8Array,
  Uint8Array: Fmt.Uint8Array,
  Uint8ClampedArray: Fmt.Uint8ClampedArray,
  Int16Array: Fmt.Int16Array,
  Uint16Array: Fmt.Uint16Array,
  Int32Array: Fmt.Int32Array,
  Uint32Array: Fmt.Uint32Array,
  Float32Array: Fmt.Float32Array,
  Float64Array: Fmt.Float64Array,
  BigInt64Array: Fmt.BigInt64Array,
  BigUint64Array: Fmt.BigUint64Array,
};

// %TypedArray%.prototype[@@toStringTag]: a typed array's real type (undefined
// for a DataView), whatever its prototype or constructor property say.
const typedArrayName = Object.getOwnPropertyDescriptor(Object.getPrototypeOf(Uint8Array.prototype), Symbol.toStringTag)!
  .get as (this: unknown) => string | undefined;
const typedArraySlice = (Object.getPrototypeOf(Uint8Array.prototype) as { slice: (this: unknown, a: number, b: number) => unknown }).slice;
const { isProxy, isDate, isMap, isSet, isArrayBuffer } = types;
const hasOwn = Object.prototype.hasOwnProperty;
const getTime = Date.prototype.getTime;
const ObjectPrototype = Object.prototype;
const defineProperty = Object.defineProperty;
type Slice = (this: Uint8Array, a: number, b: number) => string;
type Write = (this: Uint8Array, s: string, at: number, len: number) => number;
const bufferProto = Buffer.prototype as unknown as { utf8Slice: Slice; ucs2Slice: Slice; utf8Write: Write; ucs2Write: Write; latin1Write: Write };
const { utf8Slice, ucs2Slice, utf8Write, ucs2Write, latin1Write } = bufferProto;
const byteLength = Buffer.byteLength;
// String.prototype.isWellFormed (Node 20+), or the same test by a regular
// expression (Node 18): no lone surrogate.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:^|[^\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormed: (s: string) => boolean =
  typeof (String.prototype as { isWellFormed?: unknown }).isWellFormed === 'function'
    ? (s) => (s as unknown as { isWellFormed(): boolean }).isWellFormed()
    : (s) => !LONE_SURROGATE.test(s);

/** The typed array format of a view (a binary Fmt), from its real type. */
export function viewFormat(v: ArrayBufferView): number {
  if (Buffer.isBuffer(v)) return Fmt.Buffer;
  const name = typedArrayName.call(v);
  return name === undefined ? Fmt.DataView : FMT_BY_NAME[name]!;
}

/**
 * Whether a view or ArrayBuffer cannot be read: its buffer is detached, or
 * it is out of bounds of a resizable buffer that shrank (N-API and the
 * byteLength getters show both as 0 bytes).
 */
export function unreadable(v: ArrayBufferView | ArrayBuffer): boolean {
  try {
    if (ArrayBuffer.isView(v)) {
      // DataView's byteLength getter throws for both; a typed array reads 0.
      if (v.byteLength === 0 && typedArrayName.call(v) !== undefined) typedArraySlice.call(v, 0, 0);
    } else if (v.byteLength === 0) {
      new Uint8Array(v);
    }
    return false;
  } catch {
    return true;
  }
}

// Value tags.
const T_UNDEFINED = 0;
const T_NULL = 1;
const T_FALSE = 2;
const T_TRUE = 3;
const T_INT8 = 4; // i8
const T_INT32 = 5; // i32
const T_FLOAT64 = 6; // f64
const T_STRING = 7; // varint length (UTF-16 units); the characters are in the strings
const T_ARRAY = 8; // varint length, then the elements
const T_NUMBERS = 9; // varint length, padding to 8, the elements as f64 (also T_INT8S...)
const T_OBJECT = 10; // u16 shape index, then the values in the shape's key order
const T_BINARY = 11; // u8 format, varint byte length, padding to 8, the bytes
const T_DATE = 12; // f64 time value
const T_BIGINT = 13; // varint length; the decimal digits (and sign) are in the strings
const T_MAP = 14; // u32 entry count, then key, value, key, value...
const T_SET = 15; // u32 size, then the values
const T_INT8S = 16; // varint length, the elements as i8
const T_INT16S = 17; // varint length, padding to 2, the elements as i16
const T_INT32S = 18; // varint length, padding to 4, the elements as i32

const HEADER = 16;
const VERSION = 1;
/** Arrays of at least this many numbers are stored as a block of f64. */
const NUMBERS_MIN = 8;
/** Up to this many elements, named properties of an array are found with Object.keys. */
const SMALL_ARRAY = 32;
/** Shapes of more keys are built key by key (no compiled literal). */
const MAX_COMPILED_KEYS = 64;
/** The encoder's shape tree is dropped when it grows past this many nodes. */
const MAX_SHAPE_NODES = 50_000;

/** Thrown inside the encoder: this value needs v8.serialize. */
const FALLBACK = { fallback: true };

/** Thrown by the encoder: the value cannot be stored (a detached view...). */
export class Unstorable extends Error {}

/** Thrown by the encoder: the value is larger than the limit: `bytes` (exactly, or at least). */
export class TooLarge extends Error {
  constructor(
    readonly bytes: number,
    readonly exact = false,
  ) {
    super(`${exact ? '' : 'at least '}${bytes} bytes`);
  }
}

// ---------------------------------------------------------------- shapes ----

class ShapeNode {
  next: Map<string, ShapeNode> | null = null;
  // The child met last: objects of one shape repeat, and comparing an
  // internalized key string with the last one is cheaper than a Map lookup.
  lastKey: string | null = null;
  lastChild: ShapeNode | null = null;
  /** The encode (stamp) that last used this shape, and its index there. */
  stamp = 0;
  index = 0;
  desc: Uint8Array | null = null;
  constructor(
    readonly parent: ShapeNode | null,
    readonly key: string,
    readonly depth: number,
  ) {}

  keys(): string[] {
    const out = new Array<string>(this.depth);
    let i = this.depth;
    for (let n: ShapeNode = this; n.parent !== null; n = n.parent) out[--i] = n.key;
    return out;
  }

  /** [u8 encoding][varint count][varint lengths...][characters]. */
  descriptor(): Uint8Array {
    if (this.desc !== null) return this.desc;
    const keys = this.keys();
    let wide = false;
    let chars = 0;
    for (const k of keys) {
      chars += k.length;
      for (let i = 0; i < k.length && !wide; i++) if (k.charCodeAt(i) > 0xff) wide = true;
    }
    const head: number[] = [wide ? 1 : 0];
    pushVarint(head, keys.length);
    for (const k of keys) pushVarint(head, k.length);
    const d = new Uint8Array(head.length + chars * (wide ? 2 : 1));
    d.set(head);
    let q = head.length;
    for (const k of keys) {
      for (let i = 0; i < k.length; i++) {
        const c = k.charCodeAt(i);
        if (wide) {
          d[q++] = c & 0xff;
          d[q++] = c >>> 8;
        } else {
          d[q++] = c;
        }
      }
    }
    this.desc = d;
    return d;
  }
}

function pushVarint(a: number[], n: number): void {
  while (n >= 0x80) {
    a.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  a.push(n);
}

let shapeRoot = new ShapeNode(null, '', 0);
let shapeNodes = 0;

function child(node: ShapeNode, key: string): ShapeNode {
  if (node.lastKey === key) return node.lastChild!;
  const c = childSlow(node, key);
  node.lastKey = key;
  node.lastChild = c;
  return c;
}

function childSlow(node: ShapeNode, key: string): ShapeNode {
  let next = node.next;
  if (next === null) next = node.next = new Map();
  let c = next.get(key);
  if (c === undefined) {
    c = new ShapeNode(node, key, node.depth + 1);
    next.set(key, c);
    shapeNodes++;
  }
  return c;
}

// --------------------------------------------------------------- encoder ----

let out = new Uint8Array(1 << 14);
let view = new DataView(out.buffer);
let pos = 0;
// min(out.length, limit + 1): ensure() passes it only to grow or to refuse.
let cap = 0;
// The value's strings, concatenated (V8 builds this as a rope: O(1) a string).
let strings = '';
let limit = 0;
let binaries = false;
let stamp = 0;
// The shapes this encode used, in index order (the array is reused).
const used: ShapeNode[] = [];
let usedCount = 0;
// Objects met so far (a value met twice, or a cycle, falls back to v8).
const seen: object[] = [];
let seenCount = 0;
let seenSet: Set<object> | null = null;
let encoding = false;
// Whether Object.prototype has enumerable properties (someone added one):
// for-in over a plain object then yields inherited keys too. Checked once
// an encode.
let inheritedKeys = false;
function objectPrototypeEnumerates(): boolean {
  for (const k in ObjectPrototype) if (k !== undefined) return true;
  return false;
}

// The size limit is checked as the value grows: a value past it is refused
// as soon as the encoder knows (the full value is never encoded), one that
// ends past it is refused with its exact size. `need`: the room asked for;
// `min`: the bytes that will be written for certain.
function grow(need: number, min: number): void {
  const written = pos + strings.length;
  if (written + min > limit) throw new TooLarge(written + min);
  if (need > out.length) {
    let size = out.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(out.subarray(0, pos));
    out = next;
    view = new DataView(next.buffer);
  }
  cap = Math.min(out.length, limit + 1);
}

function ensure(n: number, min = 1): void {
  if (pos + n > cap) grow(pos + n, min);
}

function writeVarint(n: number): void {
  while (n >= 0x80) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
}

function pad8(): void {
  while ((pos & 7) !== 0) out[pos++] = 0;
}

function writeChars(s: string): void {
  strings += s;
  // Every UTF-16 unit takes at least a byte: a lower bound of the size.
  if (pos + strings.length > limit) throw new TooLarge(pos + strings.length);
}

function writeString(s: string): void {
  ensure(6);
  out[pos++] = T_STRING;
  writeVarint(s.length);
  writeChars(s);
}

function writeNumber(v: number): void {
  ensure(9);
  if ((v | 0) === v && (v !== 0 || 1 / v > 0)) {
    if (v >= -128 && v <= 127) {
      out[pos++] = T_INT8;
      out[pos++] = v & 0xff;
    } else {
      out[pos++] = T_INT32;
      view.setInt32(pos, v, true);
      pos += 4;
    }
  } else {
    out[pos++] = T_FLOAT64;
    view.setFloat64(pos, v, true);
    pos += 8;
  }
}

function see(o: object): void {
  if (seenSet !== null) {
    if (seenSet.has(o)) throw FALLBACK;
    seenSet.add(o);
    return;
  }
  for (let i = 0; i < seenCount; i++) if (seen[i] === o) throw FALLBACK;
  if (seenCount === 64) {
    seenSet = new Set(seen);
    seenSet.add(o);
    return;
  }
  seen[seenCount++] = o;
}

// An if-chain of `typeof v === '...'`: TurboFan turns each test into a type
// check, where a switch on typeof calls the generic typeof and compares
// strings (callgrind: ~40 instructions a value).
function writeValue(v: unknown): void {
  if (typeof v === 'string') {
    writeString(v);
  } else if (typeof v === 'number') {
    writeNumber(v);
  } else if (typeof v === 'object') {
    if (v === null) {
      ensure(1);
      out[pos++] = T_NULL;
    } else {
      writeObject(v);
    }
  } else if (typeof v === 'boolean') {
    ensure(1);
    out[pos++] = v ? T_TRUE : T_FALSE;
  } else if (v === undefined) {
    ensure(1);
    out[pos++] = T_UNDEFINED;
  } else if (typeof v === 'bigint') {
    const digits = v.toString();
    ensure(6);
    out[pos++] = T_BIGINT;
    writeVarint(digits.length);
    writeChars(digits);
  } else {
    // Functions and symbols: v8.serialize refuses them with its message.
    throw FALLBACK;
  }
}

function writeObject(o: object): void {
  // A Proxy would run its traps here; structured clone refuses it.
  if (isProxy(o)) throw FALLBACK;
  see(o);
  if (Array.isArray(o)) {
    writeArray(o);
    return;
  }
  if (Object.getPrototypeOf(o) === ObjectPrototype) {
    writePlain(o as Record<string, unknown>);
    return;
  }
  if (ArrayBuffer.isView(o)) {
    writeBinary(viewFormat(o), o);
    return;
  }
  if (isDate(o)) {
    ensure(9);
    out[pos++] = T_DATE;
    view.setFloat64(pos, getTime.call(o), true);
    pos += 8;
    return;
  }
  if (isMap(o)) {
    writeCollection(T_MAP, o as Map<unknown, unknown>, true);
    return;
  }
  if (isSet(o)) {
    writeCollection(T_SET, o as Set<unknown>, false);
    return;
  }
  if (isArrayBuffer(o) && !(o as ArrayBuffer & { resizable?: boolean }).resizable) {
    writeBinary(Fmt.ArrayBuffer, o as ArrayBuffer);
    return;
  }
  // Class instances, null-prototype objects, RegExp, Error, boxed
  // primitives, SharedArrayBuffer, host objects...: v8.serialize.
  throw FALLBACK;
}

// Named (non-index) properties of an array, found without enumerating its
// indices: Object.keys makes a string of every index (about 150 instructions
// each), while util.inspect with maxArrayLength 0 lists only the other
// properties (V8 collects keys skipping indices). Any output but the bare
// "[ ... n more items ]" (named properties, enumerable symbols, or a future
// change of format) sends the array to v8.serialize: this check can only
// err on the safe side.
const INSPECT = {
  maxArrayLength: 0,
  depth: 0,
  customInspect: false,
  showProxy: false,
  showHidden: false,
  getters: false,
  colors: false,
  compact: 3,
  breakLength: Infinity,
  sorted: false,
  numericSeparator: false,
} as const;
function namedProperties(a: unknown[], n: number): boolean {
  if (n <= SMALL_ARRAY) return Object.keys(a).length !== n;
  return inspect(a, INSPECT) !== `[ ... ${n} more items ]`;
}

function writeArray(a: unknown[]): void {
  const n = a.length;
  // Holes and named properties are kept by structured clone, not by this
  // format: with no hole (a missing index, found below), a key count above
  // the length means named properties.
  if (namedProperties(a, n)) throw FALLBACK;
  if (n >= NUMBERS_MIN && typeof a[0] === 'number' && writeNumbers(a, n)) return;
  ensure(6);
  out[pos++] = T_ARRAY;
  writeVarint(n);
  for (let i = 0; i < n; i++) {
    const e = a[i];
    if (e === undefined && !(i in a)) throw FALLBACK;
    writeValue(e);
  }
}

/**
 * An array of numbers only (no hole: a hole reads undefined) as one block,
 * of the narrowest element type that holds every one of them exactly:
 * int8, int16, int32, or f64 (which keeps -0 and NaN). False, writing
 * nothing, if an element is not a number.
 */
function writeNumbers(a: unknown[], n: number): boolean {
  ensure(16 + n * 8, n + 2);
  const start = pos;
  out[pos++] = T_NUMBERS;
  writeVarint(n);
  pad8();
  // Written as f64 while checking; narrowed below when every one is an int.
  const f = new Float64Array(out.buffer, pos, n);
  let min = 0;
  let max = 0;
  let ints = true;
  for (let i = 0; i < n; i++) {
    const x = a[i];
    if (typeof x !== 'number') {
      pos = start;
      return false;
    }
    f[i] = x;
    if (ints) {
      if ((x | 0) !== x || (x === 0 && 1 / x < 0)) ints = false;
      else if (x < min) min = x;
      else if (x > max) max = x;
    }
  }
  if (!ints) {
    pos += n * 8;
    return true;
  }
  pos = start;
  const narrow = min >= -128 && max <= 127 ? INT_BLOCKS[0]! : min >= -32768 && max <= 32767 ? INT_BLOCKS[1]! : INT_BLOCKS[2]!;
  out[pos++] = narrow.tag;
  writeVarint(n);
  while ((pos & (narrow.size - 1)) !== 0) out[pos++] = 0;
  // The f64 copy sits at or after `pos` (8-aligned above it): each element
  // is read before the narrower write that may cover it, front to back.
  const dst = new narrow.Ctor(out.buffer, pos, n);
  for (let i = 0; i < n; i++) dst[i] = f[i]!;
  pos += n * narrow.size;
  return true;
}

type IntArrayCtor = new (b: ArrayBufferLike, at: number, n: number) => Int8Array | Int16Array | Int32Array;
/** The integer blocks, narrowest first. */
const INT_BLOCKS: { tag: number; size: number; Ctor: IntArrayCtor }[] = [
  { tag: T_INT8S, size: 1, Ctor: Int8Array },
  { tag: T_INT16S, size: 2, Ctor: Int16Array },
  { tag: T_INT32S, size: 4, Ctor: Int32Array },
];

function writePlain(o: Record<string, unknown>): void {
  ensure(3);
  out[pos++] = T_OBJECT;
  const at = pos;
  pos += 2;
  let node = shapeRoot;
  if (inheritedKeys) {
    for (const k in o) {
      if (!hasOwn.call(o, k)) continue; // inherited enumerable properties
      node = child(node, k);
      writeValue(o[k]);
    }
  } else {
    for (const k in o) {
      node = child(node, k);
      writeValue(o[k]);
    }
  }
  let index = node.index;
  if (node.stamp !== stamp) {
    index = usedCount;
    if (index > 0xffff) throw FALLBACK;
    node.stamp = stamp;
    node.index = index;
    used[usedCount++] = node;
  }
  out[at] = index & 0xff;
  out[at + 1] = index >>> 8;
}

function writeCollection(tag: number, c: Map<unknown, unknown> | Set<unknown>, pairs: boolean): void {
  ensure(5);
  out[pos++] = tag;
  const at = pos;
  pos += 4;
  let n = 0;
  if (pairs) {
    for (const [k, v] of c as Map<unknown, unknown>) {
      writeValue(k);
      writeValue(v);
      n++;
    }
  } else {
    for (const v of c as Set<unknown>) {
      writeValue(v);
      n++;
    }
  }
  view.setUint32(at, n, true);
}

function writeBinary(format: number, v: ArrayBufferView | ArrayBuffer): void {
  if (unreadable(v)) throw new Unstorable('a view of a detached or out-of-bounds ArrayBuffer cannot be stored');
  const len = v.byteLength;
  ensure(16 + len, len + 3);
  out[pos++] = T_BINARY;
  out[pos++] = format;
  writeVarint(len);
  pad8();
  out.set(ArrayBuffer.isView(v) ? new Uint8Array(v.buffer, v.byteOffset, len) : new Uint8Array(v), pos);
  pos += len;
  binaries = true;
}

/**
 * Encodes `value` into the encoder's buffer (see `encoded`). Returns the
 * byte length, or -1 when the value needs v8.serialize. Throws TooLarge past
 * `maxBytes`, Unstorable for a value no codec may store, and whatever user
 * code (a getter) throws.
 */
export function encode(value: unknown, maxBytes: number): number {
  if (encoding) return -1; // a getter storing a value while we encode: it takes the v8 path
  encoding = true;
  if (shapeNodes > MAX_SHAPE_NODES) {
    shapeRoot = new ShapeNode(null, '', 0);
    shapeNodes = 0;
  }
  stamp++;
  inheritedKeys = objectPrototypeEnumerates();
  pos = HEADER;
  strings = '';
  limit = maxBytes;
  cap = Math.min(out.length, limit + 1);
  binaries = false;
  try {
    if (HEADER > limit) throw new TooLarge(HEADER);
    writeValue(value);
    return finish();
  } catch (err) {
    if (err === FALLBACK) return -1;
    throw err;
  } finally {
    for (let i = 0; i < seenCount; i++) seen[i] = undefined as unknown as object;
    seenCount = 0;
    seenSet = null;
    for (let i = 0; i < usedCount; i++) used[i] = undefined as unknown as ShapeNode;
    usedCount = 0;
    encoding = false;
  }
}

function finish(): number {
  while ((pos & 3) !== 0) {
    ensure(1);
    out[pos++] = 0;
  }
  const shapesAt = pos;
  for (let i = 0; i < usedCount; i++) {
    const d = used[i]!.descriptor();
    ensure(8 + d.length + 3);
    view.setUint32(pos, 0, true);
    view.setUint32(pos + 4, d.length, true);
    out.set(d, pos + 8);
    pos += 8 + d.length;
    while ((pos & 3) !== 0) out[pos++] = 0;
  }
  const stringsAt = pos;
  // UTF-8 unless a lone surrogate needs UTF-16 to survive. All-ASCII
  // strings (UTF-8 length = length) take the one-byte writer, a copy.
  const wide = !wellFormed(strings);
  const bytes = wide ? strings.length * 2 : byteLength(strings, 'utf8');
  if (pos + bytes > limit) throw new TooLarge(pos + bytes, true);
  ensure(bytes, 0);
  if (bytes > 0) pos += (wide ? ucs2Write : bytes === strings.length ? latin1Write : utf8Write).call(out, strings, pos, bytes);
  strings = '';
  out[0] = VERSION;
  out[1] = wide ? 1 : 0;
  out[2] = 0;
  out[3] = 0;
  view.setUint32(4, shapesAt, true);
  view.setUint32(8, stringsAt, true);
  view.setUint32(12, usedCount, true);
  return pos;
}

/** The encoder's buffer: the last encode's bytes are its first `length` (valid until the next encode). */
export function encoderBuffer(): Uint8Array {
  return out;
}

/** Whether the last encoded value holds typed arrays (Fmt.ObjectWithBinaries). */
export function encodedFormat(): number {
  return binaries ? Fmt.ObjectWithBinaries : Fmt.Object;
}

// --------------------------------------------------------------- decoder ----

type Build = (r: Reader) => unknown;

interface Shape {
  keys: string[];
  uses: number;
  build: Build;
}

/** Shapes by the id the binding gave them in this environment (1..). */
const shapesById: (Shape | undefined)[] = [];

function readDescriptor(u8: Uint8Array, at: number, len: number): string[] {
  const end = at + len;
  const wide = u8[at++] === 1;
  const r = { p: at };
  const varint = (): number => {
    let n = 0;
    let scale = 1;
    for (;;) {
      const b = u8[r.p++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
  };
  const count = varint();
  const lens: number[] = [];
  for (let i = 0; i < count; i++) lens.push(varint());
  const keys: string[] = [];
  let q = r.p;
  for (const l of lens) {
    let s = '';
    for (let i = 0; i < l; i++) {
      if (wide) {
        s += String.fromCharCode(u8[q]! | (u8[q + 1]! << 8));
        q += 2;
      } else {
        s += String.fromCharCode(u8[q++]!);
      }
    }
    keys.push(s);
  }
  if (q !== end) throw corrupt();
  return keys;
}

// Keys that assignment would not simply create on a new object (accessors
// or setters on Object.prototype, such as __proto__): defined instead.
function definedKey(k: string): boolean {
  return k in ObjectPrototype;
}

function genericBuild(keys: string[]): Build {
  const define = keys.map(definedKey);
  return (r) => {
    const o: Record<string, unknown> = {};
    for (let i = 0; i < keys.length; i++) {
      const v = r.value();
      if (define[i]) defineProperty(o, keys[i]!, { value: v, writable: true, enumerable: true, configurable: true });
      else o[keys[i]!] = v;
    }
    return o;
  };
}

/** One object literal for the shape (keys defined, in order), or null if code generation is off. */
function compile(keys: string[]): Build | null {
  try {
    const props = keys.map((k) => `${k === '__proto__' ? '["__proto__"]' : JSON.stringify(k)}: r.value()`).join(', ');
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('r', `return { ${props} };`) as Build;
  } catch {
    return null;
  }
}

function newShape(keys: string[]): Shape {
  return { keys, uses: 0, build: genericBuild(keys) };
}

function shapeBuild(s: Shape): Build {
  // Compiling a literal costs tens of microseconds: only for shapes met
  // again, and not for very wide ones.
  if (++s.uses === 2 && s.keys.length <= MAX_COMPILED_KEYS) {
    const fast = compile(s.keys);
    if (fast !== null) s.build = fast;
  }
  return s.build;
}

function corrupt(): Error {
  return new Error('threadkv: a stored value is not in the format its tag says (internal error)');
}

class Reader {
  u8: Uint8Array = new Uint8Array(0);
  dv: DataView = new DataView(new ArrayBuffer(0));
  p = 0;
  strings = '';
  sp = 0;
  /** The bytes are pool memory: typed arrays may be views of them. */
  pooled = false;
  /** Every typed array gets an ArrayBuffer of its own. */
  own = false;
  builds: Build[] = [];
  busy = false;

  varint(): number {
    const u8 = this.u8;
    let b = u8[this.p++]!;
    if (b < 0x80) return b;
    let n = b & 0x7f;
    let scale = 128;
    for (;;) {
      b = u8[this.p++]!;
      n += (b & 0x7f) * scale;
      if (b < 0x80) return n;
      scale *= 128;
    }
  }

  string(): string {
    const n = this.varint();
    const s = this.strings.slice(this.sp, this.sp + n);
    this.sp += n;
    return s;
  }

  value(): unknown {
    const u8 = this.u8;
    switch (u8[this.p++]) {
      case T_STRING:
        return this.string();
      case T_INT8:
        return (u8[this.p++]! << 24) >> 24;
      case T_INT32: {
        const v = this.dv.getInt32(this.p, true);
        this.p += 4;
        return v;
      }
      case T_FLOAT64: {
        const v = this.dv.getFloat64(this.p, true);
        this.p += 8;
        return v;
      }
      case T_OBJECT: {
        const i = u8[this.p]! | (u8[this.p + 1]! << 8);
        this.p += 2;
        return this.builds[i]!(this);
      }
      case T_ARRAY: {
        const n = this.varint();
        const a = new Array<unknown>(n);
        for (let i = 0; i < n; i++) a[i] = this.value();
        return a;
      }
      case T_NULL:
        return null;
      case T_TRUE:
        return true;
      case T_FALSE:
        return false;
      case T_UNDEFINED:
        return undefined;
      case T_NUMBERS: {
        const n = this.varint();
        this.p = (this.p + 7) & ~7;
        const f = new Float64Array(u8.buffer, this.p, n); // u8 views the whole buffer
        this.p += n * 8;
        const a = new Array<number>(n);
        for (let i = 0; i < n; i++) a[i] = f[i]!;
        return a;
      }
      case T_INT8S:
      case T_INT16S:
      case T_INT32S:
        return this.ints(u8[this.p - 1]!);
      case T_BINARY:
        return this.binary();
      case T_DATE: {
        const t = this.dv.getFloat64(this.p, true);
        this.p += 8;
        return new Date(t);
      }
      case T_BIGINT:
        return BigInt(this.string());
      case T_MAP: {
        const n = this.dv.getUint32(this.p, true);
        this.p += 4;
        const m = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          const k = this.value();
          m.set(k, this.value());
        }
        return m;
      }
      case T_SET: {
        const n = this.dv.getUint32(this.p, true);
        this.p += 4;
        const s = new Set<unknown>();
        for (let i = 0; i < n; i++) s.add(this.value());
        return s;
      }
      default:
        throw corrupt();
    }
  }

  ints(tag: number): number[] {
    const n = this.varint();
    const size = tag === T_INT8S ? 1 : tag === T_INT16S ? 2 : 4;
    this.p = (this.p + size - 1) & ~(size - 1);
    const src =
      tag === T_INT8S ? new Int8Array(this.u8.buffer, this.p, n) : tag === T_INT16S ? new Int16Array(this.u8.buffer, this.p, n) : new Int32Array(this.u8.buffer, this.p, n);
    this.p += n * size;
    const a = new Array<number>(n);
    for (let i = 0; i < n; i++) a[i] = src[i]!;
    return a;
  }

  binary(): unknown {
    const u8 = this.u8;
    const format = u8[this.p++]!;
    const len = this.varint();
    this.p = (this.p + 7) & ~7;
    const at = this.p; // u8 views the whole buffer
    this.p += len;
    return binaryValue(format, u8.buffer as ArrayBuffer, at, len, this.pooled && !this.own);
  }
}

/**
 * The value of `len` bytes at `at` of `buffer` in binary format `format`: a
 * view of them when `shared` (pool memory), else a copy of its own.
 */
export function binaryValue(format: number, buffer: ArrayBuffer, at: number, len: number, shared: boolean): unknown {
  if (format === Fmt.ArrayBuffer) return buffer.slice(at, at + len);
  let ab = buffer;
  let off = at;
  if (!shared) {
    ab = buffer.slice(at, at + len);
    off = 0;
  }
  if (format === Fmt.Buffer) return Buffer.from(ab, off, len);
  if (format === Fmt.DataView) return new DataView(ab, off, len);
  const Ctor = VIEW_CTORS[format];
  if (Ctor === undefined || len % ELEMENT_SIZE[format]! !== 0) throw corrupt();
  return new Ctor(ab, off, len / ELEMENT_SIZE[format]!);
}

const free: Reader[] = [];

// Views of the last buffer decoded from (the scratch buffer, or a pool
// slab), so that a read allocates nothing but its result.
let lastBuffer: ArrayBufferLike | null = null;
let lastU8: Uint8Array = new Uint8Array(0);
let lastDv: DataView = new DataView(new ArrayBuffer(0));

/**
 * The value encoded in the `len` bytes at `base` of `buffer` (this format,
 * shape slots named by the binding, or 0). `pooled`: the bytes are pool
 * memory that typed arrays may view; `own`: every typed array gets an
 * ArrayBuffer of its own.
 */
export function decode(buffer: ArrayBufferLike, base: number, len: number, pooled: boolean, own: boolean): unknown {
  if (buffer !== lastBuffer) {
    lastBuffer = buffer;
    lastU8 = new Uint8Array(buffer);
    lastDv = new DataView(buffer);
  }
  const u8 = lastU8;
  const dv = lastDv;
  if (len < HEADER || base + len > u8.length || u8[base] !== VERSION) throw corrupt();
  const shapesAt = base + dv.getUint32(base + 4, true);
  const stringsAt = base + dv.getUint32(base + 8, true);
  const n = dv.getUint32(base + 12, true);
  const end = base + len;
  if (shapesAt < base + HEADER || shapesAt > stringsAt || stringsAt > end) throw corrupt();
  // A reader per call in progress: nothing user-defined runs while decoding,
  // but a patched builtin could call back into the store.
  const r = free.pop() ?? new Reader();
  r.u8 = u8;
  r.dv = dv;
  r.pooled = pooled;
  r.own = own;
  r.strings = stringsAt === end ? '' : u8[base + 1] === 0 ? utf8Slice.call(u8, stringsAt, end) : ucs2Slice.call(u8, stringsAt, end);
  r.sp = 0;
  const builds = r.builds;
  let q = shapesAt;
  for (let i = 0; i < n; i++) {
    if (q + 8 > stringsAt) throw corrupt();
    const id = dv.getUint32(q, true);
    const dlen = dv.getUint32(q + 4, true);
    if (q + 8 + dlen > stringsAt) throw corrupt();
    let s = id !== 0 ? shapesById[id] : undefined;
    if (s === undefined) {
      s = newShape(readDescriptor(u8, q + 8, dlen));
      if (id !== 0) shapesById[id] = s;
    }
    builds[i] = shapeBuild(s);
    q = (q + 8 + dlen + 3) & ~3;
  }
  r.p = base + HEADER;
  try {
    return r.value();
  } finally {
    r.u8 = EMPTY;
    r.strings = '';
    free.push(r);
  }
}

const EMPTY = new Uint8Array(0);
