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
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import type { Pool } from '../../platform/mysql.ts';
import { parseKey, verifyApiKey, type Principal, type Role } from '../auth/api-keys.ts';
import { KeyVerifier } from '../auth/key-cache.ts';
import { sendProblem } from './errors.ts';

export type RouteRoles = 'public' | readonly Role[];

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. */
    roles?: RouteRoles;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyInstance {
    /** Cached key verification (routes that hold a request open re-verify through it). */
    apiKeys: KeyVerifier;
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
    // Stores of @fastify/rate-limit (registered before this plugin): the failure budget and the
    // per-key allowance are separate counters from the per-address one. Client addresses are the
    // plugin's default key (IPv6 grouped by subnet, so one host cannot rotate through its /64).
    const failures = app.createRateLimit({ max: opts.authFailuresPerMinute, timeWindow: 60_000 });
    const perKey = app.createRateLimit({
      max: opts.perKeyPerMinute,
      timeWindow: 60_000,
      keyGenerator: (request) => `key:${request.principal?.keyId ?? ''}`,
    });

    const check = (roles: readonly Role[]) =>
      async function authenticate(request: FastifyRequest, reply: FastifyReply) {
        const key = presentedKey(request);
        if (key === null)
          return sendProblem(reply, request, 401, 'an API key is required: Authorization: Bearer <key> (txmon apikey create)');
        const keyShaped = parseKey(key) !== null;
        if (keyShaped && verifier.cached(key) === undefined) {
          const budget = await failures(request, { increment: false });
          if (!budget.isAllowed && budget.remaining === 0)
            return tooMany(
              reply,
              request,
              budget.ttl,
              `too many failed API key checks from this address (${budget.max} per minute)`,
            );
        }
        const principal = await verifier.verify(key);
        if (principal === null) {
          // Only key-shaped strings cost a lookup; they spend the address's failure budget.
          if (keyShaped) await failures(request);
          return sendProblem(reply, request, 401, 'the API key is unknown or revoked');
        }
        if (!roles.includes(principal.role))
          return sendProblem(
            reply,
            request,
            403,
            `role ${principal.role} may not call this route (allowed: ${roles.join(', ')})`,
          );
        request.principal = principal;
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
