import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { ChatRequestSchema } from '../../providers/chat-schema.ts';
import type { Services } from '../../app.ts';
import { requestContext, servedByHeaders } from './context.ts';
import { writeEventStream } from './sse.ts';

export const chatRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/chat/completions', {
    schema: {
      tags: ['inference'],
      summary: 'Create a chat completion (OpenAI-compatible; set stream: true for SSE)',
      description:
        'Accepts every OpenAI Chat Completions parameter; unknown parameters pass through to OpenAI-compatible upstreams. ' +
        'Model ids are `provider/model` or bare names from the catalog. The response carries `provider` and `usage.cost` (USD).',
      security: [{ bearerAuth: [] }],
      body: ChatRequestSchema,
    },
    handler: async (request, reply) => {
      const ctx = requestContext(request, reply);
      const outcome = await services.gateway.chat.complete(ctx, request.body);
      const headers = { ...outcome.headers, ...servedByHeaders(outcome.candidate.entry.provider.id, outcome.candidate.modelId) };
      if (outcome.kind === 'json') return reply.headers(headers).send(outcome.body);
      services.metrics.activeStreams.inc();
      try {
        await writeEventStream(reply, outcome.items, services.config.streamHeartbeatMs, headers);
      } finally {
        services.metrics.activeStreams.dec();
      }
      return reply;
    },
  });
};
