/**
 * Migration 006: request_logs (org_id, created_at) serves an org's usage, and cost_pico is numeric(38,0) in
 * the request log and the rollups, so a cost beyond int8 (~$9.2M) is written exactly instead of failing the
 * whole batch.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { RequestLogWriter, type RequestLogRecord } from '../../src/telemetry/request-log.ts';
import { writeRollups, DAY_MS, floorTo } from '../../src/domain/analytics/rollups.ts';
import { summary } from '../../src/domain/analytics/queries.ts';

const SCHEMA = `t_rls_${process.pid}`;
let handle: DatabaseHandle;
before(async () => {
  handle = await openDatabase({ url: process.env.TEST_DATABASE_URL ?? 'memory://', dataDir: '/tmp', schema: process.env.TEST_DATABASE_URL ? SCHEMA : undefined });
  await handle.migrate();
});
after(async () => {
  if (process.env.TEST_DATABASE_URL) await handle.db.schema.dropSchema(SCHEMA).cascade().execute();
  await handle?.close();
});

const INT8_MAX = 2n ** 63n - 1n;

describe('request log at scale (migration 006)', () => {
  it('request_logs has an (org_id, created_at) index, used by an org usage query', async () => {
    const { rows } = await sql<{ indexdef: string }>`
      select indexdef from pg_indexes where schemaname = current_schema() and tablename = 'request_logs' and indexname = 'request_logs_org_created_idx'`.execute(handle.db);
    assert.equal(rows.length, 1, 'the index exists');
    assert.match(rows[0].indexdef, /\(org_id, created_at\)/);
    const plan = await handle.db.transaction().execute(async (trx) => {
      await sql`set local enable_seqscan = off`.execute(trx);
      const { rows: lines } = await sql<{ 'QUERY PLAN': string }>`
        explain select * from request_logs where org_id = 'org_x' and created_at >= now() - interval '30 days'
        order by created_at desc, id desc limit 51`.execute(trx);
      return lines.map((l) => l['QUERY PLAN']).join('\n');
    });
    assert.match(plan, /request_logs_org_created_idx/);
  });

  it('request_logs keeps only the indexes queries use (migration 007 dropped (model, created_at))', async () => {
    const { rows } = await sql<{ indexname: string }>`
      select indexname from pg_indexes where schemaname = current_schema() and tablename = 'request_logs' order by indexname`.execute(handle.db);
    assert.deepEqual(
      rows.map((r) => r.indexname),
      ['request_logs_created_at_idx', 'request_logs_org_created_idx', 'request_logs_pkey', 'request_logs_request_id_idx', 'request_logs_user_created_idx'],
    );
  });

  it('cost_pico is numeric(38,0) in the request log and every rollup table', async () => {
    const { rows } = await sql<{ table_name: string; data_type: string; numeric_precision: number; numeric_scale: number }>`
      select table_name, data_type, numeric_precision, numeric_scale from information_schema.columns
      where table_schema = current_schema() and column_name = 'cost_pico' order by table_name`.execute(handle.db);
    const byTable = new Map(rows.map((r) => [r.table_name, r]));
    for (const t of ['request_logs', 'request_rollups_hourly', 'request_rollups_daily', 'request_rollups_model_hourly', 'request_rollups_model_daily']) {
      const c = byTable.get(t);
      assert.ok(c, `${t}.cost_pico exists`);
      assert.equal(c.data_type, 'numeric', t);
      assert.equal(Number(c.numeric_precision), 38, t);
      assert.equal(Number(c.numeric_scale), 0, t);
    }
  });

  it('a cost beyond int8 is written exactly, with its rollups, instead of dropping the batch', async () => {
    const metrics = createMetrics();
    const w = new RequestLogWriter(handle.db, { batchSize: 100, flushIntervalMs: 60_000, maxQueue: 1000 }, metrics, pino({ level: 'silent' }));
    w.batchHook = writeRollups;
    // A fixed past day, so the rollup rows hold only these records.
    const at = new Date(Date.UTC(2020, 0, 2, 12));
    const huge = INT8_MAX + 1000n; // one request alone past int8
    const big = 6_000_000_000_000_000_000n; // two of these add up past int8 in the rollups
    const rec = (id: string, cost: bigint): RequestLogRecord => ({
      request_id: id, created_at: at, endpoint: 'chat', requested_model: 'mock/echo', model: 'mock/echo', provider: 'mock', stream: false,
      status: 200, latency_ms: 10, cost_pico: cost.toString(), api_key_id: 'key_big', user_id: 'user_big',
    });
    w.record(rec('big-cost-1', huge));
    w.record(rec('big-cost-2', big));
    w.record(rec('big-cost-3', big));
    await w.drain();
    assert.equal(w.dropped, 0, 'nothing dropped');
    assert.doesNotMatch(await metrics.registry.metrics(), /request_log_write_errors_total [1-9]/);

    const rows = await handle.db.selectFrom('request_logs').select(['request_id', 'cost_pico']).where('request_id', 'like', 'big-cost-%').orderBy('request_id').execute();
    assert.deepEqual(rows.map((r) => String(r.cost_pico)), [huge.toString(), big.toString(), big.toString()]);

    const total = huge + 2n * big;
    const day = await handle.db.selectFrom('request_rollups_model_daily').select('cost_pico').where('bucket', '=', new Date(floorTo(at.getTime(), DAY_MS))).where('model', '=', 'mock/echo').executeTakeFirstOrThrow();
    assert.equal(String(day.cost_pico), total.toString());
    const keyed = await handle.db.selectFrom('request_rollups_hourly').select('cost_pico').where('api_key_id', '=', 'key_big').executeTakeFirstOrThrow();
    assert.equal(String(keyed.cost_pico), total.toString());

    // The analytics reader sums them exactly too.
    const stats = await summary(handle.db, { from: new Date(Date.UTC(2020, 0, 1)), to: new Date(Date.UTC(2020, 0, 4)) }, {});
    assert.equal(stats.cost_pico, total.toString());
    assert.equal(stats.requests, 3);
  });
});
