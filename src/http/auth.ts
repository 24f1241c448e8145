/**
 * Authentication hooks. Each sets `request.principal` or throws (401 missing/invalid credentials,
 * 403 not allowed). `/v1` takes API keys; `/api` takes session access tokens or keys with `account` scope.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.ts';
import { isAdmin, presentedSecret, requireScope, type Authenticator, type CallerInfo, type Principal } from '../domain/auth/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function callerOf(request: FastifyRequest): CallerInfo {
  const origin = request.headers.origin ?? request.headers.referer;
  return { ip: request.ip, referer: typeof origin === 'string' ? origin : undefined };
}

const missing = () => unauthorized('Missing credentials: send "Authorization: Bearer <key>" or "x-api-key".', 'missing_api_key');

/** `/v1`: an API key with the `inference` scope (or the admin key); anonymous callers when enabled. */
export function requireApiKey(auth: Authenticator, anonymous: { enabled: boolean } = { enabled: false }) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const secret = presentedSecret(request.headers);
    if (!secret) {
      if (!anonymous.enabled) throw missing();
      request.principal = { kind: 'anonymous', ip: request.ip };
      return;
    }
    const result = auth.authenticateKey(secret, callerOf(request));
    const principal = result instanceof Promise ? await result : result;
    requireScope(principal, 'inference');
    request.principal = principal;
  };
}

/** `/api` routes of a signed-in user (session token, or a key with the `account` scope). */
export function requireSession(auth: Authenticator) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const secret = presentedSecret(request.headers);
    if (!secret) throw missing();
    request.principal = await auth.authenticateSession(secret, callerOf(request));
  };
}

/** `/api/admin`: the admin role (a session or key of an admin user) or the operator's ADMIN_API_KEY. */
export function requireAdmin(auth: Authenticator) {
  const session = requireSession(auth);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    await session(request, reply);
    if (!isAdmin(request.principal)) throw forbidden('This route requires the admin role.', 'admin_required');
  };
}

/** The signed-in user, for routes that act on "my" resources (the bootstrap admin key has none). */
export function currentUser(request: FastifyRequest) {
  const p = request.principal;
  if (p?.kind === 'user' || p?.kind === 'api_key') return p.user;
  throw forbidden('This route needs a user account; the operator key has none. Use a user session or key.', 'user_required');
}
