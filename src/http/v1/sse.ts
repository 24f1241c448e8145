/**
 * Server-Sent Events on a hijacked reply: headers, heartbeats during long silences, socket backpressure, and
 * a stream that keeps draining after the client left (the request context aborts the upstream call, and the
 * pipeline must still settle). Each inbound API renders its own events on top (OpenAI `data:` lines here,
 * Anthropic named events in messages.ts).
 */
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyReply } from 'fastify';
import { isErrorItem, type StreamItem, type StreamItems } from '../../gateway/stream-relay.ts';

export interface EventStreamWriter {
  /** Writes pre-rendered SSE text; returns a promise (to await) only while the socket is backed up. No-op once the client is gone. */
  write(text: string): Promise<void> | undefined;
  readonly gone: boolean;
  /** Ends the response (with a last piece of text). */
  end(text?: string): void;
  /** Stops heartbeats; destroys the socket when `failed`. */
  close(failed?: boolean): void;
}

/** The fields of Node's ServerResponse and Socket that say who may write to the socket now (Node 20's http internals). */
type OwnedResponse = ServerResponse & { outputData?: unknown[]; _headerSent?: boolean };
type OwnedSocket = Socket & { _httpMessage?: unknown };

/**
 * The socket, when this response may frame its chunks and write them straight to it: chunked encoding, headers
 * on the wire (`headersSent` is true as soon as they are stored), the socket owned by this response (not by a
 * pipelined one ahead of it) and nothing queued in front; Node's `_writeRaw` checks the same. Otherwise
 * undefined, and `res.write` keeps the order. Why: `res.write` frames a chunk as four writes and corks the
 * socket until the next tick; one framed string costs about 2 µs less per event here (median of paired rounds,
 * `bench/sse-write.ts`), paid on every event of every stream.
 */
function ownedSocket(res: OwnedResponse): OwnedSocket | undefined {
  const socket = res.socket as OwnedSocket | null;
  if (!res.chunkedEncoding || res._headerSent !== true || !socket || socket._httpMessage !== res || !socket.writable) return undefined;
  return Array.isArray(res.outputData) && res.outputData.length === 0 ? socket : undefined;
}

/** One HTTP/1.1 chunk: size in hex (bytes, not UTF-16 units), the data, CRLF. */
export function chunkFrame(text: string): string {
  return `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n`;
}

/** Resolves once `emitter` drained or the response closed. */
function drained(emitter: NodeJS.EventEmitter, res: ServerResponse): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      emitter.off('drain', done);
      res.off('close', done);
      resolve();
    };
    emitter.on('drain', done);
    res.on('close', done);
  });
}

export function openEventStream(reply: FastifyReply, headers: Record<string, string>, heartbeatMs: number, heartbeat: string): EventStreamWriter {
  const res = reply.raw;
  reply.hijack();
  res.writeHead(200, {
    ...(reply.getHeaders() as Record<string, string>),
    ...headers,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  let lastWrite = Date.now();
  /** Writes `text` as one chunk; returns what to await 'drain' from when the socket is backed up. */
  const send = (text: string): NodeJS.EventEmitter | undefined => {
    lastWrite = Date.now();
    const socket = ownedSocket(res);
    if (socket) return socket.write(chunkFrame(text)) ? undefined : socket;
    return res.write(text) ? undefined : res;
  };
  const timer = setInterval(() => {
    if (Date.now() - lastWrite >= heartbeatMs && !res.destroyed) send(heartbeat);
  }, Math.max(50, Math.floor(heartbeatMs / 2)));
  return {
    get gone() {
      return res.destroyed;
    },
    write(text) {
      if (!text || res.destroyed) return;
      const backedUp = send(text);
      return backedUp && drained(backedUp, res);
    },
    end(text) {
      if (!res.destroyed) res.end(text);
    },
    close(failed = false) {
      clearInterval(timer);
      if (failed && !res.destroyed) res.destroy();
    },
  };
}

/**
 * Relays a stream's items to the client until it is over, then closes it (which settles and releases the
 * upstream). After the client left, items are still read so the pipeline settles; the abort ends them quickly.
 * `render` turns one batch into SSE text; `end` gives the text that closes a stream that did not fail.
 */
export async function relayEventStream(
  reply: FastifyReply,
  items: StreamItems,
  stream: EventStreamWriter,
  render: (batch: StreamItem[]) => string,
  end: () => string | undefined,
): Promise<void> {
  let failed = false;
  try {
    for (let batch = await items.read(); batch; batch = await items.read()) {
      if (stream.gone) continue;
      if (isErrorItem(batch[batch.length - 1])) failed = true;
      const backedUp = stream.write(render(batch));
      if (backedUp) await backedUp;
    }
    stream.end(failed || stream.gone ? undefined : end());
    stream.close();
  } catch (err) {
    reply.log.error({ err }, 'stream writer failed');
    stream.close(true);
  } finally {
    items.close();
  }
}

function renderOpenAI(batch: StreamItem[]): string {
  let text = '';
  for (let i = 0; i < batch.length; i++) text += `data: ${JSON.stringify(batch[i])}\n\n`;
  return text;
}

const openAIEnd = () => 'data: [DONE]\n\n';

/** OpenAI's stream: one `data:` line per item, `data: [DONE]` at the end (not after an error event). */
export function writeEventStream(reply: FastifyReply, items: StreamItems, heartbeatMs: number, headers: Record<string, string>): Promise<void> {
  const stream = openEventStream(reply, headers, heartbeatMs, ': keep-alive\n\n');
  return relayEventStream(reply, items, stream, renderOpenAI, openAIEnd);
}
