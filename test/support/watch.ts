// Helpers for the watch tests.
import assert from 'node:assert/strict';
import type { ChangeEvent, Watcher } from 'threadkv';

/** Waits until `watcher` has delivered at least `count` events to a 'change' listener (fails after `timeoutMs`). */
export function nextEvents(watcher: Watcher, count: number, timeoutMs = 10_000): Promise<ChangeEvent[]> {
  return new Promise((resolve, reject) => {
    const got: ChangeEvent[] = [];
    const timer = setTimeout(() => {
      watcher.off('change', onChange);
      reject(new Error(`watcher delivered ${got.length} of ${count} events in ${timeoutMs} ms: ${JSON.stringify(got)}`));
    }, timeoutMs);
    const onChange = (batch: ChangeEvent[]): void => {
      got.push(...batch);
      if (got.length >= count) {
        clearTimeout(timer);
        watcher.off('change', onChange);
        resolve(got);
      }
    };
    watcher.on('change', onChange);
  });
}

/** The events as compact tuples, for deepEqual. */
export function brief(events: readonly ChangeEvent[]): [string, string][] {
  return events.map((e) => [e.type, e.key]);
}

/**
 * Checks a watcher's stream (everything it delivered, in order): seq
 * strictly increasing; when `whole` (it watches every key and event), no
 * seq gap other than one an overflow accounts for exactly.
 */
export function checkSeqs(events: readonly ChangeEvent[], whole: boolean): void {
  let last = 0;
  for (const e of events) {
    assert.ok(e.seq > last, `seq ${e.seq} after ${last}`);
    if (whole && last !== 0) {
      if (e.type === 'overflow') assert.equal(e.seq - last, e.lost, `overflow of ${e.lost} after seq ${last} ends at ${e.seq}`);
      else assert.equal(e.seq, last + 1, `seq gap from ${last} to ${e.seq} with no overflow`);
    }
    last = e.seq;
  }
}

/** Every watcher opened through `track`, closed after each test. */
export function watcherTracker(): <W extends Watcher>(w: W) => W {
  const open: Watcher[] = [];
  afterEach(() => {
    for (const w of open.splice(0)) w.close();
  });
  return (w) => {
    open.push(w);
    return w;
  };
}
