/**
 * `POST /v1/messages` (Anthropic Messages API) and `POST /v1/messages/count_tokens`: an adapter onto the
 * chat pipeline, so Anthropic SDK clients (and tools like Claude Code with ANTHROPIC_BASE_URL) can use every
 * provider behind the gateway. Requests are translated to the pivot format, responses and streams back;
 * errors on these routes take Anthropic's shape. `anthropic-version` and `anthropic-beta` are accepted and ignored.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Services } from '../../app.ts';
import { isErrorItem, type StreamItem, type StreamItems } from '../../gateway/stream-relay.ts';
import type { Candidate, RoutingPreferences } from '../../gateway/router.ts';
import { AppError } from '../../errors.ts';
import { estimatePromptTokens, promptTokenBound } from '../../providers/tokens.ts';
import { toErrorResponse } from '../errors.ts';
import { requestContext, servedByHeaders } from './context.ts';
import { openEventStream, relayEventStream } from './sse.ts';
import { anthropicErrorBody, toAnthropicError } from './messages/errors.ts';
import { fromAnthropicCountTokensRequest, fromAnthropicRequest, type InboundOptions } from './messages/request.ts';
import { toAnthropicResponse } from './messages/response.ts';
import { CountTokensRequestSchema, MessagesRequestSchema } from './messages/schema.ts';
import { AnthropicStreamEncoder, PING_EVENT, sseEvent } from './messages/stream.ts';

const AnthropicHeaders = z
  .object({
    'anthropic-version': z.string().optional().describe('Accepted and ignored (the gateway speaks 2023-06-01)'),
    'anthropic-beta': z.string().optional().describe('Accepted and ignored'),
  })
  .loose();

const security: Record<string, string[]>[] = [{ apiKeyAuth: [] }, { bearerAuth: [] }];

/** Anthropic's stream: named events, `ping` during long silences (see openEventStream for the rest). */
function writeAnthropicStream(reply: FastifyReply, items: StreamItems, encoder: AnthropicStreamEncoder, heartbeatMs: number, headers: Record<string, string>): Promise<void> {
  const stream = openEventStream(reply, headers, heartbeatMs, sseEvent(PING_EVENT));
  const render = (batch: StreamItem[]) => {
    let text = '';
    for (const item of batch) for (const event of isErrorItem(item) ? encoder.error(item) : encoder.push(item)) text += sseEvent(event);
    return text;
  };
  return relayEventStream(reply, items, stream, render, () => encoder.end().map(sseEvent).join(''));
}

export const messagesRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  // Errors on these routes (authentication included: the /v1 hook runs in this context) in Anthropic's shape.
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status, body, retryAfter } = toErrorResponse(err);
    if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err: (err as Error)?.message }, 'request rejected');
    const mapped = toAnthropicError(status);
    if (err instanceof AppError && err.headers) reply.headers(err.headers);
    if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
    reply.header('request-id', String(request.id));
    return reply.code(mapped.status).send(anthropicErrorBody(mapped.type, body.error.message, String(request.id)));
  });

  /**
   * What the candidate deployments can take. Fields only Anthropic-format upstreams understand (thinking,
   * top_k, cache_control) are kept when no candidate speaks the OpenAI wire format, which forwards unknown
   * fields verbatim; thinking is dropped when the catalog says a candidate model does not reason.
   */
  const targetsOf = (model: string, prefs: RoutingPreferences): InboundOptions => {
    let candidates: Candidate[];
    try {
      candidates = services.gateway.router.plan(model, 'chat', prefs).candidates;
    } catch {
      return {}; // the pipeline reports an unknown model properly
    }
    const { catalog } = services;
    const capabilities = (c: Candidate) => {
      const preset = c.entry.provider.preset;
      const m = catalog.get(c.modelId) ?? catalog.get(`${c.entry.provider.id}/${c.target.model}`) ?? (preset ? catalog.get(`${preset}/${c.target.model}`) : undefined);
      return m?.capabilities;
    };
    return {
      anthropicExtras: candidates.every((c) => c.entry.provider.type !== 'openai'),
      reasoning: !candidates.some((c) => capabilities(c)?.reasoning === false),
    };
  };

  app.post('/messages', {
    schema: {
      tags: ['inference'],
      summary: 'Create a message (Anthropic Messages API; set stream: true for SSE)',
      description:
        'Anthropic-compatible: point an Anthropic SDK (or ANTHROPIC_BASE_URL) at the gateway and use any provider behind it. ' +
        'Authenticate with `x-api-key` (or a Bearer token). Usage follows Anthropic (`input_tokens` excludes cache reads and writes) ' +
        'and carries `cost` (USD). Errors are `{type: "error", error: {type, message}}`.',
      security,
      headers: AnthropicHeaders,
      body: MessagesRequestSchema,
    },
    handler: async (request, reply) => {
      const body = request.body;
      const req = fromAnthropicRequest(body, targetsOf(body.model, { models: body.models, provider: body.provider }));
      const stopSequences = body.stop_sequences ?? [];
      const ctx = requestContext(request, reply);
      const outcome = await services.gateway.chat.complete(ctx, req);
      const headers = { ...outcome.headers, ...servedByHeaders(outcome.candidate.entry.provider.id, outcome.candidate.modelId), 'request-id': String(request.id) };
      if (outcome.kind === 'json') return reply.headers(headers).send(toAnthropicResponse(outcome.body, { stopSequences }));
      // message_start gets the quick estimate the pipeline admits with; message_delta the upstream's count.
      const encoder = new AnthropicStreamEncoder({ model: outcome.candidate.modelId, inputTokens: Math.ceil(promptTokenBound(req) / 4), stopSequences });
      services.metrics.activeStreams.inc();
      try {
        await writeAnthropicStream(reply, outcome.items, encoder, services.config.streamHeartbeatMs, headers);
      } finally {
        services.metrics.activeStreams.dec();
      }
      return reply;
    },
  });

  app.post('/messages/count_tokens', {
    schema: {
      tags: ['inference'],
      summary: 'Count the input tokens of a message request (Anthropic-compatible; a local estimate)',
      description: 'Returns `{input_tokens}` counted locally with the tokenizer; no upstream call is made and nothing is charged.',
      security,
      headers: AnthropicHeaders,
      body: CountTokensRequestSchema,
    },
    handler: async (request, reply) => {
      const body = request.body;
      // An unknown model is a 404, as on /v1/messages.
      services.gateway.router.plan(body.model, 'chat', { models: body.models, provider: body.provider });
      const req = fromAnthropicCountTokensRequest(body);
      return reply.header('request-id', String(request.id)).send({ input_tokens: estimatePromptTokens(req) });
    },
  });
};
