'use strict';
// Where a single-thread get (and put) spends its instructions: runs
// bench/lib/getloop.js under `valgrind --tool=callgrind`, collecting only
// inside the measured loop (after the preload and a JIT warm-up), and divides
// each function's self count by the number of calls. Instruction counts, not
// time: cache misses do not show here (the bench tables have those), but the
// counts are exact and do not depend on the machine's noise.
//
//   node bench/profile.js [--n=20000] [--cases=tkv-v8-S,map-S] [--json] [--keep]
// Needs valgrind (and callgrind_annotate) on PATH; says so otherwise.

const { execFile, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { fmt, parseArgs, textTable } = require('./lib/stats');

const CASES = [
  { id: 'tkv-string-S', title: "threadkv get S, codec 'string'", args: ['--target=threadkv', '--codec=string', '--kind=S'], n: 20000 },
  { id: 'tkv-v8-S', title: 'threadkv get S, default codec', args: ['--target=threadkv', '--kind=S'], n: 20000 },
  { id: 'map-S', title: 'Map.get S', args: ['--target=map', '--kind=S'], n: 20000 },
  { id: 'tkv-v8-S-put', title: 'threadkv put S, default codec', args: ['--target=threadkv', '--kind=S', '--op=set'], n: 20000 },
  { id: 'map-S-put', title: 'Map.set S', args: ['--target=map', '--kind=S', '--op=set'], n: 20000 },
  { id: 'tkv-v8-M', title: 'threadkv get M, default codec', args: ['--target=threadkv', '--kind=M'], n: 2000 },
  { id: 'v8deser-M', title: 'v8.deserialize(M bytes) alone', args: ['--target=v8-deserialize', '--kind=M'], n: 2000 },
  // Issue 14's payloads (2,000 iterations; V and C over 2,000 keys).
  { id: 'tkv-v8-V', title: 'threadkv get V (Float32Array(1536)), default codec', args: ['--target=threadkv', '--kind=V', '--keys=2000'], n: 4000 },
  { id: 'tkv-v8-V-put', title: 'threadkv put V, default codec', args: ['--target=threadkv', '--kind=V', '--keys=2000', '--op=set'], n: 4000 },
  { id: 'tkv-v8-OV', title: 'threadkv get OV (object with a Float32Array(1536)), default codec', args: ['--target=threadkv', '--kind=OV', '--keys=2000'], n: 4000 },
  { id: 'tkv-v8-OV-put', title: 'threadkv put OV, default codec', args: ['--target=threadkv', '--kind=OV', '--keys=2000', '--op=set'], n: 4000 },
  { id: 'tkv-v8-N', title: 'threadkv get N (number[1536]), default codec', args: ['--target=threadkv', '--kind=N', '--keys=2000'], n: 2000 },
  { id: 'tkv-v8-N-put', title: 'threadkv put N, default codec', args: ['--target=threadkv', '--kind=N', '--keys=2000', '--op=set'], n: 2000 },
  { id: 'tkv-v8-C', title: 'threadkv get C (chat completion), default codec', args: ['--target=threadkv', '--kind=C', '--keys=2000'], n: 4000 },
  { id: 'json-parse-C', title: 'JSON.parse(C text) alone', args: ['--target=json-parse', '--kind=C'], n: 4000 },
  { id: 'tkv-v8-M-put', title: 'threadkv put M, default codec', args: ['--target=threadkv', '--kind=M', '--op=set'], n: 2000 },
  { id: 'v8ser-M', title: 'v8.serialize(M) alone', args: ['--target=v8-serialize', '--kind=M'], n: 2000 },
  // Run only when asked for by id (bench/compute.js: the cost of a getOrCompute hit).
  { id: 'tkv-v8-S-get-promise', title: 'threadkv get S + Promise.resolve', args: ['--target=threadkv', '--kind=S', '--op=get-promise'], n: 20000, extra: true },
  { id: 'tkv-v8-S-goc', title: 'threadkv getOrCompute hit S', args: ['--target=threadkv', '--kind=S', '--op=getOrCompute'], n: 20000, extra: true },
  { id: 'tkv-v8-S-gocs', title: 'threadkv getOrComputeSync hit S', args: ['--target=threadkv', '--kind=S', '--op=getOrComputeSync'], n: 20000, extra: true },
  // bench/watch.js: what a watcher costs a put.
  { id: 'tkv-v8-S-put-watch-miss', title: 'threadkv put S, a watcher on a prefix no key has', args: ['--target=threadkv', '--kind=S', '--op=set', '--watch=miss'], n: 20000, extra: true },
  { id: 'tkv-v8-S-put-watch-match', title: 'threadkv put S, a watcher on every key', args: ['--target=threadkv', '--kind=S', '--op=set', '--watch=match'], n: 20000, extra: true },
];

// First match wins.
const CATEGORIES = [
  ['lock (pthread_rwlock)', /pthread_rwlock|__lll_lock|futex/],
  ['v8 deserializer (C++)', /ValueDeserializer|Deserializer::Read|serdes|ReadObject|ReadJSObject|ReadString|ReadOneByte|ReadTwoByte|ReadVarint|ReadHostObject|ReadJSArray/],
  ['GC and heap allocation', /Heap::|Scavenger|Scavenge|MarkCompact|Sweeper|Evacuat|MemoryAllocator|ConcurrentMarking|AllocateRaw|MainAllocator|LocalHeap|NewSpace|PagedSpace|LargeObject|GCTracer|IncrementalMarking/],
  ['JS string to WTF-8 (key; value on put) + hash', /WriteUtf8|Utf8Length|napi_get_value_string_utf|ReadWtf8|KeyArg|MayHaveReplacement|HashBytes|Utf8Encoder|WriteHelper|String::Flatten|String::Write|WriteToFlat|CopyChars|wtf8::/],
  ['value out: new JS string / typed array', /napi_create_string|String::NewFrom|NewStringFromUtf8|Utf8Decoder|NewStringFromOneByte|NewRawOneByteString|NewRawTwoByteString|napi_create_typedarray|NewJSTypedArray|Factory::New|AllocateRaw|ScalarToJs|ValueToJs|CopyOut/],
  ['N-API call and argument plumbing', /^napi_|^Napi::|v8impl|FunctionCallbackArguments|CallApiCallback|HandleApiCall|HandleScope|GetInstanceData|IsExternal|External::Value/],
  ['threadkv binding + core (probe, copy, upsert)', /threadkv::/],
  ['memcpy / malloc / free', /memcpy|memmove|memset|malloc|_int_free|^free$|cfree|operator new|operator delete|tcache/],
  ['JS: JIT code, builtins, interpreter', /^Builtins_|^0x|^\?\?\?$|Runtime_|Interpreter|Turbofan|Maglev|LoadIC|StoreIC|CallIC/],
];

function have(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

function callgrind(caseArgs, n, outFile) {
  return new Promise((resolve, reject) => {
    execFile(
      'valgrind',
      [
        '--tool=callgrind',
        '--collect-atstart=no',
        // getloop.js runs its measured loop through vm's runInThisContext.
        '--toggle-collect=node::contextify::ContextifyScript::RunInContext*',
        `--callgrind-out-file=${outFile}`,
        process.execPath,
        // No background compiler or GC threads: everything a get costs runs on
        // the measured thread, and the counts repeat from run to run.
        '--single-threaded',
        path.join(__dirname, 'lib', 'getloop.js'),
        ...caseArgs,
        `--n=${n}`,
      ],
      { maxBuffer: 64 << 20 },
      (err, _stdout, stderr) => (err ? reject(new Error(`valgrind failed: ${String(stderr).slice(-2000)}`)) : resolve()),
    );
  });
}

/** function name -> self instruction count (object and file paths dropped). */
function annotate(file) {
  const out = spawnSync('callgrind_annotate', ['--threshold=100', file], { encoding: 'utf8', maxBuffer: 256 << 20 }).stdout;
  const fns = new Map();
  let total = 0;
  for (const line of out.split('\n')) {
    const m = /^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$/.exec(line);
    if (!m) continue;
    const count = Number(m[1].replace(/,/g, ''));
    let rest = m[2].replace(/\s+\[[^\]]*\]\s*$/, '');
    if (rest.startsWith('PROGRAM TOTALS')) {
      total = count;
      continue;
    }
    const colon = rest.indexOf(':');
    let fn = colon >= 0 ? rest.slice(colon + 1) : rest;
    fn = fn.replace(/'\d+$/, ''); // recursion-level suffix
    fns.set(fn, (fns.get(fn) || 0) + count);
  }
  return { total, fns };
}

/** The name without its trailing argument list (and const). */
function bareName(fn) {
  let s = fn.replace(/\s+const$/, '').replace(/\s+\[clone [^\]]*\]$/, '');
  if (!s.endsWith(')')) return s;
  let depth = 0;
  for (let i = s.length - 1; i >= 0; i--) {
    if (s[i] === ')') depth++;
    else if (s[i] === '(' && --depth === 0) return s.slice(0, i);
  }
  return s;
}

function categorize(fn) {
  const bare = bareName(fn);
  for (const [name, re] of CATEGORIES) if (re.test(bare)) return name;
  return 'other (V8 runtime, libc, ...)';
}

function shortName(fn) {
  let s = bareName(fn);
  if (s.length > 70) s = s.slice(0, 67) + '...';
  return s;
}

async function runCase(c, tmp, nOverride) {
  const n = nOverride ? Math.max(500, Math.round((nOverride * c.n) / 20000)) : c.n;
  const file = path.join(tmp, `${c.id}.out`);
  await callgrind(c.args, n, file);
  const a = annotate(file);
  const per = new Map();
  for (const [fn, x] of a.fns) if (x / n >= 0.05) per.set(fn, x / n);
  const cats = new Map();
  for (const [fn, d] of per) {
    const k = categorize(fn);
    cats.set(k, (cats.get(k) || 0) + d);
  }
  const top = [...per]
    .sort((x, y) => y[1] - x[1])
    .slice(0, 14)
    .map(([fn, d]) => ({ fn: shortName(fn), perOp: d, category: categorize(fn) }));
  return {
    id: c.id,
    title: c.title,
    n,
    perOp: a.total / n,
    categories: [...cats].sort((x, y) => y[1] - x[1]).map(([name, perOp]) => ({ name, perOp })),
    top,
  };
}

async function run(opts = {}) {
  if (!have('valgrind') || !have('callgrind_annotate')) return { skipped: 'valgrind (callgrind) is not installed' };
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-profile-'));
  // opts.cases: ids to run, an array or a comma-separated list (default:
  // every case not marked `extra`).
  const only = opts.cases ? new Set(Array.isArray(opts.cases) ? opts.cases : String(opts.cases).split(',')) : null;
  const cases = only ? CASES.filter((c) => only.has(c.id)) : CASES.filter((c) => !c.extra);
  try {
    // Two at a time: callgrind runs each process on one core.
    const results = new Array(cases.length);
    let next = 0;
    const worker = async () => {
      while (next < cases.length) {
        const i = next++;
        results[i] = await runCase(cases[i], tmp, opts.n ? Number(opts.n) : 0);
      }
    };
    await Promise.all([worker(), worker()]);
    return { cases: results };
  } finally {
    if (!opts.keep) fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function print(r) {
  if (r.skipped) {
    console.log(`profile skipped: ${r.skipped}`);
    return;
  }
  for (const c of r.cases) {
    console.log(`\n${c.title}: ${fmt(c.perOp)} instructions per get (callgrind, ${c.n.toLocaleString('en-US')} gets)`);
    console.log(textTable(['where', 'instr/get'], c.categories.map((x) => [x.name, fmt(x.perOp)])));
    console.log(textTable(['top functions (self)', 'instr/get'], c.top.map((x) => [x.fn, fmt(x.perOp)])));
  }
}

if (require.main === module) {
  const args = parseArgs(process.argv.slice(2));
  run(args).then(
    (r) => (args.json ? process.stdout.write(JSON.stringify(r) + '\n') : print(r)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}

module.exports = { run, print, categorize, bareName };
