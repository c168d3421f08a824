'use strict';
// The workloads. `latency` ones run in the contender process's main thread
// and report ns/op; `throughput` ones run in worker threads that meet at a
// SharedArrayBuffer barrier, run for a fixed time and report op counts.

const WORKLOADS = [
  // Pure single-thread latency (main thread; no worker running).
  { id: 'get-S', kind: 'S', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get S, uniform, 1 thread' },
  { id: 'get-S-zipf', kind: 'S', dist: 'zipf', writeFrac: 0, threads: 0, title: 'pure get S, Zipfian 0.99, 1 thread' },
  { id: 'get-M', kind: 'M', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get M, uniform, 1 thread' },
  { id: 'put-S', kind: 'S', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put S (overwrite), uniform, 1 thread' },
  { id: 'put-M', kind: 'M', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put M (overwrite), uniform, 1 thread' },
  // Mixed throughput in worker threads.
  { id: 'r95-S-1w', kind: 'S', dist: 'uniform', writeFrac: 0.05, threads: 1, title: '95/5 S, uniform, 1 worker' },
  { id: 'r95-S-2w', kind: 'S', dist: 'uniform', writeFrac: 0.05, threads: 2, title: '95/5 S, uniform, 2 workers' },
  { id: 'r95-S-8w', kind: 'S', dist: 'uniform', writeFrac: 0.05, threads: 8, title: '95/5 S, uniform, 8 workers on the cores' },
  { id: 'r50-S-1w', kind: 'S', dist: 'uniform', writeFrac: 0.5, threads: 1, title: '50/50 S, uniform, 1 worker' },
  { id: 'r50-S-2w', kind: 'S', dist: 'uniform', writeFrac: 0.5, threads: 2, title: '50/50 S, uniform, 2 workers' },
  { id: 'r50-S-8w', kind: 'S', dist: 'uniform', writeFrac: 0.5, threads: 8, title: '50/50 S, uniform, 8 workers on the cores' },
  { id: 'r95-S-zipf-2w', kind: 'S', dist: 'zipf', writeFrac: 0.05, threads: 2, title: '95/5 S, Zipfian 0.99, 2 workers' },
  { id: 'r50-S-zipf-2w', kind: 'S', dist: 'zipf', writeFrac: 0.5, threads: 2, title: '50/50 S, Zipfian 0.99, 2 workers' },
  { id: 'r95-M-2w', kind: 'M', dist: 'uniform', writeFrac: 0.05, threads: 2, title: '95/5 M, uniform, 2 workers' },
  { id: 'r50-M-2w', kind: 'M', dist: 'uniform', writeFrac: 0.5, threads: 2, title: '50/50 M, uniform, 2 workers' },
  // The payloads AI platforms share (issue 14): 2,000 keys each (common.js
  // keyCount), values built as an application builds them.
  { id: 'get-V', kind: 'V', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get V (Float32Array(1536), an embedding), 1 thread' },
  { id: 'put-V', kind: 'V', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put V (Float32Array(1536)), 1 thread' },
  { id: 'get-OV', kind: 'OV', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get OV ({ id, model, dims, vector: Float32Array(1536), createdAt }), 1 thread' },
  { id: 'put-OV', kind: 'OV', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put OV (object with a Float32Array(1536)), 1 thread' },
  { id: 'get-N', kind: 'N', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get N (number[1536] of doubles), 1 thread' },
  { id: 'put-N', kind: 'N', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put N (number[1536]), 1 thread' },
  { id: 'get-C', kind: 'C', dist: 'uniform', writeFrac: 0, threads: 0, title: 'pure get C (a chat-completion object, ~1 KB), 1 thread' },
  { id: 'put-C', kind: 'C', dist: 'uniform', writeFrac: 1, threads: 0, title: 'put C (chat completion), 1 thread' },
  // Read scaling: pure get S with 1 and 2 workers (total throughput).
  { id: 'r100-S-1w', kind: 'S', dist: 'uniform', writeFrac: 0, threads: 1, title: 'pure get S, uniform, 1 worker' },
  { id: 'r100-S-2w', kind: 'S', dist: 'uniform', writeFrac: 0, threads: 2, title: 'pure get S, uniform, 2 workers' },
];

/** What --quick runs. */
const QUICK_WORKLOADS = ['get-S', 'put-S', 'r95-S-2w', 'r50-S-2w', 'r95-S-8w', 'get-V']; // no M: its preload dominates a short run

function byId(id) {
  const w = WORKLOADS.find((x) => x.id === id);
  if (!w) throw new Error(`unknown workload '${id}' (known: ${WORKLOADS.map((x) => x.id).join(', ')})`);
  return w;
}

/**
 * Resolves a --workload= filter: comma-separated ids, or prefixes / globs
 * with '*' (e.g. 'get-*', 'r50-*', '*-2w').
 */
function selectWorkloads(filter, quick) {
  if (!filter) return quick ? QUICK_WORKLOADS.map(byId) : WORKLOADS.slice();
  const out = [];
  for (const part of filter.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (part.includes('*')) {
      const re = new RegExp('^' + part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$');
      const hit = WORKLOADS.filter((w) => re.test(w.id));
      if (hit.length === 0) throw new Error(`--workload: '${part}' matches nothing`);
      for (const w of hit) if (!out.includes(w)) out.push(w);
    } else {
      const w = byId(part);
      if (!out.includes(w)) out.push(w);
    }
  }
  return out;
}

module.exports = { WORKLOADS, QUICK_WORKLOADS, byId, selectWorkloads };
