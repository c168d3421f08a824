// User code that runs inside a native call (an element getter, a Proxy trap,
// a getter or setter the error path could reach) must never find the call
// using a store it freed. Each hostile scenario runs in a child process
// (test/fixtures/hostile-child.js), since a use-after-free would crash it:
// before the fix, getMany / deleteMany / setMany exited with a segfault
// (139) here. Under `npm run test:asan` the children load the
// AddressSanitizer build, which reports any read of freed memory even when
// it happens not to crash.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ErrorCode, Store } from 'threadkv';
import { fixture } from '../support/workers';
import { storeFactory, throwsWith } from '../support/store';

interface Outcome {
  ok: boolean;
  ran: number;
  code?: string | null;
  type?: string;
  message?: string;
  value?: unknown;
}

function hostile(scenario: string): Outcome {
  const r = spawnSync(process.execPath, [fixture('hostile-child.js'), scenario], { encoding: 'utf8', timeout: 60_000 });
  const output = `${r.stdout}${r.stderr}`;
  assert.equal(r.status, 0, `scenario ${scenario} exited with ${r.status} (signal ${r.signal}):\n${output.slice(0, 4000)}`);
  assert.doesNotMatch(output, /AddressSanitizer/, output.slice(0, 4000));
  const line = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(line) as Outcome;
}

describe('safety: user code inside native calls', function () {
  this.timeout(120_000);

  describe('an element getter that destroys the store and closes the handle', () => {
    for (const [scenario, code] of [
      ['getMany-getter', ErrorCode.CLOSED],
      ['deleteMany-getter', ErrorCode.CLOSED],
      ['deleteMany-getter-atomic', ErrorCode.CLOSED],
      ['getMany-getter-destroy-only', ErrorCode.DESTROYED],
    ] as const) {
      it(`${scenario}: the getter runs before the call resolves the store, which then reports ${code}`, () => {
        const o = hostile(scenario);
        assert.equal(o.ran, 1, 'the getter ran once');
        assert.equal(o.ok, false);
        assert.equal(o.code, code, o.message);
      });
    }

    for (const scenario of ['setMany-prototype-getter', 'setMany-prototype-getter-atomic']) {
      it(`${scenario}: a getter on Array.prototype[1] (a hole in setMany's arrays) runs before the store is resolved`, () => {
        const o = hostile(scenario);
        assert.ok(o.ran >= 1, 'the getter ran');
        assert.equal(o.code, ErrorCode.CLOSED, o.message);
      });
    }
  });

  it('the raw binding refuses a Proxy for an array argument with a coded TypeError, without running a trap', () => {
    const o = hostile('raw-getMany-proxy');
    assert.equal(o.ran, 0, 'no trap ran');
    assert.equal(o.code, ErrorCode.INVALID_ARGUMENT);
    assert.equal(o.type, 'TypeError');
    assert.match(o.message!, /keys must be an array \(not a Proxy\), got a Proxy/);
  });

  it('a bad key\'s error reads no getter of the key (constructor), on the hot path and off it', () => {
    const o = hostile('key-constructor-getter');
    assert.equal(o.ran, 0, 'the constructor getter did not run');
    assert.deepEqual(o.value, Array(7).fill(ErrorCode.KEY_TYPE));
  });

  it('a Proxy key is described as "a Proxy", with no trap run', () => {
    const o = hostile('key-proxy');
    assert.equal(o.ran, 0);
    assert.deepEqual(o.value, [ErrorCode.KEY_TYPE, `threadkv: key must be a string, got a Proxy (store "${(o.value as string[])[1]!.match(/store "([^"]+)"/)![1]}")`]);
  });

  it('errors define their code: a setter on Error.prototype.code does not run', () => {
    const o = hostile('error-prototype-setter');
    assert.equal(o.ran, 0);
    assert.equal(o.value, ErrorCode.KEY_TYPE);
  });
});

describe('safety: iterables and Proxies through the public API', () => {
  const open = storeFactory('safety-iterables');

  it('getMany and deleteMany take a Proxy of an array like any iterable (its traps run before the native call)', () => {
    const s = open();
    s.set('a', 1).set('b', 2);
    let traps = 0;
    const keys = new Proxy(['a', 'b', 'c'], {
      get(target, p, receiver) {
        traps++;
        return Reflect.get(target, p, receiver);
      },
    });
    assert.deepEqual(s.getMany(keys), [1, 2, undefined]);
    assert.ok(traps > 0);
    assert.equal(s.deleteMany(keys), 2);
    assert.equal(s.size, 0);
  });

  it('a holey key array reads its holes as undefined: a coded TypeError', () => {
    const s = open();
    // eslint-disable-next-line no-sparse-arrays
    throwsWith(() => s.getMany(['a', , 'b'] as string[]), TypeError, ErrorCode.KEY_TYPE, 'got undefined');
  });

  it('a key getter that closes the handle mid-call ends in ERR_THREADKV_CLOSED, and the store is intact for other handles', () => {
    const s = open();
    s.set('a', 1);
    const other = Store.open(s.name);
    const keys = ['a', 'b'];
    Object.defineProperty(keys, 1, {
      get() {
        s.close();
        return 'b';
      },
    });
    throwsWith(() => s.getMany(keys), Error, ErrorCode.CLOSED);
    assert.equal(other.get('a'), 1);
  });
});
