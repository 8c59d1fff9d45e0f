/** A small HTTP server for a processor: /metrics (Prometheus), /healthz (alive), /readyz (can make progress). */
import { createServer, type Server } from 'node:http';
import type { Registry } from 'prom-client';

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
}): Promise<ProbeServer> {
  const server: Server = createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/metrics') {
      opts.registry
        .metrics()
        .then((body) => {
          res.writeHead(200, { 'content-type': opts.registry.contentType });
          res.end(body);
        })
        .catch((err: unknown) => {
          res.writeHead(500, { 'content-type': 'text/plain' });
          res.end(String(err));
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
    res.writeHead(404, { 'content-type': 'application/json' });
    res.end('{"error":"not found: try /metrics, /healthz or /readyz"}');
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
  log: { info: (o: object, msg: string) => void };
}): Promise<ProbeServer | null> {
  if (opts.port === undefined) return null;
  const probe = await startProbeServer({ host: opts.host, port: opts.port, registry: opts.registry, ready: opts.ready });
  opts.log.info({ url: `http://${opts.host}:${probe.port}/metrics` }, 'serving metrics');
  return probe;
}
