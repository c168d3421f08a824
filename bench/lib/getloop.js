'use strict';
// A single-thread get (or set) loop for instruction counting under callgrind
// (bench/profile.js).
//   node bench/lib/getloop.js --target=threadkv|map|v8-deserialize|v8-serialize|json-parse --codec=string|v8
//     --kind=S|M|V|OV|N|C [--op=get|set|get-promise|getOrCompute|getOrComputeSync] [--keys=10000] --n=N [--watch=miss|match]
// (get-promise: a get and a resolved promise; getOrCompute*: hits, the key present.
// --watch: a watcher on the store first (bench/watch.js): `miss` on a prefix no
// key has, `match` on every key with room for every event, so that each
// write queues one; its thread never drains, so no wake-up after the first.)

const v8 = require('node:v8');
const vm = require('node:vm');
const { valueOf } = require('./common');
const { parseArgs } = require('./stats');

const args = parseArgs(process.argv.slice(2));
const target = args.target || 'threadkv';
const kind = args.kind || 'S';
const n = Number(args.n || 0);
const nkeys = Number(args.keys || 10000);
const warm = Number(args.warm || 30000);
const op = args.op || 'get';

const keys = [];
for (let i = 0; i < nkeys; i++) keys.push('k:' + i);

const pool = [];
for (let i = 0; i < 64; i++) pool.push(valueOf(kind, 1000000 + i));
let w = 0;

let get;
if (target === 'threadkv') {
  const { Store } = require('threadkv');
  const s = Store.open('getloop', args.codec ? { codec: args.codec } : undefined);
  if (args.watch === 'miss') s.watch({ prefix: 'no key has this prefix:' }).unref();
  else if (args.watch === 'match') s.watch({ maxQueue: 2 ** 32 - 1 }).unref();
  else if (args.watch !== undefined) throw new Error(`unknown --watch=${args.watch}`);
  for (let i = 0; i < nkeys; i++) s.set(keys[i], valueOf(kind, i));
  const never = () => {
    throw new Error('getloop: a getOrCompute factory ran on a hit');
  };
  const ops = {
    set: (k) => s.set(k, pool[w++ & 63]),
    get: (k) => s.get(k),
    'get-promise': (k) => Promise.resolve(s.get(k)),
    getOrCompute: (k) => s.getOrCompute(k, never),
    getOrComputeSync: (k) => s.getOrComputeSync(k, never),
  };
  get = ops[op];
  if (get === undefined) throw new Error(`unknown op ${op}`);
} else if (target === 'map') {
  const m = new Map();
  for (let i = 0; i < nkeys; i++) m.set(keys[i], valueOf(kind, i));
  get = op === 'set' ? (k) => m.set(k, pool[w++ & 63]) : (k) => m.get(k);
} else if (target === 'v8-deserialize') {
  const bytes = new Uint8Array(v8.serialize(valueOf(kind, 1)));
  get = () => v8.deserialize(bytes);
} else if (target === 'v8-serialize') {
  const value = valueOf(kind, 1);
  get = () => v8.serialize(value);
} else if (target === 'json-parse') {
  const text = JSON.stringify(valueOf(kind, 1));
  get = () => JSON.parse(text);
} else {
  throw new Error(`unknown target ${target}`);
}

function loop(count, start) {
  let hits = 0;
  let j = start;
  for (let i = 0; i < count; i++) {
    if (get(keys[j]) !== undefined) hits++;
    j = (j + 7919) % nkeys; // the same walk as before for 10,000 keys, also right for fewer
  }
  return hits;
}

let h = loop(warm, 0);
// The measured loop runs inside vm's RunInContext: bench/profile.js has
// callgrind collect only inside that C++ frame (--toggle-collect), so the
// startup, the preload and the warm-up are not counted.
globalThis.__getloop = loop;
h += new vm.Script(`__getloop(${n}, 1)`).runInThisContext();
if (h < 0) console.log(h);
