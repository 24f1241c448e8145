/**
 * What `npm start`'s MALLOC_MMAP_THRESHOLD_ (scripts/start-env.ts) does for a node process on glibc. A child
 * frees one 16 MiB block, which raises an unpinned threshold to 16 MiB; it then allocates 64 blocks of 1 MiB,
 * keeps the last and frees the rest. Unpinned, those blocks come from the heap arena and stay resident below the
 * one still in use; pinned, each was its own mapping and went back to the system when freed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startMmapThreshold } from '../../scripts/start-env.ts';

const CHILD = `
  const tick = () => new Promise((r) => setTimeout(r, 20));
  const settle = async () => { for (let i = 0; i < 3; i++) { gc(); await tick(); } };
  const rssMb = () => process.memoryUsage().rss / 1048576;
  let big = Buffer.allocUnsafeSlow(16 << 20).fill(1);
  big = null;
  await settle();
  const before = rssMb();
  let blocks = Array.from({ length: 64 }, () => Buffer.allocUnsafeSlow(1 << 20).fill(1));
  const kept = blocks.pop();
  blocks = null;
  await settle();
  console.log('retained', (rssMb() - before).toFixed(1), kept.length);
`;

async function retainedMb(env: NodeJS.ProcessEnv): Promise<number> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD], { env: { PATH: process.env.PATH, ...env } });
  const m = /retained (-?[\d.]+) 1048576/.exec(stdout);
  assert.ok(m, stdout);
  return Number(m[1]);
}

const glibc = Boolean((process.report?.getReport() as { header?: { glibcVersionRuntime?: string } } | undefined)?.header?.glibcVersionRuntime);

describe('the start script pins glibc\'s mmap threshold', { skip: glibc ? false : 'not glibc' }, () => {
  it('sets it to glibc\'s default of 128 KiB', () => {
    assert.equal(startMmapThreshold(), '131072');
  });

  it('hands freed blocks back to the system, which an unpinned threshold does not', async () => {
    const unpinned = await retainedMb({});
    const pinned = await retainedMb({ MALLOC_MMAP_THRESHOLD_: startMmapThreshold() });
    assert.ok(unpinned > 40, `unpinned, freeing 63 MiB left ${unpinned} MB resident`);
    assert.ok(pinned < 10, `pinned, freeing 63 MiB left ${pinned} MB resident`);
  });
});
