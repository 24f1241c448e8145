/**
 * GC tuning of the serving process (http/gc-tuning.ts): V8 stops pretenuring allocation sites. A child process
 * keeps every object from one allocation site alive, which makes V8 decide to tenure that site, and prints V8's
 * pretenuring decisions (--trace-pretenuring-statistics); after tuneGarbageCollection() there are none.
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

describe('GC tuning', () => {
  it('V8 tenures a site whose objects all survive, unless the process was tuned', async () => {
    const [untuned, tuned] = await Promise.all([tenureDecisions(false), tenureDecisions(true)]);
    assert.ok(untuned > 0, 'the workload makes an untuned V8 pretenure');
    assert.equal(tuned, 0);
  });
});
