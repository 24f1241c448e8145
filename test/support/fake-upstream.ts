/**
 * A scriptable HTTP server on loopback that stands in for an upstream provider. Provider-specific fakes
 * (fake-openai.ts, fake-anthropic.ts, ...) build replies in each provider's real wire format on top of it.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRequest {
  method: string;
  /** Path with query string. */
  url: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  rawBody: Buffer;
  /** Parsed JSON body, or undefined when the body is not JSON. */
  body: any;
}

export type SseItem = string | { event?: string; data: unknown };

export type FakeReply =
  | { status?: number; headers?: Record<string, string>; delayMs?: number; json: unknown }
  | { status?: number; headers?: Record<string, string>; delayMs?: number; text: string }
  | {
      status?: number;
      headers?: Record<string, string>;
      delayMs?: number;
      /** SSE events: strings are sent as `data: <string>`; objects as `event:` + JSON `data:`. */
      sse: SseItem[];
      chunkDelayMs?: number;
      /** Destroy the socket after this many events (a stream cut midway). */
      cutAfter?: number;
    }
  | {
      status?: number;
      headers?: Record<string, string>;
      delayMs?: number;
      /** Raw body pieces written one by one (binary framings such as AWS event streams). */
      raw: (Uint8Array | string)[];
      chunkDelayMs?: number;
      cutAfter?: number;
    }
  /** Accept the request and never answer. */
  | { hang: true };

export type FakeHandler = (req: FakeRequest) => FakeReply | Promise<FakeReply>;

export interface FakeUpstream {
  /** Base URL, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request received, in order. */
  requests: FakeRequest[];
  setHandler(handler: FakeHandler): void;
  /** Resolves when a response was aborted by the client side (the gateway hung up). */
  aborted(): Promise<void>;
  abortedCount(): number;
  close(): Promise<void>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function sseFrame(item: SseItem): string {
  if (typeof item === 'string') return `data: ${item}\n\n`;
  const data = typeof item.data === 'string' ? item.data : JSON.stringify(item.data);
  return `${item.event ? `event: ${item.event}\n` : ''}data: ${data}\n\n`;
}

export async function startFakeUpstream(initial?: FakeHandler): Promise<FakeUpstream> {
  let handler: FakeHandler = initial ?? (() => ({ status: 500, json: { error: { message: 'no handler set' } } }));
  const requests: FakeRequest[] = [];
  let abortedCount = 0;
  let abortWaiters: (() => void)[] = [];
  const open = new Set<ServerResponse>();

  const server = createServer(async (req, res) => {
    open.add(res);
    res.on('close', () => {
      open.delete(res);
      if (!res.writableFinished) {
        abortedCount++;
        const w = abortWaiters;
        abortWaiters = [];
        w.forEach((f) => f());
      }
    });
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const rawBody = Buffer.concat(chunks);
    let body: any;
    try {
      body = rawBody.length ? JSON.parse(rawBody.toString('utf8')) : undefined;
    } catch {
      body = undefined;
    }
    const u = new URL(req.url ?? '/', 'http://fake');
    const fr: FakeRequest = { method: req.method ?? 'GET', url: req.url ?? '/', path: u.pathname, query: u.searchParams, headers: req.headers, rawBody, body };
    requests.push(fr);
    let reply: FakeReply;
    try {
      reply = await handler(fr);
    } catch (err) {
      reply = { status: 500, json: { error: { message: `fake handler threw: ${(err as Error).message}` } } };
    }
    if ('hang' in reply) return;
    if (reply.delayMs) await sleep(reply.delayMs);
    if (res.destroyed) return;
    const status = reply.status ?? 200;
    if ('json' in reply) {
      res.writeHead(status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.json));
      return;
    }
    if ('text' in reply) {
      res.writeHead(status, { 'content-type': 'text/plain', ...reply.headers });
      res.end(reply.text);
      return;
    }
    const pieces = 'sse' in reply ? reply.sse.map(sseFrame) : reply.raw;
    const contentType = 'sse' in reply ? 'text/event-stream' : 'application/octet-stream';
    res.writeHead(status, { 'content-type': contentType, 'cache-control': 'no-cache', ...reply.headers });
    res.flushHeaders();
    for (let i = 0; i < pieces.length; i++) {
      if (reply.cutAfter !== undefined && i >= reply.cutAfter) {
        res.destroy();
        return;
      }
      if (res.destroyed) return;
      // Wait for each write to flush, so a later cut (destroy) does not discard buffered pieces.
      await new Promise<void>((resolve) => res.write(pieces[i], () => resolve()));
      if (reply.chunkDelayMs) await sleep(reply.chunkDelayMs);
    }
    if (reply.cutAfter !== undefined && reply.cutAfter <= pieces.length) {
      res.destroy();
      return;
    }
    res.end();
  });
  server.keepAliveTimeout = 1000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    setHandler(h) {
      handler = h;
    },
    aborted: () => new Promise<void>((resolve) => abortWaiters.push(resolve)),
    abortedCount: () => abortedCount,
    async close() {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
