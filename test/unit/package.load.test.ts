import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';

// The package as users load it: by name, through package.json "exports",
// from CommonJS and from ESM, in the main thread and in a worker.
const root = path.join(__dirname, '..', '..');

function node(args: string[]): string {
  const r = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', env: process.env });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe('package: loading', () => {
  it('require("threadkv") works and shares stores with import', () => {
    const out = node([
      '--input-type=module',
      '-e',
      `import { Store } from 'threadkv';
       import { createRequire } from 'node:module';
       const cjs = createRequire(import.meta.url)('threadkv');
       if (cjs.Store !== Store) throw new Error('ESM and CJS loaded two copies');
       Store.open('esm').set('k', 'from esm');
       console.log(cjs.Store.open('esm').get('k'));`,
    ]);
    assert.equal(out, 'from esm');
  });

  it('default export and named exports from ESM', () => {
    const out = node(['--input-type=module', '-e', `import tkv, { Store, ErrorCode } from 'threadkv'; console.log(typeof tkv.Store, typeof Store, ErrorCode.KEY_TYPE);`]);
    assert.equal(out, 'function function ERR_THREADKV_KEY_TYPE');
  });

  it('an ESM worker and a CJS main thread see the same store', () => {
    const out = node([
      '-e',
      `const { Store } = require('threadkv'); const { Worker } = require('node:worker_threads');
       Store.open('mixed').set('k', 41);
       const w = new Worker("import { Store } from 'threadkv'; const s = Store.open('mixed'); s.set('k', s.get('k') + 1);", { eval: true, type: 'module' });
       w.on('exit', () => console.log(Store.open('mixed').get('k')));`,
    ]);
    assert.equal(out, '42');
  });
});
