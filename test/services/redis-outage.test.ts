/**
 * Redis going away under a running instance: requests that need it get a quick 503 `store_unavailable`
 * (not a 500 after a timeout), a stream that was already running finishes and is charged, the process
 * survives, and everything works again once Redis is back. Redis is reached through a local TCP proxy that
 * the test cuts and restores. Runs in `npm run test:services`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { REQUEST_COMMAND_TIMEOUT_MS } from '../../src/store/redis.ts';

const PG = process.env.TEST_DATABASE_URL;
const REDIS = process.env.TEST_REDIS_URL;
const skip = !PG || !REDIS ? 'needs TEST_DATABASE_URL and TEST_REDIS_URL' : false;

/**
 * A TCP proxy to Redis that can be cut (listener closed, connections dropped) and restored on the same port, or
 * hung: connections stay open and commands go through, but no answer comes back until it resumes.
 */
class CuttableProxy {
  private server?: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private readonly answers = new Set<net.Socket>();
  port = 0;

  constructor(private readonly target: URL) {}

  async up(): Promise<void> {
    if (this.server?.listening) return;
    this.server = net.createServer((client) => {
      const upstream = net.connect(Number(this.target.port || 6379), this.target.hostname);
      this.answers.add(upstream);
      upstream.on('close', () => this.answers.delete(upstream));
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve, reject) => {
      this.server!.once('error', reject);
      this.server!.listen(this.port, '127.0.0.1', resolve);
    });
    this.port = (this.server.address() as net.AddressInfo).port;
  }

  /** Redis stops answering (its replies are held back), as a Redis stuck in a long command or a lost network would. */
  hang(): void {
    for (const s of this.answers) s.pause();
  }

  resume(): void {
    for (const s of this.answers) s.resume();
  }

  async down(): Promise<void> {
    if (!this.server?.listening) return;
    const closed = new Promise<void>((resolve) => this.server?.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

const json = async (r: Response): Promise<any> => r.json();
const answer = scripted(fakeOpenAI, () => ({ text: 'one two three four five six', usage: { input: 10, output: 6 }, chunkDelayMs: 150 }));

describe('a Redis outage under a running instance', { skip }, () => {
  let server: TestServer;
  let upstream: FakeUpstream;
  let proxy: CuttableProxy;
  const email = `outage${Date.now()}@example.com`;
  const password = 'a long enough password';
  let userId: string;
  let token: string;
  let key: string;

  before(async () => {
    proxy = new CuttableProxy(new URL(REDIS!));
    await proxy.up();
    upstream = await startFakeUpstream(answer);
    server = await startTestServer({
      redisUrl: `redis://127.0.0.1:${proxy.port}`,
      credits: { mode: 'prepaid' as const, chargeFlushIntervalMs: 20 },
      providers: [{ id: 'up', type: 'openai' as const, base_url: upstream.url, api_key: 'k', headers: {} }],
      prices: { 'up/m': { input: 1, output: 2 } },
    });
    const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email, password }, headers: { authorization: 'none' } }));
    userId = reg.user.id;
    token = reg.access_token;
    key = (await json(await server.request('/api/keys', { method: 'POST', json: { name: 'outage' }, headers: { authorization: `Bearer ${reg.access_token}` } }))).key;
    const grant = await server.request('/api/admin/credits/add', { method: 'POST', json: { user_id: userId, amount_usd: 1, reason: 'outage test grant' } });
    assert.equal(grant.status, 201, await grant.text());
  });

  after(async () => {
    await proxy.up().catch(() => {});
    await server?.stop();
    await upstream?.close();
    await proxy.down();
  });

  const chat = (stream = false) =>
    fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up/m', max_tokens: 50, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
  const login = () => server.request('/api/auth/login', { method: 'POST', json: { email, password }, headers: { authorization: 'none' } });
  const resetRequest = () => server.request('/api/auth/password-reset/request', { method: 'POST', json: { email }, headers: { authorization: 'none' } });
  const balancePico = async () => BigInt((await json(await server.request('/api/credits', { headers: { authorization: `Bearer ${token}` } }))).balance_pico);

  it('refuses with 503 store_unavailable at once, finishes the running stream and charges it, and recovers', async () => {
    assert.equal((await chat()).status, 200);
    // Let the first charge reach the ledger, then take the balance every later figure is compared with.
    await new Promise((r) => setTimeout(r, 200));
    const before = await balancePico();

    const streaming = await chat(true);
    assert.equal(streaming.status, 200);
    const reader = streaming.body!.getReader();
    const first = await reader.read();
    assert.ok(first.value && first.value.length > 0);

    await proxy.down();

    // The rest of the stream still arrives; settling it while Redis is gone must not end the process.
    let text = new TextDecoder().decode(first.value);
    for (let r = await reader.read(); !r.done; r = await reader.read()) text += new TextDecoder().decode(r.value);
    assert.match(text, /data: \[DONE\]/);

    // A reset request is not dropped in silence either (its answer is otherwise 202 whatever happened).
    for (const attempt of [() => chat(), login, resetRequest]) {
      const started = Date.now();
      const res = await attempt();
      const body = await json(res);
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, 'store_unavailable');
      assert.equal(res.headers.get('retry-after'), '1');
      assert.ok(Date.now() - started < 2000, `answered after ${Date.now() - started} ms`);
    }
    const health = await json(await server.request('/health'));
    assert.equal(health.redis.ok, false);

    await proxy.up();
    const deadline = Date.now() + 15_000;
    let status = 0;
    while (Date.now() < deadline && (status = (await login()).status) !== 200) await new Promise((r) => setTimeout(r, 250));
    assert.equal(status, 200, 'sign-in works again once Redis is back');
    assert.equal((await chat()).status, 200);

    // The stream that ran through the outage and the request after it were both charged; the refused one was not.
    await new Promise((r) => setTimeout(r, 300));
    const ledger = await json(await server.request(`/api/admin/credits/transactions?user_id=${userId}&kind=charge`));
    assert.equal(ledger.total, 3, JSON.stringify(ledger));
    assert.ok((await balancePico()) < before);
  });

  it('a Redis that stops answering costs a request at most the command deadline, then a 503', async () => {
    assert.equal((await chat()).status, 200);
    proxy.hang();
    try {
      const started = Date.now();
      const res = await chat();
      const waited = Date.now() - started;
      const body = await json(res);
      assert.equal(res.status, 503, JSON.stringify(body));
      assert.equal(body.error.code, 'store_unavailable');
      assert.ok(waited >= REQUEST_COMMAND_TIMEOUT_MS - 50 && waited < REQUEST_COMMAND_TIMEOUT_MS + 1500, `answered after ${waited} ms`);
    } finally {
      proxy.resume();
    }
    // The held answers arrive late and are dropped; the connection carries on.
    assert.equal((await chat()).status, 200);
  });

  it('shuts down within seconds while Redis is unreachable', async () => {
    await proxy.up(); // (in case the test before failed with Redis cut)
    const other = await startTestServer({ redisUrl: `redis://127.0.0.1:${proxy.port}` });
    await proxy.down();
    try {
      const started = Date.now();
      await other.stop();
      assert.ok(Date.now() - started < 5000, `stop took ${Date.now() - started} ms`);
    } finally {
      await proxy.up();
    }
  });
});
