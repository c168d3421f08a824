import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fixture } from '../support/workers';

// Each scenario runs in a child process (plain node, no tsx): a crash there
// (abort, segfault) shows up as a signal or exit code, not as a dead mocha.
function child(...args: string[]): { status: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [fixture('lifecycle-child.js'), ...args], {
    encoding: 'utf8',
    // Generous: on a loaded 2-core machine, and under TSAN, 200 worker
    // lifetimes took over 120 s (the spawn timeout then killed a healthy run).
    timeout: 280_000,
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
  // Under TSAN (5-10x slower) fewer rounds, as the other worker tests scale down.
  const rounds = process.env.THREADKV_TSAN === '1' ? 20 : 50;
  it(`worker.terminate() of workers in a hot loop never crashes (${rounds * 4} worker lifetimes)`, function () {
    this.timeout(300_000);
    const r = child('terminate', String(rounds), '4');
    assertClean(r, 0);
    assert.match(r.stdout, new RegExp(`ok ${rounds * 4} lifetimes`));
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
