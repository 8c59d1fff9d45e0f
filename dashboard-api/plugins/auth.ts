/**
 * Authentication and roles. Every route states its roles in `config.roles` ('public' or a list of
 * roles); a route that states none fails the app's start. Keys come as `Authorization: Bearer <key>`
 * (or `X-Api-Key: <key>`); a verified key is cached for `cacheMs`, so a revocation takes effect
 * within that time.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { LRUCache } from 'lru-cache';
import type { Pool } from '../../platform/mysql.ts';
import { verifyApiKey, type Principal, type Role } from '../auth/api-keys.ts';
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

/** The key presented with a request, if any. */
function presentedKey(request: FastifyRequest): string | null {
  const auth = request.headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(\S+)$/i.exec(auth);
    return m ? (m[1] as string) : null;
  }
  const header = request.headers['x-api-key'];
  return typeof header === 'string' ? header : null;
}

export default fp(
  async (app: FastifyInstance, opts: { pool: Pool; cacheMs: number }) => {
    const cache = new LRUCache<string, { principal: Principal | null }>({ max: 10_000, ttl: Math.max(1, opts.cacheMs) });
    const verify = async (key: string): Promise<Principal | null> => {
      if (opts.cacheMs > 0) {
        const hit = cache.get(key);
        if (hit) return hit.principal;
      }
      const principal = await verifyApiKey(opts.pool, key);
      if (opts.cacheMs > 0) cache.set(key, { principal });
      return principal;
    };

    app.decorateRequest('principal', null);
    app.addHook('onRoute', (route) => {
      if (route.url.startsWith('/docs')) {
        route.config = { ...route.config, roles: 'public' };
        return;
      }
      const roles = route.config?.roles;
      if (roles === undefined) throw new Error(`route ${route.method} ${route.url} states no roles (config.roles)`);
      // The OpenAPI document says who may call each route (in place: @fastify/swagger holds this object).
      if (route.schema) {
        const schema = route.schema as { description?: string; security?: unknown[] };
        const who = roles === 'public' ? 'Public: no key needed.' : `Roles: ${roles.join(', ')}.`;
        schema.description = schema.description ? `${schema.description}\n\n${who}` : who;
        if (roles === 'public') schema.security = [];
      }
    });
    app.addHook('onRequest', async (request, reply) => {
      const roles = request.routeOptions.config.roles;
      // Unknown routes (404) have no roles; the not-found handler answers them.
      if (roles === undefined || roles === 'public') return;
      const key = presentedKey(request);
      if (key === null)
        return sendProblem(reply, request, 401, 'an API key is required: Authorization: Bearer <key> (txmon apikey create)');
      const principal = await verify(key);
      if (principal === null) return sendProblem(reply, request, 401, 'the API key is unknown or revoked');
      if (!roles.includes(principal.role))
        return sendProblem(reply, request, 403, `role ${principal.role} may not call this route (allowed: ${roles.join(', ')})`);
      request.principal = principal;
    });
  },
  { name: 'txmon-auth' },
);
