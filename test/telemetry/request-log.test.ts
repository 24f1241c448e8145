import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { createMetrics } from '../../src/telemetry/metrics.ts';
import { RequestLogWriter, type RequestLogRecord } from '../../src/telemetry/request-log.ts';

let handle: DatabaseHandle;
before(async () => {
  handle = await openDatabase({ url: process.env.TEST_DATABASE_URL ?? 'memory://', dataDir: '/tmp', schema: process.env.TEST_DATABASE_URL ? `t_rl_${process.pid}` : undefined });
  await handle.migrate();
});
after(async () => {
  if (process.env.TEST_DATABASE_URL) await handle.db.schema.dropSchema(`t_rl_${process.pid}`).cascade().execute();
  await handle?.close();
});

const rec = (id: string): RequestLogRecord => ({
  request_id: id,
  endpoint: 'chat',
  requested_model: 'mock/echo',
  stream: false,
  status: 200,
  latency_ms: 1,
  cost_pico: '5',
});

const count = async (prefix: string) =>
  Number((await handle.db.selectFrom('request_logs').select((eb) => eb.fn.countAll().as('n')).where('request_id', 'like', `${prefix}%`).executeTakeFirstOrThrow()).n);

describe('RequestLogWriter', () => {
  it('writes in batches and drains everything on shutdown', async () => {
    const metrics = createMetrics();
    const w = new RequestLogWriter(handle.db, { batchSize: 50, flushIntervalMs: 60_000, maxQueue: 10_000 }, metrics, pino({ level: 'silent' }));
    for (let i = 0; i < 120; i++) w.record(rec(`batch-${i}`));
    // Two full batches were started immediately; the remaining 20 wait for the timer or the drain.
    await w.drain();
    assert.equal(await count('batch-'), 120);
    assert.equal(w.depth, 0);
    assert.equal(w.dropped, 0);
  });

  it('counts overflow instead of blocking or growing without bound', async () => {
    const metrics = createMetrics();
    const w = new RequestLogWriter(handle.db, { batchSize: 1000, flushIntervalMs: 60_000, maxQueue: 10 }, metrics, pino({ level: 'silent' }));
    for (let i = 0; i < 25; i++) w.record(rec(`over-${i}`));
    assert.equal(w.depth, 10);
    assert.equal(w.dropped, 15);
    const text = await metrics.registry.metrics();
    assert.match(text, /request_log_dropped_total 15/);
    assert.match(text, /request_log_queue_depth 10/);
    await w.drain();
    assert.equal(await count('over-'), 10);
  });

  it('a failed batch is counted and logged, and later records still get written', async () => {
    const metrics = createMetrics();
    const w = new RequestLogWriter(handle.db, { batchSize: 5, flushIntervalMs: 60_000, maxQueue: 100 }, metrics, pino({ level: 'silent' }));
    w.record({ ...rec('bad-1'), status: 'not-a-number' as any });
    await w.flush();
    assert.equal(w.dropped, 1);
    assert.match(await metrics.registry.metrics(), /request_log_write_errors_total 1/);
    w.record(rec('good-after-bad'));
    await w.drain();
    assert.equal(await count('good-after-bad'), 1);
  });
});
