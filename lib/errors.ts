// Every error threadkv throws is built here, native ones included: the
// binding calls makeError() with a stable code and the facts. Errors are the
// built-in classes (TypeError, RangeError, Error) with a `code` property, as
// Node's own errors are.

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
  /** An entry (or an atomic batch, in one shard) larger than a shard's share of maxBytes / maxEntries. */
  OVER_BUDGET: 'ERR_THREADKV_OVER_BUDGET',
  /** getOrCompute / getOrComputeSync: this caller stopped waiting for another caller's computation (waitTimeoutMs). */
  COMPUTE_TIMEOUT: 'ERR_THREADKV_COMPUTE_TIMEOUT',
  /** getOrComputeSync on a key its own thread is computing (blocking would never end). */
  RECURSIVE_COMPUTE: 'ERR_THREADKV_RECURSIVE_COMPUTE',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** An error thrown by threadkv: a TypeError, RangeError or Error with a `code`. */
export interface ThreadKvError extends Error {
  code: ErrorCode;
}

type ErrorClass = typeof Error | typeof TypeError | typeof RangeError;

function withCode(Ctor: ErrorClass, code: ErrorCode, message: string): ThreadKvError {
  const err = new Ctor(`threadkv: ${message}`) as ThreadKvError;
  err.code = code;
  return err;
}

/** Shows a key in a message: quoted, and cut to a readable length. */
export function showKey(key: unknown): string {
  if (typeof key !== 'string') return describeType(key);
  const cut = key.length > 60 ? `${key.slice(0, 57)}...` : key;
  return JSON.stringify(cut);
}

export function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  const t = typeof value;
  if (t === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `an instance of ${name}` : 'an object';
  }
  if (t === 'string') return 'a string';
  if (t === 'undefined') return 'undefined';
  return `a ${t}`;
}

const codecNames = ['v8', 'json', 'string', 'buffer'];

function showOption(option: string | undefined, value: number | undefined): string {
  if (option === 'codec' && value !== undefined) return `'${codecNames[value] ?? value}'`;
  return String(value);
}

/**
 * The factory the native binding calls: (code, store, key, limit, actual, option).
 */
export function makeError(
  code: ErrorCode,
  store: string,
  key?: unknown,
  limit?: number,
  actual?: number,
  option?: string,
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
      return withCode(
        RangeError,
        code,
        `the value for key ${showKey(key)} is ${actual} bytes once encoded, over maxValueBytes (${limit}) of ${where}`,
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
          `(${limit} per shard: the store's ${option} split over its shards) of ${where}, whose evictionPolicy is 'none'; ` +
          `nothing was changed. Delete entries first, raise ${option}, or open the store with evictionPolicy: 'sieve'`,
      );
    case ErrorCode.OVER_BUDGET:
      return withCode(
        RangeError,
        code,
        key === undefined
          ? `the atomic batch does not fit in one shard's share of maxEntries / maxBytes of ${where} on its own ` +
              `(its keys are never evicted for each other); nothing was changed. Split the batch, or raise the limits`
          : `the entry for key ${showKey(key)} takes ${actual} bytes (key + value + 72 bytes of overhead), over the ` +
              `${limit} bytes of one shard's share of maxBytes of ${where}; nothing was changed`,
      );
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
      `getOrCompute of this thread, leads its computation), so waiting for it here would never end (store ${JSON.stringify(store)})`,
  );
}

/** The AbortError a call rejects with when its `signal` aborts (as Node's own APIs do: the reason is its cause). */
export function abortError(signal: AbortSignal): Error {
  const err = new Error('The operation was aborted', { cause: signal.reason }) as Error & { code: string };
  err.name = 'AbortError';
  err.code = 'ABORT_ERR';
  return err;
}
