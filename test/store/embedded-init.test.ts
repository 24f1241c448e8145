/**
 * A fresh data directory is created (initdb) by a worker of its own, so that the serving worker does not keep
 * initdb's WebAssembly memory for the life of the server. Measured in a child process, whose RSS is its own:
 * created by the serving worker, the first start held about 680 MB; now about 270 MB, as a restart does.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const EMBEDDED = new URL('../../src/store/embedded.ts', import.meta.url).href;

// CommonJS eval with dynamic imports: tsx's loader refuses --input-type.
const CHILD = `(async () => {
  const { default: pg } = await import('pg');
  const { startEmbeddedDatabase } = await import(${JSON.stringify(EMBEDDED)});
  const dataDir = process.argv[1];
  const db = await startEmbeddedDatabase(dataDir);
  const rssMb = Math.round(process.memoryUsage().rss / 1048576);
  const client = new pg.Client({ host: db.host, port: db.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  await client.query('create table if not exists marks (n int)');
  await client.query('insert into marks values (1)');
  const { rows } = await client.query('select count(*)::int as n from marks');
  await client.end();
  await db.stop();
  console.log(JSON.stringify({ rssMb, marks: rows[0].n }));
})();
`;

async function startOnce(dataDir: string): Promise<{ rssMb: number; marks: number }> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', CHILD, dataDir], { env: { PATH: process.env.PATH, MALLOC_MMAP_THRESHOLD_: '131072' }, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
}

describe('the embedded database on a fresh data directory', () => {
  it('creates it, serves from it without initdb\'s memory, and finds it again on the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-init-'));
    try {
      const first = await startOnce(dataDir);
      assert.ok(existsSync(join(dataDir, 'pglite', 'PG_VERSION')), 'the data directory was initialized');
      assert.equal(first.marks, 1);
      assert.ok(first.rssMb < 450, `the first start holds ${first.rssMb} MB after initdb (about 680 when the serving worker ran initdb)`);
      const second = await startOnce(dataDir);
      assert.equal(second.marks, 2, 'the second start serves the same data');
      assert.ok(second.rssMb < 450, `a restart holds ${second.rssMb} MB`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
