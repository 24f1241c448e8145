/** Deployment health and incidents from scripted upstream failures (fast thresholds), /status and /health. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';

let server: TestServer;
before(async () => {
  // Circuit breakers would stop the scripted failures from reaching the mock (and hold recovery back for
  // seconds); health and incidents are about outcomes, so breakers are kept out of the way here.
  server = await startTestServer({
    upstream: { maxAttempts: 1 } as any,
    health: { windowMs: 1000, minRequests: 2, incidentOpenAfterMs: 150 },
    ...({ breakers: { minRequests: 1_000_000 } } as any),
  });
});
after(async () => server?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const get = async (path: string) => {
  const res = await server.request(path);
  return { status: res.status, body: (await res.json()) as any };
};
/** Repeats `action` (traffic) and `probe` until the probe answers; generous, as loaded machines are slow. */
async function until<T>(what: string, probe: () => Promise<T | undefined>, action?: () => Promise<void>, timeoutMs = 30_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (action) await action();
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const chat = (content: string) =>
  server.request('/v1/chat/completions', { method: 'POST', json: { model: 'mock/echo', messages: [{ role: 'user', content }] } }).then(async (r) => (await r.arrayBuffer(), r.status));
const fail = async () => assert.ok((await chat('down [mock-error:503]')) >= 500);
const succeed = async () => assert.equal(await chat('all good'), 200);
const ongoing = async () => (await get('/api/admin/incidents/ongoing')).body.data as any[];

describe('incidents', () => {
  let firstId: string;

  it('a deployment failing for a sustained period opens an incident; /status and /health show it down', async () => {
    const [incident] = await until('an incident', async () => {
      const list = await ongoing();
      return list.length ? list : undefined;
    }, fail);
    firstId = incident.id;
    assert.equal(incident.provider, 'mock');
    assert.equal(incident.model, 'mock/echo');
    assert.equal(incident.status, 'ongoing');
    assert.equal(incident.last_error_code, 'upstream_503');
    assert.ok(Date.parse(incident.opened_at) - Date.parse(incident.started_at) >= 150);

    const res = await fetch(`${server.url}/status`);
    const text = await res.text();
    const status = JSON.parse(text);
    assert.equal(res.status, 200);
    const mock = status.providers.find((p: any) => p.id === 'mock');
    assert.equal(mock.status, 'down');
    assert.equal(mock.ongoing_incidents, 1);
    assert.equal(status.status, 'outage');
    for (const secret of ['mock failure', 'upstream_503', 'mock/echo', 'http', 'sk-']) assert.ok(!text.includes(secret), `/status leaks ${secret}`);

    const health = (await (await fetch(`${server.url}/health`)).json()) as any;
    assert.equal(health.providers.find((p: any) => p.id === 'mock').status, 'down');
    const deployments = (await get('/api/admin/health/deployments')).body.data;
    assert.equal(deployments.find((d: any) => d.model === 'mock/echo').status, 'down');
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^incidents_ongoing 1$/m);
    assert.match(metrics, /^incidents_opened_total\{provider="mock"\} 1$/m);
  });

  it('recovery closes it', async () => {
    // Successes until the failures have left the 1 s health window and the deployment is healthy again.
    await until('recovery', async () => ((await ongoing()).length === 0 ? true : undefined), succeed);
    const { body } = await get(`/api/admin/incidents/${firstId}`);
    assert.equal(body.status, 'resolved');
    assert.equal(body.resolution, 'recovered');
    assert.ok(body.duration_seconds >= 0);
    assert.equal(body.current_health.status, 'healthy');
    const status = (await (await fetch(`${server.url}/status`)).json()) as any;
    assert.equal(status.status, 'operational');
  });

  it('an admin can resolve an ongoing incident by hand; twice is a conflict', async () => {
    const [incident] = await until('a second incident', async () => {
      const list = await ongoing();
      return list.length ? list : undefined;
    }, fail);
    assert.notEqual(incident.id, firstId);
    const res = await server.request(`/api/admin/incidents/${incident.id}/resolve`, { method: 'POST', json: { note: 'upstream confirmed fix' } });
    assert.equal(res.status, 200);
    const body: any = await res.json();
    assert.equal(body.resolution, 'manual');
    assert.equal(body.note, 'upstream confirmed fix');
    assert.equal(body.resolved_by, 'admin_key:bootstrap');
    const again = await server.request(`/api/admin/incidents/${incident.id}/resolve`, { method: 'POST', json: {} });
    assert.equal(again.status, 409);
    assert.equal(((await again.json()) as any).error.code, 'incident_already_resolved');
  });

  it('lists, pages and computes statistics (MTTR, counts by provider)', async () => {
    const list = (await get('/api/admin/incidents?limit=1')).body;
    assert.equal(list.data.length, 1);
    assert.ok(list.next_before_id);
    const next = (await get(`/api/admin/incidents?limit=5&before_id=${list.next_before_id}`)).body;
    assert.ok(next.data.every((i: any) => BigInt(i.id) < BigInt(list.next_before_id)));
    const resolved = (await get('/api/admin/incidents?status=resolved&provider=mock')).body.data;
    assert.ok(resolved.length >= 2);
    const stats = (await get('/api/admin/incidents/statistics')).body;
    assert.ok(stats.total >= 2);
    assert.equal(stats.total, stats.ongoing + stats.resolved);
    assert.ok(stats.mttr_seconds !== null && stats.mttr_seconds >= 0);
    const mock = stats.by_provider.find((p: any) => p.provider === 'mock');
    assert.equal(mock.total, stats.total);
  });

  it('bad ids, unknown ids and missing credentials', async () => {
    assert.equal((await get('/api/admin/incidents/abc')).status, 400);
    assert.equal((await get('/api/admin/incidents/999999')).status, 404);
    assert.equal((await server.request('/api/admin/incidents/999999/resolve', { method: 'POST', json: {} })).status, 404);
    assert.equal((await server.request('/api/admin/incidents/1/resolve', { method: 'POST', json: { note: 5 } })).status, 400);
    assert.equal((await get('/api/admin/incidents?status=maybe')).status, 400);
    for (const path of ['/api/admin/incidents', '/api/admin/incidents/ongoing', '/api/admin/incidents/statistics', '/api/admin/incidents/1', '/api/admin/health/deployments']) {
      assert.equal((await fetch(server.url + path)).status, 401, path);
    }
    assert.equal((await fetch(`${server.url}/api/admin/incidents/1/resolve`, { method: 'POST' })).status, 401);
  });
});
