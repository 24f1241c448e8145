/**
 * bulkInsert sends a batch as one JSON parameter: every column type round-trips (text, timestamptz, bool,
 * int4, numeric beyond int8, jsonb, nulls), and a lone surrogate (text cut inside an emoji) is written as
 * U+FFFD instead of failing the whole batch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { bulkInsert } from '../../src/store/bulk-insert.ts';

const SCHEMA = `t_bulk_${process.pid}`;
let handle: DatabaseHandle;
before(async () => {
  handle = await openDatabase({ url: process.env.TEST_DATABASE_URL ?? 'memory://', dataDir: '/tmp', schema: process.env.TEST_DATABASE_URL ? SCHEMA : undefined });
  await handle.migrate();
  await sql`create table bulk_probe (t text, at timestamptz, b bool, n int4, big numeric(38,0), meta jsonb)`.execute(handle.db);
});
after(async () => {
  if (process.env.TEST_DATABASE_URL) await handle.db.schema.dropSchema(SCHEMA).cascade().execute();
  await handle?.close();
});

const insert = bulkInsert('bulk_probe', [
  ['t', 'text'],
  ['at', 'timestamptz'],
  ['b', 'bool'],
  ['n', 'int4'],
  ['big', 'numeric'],
  ['meta', 'jsonb'],
]);

describe('bulkInsert', () => {
  it('round-trips every column type and nulls, in row order', async () => {
    const at = new Date('2026-11-24T07:00:00.123Z');
    const big = (2n ** 100n).toString();
    await insert(handle.db, [
      ['quote " backslash \\ comma , brace {} 日本', at, true, -7, big, JSON.stringify({ request_id: 'r1', n: [1, 2] })],
      [null, null, null, null, null, null],
    ]);
    const { rows } = await sql<{ t: string | null; at: Date | null; b: boolean | null; n: number | null; big: string | null; meta: unknown }>`
      select t, at, b, n, big::text as big, meta from bulk_probe order by t nulls last`.execute(handle.db);
    assert.equal(rows.length, 2);
    assert.equal(rows[0].t, 'quote " backslash \\ comma , brace {} 日本');
    assert.equal(new Date(rows[0].at!).toISOString(), at.toISOString());
    assert.equal(rows[0].b, true);
    assert.equal(rows[0].n, -7);
    assert.equal(rows[0].big, big);
    assert.deepEqual(rows[0].meta, { request_id: 'r1', n: [1, 2] });
    assert.deepEqual(rows[1], { t: null, at: null, b: null, n: null, big: null, meta: null });
  });

  it('writes a lone surrogate as U+FFFD instead of failing the batch', async () => {
    const cut = '😀😀'.slice(0, 3); // ends inside the second emoji
    await insert(handle.db, [[cut, null, false, 1, '0', null], ['\udc00 alone', null, false, 2, '0', null], ['text \\ud83d escaped', null, false, 3, '0', null]]);
    const { rows } = await sql<{ t: string }>`select t from bulk_probe where n > 0 order by n`.execute(handle.db);
    assert.deepEqual(rows.map((r) => r.t), ['😀\ufffd', '\ufffd alone', 'text \\ud83d escaped']);
  });

  it('rejects a row whose length does not match the columns, before writing anything', async () => {
    await assert.rejects(insert(handle.db, [['a', null, true, 1, '0', null], ['short']]), /a row of 1 values for 6 columns/);
    const { rows } = await sql<{ c: number }>`select count(*)::int as c from bulk_probe where t = 'a'`.execute(handle.db);
    assert.equal(rows[0].c, 0);
  });
});
