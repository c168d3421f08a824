// Helpers to run real worker_threads in tests. Workers inherit mocha's
// `-r tsx/cjs` through execArgv, so fixtures can be TypeScript.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

export const fixture = (name: string): string => path.join(__dirname, '..', 'fixtures', name);

/**
 * A start barrier on a SharedArrayBuffer: every party adds one, then spins
 * until all have arrived, so the racing calls really overlap in time (a
 * ThreadSanitizer run misses races between bursts that do not overlap).
 */
export function makeBarrier(): SharedArrayBuffer {
  return new SharedArrayBuffer(4);
}

export function awaitBarrier(sab: SharedArrayBuffer, parties: number): void {
  const a = new Int32Array(sab);
  Atomics.add(a, 0, 1);
  while (Atomics.load(a, 0) < parties) {
    // spin: the parties are about to run hot loops anyway
  }
}

export interface WorkerResult<T> {
  index: number;
  result: T;
}

/** Starts `count` workers on `file` and resolves with each one's posted result. */
export function runWorkers<T>(file: string, count: number, data: (index: number) => unknown): Promise<T[]> {
  const runs: Promise<T>[] = [];
  for (let i = 0; i < count; i++) {
    runs.push(
      new Promise<T>((resolve, reject) => {
        const w = new Worker(file, { workerData: data(i) });
        let got = false;
        let value: T;
        w.on('message', (m: T) => {
          got = true;
          value = m;
        });
        w.on('error', reject);
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`worker ${i} exited with code ${code}`));
          else if (!got) reject(new Error(`worker ${i} exited without a result`));
          else resolve(value);
        });
      }),
    );
  }
  return Promise.all(runs);
}

let counter = 0;
/** A store name no other test uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}`;
}
