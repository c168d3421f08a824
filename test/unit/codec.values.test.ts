import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { isDeepStrictEqual } from 'node:util';
import * as v8 from 'node:v8';
import * as vm from 'node:vm';
import { MessageChannel, Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { ErrorCode, Store, type CodecName } from 'threadkv';
import { cells, OUT_TAG } from '../../dist/codec';
import { Fmt } from '../../dist/codec-format';
import { native } from '../../dist/native';
import { PAYLOADS, chatCompletion, cloneMismatch, payloadsFor } from '../support/payloads';
import { v8Value } from '../support/values';
import { storeFactory } from '../support/store';
import { fixture } from '../support/workers';

// The value path of issue 14: binary values stored natively and read back
// from a per-thread pool, the default codec's own object format and its
// v8.serialize fallback, with every value compared to what structured clone
// makes of it; in one thread and across threads; and what is refused.

const KB = 1024;

if (typeof globalThis.gc !== 'function') {
  v8.setFlagsFromString('--expose-gc');
  (globalThis as { gc?: () => void }).gc = vm.runInNewContext('gc') as () => void;
}
const gc = (): void => (globalThis as unknown as { gc: () => void }).gc();

describe('codec values: binary values, objects, and their pools', () => {
  const open = storeFactory('codec.values');

  /** Every way a value is read back: get, getEntry, getMany, entries, swap, take, getOrSet. */
  function readsOf(s: Store, value: unknown): [string, unknown][] {
    s.set('k', value);
    const out: [string, unknown][] = [
      ['get', s.get('k')],
      ['getEntry', s.getEntry('k')!.value],
      ['getMany', s.getMany(['k', 'absent'])[0]],
      ['entries', [...s.entries()].find(([k]) => k === 'k')![1]],
      ['values', [...s.values()][0]],
      ['getOrSet (present)', s.getOrSet('k', value)],
      ['getOrSet (inserted)', s.getOrSet('new', value)],
    ];
    s.delete('new');
    out.push(['swap', s.swap('k', value)]);
    out.push(['take', s.take('k')]);
    return out;
  }

  describe('round trips, compared with structuredClone of the input', () => {
    for (const [name, make] of PAYLOADS) {
      it(name, () => {
        const s = open();
        for (const [how, got] of readsOf(s, make(1))) {
          assert.equal(cloneMismatch(got, make(1)), null, `${how}`);
        }
        // and with privateBuffers
        const p = open({ privateBuffers: true });
        for (const [how, got] of readsOf(p, make(2))) assert.equal(cloneMismatch(got, make(2)), null, `privateBuffers ${how}`);
      });
    }

    it('setMany stores every kind with its own format, atomic or not', () => {
      for (const atomic of [false, true]) {
        const s = open();
        s.setMany(PAYLOADS.map(([, make], i) => [`p${i}`, make(3)] as [string, unknown]), { atomic });
        const got = s.getMany(PAYLOADS.map((_, i) => `p${i}`));
        PAYLOADS.forEach(([name, make], i) => {
          assert.equal(cloneMismatch(got[i], make(3)), null, `${name} (atomic: ${atomic})`);
        });
      }
    });

    it('JSON-like data, typed arrays, Map, Set, Date and BigInt take the fast format; the rest take v8.serialize', () => {
      const s = open();
      const format = (v: unknown): number => {
        s.set('k', v);
        s.get('k');
        return cells[OUT_TAG]!;
      };
      for (const v of [chatCompletion(1), [1, 2, 3], { m: new Map([[1, new Set([2])]]), d: new Date(0), b: 1n }]) assert.equal(format(v), Fmt.Object);
      assert.equal(format({ v: new Float32Array(4) }), Fmt.ObjectWithBinaries);
      assert.equal(format(new Float32Array(4)), Fmt.Float32Array);
      assert.equal(format(Buffer.from('b')), Fmt.Buffer);
      for (const v of [/x/, new Error('e'), [1, , 2], Object(1), Object.create(null)]) assert.equal(format(v), Fmt.Codec); // eslint-disable-line no-sparse-arrays
    });

    it('arbitrary structured-clonable values (fast-check) read back as structuredClone makes them', () => {
      const s = open();
      fc.assert(
        fc.property(v8Value(4), (value) => {
          s.set('k', value);
          assert.equal(cloneMismatch(s.get('k'), value), null, fc.stringify(value));
          assert.equal(cloneMismatch(s.getMany(['k'])[0], value), null, `getMany: ${fc.stringify(value)}`);
        }),
        { numRuns: 300 },
      );
    });

    it('arbitrary records of strings, numbers, number arrays and typed arrays (fast-check), through every read', () => {
      const s = open();
      const leaf = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }),
        fc.double(),
        fc.integer(),
        fc.constantFrom(-0, NaN, null, undefined, true, false),
        fc.array(fc.double(), { minLength: 0, maxLength: 60 }),
        fc.float32Array({ maxLength: 50 }),
        fc.float64Array({ maxLength: 20 }),
        fc.int16Array({ maxLength: 9 }),
        fc.uint8Array({ maxLength: 33 }),
      );
      const record = fc.dictionary(fc.string({ unit: 'binary', maxLength: 8 }), fc.oneof(leaf, fc.array(leaf, { maxLength: 4 })), { maxKeys: 12 });
      fc.assert(
        fc.property(fc.oneof(record, fc.array(record, { maxLength: 40 })), (value) => {
          for (const [how, got] of readsOf(s, value)) assert.equal(cloneMismatch(got, value), null, `${how}: ${fc.stringify(value)}`);
        }),
        { numRuns: 200 },
      );
    });

    it('an invalid Date, top level and nested', () => {
      const s = open();
      for (const [how, got] of readsOf(s, { d: new Date(NaN), list: [new Date(NaN)] })) {
        const g = got as { d: Date; list: Date[] };
        assert.ok(g.d instanceof Date && Number.isNaN(g.d.getTime()), how);
        assert.ok(g.list[0] instanceof Date && Number.isNaN(g.list[0].getTime()), how);
      }
      s.set('k', new Date(NaN));
      assert.ok(Number.isNaN((s.get('k') as Date).getTime()));
    });

    it('many distinct object shapes (past the per-thread shape table) read back right', () => {
      const s = open();
      for (let i = 0; i < 9000; i++) {
        const v = { [`a${i}`]: i, [`b${i % 7}`]: `x${i}`, n: { [`c${i}`]: [i] } };
        s.set('k', v);
        assert.deepStrictEqual(s.get('k'), v);
      }
    });

    it('keys that assignment would not create are defined (Object.prototype setters do not run)', () => {
      const s = open();
      let calls = 0;
      Object.defineProperty(Object.prototype, 'trap', {
        set() {
          calls++;
        },
        get() {
          return 'inherited';
        },
        configurable: true,
      });
      try {
        const v = JSON.parse('{"trap": 1, "__proto__": 2, "toString": 3}') as object;
        for (let i = 0; i < 3; i++) {
          s.set('k', v); // the shape is compiled on its second read
          const got = s.get('k') as Record<string, unknown>;
          assert.deepEqual(Object.keys(got), ['trap', '__proto__', 'toString']);
          assert.equal(Object.getOwnPropertyDescriptor(got, 'trap')!.value, 1);
          assert.equal(Object.getPrototypeOf(got), Object.prototype);
        }
        assert.equal(calls, 0);
      } finally {
        delete (Object.prototype as Record<string, unknown>).trap;
      }
    });

    it('a call refused before it reads its value leaves no format or length for the next value', () => {
      const closed = open();
      closed.close();
      const s = open();
      for (const first of [{ a: 'x'.repeat(10) }, new Float32Array(4), /re/]) {
        assert.throws(() => closed.set('k', first), { code: ErrorCode.CLOSED });
        assert.throws(() => s.set(5 as unknown as string, first), { code: ErrorCode.KEY_TYPE });
        for (const next of [/a+b/g, { m: new Map([[1, 2]]) }, Buffer.from('after'), 'text']) {
          s.set('k', next);
          assert.equal(cloneMismatch(s.get('k'), next), null, `${String(first)} then ${String(next)}`);
        }
      }
    });

    it('a getter that reads and writes the store while its object is encoded', () => {
      const s = open();
      s.set('other', { n: 1 });
      const v = {
        a: 1,
        get b() {
          s.set('inner', { deep: [1, 2, 3], vec: new Float32Array([1]) });
          return s.get('other');
        },
        c: 'end',
      };
      s.set('k', v);
      assert.deepEqual(s.get('k'), { a: 1, b: { n: 1 }, c: 'end' });
      assert.deepEqual(s.get('inner'), { deep: [1, 2, 3], vec: new Float32Array([1]) });
    });
  });

  describe('across threads', () => {
    it('values written by one worker read back in another, and in this thread', async () => {
      const name = open().name;
      const run = (role: 'write' | 'read'): Promise<string[]> =>
        new Promise((resolve, reject) => {
          const w = new Worker(fixture('codec-worker.ts'), { workerData: { store: name, role, seed: 7 } });
          let result: string[] | undefined;
          w.on('message', (m: string[]) => (result = m));
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error(`worker exited with ${code}`))));
        });
      assert.deepEqual(await run('write'), []);
      assert.deepEqual(await run('read'), []);
      // the writer has exited; this thread reads the same
      const s = Store.open(name);
      PAYLOADS.forEach(([what, make], i) => {
        assert.equal(cloneMismatch(s.get(`p${i}`), make(7)), null, what);
      });
    });
  });

  describe('the other codecs, with the payloads each takes', () => {
    for (const codec of ['json', 'buffer', 'string'] as const) {
      it(`${codec}: in this thread and written by a worker`, async () => {
        const s = open({ codec });
        const name = s.name;
        const cases = payloadsFor(codec);
        assert.ok(cases.length >= 2);
        for (const [what, make, readBack] of cases) {
          for (const [how, got] of readsOf(s, make(1))) assert.ok(isDeepStrictEqual(got, readBack(make(1))), `${what} (${how})`);
        }
        await new Promise<void>((resolve, reject) => {
          const w = new Worker(fixture('codec-worker.ts'), { workerData: { store: name, role: 'write-codec', seed: 9, codec } });
          w.on('error', reject);
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`worker exited with ${code}`))));
        });
        cases.forEach(([what, make, readBack], i) => {
          assert.ok(isDeepStrictEqual(s.get(`c${i}`), readBack(make(9))), `${what}, from a worker`);
        });
      });
    }
  });

  describe('pooled results', () => {
    /** Runs `code` in a worker (workerData = `name`) and resolves with the last message it posted before it exited. */
    const lastMessageBeforeExit = (code: string, name: string): Promise<Float32Array[]> =>
      new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: name });
        let m: Float32Array[] = [];
        w.on('message', (x: Float32Array[]) => (m = x));
        w.on('error', reject);
        w.on('exit', () => resolve(m));
      });

    it('a result is never changed by later reads, of any size, however many slabs they fill', () => {
      const s = open();
      const sizes = [1, 7, 100, 1023, 1024, 1025, 6 * KB, 16 * KB, 16 * KB + 8, 40 * KB];
      sizes.forEach((n, i) => {
        s.set(`k${i}`, Uint8Array.from({ length: n }, (_, j) => (j * 31 + i) & 0xff));
      });
      s.set('obj', { v: new Float32Array([1, 2, 3]), s: 'x' });
      const kept = sizes.map((_, i) => s.get(`k${i}`) as Uint8Array);
      const keptObj = s.get('obj');
      for (let r = 0; r < 300; r++) {
        for (let i = 0; i < sizes.length; i++) s.get(`k${i}`);
        s.get('obj');
      }
      sizes.forEach((n, i) => {
        assert.deepEqual(kept[i], Uint8Array.from({ length: n }, (_, j) => (j * 31 + i) & 0xff), `size ${n}`);
      });
      assert.deepEqual(keptObj, { v: new Float32Array([1, 2, 3]), s: 'x' });
    });

    it('results share an untransferable pool: .buffer is shared, byteOffset may be non-zero', () => {
      const s = open();
      s.set('a', new Float32Array([1, 2]));
      s.set('b', new Float64Array([3]));
      const a = s.get('a') as Float32Array;
      const b = s.get('b') as Float64Array;
      assert.equal(a.buffer, b.buffer);
      assert.notEqual(b.byteOffset, 0);
      assert.equal(b.byteOffset % 8, 0);
      // A transfer list cannot detach the pool (Node ignores the slab or
      // refuses it, as it does for its own Buffer pool).
      const { port1, port2 } = new MessageChannel();
      try {
        port1.postMessage(a, [a.buffer as ArrayBuffer]);
      } catch (err) {
        assert.equal((err as Error).name, 'DataCloneError');
      } finally {
        port1.close();
        port2.close();
      }
      assert.deepEqual(b, new Float64Array([3]));
      assert.deepEqual(a, new Float32Array([1, 2]));
    });

    it('what is pooled (docs/api.md, Values): up to 16 KiB, from every read; larger results and ArrayBuffers own their memory', () => {
      const s = open();
      const pooled = (x: ArrayBufferView): boolean => x.buffer.byteLength > x.byteLength;
      s.set('small', new Uint8Array(KB));
      s.set('large', new Float64Array((16 * KB) / 8));
      s.set('over', new Uint8Array(16 * KB + 1));
      s.set('ab', new ArrayBuffer(64));
      s.set('dv', new DataView(new ArrayBuffer(24), 8, 8));
      s.set('buf', Buffer.from('pooled'));
      s.set('obj', { v: new Int32Array(4) });
      const small = s.get('small') as Uint8Array;
      const large = s.get('large') as Float64Array;
      assert.equal(small.buffer.byteLength, 32 * KB, 'a result up to 1 KiB: a 32 KiB slab');
      assert.equal(large.buffer.byteLength, 128 * KB - 64, 'a result up to 16 KiB: a slab of 128 KiB less 64 bytes');
      const over = s.get('over') as Uint8Array;
      assert.ok(!pooled(over) && over.byteOffset === 0, 'over 16 KiB: its own memory');
      const ab = s.get('ab') as ArrayBuffer;
      assert.ok(ab instanceof ArrayBuffer && ab.byteLength === 64);
      const reads: [string, unknown][] = [
        ['get', s.get('dv')],
        ['get', s.get('buf')],
        ['inside an object', (s.get('obj') as { v: Int32Array }).v],
        ['getMany', s.getMany(['small'])[0]],
        ['entries', [...s.entries()].find(([k]) => k === 'buf')![1]],
      ];
      for (const [how, x] of reads) assert.ok(pooled(x as ArrayBufferView), how);
      assert.ok(Buffer.isBuffer(reads[1]![1]));
    });

    it('privateBuffers: every binary result owns its ArrayBuffer and can be transferred', async () => {
      const s = open({ privateBuffers: true });
      s.set('a', new Float32Array([1, 2]));
      s.set('o', { v: new Int16Array([5]), b: Buffer.from('x') });
      const a = s.get('a') as Float32Array;
      const o = s.get('o') as { v: Int16Array; b: Buffer };
      for (const x of [a, o.v, o.b]) {
        assert.equal(x.byteOffset, 0);
        assert.equal(x.buffer.byteLength, x.byteLength);
      }
      const { port1, port2 } = new MessageChannel();
      const got = new Promise((resolve) => port2.once('message', resolve));
      port1.postMessage(a, [a.buffer as ArrayBuffer]);
      assert.deepEqual(await got, new Float32Array([1, 2]));
      assert.equal(a.byteLength, 0); // transferred: detached here
      port1.close();
      port2.close();
      assert.deepEqual(s.get('a'), new Float32Array([1, 2]));
      assert.ok(Buffer.isBuffer(o.b));
    });

    it('results survive garbage collection of the others', () => {
      const s = open();
      for (let i = 0; i < 64; i++) s.set(`k${i}`, Float32Array.from({ length: 1536 }, (_, j) => i + j));
      const kept: Float32Array[] = [];
      for (let r = 0; r < 20; r++) {
        for (let i = 0; i < 64; i++) {
          const v = s.get(`k${i}`) as Float32Array;
          if (i % 17 === 0) kept.push(v);
        }
        gc();
      }
      for (const v of kept) assert.equal(v[5], v[0]! + 5);
      gc();
      kept.forEach((v) => {
        assert.equal(v[1535], v[0]! + 1535);
      });
    });

    it('recycled slab memory never backs a live result: results kept as views, as their .buffer alone, or as other views of it stay intact', () => {
      // 6 KiB results come from the large pool, whose slab memory the binding
      // reuses once a slab's ArrayBuffer is collected (native/binding/values.h).
      // Each round reads the keys in a rotated order, so that memory handed
      // out again would get a different key's bytes at a kept result's offset.
      const s = open();
      const N = 64;
      const expected = (i: number): Float32Array => Float32Array.from({ length: 1536 }, (_, j) => i * 4096 + j);
      for (let i = 0; i < N; i++) s.set(`k${i}`, expected(i));
      const [, , , reusedBefore, recycling] = native.valueSlabStats();
      const kept: { i: number; read: () => Float32Array }[] = [];
      for (let r = 0; r < 48; r++) {
        for (let n = 0; n < N; n++) {
          const i = (n + r * 7) % N;
          const v = s.get(`k${i}`) as Float32Array;
          if (n !== r % N) continue;
          const { buffer, byteOffset, length } = v;
          switch (r % 4) {
            case 0: // the result itself
              kept.push({ i, read: () => v });
              break;
            case 1: // only its ArrayBuffer (no view of it left)
              kept.push({ i, read: () => new Float32Array(buffer, byteOffset, length) });
              break;
            case 2: {
              // another view of the same memory
              const b = Buffer.from(buffer, byteOffset, length * 4);
              kept.push({ i, read: () => new Float32Array(b.buffer, b.byteOffset, length) });
              break;
            }
            default: {
              const d = new DataView(buffer, byteOffset, length * 4);
              kept.push({ i, read: () => new Float32Array(d.buffer, d.byteOffset, length) });
            }
          }
        }
        gc();
      }
      const [, , , reusedAfter] = native.valueSlabStats();
      if (recycling === 1) assert.ok(reusedAfter - reusedBefore >= 100, `slab memory was reused (${reusedAfter - reusedBefore} times)`);
      for (const k of kept) assert.deepEqual(k.read(), expected(k.i), `key ${k.i}`);
    });

    it('recycled slab memory a thread stops needing is freed (trim), never a block a live result uses', () => {
      const s = open();
      for (let i = 0; i < 32; i++) s.set(`k${i}`, new Float32Array(1536).fill(i));
      const kept = s.get('k7') as Float32Array;
      for (let r = 0; r < 30; r++) {
        for (let i = 0; i < 32; i++) s.get(`k${(i + r) % 32}`);
        gc();
      }
      const [blocks, , , , recycling] = native.valueSlabStats();
      if (recycling === 1) assert.ok(blocks > 4, `blocks held while reading (${blocks})`);
      native.valueTrimSlabs(); // keeps as many spare blocks as were reused since the last trim
      gc();
      const held = native.valueTrimSlabs(); // nothing reused since: every spare block is freed
      const [after, lent, spare] = native.valueSlabStats();
      assert.equal(spare, 0);
      assert.equal(after, lent);
      assert.equal(held, after);
      assert.ok(lent <= 2, `only the current slab and the kept result's are held (${lent})`);
      assert.deepEqual(kept, new Float32Array(1536).fill(7));
      for (let i = 0; i < 32; i++) assert.deepEqual(s.get(`k${i}`), new Float32Array(1536).fill(i));
      assert.deepEqual(kept, new Float32Array(1536).fill(7));
    });

    it('slab memory is recycled only where a pooled result\'s ArrayBuffer cannot be moved to another one', async () => {
      // In a worker: where the transfer works it detaches that thread's
      // current slab, which later reads there would meet.
      const s = open();
      s.set('v', new Float32Array(1536).fill(3));
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        const { Store } = require('threadkv');
        const { native } = require(${JSON.stringify(require.resolve('../../dist/native'))});
        const v = Store.open(workerData).get('v');
        const recycling = native.valueSlabStats()[4];
        const transfer = ArrayBuffer.prototype.transfer;
        let moved = null;
        if (typeof transfer === 'function') {
          try {
            transfer.call(v.buffer);
            moved = true;
          } catch {
            moved = false;
          }
        }
        parentPort.postMessage([recycling, moved]);`;
      const [recycling, moved] = (await lastMessageBeforeExit(code, s.name)) as unknown as [number, boolean | null];
      if (moved === null) assert.equal(recycling, 1, 'no ArrayBuffer.prototype.transfer: recycling is on');
      else assert.equal(recycling, moved ? 0 : 1, 'recycling is on exactly when a marked slab cannot be transferred');
    });

    it('6 KiB results read in a worker (recycled slabs) survive its exit as posted copies; the worker frees its slab memory', async () => {
      const s = open();
      const name = s.name;
      for (let i = 0; i < 16; i++) s.set(`v${i}`, new Float32Array(1536).fill(i));
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        const v8 = require('node:v8');
        const vm = require('node:vm');
        if (typeof globalThis.gc !== 'function') v8.setFlagsFromString('--expose-gc');
        const collect = globalThis.gc || vm.runInNewContext('gc');
        const { Store } = require('threadkv');
        const s = Store.open(workerData);
        const r = [];
        for (let round = 0; round < 40; round++) {
          for (let i = 0; i < 16; i++) {
            const v = s.get('v' + ((i + round) % 16));
            if (i === 0) r.push(v);
          }
          collect();
        }
        parentPort.postMessage(r);`;
      const posted = await lastMessageBeforeExit(code, name);
      gc();
      assert.equal(posted.length, 40);
      posted.forEach((p, round) => {
        assert.deepEqual(p, new Float32Array(1536).fill(round % 16));
      });
    });

    it('results read in a worker survive its exit (posted copies), and this thread is unaffected', async () => {
      const s = open();
      const name = s.name;
      s.set('v', Float32Array.from([1, 2, 3]));
      const mine = s.get('v');
      const code = `
        const { parentPort, workerData } = require('node:worker_threads');
        const { Store } = require('threadkv');
        const s = Store.open(workerData);
        const r = [];
        for (let i = 0; i < 100; i++) r.push(s.get('v'));
        parentPort.postMessage(r);`;
      const posted = await lastMessageBeforeExit(code, name);
      gc();
      assert.equal(posted.length, 100);
      for (const p of posted) assert.deepEqual(p, new Float32Array([1, 2, 3]));
      assert.deepEqual(mine, new Float32Array([1, 2, 3]));
    });
  });

  describe('entries written before formats existed stay readable', () => {
    it('v8-serialized bytes with no format tag (how every object was stored before) read back', () => {
      const s = open();
      const name = s.name;
      // What the previous set() did: v8.serialize, stored as bytes with flags 0.
      const attach = (store: string, codec: string) =>
        native.open({ name: store, codec, shards: 64, maxKeyBytes: 65536, maxValueBytes: 64 << 20, maxEntries: 0, maxBytes: 0, evictionPolicy: 'none', ttlMs: 0, specified: 0 }).handle;
      const [, set] = native.bind(attach(name, 'v8'));
      const old = { a: [1, 2], m: new Map([[1, 'x']]), v: new Float32Array([1.5]) };
      cells[0] = 0; // no tag
      cells[2] = 0;
      set('old', v8.serialize(old));
      assert.deepEqual(s.get('old'), old);
      assert.deepEqual(s.getMany(['old'])[0], old);
      const b = open({ codec: 'buffer' });
      cells[0] = 0;
      cells[2] = 0;
      native.bind(attach(b.name, 'buffer'))[1]('raw', Uint8Array.from([1, 2, 3]));
      assert.deepEqual(b.get('raw'), Buffer.from([1, 2, 3]));
      assert.deepEqual(b.getMany(['raw'])[0], Buffer.from([1, 2, 3]));
    });
  });

  describe('refused exactly as before: TypeError with its code, store unchanged', () => {
    const bad: [string, () => unknown][] = [
      ['a function', () => () => 1],
      ['a symbol', () => Symbol('s')],
      ['a function inside an object', () => ({ a: 1, f() {} })],
      ['a symbol inside an array', () => [1, Symbol.iterator]],
      ['a WeakMap', () => new WeakMap()],
      ['a WeakSet inside a Map', () => new Map([[1, new WeakSet()]])],
      ['a Promise', () => Promise.resolve(1)],
      ['a Proxy of an object', () => new Proxy({ a: 1 }, {})],
      ['a Proxy of an array', () => new Proxy([1, 2], {})],
      ['a Proxy nested in an array of numbers', () => [1, 2, 3, 4, 5, 6, 7, 8, new Proxy({}, {})]],
      ['a SharedArrayBuffer', () => new SharedArrayBuffer(8)],
      ['a MessagePort', () => new MessageChannel().port1],
    ];
    for (const [what, make] of bad) {
      it(what, () => {
        const s = open();
        s.set('k', { before: true });
        const value = make();
        let v8Error: unknown = null;
        try {
          v8.serialize(value);
        } catch (err) {
          v8Error = err;
        }
        assert.ok(v8Error !== null || typeof value === 'symbol' || typeof value === 'function', 'v8.serialize refuses it too');
        assert.throws(
          () => s.set('k', value),
          (err: Error & { code?: string }) => err instanceof TypeError && err.code === ErrorCode.VALUE_TYPE,
        );
        assert.throws(() => s.setMany([['k', value]]), TypeError);
        assert.deepEqual(s.get('k'), { before: true });
        assert.equal(s.size, 1);
        if (value instanceof MessagePort) value.close();
      });
    }
  });

  describe('detached and out-of-bounds views are refused by every codec', () => {
    const detached = (): Uint8Array => {
      const u = new Uint8Array(8);
      structuredClone(u.buffer, { transfer: [u.buffer] });
      return u;
    };
    const outOfBounds = (): Uint8Array => {
      const rab = new (ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer & { resize(n: number): void })(16, { maxByteLength: 32 });
      const view = new Uint8Array(rab, 8, 8);
      rab.resize(4);
      return view;
    };
    const views: [string, () => unknown][] = [
      ['a view of a detached buffer', detached],
      ['a detached ArrayBuffer', () => detached().buffer],
      ['a DataView of a detached buffer', () => {
        const d = new DataView(new ArrayBuffer(4));
        structuredClone(d.buffer, { transfer: [d.buffer] });
        return d;
      }],
      ['a view out of bounds of a shrunk resizable buffer', outOfBounds],
    ];
    for (const codec of ['v8', 'json', 'string', 'buffer'] as CodecName[]) {
      for (const [what, make] of views) {
        it(`${codec}: ${what}`, () => {
          const s = open({ codec });
          const good = codec === 'string' ? 'before' : codec === 'buffer' ? Buffer.from('before') : { before: true };
          s.set('k', good);
          assert.throws(
            () => s.set('k', make()),
            (err: Error & { code?: string }) => err instanceof TypeError && err.code === ErrorCode.VALUE_TYPE && (codec === 'string' || /detached or out-of-bounds/.test(err.message)),
          );
          if (codec === 'v8') assert.throws(() => s.set('k', { nested: [make()] }), { name: 'TypeError', code: ErrorCode.VALUE_TYPE });
          assert.deepEqual(s.get('k'), good);
        });
      }
    }
  });

  describe('oversized values are refused from their length, before they are copied', () => {
    it('a string longer than maxValueBytes: RangeError "at least", for every codec that takes strings', () => {
      for (const codec of ['v8', 'string', 'json'] as CodecName[]) {
        const s = open({ codec, maxValueBytes: 100 });
        s.set('k', 'ok');
        assert.throws(() => s.set('k', 'x'.repeat(101)), (err: Error & { code?: string }) => {
          return err instanceof RangeError && err.code === ErrorCode.VALUE_TOO_LARGE && /at least 10[13] bytes/.test(err.message);
        });
        assert.equal(s.get('k'), 'ok');
      }
    });

    it('a string within the limit in characters but not in bytes: the exact byte count', () => {
      const s = open({ maxValueBytes: 100 });
      assert.throws(() => s.set('k', 'é'.repeat(60)), /is 120 bytes once encoded, over maxValueBytes \(100\)/);
    });

    it('an object whose encoding passes the limit: refused as soon as the encoder passes it', () => {
      const s = open({ maxValueBytes: 64 * KB });
      assert.throws(() => s.set('k', { a: 'x'.repeat(1 << 20), b: 1 }), (err: Error & { code?: string }) => err.code === ErrorCode.VALUE_TOO_LARGE && /at least/.test(err.message));
      assert.throws(() => s.set('k', { v: new Float64Array(10000) }), (err: Error & { code?: string }) => err.code === ErrorCode.VALUE_TOO_LARGE);
      assert.throws(() => s.set('k', new Float64Array(10000)), /is 80000 bytes once encoded/);
      assert.equal(s.has('k'), false);
    });

    it('a value over the limit by a byte is refused with its exact size; at the limit it is stored', () => {
      // Find the encoded size of a plain value (the smallest limit that takes it).
      const value = { list: Array.from({ length: 50 }, (_, i) => i * 1000), text: 'hello', f: [0.5, 1.5] };
      let lo = 1;
      let hi = 4096;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const t = open({ maxValueBytes: mid });
        try {
          t.set('k', value);
          hi = mid;
        } catch {
          lo = mid + 1;
        }
      }
      const s = open({ maxValueBytes: lo - 1 });
      assert.throws(() => s.set('k', value), new RegExp(`is ${lo} bytes once encoded, over maxValueBytes \\(${lo - 1}\\)`));
      const t = open({ maxValueBytes: lo });
      t.set('k', value);
      assert.deepEqual(t.get('k'), value);
    });

    it('a 400M-character string is refused without copying it (peak RSS stays low)', function () {
      this.timeout(60_000);
      const script = `
        const { Store } = require('threadkv');
        const s = Store.open('big');
        const big = 'x'.repeat(400e6);
        const before = process.resourceUsage().maxRSS;
        let code = null;
        try { s.set('k', big); } catch (e) { code = e.code + ' ' + e.message; }
        process.stdout.write(JSON.stringify({ code, grewKiB: process.resourceUsage().maxRSS - before }));`;
      const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', cwd: __dirname });
      assert.equal(r.status, 0, r.stderr);
      const { code, grewKiB } = JSON.parse(r.stdout) as { code: string; grewKiB: number };
      assert.match(code, /^ERR_THREADKV_VALUE_TOO_LARGE .*at least 400000000 bytes/);
      assert.ok(grewKiB < 100 * 1024, `peak RSS grew by ${grewKiB} KiB`);
    });
  });

  describe('number arrays', () => {
    it('keep every double exactly, -0 and NaN included, at every length around the block threshold', () => {
      const s = open();
      for (let n = 0; n < 80; n++) {
        const a = Array.from({ length: n }, (_, i) => [-0, NaN, Infinity, i, -i / 3, 2 ** 53 + i][i % 6]!);
        s.set('k', a);
        const got = s.get('k') as number[];
        assert.ok(Array.isArray(got));
        assert.equal(got.length, n);
        for (let i = 0; i < n; i++) assert.ok(Object.is(got[i], a[i]), `n ${n} i ${i}`);
      }
    });

    it('holes, undefined, named properties and non-numbers among numbers are kept', () => {
      const s = open();
      const holey = Array.from({ length: 50 }, (_, i) => i);
      delete holey[20];
      const named = Object.assign(Array.from({ length: 50 }, (_, i) => i), { tag: 'x' });
      const mixed = [...Array.from({ length: 40 }, (_, i) => i), 'forty'];
      const undef = [...Array.from({ length: 40 }, (_, i) => i), undefined];
      for (const a of [holey, named, mixed, undef]) {
        s.set('k', a);
        assert.ok(isDeepStrictEqual(s.get('k'), a));
        assert.ok(isDeepStrictEqual(s.get('k'), structuredClone(a)));
      }
    });
  });
});
