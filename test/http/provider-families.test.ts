/**
 * Every provider family end to end: the official openai SDK -> Switchyard -> a fake upstream speaking the
 * provider's real wire format. One table, four families: OpenAI, Anthropic, Gemini, Bedrock.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type OpenAI from 'openai';
import { startTestServer, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream, type FakeRequest } from '../support/fake-upstream.ts';
import { scripted, type ProviderFake, type ScriptedTurn } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { fakeAnthropic, SIGNATURE, thinkingToolLoop } from '../support/fake-anthropic.ts';
import { fakeGemini } from '../support/fake-gemini.ts';
import { fakeBedrock } from '../support/fake-bedrock.ts';
import { countText } from '../../src/providers/tokens.ts';

interface Family {
  fake: ProviderFake;
  id: string;
  /** Whether the format has a cache-write token count. */
  cacheWrite: boolean;
  /** JSON mode: how the fake should answer, and how the upstream request shows the mode was asked for. */
  jsonTurn(req: FakeRequest, json: string): ScriptedTurn;
  jsonRequested(req: FakeRequest): boolean;
}

const forcedTool = (json: string): ScriptedTurn => ({ toolCalls: [{ id: 'toolu_json', name: 'answer', arguments: json }] });

const FAMILIES: Family[] = [
  { fake: fakeOpenAI, id: 'up-openai', cacheWrite: false, jsonTurn: (_r, json) => ({ text: json }), jsonRequested: (r) => r.body?.response_format?.type === 'json_schema' },
  {
    fake: fakeAnthropic,
    id: 'up-anthropic',
    cacheWrite: true,
    jsonTurn: (_r, json) => forcedTool(json),
    jsonRequested: (r) => r.body?.tool_choice?.type === 'tool' && r.body.tools.some((t: any) => t.name === r.body.tool_choice.name),
  },
  {
    fake: fakeGemini,
    id: 'up-gemini',
    cacheWrite: false,
    jsonTurn: (_r, json) => ({ text: json }),
    jsonRequested: (r) => r.body?.generationConfig?.responseMimeType === 'application/json',
  },
  {
    fake: fakeBedrock,
    id: 'up-bedrock',
    cacheWrite: true,
    jsonTurn: (_r, json) => forcedTool(json),
    jsonRequested: (r) => Boolean(r.body?.toolConfig?.toolChoice?.tool?.name),
  },
];

// USD per million tokens, chosen so every token kind has a distinct price.
const PRICES = { input: 3, output: 15, cached_input: 0.3, cache_write: 3.75 };
const expectedCost = (u: { input: number; output: number; cacheRead?: number; cacheWrite?: number }) =>
  (u.input * 3_000_000 + (u.cacheRead ?? 0) * 300_000 + (u.cacheWrite ?? 0) * 3_750_000 + u.output * 15_000_000) / 1e12;

const fakes = new Map<string, FakeUpstream>();
let server: TestServer;
let client: OpenAI;

before(async () => {
  for (const f of FAMILIES) fakes.set(f.id, await startFakeUpstream());
  const backup = await startFakeUpstream();
  fakes.set('backup', backup);
  const azure = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: 'from azure', usage: { input: 5, output: 2 } })));
  fakes.set('azure', azure);
  server = await startTestServer({
    providers: [
      ...FAMILIES.map((f) => ({
        id: f.id,
        type: f.fake.format,
        base_url: fakes.get(f.id)!.url,
        api_key: 'upstream-secret',
        headers: {},
        ...(f.fake.format === 'bedrock' ? { api_key: undefined, region: 'us-east-1', access_key_id: 'AKIDTEST', secret_access_key: 'secret' } : {}),
        timeout_ms: 1500,
      })),
      { id: 'backup', type: 'openai', base_url: backup.url, api_key: 'k', headers: {} },
      // The azure preset, with a reasoning deployment that takes max_completion_tokens only.
      { id: 'azure', base_url: azure.url, api_key: 'azure-secret', headers: {}, max_completion_tokens: true },
    ],
    prices: Object.fromEntries([...FAMILIES.map((f) => [`${f.id}/test-model`, PRICES]), ['backup/test-model', PRICES], ['azure/o-deployment', PRICES]]),
    models: [
      ...FAMILIES.map((f) => ({
        id: `failover/${f.id}`,
        strategy: 'fallback' as const,
        deployments: [{ provider: f.id, model: 'test-model', weight: 1 }],
        fallbacks: ['backup/test-model'],
      })),
      { id: 'team/reasoner', strategy: 'fallback' as const, deployments: [{ provider: 'azure', model: 'o-deployment', weight: 1 }], fallbacks: [] },
    ],
    upstream: { maxAttempts: 1, firstByteTimeoutMs: 1500, streamIdleTimeoutMs: 1500, totalTimeoutMs: 10_000 },
    streamHeartbeatMs: 150,
    requestLog: { batchSize: 1000, flushIntervalMs: 10_000, maxQueue: 10_000 },
  });
  client = server.openai();
});

after(async () => {
  await server?.stop();
  for (const f of fakes.values()) await f.close();
});

describe('Anthropic thinking through the OpenAI API', () => {
  const tools = [{ type: 'function' as const, function: { name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
  const ask = { role: 'user' as const, content: 'Weather in Paris?' };
  const result = { role: 'tool' as const, tool_call_id: 'toolu_w1', content: '21 C' };

  it('returns the signed thinking as thinking_blocks, streamed or not, next to reasoning_content', async () => {
    const up = fakes.get('up-anthropic')!;
    up.setHandler(thinkingToolLoop);
    const done = await client.chat.completions.create({ model: 'up-anthropic/test-model', reasoning_effort: 'low', tools, messages: [ask] });
    const message = done.choices[0]!.message as any;
    assert.equal(message.reasoning_content, 'I need the weather tool.');
    assert.deepEqual(message.thinking_blocks, [{ type: 'thinking', thinking: 'I need the weather tool.', signature: SIGNATURE }]);

    const stream = await client.chat.completions.create({ model: 'up-anthropic/test-model', reasoning_effort: 'low', tools, messages: [ask], stream: true });
    const blocks: unknown[] = [];
    for await (const chunk of stream) blocks.push(...(((chunk.choices[0]?.delta as any)?.thinking_blocks as unknown[]) ?? []));
    assert.deepEqual(blocks, [{ type: 'thinking', thinking: '', signature: SIGNATURE }]);
  });

  it('a client that keeps thinking_blocks continues the tool loop with thinking; one that drops them gets an answer without it', async () => {
    const up = fakes.get('up-anthropic')!;
    up.setHandler(thinkingToolLoop);
    const first = (await client.chat.completions.create({ model: 'up-anthropic/test-model', reasoning_effort: 'low', tools, messages: [ask] })).choices[0]!.message;

    const kept = await client.chat.completions.create({ model: 'up-anthropic/test-model', reasoning_effort: 'low', tools, messages: [ask, first as any, result] });
    assert.equal(kept.choices[0]!.message.content, 'It is 21 degrees.');
    let sent = up.requests.at(-1)!.body;
    assert.equal(sent.thinking.type, 'enabled');
    assert.deepEqual(sent.messages[1].content[0], { type: 'thinking', thinking: 'I need the weather tool.', signature: SIGNATURE });

    const { thinking_blocks: _dropped, ...plain } = first as any;
    const without = await client.chat.completions.create({ model: 'up-anthropic/test-model', reasoning_effort: 'low', max_tokens: 500, tools, messages: [ask, plain, result] });
    assert.equal(without.choices[0]!.message.content, 'It is 21 degrees.');
    sent = up.requests.at(-1)!.body;
    assert.equal('thinking' in sent, false, 'thinking is off for a tool loop whose thinking was not sent back');
    assert.equal(sent.max_tokens, 500, 'and so is the thinking budget on top of max_tokens');
    assert.equal(sent.messages[1].content[0].type, 'tool_use');
  });
});

describe('azure with max_completion_tokens', () => {
  it('sends a max_tokens limit as max_completion_tokens to a deployment configured for it', async () => {
    const azure = fakes.get('azure')!;
    const done = await client.chat.completions.create({ model: 'team/reasoner', max_tokens: 77, messages: [{ role: 'user', content: 'x' }] });
    assert.equal(done.choices[0]!.message.content, 'from azure');
    const sent = azure.requests.at(-1)!;
    assert.equal(sent.path, '/openai/deployments/o-deployment/chat/completions');
    assert.equal(sent.query.get('api-version'), '2024-10-21');
    assert.equal(sent.headers['api-key'], 'azure-secret');
    assert.equal(sent.body.max_completion_tokens, 77);
    assert.equal('max_tokens' in sent.body, false);
  });
});

describe('stream heartbeats', () => {
  it('sends SSE comments during long upstream silences', async () => {
    fakes.get('up-openai')!.setHandler(scripted(fakeOpenAI, () => ({ text: 'slow answer', chunkDelayMs: 400 })));
    const res = await fetch(`${server.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${(client as any).apiKey}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'up-openai/test-model', stream: true, messages: [{ role: 'user', content: 'x' }] }),
    });
    const text = await res.text();
    assert.match(text, /^: keep-alive$/m);
    assert.match(text, /data: \[DONE\]/);
  });
});

async function lastLog(requestId: string) {
  await server.services.requestLog.flush();
  return server.services.database.db.selectFrom('request_logs').selectAll().where('request_id', '=', requestId).executeTakeFirst();
}

for (const fam of FAMILIES) {
  const model = `${fam.id}/test-model`;
  const upstream = () => fakes.get(fam.id)!;
  const use = (script: (req: FakeRequest) => ScriptedTurn | { reply: any }) => upstream().setHandler(scripted(fam.fake, script));

  describe(`${fam.fake.format} family`, () => {
    it('non-streaming text with usage (incl. cached tokens) and exact cost', async () => {
      const usage = { input: 100, output: 7, cacheRead: 20, cacheWrite: fam.cacheWrite ? 10 : 0 };
      use((req) => ({ text: `echo: ${fam.fake.lastUserText(req)}`, usage }));
      const res = await client.chat.completions.create({ model, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'ping' }] });
      assert.equal(res.choices[0].message.content, 'echo: ping');
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.equal(res.model, model);
      assert.equal(res.usage!.prompt_tokens, 100 + 20 + usage.cacheWrite);
      assert.equal(res.usage!.completion_tokens, 7);
      assert.equal(res.usage!.prompt_tokens_details!.cached_tokens, 20);
      assert.equal((res.usage as any).cost, expectedCost(usage));
      const sent = upstream().requests.at(-1)!;
      assert.ok(!JSON.stringify(sent.body).includes('sk-test-admin'), 'the client key never reaches the upstream');
    });

    it('streaming text with a usage chunk', async () => {
      const usage = { input: 50, output: 12, cacheRead: 0, cacheWrite: 0 };
      use(() => ({ text: 'The quick brown fox jumps', usage }));
      const stream = await client.chat.completions.create({ model, stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'go' }] });
      let text = '';
      let finalUsage: any;
      let finish: string | null = null;
      for await (const chunk of stream) {
        text += chunk.choices[0]?.delta?.content ?? '';
        if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
        if (chunk.usage) finalUsage = chunk.usage;
        assert.equal(chunk.model, model);
      }
      assert.equal(text, 'The quick brown fox jumps');
      assert.equal(finish, 'stop');
      assert.equal(finalUsage.prompt_tokens, 50);
      assert.equal(finalUsage.completion_tokens, 12);
      assert.equal(finalUsage.cost, expectedCost(usage));
    });

    it('tool calls in both directions', async () => {
      use((req) => {
        const body = JSON.stringify(req.body);
        if (body.includes('sunny-and-12C')) return { text: 'It is sunny.' };
        assert.deepEqual(fam.fake.toolNames(req), ['get_weather']);
        return { toolCalls: [{ id: 'call_abc123', name: 'get_weather', arguments: '{"city":"Oslo"}' }] };
      });
      const tools = [{ type: 'function' as const, function: { name: 'get_weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } }];
      const first = await client.chat.completions.create({ model, tools, tool_choice: 'auto', messages: [{ role: 'user', content: 'Weather in Oslo?' }] });
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      const call = first.choices[0].message.tool_calls![0] as any;
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Oslo' });
      const second = await client.chat.completions.create({
        model,
        tools,
        messages: [{ role: 'user', content: 'Weather in Oslo?' }, first.choices[0].message as any, { role: 'tool', tool_call_id: call.id, content: 'sunny-and-12C' }],
      });
      assert.equal(second.choices[0].message.content, 'It is sunny.');
      const sent = JSON.stringify(upstream().requests.at(-1)!.body);
      assert.ok(sent.includes('get_weather') && sent.includes('Oslo'), 'the assistant tool call was sent back upstream');
    });

    it('streamed tool calls assemble into valid arguments', async () => {
      use(() => ({ toolCalls: [{ id: 'call_s1', name: 'search', arguments: '{"query":"switchyard gateway","limit":3}' }] }));
      const stream = await client.chat.completions.create({
        model,
        stream: true,
        tools: [{ type: 'function', function: { name: 'search', parameters: { type: 'object', properties: { query: { type: 'string' }, limit: { type: 'number' } } } } }],
        messages: [{ role: 'user', content: 'find' }],
      });
      let name = '';
      let args = '';
      let finish: string | null = null;
      for await (const chunk of stream) {
        for (const t of chunk.choices[0]?.delta?.tool_calls ?? []) {
          name += t.function?.name ?? '';
          args += t.function?.arguments ?? '';
        }
        if (chunk.choices[0]?.finish_reason) finish = chunk.choices[0].finish_reason;
      }
      assert.equal(name, 'search');
      assert.deepEqual(JSON.parse(args), { query: 'switchyard gateway', limit: 3 });
      assert.equal(finish, 'tool_calls');
    });

    it('JSON mode (json_schema) returns JSON content', async () => {
      use((req) => fam.jsonTurn(req, '{"answer":42}'));
      const res = await client.chat.completions.create({
        model,
        response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] } } },
        messages: [{ role: 'user', content: 'the answer?' }],
      });
      assert.deepEqual(JSON.parse(res.choices[0].message.content!), { answer: 42 });
      assert.equal(res.choices[0].finish_reason, 'stop');
      assert.ok(fam.jsonRequested(upstream().requests.at(-1)!), 'the upstream was asked for JSON');
    });

    it('upstream 400 passes through with the provider message', async () => {
      use(() => ({ reply: fam.fake.error(400, 'the prompt is malformed somehow') }));
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
        assert.equal(e.status, 400);
        assert.match(e.message, /the prompt is malformed somehow/);
        return true;
      });
    });

    it('upstream 429 maps to 429, 5xx to 502', async () => {
      use(() => ({ reply: fam.fake.error(429, 'slow down') }));
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 429);
      use(() => ({ reply: fam.fake.error(500, 'boom') }));
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 502);
    });

    it('a transient failure fails over to the fallback model', async () => {
      use(() => ({ reply: fam.fake.error(503, 'unavailable') }));
      fakes.get('backup')!.setHandler(scripted(fakeOpenAI, () => ({ text: 'from backup' })));
      const res = await client.chat.completions.create({ model: `failover/${fam.id}`, messages: [{ role: "user", content: "x" }] }).withResponse();
      assert.equal(res.data.choices[0].message.content, 'from backup');
      assert.equal(res.response.headers.get('x-switchyard-provider'), 'backup');
      assert.equal((res.data as any).provider, 'backup');
    });

    it('an upstream that never answers times out with 504', async () => {
      upstream().setHandler(() => ({ hang: true }));
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), (e: any) => {
        assert.equal(e.status, 504);
        assert.equal(e.code, 'upstream_timeout');
        return true;
      });
    });

    it('malformed upstream data is a 502, not a crash', async () => {
      upstream().setHandler((req) =>
        fam.fake.isStream(req)
          ? fam.fake.format === 'bedrock'
            ? { raw: [new Uint8Array([0, 0, 0, 40, 0, 0, 0, 0, 1, 2, 3, 4, ...new Array(28).fill(7)])] }
            : { sse: ['{not json'] }
          : { status: 200, text: '<html>oops</html>', headers: { 'content-type': 'text/html' } },
      );
      await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }), (e: any) => e.status === 502 && e.code === 'upstream_malformed_response');
      await assert.rejects(
        (async () => {
          const s = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'x' }] });
          for await (const _ of s);
        })(),
        (e: any) => e.status === 502,
      );
    });

    it('missing upstream usage is estimated and marked', async () => {
      use(() => ({ text: 'an answer without any usage numbers', omitUsage: true }));
      const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: 'count me' }] });
      assert.ok(res.usage!.completion_tokens > 0);
      assert.equal((res.usage as any).estimated, true);
      assert.ok((res.usage as any).cost > 0);
    });

    it('a stream cut after the first byte ends with an error event, and is not charged', async () => {
      use(() => ({ text: 'alpha beta gamma delta epsilon zeta eta theta', cutAfter: 3, chunkDelayMs: 5 }));
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${(client as any).apiKey}`, 'content-type': 'application/json', 'x-request-id': `cut-${fam.id}` },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'x' }] }),
      });
      assert.equal(res.status, 200);
      const events = (await res.text()).split('\n\n').filter((e) => e.startsWith('data: '));
      const last = JSON.parse(events.at(-1)!.slice(6));
      assert.ok(last.error, `last event is an error: ${events.at(-1)}`);
      assert.ok(!events.includes('data: [DONE]'));
      // The SDK surfaces the in-stream error as an exception.
      await assert.rejects(
        (async () => {
          const s = await client.chat.completions.create({ model, stream: true, messages: [{ role: 'user', content: 'x' }] });
          for await (const _ of s);
        })(),
      );
      const log = await lastLog(`cut-${fam.id}`);
      assert.ok(log);
      assert.ok(log.status >= 500);
      assert.equal(log.cost_pico, '0');
    });

    it('a client that disconnects mid-stream aborts the upstream and pays for what it got', async () => {
      const words = Array.from({ length: 60 }, (_, i) => `w${i} `).join('');
      use(() => ({ text: words, chunkDelayMs: 40, omitUsage: true }));
      const aborted = upstream().aborted();
      const controller = new AbortController();
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${(client as any).apiKey}`, 'content-type': 'application/json', 'x-request-id': `abort-${fam.id}` },
        body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'long story' }] }),
        signal: controller.signal,
      });
      const reader = res.body!.getReader();
      let received = '';
      while (!/"content":"w\d/.test(received)) received += new TextDecoder().decode((await reader.read()).value);
      controller.abort();
      await aborted;
      // The settle runs once the pipeline sees the abort.
      let log;
      for (let i = 0; i < 50 && !log; i++) {
        log = await lastLog(`abort-${fam.id}`);
        if (!log) await new Promise((r) => setTimeout(r, 20));
      }
      assert.ok(log, 'request was logged');
      assert.equal(log.client_aborted, true);
      assert.equal(log.status, 499);
      assert.ok(log.output_tokens > 0 && log.output_tokens < countText(words), `charged for part of the answer (${log.output_tokens} of ${countText(words)})`);
      assert.ok(BigInt(log.cost_pico) > 0n);
    });
  });
}
