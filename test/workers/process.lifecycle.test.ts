import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fixture } from '../support/workers';

// Each scenario runs in a child process (plain node, no tsx): a crash there
// (abort, segfault) shows up as a signal or exit code, not as a dead mocha.
function child(...args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [fixture('lifecycle-child.js'), ...args], {
    encoding: 'utf8',
    timeout: 120_000,
    env: process.env,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
}

function assertClean(r: ReturnType<typeof child>, status: number): void {
  const info = `status ${r.status} signal ${r.signal}\n${r.stdout}\n${r.stderr}`;
  assert.equal(r.signal, null, info);
  assert.equal(r.status, status, info);
  assert.doesNotMatch(r.stderr, /terminate called|FATAL ERROR|Aborted|Segmentation/, info);
}

describe('workers: lifecycle', () => {
  it('worker.terminate() of workers in a hot loop never crashes (200 worker lifetimes)', () => {
    const r = child('terminate', '50', '4');
    assertClean(r, 0);
    assert.match(r.stdout, /ok 200 lifetimes/);
  });

  for (const how of ['exit', 'unref', 'throw'] as const) {
    it(`process ${how} while 4 workers are mid-operation never crashes`, () => {
      for (const delay of [1, 7, 23]) assertClean(child('exit', String(delay), how), how === 'throw' ? 1 : 0);
    });
  }

  it('the store survives when the only thread that loaded the addon exits', () => {
    const r = child('worker-only');
    assertClean(r, 0);
    assert.match(r.stdout, /B read set-by-A/);
  });
});
