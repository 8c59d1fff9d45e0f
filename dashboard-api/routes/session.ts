/**
 * Console sign-in (issue 20): `POST /session` exchanges an API key for a session cookie (HttpOnly,
 * SameSite=Strict, expiring), `GET /session` says who is signed in, `DELETE /session` signs out (the
 * session is revoked in MySQL, not only forgotten by the browser). Sign-in and sign-out are audited.
 */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ROLES } from '../auth/api-keys.ts';
import { createSession, csrfToken, endSession, sessionCookie, type SessionPrincipal } from '../auth/sessions.ts';
import type { Pool } from '../../platform/mysql.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { problems } from '../schemas/common.ts';
import { NoContent, SessionInfo, SignIn } from '../schemas/session.ts';

export interface SessionOptions {
  pool: Pool;
  /** How long a session lasts. */
  ttlMs: number;
  /** Mark the cookie Secure (the API is reached over HTTPS, e.g. behind a TLS proxy). */
  secureCookie: boolean;
}

const sessionRoutes: FastifyPluginAsyncTypebox<SessionOptions> = async (app, { pool, ttlMs, secureCookie }) => {
  const info = (p: { name: string; keyId: string; role: (typeof ROLES)[number] }, expiresAt: Date, token: string) => ({
    name: p.name,
    key_id: p.keyId,
    role: p.role,
    expires_at: expiresAt.toISOString(),
    csrf_token: csrfToken(token),
  });

  app.post(
    '/session',
    {
      config: { roles: 'public' },
      schema: {
        tags: ['session'],
        summary: 'Sign in to the console: exchange an API key for a session cookie (HttpOnly, SameSite=Strict); audited',
        body: SignIn,
        response: { 200: SessionInfo, ...problems(401, 429) },
      },
    },
    async (request, reply) => {
      const principal = await app.verifyGivenKey(request, reply, request.body.key.trim());
      if (principal === null) return reply;
      const { token, expiresAt } = await createSession(pool, principal, ttlMs, request.ip);
      reply.header('set-cookie', sessionCookie(token, ttlMs, secureCookie));
      reply.header('cache-control', 'no-store');
      return info(principal, expiresAt, token);
    },
  );

  const sessionOf = (request: { credential: { kind: string; token?: string } | null }): string => {
    const c = request.credential;
    if (c === null || c.kind !== 'session' || c.token === undefined)
      throw new HttpProblem(400, 'this request carries an API key, not a console session (sign in with POST /api/v1/session)');
    return c.token;
  };

  app.get(
    '/session',
    {
      config: { roles: ROLES },
      schema: {
        tags: ['session'],
        summary: 'Who is signed in with this session cookie, until when, and its CSRF token',
        response: { 200: SessionInfo, ...problems(400) },
      },
    },
    async (request) => {
      const token = sessionOf(request);
      const p = (await app.sessions.verify(token)) as SessionPrincipal | null;
      if (p === null) throw new HttpProblem(401, 'the session has ended: sign in again');
      return info(p, p.expiresAt, token);
    },
  );

  app.delete(
    '/session',
    {
      config: { roles: ROLES },
      schema: {
        tags: ['session'],
        summary: 'Sign out: the session is revoked and its cookie cleared; audited',
        response: { 204: NoContent, ...problems(400) },
      },
    },
    async (request, reply) => {
      const token = sessionOf(request);
      app.sessions.forget(token);
      await endSession(pool, token, request.principal as NonNullable<typeof request.principal>, request.ip);
      reply.header('set-cookie', sessionCookie(null, 0, secureCookie));
      return reply.code(204).send(null);
    },
  );
};

export default sessionRoutes;
