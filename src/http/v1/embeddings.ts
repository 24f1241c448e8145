import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { EmbeddingsRequestSchema } from '../../providers/chat-schema.ts';
import type { Services } from '../../app.ts';
import { requestContext, servedByHeaders } from './context.ts';

export const embeddingsRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  app.post('/embeddings', {
    schema: {
      tags: ['inference'],
      summary: 'Create embeddings (OpenAI-compatible)',
      security: [{ bearerAuth: [] }],
      body: EmbeddingsRequestSchema,
    },
    handler: async (request, reply) => {
      const ctx = requestContext(request, reply);
      const { candidate, body, headers } = await services.gateway.embeddings.embed(ctx, request.body);
      return reply.headers({ ...headers, ...servedByHeaders(candidate.entry.provider.id, candidate.modelId) }).send(body);
    },
  });
};
