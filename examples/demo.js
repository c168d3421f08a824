'use strict';
// threadkv demo: a worker pool (piscina) serving fake "embedding" requests,
// with a cache in front of a slow model. Run twice: once with one threadkv
// store shared by every worker (getOrCompute: each text is embedded once for
// the whole pool), once with a private Map per worker. Same requests, same
// pool size.
//
//   npm run demo            (or: node examples/demo.js [requests] [threads])
const path = require('node:path');
const { Piscina } = require('piscina');
const { Store } = require('threadkv');

const requests = Number(process.argv[2] ?? 3000);
const threads = Number(process.argv[3] ?? 4);
const distinct = 400;

// Zipf-like popularity: a few documents are asked for again and again.
function makeRequests(n, seed = 42) {
  let s = seed;
  const rand = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const weights = Array.from({ length: distinct }, (_, i) => 1 / (i + 1));
  const total = weights.reduce((a, b) => a + b, 0);
  const out = [];
  for (let i = 0; i < n; i++) {
    let r = rand() * total;
    let d = 0;
    while ((r -= weights[d]) > 0 && d < distinct - 1) d++;
    out.push(`document ${d}: the quick brown fox jumps over the lazy dog`);
  }
  return out;
}

async function run(mode, texts) {
  const pool = new Piscina({ filename: path.join(__dirname, 'embed-worker.js'), minThreads: threads, maxThreads: threads });
  const store = `demo-embeddings-${mode}`;
  if (mode === 'shared') Store.open(store, { codec: 'v8' });
  const start = process.hrtime.bigint();
  let done = 0;
  let hits = 0;
  const perThread = new Map();
  // A live progress line on a terminal; nothing in a pipe or a CI log.
  const progress = setInterval(() => {
    if (!process.stdout.isTTY) return;
    process.stdout.write(`\r  ${mode.padEnd(8)} ${String(done).padStart(5)}/${texts.length} requests, hit ratio ${((100 * hits) / Math.max(done, 1)).toFixed(1)}%   `);
  }, 100);
  await Promise.all(
    texts.map((text) =>
      pool.run({ text, mode, store }).then((r) => {
        done++;
        if (r.hit) hits++;
        perThread.set(r.thread, (perThread.get(r.thread) ?? 0) + 1);
      }),
    ),
  );
  clearInterval(progress);
  const ms = Number(process.hrtime.bigint() - start) / 1e6;
  process.stdout.write(`\r  ${mode.padEnd(8)} ${texts.length}/${texts.length} requests done in ${ms.toFixed(0)} ms${' '.repeat(20)}\n`);
  await pool.destroy();
  const cached = mode === 'shared' ? Store.open(store).size : undefined;
  const loads = mode === 'shared' ? Store.open(store).stats().loads : undefined;
  if (mode === 'shared') Store.destroy(store);
  return { mode, ms, hits, misses: texts.length - hits, threadsUsed: perThread.size, cached, loads };
}

async function main() {
  console.log(`threadkv demo: ${requests} embedding requests over ${distinct} documents, ${threads} worker threads\n`);
  const texts = makeRequests(requests);
  const shared = await run('shared', texts);
  const priv = await run('private', texts);
  const row = (r) =>
    `  | ${r.mode.padEnd(26)} | ${String(requests).padStart(8)} | ${String(r.misses).padStart(12)} | ${((100 * r.hits) / requests).toFixed(1).padStart(8)}% | ${r.ms.toFixed(0).padStart(8)} |`;
  console.log('\n  | cache                      | requests | model calls  | hit ratio | time ms  |');
  console.log('  |----------------------------|----------|--------------|-----------|----------|');
  console.log(row({ ...shared, mode: 'threadkv (shared)' }));
  console.log(row({ ...priv, mode: 'Map per worker (private)' }));
  const saved = priv.misses - shared.misses;
  console.log(
    `\n  The shared store made ${saved} fewer model calls (${((100 * saved) / priv.misses).toFixed(0)}% fewer), ` +
      `saving about ${(saved * 2).toFixed(0)} ms of model time; wall time ${(priv.ms / shared.ms).toFixed(2)}x faster.`,
  );
  console.log(`  All ${shared.threadsUsed} workers read and wrote one store of ${shared.cached} embeddings.`);
  const distinctTexts = new Set(texts).size;
  const once = shared.misses === distinctTexts && shared.loads === distinctTexts;
  console.log(
    `  getOrCompute: model calls = distinct texts: ${shared.misses} = ${distinctTexts}` +
      (once ? ' (each text embedded once, however many workers asked for it at the same time)' : '  <-- NOT EQUAL'),
  );
  if (!once) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
