'use strict';
// Hit ratio of SIEVE (what threadkv's evictionPolicy 'sieve' does per shard)
// against an exact LRU, both simulated in JS on the same request streams:
//   zipf     Zipfian (s = 0.99) over `keys` keys
//   scan     a hot set of 80% of the cache, read uniformly, with one-hit
//            scans mixed in: every request is a scan key (never seen
//            again) with probability 1/2
// A miss inserts the key (a cache in front of a slower source). Prints a
// markdown table (docs/operations.md has one).
//
//   node bench/eviction-hit-ratio.js [--keys=100000] [--requests=2000000] [--seed=1]

const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v === undefined ? true : v];
  }),
);
const KEYS = Number(args.keys || 100_000);
const REQUESTS = Number(args.requests || 2_000_000);
let seed = Number(args.seed || 1) >>> 0;

function random() {
  // mulberry32
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

function zipfSampler(n, s) {
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    sum += 1 / Math.pow(i + 1, s);
    cdf[i] = sum;
  }
  for (let i = 0; i < n; i++) cdf[i] /= sum;
  return () => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

class Lru {
  constructor(capacity) {
    this.capacity = capacity;
    this.map = new Map();
  }
  access(key) {
    if (this.map.has(key)) {
      this.map.delete(key);
      this.map.set(key, true);
      return true;
    }
    if (this.map.size >= this.capacity) this.map.delete(this.map.keys().next().value);
    this.map.set(key, true);
    return false;
  }
}

// SIEVE as in native/core/eviction.h: FIFO queue (newest at the head), a
// visited bit set on hits, a hand moving from the tail toward the head that
// clears visited bits and evicts the first unvisited entry.
class Sieve {
  constructor(capacity) {
    this.capacity = capacity;
    this.map = new Map(); // key -> node
    this.head = null;
    this.tail = null;
    this.hand = null;
  }
  access(key) {
    const node = this.map.get(key);
    if (node !== undefined) {
      node.visited = true;
      return true;
    }
    if (this.map.size >= this.capacity) this.evict();
    const n = { key, visited: false, newer: null, older: this.head };
    if (this.head) this.head.newer = n;
    this.head = n;
    if (!this.tail) this.tail = n;
    this.map.set(key, n);
    return false;
  }
  evict() {
    let o = this.hand || this.tail;
    while (o.visited) {
      o.visited = false;
      o = o.newer || this.tail;
    }
    this.hand = o.newer;
    if (o.newer) o.newer.older = o.older;
    else this.head = o.older;
    if (o.older) o.older.newer = o.newer;
    else this.tail = o.newer;
    this.map.delete(o.key);
  }
}

function run(makeStream, capacity) {
  const caches = { lru: new Lru(capacity), sieve: new Sieve(capacity) };
  const stream = makeStream(capacity);
  const hits = { lru: 0, sieve: 0 };
  for (let i = 0; i < REQUESTS; i++) {
    const key = stream();
    if (caches.lru.access(key)) hits.lru++;
    if (caches.sieve.access(key)) hits.sieve++;
  }
  return { lru: hits.lru / REQUESTS, sieve: hits.sieve / REQUESTS };
}

const workloads = {
  'Zipf 0.99': () => {
    const z = zipfSampler(KEYS, 0.99);
    return () => z();
  },
  'hot set (80% of cache) + one-hit scans (50%)': (capacity) => {
    const hotKeys = Math.max(1, Math.floor(capacity * 0.8));
    let scan = KEYS;
    return () => (random() < 0.5 ? scan++ : Math.floor(random() * hotKeys));
  },
};

console.log(`${REQUESTS} requests, ${KEYS} keys (Zipf), seed ${args.seed || 1}\n`);
console.log('| workload | cache size | LRU hit ratio | SIEVE hit ratio | SIEVE - LRU |');
console.log('|---|---:|---:|---:|---:|');
for (const [name, make] of Object.entries(workloads)) {
  for (const fraction of [0.01, 0.1]) {
    const capacity = Math.floor(KEYS * fraction);
    const r = run(make, capacity);
    const pct = (x) => `${(x * 100).toFixed(2)}%`;
    console.log(
      `| ${name} | ${capacity} (${fraction * 100}% of keys) | ${pct(r.lru)} | ${pct(r.sieve)} | ${((r.sieve - r.lru) * 100).toFixed(2)} pts |`,
    );
  }
}
