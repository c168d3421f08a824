'use strict';
// A piscina task: "embed" a text, with a cache in front of the slow model.
// mode 'shared': one threadkv store that every worker of the pool sees.
// mode 'private': a Map per worker thread (what you get without threadkv).
const { threadId } = require('node:worker_threads');
const { Store } = require('threadkv');

const privateCache = new Map();

// Stand-in for a model call: ~2 ms of CPU and a deterministic vector.
function fakeEmbed(text) {
  const end = process.hrtime.bigint() + 2_000_000n;
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  while (process.hrtime.bigint() < end) h = Math.imul(h ^ (h >>> 13), 0x5bd1e995);
  const vector = new Float32Array(16);
  for (let i = 0; i < vector.length; i++) vector[i] = ((h = Math.imul(h ^ (h >>> 15), 2246822507)) >>> 0) / 2 ** 32;
  return { model: 'fake-16d', vector };
}

module.exports = async function embed({ text, mode, store }) {
  if (mode === 'shared') {
    // One model call per text for the whole pool: a worker that asks for a
    // text another worker is embedding right now waits for that call.
    const cache = Store.open(store);
    let called = false;
    await cache.getOrCompute(text, () => {
      called = true;
      return fakeEmbed(text);
    });
    return { hit: !called, thread: threadId };
  }
  if (privateCache.has(text)) return { hit: true, thread: threadId };
  privateCache.set(text, fakeEmbed(text));
  return { hit: false, thread: threadId };
};
