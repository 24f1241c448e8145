/** Account sign-up, sign-in and session management: /api/auth/*. */
import { z } from 'zod';
import type { FastifyPluginAsyncZod, ZodTypeProvider } from 'fastify-type-provider-zod';
import type { FastifyRequest } from 'fastify';
import type { Services } from '../../app.ts';
import { LoginSchema, RegisterSchema, UserViewSchema, EmailSchema } from '../../domain/users/schema.ts';
import { PasswordSchema } from '../../domain/auth/passwords.ts';
import { userView } from '../../domain/users/records.ts';
import type { Caller } from '../../domain/auth/sessions.ts';
import { currentUser, requireSession } from '../auth.ts';

const TokenResponse = z.object({
  user: UserViewSchema,
  access_token: z.string(),
  refresh_token: z.string(),
  token_type: z.literal('Bearer'),
  expires_in: z.number().describe('Access token lifetime in seconds'),
});
const RefreshBody = z.object({ refresh_token: z.string().min(1).max(200) }).strict();
const tags = ['auth'];

function caller(request: FastifyRequest): Caller {
  const ua = request.headers['user-agent'];
  return { ip: request.ip, userAgent: typeof ua === 'string' ? ua : undefined, requestId: String(request.id) };
}

export const authRoutes: FastifyPluginAsyncZod<{ services: Services }> = async (app, { services }) => {
  const { sessions } = services;

  app.post('/register', {
    schema: { tags, summary: 'Create an account', body: RegisterSchema, response: { 201: TokenResponse } },
    handler: async (request, reply) => reply.code(201).send(await sessions.register(request.body, caller(request))),
  });

  app.post('/login', {
    schema: { tags, summary: 'Sign in with email and password', body: LoginSchema, response: { 200: TokenResponse } },
    handler: async (request) => sessions.login(request.body, caller(request)),
  });

  app.post('/refresh', {
    schema: { tags, summary: 'Exchange a refresh token for a new pair (single use; reuse revokes the session chain)', body: RefreshBody, response: { 200: TokenResponse } },
    handler: async (request) => sessions.refresh(request.body.refresh_token, caller(request)),
  });

  app.post('/logout', {
    schema: { tags, summary: 'End the session chain of a refresh token', body: RefreshBody, response: { 204: z.null() } },
    handler: async (request, reply) => {
      await sessions.logout(request.body.refresh_token, caller(request));
      return reply.code(204).send(null);
    },
  });

  app.post('/password-reset/request', {
    schema: {
      tags,
      summary: 'Ask for a password reset mail (202 whether or not the account exists)',
      body: z.object({ email: EmailSchema }).strict(),
      response: { 202: z.object({ status: z.literal('accepted') }) },
    },
    handler: async (request, reply) => {
      await sessions.requestReset(request.body.email, caller(request));
      return reply.code(202).send({ status: 'accepted' as const });
    },
  });

  app.post('/password-reset/confirm', {
    schema: {
      tags,
      summary: 'Set a new password with a reset token; ends every session',
      body: z.object({ token: z.string().min(1).max(200), password: PasswordSchema }).strict(),
      response: { 200: z.object({ status: z.literal('password_reset') }) },
    },
    handler: async (request) => {
      await sessions.confirmReset(request.body.token, request.body.password, caller(request));
      return { status: 'password_reset' as const };
    },
  });

  await app.register(async (scope) => {
    const me = scope.withTypeProvider<ZodTypeProvider>();
    me.addHook('onRequest', requireSession(services.auth));

    me.get('/me', {
      schema: { tags, summary: 'The signed-in user (role, tier and status as of now)', security: [{ bearerAuth: [] }], response: { 200: UserViewSchema } },
      handler: async (request) => userView(currentUser(request)),
    });

    me.post('/password', {
      schema: {
        tags,
        summary: 'Change the password; other sessions end and a new pair is returned',
        security: [{ bearerAuth: [] }],
        body: z.object({ current_password: z.string().min(1).max(256), new_password: PasswordSchema }).strict(),
        response: { 200: TokenResponse },
      },
      handler: async (request) => sessions.changePassword(currentUser(request), request.body.current_password, request.body.new_password, caller(request)),
    });
  });
};
