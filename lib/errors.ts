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
  /** getOrCompute / getOrComputeSync: this caller stopped waiting for another caller's computation (waitTimeoutMs). */
  COMPUTE_TIMEOUT: 'ERR_THREADKV_COMPUTE_TIMEOUT',
  /** getOrComputeSync on a key its own thread is computing (blocking would never end). */
  RECURSIVE_COMPUTE: 'ERR_THREADKV_RECURSIVE_COMPUTE',
  /** restore(): the file is not a complete, intact threadkv snapshot (the message says what and where). */
  SNAPSHOT_CORRUPT: 'ERR_THREADKV_SNAPSHOT_CORRUPT',
  /** restore(): the file needs a newer threadkv, or holds V8-serialized values of a newer Node. */
  SNAPSHOT_VERSION: 'ERR_THREADKV_SNAPSHOT_VERSION',
  /** restore(): the snapshot's codec is not the store's. */
  SNAPSHOT_CODEC: 'ERR_THREADKV_SNAPSHOT_CODEC',
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
  readonly timerLinkBytes: number;
}
let nativeConstants: ErrorConstants | undefined;

/** The per-entry overhead that maxBytes counts, in words. */
function overheadText(): string {
  if (nativeConstants === undefined) return '? bytes';
  const { entryOverhead, queueLinkBytes, timerLinkBytes } = nativeConstants;
  return `${entryOverhead} bytes (+${timerLinkBytes} with a TTL, +${queueLinkBytes} in a store that evicts)`;
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

/** getOrCompute / getOrComputeSync: waitTimeoutMs passed while another caller computed `key`. */
export function computeTimeout(store: string, key: string, waitTimeoutMs: number): ThreadKvError {
  return withCode(
    Error,
    ErrorCode.COMPUTE_TIMEOUT,
    `getOrCompute of key ${showKey(key)} stopped waiting after waitTimeoutMs (${waitTimeoutMs} ms) for the computation ` +
      `another caller runs (store ${JSON.stringify(store)}); that computation goes on for its other callers`,
  );
}

/** getOrComputeSync on a key whose computation this very thread runs. */
export function recursiveCompute(store: string, key: string): ThreadKvError {
  return withCode(
    Error,
    ErrorCode.RECURSIVE_COMPUTE,
    `getOrComputeSync of key ${showKey(key)}: this thread is itself computing that key (a factory, or a pending ` +
      `getOrCompute of this thread, leads its computation), or the thread computing it is blocked in getOrComputeSync ` +
      `waiting, directly or through other threads, for a key this thread computes; waiting for it here would never end ` +
      `(store ${JSON.stringify(store)})`,
  );
}

/** The AbortError a call rejects with when its `signal` aborts (as Node's own APIs do: the reason is its cause). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}

// ---- Snapshot and restore (lib/snapshot.ts) ----

/** What the native side reports about a failed snapshot or restore. */
export interface SnapshotFacts {
  kind: 'corrupt' | 'version' | 'codec' | 'io' | 'destroyed' | 'limit' | 'oom' | 'internal';
  reason?: string;
  offset?: number;
  block?: number;
  a?: number;
  b?: number;
  aux?: number;
  field?: string;
  detail?: string;
  fileCodec?: number;
  storeCodec?: number;
  errno?: number;
  syscall?: string;
  path?: string;
  limit?: 'key-too-long' | 'value-too-large' | 'full-entries' | 'full-bytes' | 'too-big' | 'internal';
  key?: string;
  max?: number;
  actual?: number;
  /** restore: entries written before a limit stopped it. */
  restored?: number;
}

const hex = (n: number | undefined): string => `0x${(n ?? 0).toString(16).padStart(8, '0')}`;

function corruptWhat(f: SnapshotFacts): string {
  const at = `byte offset ${f.offset}`;
  const block = f.block !== undefined ? `block ${f.block} (at ${at})` : `the data at ${at}`;
  switch (f.reason) {
    case 'not-snapshot':
      return `it is not a threadkv snapshot (it does not start with "TKVSNAP"${f.detail ? `; it starts with ${f.detail}` : ''})`;
    case 'truncated-header':
      return `it is ${f.a} bytes long, shorter than its ${f.b}-byte header (truncated?)`;
    case 'header-size':
      return `its header size field (${f.a}) is out of range`;
    case 'header-checksum':
      return `its header checksum does not match (stored ${hex(f.a)}, computed ${hex(f.b)})`;
    case 'header-field':
      return `header field ${f.field} at ${at} is invalid`;
    case 'block-header':
      return f.field === 'file_id'
        ? `${block} belongs to another snapshot (its file id differs)`
        : `there is no valid block header at ${at}`;
    case 'block-checksum':
      return `${block} fails its checksum (stored ${hex(f.a)}, computed ${hex(f.b)})`;
    case 'block-order':
      return `the block at ${at} has index ${f.a}, expected ${f.b}`;
    case 'block-too-large':
      return `${block} claims ${f.a} payload bytes, over the ${f.b}-byte block limit`;
    case 'entry':
      return `entry ${f.aux} of block ${f.block} (at ${at}) is malformed: bad ${f.field}`;
    case 'truncated':
      return f.block !== undefined
        ? `it ends inside block ${f.block} (which starts at ${at}): it is ${f.a} bytes long (truncated?)`
        : `it ends at ${at}, before its trailer (truncated?)`;
    case 'trailer-checksum':
      return `its trailer at ${at} is damaged`;
    case 'trailer-mismatch':
      return `its trailer says ${f.field} ${f.a}, but the file holds ${f.b}`;
    case 'trailing-bytes':
      return `${f.a} unexpected bytes follow its trailer, at ${at}`;
    default:
      return `${f.reason} at ${at}`;
  }
}

/**
 * The error for a failed snapshot (`op` 'snapshot') or restore. `path` is
 * the snapshot file; `codecs` names codecs by index; `readerVersion` is
 * this threadkv's version (for version errors).
 */
export function snapshotError(
  op: 'snapshot' | 'restore',
  store: string,
  path: string,
  f: SnapshotFacts,
  context: { codecs: readonly string[]; threadkvVersion: string; systemError: (errno: number) => [string, string] },
): Error {
  const what = op === 'snapshot' ? `snapshot of store ${JSON.stringify(store)} to ${JSON.stringify(path)}` : `restore of store ${JSON.stringify(store)} from ${JSON.stringify(path)}`;
  const located = (err: ThreadKvError): ThreadKvError => {
    define(err, 'path', path);
    if (f.offset !== undefined) define(err, 'offset', f.offset);
    if (f.block !== undefined) define(err, 'block', f.block);
    return err;
  };
  switch (f.kind) {
    case 'corrupt':
      return located(withCode(Error, ErrorCode.SNAPSHOT_CORRUPT, `${what} failed: the file is corrupt: ${corruptWhat(f)}; the store was not changed`));
    case 'version':
      if (f.reason === 'v8-too-new') {
        return located(
          withCode(
            Error,
            ErrorCode.SNAPSHOT_VERSION,
            `${what} failed: the file holds values serialized with V8 wire format version ${f.a}` +
              `${f.detail ? ` (written by Node ${f.detail})` : ''}, and this Node (${process.version}) reads versions up to ${f.b}. ` +
              `Restore it with a Node at least as new as the one that wrote it; the store was not changed`,
          ),
        );
      }
      return located(
        withCode(
          Error,
          ErrorCode.SNAPSHOT_VERSION,
          `${what} failed: the file is snapshot format version ${f.aux}, which needs a reader of format version ${f.a} or later; ` +
            `this threadkv (${context.threadkvVersion}) reads format versions up to ${f.b}. Upgrade threadkv to restore it; the store was not changed`,
        ),
      );
    case 'codec': {
      const file = context.codecs[f.fileCodec ?? -1] ?? String(f.fileCodec);
      const mine = context.codecs[f.storeCodec ?? -1] ?? String(f.storeCodec);
      return located(
        withCode(
          Error,
          ErrorCode.SNAPSHOT_CODEC,
          `${what} failed: the snapshot holds values of codec '${file}', but the store uses codec '${mine}'; ` +
            `restore it into a store opened with codec: '${file}'. The store was not changed`,
        ),
      );
    }
    case 'io': {
      // Shaped as Node's own system errors (fs): code 'ENOENT', errno, syscall, path.
      const errno = f.errno ?? 0;
      const [name, text] = context.systemError(errno);
      const err = new Error(`threadkv: ${what} failed: ${name}: ${text}, ${f.syscall} '${f.path}'`);
      define(err, 'code', name);
      define(err, 'errno', -errno);
      define(err, 'syscall', f.syscall);
      define(err, 'path', f.path);
      return err;
    }
    case 'destroyed':
      return makeError(ErrorCode.DESTROYED, store);
    case 'oom':
      return located(
        withCode(
          Error,
          ErrorCode.OUT_OF_MEMORY,
          `${what} failed: out of memory: native memory could not be allocated; ` +
            (op === 'snapshot'
              ? 'the temporary file was removed and the store is unaffected'
              : f.restored ? `${f.restored} entries were restored before it` : 'the store was not changed'),
        ),
      );
    case 'limit': {
      // As a set of the same entry would be refused (same codes), in the
      // words of a restore: it may stop after writing some entries.
      const key = showKey(f.key);
      const changed =
        f.restored === undefined || f.restored === 0
          ? 'the store was not changed'
          : `${f.restored} entries were restored before it (restore with mode 'replace' checks the whole file first)`;
      switch (f.limit) {
        case 'key-too-long':
          return located(withCode(RangeError, ErrorCode.KEY_TOO_LONG, `${what} failed: key ${key} is ${f.actual} bytes in UTF-8, over maxKeyBytes (${f.max}) of the store; ${changed}`));
        case 'value-too-large':
          return located(withCode(RangeError, ErrorCode.VALUE_TOO_LARGE, `${what} failed: the value for key ${key} is ${f.actual} bytes, over maxValueBytes (${f.max}) of the store; ${changed}`));
        case 'too-big':
          return located(
            withCode(
              RangeError,
              ErrorCode.OVER_BUDGET,
              `${what} failed: the entry for key ${key} takes ${f.actual} bytes (key + value + ${overheadText()} of overhead), over maxBytes (${f.max}) of the store; ${changed}`,
            ),
          );
        case 'full-entries':
        case 'full-bytes': {
          const option = f.limit === 'full-entries' ? 'maxEntries' : 'maxBytes';
          return located(
            withCode(
              RangeError,
              ErrorCode.STORE_FULL,
              `${what} failed: the snapshot's entries do not fit: key ${key} would pass ${option} (${f.max}) of the store, ` +
                `whose evictionPolicy is 'none'; ${changed}. Raise ${option}, or open the store with evictionPolicy: 'sieve'`,
            ),
          );
        }
        default:
          break;
      }
      break;
    }
    default:
      break;
  }
  return withCode(Error, ErrorCode.INTERNAL, `${what} failed: internal error ${JSON.stringify(f)}`);
}
