'use strict';
// Shared by every benchmark process: keys, values, key-choice sequences and
// the timed loops. Every contender runs exactly the same loop code: a fresh
// copy of it is compiled for each (process, workload), so the JIT feedback of
// one contender or workload never leaks into another.

const NKEYS = 100_000;
/** Keys preloaded per value kind: S and M 100,000; the large AI payloads 2,000 (12 MiB of vectors). */
function keyCount(kind) {
  return kind === 'S' || kind === 'M' ? NKEYS : 2_000;
}
const SEQ_LEN = 1 << 20; // precomputed operations, replayed cyclically
const WRITE_BIT = 0x80000000;

// Small, fast, seedable PRNG (mulberry32).
function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function keyOf(i) {
  return 'k:' + i;
}

/** The 100,000 key strings, built once per thread. */
function makeKeys(n = NKEYS) {
  const keys = new Array(n);
  for (let i = 0; i < n; i++) keys[i] = keyOf(i);
  return keys;
}

/** S: a 16-character string. */
function valueS(i) {
  return 'v:' + String(i).padStart(14, '0');
}

/** M: a ~1 KB nested object (about 970 bytes as v8, 1,050 as JSON), JSON-safe. */
function valueM(i) {
  return {
    id: i,
    name: 'user-' + String(i).padStart(6, '0'),
    email: 'user' + i + '@example.com',
    active: i % 2 === 0,
    score: i * 0.5 + 0.25,
    created: '2024-05-17T08:30:00.000Z',
    tags: ['alpha', 'beta', 'gamma', 'delta', 'epsilon'],
    address: {
      street: i + ' Long Example Street',
      city: 'Springfield',
      zip: String(10000 + (i % 90000)),
      geo: { lat: 45.5 + (i % 100) / 1000, lng: -122.6 - (i % 100) / 1000 },
    },
    prefs: { theme: 'dark', lang: 'en-US', tz: 'Europe/Paris', notifications: { email: true, sms: false, push: true, digest: 'weekly' } },
    orders: Array.from({ length: 5 }, (_, j) => ({
      id: i * 10 + j,
      sku: 'SKU-' + String(j * 7919 + i).padStart(8, '0'),
      qty: j + 1,
      price: 9.99 + j,
      status: j % 2 ? 'shipped' : 'pending',
      note: 'gift wrap please, leave at the door',
    })),
  };
}

// ---- AI payloads (issue 14's rows): as an application builds them ----

/** Dimensions of the embedding rows (OpenAI text-embedding-3-small). */
const DIMS = 1536;

/** V: an embedding, Float32Array(1536) (6 KiB). */
function valueV(i) {
  const v = new Float32Array(DIMS);
  for (let j = 0; j < DIMS; j++) v[j] = Math.sin(i * 0.37 + j * 0.013);
  return v;
}

/** OV: an embedding record, { id, model, dims, vector: Float32Array(1536), createdAt }. */
function valueOV(i) {
  return { id: 'doc-' + i, model: 'text-embedding-3-small', dims: DIMS, vector: valueV(i), createdAt: 1733500000000 + i };
}

/** N: an embedding as a plain number[] of 1536 doubles (what JSON APIs hand out). */
function valueN(i) {
  const a = new Array(DIMS);
  for (let j = 0; j < DIMS; j++) a[j] = Math.sin(i * 0.71 + j * 0.017);
  return a;
}

/** C: a chat-completion response object (~1 KB as JSON), as an OpenAI-style API returns it. */
function valueC(i) {
  return {
    id: 'chatcmpl-' + (1e9 + i).toString(36) + 'AbCdEfGhIjKlMn',
    object: 'chat.completion',
    created: 1733500000 + i,
    model: 'gpt-4o-mini-2024-07-18',
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content:
            'The capital of France is Paris. It has been the capital since the 10th century (with brief interruptions) and is home to about ' +
            '2.1 million people in the city proper, and over 12 million in the metropolitan area. Paris is known for the Eiffel Tower, the ' +
            'Louvre, Notre-Dame and its cafés. Request #' + i,
          refusal: null,
          tool_calls: [],
        },
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {
      prompt_tokens: 25 + (i % 10),
      completion_tokens: 61,
      total_tokens: 86 + (i % 10),
      prompt_tokens_details: { cached_tokens: 0, audio_tokens: 0 },
      completion_tokens_details: { reasoning_tokens: 0, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 },
    },
    service_tier: 'default',
    system_fingerprint: 'fp_0ba0d124f1',
  };
}

const VALUE_BUILDERS = { S: valueS, M: valueM, V: valueV, OV: valueOV, N: valueN, C: valueC };

function valueOf(kind, i) {
  const make = VALUE_BUILDERS[kind];
  if (!make) throw new Error(`unknown value kind '${kind}'`);
  return make(i);
}

/** Values that sets write, cycled through (built before the timed phase). */
function makeWritePool(kind, seed) {
  const n = kind === 'S' ? 1024 : 8;
  const pool = new Array(n);
  for (let i = 0; i < n; i++) pool[i] = valueOf(kind, 1_000_000 + seed * n + i);
  return pool;
}

// Scrambled Zipfian (YCSB style): rank r has weight 1/(r+1)^theta, and ranks
// are mapped to keys through a fixed random permutation so the hot keys are
// spread over the key space (and over an ordered store's pages).
let zipfCache = null;
function zipfTables(n, theta) {
  if (zipfCache && zipfCache.n === n && zipfCache.theta === theta) return zipfCache;
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, theta);
    cdf[r] = sum;
  }
  for (let r = 0; r < n; r++) cdf[r] /= sum;
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const rnd = prng(0x5eed);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rnd() * (i + 1));
    const t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  zipfCache = { n, theta, cdf, perm };
  return zipfCache;
}

/**
 * A sequence of SEQ_LEN operations: key index in the low bits, WRITE_BIT set
 * for a set. dist: 'uniform' | 'zipf'; writeFrac: 0..1.
 */
function makeSequence({ dist, writeFrac, seed, n = NKEYS, len = SEQ_LEN }) {
  const seq = new Uint32Array(len);
  const rnd = prng(seed);
  const z = dist === 'zipf' ? zipfTables(n, 0.99) : null;
  for (let i = 0; i < len; i++) {
    let k;
    if (z) {
      const u = rnd();
      let lo = 0;
      let hi = n - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (z.cdf[mid] < u) lo = mid + 1;
        else hi = mid;
      }
      k = z.perm[lo];
    } else {
      k = Math.floor(rnd() * n);
    }
    const w = writeFrac > 0 && rnd() < writeFrac;
    seq[i] = w ? (k | WRITE_BIT) >>> 0 : k;
  }
  return seq;
}

// ---- The timed loops -------------------------------------------------------
// `a` is the contender's adapter: a.get(key) and a.set(key, value). The loop
// runs until `stop()` says so, checking every 256 operations, and returns the
// number of operations done. Its source is compiled afresh for each use.

const SYNC_LOOP = `
  let i = start & (seq.length - 1);
  const mask = seq.length - 1;
  let ops = 0, hits = 0, w = 0;
  const wmask = pool.length - 1;
  for (;;) {
    for (let j = 0; j < 256; j++) {
      const op = seq[i];
      i = (i + 1) & mask;
      if (op >= 0x80000000) {
        a.set(keys[op & 0x7fffffff], pool[w]);
        w = (w + 1) & wmask;
      } else if (a.get(keys[op]) !== undefined) {
        hits++;
      }
    }
    ops += 256;
    if (stop(ops)) break;
  }
  return { ops, hits, next: i };
`;

const ASYNC_LOOP = `
  return (async () => {
    let i = start & (seq.length - 1);
    const mask = seq.length - 1;
    let ops = 0, hits = 0, w = 0;
    const wmask = pool.length - 1;
    for (;;) {
      const op = seq[i];
      i = (i + 1) & mask;
      if (op >= 0x80000000) {
        await a.set(keys[op & 0x7fffffff], pool[w]);
        w = (w + 1) & wmask;
      } else if ((await a.get(keys[op])) !== undefined) {
        hits++;
      }
      ops++;
      if ((ops & 15) === 0 && stop(ops)) break;
    }
    return { ops, hits, next: i };
  })();
`;

/** A freshly compiled loop: fn(a, keys, seq, pool, start, stop). */
function freshLoop(async) {
  // eslint-disable-next-line no-new-func
  return new Function('a', 'keys', 'seq', 'pool', 'start', 'stop', async ? ASYNC_LOOP : SYNC_LOOP);
}

/** A stop() that ends after `ms` milliseconds of wall time. */
function stopAfter(ms) {
  const end = process.hrtime.bigint() + BigInt(Math.round(ms * 1e6));
  return () => process.hrtime.bigint() >= end;
}

function sleepMs(ms) {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

module.exports = {
  NKEYS,
  keyCount,
  SEQ_LEN,
  WRITE_BIT,
  prng,
  keyOf,
  makeKeys,
  valueS,
  valueM,
  valueV,
  valueOV,
  valueN,
  valueC,
  valueOf,
  makeWritePool,
  makeSequence,
  freshLoop,
  stopAfter,
  sleepMs,
};
