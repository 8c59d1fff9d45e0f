/** `txmon run <processor>`: runs until SIGTERM/SIGINT, draining in-flight work within the shutdown timeout. */
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { startIngest } from '../processors/ingest/main.ts';
import { startReconcile } from '../processors/reconcile/main.ts';
import { startOpsWatch } from '../processors/ops-watch/main.ts';

export type ProcessorName = 'ingest' | 'reconcile' | 'ops-watch';

export async function runProcessor(
  cfg: TxmonConfig,
  logger: Logger,
  name: ProcessorName,
  opts: { drain: boolean; metricsPort: number },
  say: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  const proc: { done: Promise<void>; close(): Promise<void>; summary(): object } =
    name === 'ops-watch'
      ? await startOpsWatch(cfg, logger, { metricsPort: opts.metricsPort })
      : await (name === 'ingest' ? startIngest : startReconcile)(cfg, logger, {
          drain: opts.drain,
          metricsPort: opts.metricsPort,
          onProgress: ({ processed, lag }) => logger.info({ processed, lag }, 'draining'),
        });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      say(`${name}: second ${signal}, exiting now`);
      process.exit(130);
    }
    signalled = true;
    say(`${name}: ${signal} received, finishing the in-flight batch (up to ${cfg.shutdownTimeoutMs} ms)`);
    const timer = setTimeout(() => {
      say(`${name}: shutdown timed out; exiting (uncommitted work will be replayed)`);
      process.exit(1);
    }, cfg.shutdownTimeoutMs);
    timer.unref();
    proc.close().catch((err: unknown) => logger.error({ err }, 'shutdown failed'));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await proc.done;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
  say(`${name}: stopped after ${((Date.now() - started) / 1000).toFixed(1)} s; summary ${JSON.stringify(proc.summary())}`);
  // Its clients are closed: the process ends now. A client that still holds a handle (seen: after a
  // Redis Cluster master and a broker were killed and came back, something kept a drained ingest
  // alive for minutes) must not keep it running; what lingered is logged, and it exits anyway.
  const linger = setTimeout(() => {
    logger.warn(
      { resources: process.getActiveResourcesInfo() },
      `${name}: still running ${LINGER_MS} ms after it stopped; exiting`,
    );
    process.exit(process.exitCode ?? 0);
  }, LINGER_MS);
  linger.unref();
}

/** How long a stopped processor may take to let go of its last handles before it exits anyway. */
const LINGER_MS = 5_000;

/** `txmon run api`: serves the dashboard API until SIGTERM/SIGINT. */
export async function runApi(
  cfg: TxmonConfig,
  logger: Logger,
  opts: { port: number },
  say: (line: string) => void,
): Promise<void> {
  const { startApi } = await import('../dashboard-api/server.ts');
  const api = await startApi(cfg, logger, { port: opts.port });
  say(`api: listening on ${api.url} (OpenAPI UI ${api.url}/docs, document ${api.url}/openapi.json); Ctrl-C stops it`);
  await new Promise<void>((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      say(`api: ${signal} received, closing`);
      const timer = setTimeout(() => process.exit(1), cfg.shutdownTimeoutMs);
      timer.unref();
      api.close().then(resolve, resolve);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}
