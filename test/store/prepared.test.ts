/**
 * The write path's batch statements (request logs, their rollups, charges) are prepared once on the embedded
 * database: after batches of different sizes the session holds one named statement per statement shape, and
 * the rows they wrote add up. On PostgreSQL they go unnamed (a pooling proxy would not keep them).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { insertRequestLogs } from '../../src/store/request-logs.ts';
import { writeRollups } from '../../src/domain/analytics/rollups.ts';
import { Ledger } from '../../src/domain/credits/ledger.ts';
import { CacheBus } from '../../src/domain/cache-bus.ts';
import type { RequestLogRecord } from '../../src/telemetry/request-log.ts';

const PG = process.env.TEST_DATABASE_URL;
const SCHEMA = `t_prepared_${process.pid}`;
let handle: DatabaseHandle;
before(async () => {
  handle = await openDatabase({ url: PG ?? 'memory://', dataDir: '/tmp', schema: PG ? SCHEMA : undefined });
  await handle.migrate();
});
after(async () => {
  if (PG) await handle.db.schema.dropSchema(SCHEMA).cascade().execute();
  await handle?.close();
});

const at = new Date('2026-11-25T06:15:00.000Z');
const record = (i: number, latencyMs: number): RequestLogRecord => ({
  request_id: `req_${i}`,
  created_at: at,
  endpoint: 'chat',
  requested_model: 'm',
  model: 'm',
  provider: 'p',
  stream: false,
  status: 200,
  input_tokens: 10,
  output_tokens: 5,
  cost_pico: 1_000_000_000_000_000_000_001n,
  latency_ms: latencyMs,
  api_key_id: 'key_1',
  user_id: 'usr_1',
});

async function writeLogBatch(records: RequestLogRecord[]): Promise<void> {
  await handle.db.transaction().execute(async (trx) => {
    await insertRequestLogs(trx, records);
    await writeRollups(trx, records);
  });
}

const preparedStatements = async () => (await sql<{ name: string; statement: string }>`select name, statement from pg_prepared_statements order by name`.execute(handle.db)).rows;

describe('prepared write statements', () => {
  it('prepares each batch statement once whatever the batch size, and the upserted rollups add up', async () => {
    const ledger = new Ledger(handle.db, new CacheBus());
    const account = await ledger.account({ type: 'user', id: 'usr_1' });
    const charge = (i: number) => ({ accountId: account.id, chargeId: `chg_${i}`, amount: 7n, apiKeyId: 'key_1', model: 'm', requestId: `req_${i}` });

    await writeLogBatch([record(1, 10)]);
    await ledger.writeCharges([charge(1)]);
    const afterOne = await preparedStatements();

    await writeLogBatch([record(2, 10), record(3, 40), record(4, 200_000)]);
    await ledger.writeCharges([charge(2), charge(3), charge(4), charge(1)]);
    const afterMore = await preparedStatements();

    if (PG) {
      assert.deepEqual(afterMore, [], 'nothing is prepared on PostgreSQL');
    } else {
      assert.deepEqual(afterMore, afterOne, 'larger batches reuse the same statements');
      const text = afterMore.map((s) => s.statement).join('\n');
      for (const table of ['request_logs', 'request_rollups_hourly', 'request_rollups_daily', 'request_rollups_model_hourly', 'request_rollups_model_daily', 'credit_transactions', 'credit_accounts']) {
        assert.match(text, new RegExp(`\\b${table}\\b`), `a prepared statement writes ${table}`);
      }
      assert.ok(afterMore.every((s) => s.name.startsWith('sy_')));
    }

    const rollup = await handle.db.selectFrom('request_rollups_model_hourly').selectAll().where('model', '=', 'm').executeTakeFirstOrThrow();
    assert.equal(Number(rollup.requests), 4);
    assert.equal(Number(rollup.input_tokens), 40);
    assert.equal(String(rollup.cost_pico), (4n * 1_000_000_000_000_000_000_001n).toString());
    assert.equal(Number(rollup.latency_ms_sum), 200_060);
    assert.deepEqual(rollup.latency_hist.map(Number).slice(0, 3), [2, 1, 0]);
    assert.equal(rollup.latency_hist.map(Number).at(-1), 1, 'the open-ended bucket');
    const charges = await handle.db.selectFrom('credit_transactions').select(({ fn }) => fn.countAll<string>().as('n')).where('kind', '=', 'charge').executeTakeFirstOrThrow();
    assert.equal(Number(charges.n), 4, 'the repeated charge was written once');
  });
});
