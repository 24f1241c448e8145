/**
 * Server-Sent Events on a hijacked reply: headers, heartbeats during long silences, socket backpressure, and
 * a stream that keeps draining after the client left (the request context aborts the upstream call, and the
 * pipeline must still settle). Each inbound API renders its own events on top (OpenAI `data:` lines here,
 * Anthropic named events in messages.ts).
 */
import type { FastifyReply } from 'fastify';
import type { StreamItem } from '../../gateway/chat.ts';

export interface EventStreamWriter {
  /** Writes pre-rendered SSE text; waits while the socket is backed up. No-op once the client is gone. */
  write(text: string): Promise<void>;
  readonly gone: boolean;
  /** Ends the response (with a last piece of text). */
  end(text?: string): void;
  /** Stops heartbeats; destroys the socket when `failed`. */
  close(failed?: boolean): void;
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
  const timer = setInterval(() => {
    if (Date.now() - lastWrite >= heartbeatMs && !res.destroyed) {
      res.write(heartbeat);
      lastWrite = Date.now();
    }
  }, Math.max(50, Math.floor(heartbeatMs / 2)));
  return {
    get gone() {
      return res.destroyed;
    },
    async write(text) {
      if (!text || res.destroyed) return;
      lastWrite = Date.now();
      if (res.write(text)) return;
      await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
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

/** OpenAI's stream: one `data:` line per item, `data: [DONE]` at the end (not after an error event). */
export async function writeEventStream(
  reply: FastifyReply,
  items: AsyncGenerator<StreamItem, void, undefined>,
  heartbeatMs: number,
  headers: Record<string, string>,
): Promise<void> {
  const stream = openEventStream(reply, headers, heartbeatMs, ': keep-alive\n\n');
  let failed = false;
  try {
    for await (const item of items) {
      if (stream.gone) continue; // keep draining so the pipeline settles; the abort ends it quickly
      if ('error' in item && !('choices' in item)) failed = true;
      await stream.write(`data: ${JSON.stringify(item)}\n\n`);
    }
    stream.end(failed ? undefined : 'data: [DONE]\n\n');
    stream.close();
  } catch (err) {
    reply.log.error({ err }, 'stream writer failed');
    stream.close(true);
  }
}
