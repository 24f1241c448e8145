/** Client analytics events: accepted, stored by the batched writer, and refused precisely when malformed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer();
});
after(async () => server?.stop());

const post = (path: string, json: unknown, headers: Record<string, string> = {}) => server.request(path, { method: 'POST', json, headers });
const event = (i: number) => ({ name: 'chat.message_sent', properties: { i, plan: 'pro' }, session_id: 'sess-1' });

describe('analytics events', () => {
  it('stores one event and a batch, with the principal', async () => {
    const one = await post('/api/analytics/events', { name: 'console.opened', properties: { page: '/chat' }, occurred_at: '2025-01-02T03:04:05.678Z' });
    assert.equal(one.status, 202);
    assert.deepEqual(await one.json(), { accepted: 1 });
    const batch = await post('/api/analytics/events/batch', { events: [event(1), event(2), { name: 'bare' }] });
    assert.equal(batch.status, 202);
    assert.deepEqual(await batch.json(), { accepted: 3 });
    await server.services.observability.events.flush();
    const rows = await server.services.database.db.selectFrom('analytics_events').selectAll().orderBy('id').execute();
    assert.equal(rows.length, 4);
    assert.equal(rows[0].name, 'console.opened');
    assert.deepEqual(rows[0].properties, { page: '/chat' });
    assert.equal(new Date(rows[0].occurred_at).toISOString(), '2025-01-02T03:04:05.678Z');
    assert.equal(rows[0].principal_kind, 'admin_key');
    assert.deepEqual(rows[1].properties, { i: 1, plan: 'pro' });
    assert.equal(rows[1].session_id, 'sess-1');
    assert.deepEqual(rows[3].properties, {});
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^analytics_events_total 4$/m);
  });

  it('bad input is a 400 and nothing is stored', async () => {
    const before = (await server.services.database.db.selectFrom('analytics_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    const malformed = await server.request('/api/analytics/events', { method: 'POST', body: '{"name": ', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal(((await malformed.json()) as any).error.code, 'invalid_json');
    const cases: [string, unknown][] = [
      ['/api/analytics/events', { name: 42 }],
      ['/api/analytics/events', { properties: {} }],
      ['/api/analytics/events', { name: 'x', properties: 'not an object' }],
      ['/api/analytics/events', { name: 'x', properties: [1, 2] }],
      ['/api/analytics/events', { name: 'x', occurred_at: 'yesterday' }],
      ['/api/analytics/events', { name: 'x', occurred_at: '2999-01-01T00:00:00Z' }],
      ['/api/analytics/events', { name: 'x', extra: true }],
      ['/api/analytics/events', { name: 'x', properties: { blob: 'y'.repeat(9000) } }],
      ['/api/analytics/events', { name: 'has\nnewline' }],
      ['/api/analytics/events/batch', { events: [] }],
      ['/api/analytics/events/batch', { events: Array.from({ length: 101 }, (_, i) => event(i)) }],
      ['/api/analytics/events/batch', { events: [event(1), { name: 7 }] }],
      ['/api/analytics/events/batch', [event(1)]],
    ];
    for (const [path, body] of cases) {
      const res = await post(path, body);
      assert.equal(res.status, 400, JSON.stringify(body).slice(0, 80));
      assert.equal(((await res.json()) as any).error.type, 'invalid_request_error');
    }
    await server.services.observability.events.flush();
    const afterN = (await server.services.database.db.selectFrom('analytics_events').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n;
    assert.equal(afterN, before);
  });

  it('a batch of exactly 100 is fine', async () => {
    const res = await post('/api/analytics/events/batch', { events: Array.from({ length: 100 }, (_, i) => event(i)) });
    assert.equal(res.status, 202);
  });

  it('needs a valid key', async () => {
    for (const path of ['/api/analytics/events', '/api/analytics/events/batch']) {
      const none = await fetch(server.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'x' }) });
      assert.equal(none.status, 401);
      const wrong = await post(path, { name: 'x' }, { authorization: 'Bearer not-a-real-key-123' });
      assert.equal(wrong.status, 401);
    }
  });
});
