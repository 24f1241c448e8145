/** Authentication hooks: every route behind them gets `request.principal`. Headers only, memory only. */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { forbidden, unauthorized } from '../errors.ts';
import { presentedSecret, type Authenticator, type Principal } from '../domain/auth/principal.ts';

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
  }
}

export function requireApiKey(auth: Authenticator) {
  return async (request: FastifyRequest, _reply: FastifyReply) => {
    const secret = presentedSecret(request.headers);
    if (!secret) throw unauthorized('Missing API key: send "Authorization: Bearer <key>" or "x-api-key".', 'missing_api_key');
    const principal = auth.authenticate(secret);
    if (!principal) throw unauthorized('Invalid API key.', 'invalid_api_key');
    request.principal = principal;
  };
}

export function requireAdmin(auth: Authenticator) {
  const key = requireApiKey(auth);
  return async (request: FastifyRequest, reply: FastifyReply) => {
    await key(request, reply);
    if (request.principal?.kind !== 'admin_key') throw forbidden('This route requires the admin role.', 'admin_required');
  };
}
