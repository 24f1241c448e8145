/**
 * Request-log entries for /v1 requests refused before they reached the pipeline, which records everything
 * else: a missing or wrong key (401), a refused scope (403), an anonymous rate limit (429), a body too large
 * (413), an unsupported media type (415), malformed JSON or a schema violation (400), and errors a handler raised
 * before handing over (an untranslatable /v1/messages body, an unknown model on count_tokens or /v1/models/{id}).
 * One O(1) `record()` into the write-behind request log after the response is sent; nothing on the request path.
 *
 * A request that reached the pipeline (`enteredPipeline`, called by requestContext) is never recorded here.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { RequestLogWriter } from '../../telemetry/request-log.ts';
import { toErrorResponse } from '../errors.ts';

/** `request_logs.endpoint` for a /v1 route: the pipeline's names for chat and embeddings, else the path after /v1/. */
export function endpointOf(route: string): string {
  const path = route.startsWith('/v1/') ? route.slice(4) : route;
  return path === 'chat/completions' ? 'chat' : path.slice(0, 100);
}

const piped = new WeakSet<FastifyRequest>();

/** Marks a request as the pipeline's: it records the request, whatever its outcome. */
export function enteredPipeline(request: FastifyRequest): void {
  piped.add(request);
}

/** Installs the hooks on the /v1 scope; call before its routes are registered. */
export function recordRejections(v1: FastifyInstance, requestLog: RequestLogWriter): void {
  const errors = new WeakMap<FastifyRequest, unknown>();

  v1.addHook('onError', (request, _reply, error, done) => {
    errors.set(request, error);
    done();
  });
  v1.addHook('onResponse', (request: FastifyRequest, reply: FastifyReply, done) => {
    const status = reply.statusCode;
    if (status < 400 || piped.has(request)) return done();
    const route = request.routeOptions.url;
    if (!route) return done();
    const err = errors.get(request);
    const body = err === undefined ? undefined : toErrorResponse(err).body.error;
    // The body is parsed (and so has a model) only for requests refused by schema validation.
    const parsed = request.body as { model?: unknown; stream?: unknown } | undefined;
    const p = request.principal;
    requestLog.record({
      request_id: String(request.id),
      endpoint: endpointOf(route),
      requested_model: parsed && typeof parsed.model === 'string' ? parsed.model.slice(0, 200) : '',
      stream: parsed?.stream === true,
      status,
      error_type: body?.type ?? 'invalid_request_error',
      error_code: body?.code ?? null,
      error_message: body ? body.message.slice(0, 1000) : null,
      latency_ms: Math.round(reply.elapsedTime),
      attempts: 0,
      api_key_id: p?.kind === 'api_key' ? p.key.id : null,
      user_id: p?.kind === 'api_key' || p?.kind === 'user' ? p.user.id : null,
      org_id: p?.kind === 'api_key' ? p.key.orgId : null,
    });
    done();
  });
}
