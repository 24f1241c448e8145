/**
 * The embedded database has no autovacuum (single-user PostgreSQL): EmbeddedMaintenance analyzes tables that
 * changed and vacuums tables full of dead rows, with autovacuum's thresholds.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { EmbeddedMaintenance } from '../../src/store/maintenance.ts';

const SCHEMA = `t_maint_${process.pid}`;
let handle: DatabaseHandle;
before(async () => {
  handle = await openDatabase({ url: process.env.TEST_DATABASE_URL ?? 'memory://', dataDir: '/tmp', schema: process.env.TEST_DATABASE_URL ? SCHEMA : undefined });
  await handle.migrate();
  await sql`create table maint_probe (id int primary key, v text)`.execute(handle.db);
});
after(async () => {
  if (process.env.TEST_DATABASE_URL) await handle.db.schema.dropSchema(SCHEMA).cascade().execute();
  await handle?.close();
});

const stats = async () =>
  (
    await sql<{ reltuples: number; n_mod_since_analyze: string; n_dead_tup: string }>`
      select c.reltuples, s.n_mod_since_analyze, s.n_dead_tup from pg_stat_user_tables s join pg_class c on c.oid = s.relid
      where s.relname = 'maint_probe' and s.schemaname = current_schema()`.execute(handle.db)
  ).rows[0];

/** Table statistics reach pg_stat_* at most a second after the transaction. */
async function until(check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    assert.ok(Date.now() < deadline, 'statistics did not arrive in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

// PostgreSQL's own autovacuum could act between a change and the pass, so this runs on the embedded database.
describe('embedded database maintenance', { skip: process.env.TEST_DATABASE_URL ? 'PostgreSQL runs its own autovacuum' : false }, () => {
  const maintenance = () => new EmbeddedMaintenance(handle.db, pino({ level: 'silent' }));

  it('analyzes a table that changed, so the planner knows its size', async () => {
    await sql`insert into maint_probe select i, 'row ' || i from generate_series(1, 5000) i`.execute(handle.db);
    await until(async () => Number((await stats()).n_mod_since_analyze) >= 5000);
    const pass = await maintenance().run();
    assert.ok(pass.analyzed.includes('maint_probe'), JSON.stringify(pass));
    assert.equal((await stats()).reltuples, 5000);
    // Nothing changed since: the next pass leaves the table alone.
    assert.ok(!(await maintenance().run()).analyzed.includes('maint_probe'));
  });

  it('vacuums a table whose dead rows pass the threshold', async () => {
    await sql`delete from maint_probe where id <= 3000`.execute(handle.db);
    await until(async () => Number((await stats()).n_dead_tup) >= 3000);
    const pass = await maintenance().run();
    assert.ok(pass.vacuumed.includes('maint_probe'), JSON.stringify(pass));
    await until(async () => Number((await stats()).n_dead_tup) === 0);
    assert.equal((await stats()).reltuples, 2000);
  });
});
