/** `txmon run ingest|reconcile|api`: a processor or the dashboard API until SIGTERM/SIGINT. */
import { Argument, type Command, InvalidArgumentError, Option } from 'commander';
import { applyHeapGrowingPercent } from '../platform/heap-policy.ts';
import { type CliContext, int } from './context.ts';

export function register(program: Command, ctx: CliContext): void {
  const { context, say } = ctx;
  program
    .command('run')
    .description('Run a processor until SIGTERM/SIGINT (drains in-flight work first).')
    .addArgument(
      new Argument(
        '<processor>',
        "ingest (transactions → state, decisions, alerts), reconcile (settlements matched against transactions), ops-watch (anomalies and SLO breach forecasts on the processors' own metrics) or api (the dashboard API)",
      ).choices(['ingest', 'reconcile', 'ops-watch', 'api']),
    )
    .option('--drain', 'exit by itself once the consumer group has caught up with its topics')
    .addOption(
      new Option(
        '--metrics-port <port>',
        'port for /metrics, /healthz, /readyz (default TXMON_METRICS_PORT for ingest, TXMON_RECON_METRICS_PORT for reconcile, TXMON_OPS_METRICS_PORT for ops-watch, TXMON_API_PORT for api)',
      ).argParser(int('--metrics-port')),
    )
    .action(async (processor: 'ingest' | 'reconcile' | 'ops-watch' | 'api', o: { drain?: boolean; metricsPort?: number }) => {
      const { cfg, logger } = context();
      applyHeapGrowingPercent(cfg.heapGrowingPercent);
      const { runProcessor, runApi } = await import('./run.actions.ts');
      if (processor === 'api') {
        if (o.drain) throw new InvalidArgumentError('--drain is for the processors, not the api');
        await runApi(cfg, logger, { port: o.metricsPort ?? cfg.api.port }, say);
        return;
      }
      if (processor === 'ops-watch' && o.drain)
        throw new InvalidArgumentError('--drain is for the Kafka processors, not ops-watch');
      const metricsPort =
        o.metricsPort ??
        (processor === 'ingest' ? cfg.metrics.port : processor === 'reconcile' ? cfg.recon.metricsPort : cfg.ops.metricsPort);
      await runProcessor(cfg, logger, processor, { drain: Boolean(o.drain), metricsPort }, say);
    });
}
