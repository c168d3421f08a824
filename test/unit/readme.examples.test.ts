// Every ```js block of README.md runs exactly as written. A block whose
// first line is a comment naming a file (`// task.js: ...`) is written under
// that name; the others get a name of their own (.mjs when they use
// `import`). All are written into one folder where `threadkv`, `piscina`
// and `keyv` resolve, and every block that no other block loads is run:
// it must exit 0.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const root = path.join(__dirname, '..', '..');

interface Block {
  file: string;
  code: string;
}

function readmeBlocks(): Block[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const blocks: Block[] = [];
  for (const [, code] of readme.matchAll(/^```js\n([\s\S]*?)^```$/gm)) {
    const named = /^\/\/ ([\w.-]+\.(?:c|m)?js)\b/.exec(code!);
    const esm = /^import /m.test(code!);
    blocks.push({ file: named ? named[1]! : `block-${blocks.length + 1}.${esm ? 'mjs' : 'js'}`, code: code! });
  }
  return blocks;
}

describe('README examples', function () {
  this.timeout(120_000);
  const blocks = readmeBlocks();
  let dir = '';

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threadkv-readme-'));
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'threadkv'), 'dir');
    for (const dep of ['piscina', 'keyv']) fs.symlinkSync(path.join(root, 'node_modules', dep), path.join(dir, 'node_modules', dep), 'dir');
    for (const b of blocks) fs.writeFileSync(path.join(dir, b.file), b.code);
  });
  after(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('has the examples this test expects (the quick start, the worker pool, Keyv)', () => {
    assert.ok(blocks.length >= 4, `found ${blocks.length} js blocks`);
    assert.ok(blocks.some((b) => b.file === 'task.js') && blocks.some((b) => b.file === 'main.js'));
    assert.equal(new Set(blocks.map((b) => b.file)).size, blocks.length, 'two blocks claim the same file name');
  });

  for (const block of blocks) {
    const loaded = blocks.some((other) => other !== block && other.code.includes(`'./${block.file}'`));
    if (loaded) continue;
    it(`${block.file} runs as written`, () => {
      const r = spawnSync(process.execPath, [block.file], { cwd: dir, encoding: 'utf8', timeout: 100_000 });
      assert.equal(r.status, 0, `${block.file} exited with ${r.status} (signal ${r.signal}):\n${r.stdout}${r.stderr}\n--- the block:\n${block.code}`);
    });
  }
});
