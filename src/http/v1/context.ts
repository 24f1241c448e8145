import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestContext } from '../../gateway/context.ts';

/** Builds the pipeline context for a request; its signal aborts when the client goes away. */
export function requestContext(request: FastifyRequest, reply: FastifyReply): RequestContext {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new DOMException('client disconnected', 'AbortError'));
  });
  return {
    requestId: String(request.id),
    principal: request.principal!,
    clientIp: request.ip,
    signal: controller.signal,
    startedAt: performance.now(),
  };
}

export function servedByHeaders(provider: string, model: string): Record<string, string> {
  return { 'x-switchyard-provider': provider, 'x-switchyard-model': model };
}
