/**
 * How the embedded database comes to be, each start in a child process of its own (its RSS is its own, and its
 * temporary directory can be chosen).
 * - A fresh data directory is created (initdb) by a worker of its own, so that the serving worker does not keep
 *   initdb's WebAssembly memory for the life of the server: created by the serving worker, the first start held
 *   about 680 MB; now about 270 MB, as a restart does.
 * - An in-memory database loads the template a first one saved, instead of running initdb (5 s -> 1.2 s here).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { templatePath } from '../../src/store/embedded.ts';

const EMBEDDED = new URL('../../src/store/embedded.ts', import.meta.url).href;

// CommonJS eval with dynamic imports: tsx's loader refuses --input-type.
const CHILD = `(async () => {
  const { default: pg } = await import('pg');
  const { startEmbeddedDatabase } = await import(${JSON.stringify(EMBEDDED)});
  const dataDir = process.argv[1] || undefined;
  const db = await startEmbeddedDatabase(dataDir);
  const rssMb = Math.round(process.memoryUsage().rss / 1048576);
  const client = new pg.Client({ host: db.host, port: db.port, user: 'postgres', database: 'postgres' });
  await client.connect();
  await client.query('create table if not exists marks (n int)');
  await client.query('insert into marks values (1)');
  const { rows } = await client.query('select count(*)::int as n from marks');
  await client.end();
  await db.stop();
  console.log(JSON.stringify({ rssMb, marks: rows[0].n, source: db.source }));
})();
`;

interface Start {
  rssMb: number;
  marks: number;
  source: string;
}

async function startOnce(dataDir: string, tmp = tmpdir()): Promise<Start> {
  const env = { PATH: process.env.PATH, MALLOC_MMAP_THRESHOLD_: '131072', TMPDIR: tmp };
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', '-e', CHILD, dataDir], { env, timeout: 60_000 });
  return JSON.parse(stdout.trim().split('\n').at(-1) ?? '');
}

describe('the embedded database on a fresh data directory', () => {
  it('creates it, serves from it without initdb\'s memory, and finds it again on the next start', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'switchyard-init-'));
    try {
      const first = await startOnce(dataDir);
      assert.ok(existsSync(join(dataDir, 'pglite', 'PG_VERSION')), 'the data directory was initialized');
      assert.equal(first.marks, 1);
      assert.equal(first.source, 'initdb');
      assert.ok(first.rssMb < 450, `the first start holds ${first.rssMb} MB after initdb (about 680 when the serving worker ran initdb)`);
      const second = await startOnce(dataDir);
      assert.equal(second.marks, 2, 'the second start serves the same data');
      assert.equal(second.source, 'existing');
      assert.ok(second.rssMb < 450, `a restart holds ${second.rssMb} MB`);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('in-memory databases', () => {
  it('the first saves a template of a fresh data directory; the next load it and start empty', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'switchyard-tmp-'));
    try {
      const first = await startOnce('', tmp);
      assert.equal(first.source, 'initdb');
      const dir = join(tmp, `switchyard-${process.getuid!()}`);
      const [template] = readdirSync(dir).filter((f) => f.endsWith('.tar'));
      assert.ok(template, 'a template was saved');
      assert.equal(statSync(dir).mode & 0o777, 0o700);
      assert.equal(statSync(join(dir, template)).mode & 0o777, 0o600);
      const second = await startOnce('', tmp);
      assert.equal(second.source, 'template');
      assert.equal(second.marks, 1, 'a database from the template holds nothing of the one before');
      // A template that cannot be loaded: initdb again, and a good template replaces it.
      writeFileSync(join(dir, template), 'not a data directory');
      const third = await startOnce('', tmp);
      assert.equal(third.source, 'initdb');
      assert.equal(third.marks, 1);
      assert.ok(statSync(join(dir, template)).size > 1_000_000, 'the template was saved again');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('use no template from a directory that others can write to, or that is not a directory', { skip: process.getuid ? false : 'no user ids here' }, () => {
    const tmp = mkdtempSync(join(tmpdir(), 'switchyard-tmp-'));
    const saved = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const dir = join(tmp, `switchyard-${process.getuid!()}`);
      const path = templatePath();
      assert.ok(path?.startsWith(dir + '/'), `the template lives in ${dir}: ${path}`);
      chmodSync(dir, 0o777);
      assert.equal(templatePath(), undefined, 'open to others');
      rmSync(dir, { recursive: true });
      const elsewhere = mkdtempSync(join(tmp, 'elsewhere-'));
      symlinkSync(elsewhere, dir);
      assert.equal(templatePath(), undefined, 'a symbolic link');
    } finally {
      process.env.TMPDIR = saved;
      if (saved === undefined) delete process.env.TMPDIR;
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
