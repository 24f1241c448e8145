/**
 * Prepaid holds cover the worst case of what goes upstream: a request without max_tokens reserves the model's
 * full output (catalog max output) or is capped to what the balance affords, and the cap is sent upstream;
 * thinking budgets that adapters add to max_tokens are reserved; audio/file parts and json_schema response
 * formats count in the input bound. Fake upstreams honour max_tokens like real ones, and would otherwise
 * generate far more than any hold covered.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeRequest, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { fakeAnthropic } from '../support/fake-anthropic.ts';

let server: TestServer;
let openai: FakeUpstream;
let anthropic: FakeUpstream;

// USD per million tokens: 1 in, 2 out -> 1 and 2 micro-USD per token.
const PRICES = { input: 1, output: 2 };
/** What the fake "models" produce when nothing caps them: far beyond any hold below. */
const NATURAL_OUTPUT = 50_000;
let delayMs = 0;

/** Output as a real upstream would: never more than the max tokens it was sent. */
function produced(req: FakeRequest): number {
  const max = req.body?.max_completion_tokens ?? req.body?.max_tokens;
  return typeof max === 'number' ? Math.min(max, NATURAL_OUTPUT) : NATURAL_OUTPUT;
}

before(async () => {
  openai = await startFakeUpstream((req) => {
    if (req.path.endsWith('/embeddings')) return { json: { object: 'list', model: req.body.model, data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 7, total_tokens: 7 } } };
    const reply = scripted(fakeOpenAI, (r) => ({ text: 'a long answer', usage: { input: 10, output: produced(r) } }))(req);
    return delayMs ? new Promise((resolve) => setTimeout(() => resolve(reply), delayMs)) : reply;
  });
  anthropic = await startFakeUpstream(scripted(fakeAnthropic, (r) => ({ text: 'a long answer', usage: { input: 10, output: produced(r) } })));
  server = await startTestServer({
    credits: { mode: 'prepaid', chargeFlushIntervalMs: 20 },
    providers: [
      { id: 'up', type: 'openai', base_url: openai.url, api_key: 'k', headers: {} },
      { id: 'ant', type: 'anthropic', base_url: anthropic.url, api_key: 'k', headers: {} },
    ],
    prices: { 'up/m': PRICES, 'ant/claude-x': PRICES },
    upstream: { maxAttempts: 1, firstByteTimeoutMs: 5000, streamIdleTimeoutMs: 5000, totalTimeoutMs: 20_000 },
  });
  // A catalog model whose own output limit is known: 1000 tokens.
  const model = await server.request('/api/admin/models', { method: 'POST', json: { id: 'up/big', provider: 'up', max_output_tokens: 1000, pricing: PRICES } });
  assert.equal(model.status, 201, await model.text());
});
after(async () => {
  await server?.stop();
  await openai?.close();
  await anthropic?.close();
});

const json = async (r: Response): Promise<any> => r.json();
let seq = 0;

async function payer(usd: number) {
  const email = `holder${++seq}-${Date.now()}@example.com`;
  const reg = await json(await server.request('/api/auth/register', { method: 'POST', json: { email, password: 'a long enough password' }, headers: { authorization: 'none' } }));
  const key = await json(await server.request('/api/keys', { method: 'POST', json: { name: 'k' }, headers: { authorization: `Bearer ${reg.access_token}` } }));
  const g = await server.request('/api/admin/credits/add', { method: 'POST', json: { user_id: reg.user.id, amount_usd: usd, reason: 'credit for hold tests' } });
  assert.equal(g.status, 201);
  return { id: reg.user.id as string, token: reg.access_token as string, key: key.key as string };
}

function chat(key: string, body: Record<string, unknown>) {
  return fetch(`${server.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ messages: [{ role: 'user', content: 'hi' }], ...body }),
  });
}

async function credits(token: string) {
  await server.services.charges.flush();
  return json(await fetch(`${server.url}/api/credits`, { headers: { authorization: `Bearer ${token}` } }));
}

/** The balance never goes below zero, and the ledger still sums to it. */
async function assertNoOverspend(u: { token: string }) {
  const c = await credits(u.token);
  assert.ok(BigInt(c.balance_pico) >= 0n, `no overspend: balance ${c.balance_pico} pico`);
  assert.equal(c.reserved_usd, 0);
  assert.ok((await server.services.ledger.verify(c.account_id)).ok);
}

describe('requests without max_tokens', () => {
  it('a low balance caps the request: the cap is sent upstream and equals what the hold covers', async () => {
    const u = await payer(0.001); // 1000 micro-USD: about 490 output tokens at 2 micro-USD each
    const before = openai.requests.length;
    delayMs = 400;
    let reservedMicro = 0;
    try {
      const pending = chat(u.key, { model: 'up/m' });
      // Read the hold while the upstream is answering.
      for (let i = 0; i < 50 && !reservedMicro; i++) {
        await new Promise((r) => setTimeout(r, 20));
        reservedMicro = Math.round((await credits(u.token)).reserved_usd * 1e6);
      }
      assert.equal((await pending).status, 200);
    } finally {
      delayMs = 0;
    }
    const sent = openai.requests[before].body;
    assert.equal(typeof sent.max_tokens, 'number', 'the cap went upstream');
    assert.ok(sent.max_tokens >= 16 && sent.max_tokens <= 500, `cap ${sent.max_tokens} fits 1000 micro-USD`);
    // The hold is the cap's output cost plus the input bound (a few dozen tokens for "hi").
    const inputPart = reservedMicro - 2 * sent.max_tokens;
    assert.ok(inputPart > 0 && inputPart < 100, `hold ${reservedMicro} micro-USD = 2 x ${sent.max_tokens} + input`);
    assert.ok(reservedMicro <= 1000);
    await assertNoOverspend(u);
  });

  it('a model missing from the catalog gets RESERVE_OUTPUT_TOKENS as its cap, sent upstream', async () => {
    const u = await payer(1);
    const before = openai.requests.length;
    assert.equal((await chat(u.key, { model: 'up/m' })).status, 200);
    assert.equal(openai.requests[before].body.max_tokens, 4096);
    await assertNoOverspend(u);
  });

  it('a catalog model with a known output limit is reserved in full and sent uncapped when the balance covers it', async () => {
    const rich = await payer(1);
    let before = openai.requests.length;
    assert.equal((await chat(rich.key, { model: 'up/big' })).status, 200);
    assert.equal(openai.requests[before].body.max_tokens, undefined, 'the model keeps its own limit');

    const poor = await payer(0.0015); // 1500 micro-USD: fewer than the model's 1000 output tokens
    before = openai.requests.length;
    assert.equal((await chat(poor.key, { model: 'up/big' })).status, 200);
    const cap = openai.requests[before].body.max_tokens;
    assert.ok(typeof cap === 'number' && cap > 600 && cap < 750, `capped to what 1500 micro-USD affords: ${cap}`);
    await assertNoOverspend(poor);
  });

  it('402 before any upstream call when not even a minimal completion is affordable', async () => {
    const u = await payer(0.00005); // 50 micro-USD: the input bound alone takes about half
    const before = openai.requests.length;
    const res = await chat(u.key, { model: 'up/m' });
    assert.equal(res.status, 402);
    assert.equal((await json(res)).error.code, 'insufficient_credits');
    assert.equal(openai.requests.length, before);
  });
});

describe('thinking budgets are reserved', () => {
  it('max_tokens 100 + reasoning_effort high on Anthropic reserves 100 + the 16384-token budget: 402 when only 100 are affordable', async () => {
    const u = await payer(0.0005); // 500 micro-USD: 100 output tokens (200) fit, 16484 (32968) do not
    const before = anthropic.requests.length;
    const res = await chat(u.key, { model: 'ant/claude-x', max_tokens: 100, reasoning_effort: 'high' });
    assert.equal(res.status, 402);
    assert.equal(anthropic.requests.length, before, 'nothing was sent upstream');
    // Without thinking the same request fits, and goes up with exactly its own limit.
    assert.equal((await chat(u.key, { model: 'ant/claude-x', max_tokens: 100 })).status, 200);
    assert.equal(anthropic.requests[before].body.max_tokens, 100);
    await assertNoOverspend(u);
  });

  it('without max_tokens, a thinking request is capped so that cap + budget stays within the balance', async () => {
    const u = await payer(0.04); // 40000 micro-USD: 20000 tokens, less than Anthropic's default 4096 + 16384
    const before = anthropic.requests.length;
    assert.equal((await chat(u.key, { model: 'ant/claude-x', reasoning_effort: 'high' })).status, 200);
    const sent = anthropic.requests[before].body;
    assert.equal(sent.thinking?.budget_tokens, 16384);
    assert.ok(sent.max_tokens > 16384, `max_tokens ${sent.max_tokens} leaves answer room above the budget`);
    assert.ok(sent.max_tokens * 2 <= 40_000, `max_tokens ${sent.max_tokens} costs at most the balance`);
    await assertNoOverspend(u);
  });
});

describe('the input bound', () => {
  const tooBig = [
    ['input_audio', [{ type: 'input_audio', input_audio: { data: 'A'.repeat(200_000), format: 'wav' } }]],
    ['file', [{ type: 'file', file: { filename: 'a.pdf', file_data: `data:application/pdf;base64,${'A'.repeat(60_000)}` } }]],
  ] as const;
  for (const [kind, content] of tooBig) {
    it(`counts ${kind} parts: 402 when their size cannot be paid for`, async () => {
      const u = await payer(0.01); // 10000 micro-USD; the part alone bounds to 50000 / 60000 tokens
      const before = openai.requests.length;
      const res = await chat(u.key, { model: 'up/m', max_tokens: 10, messages: [{ role: 'user', content: [{ type: 'text', text: 'listen' }, ...content] }] });
      assert.equal(res.status, 402);
      assert.equal(openai.requests.length, before);
    });
  }

  it('counts a json_schema response format', async () => {
    const u = await payer(0.01);
    const before = openai.requests.length;
    const schema = { type: 'object', description: 'x'.repeat(50_000), properties: { a: { type: 'string' } } };
    const res = await chat(u.key, { model: 'up/m', max_tokens: 10, response_format: { type: 'json_schema', json_schema: { name: 'big', schema } } });
    assert.equal(res.status, 402);
    assert.equal(openai.requests.length, before);
  });

  it('bounds an embeddings input by its UTF-8 bytes (token ids exactly), without the tokenizer', async () => {
    const u = await payer(0.01); // 10000 micro-USD = 10000 input tokens at 1 micro-USD each
    const embed = (input: unknown) =>
      fetch(`${server.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${u.key}`, 'content-type': 'application/json' }, body: JSON.stringify({ model: 'up/m', input }) });
    const before = openai.requests.length;
    // 12000 bytes: a tokenizer counts far fewer tokens (about 1500), but the bound is what must be covered.
    const tooBig = await embed('x'.repeat(12_000));
    assert.equal(tooBig.status, 402, await tooBig.text());
    const ids = await embed([Array.from({ length: 10_001 }, () => 1)]);
    assert.equal(ids.status, 402, await ids.text());
    assert.equal(openai.requests.length, before);
    // Within the bound: the upstream answers and its usage is charged, not the bound.
    for (const input of [['é'.repeat(2000), 'y'.repeat(5000)], [Array.from({ length: 9000 }, () => 1)]]) {
      const ok = await embed(input);
      const body = await ok.text();
      assert.equal(ok.status, 200, body);
      assert.equal(JSON.parse(body).usage.prompt_tokens, 7);
    }
    const c = await credits(u.token);
    assert.equal(c.balance_pico, String(10_000_000_000n - 14_000_000n));
  });
});
