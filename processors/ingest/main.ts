/**
 * Composition root of the ingest processor: builds every client, wires the batch handler to a
 * kafkajs consumer, serves probes, and returns a close() that tears everything down in reverse.
 * Nothing starts on import.
 */
import type { TxmonConfig } from '../../config/config.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { StateLostError, errorMessage } from '../../platform/errors.ts';
import { consumerReadiness, drainedWhenCaughtUp, startBatchConsumer } from '../../platform/batch-consumer.ts';
import { startProcessorProbes } from '../../platform/http-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import { createPool } from '../../platform/mysql.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { AvroDecoder, createRegistry, registerSchema } from '../../platform/schema-registry.ts';
import { retry } from '../../platform/retry.ts';
import { redactor } from '../classify.ts';
import { createIngestMetrics, type IngestMetrics } from './ingest.metrics.ts';
import { IngestBatchHandler, IngestState } from './ingest.processor.ts';
import { PartitionClocks } from './partition-clock.ts';
import { committedOffsets, ensureState, rebuildDepsFor } from '../../state/rebuild.ts';
import { EntityStore } from '../../state/entity-store.ts';
import { readMarker } from '../../state/marker.ts';
import { RefdataCache } from '../../refdata/cache.ts';
import { TransactionalOutput } from '../../platform/transactional-output.ts';
import { FeatureSpace } from '../../detection/features.ts';
import { ModelWatcher } from './model-watcher.ts';
import { snapshotFeatureNames } from '../../domain/snapshot.ts';
import { requireFeatureLayout } from '../../sinks/feature-vector.ts';
import { RulesSource } from './rules-source.ts';

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

/** Starts the ingest processor. */
export async function startIngest(cfg: TxmonConfig, logger: Logger, opts: IngestOptions = {}): Promise<IngestProcess> {
  const log = logger.child({ processor: 'ingest' });
  const topic = topicName(cfg.topicNamespace, 'transactions');
  const dlqTopic = topicName(cfg.topicNamespace, 'transactionsDlq');
  const groupId = cfg.ingest.groupId;
  const teardown: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of teardown.splice(0).reverse()) await fn().catch((err: unknown) => log.warn({ err }, 'teardown step failed'));
  };

  try {
    const metrics = createIngestMetrics();
    const registry = createRegistry(cfg);
    const transactionType = avroType('transaction');
    const deadLetterType = avroType('dead-letter');
    const alertType = avroType('alert');
    // Registration is idempotent; it yields the ids of our reader, dead-letter and alert schemas.
    const [readerSchemaId, deadLetterSchemaId, alertSchemaId] = await retry(
      () =>
        Promise.all([
          registerSchema(registry, cfg.registryUrl, valueSubject(cfg.topicNamespace, 'transactions'), schemaText('transaction')),
          registerSchema(
            registry,
            cfg.registryUrl,
            valueSubject(cfg.topicNamespace, 'transactionsDlq'),
            schemaText('dead-letter'),
          ),
          registerSchema(registry, cfg.registryUrl, valueSubject(cfg.topicNamespace, 'alerts'), schemaText('alert')),
        ]),
      {
        maxMs: cfg.retryMaxBackoffMs,
        shouldContinue: () => true,
        onRetry: (err) => log.warn(`schema registry not reachable (${errorMessage(err)}); retrying`),
      },
    );

    const redis = createStateRedis(cfg);
    teardown.push(async () => void redis.disconnect());
    await retry(() => redis.connect(), {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`redis not reachable (${errorMessage(err)}); retrying`),
    }).catch(async (err: unknown) => {
      // ioredis keeps reconnecting on its own; a failed first connect is fine once it is 'ready'.
      if (redis.status !== 'ready') throw err;
    });

    const pool = createPool(cfg);
    teardown.push(() => pool.end());

    const kafka = createKafka(cfg, log);
    const output = new TransactionalOutput(kafka, `${cfg.kafka.clientId}-${groupId}`, log);
    teardown.push(() => output.disconnect());
    await retry(() => output.connect(), {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`kafka not reachable (${errorMessage(err)}); retrying`),
    });

    let stopRequested = false;
    // The committed offset and its metadata (the partition clock), for a partition's first batch.
    const admin = kafka.admin();
    await retry(() => admin.connect(), { maxMs: cfg.retryMaxBackoffMs, shouldContinue: () => true });
    teardown.push(() => admin.disconnect());
    const clocks = new PartitionClocks(async (t, partition) => {
      const [res] = await admin.fetchOffsets({ groupId, topics: [t] });
      const p = res?.partitions.find((x) => x.partition === partition);
      return p && Number(p.offset) >= 0 ? { offset: p.offset, metadata: p.metadata } : undefined;
    });
    const rebuildDeps = rebuildDepsFor(
      cfg,
      { redis, pool },
      (line) => log.info(line),
      () => committedOffsets(admin, groupId, topic),
    );
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
    await retry(
      async () => {
        await recoverState();
        if ((await readMarker(redis, cfg.keyPrefix)).status !== 'intact')
          throw new StateLostError('waiting for the state rebuild');
      },
      {
        maxMs: cfg.retryMaxBackoffMs,
        shouldContinue: () => true,
        onRetry: (err) => log.warn(`state not ready (${errorMessage(err)}); retrying`),
      },
    );

    // Detection: the rule file (a bad one stops the start here, naming TXMON_RULES_FILE) and the
    // registry's models, both re-read while running.
    const rules = new RulesSource(cfg.detection.rulesFile, FeatureSpace.available(cfg.state.windows), log, {
      reloaded: () => metrics.rulesReloads.inc({ outcome: 'ok' }),
      failed: () => metrics.rulesReloads.inc({ outcome: 'failed' }),
    });
    rules.start(cfg.detection.rulesReloadMs);
    teardown.push(async () => rules.stop());
    const models = new ModelWatcher(pool, log, (m) => {
      metrics.modelInfo.reset();
      if (m.active) metrics.modelInfo.set({ state: 'active', version: m.active.model.version }, 1);
      if (m.shadow) metrics.modelInfo.set({ state: 'shadow', version: m.shadow.model.version }, 1);
    });
    await retry(() => models.refresh(), {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`model registry not readable (${errorMessage(err)}); retrying`),
    });
    models.start(cfg.detection.modelPollMs);
    // The layout the rows' feature vectors are stored in; `txmon migrate` registers it (a ConfigError otherwise).
    const featureLayout = await retry(() => requireFeatureLayout(pool, snapshotFeatureNames(cfg.state.windows)), {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`feature layouts not readable (${errorMessage(err)}); retrying`),
    });
    teardown.push(() => models.stop());
    const driftTimer = setInterval(() => {
      const report = models.driftMonitor?.report();
      if (!report) return;
      metrics.scorePsi.set(report.scorePsi);
      for (const [feature, v] of Object.entries(report.featurePsi)) metrics.featurePsi.set({ feature }, v);
      const alert = report.scorePsi > cfg.detection.driftPsiAlert;
      metrics.driftAlert.set(alert ? 1 : 0);
      if (alert)
        log.warn(
          { model: report.modelVersion, scorePsi: report.scorePsi, sample: report.sample },
          'model drift: the score distribution moved away from training',
        );
    }, cfg.detection.driftIntervalMs);
    driftTimer.unref();
    teardown.push(async () => clearInterval(driftTimer));

    let seekConsumer: ((p: { topic: string; partition: number; offset: string }) => void) | null = null;
    const handler = new IngestBatchHandler({
      logger: log,
      metrics,
      state,
      recoverState,
      refdata: new RefdataCache(pool, { ttlMs: cfg.state.refdataCacheTtlMs }),
      baseCurrency: cfg.state.baseCurrency,
      windows: cfg.state.windows,
      featureLayout,
      pool,
      decoder: new AvroDecoder<Transaction>(
        registry,
        transactionType,
        { registryUrl: cfg.registryUrl, knownId: readerSchemaId },
        cfg.registryUnknownIdRetryMs,
      ),
      output,
      redact: redactor(transactionType, readerSchemaId),
      deadLetter: { topic: dlqTopic, type: deadLetterType, schemaId: deadLetterSchemaId },
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
        rules: () => rules.current,
        models: () => models.current,
        drift: () => models.driftMonitor,
        policy: { blockScore: cfg.detection.blockScore },
        alerts: { topic: topicName(cfg.topicNamespace, 'alerts'), type: alertType, schemaId: alertSchemaId },
      },
    });

    const consumer = await startBatchConsumer(kafka, log, {
      groupId,
      topics: [topic],
      eachBatch: handler.eachBatch,
      concurrency: cfg.ingest.concurrency,
      sessionTimeoutMs: cfg.ingest.sessionTimeoutMs,
      maxBytesPerPartition: cfg.ingest.maxBytesPerPartition,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
      commitSkipped: (t, partition, nextOffset) => handler.commitSkipped(t, partition, nextOffset),
      // A partition that comes back after a rebalance may have moved on under another member:
      // what this instance remembers of it is stale, so its next batch asks Kafka again.
      // The same for the window state held in memory: read through from Redis again.
      onJoin: (assignment) => {
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
          .catch((err: unknown) =>
            log.warn({ err }, 'could not read the topic’s partitions; shared entities are read from Redis at every refresh'),
          );
        // Partitions whose windows in Redis end below the committed offset are replayed now.
        void handler.restoreAssigned(assignment);
      },
      onCreated: (c) => {
        seekConsumer = (p) => c.seek(p);
      },
    });
    teardown.push(() => consumer.disconnect());

    const probe = await startProcessorProbes({
      host: cfg.metrics.host,
      port: opts.metricsPort,
      registry: metrics.registry,
      ready: consumerReadiness(consumer, handler.failing),
      log,
    });
    if (probe) teardown.push(() => probe.close());

    log.info({ topic, groupId, dlqTopic }, 'ingest running');

    const stopped = new Promise<void>((resolve) => {
      teardown.push(async () => {
        stopRequested = true;
        // A restore in progress finishes first (at most one checkpoint interval of records), so the
        // windows checkpointed below are whole.
        await handler.waitRestored(10_000);
        await consumer.stop();
        await handler
          .flushCheckpoints()
          .catch((err: unknown) =>
            log.warn(`could not checkpoint the windows on stop (${errorMessage(err)}); the next owner replays them`),
          );
        await (async () => handler.recordCommits(await committedOffsets(admin, groupId, topic)))().catch((err: unknown) =>
          log.warn(`could not record the committed offsets in Redis (${errorMessage(err)})`),
        );
        resolve();
      });
    });

    const drained: Promise<void> = opts.drain
      ? drainedWhenCaughtUp({
          admin,
          groupId,
          topics: [topic],
          stopped: () => stopRequested,
          joined: () => consumer.joined(),
          processed: () => handler.processed,
          // Caught up means this process has joined too, and checked (and restored) what it was
          // given: a drain started after a crash between checkpoints, when the offsets are already
          // at the end, would otherwise exit before its join and leave the windows behind them.
          busy: () => !consumer.joined() || handler.restoring() > 0,
          ...(opts.onProgress && { onProgress: opts.onProgress }),
          log,
        })
      : new Promise(() => {});

    const done = Promise.race([drained, stopped, consumer.crashed]).then(
      async () => {
        await close();
      },
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    return { done, metrics, probePort: probe?.port ?? null, summary: () => handler.summary(), close };
  } catch (err) {
    await close();
    throw err;
  }
}
