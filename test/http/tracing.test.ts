/** Optional tracing: with tracing on, each upstream attempt is a span on the registered TracerProvider. */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { trace } from '@opentelemetry/api';
import { startTestServer, type TestServer } from '../support/server.ts';

interface Recorded {
  name: string;
  attributes: Record<string, unknown>;
  events: string[];
  status?: { code: number };
  ended: boolean;
}
const spans: Recorded[] = [];
// A minimal in-memory TracerProvider: the app only talks to @opentelemetry/api.
const fakeProvider = {
  getTracer: () => ({
    startSpan(name: string, opts: { attributes?: Record<string, unknown> } = {}) {
      const rec: Recorded = { name, attributes: { ...opts.attributes }, events: [], ended: false };
      spans.push(rec);
      const span: any = {
        setAttribute: (k: string, v: unknown) => ((rec.attributes[k] = v), span),
        setAttributes: (a: Record<string, unknown>) => (Object.assign(rec.attributes, a), span),
        addEvent: (e: string) => (rec.events.push(e), span),
        setStatus: (s: { code: number }) => ((rec.status = s), span),
        end: () => void (rec.ended = true),
        isRecording: () => !rec.ended,
        spanContext: () => ({ traceId: '0'.repeat(32), spanId: '0'.repeat(16), traceFlags: 1 }),
        updateName: () => span,
        recordException: () => {},
      };
      return span;
    },
  }),
};

let server: TestServer;
before(async () => {
  trace.setGlobalTracerProvider(fakeProvider as any);
  server = await startTestServer({ tracing: { enabled: true }, upstream: { maxAttempts: 1 } as any });
});
after(async () => server?.stop());

it('spans wrap upstream calls (plain, streamed and failed)', async () => {
  const client = server.openai();
  await client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: 'trace me' }] });
  const stream = await client.chat.completions.create({ model: 'mock/echo', stream: true, messages: [{ role: 'user', content: 'stream me too' }] });
  for await (const _ of stream) void _;
  await assert.rejects(client.chat.completions.create({ model: 'mock/echo', messages: [{ role: 'user', content: '[mock-error:503]' }] }));

  const [plain, streamed, failed] = spans;
  assert.equal(plain.name, 'upstream.chat');
  assert.equal(plain.attributes['gen_ai.system'], 'mock');
  assert.equal(plain.attributes['gen_ai.request.model'], 'echo');
  assert.ok(plain.ended);
  assert.equal(streamed.name, 'upstream.chat_stream');
  assert.ok(streamed.events.includes('first_chunk'));
  assert.ok((streamed.attributes['switchyard.stream.chunks'] as number) > 1);
  assert.ok(streamed.ended);
  assert.equal(failed.name, 'upstream.chat');
  assert.equal(failed.status?.code, 2); // SpanStatusCode.ERROR
  assert.equal(failed.attributes['error.type'], 'upstream_503');
  assert.ok(failed.ended);
});
