/**
 * The ledger's write-behind charges honour CHARGE_BATCH_SIZE and CHARGE_FLUSH_INTERVAL_MS (credits.chargeBatchSize,
 * credits.chargeFlushIntervalMs). With a batch of two and an interval of a minute, one paid request's charge
 * waits in the queue; the second fills the batch, and both are written at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';

let server: TestServer;
let upstream: FakeUpstream;
const MODEL = 'up/m';

before(async () => {
  upstream = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: 'an answer', usage: { input: 10, output: 50 } })));
  server = await startTestServer({
    credits: { mode: 'prepaid', chargeBatchSize: 2, chargeFlushIntervalMs: 60_000 },
    providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }],
    prices: { [MODEL]: { input: 1, output: 2 } },
  });
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

const json = async (r: Response): Promise<any> => r.json();

async function payingUser(): Promise<{ id: string; key: string }> {
  const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email: `batch-${Date.now()}@example.com`, password: 'a long enough password' }, headers: { authorization: 'none' } }));
  const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'k' }, headers: { authorization: `Bearer ${reg.access_token}` } }));
  const grant = await server.request('/api/admin/credits/add', { method: 'POST', json: { user_id: reg.user.id, amount_usd: 5, reason: 'batching test' } });
  assert.equal(grant.status, 201);
  return { id: reg.user.id, key: key.key };
}

async function chat(key: string): Promise<void> {
  const res = await fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  await res.text();
}

const chargeRows = (userId: string) =>
  server.services.database.db
    .selectFrom('credit_transactions as t')
    .innerJoin('credit_accounts as a', 'a.id', 't.account_id')
    .select('t.id')
    .where('a.owner_type', '=', 'user')
    .where('a.owner_id', '=', userId)
    .where('t.kind', '=', 'charge')
    .execute();

async function waitForCharges(userId: string, count: number, withinMs: number): Promise<number> {
  const deadline = Date.now() + withinMs;
  let rows = await chargeRows(userId);
  while (rows.length < count && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    rows = await chargeRows(userId);
  }
  return rows.length;
}

describe('charge batching', () => {
  it('holds a charge until its batch fills, then writes the batch without waiting for the interval', async () => {
    const u = await payingUser();
    await chat(u.key);
    assert.equal(await waitForCharges(u.id, 1, 700), 0, 'a batch of one of two waits for the interval (a minute)');
    assert.equal(server.services.charges.depth, 1);
    await chat(u.key);
    assert.equal(await waitForCharges(u.id, 2, 5000), 2, 'the second charge filled the batch');
    assert.equal(server.services.charges.depth, 0);
  });
});
