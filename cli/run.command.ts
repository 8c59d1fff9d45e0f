/** `txmon run <processor>`: runs until SIGTERM/SIGINT, draining in-flight work within the shutdown timeout. */
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { startIngest } from '../processors/ingest/main.ts';

export async function runProcessor(
  cfg: TxmonConfig,
  logger: Logger,
  opts: { drain: boolean; metricsPort: number },
  say: (line: string) => void,
): Promise<void> {
  const started = Date.now();
  const proc = await startIngest(cfg, logger, {
    drain: opts.drain,
    metricsPort: opts.metricsPort,
    onProgress: ({ processed, lag }) => logger.info({ processed, lag }, 'draining'),
  });
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      say(`ingest: second ${signal}, exiting now`);
      process.exit(130);
    }
    signalled = true;
    say(`ingest: ${signal} received, finishing the in-flight batch (up to ${cfg.shutdownTimeoutMs} ms)`);
    const timer = setTimeout(() => {
      say('ingest: shutdown timed out; exiting (uncommitted work will be replayed)');
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
  say(`ingest: stopped after ${((Date.now() - started) / 1000).toFixed(1)} s; summary ${JSON.stringify(proc.summary())}`);
}
