/**
 * The reconcile processor's wiring: it consumes the transactions and settlements topics, keeps the
 * reconciliation in MySQL, publishes exception events, and exports the status gauges finance ops
 * watch, on the processor runtime (runtime/processor.ts). Nothing starts on import.
 */
import type { TxmonConfig } from '../../config/config.ts';
import type { Settlement } from '../../domain/settlement.ts';
import type { Transaction } from '../../domain/transaction.ts';
import type { Logger } from '../../platform/logger.ts';
import { AvroDecoder } from '../../platform/schema-registry.ts';
import { startProcessor, type ProcessorContext } from '../../runtime/processor.ts';
import { avroType } from '../../schemas/index.ts';
import { reconGauges } from '../../sinks/recon-report.ts';
import { confirmPublished } from '../../sinks/recon.sink.ts';
import { topicName } from '../../topics/topics.ts';
import { createReconMetrics, type ReconMetrics } from './reconcile.metrics.ts';
import { ReconBatchHandler } from './reconcile.processor.ts';

export interface ReconcileOptions {
  /** Exit by itself once the group has committed up to every partition's high watermark of both topics. */
  drain?: boolean;
  /** Serve /metrics, /healthz, /readyz (port 0 = any free port). */
  metricsPort?: number;
  onProgress?: (p: { processed: number; lag: number }) => void;
  /** How often the status gauges are read from MySQL (ms). */
  gaugeIntervalMs?: number;
}

export interface ReconcileProcess {
  done: Promise<void>;
  metrics: ReconMetrics;
  probePort: number | null;
  summary(): { processed: number };
  close(): Promise<void>;
}

const SCHEMAS = {
  transaction: { topic: 'transactions', schema: 'transaction' },
  settlement: { topic: 'settlements', schema: 'settlement' },
  deadLetter: { topic: 'settlementsDlq', schema: 'dead-letter' },
  exception: { topic: 'reconExceptions', schema: 'recon-exception' },
} as const;

/** Starts the reconcile processor. */
export async function startReconcile(cfg: TxmonConfig, logger: Logger, opts: ReconcileOptions = {}): Promise<ReconcileProcess> {
  const metrics = createReconMetrics();
  const topics = {
    transactions: topicName(cfg.topicNamespace, 'transactions'),
    settlements: topicName(cfg.topicNamespace, 'settlements'),
    deadLetter: topicName(cfg.topicNamespace, 'settlementsDlq'),
    exceptions: topicName(cfg.topicNamespace, 'reconExceptions'),
  };
  const run = await startProcessor(
    cfg,
    logger,
    {
      name: 'reconcile',
      groupId: cfg.recon.groupId,
      topics: [topics.transactions, topics.settlements],
      schemas: SCHEMAS,
      metrics: metrics.registry,
      // One batch at a time: batches of both topics share the group's progress row in MySQL.
      concurrency: 1,
      build: (ctx) => buildReconcile(ctx, metrics, topics, opts.gaugeIntervalMs ?? 10_000),
    },
    opts,
  );
  return { ...run, metrics, summary: () => ({ processed: run.handler.batches.processed }) };
}

async function buildReconcile(
  ctx: ProcessorContext<keyof typeof SCHEMAS>,
  metrics: ReconMetrics,
  topics: { transactions: string; settlements: string; deadLetter: string; exceptions: string },
  gaugeIntervalMs: number,
) {
  const { cfg, log, groupId, schemaIds } = ctx;
  const decoder = <T>(name: 'transaction' | 'settlement') =>
    new AvroDecoder<T>(
      ctx.registry,
      avroType(name),
      { registryUrl: cfg.registryUrl, knownId: schemaIds[name] },
      cfg.registryUnknownIdRetryMs,
    );
  const handler = new ReconBatchHandler({
    logger: log,
    tolerate: ctx.tolerate,
    metrics,
    pool: ctx.pool,
    groupId,
    topics,
    transactionDecoder: decoder<Transaction>('transaction'),
    settlementDecoder: decoder<Settlement>('settlement'),
    deadLetter: { type: avroType('dead-letter'), schemaId: schemaIds.deadLetter },
    exception: { type: avroType('recon-exception', { bigintLongs: true }), schemaId: schemaIds.exception },
    output: ctx.output,
    committedOffset: async (topic, partition) => (await ctx.committed(topic, partition))?.offset ?? null,
    settledTypes: new Set(cfg.recon.settledTypes),
    policy: cfg.recon.policy,
    allowedLatenessMs: cfg.recon.allowedLatenessMs,
    maxFutureSkewMs: cfg.ingest.maxFutureSkewMs,
    inputCaps: cfg.inputCaps,
    retryMaxBackoffMs: cfg.retryMaxBackoffMs,
  });

  // Status gauges from MySQL: what finance ops watch (matched rate, open exceptions, oldest one).
  const refreshGauges = async () => {
    const g = await reconGauges(ctx.pool, groupId, cfg.recon.allowedLatenessMs);
    metrics.groups.reset();
    for (const [status, n] of Object.entries(g.open)) metrics.groups.set({ status }, n);
    metrics.matchedRatio.set(g.matchedRatio);
    metrics.oldestOpenException.set(g.oldestOpenExceptionAgeSeconds);
  };
  ctx.every(gaugeIntervalMs, 'recon-gauges', refreshGauges);

  // Events a crash left unmarked after their Kafka transaction committed, on partitions that may
  // see no further batch: marked from the group's committed offsets (again at a graceful stop).
  const confirm = async () => {
    const committed = [...(await ctx.committedOffsets(topics.transactions)), ...(await ctx.committedOffsets(topics.settlements))];
    const n = await confirmPublished(ctx.pool, committed);
    if (n > 0) log.info({ events: n }, 'exception events confirmed published from the committed offsets');
  };
  await ctx.untilUp('the committed offsets (to confirm published events)', confirm);

  return {
    batches: handler,
    onJoin: () => handler.joined(),
    afterStop: async () => {
      await confirm().catch((err: unknown) => ctx.tolerate('confirm-published', err));
      await refreshGauges().catch((err: unknown) => ctx.tolerate('recon-gauges', err));
    },
  };
}
