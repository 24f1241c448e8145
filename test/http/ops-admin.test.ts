/** Operations: model resolution explained, caches, catalog reload, deep health, readiness, retention. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { startTestServer, type TestServer } from '../support/server.ts';
import { RedisProbe } from '../../src/domain/health/redis-probe.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({
    models: [{ id: 'team/chat', strategy: 'fallback', deployments: [{ provider: 'mock', model: 'echo', weight: 1 }], fallbacks: ['mock/tools'] }] as any,
    aliases: { fast: 'team/chat' },
    requestLog: { retentionDays: 7 } as any,
  });
});
after(async () => server?.stop());

const get = async (path: string) => {
  const res = await server.request(path);
  return { status: res.status, body: (await res.json()) as any };
};

describe('GET /api/admin/models/resolve', () => {
  it('explains aliases, the config route, deployments in order, prices and breakers', async () => {
    const { status, body } = await get('/api/admin/models/resolve?model=fast');
    assert.equal(status, 200);
    assert.deepEqual(body.aliases, ['team/chat']);
    assert.equal(body.resolved, 'team/chat');
    assert.equal(body.route.strategy, 'fallback');
    assert.deepEqual(body.route.fallbacks, ['mock/tools']);
    assert.equal(body.resolvable, true);
    assert.deepEqual(body.candidates.map((c: any) => [c.position, c.model_id, c.provider, c.upstream_model]), [
      [1, 'team/chat', 'mock', 'echo'],
      [2, 'mock/tools', 'mock', 'tools'],
    ]);
    assert.equal(body.candidates[1].pricing.input, 1);
    assert.ok(body.candidates.every((c: any) => c.breaker === 'closed'), 'no failures seen: every breaker is closed');
  });

  it('an unresolvable model is explained, not an error', async () => {
    const { status, body } = await get('/api/admin/models/resolve?model=nope/nothing');
    assert.equal(status, 200);
    assert.equal(body.resolvable, false);
    assert.equal(body.error.code, 'model_not_found');
    assert.equal((await get('/api/admin/models/resolve')).status, 400);
    assert.equal((await get('/api/admin/models/resolve?model=x&kind=image')).status, 400);
    assert.equal((await fetch(`${server.url}/api/admin/models/resolve?model=fast`)).status, 401);
  });
});

describe('caches and catalog', () => {
  it('catalog refresh reloads rows changed behind the cache', async () => {
    const before = (await get('/api/admin/catalog/status')).body;
    await server.services.database.db
      .insertInto('models')
      .values({ id: 'mock/behind', provider: 'mock', upstream_id: 'behind', name: 'behind', kind: 'chat', price_input: 0, price_output: 0, capabilities: '{}', enabled: true, source: 'admin' })
      .execute();
    assert.equal((await get('/api/admin/catalog/status')).body.models, before.models, 'still cached');
    const res = await server.request('/api/admin/catalog/refresh', { method: 'POST' });
    assert.equal(res.status, 200);
    const after: any = await res.json();
    assert.equal(after.models, before.models + 1);
    assert.ok(after.version > before.version);
    assert.ok(after.providers.some((p: any) => p.id === 'mock' && p.enabled));
  });

  it('lists and clears registered caches; unknown names are a 400', async () => {
    const list = (await get('/api/admin/caches')).body.data.map((c: any) => c.name);
    assert.ok(list.includes('catalog') && list.includes('deployment_health'));
    const res = await server.request('/api/admin/caches/clear', { method: 'POST', json: { names: ['deployment_health'] } });
    assert.equal(res.status, 200);
    assert.deepEqual(((await res.json()) as any).cleared, ['deployment_health']);
    const all = await server.request('/api/admin/caches/clear', { method: 'POST' });
    assert.equal(all.status, 200);
    const bad = await server.request('/api/admin/caches/clear', { method: 'POST', json: { names: ['nope'] } });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as any).error.code, 'unknown_cache');
    assert.equal((await server.request('/api/admin/caches/clear', { method: 'POST', json: { names: 'catalog' } })).status, 400);
    assert.equal((await fetch(`${server.url}/api/admin/caches`)).status, 401);
  });
});

describe('deep health and readiness', () => {
  it('/health reports providers from recent traffic and Redis as not configured', async () => {
    await server.openai().chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'hi' }] });
    const body = (await (await fetch(`${server.url}/health`)).json()) as any;
    assert.equal(body.status, 'ok');
    assert.deepEqual(body.redis, { configured: false });
    const mock = body.providers.find((p: any) => p.id === 'mock');
    assert.equal(mock.status, 'healthy');
    assert.ok(mock.last_success_at);
  });

  it('/ready fails while a migration is pending', async () => {
    const db = server.services.database.db;
    const row = await sql<{ name: string; timestamp: string }>`select name, timestamp from kysely_migration where name = '003_observability'`.execute(db);
    await sql`delete from kysely_migration where name = '003_observability'`.execute(db);
    try {
      const res = await fetch(`${server.url}/ready`);
      assert.equal(res.status, 503);
      assert.deepEqual(((await res.json()) as any).pending_migrations, ['003_observability']);
    } finally {
      await sql`insert into kysely_migration (name, timestamp) values (${row.rows[0].name}, ${row.rows[0].timestamp})`.execute(db);
    }
    assert.equal((await fetch(`${server.url}/ready`)).status, 200);
  });

  it('Redis probe: unreachable is reported quickly with a short timeout; reachable answers', async () => {
    const probe = new RedisProbe('redis://127.0.0.1:1', 500);
    const t0 = Date.now();
    const down = await probe.ping();
    assert.equal(down.ok, false);
    assert.ok(down.error && !down.error.includes('redis://'));
    assert.ok(Date.now() - t0 < 2000);
    await probe.close();
    if (process.env.TEST_REDIS_URL) {
      // The whole server path: /health pings the configured Redis.
      const up = await startTestServer({ redisUrl: process.env.TEST_REDIS_URL });
      try {
        const body: any = await (await fetch(`${up.url}/health`)).json();
        assert.equal(body.redis.configured, true);
        assert.equal(body.redis.ok, true);
        assert.equal(body.status, 'ok');
      } finally {
        await up.stop();
      }
    }
  });
});

describe('retention', () => {
  it('prunes request-log rows and events older than the retention, in batches, and counts them', async () => {
    const w = server.services.requestLog;
    const day = 86_400_000;
    const base = { endpoint: 'chat', requested_model: 'old/model', model: 'old/model', provider: 'old', stream: false, status: 200, latency_ms: 5, cost_pico: '1' };
    for (let i = 0; i < 3; i++) w.record({ ...base, request_id: `old-${i}`, created_at: new Date(Date.now() - 10 * day - i * 1000) });
    w.record({ ...base, request_id: 'recent-1', created_at: new Date(Date.now() - 6 * day) });
    await w.flush();
    const db = server.services.database.db;
    await db.insertInto('analytics_events').values({ name: 'old', properties: '{}', occurred_at: new Date(Date.now() - 20 * day), received_at: new Date(Date.now() - 20 * day) }).execute();

    const res = await server.request('/api/admin/request-logs/prune', { method: 'POST' });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.retention_days, 7);
    assert.equal(body.request_logs, 3);
    assert.equal(body.analytics_events, 1);
    const left = await db.selectFrom('request_logs').select('request_id').where('requested_model', '=', 'old/model').execute();
    assert.deepEqual(left.map((r) => r.request_id), ['recent-1']);
    // Daily rollups outlive the raw rows.
    const summary = (await get(`/api/admin/analytics/summary?model=old/model&from=${new Date(Date.now() - 12 * day).toISOString()}`)).body;
    assert.equal(summary.requests, 4);
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^request_log_pruned_total\{table="request_logs"\} 3$/m);
    assert.equal((await fetch(`${server.url}/api/admin/request-logs/prune`, { method: 'POST' })).status, 401);
  });
});
