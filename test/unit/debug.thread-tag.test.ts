// NODE_DEBUG=threadkv lines say which thread wrote them (threadId: 0 is the
// main thread, workers count from 1).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';

describe('debug log', () => {
  it('tags every line with the thread id', function () {
    this.timeout(60_000);
    const program = `
      const { Worker } = require('node:worker_threads');
      const { Store } = require('threadkv');
      Store.open('debug-tag');
      const w = new Worker("require('threadkv').Store.open('debug-tag'); require('threadkv').Store.destroy('debug-tag');", { eval: true });
      w.on('exit', (code) => process.exit(code));
    `;
    const r = spawnSync(process.execPath, ['-e', program], { encoding: 'utf8', env: { ...process.env, NODE_DEBUG: 'threadkv' }, cwd: `${__dirname}/../..` });
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('THREADKV'));
    assert.ok(lines.length >= 3, r.stderr);
    for (const line of lines) assert.match(line, /^THREADKV \d+: \[thread \d+\] /);
    assert.ok(lines.some((l) => l.includes('[thread 0] created store "debug-tag"')), r.stderr);
    assert.ok(lines.some((l) => l.includes('[thread 1] attached to store "debug-tag"')), r.stderr);
    assert.ok(lines.some((l) => l.includes('[thread 1] destroy store "debug-tag"')), r.stderr);
  });
});
