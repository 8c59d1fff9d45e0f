/**
 * The runtime every processor runs in. A processor names its group, the topics it consumes, the
 * schemas it registers and its metrics, and builds its batch handler from the clients given here;
 * the runtime does the rest, the same way for every processor:
 *
 * - connects to each dependency until it is up (a processor started before its broker, registry or
 *   database waits for it, saying so, instead of exiting);
 * - keeps the teardown stack: every client, timer and server is closed at the end, in reverse;
 * - looks up the group's committed offsets (the partition clocks and restores start from them);
 * - runs the consumer, serves the probes, and ends in one of three ways: drained (caught up, with
 *   `drain`), stopped (close()), or crashed (the consumer gave up); each closes everything once.
 *
 * Failures it goes on through are counted and logged (platform/tolerated.ts), never swallowed.
 */
import type { Admin, Consumer, EachBatchHandler, Kafka } from 'kafkajs';
import type { Pool } from 'mysql2/promise';
import type { Registry } from 'prom-client';
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { TxmonConfig } from '../config/config.ts';
import { schemaText, type SchemaName } from '../schemas/index.ts';
import { valueSubject, type TopicKey } from '../topics/topics.ts';
import { consumerReadiness, drainedWhenCaughtUp, startBatchConsumer } from '../platform/batch-consumer.ts';
import { errorMessage } from '../platform/errors.ts';
import { startProcessorProbes } from '../platform/http-probe.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { createStateRedis } from '../platform/redis.ts';
import type { StateRedis } from '../platform/redis-pipelines.ts';
import { retry } from '../platform/retry.ts';
import { createRegistry, registerSchema } from '../platform/schema-registry.ts';
import { createTolerate, type Tolerate, type ToleratedReason } from '../platform/tolerated.ts';
import { TransactionalOutput } from '../platform/transactional-output.ts';

/** A schema the processor registers: the subject of `topic`'s values, with the schema `schema`. */
export interface SchemaSpec {
  topic: TopicKey;
  schema: SchemaName;
}

/** A group's committed offset of one partition, with the metadata stored beside it. */
export interface CommittedAt {
  offset: string;
  metadata: string | null;
}

/** What a processor's handler is built from. */
export interface ProcessorContext<S extends string> {
  cfg: TxmonConfig;
  log: Logger;
  groupId: string;
  tolerate: Tolerate;
  /** The registered schemas' ids, by the names the spec gave them. */
  schemaIds: Readonly<Record<S, number>>;
  /** The schema registry client (decoders resolve writer schemas through it). */
  registry: SchemaRegistry;
  pool: Pool;
  kafka: Kafka;
  /** Transactional producers, one per input partition (output and offsets in one transaction). */
  output: TransactionalOutput;
  admin: Admin;
  /** Connects the state Redis (or Redis Cluster) until it is up; closed at the end. */
  connectRedis(): Promise<StateRedis>;
  /** Runs `fn` until it succeeds, logging each failure as `<what> not ready (…); retrying`. */
  untilUp<T>(what: string, fn: () => Promise<T>): Promise<T>;
  /** Runs `fn` at the end, before everything registered earlier (a teardown stack). */
  onClose(fn: () => Promise<void> | void): void;
  /** Runs `fn` every `ms` until the end; a failure is tolerated under `reason`. */
  every(ms: number, reason: ToleratedReason, fn: () => Promise<void> | void): void;
  /** The group's committed offset of one partition, or undefined before its first commit. */
  committed(topic: string, partition: number): Promise<CommittedAt | undefined>;
  /** The group's committed offsets of every partition of `topic` that has one. */
  committedOffsets(topic: string): Promise<Array<{ topic: string; partition: number; offset: string }>>;
}

/** What the runtime needs of a processor's batch handler. */
export interface BatchHandler {
  eachBatch: EachBatchHandler;
  /** Commits past records kafkajs skipped without a batch (transaction markers, aborted records). */
  commitSkipped(topic: string, partition: number, nextOffset: string): Promise<void>;
  /** Records processed so far (progress and the drain's report). */
  readonly processed: number;
  /** Dependencies whose last call failed (readiness). */
  readonly failing: ReadonlySet<string>;
}

/** A processor as the runtime runs it: its batch handler and its hooks. */
export interface ProcessorHandler<B extends BatchHandler = BatchHandler> {
  batches: B;
  /** On every (re)join, before the first batch of the new assignment (topic → partitions). */
  onJoin?(assignment: Readonly<Record<string, readonly number[]>>): void;
  /** With the consumer once created, before it runs. */
  onCreated?(consumer: Consumer): void;
  /** Work still done below the committed offsets (a restore): not drained while true. */
  busy?(): boolean;
  /** At the end, before the consumer stops (it still runs batches). */
  beforeStop?(): Promise<void>;
  /** At the end, once the consumer has stopped and before any client closes. */
  afterStop?(): Promise<void>;
}

export interface ProcessorSpec<S extends string, H extends ProcessorHandler> {
  /** `ingest`, `reconcile`: the log's `processor` field. */
  name: string;
  groupId: string;
  topics: readonly string[];
  schemas: Readonly<Record<S, SchemaSpec>>;
  /** The processor's Prometheus registry (served on /metrics; the tolerated-failures counter joins it). */
  metrics: Registry;
  /** Partitions processed at once. */
  concurrency: number;
  build(ctx: ProcessorContext<S>): Promise<H>;
}

export interface RunOptions {
  /** End by itself once the group has committed up to every partition's high watermark. */
  drain?: boolean;
  /** Serve /metrics, /healthz, /readyz (port 0 = any free port). */
  metricsPort?: number;
  /** Called about once a second while draining, with records processed so far and the remaining lag. */
  onProgress?: (p: { processed: number; lag: number }) => void;
}

export interface RunningProcessor<H> {
  handler: H;
  /** Resolves when the processor ended (drained or closed); rejects when it crashed. */
  done: Promise<void>;
  probePort: number | null;
  close(): Promise<void>;
}

/** Starts a processor: connects, builds its handler, consumes. A failed start closes what it opened. */
export async function startProcessor<S extends string, H extends ProcessorHandler>(
  cfg: TxmonConfig,
  logger: Logger,
  spec: ProcessorSpec<S, H>,
  opts: RunOptions = {},
): Promise<RunningProcessor<H>> {
  const log = logger.child({ processor: spec.name });
  const { groupId } = spec;
  const tolerate = createTolerate(spec.metrics, log);
  const teardown: Array<() => Promise<void> | void> = [];
  // One teardown whoever asks: a second call (a signal's close, then `done`'s) waits for the first
  // to finish instead of returning at once, so "stopped" is said only when every client is closed.
  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      for (const fn of teardown.splice(0).reverse())
        await (async () => fn())().catch((err: unknown) => tolerate('teardown-step', err));
    })());
  const untilUp = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retry(fn, {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`${what} not ready (${errorMessage(err)}); retrying`),
    });

  try {
    const registry = createRegistry(cfg);
    const names = Object.keys(spec.schemas) as S[];
    // Registration is idempotent; it yields the ids the processor writes and reads with.
    const ids = await untilUp('the schema registry', () =>
      Promise.all(
        names.map((n) => {
          const s = spec.schemas[n];
          return registerSchema(registry, cfg.registryUrl, valueSubject(cfg.topicNamespace, s.topic), schemaText(s.schema));
        }),
      ),
    );
    const schemaIds = Object.fromEntries(names.map((n, i) => [n, ids[i]])) as Record<S, number>;

    const pool = createPool(cfg);
    teardown.push(() => pool.end());
    const kafka = createKafka(cfg, log);
    const output = new TransactionalOutput(kafka, `${cfg.kafka.clientId}-${groupId}`, log, tolerate);
    teardown.push(() => output.disconnect());
    await untilUp('kafka', () => output.connect());
    const admin = kafka.admin();
    await untilUp('kafka', () => admin.connect());
    teardown.push(() => admin.disconnect());

    const committedOffsets = async (topic: string) => {
      const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
      return (res?.partitions ?? [])
        .filter((p) => Number(p.offset) >= 0)
        .map((p) => ({ topic, partition: p.partition, offset: p.offset, metadata: p.metadata }));
    };
    const ctx: ProcessorContext<S> = {
      cfg,
      log,
      groupId,
      tolerate,
      schemaIds,
      registry,
      pool,
      kafka,
      output,
      admin,
      connectRedis: async () => {
        const redis = createStateRedis(cfg);
        teardown.push(() => void redis.disconnect());
        await untilUp('redis', () => redis.connect()).catch((err: unknown) => {
          // ioredis keeps reconnecting on its own; a failed first connect is fine once it is 'ready'.
          if (redis.status !== 'ready') throw err;
        });
        return redis;
      },
      untilUp,
      onClose: (fn) => void teardown.push(fn),
      every: (ms, reason, fn) => {
        const timer = setInterval(() => void (async () => fn())().catch((err: unknown) => tolerate(reason, err)), ms);
        timer.unref();
        teardown.push(() => clearInterval(timer));
      },
      committed: async (topic, partition) => {
        const p = (await committedOffsets(topic)).find((x) => x.partition === partition);
        return p && { offset: p.offset, metadata: p.metadata };
      },
      committedOffsets: async (topic) => (await committedOffsets(topic)).map(({ metadata: _, ...p }) => p),
    };

    const handler = await spec.build(ctx);

    let stopRequested = false;
    const consumer = await startBatchConsumer(kafka, log, {
      groupId,
      topics: spec.topics,
      eachBatch: handler.batches.eachBatch,
      concurrency: spec.concurrency,
      sessionTimeoutMs: cfg.ingest.sessionTimeoutMs,
      maxBytesPerPartition: cfg.ingest.maxBytesPerPartition,
      retryMaxBackoffMs: cfg.retryMaxBackoffMs,
      tolerate,
      commitSkipped: (t, partition, nextOffset) => handler.batches.commitSkipped(t, partition, nextOffset),
      onJoin: (a: Readonly<Record<string, readonly number[]>>) => {
        // The join's assignment is current: a partition it gives this member needs no confirmation now.
        output.forgetFences(a);
        handler.onJoin?.(a);
      },
      ...(handler.onCreated && { onCreated: (c: Consumer) => handler.onCreated?.(c) }),
    });
    teardown.push(() => consumer.disconnect());

    const probe = await startProcessorProbes({
      host: cfg.metrics.host,
      port: opts.metricsPort,
      registry: spec.metrics,
      ready: consumerReadiness(consumer, handler.batches.failing),
      log,
    });
    if (probe) teardown.push(() => probe.close());

    log.info({ topics: spec.topics, groupId }, `${spec.name} running`);

    // The first step of every end: the consumer stops (its batch in flight finishes), then the
    // handler's own end runs while every client is still open.
    const stopped = new Promise<void>((resolve) => {
      teardown.push(async () => {
        stopRequested = true;
        await handler.beforeStop?.();
        await consumer.stop();
        await handler.afterStop?.();
        resolve();
      });
    });

    const drained: Promise<void> = opts.drain
      ? drainedWhenCaughtUp({
          admin,
          groupId,
          topics: spec.topics,
          stopped: () => stopRequested,
          joined: () => consumer.joined(),
          processed: () => handler.batches.processed,
          // Caught up means this process has joined too, and done what its join gave it: a drain
          // started when the offsets are already at the end would otherwise end before its join.
          busy: () => !consumer.joined() || (handler.busy?.() ?? false),
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
    return { handler, done, probePort: probe?.port ?? null, close };
  } catch (err) {
    await close();
    throw err;
  }
}
