/**
 * Composition root of the ingest processor: builds every client, wires the batch handler to a
 * kafkajs consumer, serves probes, and returns a close() that tears everything down in reverse.
 * Nothing starts on import.
 */
import type { Admin } from 'kafkajs';
import type { TxmonConfig } from '../../config/config.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { StateLostError, errorMessage, isRetriable } from '../../platform/errors.ts';
import { startProbeServer, type ProbeServer } from '../../platform/http-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import type { Logger } from '../../platform/logger.ts';
import { createPool } from '../../platform/mysql.ts';
import { createStateRedis } from '../../platform/redis.ts';
import { AvroDecoder, createRegistry, registerSchema } from '../../platform/registry.ts';
import { retry, sleep } from '../../platform/retry.ts';
import { redactor } from './classify.ts';
import { createIngestMetrics, type IngestMetrics } from './ingest.metrics.ts';
import { IngestBatchHandler } from './ingest.processor.ts';
import { PartitionClocks } from './partition-clock.ts';
import { ensureState, rebuildDepsFor, stateIntact } from './state-rebuild.ts';
import { RefdataCache } from '../../refdata/cache.ts';
import { TransactionalOutput } from '../../platform/transactional-output.ts';
import { FeatureSpace } from '../../detection/features.ts';
import { ModelWatcher } from './model-watcher.ts';
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
    await retry(() => output.connect(topic), {
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
    const rebuildDeps = rebuildDepsFor(cfg, { redis, pool }, (line) => log.info(line));
    const state = rebuildDeps.state;
    /** Rebuilds lost state (or waits while another processor does); called before consuming and on StateLostError. */
    const recoverState = async (): Promise<void> => {
      const r = await ensureState(rebuildDeps);
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
    };
    // Before consuming: a missing marker means an empty or new Redis; rebuild (quick when MySQL is empty).
    await retry(
      async () => {
        await recoverState();
        if (!(await stateIntact(redis, cfg.keyPrefix))) throw new StateLostError('waiting for the state rebuild');
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

    const handler = new IngestBatchHandler({
      logger: log,
      metrics,
      state,
      recoverState,
      refdata: new RefdataCache(pool, { ttlMs: cfg.state.refdataCacheTtlMs }),
      baseCurrency: cfg.state.baseCurrency,
      windows: cfg.state.windows,
      pool,
      decoder: new AvroDecoder<Transaction>(registry, transactionType, { registryUrl: cfg.registryUrl, knownId: readerSchemaId }),
      output,
      redact: redactor(transactionType, readerSchemaId),
      deadLetter: { topic: dlqTopic, type: deadLetterType, schemaId: deadLetterSchemaId },
      groupId,
      maxFutureSkewMs: cfg.ingest.maxFutureSkewMs,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
      allowedLatenessMs: cfg.ingest.allowedLatenessMs,
      clocks,
      detection: {
        rules: () => rules.current,
        models: () => models.current,
        drift: () => models.driftMonitor,
        policy: { blockScore: cfg.detection.blockScore },
        alerts: { topic: topicName(cfg.topicNamespace, 'alerts'), type: alertType, schemaId: alertSchemaId },
      },
    });

    const consumer = kafka.consumer({
      groupId,
      sessionTimeout: cfg.ingest.sessionTimeoutMs,
      heartbeatInterval: 3_000,
      maxBytesPerPartition: cfg.ingest.maxBytesPerPartition,
      maxBytes: cfg.ingest.maxBytesPerPartition * 4,
      maxWaitTimeInMs: 250,
      readUncommitted: false,
      retry: {
        retries: 5,
        // A crash on a retriable error restarts the consumer; anything else stops it loudly.
        restartOnFailure: async (err) => {
          const retriable = isRetriable(err);
          log.error(
            { err, retriable },
            retriable ? 'consumer crashed; restarting' : 'consumer crashed on a non-retriable error; stopping',
          );
          return retriable;
        },
      },
    });
    let joined = false;
    consumer.on(consumer.events.GROUP_JOIN, (e) => {
      joined = true;
      // A partition that comes back after a rebalance may have moved on under another member:
      // what this instance remembers of it is stale, so its next batch asks Kafka again.
      clocks.forget();
      log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
    });
    // kafkajs resolves batches that held only transaction markers or aborted records (a
    // transactional upstream) without calling eachBatch; commit past them, or the group would
    // never reach the end of the partition.
    consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
      if (e.payload.batchSize !== 0) return;
      const { topic: t, partition, lastOffset } = e.payload;
      const nextOffset = (BigInt(lastOffset) + 1n).toString();
      retry(() => handler.commitSkipped(t, partition, nextOffset), {
        maxMs: cfg.retryMaxBackoffMs,
        shouldContinue: () => !stopRequested,
      }).catch((err: unknown) =>
        log.warn({ err, partition }, 'committing past skipped records failed; the next batch will move the offset'),
      );
    });
    let crashed: ((err: unknown) => void) | null = null;
    const crashedPromise = new Promise<never>((_, reject) => (crashed = reject));
    crashedPromise.catch(() => {});
    const runOptions = {
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: cfg.ingest.concurrency,
      eachBatch: handler.eachBatch,
    };
    consumer.on(consumer.events.CRASH, (e) => {
      // Not ready until it has rejoined (e.g. while the broker is down and the consumer restarts).
      joined = false;
      if (e.payload.restart) return;
      if (!stopRequested && kafkajsGaveUpTooSoon(e.payload.error)) {
        // kafkajs treats a failed coordinator lookup (the broker down at that moment) as final and
        // stops the consumer (kafkajs issue #1630); it is transient, so start the consumer again.
        log.warn({ err: e.payload.error }, 'consumer stopped by kafkajs on a transient broker error; restarting');
        retry(
          async () => {
            await consumer.connect();
            await consumer.subscribe({ topics: [topic], fromBeginning: true });
            await consumer.run(runOptions);
          },
          { maxMs: cfg.retryMaxBackoffMs, shouldContinue: () => !stopRequested },
        ).catch((err: unknown) => crashed?.(err));
        return;
      }
      crashed?.(e.payload.error);
    });
    teardown.push(() => consumer.disconnect());
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });

    let probe: ProbeServer | null = null;
    if (opts.metricsPort !== undefined) {
      probe = await startProbeServer({
        host: cfg.metrics.host,
        port: opts.metricsPort,
        registry: metrics.registry,
        ready: () => {
          if (!joined) return { ok: false, detail: 'not yet in the consumer group' };
          if (handler.failing.size > 0) return { ok: false, detail: `waiting for ${[...handler.failing].join(', ')}` };
          return { ok: true, detail: 'consuming' };
        },
      });
      const server = probe;
      teardown.push(() => server.close());
      log.info({ url: `http://${cfg.metrics.host}:${probe.port}/metrics` }, 'serving metrics');
    }

    await consumer.run(runOptions);
    log.info({ topic, groupId, dlqTopic }, 'ingest running');

    const stopped = new Promise<void>((resolve) => {
      teardown.push(async () => {
        stopRequested = true;
        await consumer.stop();
        await (async () => {
          const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
          const committed = (res?.partitions ?? [])
            .filter((p) => Number(p.offset) >= 0)
            .map((p) => ({ topic, partition: p.partition, offset: p.offset }));
          await handler.recordCommits(committed);
        })().catch((err: unknown) => log.warn(`could not record the committed offsets in Redis (${errorMessage(err)})`));
        resolve();
      });
    });

    let drained: Promise<void> = new Promise(() => {});
    if (opts.drain) {
      drained = (async () => {
        for (;;) {
          await sleep(1_000);
          if (stopRequested) return;
          try {
            const lag = await groupLag(admin, groupId, topic);
            opts.onProgress?.({ processed: handler.processed, lag });
            if (lag === 0) return;
          } catch (err) {
            log.warn(`drain check failed: ${errorMessage(err)}`);
          }
        }
      })();
    }

    const done = Promise.race([drained, stopped, crashedPromise]).then(
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

/** A consumer crash kafkajs does not restart from, though the cause is transient (kafkajs#1630). */
export function kafkajsGaveUpTooSoon(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null;
  return (
    e?.name === 'KafkaJSGroupCoordinatorNotFound' ||
    (typeof e?.message === 'string' && e.message.includes('Failed to find group coordinator'))
  );
}

/** Records still to process by the group: sum over partitions of high watermark minus committed offset. */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map<number, string>();
  for (const t of committed) for (const p of t.partitions) byPartition.set(p.partition, p.offset);
  let lag = 0;
  for (const p of ends) {
    const high = Number(p.high);
    const low = Number(p.low);
    const c = Number(byPartition.get(p.partition) ?? '-1');
    const from = c < 0 ? low : c;
    lag += Math.max(0, high - from);
  }
  return lag;
}
