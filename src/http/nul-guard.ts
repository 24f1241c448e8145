/**
 * PostgreSQL text cannot hold NUL (U+0000): a string carrying one would fail deep in a query as a 500. The
 * platform API (/api/*) stores almost everything it is sent, so its JSON bodies, query strings and path
 * parameters are refused up front with a 400 naming the field. /v1 is left alone (it forwards prompts
 * upstream and stores only log metadata, which the request-log writer strips instead).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { badRequest } from '../errors.ts';

const NUL = '\u0000';

/** Path (dot-separated) of the first string or object key holding a NUL, or undefined. Iterative: bodies may nest deeply. */
export function findNul(value: unknown): string | undefined {
  const stack: [unknown, string][] = [[value, '']];
  while (stack.length) {
    const [v, path] = stack.pop()!;
    if (typeof v === 'string') {
      if (v.includes(NUL)) return path;
      continue;
    }
    if (v === null || typeof v !== 'object') continue;
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], path ? `${path}.${i}` : String(i)]);
      continue;
    }
    // Plain objects only (parsed JSON; query strings, whose prototype chain is Object.create(null)); buffers
    // such as raw webhook bodies are not text.
    const proto = Object.getPrototypeOf(v);
    if (proto !== null && proto !== Object.prototype && Object.getPrototypeOf(proto) !== null) continue;
    for (const [k, child] of Object.entries(v)) {
      const at = path ? `${path}.${k}` : k;
      if (k.includes(NUL)) return at.replaceAll(NUL, '\\u0000');
      stack.push([child, at]);
    }
  }
  return undefined;
}

/** preValidation hook: 400 `invalid_string` for a NUL anywhere in an /api request's params, query or body. */
export async function rejectNulOnApi(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  if (!request.url.startsWith('/api/')) return;
  for (const [where, value] of [
    ['path', request.params],
    ['query', request.query],
    ['body', request.body],
  ] as const) {
    const path = findNul(value);
    if (path !== undefined) throw badRequest(`Invalid ${where}: ${path || where} must not contain NUL (\\u0000) characters.`, 'invalid_string', path || null);
  }
}
