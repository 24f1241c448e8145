/**
 * The fake OpenAI-format upstream, run in its own process by the harness (or by hand:
 * `npx tsx bench/upstream.ts --port 9000`). Plain node:http with keep-alive and precomputed payloads, so
 * that it costs as little as possible of the machine's two cores.
 *
 *   POST /v1/chat/completions   JSON, or SSE when `stream: true` (with `stream_options.include_usage`,
 *                               `"usage": null` on every chunk and a usage chunk at the end, as OpenAI)
 *   POST /v1/embeddings         one 1536-dimension vector per input
 *   GET  /v1/models
 *
 * Response profile (chunk count, chunk interval, latency) comes from the model name, see upstream-payloads.ts;
 * flags set the defaults: --chunks 20 --interval-ms 0 --latency-ms 0. When forked, it reports
 * `{ ready: true, port }` over IPC.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import './probe.ts';
import { buildChatPayloads, buildEmbeddingsPayload, parseProfile, type ChatPayloads, type ResponseProfile } from './upstream-payloads.ts';

const { values: flags } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    host: { type: 'string', default: '127.0.0.1' },
    chunks: { type: 'string', default: '20' },
    'interval-ms': { type: 'string', default: '0' },
    'latency-ms': { type: 'string', default: '0' },
  },
});

const defaults: ResponseProfile = { chunks: Number(flags.chunks), intervalMs: Number(flags['interval-ms']), latencyMs: Number(flags['latency-ms']) };
const chatCache = new Map<string, ChatPayloads>();
const embeddingsCache = new Map<string, Buffer>();

const JSON_HEADERS = { 'content-type': 'application/json' } as const;
const SSE_HEADERS = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' } as const;
const MODELS = Buffer.from(JSON.stringify({ object: 'list', data: [{ id: 'gpt-bench', object: 'model', created: 0, owned_by: 'bench' }] }));

function chatPayloads(model: string): ChatPayloads {
  let p = chatCache.get(model);
  if (!p) {
    p = buildChatPayloads(model, parseProfile(model, defaults));
    chatCache.set(model, p);
  }
  return p;
}

function sendJson(res: ServerResponse, status: number, body: Buffer): void {
  res.writeHead(status, { ...JSON_HEADERS, 'content-length': body.length });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, message: string): void {
  sendJson(res, status, Buffer.from(JSON.stringify({ error: { message, type: 'invalid_request_error', param: null, code: null } })));
}

const later = (ms: number, fn: () => void) => (ms > 0 ? setTimeout(fn, ms) : fn());

function streamChat(res: ServerResponse, p: ChatPayloads, includeUsage: boolean): void {
  const frames = includeUsage ? [...p.framesWithUsage, p.usageFrame, p.doneFrame] : [...p.frames, p.doneFrame];
  res.writeHead(200, SSE_HEADERS);
  const { intervalMs } = p.profile;
  if (intervalMs === 0) {
    for (const f of frames) res.write(f);
    res.end();
    return;
  }
  // The role chunk and the first content chunk go out together: time to first token is the latency alone.
  res.write(frames[0]);
  res.write(frames[1]);
  let next = 2;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    if (res.destroyed) return;
    res.write(frames[next++]);
    // Usage and [DONE] follow the finish chunk immediately, as real upstreams send them.
    if (next >= p.frames.length) {
      while (next < frames.length) res.write(frames[next++]);
      res.end();
      return;
    }
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  res.once('close', () => clearTimeout(timer));
}

function handleChat(res: ServerResponse, body: any): void {
  if (typeof body?.model !== 'string' || !Array.isArray(body.messages)) return sendError(res, 400, 'model and messages are required');
  const p = chatPayloads(body.model);
  later(p.profile.latencyMs, () => {
    if (body.stream === true) streamChat(res, p, body.stream_options?.include_usage === true);
    else sendJson(res, 200, p.json);
  });
}

function handleEmbeddings(res: ServerResponse, body: any): void {
  if (typeof body?.model !== 'string' || body.input === undefined) return sendError(res, 400, 'model and input are required');
  const inputs = Array.isArray(body.input) && typeof body.input[0] !== 'number' ? Math.max(1, body.input.length) : 1;
  const key = `${body.model}#${inputs}`;
  let payload = embeddingsCache.get(key);
  if (!payload) {
    payload = buildEmbeddingsPayload(body.model, inputs);
    embeddingsCache.set(key, payload);
  }
  const ready = payload;
  later(parseProfile(body.model, defaults).latencyMs, () => sendJson(res, 200, ready));
}

function route(req: IncomingMessage, res: ServerResponse, raw: string): void {
  const path = req.url?.split('?')[0];
  if (req.method === 'GET' && path === '/v1/models') return sendJson(res, 200, MODELS);
  if (req.method !== 'POST' || (path !== '/v1/chat/completions' && path !== '/v1/embeddings')) return sendError(res, 404, `no route ${req.method} ${path}`);
  let body: unknown;
  try {
    body = JSON.parse(raw);
  } catch {
    return sendError(res, 400, 'body is not JSON');
  }
  if (path === '/v1/chat/completions') handleChat(res, body);
  else handleEmbeddings(res, body);
}

const server = createServer((req, res) => {
  const parts: Buffer[] = [];
  req.on('data', (b: Buffer) => parts.push(b));
  req.on('end', () => route(req, res, parts.length === 1 ? parts[0].toString() : Buffer.concat(parts).toString()));
});
server.keepAliveTimeout = 120_000;
server.headersTimeout = 125_000;
server.requestTimeout = 0;

server.listen({ port: Number(flags.port), host: flags.host, backlog: 4096 }, () => {
  const { port } = server.address() as AddressInfo;
  if (process.send) process.send({ ready: true, port });
  else console.log(`fake upstream on http://${flags.host}:${port}/v1`);
});

process.on('message', (msg: { stop?: boolean }) => {
  if (msg?.stop) process.exit(0);
});
