/**
 * Authentication and roles. Every route states its roles in `config.roles` ('public' or a list of
 * roles); a route that states none fails the app's start. Non-public routes get the key check as
 * their own onRequest hook, after the rate limiter's (registered before this plugin), so a flood of
 * wrong keys is limited too. Keys come as `Authorization: Bearer <key>` or `X-Api-Key: <key>`; a
 * lookup is cached for `cacheMs` (only for strings shaped like a key), so a revocation takes
 * effect within that time.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import type { Pool } from '../../platform/mysql.ts';
import { parseKey, verifyApiKey, type Principal, type Role } from '../auth/api-keys.ts';
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

/** What the rate limiter counts a request against: the key's id when one is presented, else the client address. */
export function rateLimitKey(request: FastifyRequest): string {
  const key = presentedKey(request);
  const parsed = key === null ? null : parseKey(key);
  return parsed ? `key:${parsed.keyId}` : `ip:${request.ip}`;
}

export default fp(
  async (app: FastifyInstance, opts: { pool: Pool; cacheMs: number }) => {
    const cache = new LRUCache<string, { principal: Principal | null }>({ max: 10_000, ttl: Math.max(1, opts.cacheMs) });
    const verify = async (key: string): Promise<Principal | null> => {
      // Strings that are not shaped like a key never reach MySQL or the cache.
      if (parseKey(key) === null) return null;
      if (opts.cacheMs > 0) {
        const hit = cache.get(key);
        if (hit) return hit.principal;
      }
      const principal = await verifyApiKey(opts.pool, key);
      if (opts.cacheMs > 0) cache.set(key, { principal });
      return principal;
    };

    const check = (roles: readonly Role[]) =>
      async function authenticate(request: FastifyRequest, reply: FastifyReply) {
        const key = presentedKey(request);
        if (key === null)
          return sendProblem(reply, request, 401, 'an API key is required: Authorization: Bearer <key> (txmon apikey create)');
        const principal = await verify(key);
        if (principal === null) return sendProblem(reply, request, 401, 'the API key is unknown or revoked');
        if (!roles.includes(principal.role))
          return sendProblem(
            reply,
            request,
            403,
            `role ${principal.role} may not call this route (allowed: ${roles.join(', ')})`,
          );
        request.principal = principal;
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
  { name: 'txmon-auth' },
);
