/**
 * Authentication, roles and the per-key rate limit. Every route states its roles in `config.roles`
 * ('public' or a list of roles); a route that states none fails the app's start. Keys come as
 * `Authorization: Bearer <key>` or `X-Api-Key: <key>`.
 *
 * Limits, in the order a request meets them (issue 16: a limiter keyed by an unverified key id let
 * random keys through unlimited and let forged secrets lock a real key out):
 * 1. per client address, every request (the rate limiter registered before this plugin, app.ts);
 * 2. per client address, failed key checks: an address past `authFailuresPerMinute` gets 429 for the
 *    rest of the minute before its key is looked up (a key verified recently still passes);
 * 3. per key id, only once the key verified (`perKeyPerMinute`), so only the key's holder spends it.
 * Verification is cached (KeyVerifier): good keys for `cacheMs` (a revocation takes that long),
 * failed keys for `negativeCacheMs`. The client address is the socket's peer: X-Forwarded-For is not
 * trusted (no trustProxy), so behind a reverse proxy every client shares the proxy's limits.
 *
 * The console (issue 20) signs in once with a key and then presents a session cookie instead
 * (auth/sessions.ts): same principal, same roles, same limits. A key in the request wins over a
 * cookie. A write (any method but GET, HEAD, OPTIONS) made with a session must carry the session's
 * X-CSRF-Token and, when the browser sends an Origin, come from this server's own origin.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from '../../platform/mysql.ts';
import { parseKey, verifyApiKey, type Principal, type Role } from '../auth/api-keys.ts';
import { KeyVerifier } from '../auth/key-cache.ts';
import {
  CSRF_HEADER,
  csrfMatches,
  isSessionToken,
  sessionFromCookie,
  verifySession,
  type SessionPrincipal,
} from '../auth/sessions.ts';
import { sendProblem } from './errors.ts';

export type RouteRoles = 'public' | readonly Role[];

export type Credential = { kind: 'key'; key: string } | { kind: 'session'; token: string };

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Whether an Origin header names this server (the Host the request came to). */
function sameOrigin(request: FastifyRequest, origin: string): boolean {
  try {
    const o = new URL(origin);
    // The Host header through the origin's scheme, so a default port written out compares equal.
    return o.host === new URL(`${o.protocol}//${request.headers.host ?? ''}`).host;
  } catch {
    return false;
  }
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. */
    roles?: RouteRoles;
  }
  interface FastifyRequest {
    principal: Principal | null;
    /** What the principal was verified from: a key, or a console session's token. */
    credential: Credential | null;
  }
  interface FastifyInstance {
    /** Cached key verification (routes that hold a request open re-verify through it). */
    apiKeys: KeyVerifier;
    /** Cached session verification (console sessions). */
    sessions: KeyVerifier<SessionPrincipal>;
    /** Verifies a request's credential again (a long-held request: is it still allowed?). */
    reverify(credential: Credential): Promise<Principal | null>;
    /**
     * Verifies a key given in a body (the console's sign-in) under the same failure budget as a
     * key in a header: its principal, or null after a problem (401 or 429) was sent.
     */
    verifyGivenKey(request: FastifyRequest, reply: FastifyReply, key: string): Promise<Principal | null>;
  }
}

export interface AuthOptions {
  pool: Pool;
  /** How long a verified key is trusted. */
  cacheMs: number;
  /** How long a failed key is remembered as failed. */
  negativeCacheMs: number;
  /** Requests per minute per verified key. */
  perKeyPerMinute: number;
  /** Failed key checks per minute per client address before further ones get 429 unlooked-up. */
  authFailuresPerMinute: number;
}

/** The key presented with a request, if any: a Bearer token, else the X-Api-Key header. */
export function presentedKey(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(auth);
    if (m) return m[1] as string;
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' && header.length > 0 ? header.trim() : null;
}

function tooMany(reply: FastifyReply, request: FastifyRequest, ttlMs: number, detail: string) {
  const seconds = Math.max(1, Math.ceil(ttlMs / 1000));
  reply.header('retry-after', seconds);
  return sendProblem(reply, request, 429, `${detail}; retry in ${seconds} s`);
}

export default fp(
  async (app: FastifyInstance, opts: AuthOptions) => {
    const verifier = new KeyVerifier((key) => verifyApiKey(opts.pool, key), {
      positiveMs: opts.cacheMs,
      negativeMs: opts.negativeCacheMs,
    });
    app.decorate('apiKeys', verifier);
    const sessions = new KeyVerifier<SessionPrincipal>((token) => verifySession(opts.pool, token), {
      positiveMs: opts.cacheMs,
      negativeMs: opts.negativeCacheMs,
      shaped: isSessionToken,
      until: (p) => p.expiresAt.getTime(),
    });
    app.decorate('sessions', sessions);
    app.decorate('reverify', (c: Credential) => (c.kind === 'key' ? verifier.verify(c.key) : sessions.verify(c.token)));
    // Stores of @fastify/rate-limit (registered before this plugin): the failure budget and the
    // per-key allowance are separate counters from the per-address one. Client addresses are the
    // plugin's default key (IPv6 grouped by subnet, so one host cannot rotate through its /64).
    const failures = app.createRateLimit({ max: opts.authFailuresPerMinute, timeWindow: 60_000 });
    const perKey = app.createRateLimit({
      max: opts.perKeyPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => `key:${request.principal?.keyId ?? ''}`,
    });

    app.decorate('verifyGivenKey', async (request: FastifyRequest, reply: FastifyReply, key: string) => {
      const keyShaped = parseKey(key) !== null;
      if (keyShaped && verifier.cached(key) === undefined) {
        const budget = await failures(request, { increment: false });
        if (!budget.isAllowed && budget.remaining === 0) {
          await tooMany(
            reply,
            request,
            budget.ttl,
            `too many failed API key checks from this address (${budget.max} per minute)`,
          );
          return null;
        }
      }
      const principal = await verifier.verify(key);
      if (principal === null) {
        if (keyShaped) await failures(request);
        await sendProblem(
          reply,
          request,
          401,
          keyShaped
            ? 'the API key is unknown or revoked'
            : 'that is not an API key: keys look like txk_<12 hex>_<43 characters> (txmon apikey create)',
        );
        return null;
      }
      return principal;
    });

    const check = (roles: readonly Role[]) =>
      async function authenticate(request: FastifyRequest, reply: FastifyReply) {
        const key = presentedKey(request);
        const session = key === null ? sessionFromCookie(request.headers.cookie) : null;
        if (key === null && session === null)
          return sendProblem(reply, request, 401, 'an API key is required: Authorization: Bearer <key> (txmon apikey create)');
        const keyShaped = key === null ? true : parseKey(key) !== null;
        const cached = key === null ? sessions.cached(session as string) : verifier.cached(key);
        if (keyShaped && cached === undefined) {
          const budget = await failures(request, { increment: false });
          if (!budget.isAllowed && budget.remaining === 0)
            return tooMany(
              reply,
              request,
              budget.ttl,
              `too many failed API key checks from this address (${budget.max} per minute)`,
            );
        }
        const principal = key === null ? await sessions.verify(session as string) : await verifier.verify(key);
        if (principal === null) {
          // Only key-shaped strings cost a lookup; they spend the address's failure budget.
          if (keyShaped) await failures(request);
          return sendProblem(
            reply,
            request,
            401,
            key === null
              ? 'the session has ended (expired, signed out, or its API key revoked): sign in again'
              : 'the API key is unknown or revoked',
          );
        }
        if (session !== null && !SAFE_METHODS.has(request.method)) {
          const origin = request.headers.origin;
          if (typeof origin === 'string' && !sameOrigin(request, origin))
            return sendProblem(
              reply,
              request,
              403,
              `a write with a session must come from this server's own pages (Origin ${origin})`,
            );
          if (!csrfMatches(session, request.headers[CSRF_HEADER] as string | undefined))
            return sendProblem(reply, request, 403, 'a write with a session needs the X-CSRF-Token its sign-in returned');
        }
        if (!roles.includes(principal.role))
          return sendProblem(
            reply,
            request,
            403,
            `role ${principal.role} may not call this route (allowed: ${roles.join(', ')})`,
          );
        request.principal = { keyId: principal.keyId, name: principal.name, role: principal.role };
        request.credential = key === null ? { kind: 'session', token: session as string } : { kind: 'key', key };
        const allowance = await perKey(request);
        if (!allowance.isAllowed && allowance.isExceeded)
          return tooMany(
            reply,
            request,
            allowance.ttl,
            `rate limit of ${allowance.max} requests per minute for this key exceeded`,
          );
      };

    app.decorateRequest('principal', null);
    app.decorateRequest('credential', null);
    app.addHook('onRoute', (route) => {
      const roles = route.config?.roles;
      if (roles === undefined) throw new Error(`route ${route.method} ${route.url} states no roles (config.roles)`);
      // The OpenAPI document says who may call each route (in place: @fastify/swagger holds this
      // object; HEAD routes share their GET's schema, hence the guard).
      if (route.schema) {
        const schema = route.schema as { description?: string; security?: unknown[] };
        const who = roles === 'public' ? 'Public: no key needed.' : `Roles: ${roles.join(', ')}.`;
        if (!schema.description?.includes(who)) schema.description = schema.description ? `${schema.description}\n\n${who}` : who;
        if (roles === 'public') schema.security = [];
      }
      if (roles === 'public') return;
      const existing = route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest];
      route.onRequest = [...existing, check(roles)];
    });
  },
  { name: 'txmon-auth', dependencies: ['@fastify/rate-limit'] },
);
