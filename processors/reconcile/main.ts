/**
 * Composition root of the reconcile processor: builds every client, wires the batch handler to a
 * kafkajs consumer of the transactions and settlements topics, serves probes and metrics, and
 * returns a close() that tears everything down in reverse. Nothing starts on import.
 */
import type { TxmonConfig } from '../../config/config.ts';
import type { Settlement } from '../../domain/settlement.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { errorMessage } from '../../platform/errors.ts';
import { startProcessorProbes } from '../../platform/http-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import { createPool } from '../../platform/mysql.ts';
import { AvroDecoder, createRegistry, registerSchema } from '../../platform/schema-registry.ts';
import { retry } from '../../platform/retry.ts';
import { TransactionalOutput } from '../../platform/transactional-output.ts';
import { reconGauges } from '../../sinks/recon-report.ts';
import { confirmPublished } from '../../sinks/recon.sink.ts';
import { consumerReadiness, drainedWhenCaughtUp, startBatchConsumer } from '../../platform/batch-consumer.ts';
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

/** Starts the reconcile processor. */
export async function startReconcile(cfg: TxmonConfig, logger: Logger, opts: ReconcileOptions = {}): Promise<ReconcileProcess> {
  const log = logger.child({ processor: 'reconcile' });
  const topics = {
    transactions: topicName(cfg.topicNamespace, 'transactions'),
    settlements: topicName(cfg.topicNamespace, 'settlements'),
    deadLetter: topicName(cfg.topicNamespace, 'settlementsDlq'),
    exceptions: topicName(cfg.topicNamespace, 'reconExceptions'),
  };
  const groupId = cfg.recon.groupId;
  const teardown: Array<() => Promise<void>> = [];
  const close = async () => {
    for (const fn of teardown.splice(0).reverse()) await fn().catch((err: unknown) => log.warn({ err }, 'teardown step failed'));
  };
  const forever = { maxMs: cfg.retryMaxBackoffMs, shouldContinue: () => true };

  try {
    const metrics = createReconMetrics();
    const registry = createRegistry(cfg);
    const [transactionId, settlementId, deadLetterId, exceptionId] = await retry(
      () =>
        Promise.all([
          registerSchema(registry, cfg.registryUrl, valueSubject(cfg.topicNamespace, 'transactions'), schemaText('transaction')),
          registerSchema(registry, cfg.registryUrl, valueSubject(cfg.topicNamespace, 'settlements'), schemaText('settlement')),
          registerSchema(
            registry,
            cfg.registryUrl,
            valueSubject(cfg.topicNamespace, 'settlementsDlq'),
            schemaText('dead-letter'),
          ),
          registerSchema(
            registry,
            cfg.registryUrl,
            valueSubject(cfg.topicNamespace, 'reconExceptions'),
            schemaText('recon-exception'),
          ),
        ]),
      { ...forever, onRetry: (err) => log.warn(`schema registry not reachable (${errorMessage(err)}); retrying`) },
    );
    const pool = createPool(cfg);
    teardown.push(() => pool.end());
    const kafka = createKafka(cfg, log);
    const output = new TransactionalOutput(kafka, `${cfg.kafka.clientId}-${groupId}`, log);
    teardown.push(() => output.disconnect());
    await retry(() => output.connect(), {
      ...forever,
      onRetry: (err) => log.warn(`kafka not reachable (${errorMessage(err)}); retrying`),
    });
    const admin = kafka.admin();
    await retry(() => admin.connect(), forever);
    teardown.push(() => admin.disconnect());

    const handler = new ReconBatchHandler({
      logger: log,
      metrics,
      pool,
      groupId,
      topics,
      transactionDecoder: new AvroDecoder<Transaction>(
        registry,
        avroType('transaction'),
        {
          registryUrl: cfg.registryUrl,
          knownId: transactionId,
        },
        cfg.registryUnknownIdRetryMs,
      ),
      settlementDecoder: new AvroDecoder<Settlement>(
        registry,
        avroType('settlement'),
        {
          registryUrl: cfg.registryUrl,
          knownId: settlementId,
        },
        cfg.registryUnknownIdRetryMs,
      ),
      deadLetter: { type: avroType('dead-letter'), schemaId: deadLetterId },
      exception: { type: avroType('recon-exception', { bigintLongs: true }), schemaId: exceptionId },
      output,
      committedOffset: async (topic, partition) => {
        const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
        const p = res?.partitions.find((x) => x.partition === partition);
        return p && Number(p.offset) >= 0 ? p.offset : null;
      },
      settledTypes: new Set(cfg.recon.settledTypes),
      policy: cfg.recon.policy,
      allowedLatenessMs: cfg.recon.allowedLatenessMs,
      maxFutureSkewMs: cfg.ingest.maxFutureSkewMs,
      inputCaps: cfg.inputCaps,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
    });

    // Status gauges from MySQL: what finance ops watch (matched rate, open exceptions, oldest one).
    const refreshGauges = async () => {
      const g = await reconGauges(pool, groupId, cfg.recon.allowedLatenessMs);
      metrics.groups.reset();
      for (const [status, n] of Object.entries(g.open)) metrics.groups.set({ status }, n);
      metrics.matchedRatio.set(g.matchedRatio);
      metrics.oldestOpenException.set(g.oldestOpenExceptionAgeSeconds);
    };
    const gaugeTimer = setInterval(() => {
      refreshGauges().catch((err: unknown) => log.warn(`reconciliation gauges not refreshed: ${errorMessage(err)}`));
    }, opts.gaugeIntervalMs ?? 10_000);
    gaugeTimer.unref();
    teardown.push(async () => clearInterval(gaugeTimer));

    // Events a crash left unmarked after their Kafka transaction committed, on partitions that may
    // see no further batch: marked from the group's committed offsets (again at a graceful stop).
    const confirm = async () => {
      const committed: Array<{ topic: string; partition: number; offset: string }> = [];
      for (const t of [topics.transactions, topics.settlements]) {
        const [res] = await admin.fetchOffsets({ groupId, topics: [t] });
        for (const p of res?.partitions ?? [])
          if (Number(p.offset) >= 0) committed.push({ topic: t, partition: p.partition, offset: p.offset });
      }
      const n = await confirmPublished(pool, committed);
      if (n > 0) log.info({ events: n }, 'exception events confirmed published from the committed offsets');
    };
    await retry(confirm, {
      ...forever,
      onRetry: (err) =>
        log.warn(`could not confirm published events from the committed offsets (${errorMessage(err)}); retrying`),
    });

    let stopRequested = false;
    // One batch at a time: batches of both topics share the group's progress row in MySQL.
    const consumer = await startBatchConsumer(kafka, log, {
      groupId,
      topics: [topics.transactions, topics.settlements],
      eachBatch: handler.eachBatch,
      concurrency: 1,
      sessionTimeoutMs: cfg.ingest.sessionTimeoutMs,
      maxBytesPerPartition: cfg.ingest.maxBytesPerPartition,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
      commitSkipped: (t, partition, nextOffset) => handler.commitSkipped(t, partition, nextOffset),
      onJoin: () => handler.joined(),
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

    log.info({ topics, groupId }, 'reconcile running');

    const stopped = new Promise<void>((resolve) => {
      teardown.push(async () => {
        stopRequested = true;
        await consumer.stop();
        await confirm().catch((err: unknown) => log.warn(`could not confirm published events (${errorMessage(err)})`));
        await refreshGauges().catch((err: unknown) =>
          log.warn(`reconciliation gauges not refreshed at the stop: ${errorMessage(err)}`),
        );
        resolve();
      });
    });

    const drained: Promise<void> = opts.drain
      ? drainedWhenCaughtUp({
          admin,
          groupId,
          topics: [topics.transactions, topics.settlements],
          stopped: () => stopRequested,
          processed: () => handler.processed,
          joined: () => consumer.joined(),
          ...(opts.onProgress && { onProgress: opts.onProgress }),
          log,
        })
      : new Promise(() => {});

    const done = Promise.race([drained, stopped, consumer.crashed]).then(
      async () => {
        await refreshGauges().catch((err: unknown) =>
          log.warn(`reconciliation gauges not refreshed at the end: ${errorMessage(err)}`),
        );
        await close();
      },
      async (err: unknown) => {
        await close();
        throw err;
      },
    );
    return { done, metrics, probePort: probe?.port ?? null, summary: () => ({ processed: handler.processed }), close };
  } catch (err) {
    await close();
    throw err;
  }
}
