import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../gateway/context.ts';
import { Cancellation } from '../../providers/cancel.ts';
import { enteredPipeline } from './rejections.ts';

/** Builds the pipeline context for a request; its signal aborts when the client goes away. */
export function requestContext(request: FastifyRequest, reply: FastifyReply): RequestContext {
  enteredPipeline(request);
  const cancel = new Cancellation();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) cancel.abort(new DOMException('client disconnected', 'AbortError'));
  });
  return {
    requestId: String(request.id),
    principal: request.principal!,
    clientIp: request.ip,
    signal: cancel,
    startedAt: performance.now(),
  };
}

export function servedByHeaders(provider: string, model: string): Record<string, string> {
  return { 'x-switchyard-provider': provider, 'x-switchyard-model': model };
}
