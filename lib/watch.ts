// store.watch(): change events of a store, delivered on the watching thread.
// Writers in any thread queue compact events natively (native/core/watch.h:
// under the key's shard lock, with a per-store seq, into this watcher's
// bounded queue) and wake this thread through its waker (lib/waker.ts); the
// watcher then drains its queue in one native call and hands the batch to
// its 'change' listeners and its async iterators. It drains only while
// someone consumes (a 'change' listener, or an iterator waiting in next()):
// otherwise events wait natively, bounded by maxQueue, so a slow consumer
// costs bounded memory and writers never wait.
import { EventEmitter } from 'node:events';
import { abortError, describeType, invalidArgument } from './errors';
import { isAbortSignal } from './compute';
import { native, type NativeHandle } from './native';
import type { ChangeEvent, ChangeType, WatchEventType, WatchOptions } from './types';
import { holdLoop, offWake, onWake, releaseLoop, startWaker } from './waker';

/** Events a watcher holds when `maxQueue` is left out. */
export const DEFAULT_MAX_QUEUE = 10_000;
const MAX_QUEUE_LIMIT = 2 ** 32 - 1;

// Native type numbers (WatchEvent in native/core/watch.h), in order.
const TYPES: readonly ChangeType[] = ['set', 'delete', 'expire', 'evict', 'clear', 'overflow'];
const WATCHABLE: readonly WatchEventType[] = ['set', 'delete', 'expire', 'evict', 'clear'];
const CLEAR = 4;
const ALL_EVENTS = 0x1f;

const enum Scope {
  All = 0,
  Key = 1,
  Prefix = 2,
}

/** Validated watch options, ready for native.watchOpen. */
interface ResolvedWatch {
  scope: Scope;
  text: string;
  events: number;
  maxQueue: number;
  signal: AbortSignal | undefined;
  // A prefix ending in a high surrogate: matched natively without it (a
  // key may pair it with a low surrogate, a different byte sequence), then
  // here as a JS string.
  jsPrefix: string | undefined;
}

const KNOWN_OPTIONS = new Set(['prefix', 'key', 'events', 'maxQueue', 'signal']);

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}

/** Validates `store.watch`'s options (`maxKeyBytes`: the store's). */
function watchOptions(store: string, options: WatchOptions | undefined, maxKeyBytes: number): ResolvedWatch {
  const fail = (Ctor: typeof TypeError | typeof RangeError, message: string): Error => invalidArgument(Ctor, store, 'watch', message);
  const r: ResolvedWatch = { scope: Scope.All, text: '', events: ALL_EVENTS, maxQueue: DEFAULT_MAX_QUEUE, signal: undefined, jsPrefix: undefined };
  if (options === undefined) return r;
  if (options === null || typeof options !== 'object') throw fail(TypeError, `options must be an object, got ${describeType(options)}`);
  for (const k of Object.keys(options)) {
    if (!KNOWN_OPTIONS.has(k)) throw fail(TypeError, `options.${k} is not a known option (known: ${[...KNOWN_OPTIONS].join(', ')})`);
  }
  const { prefix, key, events, maxQueue, signal } = options as Record<string, unknown>;
  if (prefix !== undefined && key !== undefined) throw fail(TypeError, 'options.prefix and options.key cannot both be given (watch one key, or the keys under one prefix)');
  for (const [name, text] of [['prefix', prefix], ['key', key]] as const) {
    if (text === undefined) continue;
    if (typeof text !== 'string') throw fail(TypeError, `options.${name} must be a string, got ${describeType(text)}`);
    const bytes = Buffer.byteLength(text, 'utf8');  // lone surrogates: 3 bytes, as stored
    if (bytes > maxKeyBytes) {
      throw fail(RangeError, `options.${name} is ${bytes} bytes (UTF-8), over the store's maxKeyBytes (${maxKeyBytes}): no key can match it`);
    }
    r.scope = name === 'key' ? Scope.Key : Scope.Prefix;
    r.text = text;
  }
  if (r.scope === Scope.Prefix && r.text.length > 0 && isHighSurrogate(r.text.charCodeAt(r.text.length - 1))) {
    r.jsPrefix = r.text;
    r.text = r.text.slice(0, -1);
  }
  if (events !== undefined) {
    const names = WATCHABLE.map((n) => `'${n}'`).join(', ');
    if (!Array.isArray(events)) throw fail(TypeError, `options.events must be an array of ${names}, got ${describeType(events)}`);
    if (events.length === 0) throw fail(RangeError, `options.events must name at least one of ${names} (leave it out for all)`);
    let mask = 0;
    for (const e of events as unknown[]) {
      const i = WATCHABLE.indexOf(e as WatchEventType);
      if (i < 0) throw fail(TypeError, `options.events must hold only ${names}, got ${typeof e === 'string' ? `'${e}'` : describeType(e)}`);
      mask |= 1 << i;
    }
    r.events = mask;
  }
  if (maxQueue !== undefined) {
    if (typeof maxQueue !== 'number') throw fail(TypeError, `options.maxQueue must be a number, got ${describeType(maxQueue)}`);
    if (!Number.isInteger(maxQueue) || maxQueue < 1 || maxQueue > MAX_QUEUE_LIMIT) {
      throw fail(RangeError, `options.maxQueue must be an integer from 1 to ${MAX_QUEUE_LIMIT} (events), got ${maxQueue}`);
    }
    r.maxQueue = maxQueue;
  }
  if (signal !== undefined) {
    if (!isAbortSignal(signal)) throw fail(TypeError, `options.signal must be an AbortSignal, got ${describeType(signal)}`);
    r.signal = signal;
  }
  return r;
}

type Drained = [keys: string, nums: Float64Array, lost: number, lostSeq: number, closed: boolean];

// A drained native batch as ChangeEvents (`jsPrefix`: see ResolvedWatch).
function toEvents(raw: Drained, jsPrefix: string | undefined): ChangeEvent[] {
  const [keys, nums, lost, lostSeq] = raw;
  const events: ChangeEvent[] = [];
  let start = 0;
  for (let i = 0; i < nums.length; i += 4) {
    const type = nums[i]!;
    const end = nums[i + 3]!;
    const key = keys.slice(start, end);
    start = end;
    if (jsPrefix !== undefined && type !== CLEAR && !key.startsWith(jsPrefix)) continue;
    events.push({ type: TYPES[type]!, key, version: nums[i + 2]!, seq: nums[i + 1]! });
  }
  if (lost !== 0) events.push({ type: 'overflow', key: '', version: 0, seq: lostSeq, lost });
  return events;
}

/** What a Store hands `openWatcher`. */
export interface WatchHost {
  readonly name: string;
  readonly handle: NativeHandle;
  readonly maxKeyBytes: number;
}

/** store.watch(options): validates, subscribes, returns the watcher. */
export function openWatcher(host: WatchHost, options: WatchOptions | undefined): Watcher {
  const o = watchOptions(host.name, options, host.maxKeyBytes);
  if (o.signal?.aborted) {
    native.watchCount(host.handle);  // a closed handle or a destroyed store first
    throw abortError(o.signal);
  }
  startWaker();
  const token = native.watchOpen(host.handle, o.scope, o.text, o.events, o.maxQueue);
  return new Watcher(kCreate, token, o);
}

const kCreate = Symbol('Watcher.create');

// One `for await` (or manual) iteration over a watcher: the batches it has
// not taken yet, and its pending next() calls.
class WatchIteration implements AsyncIterableIterator<ChangeEvent[]> {
  readonly #watcher: Watcher;
  readonly #maxQueue: number;
  #batches: ChangeEvent[][] = [];
  #buffered = 0;  // events in #batches
  #lost = 0;      // events dropped past maxQueue (only while others drive the drains)
  #lostSeq = 0;
  #waiters: { resolve: (r: IteratorResult<ChangeEvent[]>) => void; reject: (e: unknown) => void }[] = [];
  #ended = false;

  constructor(watcher: Watcher, maxQueue: number) {
    this.#watcher = watcher;
    this.#maxQueue = maxQueue;
  }

  get waiting(): boolean {
    return this.#waiters.length > 0;
  }

  /** A drained batch (the watcher calls this). */
  push(batch: ChangeEvent[]): void {
    const w = this.#waiters.shift();
    if (w !== undefined) {
      w.resolve({ value: batch, done: false });
      return;
    }
    // Not waiting: another consumer drove the drain. Buffer up to maxQueue
    // events; past that, count them as lost, as the native queue does.
    if (this.#lost === 0 && this.#buffered + batch.length <= this.#maxQueue) {
      this.#batches.push(batch);
      this.#buffered += batch.length;
      return;
    }
    for (const e of batch) this.#lost += e.type === 'overflow' ? e.lost! : 1;
    if (batch.length > 0) this.#lostSeq = batch[batch.length - 1]!.seq;
  }

  /** The watcher closed: pending next() calls end (or reject with `error`). */
  end(error: unknown): void {
    this.#ended = true;
    this.#batches = [];
    this.#buffered = 0;
    this.#lost = 0;
    for (const w of this.#waiters.splice(0)) {
      if (error === undefined) w.resolve({ value: undefined, done: true });
      else w.reject(error);
    }
  }

  #take(): ChangeEvent[] | undefined {
    const batch = this.#batches.shift();
    if (batch !== undefined) {
      this.#buffered -= batch.length;
      return batch;
    }
    if (this.#lost !== 0) {
      const overflow: ChangeEvent = { type: 'overflow', key: '', version: 0, seq: this.#lostSeq, lost: this.#lost };
      this.#lost = 0;
      return [overflow];
    }
    return undefined;
  }

  next(): Promise<IteratorResult<ChangeEvent[]>> {
    const ready = this.#take();
    if (ready !== undefined) return Promise.resolve({ value: ready, done: false });
    if (this.#ended) return this.#watcher.endResult();
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
      this.#watcher.pull();
    });
  }

  /** Leaving a `for await` loop early closes the watcher. */
  return(): Promise<IteratorResult<ChangeEvent[]>> {
    this.#watcher.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<ChangeEvent[]> {
    return this;
  }
}

/** The events a `Watcher` emits, with their arguments. */
export interface WatcherEvents {
  /** A batch of changes, in seq order. */
  change: [batch: ChangeEvent[]];
  /** The watcher closed (emitted once). */
  close: [];
}

/**
 * Change events of one store, delivered on the thread that called `watch`,
 * in batches: listen for `'change'` (`(batch: ChangeEvent[]) => void`), or
 * iterate with `for await (const batch of watcher)`. Emits `'close'` once
 * closed. See `Store#watch` for what is delivered, and when.
 */
export class Watcher extends EventEmitter<WatcherEvents> implements AsyncIterable<ChangeEvent[]> {
  readonly #token: number;
  readonly #maxQueue: number;
  readonly #jsPrefix: string | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #onAbort: (() => void) | undefined;
  readonly #iterations = new Set<WatchIteration>();
  #closed = false;
  #aborted = false;
  #refed = true;
  #pullScheduled = false;
  #drainScheduled = false;

  /** @internal Made by `Store#watch`. */
  constructor(key: typeof kCreate, token: number, o: ResolvedWatch) {
    if (key !== kCreate) throw new TypeError('threadkv: a Watcher is made by store.watch()');
    super();
    this.#token = token;
    this.#maxQueue = o.maxQueue;
    this.#jsPrefix = o.jsPrefix;
    // A wake-up only schedules the drain, for this turn's check phase: the
    // waker's thread-safe function runs up to 1,000 queued wake-ups per turn
    // of the event loop, so draining here could deliver batch after batch
    // without ever letting the loop turn (timers and I/O of this thread
    // starved). One drain per turn delivers everything queued by then; while
    // drains find events, the next turn drains again without a wake-up.
    onWake(token, () => this.#scheduleDrain());
    holdLoop();
    (this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'change') this.pull();
    });
    if (o.signal !== undefined) {
      this.#signal = o.signal;
      this.#onAbort = () => this.#finish(true);
      o.signal.addEventListener('abort', this.#onAbort, { once: true });
    }
  }

  /** True once closed (by `close()`, its signal, or `Store.destroy`). */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops the watcher: nothing more is delivered (events not delivered yet
   * are dropped), iterations end, `'close'` is emitted. Closing twice is a
   * no-op. A watcher is also closed when its thread exits.
   */
  close(): void {
    this.#finish(false);
  }

  /** Lets this thread exit while the watcher is open (as `BroadcastChannel#unref`). */
  unref(): this {
    if (!this.#closed && this.#refed) {
      this.#refed = false;
      releaseLoop();
    }
    return this;
  }

  /** Keeps this thread alive while the watcher is open (the default). */
  ref(): this {
    if (!this.#closed && !this.#refed) {
      this.#refed = true;
      holdLoop();
    }
    return this;
  }

  /**
   * Iterates over the batches. Each call makes an iteration of its own
   * (each gets every batch drained while it exists). Leaving the loop early
   * (`break`, `return`, a throw) closes the watcher.
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<ChangeEvent[]> {
    const it = new WatchIteration(this, this.#maxQueue);
    if (this.#closed) it.end(undefined);
    else this.#iterations.add(it);
    return it;
  }

  /** @internal What next() gives once the watcher is closed. */
  endResult(): Promise<IteratorResult<ChangeEvent[]>> {
    if (this.#aborted) return Promise.reject(abortError(this.#signal!));
    return Promise.resolve({ value: undefined, done: true });
  }

  /** @internal A consumer appeared (a listener, an iterator's next()): drain soon. */
  pull(): void {
    if (this.#closed || this.#pullScheduled) return;
    this.#pullScheduled = true;
    queueMicrotask(() => {
      this.#pullScheduled = false;
      this.#onWake();
    });
  }

  #scheduleDrain(): void {
    if (this.#closed || this.#drainScheduled) return;
    this.#drainScheduled = true;
    setImmediate(() => {
      this.#drainScheduled = false;
      this.#onWake();
    });
  }

  #wanted(): boolean {
    if (this.listenerCount('change') > 0) return true;
    for (const it of this.#iterations) if (it.waiting) return true;
    return false;
  }

  #onWake(): void {
    if (this.#closed || !this.#wanted()) return;  // no consumer: the events wait natively
    const raw = native.watchDrain(this.#token) as Drained | undefined;
    if (raw === undefined) return;
    const batch = toEvents(raw, this.#jsPrefix);
    if (batch.length > 0) {
      for (const it of this.#iterations) it.push(batch);
      this.emit('change', batch);
    }
    if (raw[4]) {
      this.#finish(false);  // the store was destroyed: that was the last batch
      return;
    }
    // A drain that returned events leaves the native signal off (writers
    // then queue without waking this thread): look again next turn, until a
    // drain finds nothing, which re-arms it (native/core/watch.h, Drain).
    this.#scheduleDrain();
  }

  #finish(aborted: boolean): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#aborted = aborted;
    native.watchClose(this.#token);
    offWake(this.#token);
    if (this.#refed) {
      this.#refed = false;
      releaseLoop();
    }
    if (this.#signal !== undefined) this.#signal.removeEventListener('abort', this.#onAbort!);
    const error = aborted ? abortError(this.#signal!) : undefined;
    for (const it of this.#iterations) it.end(error);
    this.#iterations.clear();
    this.emit('close');
  }
}
