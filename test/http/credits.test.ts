/**
 * Prepaid credits through HTTP: admission holds, exact charges, idempotency, the ledger invariant under
 * concurrent load, stream-abort charging, free failures, grant caps and refund limits.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { recordedCharges } from '../../src/domain/credits/ledger.ts';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { fund } from '../support/identity.ts';

let server: TestServer;
let upstream: FakeUpstream;

// USD per million tokens: 1 in, 2 out -> one request with 10 in / 50 out costs exactly 110 micro-USD.
const PRICES = { input: 1, output: 2 };
const COST_PICO = 10n * 1_000_000n + 50n * 2_000_000n;
const MODEL = 'up/m';

before(async () => {
  upstream = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: 'fifty tokens worth of answer', usage: { input: 10, output: 50 } })));
  server = await startTestServer({
    credits: { mode: 'prepaid', maxGrantUsd: 10, dailyGrantLimitUsd: 25, chargeFlushIntervalMs: 20 },
    providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }],
    prices: { [MODEL]: PRICES },
    upstream: { maxAttempts: 1, firstByteTimeoutMs: 5000, streamIdleTimeoutMs: 5000, totalTimeoutMs: 20_000 },
  });
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

const json = async (r: Response): Promise<any> => r.json();
let userSeq = 0;

async function newUser() {
  const email = `payer${++userSeq}-${Date.now()}@example.com`;
  const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email, password: 'a long enough password' }, headers: { authorization: 'none' } }));
  const token = reg.access_token as string;
  // Lift the free plan's 20 requests per minute: these tests load one account hard.
  await server.request(`/api/admin/users/${reg.user.id}`, { method: 'PATCH', json: { limits: { rpm: 100_000 } } });
  const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'k' }, headers: { authorization: `Bearer ${token}` } }));
  return { id: reg.user.id as string, token, key: key.key as string, keyId: key.id as string };
}

const grant = (userId: string, usd: number, reason = 'test credit grant') => server.request('/api/admin/credits/add', { method: 'POST', json: { user_id: userId, amount_usd: usd, reason } });

function chat(key: string, body: Record<string, unknown> = {}) {
  return fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

async function credits(token: string) {
  await server.services.charges.flush();
  return json(await fetch(`${server.url}/api/credits`, { headers: { authorization: `Bearer ${token}` } }));
}

async function charges(accountId: string) {
  return server.services.database.db.selectFrom('credit_transactions').selectAll().where('account_id', '=', accountId).where('kind', '=', 'charge').execute();
}

describe('admission', () => {
  it('answers 402 insufficient_credits before any upstream call', async () => {
    const u = await newUser();
    const before = upstream.requests.length;
    const res = await chat(u.key);
    assert.equal(res.status, 402);
    const body = await json(res);
    assert.equal(body.error.code, 'insufficient_credits');
    assert.equal(upstream.requests.length, before, 'the upstream was never called');
  });

  it('charges exactly tokens x price and shows it in usage.cost', async () => {
    const u = await newUser();
    assert.equal((await grant(u.id, 1)).status, 201);
    const res = await chat(u.key);
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.usage.cost, Number(COST_PICO) / 1e12);
    const c = await credits(u.token);
    assert.equal(c.balance_pico, (1_000_000_000_000n - COST_PICO).toString());
    assert.equal(c.reserved_usd, 0);
    const rows = await charges(c.account_id);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].amount, (-COST_PICO).toString());
    assert.equal(rows[0].api_key_id, u.keyId);
    assert.equal(rows[0].model, MODEL);
  });
});

describe('concurrent load on one account', () => {
  it('never overspends, charges every success exactly once, and keeps balance == sum(ledger)', async () => {
    const u = await newUser();
    // Room for about 40 requests of 110 micro-USD at most; 200 are fired at once.
    assert.equal((await grant(u.id, 0.0045)).status, 201);
    const results = await Promise.all(Array.from({ length: 200 }, () => chat(u.key).then(async (r) => ({ status: r.status, body: await json(r) }))));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    assert.equal(ok.length + refused.length, 200, `only 200 and 402: ${[...new Set(results.map((r) => r.status))]}`);
    assert.ok(ok.length > 0 && refused.length > 0);
    const c = await credits(u.token);
    const rows = await charges(c.account_id);
    assert.equal(rows.length, ok.length, 'one charge per answered request');
    for (const r of rows) assert.equal(r.amount, (-COST_PICO).toString());
    const balance = BigInt(c.balance_pico);
    assert.ok(balance >= 0n, `no overspend: balance ${balance}`);
    assert.equal(balance, 4_500_000_000n - BigInt(ok.length) * COST_PICO);
    const check = await server.services.ledger.verify(c.account_id);
    assert.ok(check.ok, `balance ${check.balance} == sum ${check.sum}`);
    assert.equal(c.reserved_usd, 0, 'every hold was released or settled');
  });

  it('settlement retried with the same charge id is applied once', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    const acct = await server.services.ledger.account({ type: 'user', id: u.id });
    const charge = { accountId: acct.id, chargeId: 'retry-me', amount: 123_456n, apiKeyId: null, model: MODEL, requestId: 'r1' };
    await server.services.ledger.writeCharges([charge]);
    await server.services.ledger.writeCharges([charge, charge]);
    const rows = await charges(acct.id);
    assert.equal(rows.length, 1);
    assert.ok((await server.services.ledger.verify(acct.id)).ok);
  });

  it('finds the already-recorded charges of a batch by index probes, not by reading every charge', async () => {
    // A ledger with some history (rolled back afterwards) and no statistics, as in the embedded database
    // (no autovacuum): a join there became a hash join over every charge.
    let plan = '';
    const rollback = new Error('rollback');
    await assert.rejects(
      server.services.database.db.transaction().execute(async (trx) => {
        await sql`insert into credit_accounts (id, owner_type, owner_id) select 'acct_plan_' || i, 'user', 'usr_plan_' || i from generate_series(0, 3) i`.execute(trx);
        await sql`insert into credit_transactions (account_id, kind, amount, balance_after, reference_type, reference_id, actor_type)
          select 'acct_plan_' || (i % 4), 'charge', -1, 0, 'request', 'charge-' || i, 'system' from generate_series(1, 20000) i`.execute(trx);
        const { rows } = await sql<{ 'QUERY PLAN': string }>`explain ${recordedCharges([{ accountId: 'acct_plan_1', chargeId: 'charge-1' }, { accountId: 'acct_plan_2', chargeId: 'charge-2' }])}`.execute(trx);
        plan = rows.map((r) => r['QUERY PLAN']).join('\n');
        throw rollback;
      }),
      (err) => err === rollback,
    );
    assert.match(plan, /Nested Loop/, plan);
    assert.match(plan, /Index Cond: \(\(account_id = k\.account_id\) AND \(reference_id = k\.reference_id\)\)/, plan);
  });
});

describe('what is charged', () => {
  it('a failed upstream response is free and releases the hold', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    upstream.setHandler(scripted(fakeOpenAI, () => ({ reply: fakeOpenAI.error(500, 'boom') })));
    try {
      assert.equal((await chat(u.key)).status, 502);
    } finally {
      upstream.setHandler(scripted(fakeOpenAI, () => ({ text: 'fifty tokens worth of answer', usage: { input: 10, output: 50 } })));
    }
    const c = await credits(u.token);
    assert.equal(c.balance_usd, 1);
    assert.equal(c.reserved_usd, 0);
    assert.equal((await charges(c.account_id)).length, 0);
  });

  it('an empty answer is free', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    upstream.setHandler(scripted(fakeOpenAI, () => ({ text: '', usage: { input: 10, output: 0 } })));
    try {
      assert.equal((await chat(u.key)).status, 200);
    } finally {
      upstream.setHandler(scripted(fakeOpenAI, () => ({ text: 'fifty tokens worth of answer', usage: { input: 10, output: 50 } })));
    }
    const c = await credits(u.token);
    assert.equal(c.balance_usd, 1);
    assert.equal((await charges(c.account_id)).length, 0);
  });

  it('a stream cut by the client is charged for what was generated', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    const words = Array.from({ length: 80 }, (_, i) => `w${i} `).join('');
    upstream.setHandler(scripted(fakeOpenAI, () => ({ text: words, chunkDelayMs: 30, omitUsage: true })));
    try {
      const controller = new AbortController();
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${u.key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, stream: true, max_tokens: 400, messages: [{ role: 'user', content: 'long' }] }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      let seen = '';
      while (!/"content":"w\d/.test(seen)) seen += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      let rows: Awaited<ReturnType<typeof charges>> = [];
      const acct = await server.services.ledger.account({ type: 'user', id: u.id });
      for (let i = 0; i < 100 && !rows.length; i++) {
        await new Promise((r) => setTimeout(r, 20));
        await server.services.charges.flush();
        rows = await charges(acct.id);
      }
      assert.equal(rows.length, 1, 'one charge for the partial stream');
      const charged = -BigInt(rows[0].amount);
      const full = 80n * 2n * 2_000_000n; // an upper bound on the whole answer's output cost
      assert.ok(charged > 0n && charged < full, `charged for part of it: ${charged}`);
      const c = await credits(u.token);
      assert.equal(c.reserved_usd, 0);
    } finally {
      upstream.setHandler(scripted(fakeOpenAI, () => ({ text: 'fifty tokens worth of answer', usage: { input: 10, output: 50 } })));
    }
  });

  it('a key budget stops the key (402) while the account still has credit', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    const limited = await json(
      await server.request('/api/keys', { method: 'POST', json: { name: 'budget', limits: { budget: { amount_usd: 0.0003, period: 'day' } } }, headers: { authorization: `Bearer ${u.token}` } }),
    );
    const statuses = [];
    for (let i = 0; i < 5; i++) statuses.push((await chat(limited.key)).status);
    assert.deepEqual(statuses.slice(0, 2), [200, 200]);
    assert.equal(statuses.at(-1), 402);
    assert.equal((await chat(u.key)).status, 200, 'the account itself is fine');
  });

  it('org keys draw on the org account', async () => {
    const u = await newUser();
    const auth = { authorization: `Bearer ${u.token}` };
    const org = await json(await server.request('/api/orgs', { method: 'POST', json: { name: 'Payers Inc' }, headers: auth }));
    const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'org', org_id: org.id }, headers: auth }));
    assert.equal((await chat(key.key)).status, 402);
    assert.equal((await server.request('/api/admin/credits/add', { method: 'POST', json: { org_id: org.id, amount_usd: 1, reason: 'org credit grant' } })).status, 201);
    assert.equal((await chat(key.key)).status, 200);
    await server.services.charges.flush();
    const orgCredits = await json(await fetch(`${server.url}/api/credits?org_id=${org.id}`, { headers: auth }));
    assert.equal(orgCredits.balance_pico, (1_000_000_000_000n - COST_PICO).toString());
    const mine = await credits(u.token);
    assert.equal(mine.balance_usd, 0);
  });
});

describe('usage listing', () => {
  it('lists my requests newest first, with latency and, for streams, time to first token', async () => {
    const u = await newUser();
    // Through the ledger, not the admin API: the admin tests below count on the rolling daily grant cap.
    await fund(server.services, { type: 'user', id: u.id }, 1);
    const auth = { authorization: `Bearer ${u.token}` };
    assert.equal((await chat(u.key)).status, 200);
    const streamed = await chat(u.key, { stream: true });
    assert.equal(streamed.status, 200);
    assert.match(await streamed.text(), /data: \[DONE\]/);
    await server.services.requestLog.flush();
    const all = await json(await fetch(`${server.url}/api/usage`, { headers: auth }));
    assert.equal(all.data.length, 2);
    const [stream, plain] = all.data;
    assert.equal(stream.stream, true);
    assert.equal(typeof stream.ttft_ms, 'number');
    assert.ok(stream.ttft_ms >= 0 && stream.ttft_ms <= stream.latency_ms, `ttft ${stream.ttft_ms} within latency ${stream.latency_ms}`);
    assert.equal(plain.stream, false);
    assert.equal(plain.ttft_ms, null);
    assert.equal(plain.model, MODEL);
    assert.equal(plain.cost_usd, Number(COST_PICO) / 1e12);
    const first = await json(await fetch(`${server.url}/api/usage?limit=1&model=${encodeURIComponent(MODEL)}`, { headers: auth }));
    assert.deepEqual(first.data.map((r: any) => r.request_id), [stream.request_id]);
    const second = await json(await fetch(`${server.url}/api/usage?limit=1&cursor=${first.next_cursor}`, { headers: auth }));
    assert.deepEqual(second.data.map((r: any) => r.request_id), [plain.request_id]);
    assert.equal(second.next_cursor, null);
    assert.equal((await json(await fetch(`${server.url}/api/usage?model=other/model`, { headers: auth }))).data.length, 0);
    assert.equal((await fetch(`${server.url}/api/usage?limit=0`, { headers: auth })).status, 400);
    assert.equal((await fetch(`${server.url}/api/usage`)).status, 401);
  });
});

describe('admin credit operations', () => {
  it('enforces the per-grant cap and the rolling daily cap under concurrent grants', async () => {
    const u = await newUser();
    assert.equal((await grant(u.id, 10.000001)).status, 403);
    // Another admin identity would have its own cap; all of these come from the operator key: 25 USD per day.
    const used = await server.services.database.db
      .selectFrom('credit_transactions')
      .select((eb) => eb.fn.countAll<string>().as('n'))
      .where('kind', '=', 'grant')
      .executeTakeFirstOrThrow();
    assert.ok(Number(used.n) >= 0);
    const before = await server.services.database.db
      .selectFrom('credit_transactions')
      .select((eb) => eb.fn.coalesce(eb.fn.sum<string>('amount'), eb.val('0')).as('s'))
      .where('kind', '=', 'grant')
      .where('actor_id', '=', 'bootstrap')
      .executeTakeFirstOrThrow();
    const left = 25_000_000_000_000n - BigInt(before.s);
    const results = await Promise.all(Array.from({ length: 8 }, () => grant(u.id, 5).then((r) => r.status)));
    const granted = results.filter((s) => s === 201).length;
    assert.equal(granted, Number(left / 5_000_000_000_000n) > 8 ? 8 : Number(left / 5_000_000_000_000n), `statuses ${results}`);
    assert.ok(results.every((s) => s === 201 || s === 403));
  });

  it('refunds only charges, never more than charged across refunds, and concurrent refunds cannot overshoot', async () => {
    const admin = await startTestServer({
      credits: { mode: 'prepaid', maxGrantUsd: 1000, dailyGrantLimitUsd: 10_000 },
      providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }],
      prices: { [MODEL]: PRICES },
    });
    try {
      const reg = await json(await admin.request('/api/auth/register', { method: 'POST', json: { email: 'refund@example.com', password: 'a long enough password' }, headers: { authorization: 'none' } }));
      const key = await json(await admin.request('/api/keys', { method: 'POST', json: { name: 'k' }, headers: { authorization: `Bearer ${reg.access_token}` } }));
      const g = await json(await admin.request('/api/admin/credits/add', { method: 'POST', json: { user_id: reg.user.id, amount_usd: 1, reason: 'setup for refunds' } }));
      const r = await fetch(`${admin.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: MODEL, max_tokens: 50, messages: [{ role: 'user', content: 'x' }] }) });
      assert.equal(r.status, 200);
      await admin.services.charges.flush();
      const charge = (await admin.services.database.db.selectFrom('credit_transactions').selectAll().where('account_id', '=', g.account_id).where('kind', '=', 'charge').executeTakeFirstOrThrow());
      const refund = (body: object) => admin.request('/api/admin/credits/refund', { method: 'POST', json: { reason: 'refund for testing', ...body } });
      assert.equal((await refund({ transaction_id: g.id })).status, 400, 'a grant is not refundable');
      assert.equal((await refund({ transaction_id: '999999999' })).status, 404);
      assert.equal((await refund({ transaction_id: String(charge.id), amount_usd: 0.0002 })).status, 400, 'more than charged');
      assert.equal((await refund({ transaction_id: String(charge.id), amount_usd: 0.00005 })).status, 201);
      const parallel = await Promise.all(Array.from({ length: 6 }, () => refund({ transaction_id: String(charge.id), amount_usd: 0.00002 }).then((x) => x.status)));
      // 110 - 50 = 60 micro-USD left: exactly three refunds of 20 fit.
      assert.equal(parallel.filter((s) => s === 201).length, 3, `statuses ${parallel}`);
      assert.equal((await refund({ transaction_id: String(charge.id) })).status, 400, 'nothing left');
      assert.ok((await admin.services.ledger.verify(g.account_id)).ok);
    } finally {
      await admin.stop();
    }
  });

  it('adjusts signed amounts but never below zero', async () => {
    const u = await newUser();
    await grant(u.id, 1);
    const adjust = (amount: number) => server.request('/api/admin/credits/adjust', { method: 'POST', json: { user_id: u.id, amount_usd: amount, reason: 'manual correction' } });
    assert.equal((await adjust(-0.25)).status, 201);
    assert.equal((await adjust(-0.8)).status, 409);
    const c = await credits(u.token);
    assert.equal(c.balance_usd, 0.75);
  });

  it('bulk-add reports per account and counts caps on the total', async () => {
    const a = await newUser();
    const b = await newUser();
    const res = await server.request('/api/admin/credits/bulk-add', {
      method: 'POST',
      json: { reason: 'bulk credit for testing', grants: [{ user_id: a.id, amount_usd: 0.5 }, { user_id: 'usr_nope', amount_usd: 0.5 }, { user_id: b.id, amount_usd: 0.25 }] },
    });
    assert.equal(res.status, 200);
    const body = await json(res);
    assert.equal(body.granted, 2);
    assert.deepEqual(body.results.map((r: any) => r.ok), [true, false, true]);
    assert.equal((await credits(b.token)).balance_usd, 0.25);
  });

  it('rejects bad input precisely and writes nothing', async () => {
    const u = await newUser();
    const post = (path: string, json: unknown) => server.request(path, { method: 'POST', json });
    for (const [path, body] of [
      ['/api/admin/credits/add', { user_id: u.id, amount_usd: 1, reason: 'short' }],
      ['/api/admin/credits/add', { user_id: u.id, org_id: 'org_x', amount_usd: 1, reason: 'long enough reason' }],
      ['/api/admin/credits/add', { amount_usd: 1, reason: 'long enough reason' }],
      ['/api/admin/credits/add', { user_id: u.id, amount_usd: -1, reason: 'long enough reason' }],
      ['/api/admin/credits/add', { user_id: u.id, amount_usd: 0.0000001, reason: 'long enough reason' }],
      ['/api/admin/credits/add', { user_id: u.id, amount_usd: '1', reason: 'long enough reason' }],
      ['/api/admin/credits/adjust', { user_id: u.id, amount_usd: 0, reason: 'long enough reason' }],
      ['/api/admin/credits/refund', { transaction_id: 'abc', reason: 'x' }],
      ['/api/admin/credits/bulk-add', { reason: 'long enough reason', grants: [] }],
    ] as const) {
      const res = await post(path, body);
      assert.equal(res.status, 400, `${path} ${JSON.stringify(body)}`);
    }
    assert.equal((await post('/api/admin/credits/add', { user_id: 'usr_missing', amount_usd: 1, reason: 'long enough reason' })).status, 404);
    const malformed = await server.request('/api/admin/credits/add', { method: 'POST', body: '{"user_id":', headers: { 'content-type': 'application/json' } });
    assert.equal(malformed.status, 400);
    assert.equal((await credits(u.token)).balance_usd, 0);
    const asUser = await server.request('/api/admin/credits/add', { method: 'POST', json: { user_id: u.id, amount_usd: 1, reason: 'self service grant' }, headers: { authorization: `Bearer ${u.token}` } });
    assert.equal(asUser.status, 403);
  });

  it('lists transactions with filters, paging and true totals, and summarizes by kind', async () => {
    const u = await newUser();
    for (let i = 0; i < 5; i++) await grant(u.id, 0.1);
    for (let i = 0; i < 3; i++) assert.equal((await chat(u.key)).status, 200);
    await server.services.charges.flush();
    const auth = { authorization: `Bearer ${u.token}` };
    const all = await json(await fetch(`${server.url}/api/credits/transactions?limit=3`, { headers: auth }));
    assert.equal(all.total, 8);
    assert.equal(all.data.length, 3);
    assert.equal(all.totals.credits_usd, 0.5);
    assert.equal(all.totals.debits_usd, (3 * Number(COST_PICO)) / 1e12);
    let seen = all.data.length;
    let cursor = all.next_cursor;
    while (cursor) {
      const page = await json(await fetch(`${server.url}/api/credits/transactions?limit=3&cursor=${cursor}`, { headers: auth }));
      assert.equal(page.total, 8);
      seen += page.data.length;
      cursor = page.next_cursor;
    }
    assert.equal(seen, 8);
    const debits = await json(await fetch(`${server.url}/api/credits/transactions?direction=debit`, { headers: auth }));
    assert.equal(debits.total, 3);
    assert.ok(debits.data.every((t: any) => t.kind === 'charge'));
    const byAmount = await json(await fetch(`${server.url}/api/credits/transactions?sort=amount&order=asc&limit=2`, { headers: auth }));
    assert.equal(byAmount.data[0].kind, 'charge');
    const summary = await json(await server.request(`/api/admin/credits/summary?user_id=${u.id}`));
    const kinds = Object.fromEntries(summary.by_kind.map((k: any) => [k.kind, k.count]));
    assert.deepEqual(kinds, { charge: 3, grant: 5 });
    assert.equal((await fetch(`${server.url}/api/credits/transactions?kind=bogus`, { headers: auth })).status, 400);
    assert.equal((await fetch(`${server.url}/api/credits/transactions?cursor=notacursor`, { headers: auth })).status, 400);
    await server.services.requestLog.flush();
    const usage = await json(await fetch(`${server.url}/api/usage/summary`, { headers: auth }));
    assert.equal(usage.totals.requests, 3);
    assert.equal(usage.totals.cost_usd, (3 * Number(COST_PICO)) / 1e12);
  });
});
