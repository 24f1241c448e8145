/**
 * Without Redis, instances sharing a PostgreSQL database (and the CLI, which opens the same services) hear each
 * other's cache invalidations over LISTEN/NOTIFY. Runs in `npm run test:services` (real PostgreSQL).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type DatabaseHandle } from '../../src/store/db.ts';
import { LISTENER_APPLICATION_NAME, PgNotifyChannel } from '../../src/store/pg-notify.ts';
import { CacheBus, type Invalidation } from '../../src/domain/cache-bus.ts';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.ts';
import { loadConfig } from '../../src/config/load.ts';
import { closeServices, createServices } from '../../src/app.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';

const PG = process.env.TEST_DATABASE_URL;
const skip = !PG ? 'needs TEST_DATABASE_URL' : false;

const until = async (what: () => boolean, ms = 3000) => {
  const deadline = Date.now() + ms;
  while (!what() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  assert.ok(what(), 'condition not met in time');
};

describe('cache invalidation over PostgreSQL LISTEN/NOTIFY', { skip }, () => {
  let handle: DatabaseHandle;
  const channel = `switchyard_invalidate_t_${randomBytes(6).toString('hex')}`;
  const buses: CacheBus[] = [];

  before(async () => {
    handle = await openDatabase({ url: PG, dataDir: '' });
  });
  after(async () => {
    for (const b of buses) await b.close();
    await handle?.close();
  });

  async function bus(): Promise<{ bus: CacheBus; seen: Invalidation[] }> {
    const b = new CacheBus(new PgNotifyChannel(handle.db, { url: PG!, channel, retryMs: 50 }));
    const seen: Invalidation[] = [];
    b.on((m) => seen.push(m));
    await b.start();
    buses.push(b);
    return { bus: b, seen };
  }

  it("delivers one instance's invalidation to the other, and to the publisher once", async () => {
    const a = await bus();
    const b = await bus();
    a.bus.publish({ type: 'key', id: 'key_1' });
    await until(() => b.seen.length === 1);
    assert.deepEqual(b.seen, [{ type: 'key', id: 'key_1' }]);
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(a.seen, [{ type: 'key', id: 'key_1' }], 'applied locally at once, not again when the notification comes back');
  });

  it('after its connection is killed, the listener reconnects, resyncs, and hears later messages', async () => {
    const a = await bus();
    const b = await bus();
    const admin = new pg.Client({ connectionString: PG });
    await admin.connect();
    try {
      const killed = await admin.query('select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query like $2', [LISTENER_APPLICATION_NAME, `%${channel}%`]);
      assert.ok(killed.rowCount! >= 2, 'both listeners found');
    } finally {
      await admin.end();
    }
    await until(() => b.seen.some((m) => m.type === 'resync'));
    await until(() => a.seen.some((m) => m.type === 'resync'));
    a.bus.publish({ type: 'user', id: 'usr_1' });
    await until(() => b.seen.some((m) => m.type === 'user'));
  });
});

describe('two instances on one PostgreSQL database without Redis', { skip }, () => {
  let a: TestServer & { schema?: string };
  let b: TestServer;
  let upstream: FakeUpstream;
  const json = async (r: Response): Promise<any> => r.json();

  before(async () => {
    upstream = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: 'hello', usage: { input: 10, output: 5 } })));
    const overrides = {
      credits: { mode: 'off' as const },
      providers: [{ id: 'up', type: 'openai' as const, base_url: upstream.url, api_key: 'k', headers: {} }],
    };
    a = await startTestServer(overrides);
    b = await startTestServer(overrides, {}, { schema: a.schema });
  });
  after(async () => {
    await b?.stop();
    await a?.stop();
    await upstream?.close();
  });

  async function userWithKey(name: string) {
    const reg = await json(await a.request('/api/auth/register', { method: 'POST', json: { email: `${name}${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
    const key = await json(await a.request('/api/keys', { method: 'POST', json: { name }, headers: { authorization: `Bearer ${reg.access_token}` } }));
    return { token: reg.access_token as string, key: key.key as string, keyId: key.id as string };
  }

  const chat = (s: TestServer, key: string) =>
    fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up/m', messages: [{ role: 'user', content: 'hi' }] }) });

  /** The status the key gets from `s` once it is refused, or after 100 tries 20 ms apart. */
  async function statusOnceRefused(s: TestServer, key: string): Promise<number> {
    let status = 0;
    for (let i = 0; i < 100 && status !== 401; i++) {
      status = (await chat(s, key)).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    return status;
  }

  it('a key revoked on one instance stops working on the other at once, not after the cache TTL', async () => {
    const u = await userWithKey('pgbus');
    assert.equal((await chat(b, u.key)).status, 200, 'b has the key cached');
    assert.equal((await a.request(`/api/keys/${u.keyId}`, { method: 'DELETE', headers: { authorization: `Bearer ${u.token}` } })).status, 200);
    assert.equal(await statusOnceRefused(b, u.key), 401);
  });

  it('a key the CLI revokes (its own short-lived process on the same database) stops working on a running server', async () => {
    const u = await userWithKey('pgcli');
    assert.equal((await chat(a, u.key)).status, 200, 'the server has the key cached');
    // What `switchyard keys revoke` does: open the services, revoke, close at once.
    const cli = await createServices(loadConfig({}, { databaseUrl: PG, adminApiKey: ADMIN_KEY, logLevel: 'silent', dataDir: mkdtempSync(join(tmpdir(), 'switchyard-cli-')) }), { databaseSchema: a.schema });
    await cli.keys.revokeById(u.keyId);
    await closeServices(cli);
    assert.equal(await statusOnceRefused(a, u.key), 401);
  });
});
