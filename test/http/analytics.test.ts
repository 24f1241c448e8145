/** Analytics API: numbers equal what was sent, bucket edges, validation, auth, error patterns, speed. */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startTestServer, type TestServer } from '../support/server.ts';
import type { RequestLogRecord } from '../../src/telemetry/request-log.ts';
import { rebuildAllRollups } from '../../src/domain/analytics/rollups.ts';

let server: TestServer;
before(async () => {
  server = await startTestServer({ upstream: { maxAttempts: 1 } as any, ...({ breakers: { minRequests: 1_000_000 } } as any) });
});
after(async () => server?.stop());

const get = async (path: string) => {
  const res = await server.request(path);
  return { status: res.status, body: (await res.json()) as any };
};

/** A request-log record with an exact timestamp, written through the real writer (so rollups follow). */
const rec = (at: string, over: Partial<RequestLogRecord> = {}): RequestLogRecord => ({
  request_id: `edge-${at}-${Math.random()}`,
  created_at: new Date(at),
  endpoint: 'chat',
  requested_model: 'edge/model',
  model: 'edge/model',
  provider: 'edge',
  stream: false,
  status: 200,
  input_tokens: 10,
  output_tokens: 5,
  cost_pico: '1000000',
  latency_ms: 120,
  api_key_id: 'key_edge',
  ...over,
});

describe('analytics: totals equal what was sent', () => {
  const sent = new Map<string, { requests: number; input: number; output: number; costPico: bigint }>();
  before(async () => {
    const client = server.openai();
    for (const [model, n] of [['mock/echo', 3], ['mock/tools', 2]] as const) {
      for (let i = 0; i < n; i++) {
        const res = await client.chat.completions.create({ model, messages: [{ role: 'user', content: `count me ${i} please ${'x '.repeat(i)}` }] });
        const s = sent.get(model) ?? { requests: 0, input: 0, output: 0, costPico: 0n };
        s.requests++;
        s.input += res.usage!.prompt_tokens;
        s.output += res.usage!.completion_tokens;
        s.costPico += BigInt(Math.round((res.usage as any).cost * 1e12));
        sent.set(model, s);
      }
    }
    await server.services.requestLog.flush();
  });

  it('by-model: requests, tokens and exact cost per model', async () => {
    const { status, body } = await get('/api/admin/analytics/by-model');
    assert.equal(status, 200);
    for (const [model, s] of sent) {
      const row = body.data.find((r: any) => r.model === model);
      assert.ok(row, `row for ${model}`);
      assert.equal(row.requests, s.requests);
      assert.equal(row.errors, 0);
      assert.equal(row.input_tokens, s.input);
      assert.equal(row.output_tokens, s.output);
      assert.equal(row.cost_pico, s.costPico.toString());
      assert.equal(row.cost_usd, Number(s.costPico) / 1e12);
      assert.ok(row.latency_p50_ms !== null && row.latency_p95_ms >= row.latency_p50_ms);
    }
  });

  it('summary, by-provider, by-key and by-user add up to the same totals', async () => {
    const total = [...sent.values()].reduce((a, s) => ({ requests: a.requests + s.requests, input: a.input + s.input, costPico: a.costPico + s.costPico }), { requests: 0, input: 0, costPico: 0n });
    const summary = (await get('/api/admin/analytics/summary')).body;
    assert.equal(summary.requests, total.requests);
    assert.equal(summary.input_tokens, total.input);
    assert.equal(summary.cost_pico, total.costPico.toString());
    const byProvider = (await get('/api/admin/analytics/by-provider')).body;
    assert.equal(byProvider.data.find((r: any) => r.provider === 'mock').requests, total.requests);
    for (const dim of ['by-key', 'by-user']) {
      const rows = (await get(`/api/admin/analytics/${dim}`)).body.data;
      assert.equal(rows.reduce((n: number, r: any) => n + r.requests, 0), total.requests, dim);
    }
  });

  it('rollups maintained incrementally equal rollups rebuilt from the raw log', async () => {
    const paths = ['/api/admin/analytics/by-model', '/api/admin/analytics/by-key', '/api/admin/analytics/errors'];
    const before = await Promise.all(paths.map(async (p) => (await get(p)).body));
    await rebuildAllRollups(server.services.database.db);
    const after = await Promise.all(paths.map(async (p) => (await get(p)).body));
    assert.deepEqual(after, before);
  });

  it('tokens-per-second as JSON and as Prometheus text', async () => {
    const json = (await get('/api/admin/analytics/tokens-per-second')).body;
    const echo = json.data.find((r: any) => r.model === 'mock/echo');
    assert.equal(echo.provider, 'mock');
    assert.equal(echo.output_tokens, sent.get('mock/echo')!.output);
    assert.ok(echo.throughput_tokens_per_second > 0);
    const res = await server.request('/api/admin/analytics/tokens-per-second?format=prometheus');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type')!, /text\/plain/);
    const text = await res.text();
    assert.match(text, /^# TYPE switchyard_throughput_tokens_per_second gauge$/m);
    const line = text.split('\n').find((l) => l.startsWith('switchyard_throughput_tokens_per_second{provider="mock",model="mock/echo"} '));
    assert.ok(line && Number(line.split(' ')[1]) > 0, 'a sample line for mock/echo');
  });
});

describe('analytics: time-series buckets are exact at the edges', () => {
  before(async () => {
    const w = server.services.requestLog;
    w.record(rec('2024-03-05T10:00:00.000Z'));
    w.record(rec('2024-03-05T10:59:59.999Z', { output_tokens: 7, cost_pico: '2500000' }));
    w.record(rec('2024-03-05T11:00:00.000Z'));
    w.record(rec('2024-03-05T11:30:00.000Z', { status: 503, error_code: 'upstream_503', error_message: 'boom', latency_ms: 4000 }));
    w.record(rec('2024-03-05T23:59:59.999Z'));
    w.record(rec('2024-03-06T00:00:00.000Z'));
    await w.flush();
  });

  it('hour buckets: 10:59:59.999 is in 10:00, 11:00:00.000 in 11:00', async () => {
    const { status, body } = await get('/api/admin/analytics/timeseries?metric=requests&bucket=hour&from=2024-03-05T09:00:00Z&to=2024-03-05T13:00:00Z&model=edge/model');
    assert.equal(status, 200);
    assert.deepEqual(body.points, [
      { t: '2024-03-05T09:00:00.000Z', value: 0 },
      { t: '2024-03-05T10:00:00.000Z', value: 2 },
      { t: '2024-03-05T11:00:00.000Z', value: 2 },
      { t: '2024-03-05T12:00:00.000Z', value: 0 },
    ]);
    // The same from the per-key rollups.
    const keyed = (await get('/api/admin/analytics/timeseries?metric=requests&bucket=hour&from=2024-03-05T09:00:00Z&to=2024-03-05T13:00:00Z&api_key_id=key_edge')).body;
    assert.deepEqual(keyed.points.map((p: any) => p.value), [0, 2, 2, 0]);
    const cost = (await get('/api/admin/analytics/timeseries?metric=cost&from=2024-03-05T10:00:00Z&to=2024-03-05T12:00:00Z&model=edge/model')).body;
    assert.deepEqual(cost.points.map((p: any) => p.value), [0.0000035, 0.000002]);
    const errors = (await get('/api/admin/analytics/timeseries?metric=errors&from=2024-03-05T10:00:00Z&to=2024-03-05T12:00:00Z&model=edge/model')).body;
    assert.deepEqual(errors.points.map((p: any) => p.value), [0, 1]);
    const p95 = (await get('/api/admin/analytics/timeseries?metric=latency_p95&from=2024-03-05T10:00:00Z&to=2024-03-05T13:00:00Z&model=edge/model')).body;
    // 120 ms lies in the (100, 200] histogram bucket; the failed 4 s request is not a latency sample.
    assert.ok(p95.points[0].value > 100 && p95.points[0].value <= 200);
    assert.equal(p95.points[2].value, null);
  });

  it('day buckets: 23:59:59.999 is in that day, midnight in the next', async () => {
    const { body } = await get('/api/admin/analytics/timeseries?metric=requests&bucket=day&from=2024-03-05T00:00:00Z&to=2024-03-07T00:00:00Z&model=edge/model');
    assert.deepEqual(body.points, [
      { t: '2024-03-05T00:00:00.000Z', value: 5 },
      { t: '2024-03-06T00:00:00.000Z', value: 1 },
    ]);
  });

  it('ranges are widened to whole hours and read days + hours exactly', async () => {
    const { body } = await get('/api/admin/analytics/summary?from=2024-03-05T10:30:00Z&to=2024-03-06T00:00:00.001Z&model=edge/model');
    assert.equal(body.from, '2024-03-05T10:00:00.000Z');
    assert.equal(body.to, '2024-03-06T01:00:00.000Z');
    assert.equal(body.requests, 6);
    assert.equal(body.errors, 1);
    assert.equal(body.output_tokens, 5 * 5 + 7);
    const span = (await get('/api/admin/analytics/summary?from=2024-03-01T00:00:00Z&to=2024-03-08T05:00:00Z&model=edge/model')).body;
    assert.equal(span.requests, 6, 'whole days come from the daily rollup, the rest from hours');
  });
});

describe('analytics: error patterns', () => {
  it('groups messages that differ only in numbers and quoted values, with examples', async () => {
    const client = server.openai();
    for (const code of [503, 502, 503]) {
      await assert.rejects(client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: `fail [mock-error:${code}]` }] }));
    }
    const w = server.services.requestLog;
    const now = new Date().toISOString();
    w.record(rec(now, { status: 400, error_type: 'invalid_request_error', error_code: 'bad', error_message: 'Unknown parameter "foo" in request req_8f3k2j9d0a' }));
    w.record(rec(now, { status: 400, error_type: 'invalid_request_error', error_code: 'bad', error_message: 'Unknown parameter "bar" in request req_1a2b3c4d5e' }));
    await w.flush();
    const { status, body } = await get('/api/admin/analytics/errors');
    assert.equal(status, 200);
    // The code is part of the fingerprint (upstream_503 and upstream_502 are different failures).
    const mock = body.patterns.find((p: any) => p.pattern === 'mock failure <n> requested' && p.error_code === 'upstream_503');
    assert.ok(mock, JSON.stringify(body.patterns));
    assert.equal(mock.count, 2);
    assert.equal(body.patterns.find((p: any) => p.error_code === 'upstream_502').count, 1);
    assert.deepEqual(mock.providers, ['mock']);
    assert.ok(mock.examples.length >= 1 && /mock failure 50\d requested/.test(mock.examples[0].message));
    const unknown = body.patterns.find((p: any) => p.error_code === 'bad');
    assert.equal(unknown.count, 2);
    assert.equal(unknown.pattern, 'Unknown parameter "<v>" in request <id>');
    assert.ok(body.total_errors >= 5);
  });
});

describe('analytics: validation and auth', () => {
  it('every analytics route needs the admin key', async () => {
    for (const path of ['summary', 'by-model', 'by-provider', 'by-key', 'by-user', 'timeseries', 'tokens-per-second', 'errors']) {
      const res = await fetch(`${server.url}/api/admin/analytics/${path}`);
      assert.equal(res.status, 401, path);
      assert.equal(((await res.json()) as any).error.code, 'missing_api_key');
      assert.equal((await fetch(`${server.url}/api/admin/analytics/${path}`, { headers: { authorization: 'Bearer nope-nope-nope' } })).status, 401);
    }
  });

  it('bad parameters are precise 400s', async () => {
    const cases: [string, RegExp][] = [
      ['/api/admin/analytics/timeseries?metric=nope', /metric/],
      ['/api/admin/analytics/timeseries?bucket=minute', /bucket/],
      ['/api/admin/analytics/summary?from=yesterday', /from/],
      ['/api/admin/analytics/summary?from=2024-03-06T00:00:00Z&to=2024-03-05T00:00:00Z', /before/],
      ['/api/admin/analytics/timeseries?bucket=hour&from=2024-01-01T00:00:00Z&to=2024-02-01T00:00:00Z', /too long/],
      ['/api/admin/analytics/summary?from=2020-01-01T00:00:00Z&to=2024-02-01T00:00:00Z', /too long/],
      ['/api/admin/analytics/by-model?limit=0', /limit/],
      ['/api/admin/analytics/by-key?limit=abc', /limit/],
      ['/api/admin/analytics/summary?colour=blue', /colour|unrecognized/i],
      ['/api/admin/analytics/by-key?model=mock/echo', /cannot be combined/],
      ['/api/admin/analytics/timeseries?api_key_id=k&provider=mock', /cannot be combined/],
    ];
    for (const [path, re] of cases) {
      const { status, body } = await get(path);
      assert.equal(status, 400, path);
      assert.equal(body.error.type, 'invalid_request_error');
      assert.match(body.error.message, re, path);
    }
  });

  it('the routes are documented in /docs', async () => {
    const spec: any = await (await fetch(`${server.url}/docs/json`)).json();
    for (const p of ['summary', 'by-model', 'by-provider', 'by-key', 'by-user', 'timeseries', 'tokens-per-second', 'errors']) assert.ok(spec.paths[`/api/admin/analytics/${p}`], p);
    assert.ok(spec.paths['/api/analytics/events/batch']);
    assert.ok(spec.paths['/status']);
  });
});
