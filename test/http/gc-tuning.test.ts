/**
 * GC tuning of the serving process (http/gc-tuning.ts), each measured in a child process with and without
 * tuneGarbageCollection():
 * - V8 stops pretenuring allocation sites. The child keeps every object from one allocation site alive, which
 *   makes V8 decide to tenure that site, and prints V8's pretenuring decisions (--trace-pretenuring-statistics);
 *   after tuning there are none.
 * - The old generation grows by half between full collections, not by a multiple. The child churns objects that live
 *   long enough to be promoted and then die, as a gateway's request and stream objects do, and reports the
 *   largest old space it saw.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';

const MODULE = pathToFileURL(resolve('src/http/gc-tuning.ts')).href;

async function tenureDecisions(tuned: boolean): Promise<number> {
  const script = `${tuned ? `import { tuneGarbageCollection } from ${JSON.stringify(MODULE)}; tuneGarbageCollection();` : ''}
    const keep = [];
    const row = (i) => ({ i, tag: 'row' });
    for (let i = 0; i < 3_000_000; i++) keep.push(row(i));
    console.log('kept', keep.length);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--trace-pretenuring-statistics', '--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, NODE_OPTIONS: '' },
    maxBuffer: 64 * 1024 * 1024,
  });
  assert.match(stdout, /kept 3000000/);
  return stdout.split('\n').filter((line) => line.includes('=> tenure')).length;
}

async function peakOldSpaceMb(tuned: boolean): Promise<number> {
  const script = `${tuned ? `import { tuneGarbageCollection } from ${JSON.stringify(MODULE)}; tuneGarbageCollection();` : ''}
    import { getHeapSpaceStatistics } from 'node:v8';
    const ring = new Array(500_000);
    let peak = 0;
    for (let i = 0; i < 6_000_000; i++) {
      ring[i % ring.length] = { i, at: 'slot' };
      if (i % 10_000 === 0) peak = Math.max(peak, getHeapSpaceStatistics().find((s) => s.space_name === 'old_space').space_size);
    }
    console.log('peak', peak / 1048576, ring.length);`;
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { env: { ...process.env, NODE_OPTIONS: '' } });
  const m = /peak ([\d.]+) 500000/.exec(stdout);
  assert.ok(m, stdout);
  return Number(m[1]);
}

describe('GC tuning', () => {
  it('V8 tenures a site whose objects all survive, unless the process was tuned', async () => {
    const [first, tuned] = await Promise.all([tenureDecisions(false), tenureDecisions(true)]);
    assert.equal(tuned, 0);
    // The control: untuned, V8 decides to tenure this site in nearly every run, but once in CI (on a slow,
    // busy host) it did not. Up to two more runs, so a rare miss of the control does not fail the test.
    let untuned = first;
    for (let run = 2; untuned === 0 && run <= 3; run++) untuned = await tenureDecisions(false);
    assert.ok(untuned > 0, 'the workload makes an untuned V8 pretenure');
  });

  it('full collections come when the old generation has grown by half, not by a multiple', async () => {
    const untuned = await peakOldSpaceMb(false);
    const tuned = await peakOldSpaceMb(true);
    // About 25 MB of the ring is alive at any moment; untuned, promoted garbage piles up to several times that.
    assert.ok(tuned < untuned * 0.7, `old space peaked at ${tuned.toFixed(1)} MB tuned, ${untuned.toFixed(1)} MB untuned`);
  });
});
