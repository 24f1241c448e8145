/**
 * One error shape for every route: `{ "error": { message, type, code, param } }` (OpenAI's shape, which
 * also satisfies the platform API's `{type, message, code}`), with the right status. Never a 500 for input.
 */
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors } from 'fastify-type-provider-zod';
import { AppError, unavailable } from '../errors.ts';
import { isRedisUnavailable } from '../store/redis.ts';

export interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

export function errorBody(status: number, type: string, message: string, code: string | null, param: string | null = null): ErrorBody {
  return { error: { message, type, code, param } };
}

const FASTIFY_CODES: Record<string, { type: string; code: string; message?: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { type: 'invalid_request_error', code: 'invalid_json' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { type: 'invalid_request_error', code: 'invalid_json', message: 'The request body is empty; a JSON object was expected.' },
  FST_ERR_CTP_BODY_TOO_LARGE: { type: 'invalid_request_error', code: 'request_too_large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { type: 'invalid_request_error', code: 'unsupported_media_type' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { type: 'invalid_request_error', code: 'invalid_content_length' },
};

/** What a Redis outage becomes: limits, reservations and sign-in protection cannot be checked, so nothing is admitted. */
const storeUnavailable = unavailable('A shared store this request needs (Redis) is unreachable. Retry shortly.', 'store_unavailable', 1);

export function toErrorResponse(err: unknown): { status: number; body: ErrorBody; retryAfter?: number } {
  if (isRedisUnavailable(err)) err = storeUnavailable;
  if (err instanceof AppError) {
    return { status: err.status, body: errorBody(err.status, err.type, err.message, err.code, err.param), retryAfter: err.retryAfter };
  }
  if (hasZodFastifySchemaValidationErrors(err)) {
    const first = err.validation[0];
    const where = (err as { validationContext?: string }).validationContext ?? 'body';
    const path = first?.instancePath ? first.instancePath.slice(1).replace(/\//g, '.') : '';
    const message = err.validation
      .slice(0, 5)
      .map((v) => `${v.instancePath ? v.instancePath.slice(1).replace(/\//g, '.') : where}: ${v.message}`)
      .join('; ');
    return { status: 400, body: errorBody(400, 'invalid_request_error', `Invalid ${where}: ${message}`, 'invalid_request', path || null) };
  }
  const fe = err as FastifyError;
  if (fe && typeof fe.code === 'string' && FASTIFY_CODES[fe.code]) {
    const known = FASTIFY_CODES[fe.code];
    const status = fe.statusCode ?? 400;
    let message = known.message ?? fe.message;
    if (fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || /JSON/.test(message)) message = `The request body is not valid JSON: ${fe.message}`;
    return { status, body: errorBody(status, known.type, message, known.code) };
  }
  if (fe && typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    const status = fe.statusCode;
    const isJson = err instanceof SyntaxError || /JSON/i.test(fe.message ?? '');
    return { status, body: errorBody(status, 'invalid_request_error', isJson ? `The request body is not valid JSON: ${fe.message}` : fe.message, isJson ? 'invalid_json' : 'invalid_request') };
  }
  return { status: 500, body: errorBody(500, 'api_error', 'Internal server error.', 'internal_error') };
}

export function sendError(reply: FastifyReply, err: unknown): FastifyReply {
  const { status, body, retryAfter } = toErrorResponse(err);
  if (err instanceof AppError && err.headers) reply.headers(err.headers);
  if (retryAfter !== undefined) reply.header('retry-after', String(Math.max(1, Math.ceil(retryAfter))));
  return reply.code(status).send(body);
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((err: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const { status } = toErrorResponse(err);
    // An outage fails every request alike: one line each, without the stack.
    if (isRedisUnavailable(err)) request.log.warn({ err: (err as Error).message || (err as Error).name }, 'request refused: Redis unreachable');
    else if (status >= 500) request.log.error({ err }, 'request failed');
    else request.log.debug({ err: (err as Error)?.message }, 'request rejected');
    return sendError(reply, err);
  });
  app.setNotFoundHandler((request, reply) => {
    reply.code(404).send(errorBody(404, 'not_found_error', `Route ${request.method} ${request.url.split('?')[0]} not found.`, 'route_not_found'));
  });
}
