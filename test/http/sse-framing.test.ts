/**
 * SSE responses frame their own HTTP/1.1 chunks once the headers are out (src/http/v1/sse.ts). Read here with
 * a strict chunked parser on raw sockets: multi-byte text, several events per stream, keep-alive reuse,
 * pipelined requests, HTTP/1.0 (no chunking), Anthropic's stream on the same writer, and waiting for a drain.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { startTestServer, ADMIN_KEY, type TestServer } from '../support/server.ts';
import { startFakeUpstream, type FakeUpstream } from '../support/fake-upstream.ts';
import { scripted } from '../support/fake-script.ts';
import { fakeOpenAI } from '../support/fake-openai.ts';
import { chunkFrame, openEventStream } from '../../src/http/v1/sse.ts';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  /** The body, de-chunked when chunked (every size line checked against the bytes that follow it). */
  body: string;
  chunks: number;
}

/** Parses one response from `buf` at `from`; undefined while incomplete. Throws on a framing error. */
function parseResponse(buf: Buffer, from: number, untilClose: boolean, closed: boolean): { res: RawResponse; next: number } | undefined {
  const headEnd = buf.indexOf('\r\n\r\n', from);
  if (headEnd < 0) return undefined;
  const [statusLine, ...lines] = buf.subarray(from, headEnd).toString('latin1').split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  const status = Number(statusLine.split(' ')[1]);
  let at = headEnd + 4;
  if (headers['transfer-encoding'] !== 'chunked') {
    if (headers['content-length'] !== undefined) {
      const end = at + Number(headers['content-length']);
      if (buf.length < end) return undefined;
      return { res: { status, headers, body: buf.subarray(at, end).toString('utf8'), chunks: 0 }, next: end };
    }
    if (!untilClose) throw new Error('a body without length or chunking on a kept-alive connection');
    if (!closed) return undefined;
    return { res: { status, headers, body: buf.subarray(at).toString('utf8'), chunks: 0 }, next: buf.length };
  }
  const parts: Buffer[] = [];
  for (;;) {
    const lineEnd = buf.indexOf('\r\n', at);
    if (lineEnd < 0) return undefined;
    const sizeText = buf.subarray(at, lineEnd).toString('latin1');
    assert.match(sizeText, /^[0-9a-f]+$/, `chunk size line ${JSON.stringify(sizeText)}`);
    const size = parseInt(sizeText, 16);
    const dataEnd = lineEnd + 2 + size;
    if (buf.length < dataEnd + 2) return undefined;
    assert.equal(buf.subarray(dataEnd, dataEnd + 2).toString('latin1'), '\r\n', 'a chunk ends with CRLF right after its declared size');
    if (size === 0) return { res: { status, headers, body: Buffer.concat(parts).toString('utf8'), chunks: parts.length }, next: dataEnd + 2 };
    parts.push(buf.subarray(lineEnd + 2, dataEnd));
    at = dataEnd + 2;
  }
}

/** Sends `requests` on one connection (all at once when `pipelined`, else each after the last response) and reads `requests.length` responses. */
async function exchange(port: number, requests: string[], opts: { pipelined?: boolean; untilClose?: boolean } = {}): Promise<{ responses: RawResponse[]; closed: boolean }> {
  const socket: Socket = connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let buf = Buffer.alloc(0);
  let closed = false;
  const responses: RawResponse[] = [];
  let at = 0;
  let waiter: (() => void) | undefined;
  socket.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    waiter?.();
  });
  socket.on('close', () => {
    closed = true;
    waiter?.();
  });
  const next = async (): Promise<RawResponse> => {
    for (;;) {
      const parsed = parseResponse(buf, at, opts.untilClose === true, closed);
      if (parsed) {
        at = parsed.next;
        return parsed.res;
      }
      if (closed) throw new Error(`connection closed with ${buf.length - at} bytes unparsed`);
      await new Promise<void>((resolve) => (waiter = resolve));
    }
  };
  if (opts.pipelined) socket.write(requests.join(''));
  for (const request of requests) {
    if (!opts.pipelined) socket.write(request);
    responses.push(await next());
  }
  // A kept-alive connection must stay open after the last response (give a wrong close a moment to show).
  await new Promise((r) => setTimeout(r, 50));
  const wasClosed = closed;
  socket.destroy();
  return { responses, closed: wasClosed };
}

function post(path: string, body: unknown, opts: { version?: string; headers?: Record<string, string> } = {}): string {
  const json = JSON.stringify(body);
  const extra = Object.entries(opts.headers ?? {}).map(([k, v]) => `${k}: ${v}\r\n`).join('');
  return (
    `POST ${path} HTTP/${opts.version ?? '1.1'}\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${ADMIN_KEY}\r\n` +
    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(json)}\r\n${extra}\r\n${json}`
  );
}

/** The `data:` payloads of an SSE body, in order. */
const dataOf = (body: string) => body.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => e.slice(6));

function textOf(body: string): string {
  let text = '';
  for (const d of dataOf(body)) if (d !== '[DONE]') text += JSON.parse(d).choices[0]?.delta?.content ?? '';
  return text;
}

const TEXT = 'Grüße, 世界! Ünïcödé 🎉 across several chunks';

let upstream: FakeUpstream;
let server: TestServer;
let port: number;

before(async () => {
  // Pauses between upstream events, so the gateway relays them in several writes, not one.
  upstream = await startFakeUpstream(scripted(fakeOpenAI, () => ({ text: TEXT, chunkDelayMs: 5, usage: { input: 5, output: 9 } })));
  server = await startTestServer({ providers: [{ id: 'up', type: 'openai', base_url: upstream.url, api_key: 'k', headers: {} }], prices: { 'up/m': { input: 1, output: 2 } } });
  port = Number(new URL(server.url).port);
});
after(async () => {
  await server?.stop();
  await upstream?.close();
});

const chat = { model: 'up/m', stream: true, messages: [{ role: 'user', content: 'hi' }] };

describe('SSE chunk framing through the gateway', () => {
  it('frames multi-byte text by bytes, over several chunks, and keeps the connection for the next request', async () => {
    const { responses, closed } = await exchange(port, [post('/v1/chat/completions', chat), post('/v1/chat/completions', chat)]);
    for (const res of responses) {
      assert.equal(res.status, 200);
      assert.equal(res.headers['transfer-encoding'], 'chunked');
      assert.match(res.headers['content-type'], /text\/event-stream/);
      assert.ok(res.chunks >= 3, `relayed in ${res.chunks} chunks`);
      assert.equal(textOf(res.body), TEXT);
      assert.equal(dataOf(res.body).at(-1), '[DONE]');
    }
    assert.equal(closed, false, 'keep-alive survives a stream');
  });

  it('answers pipelined streams in order, each intact', async () => {
    const { responses } = await exchange(
      port,
      [post('/v1/chat/completions', chat, { headers: { 'x-request-id': 'first' } }), post('/v1/chat/completions', chat, { headers: { 'x-request-id': 'second' } })],
      { pipelined: true },
    );
    assert.deepEqual(responses.map((r) => r.headers['x-request-id']), ['first', 'second']);
    for (const res of responses) assert.equal(textOf(res.body), TEXT);
  });

  it('streams to an HTTP/1.0 client unchunked and closes', async () => {
    const { responses, closed } = await exchange(port, [post('/v1/chat/completions', chat, { version: '1.0' })], { untilClose: true });
    assert.equal(responses[0].status, 200);
    assert.equal(responses[0].headers['transfer-encoding'], undefined);
    assert.equal(textOf(responses[0].body), TEXT);
    assert.equal(closed, true);
  });

  it('carries the Anthropic stream the same way', async () => {
    const { responses } = await exchange(port, [post('/v1/messages', { model: 'up/m', max_tokens: 100, stream: true, messages: [{ role: 'user', content: 'hi' }] })]);
    const deltas = responses[0].body
      .split('\n\n')
      .filter((e) => e.startsWith('event: content_block_delta'))
      .map((e) => JSON.parse(e.split('\ndata: ')[1]).delta.text);
    assert.equal(deltas.join(''), TEXT);
    assert.match(responses[0].body, /event: message_stop/);
  });
});

describe('openEventStream', () => {
  it('frames a chunk by its UTF-8 length', () => {
    assert.equal(chunkFrame('é'), '2\r\né\r\n');
    assert.equal(chunkFrame('data: 🎉\n\n'), 'c\r\ndata: 🎉\n\n\r\n');
  });

  /** A bare node:http server whose handler writes `events` through openEventStream, counting res.write calls. */
  async function eventServer(events: string[]) {
    const resWrites: number[] = [];
    let waits = 0;
    const srv = createServer((req: IncomingMessage, res: ServerResponse) => {
      const reply = { raw: res, hijack() {}, getHeaders: () => ({}) } as unknown as FastifyReply;
      const originalWrite = res.write.bind(res) as (...a: unknown[]) => boolean;
      let count = 0;
      res.write = ((...a: unknown[]) => {
        count++;
        return originalWrite(...a);
      }) as typeof res.write;
      const stream = openEventStream(reply, {}, 60_000, ': ping\n\n');
      void (async () => {
        for (const e of events) {
          const backedUp = stream.write(e);
          if (backedUp) {
            waits++;
            await backedUp;
          }
          if (events.length < 50) await new Promise((r) => setTimeout(r, 2));
        }
        stream.end('data: end\n\n');
        stream.close();
        resWrites.push(count);
      })();
    });
    await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
    return { srv, port: (srv.address() as AddressInfo).port, resWrites, waits: () => waits };
  }

  it('writes through res.write only until the headers are out, then frames onto the socket', async () => {
    const events = ['data: 1\n\n', 'data: ü2\n\n', 'data: 3\n\n', 'data: 4\n\n'];
    const { srv, port: p, resWrites } = await eventServer(events);
    try {
      const get = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
      const { responses, closed } = await exchange(p, [get, get], { pipelined: true });
      for (const res of responses) {
        assert.equal(res.body, events.join('') + 'data: end\n\n');
        assert.equal(res.chunks, events.length + 1);
      }
      assert.equal(closed, false);
      // The first response: one res.write (with the headers). The pipelined second had no socket at first, so
      // its early writes queued through res.write, in order.
      assert.equal(resWrites[0], 1);
      assert.ok(resWrites[1] >= 1);
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });

  it('waits for the socket to drain while the client does not read, and loses nothing', async () => {
    const events = Array.from({ length: 120 }, (_, i) => `data: ${String(i).padStart(3, '0')}${'x'.repeat(64 * 1024)}\n\n`);
    const { srv, port: p, waits } = await eventServer(events);
    try {
      const socket = connect(p, '127.0.0.1');
      await new Promise<void>((resolve) => socket.once('connect', resolve));
      socket.pause();
      socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
      // 7.5 MB unread: more than loopback's socket buffers take, so the writer must be waiting on a drain.
      const deadline = Date.now() + 5000;
      while (waits() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(waits() > 0, 'the writer waited for a drain');
      const parts: Buffer[] = [];
      socket.on('data', (d: Buffer) => parts.push(d));
      socket.resume();
      const until = Date.now() + 10_000;
      await new Promise<void>((resolve, reject) => {
        const check = () => {
          if (Buffer.concat(parts).includes('\r\n0\r\n\r\n')) resolve();
          else if (Date.now() > until) reject(new Error('the stream did not finish after the client read again'));
          else setTimeout(check, 20);
        };
        check();
      });
      socket.destroy();
      const parsed = parseResponse(Buffer.concat(parts), 0, false, false)!;
      assert.equal(parsed.res.body, events.join('') + 'data: end\n\n');
      assert.equal(parsed.res.chunks, events.length + 1);
    } finally {
      srv.closeAllConnections();
      srv.close();
    }
  });
});
