/**
 * Writes a chat stream as Server-Sent Events: one `data:` line per item, `data: [DONE]` at the end,
 * comment heartbeats during long silences, respect for socket backpressure, and client disconnects
 * turned into an abort of the upstream call.
 */
import type { FastifyReply } from 'fastify';
import type { StreamItem } from '../../gateway/chat.ts';

export async function writeEventStream(
  reply: FastifyReply,
  items: AsyncGenerator<StreamItem, void, undefined>,
  heartbeatMs: number,
  headers: Record<string, string>,
): Promise<void> {
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
  const heartbeat = setInterval(() => {
    if (Date.now() - lastWrite >= heartbeatMs && !res.destroyed) {
      res.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
  }, Math.max(50, Math.floor(heartbeatMs / 2)));
  let failed = false;
  try {
    for await (const item of items) {
      if (res.destroyed) continue; // keep draining so the pipeline settles; the abort ends it quickly
      if ('error' in item && !('choices' in item)) failed = true;
      lastWrite = Date.now();
      if (!res.write(`data: ${JSON.stringify(item)}\n\n`)) {
        await new Promise<void>((resolve) => {
          const done = () => {
            res.off('drain', done);
            res.off('close', done);
            resolve();
          };
          res.on('drain', done);
          res.on('close', done);
        });
      }
    }
    if (!res.destroyed) res.end(failed ? undefined : 'data: [DONE]\n\n');
  } catch (err) {
    reply.log.error({ err }, 'stream writer failed');
    if (!res.destroyed) res.destroy();
  } finally {
    clearInterval(heartbeat);
  }
}
