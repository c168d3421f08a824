'use strict';
// The contenders. Each one has:
//   supports(kind)            'S' | 'M'
//   async                     true when get/set return promises (Redis)
//   create(ctx) -> state      main thread of the contender process, once:
//                             creates and preloads the shared data; state.share
//                             is sent to every worker (structured clone)
//   adapter(kind, share, idx) -> { get(key), set(key, value) } for this
//                             thread (idx 0: the process's main thread,
//                             1..n: workers)
//   destroy(state)            main thread, at the end
// Where the contender's own object already has get/set with the right
// meaning, it is used directly as the adapter (no wrapper call).

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { keyCount, keyOf, valueOf } = require('./common');

function preload(kind, set) {
  const n = keyCount(kind);
  for (let i = 0; i < n; i++) set(keyOf(i), valueOf(kind, i));
}

// ---- threadkv ---------------------------------------------------------------

function threadkv(id, label, short, options, kinds = ['S', 'M']) {
  const storeName = (kind) => `bench-${id}-${kind}`;
  const open = (kind) => {
    const { Store } = require('threadkv');
    return options ? Store.open(storeName(kind), options) : Store.open(storeName(kind));
  };
  return {
    id,
    label,
    short,
    shared: true,
    supports: (kind) => kinds.includes(kind),
    create(ctx) {
      const keep = [];
      for (const kind of ctx.kinds) {
        const s = open(kind);
        preload(kind, (k, v) => s.set(k, v));
        keep.push(s);
      }
      return { share: {}, keep };
    },
    adapter: (kind) => open(kind), // Store#get / Store#set
    destroy() {},
  };
}

// ---- plain Map, one per thread (not shared) ---------------------------------

const mapContender = {
  id: 'map',
  label: 'Map (one per thread, not shared)',
  short: 'Map per thread (not shared)',
  shared: false,
  supports: () => true,
  create: () => ({ share: {} }),
  adapter(kind) {
    // Each thread builds its own private copy: the upper bound of what a
    // shared store could reach (no copy, no codec, no lock). M values are
    // live objects: get returns the stored object itself.
    const m = new Map();
    preload(kind, (k, v) => m.set(k, v));
    return m;
  },
  destroy() {},
};

// ---- lmdb-js on tmpfs --------------------------------------------------------

function lmdbDir() {
  // bench/run.js hands its children one folder on tmpfs and removes it at
  // the end, even when a child is killed.
  const base = process.env.THREADKV_BENCH_TMP || (fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir());
  return fs.mkdtempSync(path.join(base, 'threadkv-bench-lmdb-'));
}

// msgpackr's moreTypes: typed arrays come back as typed arrays (without it a
// Float32Array reads back as a Uint8Array of its bytes).
function lmdbDbOptions(kind) {
  return kind === 'V' || kind === 'OV' ? { name: kind, encoder: { moreTypes: true } } : { name: kind };
}

function lmdbContender(latest) {
  return {
    id: latest ? 'lmdb-latest' : 'lmdb',
    label: latest ? 'lmdb-js, resetReadTxn() before each get' : 'lmdb-js (tmpfs, noSync)',
    short: latest ? 'lmdb-js + resetReadTxn' : 'lmdb-js',
    shared: true,
    supports: () => true,
    create(ctx) {
      const { open } = require('lmdb');
      const dir = lmdbDir();
      const env = open({ path: dir, noSync: true });
      for (const kind of ctx.kinds) {
        const db = env.openDB(lmdbDbOptions(kind));
        db.transactionSync(() => preload(kind, (k, v) => db.put(k, v)));
      }
      return { share: { dir }, env, dir };
    },
    adapter(kind, share) {
      const { open } = require('lmdb');
      const env = open({ path: share.dir, noSync: true });
      const db = env.openDB(lmdbDbOptions(kind));
      if (latest) {
        return {
          get(k) {
            db.resetReadTxn();
            return db.get(k);
          },
          set(k, v) {
            db.putSync(k, v);
          },
        };
      }
      return {
        get: (k) => db.get(k),
        set(k, v) {
          db.putSync(k, v);
        },
      };
    },
    destroy(state) {
      try {
        state.env.close();
      } catch {
        // already closed
      }
      fs.rmSync(state.dir, { recursive: true, force: true });
    },
  };
}

// ---- sharedmap (SharedArrayBuffer, strings only) -----------------------------

const sharedmapContender = {
  id: 'sharedmap',
  label: 'sharedmap (SAB; S as is, M as JSON)',
  short: 'sharedmap',
  shared: true,
  supports: (kind) => kind === 'S' || kind === 'M',
  create(ctx) {
    const SharedMap = require('sharedmap');
    const share = {};
    for (const kind of ctx.kinds) {
      // 131,072 slots for 100,000 keys (76% full); sizes are UTF-16 units.
      const objSize = kind === 'M' ? JSON.stringify(valueOf('M', 9_999_999)).length + 64 : 16;
      const m = new SharedMap(131072, 16, objSize);
      if (kind === 'M') preload(kind, (k, v) => m.set(k, JSON.stringify(v)));
      else preload(kind, (k, v) => m.set(k, v));
      share[kind] = m;
    }
    return { share };
  },
  adapter(kind, share) {
    const SharedMap = require('sharedmap');
    const m = share[kind];
    Object.setPrototypeOf(m, SharedMap.prototype);
    if (kind === 'S') return m; // SharedMap#get / #set
    return {
      get(k) {
        const s = m.get(k);
        return s === undefined ? undefined : JSON.parse(s);
      },
      set(k, v) {
        m.set(k, JSON.stringify(v));
      },
    };
  },
  destroy() {},
};

// ---- owner thread: one worker owns a Map, others call it through SAB ---------

const ownerContender = {
  id: 'owner',
  label: 'owner thread (Map in one worker; SAB + Atomics.wait)',
  short: 'owner thread (Atomics.wait)',
  shared: true,
  supports: (kind) => kind === 'S' || kind === 'M',
  create(ctx) {
    const owner = require('./owner');
    return owner.start(ctx.kinds);
  },
  adapter(kind, share, idx) {
    const owner = require('./owner');
    return owner.client(share, idx, kind);
  },
  destroy(state) {
    require('./owner').stop(state);
  },
};

// ---- Redis through ioredis ---------------------------------------------------

const redisContender = {
  id: 'redis',
  label: 'Redis via ioredis (loopback; S as is, M as JSON)',
  short: 'Redis (ioredis)',
  shared: true,
  async: true,
  supports: (kind) => kind === 'S' || kind === 'M',
  async create(ctx) {
    const Redis = require('ioredis');
    const r = new Redis({ host: '127.0.0.1', port: ctx.redisPort, lazyConnect: true, enableOfflineQueue: true });
    await r.connect();
    await r.flushall();
    for (const kind of ctx.kinds) {
      const n = keyCount(kind);
      for (let i = 0; i < n; i += 1000) {
        const args = [];
        for (let j = i; j < Math.min(n, i + 1000); j++) {
          const v = valueOf(kind, j);
          args.push(kind + ':' + keyOf(j), kind === 'M' ? JSON.stringify(v) : v);
        }
        await r.mset(...args);
      }
    }
    await r.quit();
    return { share: { port: ctx.redisPort }, clients: [] };
  },
  async adapter(kind, share) {
    const Redis = require('ioredis');
    const r = new Redis({ host: '127.0.0.1', port: share.port, keyPrefix: kind + ':', lazyConnect: true });
    await r.connect();
    if (kind === 'S') {
      return {
        async get(k) {
          const v = await r.get(k);
          return v === null ? undefined : v;
        },
        set: (k, v) => r.set(k, v),
        close: () => r.quit(),
      };
    }
    return {
      async get(k) {
        const v = await r.get(k);
        return v === null ? undefined : JSON.parse(v);
      },
      set: (k, v) => r.set(k, JSON.stringify(v)),
      close: () => r.quit(),
    };
  },
  destroy() {},
};

const ALL = [
  threadkv('threadkv', 'threadkv (defaults: v8 codec, 64 shards)', 'threadkv (defaults)', null, ['S', 'M', 'V', 'OV', 'N', 'C']),
  threadkv('threadkv-string', "threadkv, codec 'string' (S only)", "threadkv codec 'string'", { codec: 'string' }, ['S']),
  threadkv('threadkv-1shard', 'threadkv, shards: 1 (one global lock)', 'threadkv shards: 1', { shards: 1 }),
  mapContender,
  lmdbContender(false),
  lmdbContender(true),
  sharedmapContender,
  ownerContender,
  redisContender,
];

const QUICK = ['threadkv', 'threadkv-string', 'threadkv-1shard', 'map', 'lmdb', 'sharedmap'];

function contender(id) {
  const c = ALL.find((x) => x.id === id);
  if (!c) throw new Error(`unknown contender '${id}' (known: ${ALL.map((x) => x.id).join(', ')})`);
  return c;
}

module.exports = { ALL, QUICK, contender };
