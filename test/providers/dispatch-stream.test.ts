/**
 * Upstream bodies go from undici's parser straight to a consumer (transport.dispatchStream), streamed or whole, so the
 * timeouts, aborts, error statuses and flow control that undici's Readable used to carry are ours to keep.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dispatchStream, ErrorBody, TextBody, type BodyConsumer, type BodyControl, type SendOptions } from '../../src/providers/transport.ts';
import { DecodedBodyStream } from '../../src/providers/chat-stream.ts';
import { Cancellation } from '../../src/providers/cancel.ts';
import { UpstreamError } from '../../src/providers/errors.ts';
import type { ChatChunk, StreamDecoder } from '../../src/providers/types.ts';
import { httpProviderClient } from '../../src/providers/client.ts';
import { openaiAdapter } from '../../src/providers/openai/index.ts';

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

class Collected implements BodyConsumer {
  chunks: Buffer[] = [];
  ended = false;
  failure: unknown;
  readonly settled: Promise<void>;
  private done!: () => void;
  constructor(
    readonly status: number,
    readonly control: BodyControl,
  ) {
    this.settled = new Promise((resolve) => (this.done = resolve));
  }
  data(chunk: Buffer) {
    this.chunks.push(chunk);
  }
  end() {
    this.ended = true;
    this.done();
  }
  error(err: unknown) {
    this.failure = err;
    this.done();
  }
  get text() {
    return Buffer.concat(this.chunks).toString();
  }
}

describe('dispatchStream', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_req, res) => res.end();
  const closed: string[] = [];

  before(async () => {
    server = createServer((req, res) => {
      res.on('close', () => closed.push(req.url ?? ''));
      handler(req, res);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const opts = (o: Partial<SendOptions> = {}): SendOptions => ({ firstByteTimeoutMs: 5000, idleTimeoutMs: 5000, ...o });
  const open = (path: string, o?: Partial<SendOptions>) =>
    dispatchStream({ method: 'POST', url: `${url}${path}?q=1`, headers: { 'content-type': 'application/json' }, body: '{"a":1}' }, opts(o), (status, _headers, control) => new Collected(status, control));
  const waitFor = async (what: () => boolean) => {
    for (let i = 0; i < 200 && !what(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(what());
  };

  it('delivers the body in order and ends, with path, query, method and body sent as given', async () => {
    let seen = '';
    handler = (req, res) => {
      let body = '';
      req.on('data', (b) => (body += b));
      req.on('end', () => {
        seen = `${req.method} ${req.url} ${body}`;
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: 1\n\n');
        setTimeout(() => res.end('data: 2\n\n'), 20);
      });
    };
    const c = await open('/ok');
    await c.settled;
    assert.equal(seen, 'POST /ok?q=1 {"a":1}');
    assert.equal(c.status, 200);
    assert.equal(c.text, 'data: 1\n\ndata: 2\n\n');
    assert.equal(c.ended, true);
  });

  it('an error status reaches the consumer chosen for it', async () => {
    handler = (_req, res) => {
      res.writeHead(429, { 'content-type': 'application/json', 'retry-after': '7' });
      res.end('{"error":{"message":"slow down"}}');
    };
    const body = await dispatchStream({ method: 'POST', url: `${url}/limited`, headers: {}, body: '{}' }, opts(), (status, headers) => new ErrorBody(status, headers));
    assert.equal(body.statusCode, 429);
    assert.equal(body.headers['retry-after'], '7');
    assert.equal(await body.text, '{"error":{"message":"slow down"}}');
  });

  it('an upstream that goes quiet mid-body fails the consumer with an idle timeout', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('data: 1\n\n');
    };
    const c = await open('/quiet', { idleTimeoutMs: 300 });
    await c.settled;
    assert.equal(c.text, 'data: 1\n\n');
    assert.ok(c.failure instanceof UpstreamError);
    assert.equal((c.failure as UpstreamError).status, 504);
    assert.match((c.failure as UpstreamError).message, /waiting for more data/);
  });

  it('a short first-byte timeout rejects before any consumer exists', async () => {
    handler = () => {};
    const started = Date.now();
    await assert.rejects(open('/silent', { firstByteTimeoutMs: 200 }), (e: unknown) => e instanceof UpstreamError && e.status === 504 && /before the first byte/.test(e.message));
    assert.ok(Date.now() - started < 1500);
    await waitFor(() => closed.includes('/silent?q=1'));
  });

  it('a short first-byte timeout does not cut a body that outlasts it', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('data: 1\n\n');
      setTimeout(() => res.end('data: 2\n\n'), 1200);
    };
    const c = await open('/slow-body', { firstByteTimeoutMs: 500 });
    await c.settled;
    assert.equal(c.failure, undefined);
    assert.equal(c.text, 'data: 1\n\ndata: 2\n\n');
  });

  it("the caller's abort mid-body fails the consumer with the caller's reason and closes the connection", async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      res.write('data: 1\n\n');
    };
    const signal = new Cancellation();
    const c = await dispatchStream({ method: 'POST', url: `${url}/left`, headers: {}, body: '{}' }, opts({ signal, idleTimeoutMs: 30_000 }), (status, _h, control) => new Collected(status, control));
    await waitFor(() => c.chunks.length > 0);
    const reason = new Error('client left');
    signal.abort(reason);
    await waitFor(() => c.failure !== undefined);
    assert.equal(c.failure, reason);
    await waitFor(() => closed.includes('/left'));
  });

  it('an already aborted signal rejects with its reason and sends nothing', async () => {
    const signal = new Cancellation();
    const reason = new Error('gone before');
    signal.abort(reason);
    const before = closed.length;
    await assert.rejects(dispatchStream({ method: 'POST', url: `${url}/never`, headers: {}, body: '{}' }, opts({ signal }), (s, _h, control) => new Collected(s, control)), (e) => e === reason);
    assert.equal(closed.length, before);
  });

  it('control.abort() stops delivery and frees the connection; later callbacks are dropped', async () => {
    handler = (_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('data: x\n\n'), 5);
      res.on('close', () => clearInterval(timer));
    };
    const c = await open('/dropped');
    await waitFor(() => c.chunks.length > 2);
    c.control.abort();
    const count = c.chunks.length;
    await waitFor(() => closed.includes('/dropped?q=1'));
    await new Promise((r) => setTimeout(r, 30));
    assert.equal(c.chunks.length, count);
    assert.equal(c.ended, false);
    assert.equal(c.failure, undefined);
  });

  it('an unreachable upstream rejects with a 502', async () => {
    const probe = createServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    await assert.rejects(
      dispatchStream({ method: 'POST', url: `http://127.0.0.1:${port}/x`, headers: {}, body: '{}' }, opts(), (s, _h, control) => new Collected(s, control)),
      (e: unknown) => e instanceof UpstreamError && e.status === 502,
    );
  });
});

describe('whole answers (TextBody) and the client calls that read them', () => {
  let server: Server;
  let url: string;
  let handler: Handler = (_req, res) => res.end();

  before(async () => {
    server = createServer((req, res) => handler(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });

  const opts: SendOptions = { firstByteTimeoutMs: 5000, idleTimeoutMs: 5000 };
  const whole = (path: string) => dispatchStream({ method: 'POST', url: `${url}${path}`, headers: {}, body: '{}' }, opts, (status, headers) => new TextBody(status, headers));
  const target = () => ({ provider: { id: 'up', type: 'openai', baseUrl: url, headers: {} }, model: 'm' }) as any;
  const chat = () => httpProviderClient(openaiAdapter).chat(target(), { model: 'm', messages: [{ role: 'user', content: 'hi' }] } as any, opts);

  it('joins a body that arrives in pieces, a character split between them included', async () => {
    const euro = Buffer.from('€'); // three bytes
    handler = (_req, res) => {
      res.writeHead(200);
      res.write(Buffer.concat([Buffer.from('{"a":"'), euro.subarray(0, 1)]));
      setTimeout(() => res.end(Buffer.concat([euro.subarray(1), Buffer.from('"}')])), 20);
    };
    assert.equal(await (await whole('/pieces')).text, '{"a":"€"}');
  });

  it('a connection cut mid-body rejects the text with a 502, where an error body keeps what arrived', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write('{"half":');
      setTimeout(() => res.destroy(), 20);
    };
    await assert.rejects((await whole('/cut')).text, (e: unknown) => e instanceof UpstreamError && e.status === 502);
    const error = await dispatchStream({ method: 'POST', url: `${url}/cut`, headers: {}, body: '{}' }, opts, (status, headers) => new ErrorBody(status, headers));
    assert.equal(await error.text, '{"half":');
  });

  it('a chat answer that is not JSON is a malformed upstream, and a cut one a 502, never a crash', async () => {
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('<html>gateway timeout</html>');
    };
    await assert.rejects(chat(), (e: unknown) => e instanceof UpstreamError && e.code === 'upstream_malformed_response' && /not JSON: <html>/.test(e.message));
    handler = (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '500' });
      res.write('{"choices":[');
      setTimeout(() => res.destroy(), 20);
    };
    await assert.rejects(chat(), (e: unknown) => e instanceof UpstreamError && e.status === 502);
    handler = (_req, res) => {
      res.writeHead(400, { 'content-type': 'application/json' });
      res.end('{"error":{"message":"bad temperature","type":"invalid_request_error","param":"temperature"}}');
    };
    await assert.rejects(chat(), (e: unknown) => e instanceof UpstreamError && e.status === 400 && e.message === 'bad temperature');
  });
});

describe('DecodedBodyStream flow control', () => {
  const oneChunkPerByte: StreamDecoder = {
    usage: undefined,
    push: (bytes) => [...bytes].map((b) => ({ id: String(b) }) as unknown as ChatChunk),
    end: () => [],
  };
  const spy = () => {
    const calls: string[] = [];
    return { calls, control: { pause: () => calls.push('pause'), resume: () => calls.push('resume'), abort: () => calls.push('abort') } };
  };

  it('pauses the upstream once 256 chunks wait unread, and resumes when they are read', async () => {
    const { calls, control } = spy();
    const s = new DecodedBodyStream(control, oneChunkPerByte);
    s.data(Buffer.alloc(255));
    assert.deepEqual(calls, []);
    s.data(Buffer.alloc(1));
    s.data(Buffer.alloc(3));
    assert.deepEqual(calls, ['pause']);
    assert.equal((await s.read())?.length, 259);
    assert.deepEqual(calls, ['pause', 'resume']);
    s.end();
    assert.equal(await s.read(), undefined);
  });

  it('a decoder failure aborts the upstream; chunks already queued are read before the failure', async () => {
    const { calls, control } = spy();
    let n = 0;
    const failing: StreamDecoder = { usage: undefined, push: () => (n++ ? (() => { throw new Error('bad bytes'); })() : [{ id: 'a' } as unknown as ChatChunk]), end: () => [] };
    const s = new DecodedBodyStream(control, failing);
    s.data(Buffer.from('x'));
    s.data(Buffer.from('y'));
    assert.deepEqual(calls, ['abort']);
    assert.equal((await s.read())?.length, 1);
    await assert.rejects(s.read(), /bad bytes/);
    s.data(Buffer.from('z'));
    s.error(new Error('late'));
    await assert.rejects(s.read(), /bad bytes/);
  });

  it('close() aborts once and ignores what arrives after', async () => {
    const { calls, control } = spy();
    const s = new DecodedBodyStream(control, oneChunkPerByte);
    s.close();
    s.close();
    s.data(Buffer.alloc(1));
    assert.deepEqual(calls, ['abort']);
  });
});
