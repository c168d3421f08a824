// The JavaScript side of this thread's wake-up part (native/binding/waker.h):
// one native thread-safe function per thread, made on first use, through
// which any thread wakes this one. Other threads notify a *token*; this
// module calls the handler registered for it, at most once per event-loop
// turn for all the tokens notified since the last turn.
//
// Users (getOrCompute, watch): take a token from a native call that
// registered it (computeBegin), `onWake(token, fn)`, and `offWake(token)` once
// done. `holdLoop()` / `releaseLoop()` bracket what must keep the thread
// alive (a pending getOrCompute, a ref'd watcher); counted here, so the
// native ref/unref (which Node allows only on the owning thread) runs on
// 0 -> 1 and 1 -> 0 only.
import { native } from './native';

type Handler = () => void;

const handlers = new Map<number, Handler>();
let started = false;
let holds = 0;

function dispatch(tokens: Float64Array): void {
  for (const token of tokens) {
    const handler = handlers.get(token);
    if (handler === undefined) continue;  // settled meanwhile
    try {
      handler();
    } catch (err) {
      // Never lose an error, never let one handler stop the others.
      process.nextTick(() => {
        throw err;
      });
    }
  }
}

/** Makes this thread's waker, once. */
export function startWaker(): void {
  if (started) return;
  native.wakerStart(dispatch);
  started = true;
  // process.exit() on the main thread does not run its environment's
  // cleanup hooks: stop the waker here, so that no thread wakes a thread
  // that is exiting. (Worker threads stop it in their cleanup hook too.)
  process.once('exit', () => native.wakerStop());
}

/** Calls `fn` each time `token` is notified (until `offWake`). */
export function onWake(token: number, fn: Handler): void {
  handlers.set(token, fn);
}

export function offWake(token: number): void {
  handlers.delete(token);
}

/** Keeps this thread's event loop alive until the matching `releaseLoop()`. */
export function holdLoop(): void {
  if (holds++ === 0) native.wakerRef(true);
}

export function releaseLoop(): void {
  if (--holds === 0) native.wakerRef(false);
}

/** For tests: handlers registered and loop holds (both 0 when nothing waits). */
export function wakerState(): { handlers: number; holds: number; started: boolean } {
  return { handlers: handlers.size, holds, started };
}
