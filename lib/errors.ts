// Every error threadkv throws is built here, native ones included: the
// binding calls makeError() with a stable code and the facts. Errors are the
// built-in classes (TypeError, RangeError, Error) with a `code` property, as
// Node's own errors are.
//
// makeError runs inside native calls: it reads no property a user could have
// turned into a getter (describeType looks at own data properties only, and
// never into a Proxy), and defines rather than assigns properties (a setter
// on Error.prototype does not run).
import { types } from 'node:util';

const { getPrototypeOf, getOwnPropertyDescriptor, defineProperty } = Object;
const { isArray } = Array;
const { isProxy } = types;

export const ErrorCode = {
  KEY_TYPE: 'ERR_THREADKV_KEY_TYPE',
  KEY_TOO_LONG: 'ERR_THREADKV_KEY_TOO_LONG',
  VALUE_TYPE: 'ERR_THREADKV_VALUE_TYPE',
  VALUE_TOO_LARGE: 'ERR_THREADKV_VALUE_TOO_LARGE',
  CLOSED: 'ERR_THREADKV_CLOSED',
  DESTROYED: 'ERR_THREADKV_DESTROYED',
  OPTION_MISMATCH: 'ERR_THREADKV_OPTION_MISMATCH',
  INVALID_OPTION: 'ERR_THREADKV_INVALID_OPTION',
  INVALID_NAME: 'ERR_THREADKV_INVALID_NAME',
  INTERNAL: 'ERR_THREADKV_INTERNAL',
  /** increment() on a key whose value is not a number. */
  NOT_A_NUMBER: 'ERR_THREADKV_NOT_A_NUMBER',
  /** increment() whose result a counter cannot hold. */
  COUNTER_RANGE: 'ERR_THREADKV_COUNTER_RANGE',
  /** A method argument of the wrong type or out of range (other than keys and values). */
  INVALID_ARGUMENT: 'ERR_THREADKV_INVALID_ARGUMENT',
  /** update() ran out of retries: other threads kept changing the key. */
  UPDATE_CONTENDED: 'ERR_THREADKV_UPDATE_CONTENDED',
  /** evictionPolicy 'none': a write would pass maxEntries or maxBytes (nothing was changed). */
  STORE_FULL: 'ERR_THREADKV_STORE_FULL',
  /** An entry (or an atomic batch) that alone passes the store's maxBytes / maxEntries. */
  OVER_BUDGET: 'ERR_THREADKV_OVER_BUDGET',
  /** Native memory could not be allocated (nothing was changed, or, for a non-atomic setMany, see `stored`). */
  OUT_OF_MEMORY: 'ERR_THREADKV_OUT_OF_MEMORY',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error thrown by threadkv: a TypeError, RangeError or Error with a `code`. */
export interface ThreadKvError extends Error {
  code: ErrorCode;
  /**
   * Only on the error of a non-atomic `setMany` refused part-way (a limit,
   * memory): how many of its first entries were stored (entries
   * `0 .. stored - 1`, in the order given); the entry at index `stored` was
   * refused, and no later one was tried.
   */
  stored?: number;
}

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

function define(err: object, name: string, value: unknown): void {
  defineProperty(err, name, { value, writable: true, enumerable: true, configurable: true });
}

function withCode(Ctor: ErrorClass, code: ErrorCode, message: string): ThreadKvError {
  const err = new Ctor(`threadkv: ${message}`) as ThreadKvError;
  define(err, 'code', code);
  return err;
}

/** What makeError takes from the native constants (set by lib/native.ts at load). */
interface ErrorConstants {
  readonly codecs: readonly string[];
  readonly evictionPolicies: readonly string[];
  readonly entryOverhead: number;
  readonly queueLinkBytes: number;
}
let nativeConstants: ErrorConstants | undefined;

/** The per-entry overhead that maxBytes counts, in words. */
function overheadText(): string {
  if (nativeConstants === undefined) return '? bytes';
  const { entryOverhead, queueLinkBytes } = nativeConstants;
  return `${entryOverhead} bytes (${entryOverhead + queueLinkBytes} in a store that evicts)`;
}

/** Called once by lib/native.ts with the addon's constants. */
export function useNativeConstants(constants: ErrorConstants): void {
  nativeConstants = constants;
}

/** Shows a key in a message: quoted, and cut to a readable length. */
export function showKey(key: unknown): string {
  if (typeof key !== 'string') return describeType(key);
  const cut = key.length > 60 ? `${key.slice(0, 57)}...` : key;
  return JSON.stringify(cut);
}

/** An own data property's value (never a getter's: no user code runs), else undefined. */
function ownData(o: object, name: string): unknown {
  if (isProxy(o)) return undefined;
  const d = getOwnPropertyDescriptor(o, name);
  return d !== undefined && 'value' in d ? d.value : undefined;
}

/** The name of the class of `o`, from data properties only (undefined if there is none to read safely). */
function className(o: object): string | undefined {
  let proto: object | null = o;
  for (let depth = 0; proto !== null && depth < 64; depth++) {
    if (isProxy(proto)) return undefined;
    const d = getOwnPropertyDescriptor(proto, 'constructor');
    if (d !== undefined) {
      const ctor: unknown = 'value' in d ? d.value : undefined;
      if (typeof ctor !== 'function') return undefined;
      const name = ownData(ctor, 'name');
      return typeof name === 'string' && name !== '' ? name : undefined;
    }
    proto = getPrototypeOf(proto) as object | null;
  }
  return undefined;
}

/** "a string", "an instance of Map", "a Proxy"...: runs no user code (no getter, no Proxy trap). */
export function describeType(value: unknown): string {
  if (value === null) return 'null';
  const t = typeof value;
  if (t === 'object' || t === 'function') {
    if (isProxy(value)) return 'a Proxy';
    if (isArray(value)) return 'an array';
    if (t === 'function') return 'a function';
    const name = className(value as object);
    return name ? `an instance of ${name}` : 'an object';
  }
  if (t === 'string') return 'a string';
  if (t === 'undefined') return 'undefined';
  return `a ${t}`;
}

// An option's value as open() takes it: a name for codec and
// evictionPolicy (the native side passes the enum's value), "none" for a
// limit or time to live of 0.
function showOption(option: string | undefined, value: number | undefined): string {
  if (value === undefined) return 'undefined';
  if (option === 'codec') return `'${nativeConstants?.codecs[value] ?? value}'`;
  if (option === 'evictionPolicy') return `'${nativeConstants?.evictionPolicies[value] ?? value}'`;
  if ((option === 'maxEntries' || option === 'maxBytes' || option === 'ttlMs') && value === 0) return 'none';
  return String(value);
}

/**
 * The factory the native binding calls: (code, store, key, limit, actual,
 * option, stored).
 */
export function makeError(
  code: ErrorCode,
  store: string,
  key?: unknown,
  limit?: number,
  actual?: number,
  option?: string,
  stored?: number,
): ThreadKvError {
  const err = buildError(code, store, key, limit, actual, option, stored);
  if (stored !== undefined) define(err, 'stored', stored);
  return err;
}

// A non-atomic batch refused part-way: which of its entries were stored.
function partial(stored: number | undefined, key: unknown): string {
  if (stored === undefined) return 'nothing was changed';
  const refused = `entry ${stored}${key === undefined ? '' : ` (key ${showKey(key)})`} was refused and no later entry was tried`;
  return stored === 0
    ? `no entry was stored: ${refused}`
    : `the first ${stored} ${stored === 1 ? 'entry (index 0) was' : `entries (indices 0 to ${stored - 1}) were`} stored; ${refused}`;
}

function buildError(
  code: ErrorCode,
  store: string,
  key: unknown,
  limit: number | undefined,
  actual: number | undefined,
  option: string | undefined,
  stored: number | undefined,
): ThreadKvError {
  const where = `store ${JSON.stringify(store)}`;
  switch (code) {
    case ErrorCode.KEY_TYPE:
      return withCode(TypeError, code, `key must be a string, got ${describeType(key)} (${where})`);
    case ErrorCode.KEY_TOO_LONG:
      return withCode(
        RangeError,
        code,
        `key ${showKey(key)} is ${actual} bytes in UTF-8, over maxKeyBytes (${limit}) of ${where}`,
      );
    case ErrorCode.VALUE_TYPE:
      return withCode(TypeError, code, `the value for key ${showKey(key)} cannot be stored (${where})`);
    case ErrorCode.VALUE_TOO_LARGE:
      // option 'atLeast': refused from a lower bound (a string's length, an
      // encoder stopped at the limit) before the whole value was copied.
      return withCode(
        RangeError,
        code,
        `the value for key ${showKey(key)} is ${option === 'atLeast' ? 'at least ' : ''}${actual} bytes once encoded, over maxValueBytes (${limit}) of ${where}`,
      );
    case ErrorCode.CLOSED:
      return withCode(Error, code, `this handle on ${where} is closed`);
    case ErrorCode.DESTROYED:
      return withCode(Error, code, `${where} was destroyed (Store.destroy); open it again to start a new one`);
    case ErrorCode.OPTION_MISMATCH:
      return withCode(
        Error,
        code,
        `${where} already exists with ${option}: ${showOption(option, actual)}, but open() asked for ${option}: ${showOption(option, limit)}; ` +
          `leave ${option} out to attach with the existing options`,
      );
    case ErrorCode.NOT_A_NUMBER:
      return withCode(
        TypeError,
        code,
        `cannot increment key ${showKey(key)}: its value is not a number (${where}); nothing was changed`,
      );
    case ErrorCode.COUNTER_RANGE:
      return withCode(
        RangeError,
        code,
        `cannot increment key ${showKey(key)} by ${actual}: a counter holds integers from -${limit} to ${limit} ` +
          `(Number.MAX_SAFE_INTEGER) exactly, or finite fractional numbers, and the result would be neither (${where}); nothing was changed`,
      );
    case ErrorCode.STORE_FULL:
      return withCode(
        RangeError,
        code,
        `${key === undefined ? 'the batch' : `the write of key ${showKey(key)}`} would pass ${option} ` +
          `(${limit}) of ${where}, whose evictionPolicy is 'none'; ` +
          `${partial(stored, key)}. Delete entries first, raise ${option}, or open the store with evictionPolicy: 'sieve'`,
      );
    case ErrorCode.OVER_BUDGET:
      return withCode(
        RangeError,
        code,
        key === undefined
          ? `the atomic batch alone passes maxEntries / maxBytes of ${where} ` +
              `(its keys are never evicted for each other); nothing was changed. Split the batch, or raise the limits`
          : `the entry for key ${showKey(key)} takes ${actual} bytes (key + value + ` +
              `${overheadText()} of overhead), over the ` +
              `${limit} bytes of maxBytes of ${where}; ${partial(stored, key)}`,
      );
    case ErrorCode.OUT_OF_MEMORY:
      return withCode(
        Error,
        code,
        `out of memory${key === undefined ? '' : ` at key ${showKey(key)}`} (${where}): native memory could not be ` +
          `allocated; ${partial(stored, key)}`,
      );
    case ErrorCode.INVALID_ARGUMENT:
      // From the binding (lib/ checks its arguments first): an argument that
      // must be a plain array.
      return withCode(TypeError, code, `${option} must be an array (not a Proxy), got ${describeType(key)} (${where})`);
    default:
      return withCode(Error, ErrorCode.INTERNAL, `internal error ${code} (${where})`);
  }
}

/** The value could not be encoded by the store's codec. */
export function valueTypeError(store: string, key: string, codec: string, why: string): ThreadKvError {
  return withCode(
    TypeError,
    ErrorCode.VALUE_TYPE,
    `the value for key ${showKey(key)} cannot be encoded with codec '${codec}': ${why} (store ${JSON.stringify(store)})`,
  );
}

/** A method argument (not a key or a value) is of the wrong type or out of range. */
export function invalidArgument(
  Ctor: typeof TypeError | typeof RangeError,
  store: string,
  method: string,
  message: string,
): ThreadKvError {
  return withCode(Ctor, ErrorCode.INVALID_ARGUMENT, `${method}: ${message} (store ${JSON.stringify(store)})`);
}

/** update() gave up after `attempts` compare-and-set failures. */
export function updateContended(store: string, key: string, attempts: number): ThreadKvError {
  return withCode(
    Error,
    ErrorCode.UPDATE_CONTENDED,
    `update of key ${showKey(key)} gave up after ${attempts} attempts: other threads changed the key between every read and write ` +
      `(store ${JSON.stringify(store)}); nothing was changed by this call. Raise options.maxRetries, or use increment() for counters`,
  );
}

export function invalidOption(Ctor: typeof TypeError | typeof RangeError, option: string, message: string): ThreadKvError {
  return withCode(Ctor, ErrorCode.INVALID_OPTION, `options.${option} ${message}`);
}

export function invalidOptions(message: string): ThreadKvError {
  return withCode(TypeError, ErrorCode.INVALID_OPTION, `options ${message}`);
}

export function invalidName(Ctor: typeof TypeError | typeof RangeError, message: string): ThreadKvError {
  return withCode(Ctor, ErrorCode.INVALID_NAME, `store name ${message}`);
}
