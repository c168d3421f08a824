import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as v8 from 'node:v8';
import type { CodecName } from 'threadkv';
import { samples, tempDirs } from '../support/snapshot';
import { fixture } from '../support/workers';

// A warm restart: one process saves, it exits, a new process restores.

function child(mode: string, dir: string): void {
  const r = spawnSync(process.execPath, ['-r', 'tsx/cjs', fixture('snapshot-child.ts'), mode, dir], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, `${mode}: status ${r.status} signal ${r.signal}\n${r.stdout}\n${r.stderr}`);
}

describe('snapshot across a restart', () => {
  const tmp = tempDirs();

  it('restores every codec and value kind, with time to live, in a new process', async () => {
    const dir = tmp();
    child('save', dir);
    await new Promise((r) => setTimeout(r, 300)); // 'ttl-brief' (150 ms) runs out meanwhile
    child('load', dir);
    const loaded = v8.deserialize(fs.readFileSync(path.join(dir, 'loaded.v8'))) as Record<
      string,
      { info: { entries: number; skippedExpired: number; skippedCorrupt: number }; entries: [string, unknown][]; ttlHour: number }
    >;
    for (const codec of ['v8', 'json', 'string', 'buffer'] as CodecName[]) {
      const got = loaded[codec]!;
      const want = Object.entries(samples(codec));
      const live = codec === 'buffer' ? Buffer.from('live') : 'live';
      want.push(['ttl-hour', live]);
      assert.equal(got.info.entries, want.length, codec);
      assert.equal(got.info.skippedExpired, 1, `${codec}: the 150 ms entry had expired`);
      assert.equal(got.info.skippedCorrupt, 0);
      const sorted = want.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      assert.deepEqual(got.entries, sorted, codec);
      assert.ok(got.ttlHour > 3_600_000 - 60_000 && got.ttlHour <= 3_600_000, `${codec}: ttl ${got.ttlHour}`);
    }
  });
});
