// getOrSet stores what its factory returns, synchronously: a factory that
// returns a Promise (or any thenable) is refused with a coded TypeError that
// points to getOrCompute, and nothing is stored (it used to fail with
// "#<Promise> could not be cloned"). TypeScript refuses it too (test/types).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ErrorCode } from 'threadkv';
import { storeFactory, throwsUnchanged } from '../support/store';

describe('getOrSet: an async factory', () => {
  const open = storeFactory('get-or-set-async');

  for (const codec of ['v8', 'json'] as const) {
    it(`a factory returning a Promise is a TypeError naming getOrCompute; nothing is stored (${codec})`, () => {
      const s = open({ codec });
      s.set('other', 1);
      throwsUnchanged(s, () => s.getOrSet('k', (async () => 1) as unknown as () => number), TypeError, ErrorCode.INVALID_ARGUMENT, 'getOrCompute', 'Promise');
      assert.equal(s.has('k'), false);
    });
  }

  it('any thenable counts; a present key never calls the factory', () => {
    const s = open();
    const thenable = { then: (): void => undefined };
    throwsUnchanged(s, () => s.getOrSet('k', () => thenable), TypeError, ErrorCode.INVALID_ARGUMENT, 'thenable');
    s.set('k', 'present');
    assert.equal(s.getOrSet('k', (async () => 'never') as unknown as () => string), 'present');
  });

  it('TypeScript reports an async factory with a message that points to getOrCompute', function () {
    this.timeout(60_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-types-'));
    try {
      fs.writeFileSync(
        path.join(dir, 'async-factory.ts'),
        "import { Store } from 'threadkv';\nconst s = Store.open<number>('x');\ns.getOrSet('k', async () => 1);\n",
      );
      fs.writeFileSync(
        path.join(dir, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { strict: true, noEmit: true, module: 'nodenext', moduleResolution: 'nodenext', skipLibCheck: true, types: [], paths: { threadkv: [path.join(__dirname, '..', '..', 'dist', 'index.d.ts')] } },
          files: ['async-factory.ts'],
        }),
      );
      const tsc = path.join(__dirname, '..', '..', 'node_modules', '.bin', 'tsc');
      const r = spawnSync(tsc, ['-p', path.join(dir, 'tsconfig.json')], { encoding: 'utf8' });
      assert.notEqual(r.status, 0, 'tsc accepted an async factory');
      assert.match(r.stdout, /getOrSet needs a synchronous factory, and this one returns a Promise: use getOrCompute/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
