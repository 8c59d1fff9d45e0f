/** A small HTTP server for a processor: /metrics (Prometheus), /healthz (alive), /readyz (can make progress). */
import { createServer, type ServerResponse, type Server } from 'node:http';
import type { Registry } from 'prom-client';
import { errorMessage } from './errors.ts';
import { PROBE_DEADLINE_MS } from './probe-admin.ts';

interface ProbeLog {
  error: (o: object, msg: string) => void;
}

/** An RFC 9457 problem, as the API answers errors: a generic detail, never an error's own text. */
function problem(res: ServerResponse, status: number, title: string, detail: string, instance: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, instance }));
}

/** Collects the registry within `ms`; rejects with a TimeoutError past it. */
function metricsWithin(registry: Registry, ms: number): Promise<string> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    registry.metrics(),
    new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(Object.assign(new Error(`metrics not collected within ${ms} ms`), { name: 'TimeoutError' })),
        ms,
      );
    }),
  ]).finally(() => clearTimeout(timer));
}

export interface ProbeServer {
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (port 0 picks a free one) and serves the processor's probes. */
export async function startProbeServer(opts: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => { ok: boolean; detail: string };
  /** Where a failed scrape's error goes (the response carries none of it). */
  log?: ProbeLog;
  /** A scrape waits at most this long for the registry's collectors. */
  deadlineMs?: number;
}): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      metricsWithin(opts.registry, opts.deadlineMs ?? PROBE_DEADLINE_MS)
        .then((body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          // The error (which may name hosts, users or internals) goes to the log only.
          opts.log?.error({ err: errorMessage(err) }, 'metrics scrape failed');
          const late = err instanceof Error && err.name === 'TimeoutError';
          if (late)
            problem(res, 503, 'Service Unavailable', 'metrics were not collected in time; the processor log has the error', url);
          else problem(res, 500, 'Internal Server Error', 'metrics could not be collected; the processor log has the error', url);
        });
      return;
    }
    if (url === '/healthz') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    if (url === '/readyz') {
      const r = opts.ready();
      res.writeHead(r.ok ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ status: r.ok ? 'ready' : 'not-ready', detail: r.detail }));
      return;
    }
    problem(res, 404, 'Not Found', 'no such path: try /metrics, /healthz or /readyz', url.split('?')[0] ?? '/');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A processor's probe server on `port` when one is asked for (undefined: none), logging where it serves. */
export async function startProcessorProbes(opts: {
  host: string;
  port: number | undefined;
  registry: Registry;
  ready: () => { ok: boolean; detail: string };
  log: ProbeLog & { info: (o: object, msg: string) => void };
}): Promise<ProbeServer | null> {
  if (opts.port === undefined) return null;
  const probe = await startProbeServer({
    host: opts.host,
    port: opts.port,
    registry: opts.registry,
    ready: opts.ready,
    log: opts.log,
  });
  opts.log.info({ url: `http://${opts.host}:${probe.port}/metrics` }, 'serving metrics');
  return probe;
}
