/**
 * The ingest processor's wiring: its topics, schemas and metrics, its window state and batch
 * handler, on the processor runtime (runtime/processor.ts: connecting, committed offsets, teardown,
 * the stop, drain and crash). Nothing starts on import.
 */
import type { TxmonConfig } from '../../config/config.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { StateLostError } from '../../platform/errors.ts';
import { createPool } from '../../platform/mysql.ts';
import type { Logger } from '../../platform/logger.ts';
import { AvroDecoder } from '../../platform/schema-registry.ts';
import { RefdataCache } from '../../refdata/cache.ts';
import { startProcessor, type ProcessorContext } from '../../runtime/processor.ts';
import { avroType } from '../../schemas/index.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { readMarker } from '../../state/marker.ts';
import { ensureState, rebuildDepsFor } from '../../state/rebuild.ts';
import { topicName } from '../../topics/topics.ts';
import { redactor } from '../classify.ts';
import { startDetectionSources } from './detection-sources.ts';
import { createIngestMetrics, type IngestMetrics } from './ingest.metrics.ts';
import { IngestBatchHandler, IngestState } from './ingest.processor.ts';
import { PartitionClocks } from './partition-clock.ts';

export interface IngestOptions {
  /** Exit by itself once the group has committed up to every partition's high watermark. */
  drain?: boolean;
  /** Serve /metrics, /healthz, /readyz (port 0 = any free port). */
  metricsPort?: number;
  /** Called about once a second while draining, with records processed so far and the remaining lag. */
  onProgress?: (p: { processed: number; lag: number }) => void;
}

export interface IngestProcess {
  /** Resolves when the processor stopped (drained or closed); rejects when it crashed. */
  done: Promise<void>;
  metrics: IngestMetrics;
  probePort: number | null;
  /** Processed records and batch latency percentiles so far. */
  summary(): ReturnType<IngestBatchHandler['summary']>;
  close(): Promise<void>;
}

const SCHEMAS = {
  reader: { topic: 'transactions', schema: 'transaction' },
  deadLetter: { topic: 'transactionsDlq', schema: 'dead-letter' },
  alert: { topic: 'alerts', schema: 'alert' },
} as const;

/** Starts the ingest processor. */
export async function startIngest(cfg: TxmonConfig, logger: Logger, opts: IngestOptions = {}): Promise<IngestProcess> {
  const metrics = createIngestMetrics();
  const topic = topicName(cfg.topicNamespace, 'transactions');
  const run = await startProcessor(
    cfg,
    logger,
    {
      name: 'ingest',
      groupId: cfg.ingest.groupId,
      topics: [topic],
      schemas: SCHEMAS,
      metrics: metrics.registry,
      concurrency: cfg.ingest.concurrency,
      build: (ctx) => buildIngest(ctx, metrics, topic),
    },
    opts,
  );
  return { ...run, metrics, summary: () => run.handler.batches.summary() };
}

async function buildIngest(ctx: ProcessorContext<keyof typeof SCHEMAS>, metrics: IngestMetrics, topic: string) {
  const { cfg, log, groupId, admin, schemaIds } = ctx;
  const redis = await ctx.connectRedis();
  const rebuildDeps = {
    ...rebuildDepsFor(
      cfg,
      { redis, pool: ctx.pool },
      (line) => log.info(line),
      () => ctx.committedOffsets(topic),
    ),
    tolerate: ctx.tolerate,
  };
  // Whether this process holds every partition of the input topic (set per join, below): then the
  // shared entities' other contributions are all in its memory and are refreshed from there.
  let holdsAll = false;
  let joins = 0;
  // The store starts on generation 0; the start-up check below adopts the marker's.
  const state = new IngestState(
    redis,
    cfg.keyPrefix,
    new EntityStore(redis, { prefix: cfg.keyPrefix, stateTtlMs: cfg.state.ttlSeconds * 1000 }),
    {
      windows: cfg.state.windows,
      cacheBytes: cfg.state.cacheBytes,
      sharedRefreshMs: cfg.state.sharedRefreshMs,
      holdsAllOf: (t) => holdsAll && t === topic,
      // Checkpointed per commit interval (the handler's checkpointPartition), not per batch.
      encodeAtApply: false,
    },
  );
  /** Rebuilds lost state (or waits while another processor does); called before consuming and on StateLostError. */
  const recoverState = async (heartbeat?: () => Promise<void>): Promise<void> => {
    const r = await ensureState(rebuildDeps, { heartbeat });
    if (r.outcome === 'rebuilt' && r.rows === 0 && r.keysDeleted === 0) log.info('state initialised (no transactions yet)');
    else if (r.outcome === 'rebuilt') {
      metrics.stateRebuilds.inc();
      log.warn(
        { rows: r.rows, keysDeleted: r.keysDeleted, seconds: r.seconds },
        r.reason === 'old-layout'
          ? 'state of an older layout has been rebuilt from MySQL'
          : 'state was lost and has been rebuilt from MySQL',
      );
    } else if (r.outcome === 'busy') log.warn('state is being rebuilt by another processor; waiting');
    if (r.outcome !== 'busy') state.adopt(r.generation);
  };
  // Before consuming: a missing marker means an empty or new Redis; rebuild (quick when MySQL is empty).
  await ctx.untilUp('the window state', async () => {
    await recoverState();
    if ((await readMarker(redis, cfg.keyPrefix)).status !== 'intact') throw new StateLostError('waiting for the state rebuild');
  });

  const sources = await startDetectionSources(ctx, metrics);
  // The batches' MySQL transactions, each as two round trips (a multi-statement query and its
  // COMMIT): a pool of its own, so that no other statement of the process may hold several.
  const writePool = createPool(cfg, { multipleStatements: true, connectionLimit: cfg.ingest.concurrency + 1 });
  ctx.onClose(() => writePool.end());
  const transactionType = avroType('transaction');
  const clocks = new PartitionClocks((t, partition) => ctx.committed(t, partition));
  let seekConsumer: ((p: { topic: string; partition: number; offset: string }) => void) | null = null;
  const handler = new IngestBatchHandler({
    logger: log,
    tolerate: ctx.tolerate,
    metrics,
    state,
    recoverState,
    refdata: new RefdataCache(ctx.pool, { ttlMs: cfg.state.refdataCacheTtlMs }),
    baseCurrency: cfg.state.baseCurrency,
    windows: cfg.state.windows,
    featureLayout: sources.featureLayout,
    pool: ctx.pool,
    writePool,
    decoder: new AvroDecoder<Transaction>(
      ctx.registry,
      transactionType,
      { registryUrl: cfg.registryUrl, knownId: schemaIds.reader },
      cfg.registryUnknownIdRetryMs,
    ),
    output: ctx.output,
    redact: redactor(transactionType, schemaIds.reader),
    deadLetter: {
      topic: topicName(cfg.topicNamespace, 'transactionsDlq'),
      type: avroType('dead-letter'),
      schemaId: schemaIds.deadLetter,
    },
    groupId,
    maxFutureSkewMs: cfg.ingest.maxFutureSkewMs,
    inputCaps: cfg.inputCaps,
    retryMaxBackoffMs: cfg.retryMaxBackoffMs,
    allowedLatenessMs: cfg.ingest.allowedLatenessMs,
    clocks,
    faultKillAt: cfg.ingest.faultKillAt,
    checkpointIntervalMs: cfg.state.checkpointMs,
    sharedCheckpointIntervalMs: cfg.state.sharedCheckpointMs,
    // The consumer is created after the handler, and runs no batch before onCreated.
    seek: (p) => {
      if (seekConsumer === null) throw new Error('seek before the consumer started');
      seekConsumer(p);
    },
    detection: {
      ...sources.detection,
      policy: { blockScore: cfg.detection.blockScore },
      alerts: { topic: topicName(cfg.topicNamespace, 'alerts'), type: avroType('alert'), schemaId: schemaIds.alert },
    },
  });

  return {
    batches: handler,
    onCreated: (c: { seek: (p: { topic: string; partition: number; offset: string }) => void }) => {
      seekConsumer = (p) => c.seek(p);
    },
    // A partition that comes back after a rebalance may have moved on under another member: what
    // this instance remembers of it (its clock, its windows in memory) is stale, so its next batch
    // asks Kafka and Redis again.
    onJoin: (assignment: Readonly<Record<string, readonly number[]>>) => {
      handler.joined();
      clocks.forget();
      state.partitions.releaseAll();
      // False until the broker confirms that the assignment covers every partition of the topic
      // (asked at each join: partitions may have been added, and a later join wins).
      holdsAll = false;
      const join = ++joins;
      const assigned = new Set(assignment[topic] ?? []).size;
      admin
        .fetchTopicMetadata({ topics: [topic] })
        .then((m) => {
          const partitions = m.topics.find((x) => x.name === topic)?.partitions.length ?? 0;
          if (join === joins) holdsAll = assigned > 0 && assigned === partitions;
        })
        .catch((err: unknown) => ctx.tolerate('topic-partitions', err));
      // Partitions whose windows in Redis end below the committed offset are replayed now.
      void handler.restoreAssigned(assignment);
    },
    // Caught up also means checked and restored what the join gave it.
    busy: () => handler.restoring() > 0,
    // A restore in progress finishes first (at most one checkpoint interval of records), so the
    // windows checkpointed at the stop are whole.
    beforeStop: () => handler.waitRestored(10_000),
    afterStop: async () => {
      await handler.flushCheckpoints().catch((err: unknown) => ctx.tolerate('checkpoint-on-stop', err));
      await (async () => handler.recordCommits(await ctx.committedOffsets(topic)))().catch((err: unknown) =>
        ctx.tolerate('commits-record', err),
      );
    },
  };
}
