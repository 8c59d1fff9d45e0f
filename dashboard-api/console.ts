/**
 * The console's files (issue 20), served by the dashboard API itself at `/` and `/console/*`: no
 * second server, nothing fetched at run time. A build (`npm run build`) holds them in
 * dist/console/, beside this module's compiled copy; a development checkout run through tsx builds
 * them in memory from console/ at start-up (console/build.js), so it always serves the console
 * beside it. The few files are held in memory with their gzip form and an ETag.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import type { FastifyInstance } from 'fastify';
import { sendProblem } from './plugins/errors.ts';

/**
 * The page's policy: its own scripts, styles and API only; no inline script or style attribute
 * injection, no frames, no plugins, no base-URI games, forms only to itself.
 */
export const CONSOLE_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self'",
].join('; ');

interface Asset {
  type: string;
  body: Buffer;
  gzip: Buffer;
  etag: string;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

export type ConsoleAssets = { files: Map<string, Asset> } | { missing: string };

function asAssets(files: Record<string, Buffer>): ConsoleAssets {
  const out = new Map<string, Asset>();
  for (const [name, body] of Object.entries(files)) {
    const type = TYPES[name];
    if (type === undefined) continue;
    out.set(name, {
      type,
      body,
      gzip: gzipSync(body),
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    });
  }
  return { files: out };
}

/** The console's files: built ones beside this module, else built now from console/ (development). */
export async function loadConsole(dir: URL = new URL('../console/', import.meta.url)): Promise<ConsoleAssets> {
  const built = fileURLToPath(new URL('app.js', dir));
  if (existsSync(built)) {
    const files: Record<string, Buffer> = {};
    for (const name of Object.keys(TYPES)) files[name] = readFileSync(fileURLToPath(new URL(name, dir)));
    return asAssets(files);
  }
  const script = new URL('build.js', dir);
  if (!existsSync(fileURLToPath(script))) return { missing: 'the console is not in this build: run `npm run build`' };
  try {
    const { consoleFiles } = (await import(script.href)) as { consoleFiles: () => Promise<Record<string, Buffer>> };
    return asAssets(await consoleFiles());
  } catch (err) {
    return { missing: `the console could not be built from console/ (${(err as Error).message}): run \`npm run build\`` };
  }
}

/** Serves the console at `/` (its page) and `/console/<file>` (its script and styles); public, like any sign-in page. */
export function consoleRoutes(app: FastifyInstance, assets: ConsoleAssets): void {
  const serve = (name: string) => async (request: import('fastify').FastifyRequest, reply: import('fastify').FastifyReply) => {
    if ('missing' in assets) return sendProblem(reply, request, 503, assets.missing);
    const a = assets.files.get(name);
    if (!a) return sendProblem(reply, request, 404, `no console file ${name}`);
    reply.header('content-security-policy', CONSOLE_CSP);
    reply.header('cache-control', 'no-cache');
    reply.header('etag', a.etag);
    reply.header('vary', 'accept-encoding');
    reply.type(a.type);
    if (request.headers['if-none-match'] === a.etag) return reply.code(304).send();
    if (/\bgzip\b/.test(String(request.headers['accept-encoding'] ?? ''))) {
      reply.header('content-encoding', 'gzip');
      return reply.send(a.gzip);
    }
    return reply.send(a.body);
  };
  app.get('/', { config: { roles: 'public' }, schema: { hide: true } }, serve('index.html'));
  app.get<{ Params: { file: string } }>(
    '/console/:file',
    { config: { roles: 'public' }, schema: { hide: true } },
    (request, reply) => serve(request.params.file)(request, reply),
  );
}
