/**
 * A processor's kafkajs consumer: eachBatch with manual offsets (the batch handler commits them in
 * its Kafka transaction), commits past batches kafkajs resolves without calling eachBatch, restarts
 * on transient crashes kafkajs gives up on, and reports whether it is in the group (readiness).
 */
import type { Admin, Consumer, EachBatchHandler, Kafka } from 'kafkajs';
import { isRetriable } from './errors.ts';
import type { Logger } from './logger.ts';
import type { Tolerate } from './tolerated.ts';
import { retry } from './retry.ts';
import { HEARTBEAT_INTERVAL_MS } from './batch-retry.ts';
import { PartitionFencedError } from './transactional-output.ts';

export interface BatchConsumerOptions {
  groupId: string;
  topics: readonly string[];
  eachBatch: EachBatchHandler;
  /** Partitions processed at once. */
  concurrency: number;
  sessionTimeoutMs: number;
  maxBytesPerPartition: number;
  retryMaxBackoffMs: number;
  /**
   * Commits past records kafkajs skipped without calling eachBatch (transaction markers, aborted
   * records of a transactional upstream); without it the group would never reach the end.
   */
  commitSkipped: (topic: string, partition: number, nextOffset: string) => Promise<void>;
  /** Called on every (re)join, before the first batch of the new assignment, with that assignment (topic → partitions). */
  onJoin?: (assignment: Readonly<Record<string, readonly number[]>>) => void;
  /** Called with the consumer once created, before it runs (e.g. to seek from a batch handler). */
  onCreated?: (consumer: Consumer) => void;
  /** Counts a commit past skipped records that failed (the next batch moves the offset); logged without it. */
  tolerate?: Tolerate;
}

export interface BatchConsumer {
  consumer: Consumer;
  /** In the group now (false while it rejoins or restarts). */
  joined(): boolean;
  /**
   * How long the batches in flight have gone without a heartbeat, ms: the longest, since the batch
   * started or since its handler last called heartbeat() (0 when none is in flight). kafkajs
   * heartbeats only between batches and when the handler asks; a batch silent for longer than the
   * session timeout has been removed from the group by the coordinator, though nothing here noticed.
   */
  batchRunningMs(): number;
  /** The group session timeout this consumer runs with, ms. */
  sessionTimeoutMs: number;
  /** Rejects when the consumer stopped for good on an error. */
  crashed: Promise<never>;
  /** Stops consuming (the in-flight batch finishes first). */
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

/** A consumer crash kafkajs does not restart from, though the cause is transient (kafkajs#1630). */
export function kafkajsGaveUpTooSoon(err: unknown): boolean {
  const e = err as { name?: unknown; message?: unknown } | null;
  return (
    e?.name === 'KafkaJSGroupCoordinatorNotFound' ||
    (typeof e?.message === 'string' && e.message.includes('Failed to find group coordinator'))
  );
}

/** Creates, connects, subscribes (from the beginning) and runs the consumer. */
export async function startBatchConsumer(kafka: Kafka, log: Logger, o: BatchConsumerOptions): Promise<BatchConsumer> {
  const consumer = kafka.consumer({
    groupId: o.groupId,
    sessionTimeout: o.sessionTimeoutMs,
    heartbeatInterval: HEARTBEAT_INTERVAL_MS,
    maxBytesPerPartition: o.maxBytesPerPartition,
    maxBytes: o.maxBytesPerPartition * 4,
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
  o.onCreated?.(consumer);
  let joined = false;
  let stopRequested = false;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    joined = true;
    o.onJoin?.(e.payload.memberAssignment);
    log.info({ memberId: e.payload.memberId, assignment: e.payload.memberAssignment }, 'joined consumer group');
  });
  consumer.on(consumer.events.END_BATCH_PROCESS, (e) => {
    if (e.payload.batchSize !== 0) return;
    const { topic, partition, lastOffset } = e.payload;
    // Not retried once the partition's producer is fenced: another instance has it now (or the group
    // will say so), and it moves the offset with its own batches.
    let fenced = false;
    retry(
      async () => {
        try {
          await o.commitSkipped(topic, partition, (BigInt(lastOffset) + 1n).toString());
        } catch (err) {
          if (err instanceof PartitionFencedError) fenced = true;
          throw err;
        }
      },
      { maxMs: o.retryMaxBackoffMs, shouldContinue: () => !stopRequested && !fenced },
    ).catch((err: unknown) =>
      o.tolerate
        ? o.tolerate('skipped-commit', err, { topic, partition })
        : log.warn({ err, partition }, 'committing past skipped records failed; the next batch will move the offset'),
    );
  });
  let crash: ((err: unknown) => void) | null = null;
  const crashed = new Promise<never>((_, reject) => (crash = reject));
  // Handled where it is raced (a caller that never awaits it must not see an unhandled rejection).
  // eslint-disable-next-line no-restricted-syntax -- not swallowed: `crashed` is returned and awaited
  crashed.catch(() => {});
  // When each batch in flight (one per partition processed at once) last heartbeated, for batchRunningMs.
  const inFlight = new Set<{ lastBeat: number }>();
  const runOptions = {
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: o.concurrency,
    eachBatch: async (payload: Parameters<EachBatchHandler>[0]) => {
      const entry = { lastBeat: Date.now() };
      inFlight.add(entry);
      const heartbeat = async () => {
        await payload.heartbeat();
        entry.lastBeat = Date.now();
      };
      try {
        await o.eachBatch({ ...payload, heartbeat });
      } finally {
        inFlight.delete(entry);
      }
    },
  };
  const subscribe = () => consumer.subscribe({ topics: [...o.topics], fromBeginning: true });
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
          await subscribe();
          await consumer.run(runOptions);
        },
        { maxMs: o.retryMaxBackoffMs, shouldContinue: () => !stopRequested },
      ).catch((err: unknown) => crash?.(err));
      return;
    }
    crash?.(e.payload.error);
  });
  await consumer.connect();
  try {
    await subscribe();
    await consumer.run(runOptions);
  } catch (err) {
    await consumer.disconnect().catch((e: unknown) => log.debug({ err: e }, 'disconnecting after a failed start failed'));
    throw err;
  }
  return {
    consumer,
    joined: () => joined,
    batchRunningMs: () => {
      let oldest = Infinity;
      for (const e of inFlight) oldest = Math.min(oldest, e.lastBeat);
      return oldest === Infinity ? 0 : Date.now() - oldest;
    },
    sessionTimeoutMs: o.sessionTimeoutMs,
    crashed,
    stop: async () => {
      stopRequested = true;
      await consumer.stop();
    },
    disconnect: () => consumer.disconnect(),
  };
}

/** One partition's progress of a group: its committed offset (null when none) and the high watermark. */
export interface PartitionLag {
  topic: string;
  partition: number;
  committed: string | null;
  high: string;
  /** Records still to process: high watermark minus committed offset (or minus the low watermark when none, or when it is higher). */
  lag: number;
}

/** The group's lag per partition of a topic. */
export async function groupLagByPartition(admin: Admin, groupId: string, topic: string): Promise<PartitionLag[]> {
  const [ends, committed] = await Promise.all([admin.fetchTopicOffsets(topic), admin.fetchOffsets({ groupId, topics: [topic] })]);
  const byPartition = new Map<number, string>();
  for (const t of committed) for (const p of t.partitions) byPartition.set(p.partition, p.offset);
  return ends.map((p) => {
    const high = Number(p.high);
    const c = Number(byPartition.get(p.partition) ?? '-1');
    // No commit, or one below the low watermark (records removed by retention): from the oldest record there.
    const from = Math.max(c, Number(p.low));
    return { topic, partition: p.partition, committed: c < 0 ? null : String(c), high: p.high, lag: Math.max(0, high - from) };
  });
}

/** Records still to process by the group: sum over partitions of high watermark minus committed offset. */
export async function groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  return (await groupLagByPartition(admin, groupId, topic)).reduce((sum, p) => sum + p.lag, 0);
}

/**
 * A topic's offsets per partition, or null when the topic does not exist. Probe and scrape paths
 * ask which topics exist first (one metadata request for all topics): asking kafkajs for a missing
 * topic's offsets leaves the topic among the client's metadata targets, and from then on every
 * metadata refresh of that client fails ("This server does not host this topic-partition"), for the
 * topics that exist too — one missing dead-letter topic would break every later read of the admin.
 */
export async function topicOffsetsIfExists(
  admin: Admin,
  topic: string,
): Promise<Array<{ partition: number; low: string; high: string }> | null> {
  if (!(await admin.listTopics()).includes(topic)) return null;
  return admin.fetchTopicOffsets(topic);
}

/** groupLag for probe paths: refuses a topic that does not exist instead of asking kafkajs for it (see topicOffsetsIfExists). */
export async function probeGroupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
  if (!(await admin.listTopics()).includes(topic)) throw new Error(`topic ${topic} does not exist`);
  return groupLag(admin, groupId, topic);
}

/**
 * What a drain still waits for, in one line: the partitions behind (committed / high watermark),
 * whether the consumer is in its group, and the last failed check.
 */
export function describeDrainWait(w: {
  waitedMs: number;
  behind: readonly PartitionLag[];
  joined: boolean | null;
  processed: number;
  lastError: string | null;
}): string {
  const parts = w.behind.map((p) => `${p.topic}/${p.partition} ${p.committed ?? 'none'}/${p.high}`);
  const shown = parts.length > 10 ? [...parts.slice(0, 10), `and ${parts.length - 10} more`] : parts;
  let text = `drain still waiting after ${Math.round(w.waitedMs / 1000)} s: `;
  text +=
    w.behind.length === 0
      ? 'no partition known to be behind'
      : `${w.behind.reduce((a, p) => a + p.lag, 0)} records behind on ${shown.join(', ')} (committed/high)`;
  if (w.joined !== null)
    text += w.joined ? '; the consumer is in its group' : '; the consumer is NOT in its group (no assignment)';
  text += `; ${w.processed} records processed`;
  if (w.lastError !== null) text += `; last check failed: ${w.lastError}`;
  return text;
}

/**
 * Resolves once the group has caught up with every topic (lag 0), checking every second; reports
 * progress. A drain that has not finished after `reportEveryMs` (30 s) says what it waits for, and
 * again every `reportEveryMs`: a hang then names its cause instead of ending in a bare timeout. At
 * info level while records were processed since the last report (a long drain at work), at warn
 * level when none were.
 */
export async function drainedWhenCaughtUp(o: {
  admin: Admin;
  groupId: string;
  topics: readonly string[];
  stopped: () => boolean;
  processed: () => number;
  /** Whether the consumer is in its group now (BatchConsumer.joined), for the report of a long wait. */
  joined?: () => boolean;
  onProgress?: (p: { processed: number; lag: number }) => void;
  log: Logger;
  /** How often a drain that has not finished says what it waits for (ms). */
  reportEveryMs?: number;
  /** Time between checks (ms). */
  checkEveryMs?: number;
  /** Work this process still does below the committed offsets (the ingest's restores): not drained while true. */
  busy?: () => boolean;
}): Promise<void> {
  const reportEveryMs = o.reportEveryMs ?? 30_000;
  const started = Date.now();
  let lastReport = started;
  let processedAtReport = o.processed();
  let behind: PartitionLag[] = [];
  let lastError: string | null = null;
  for (;;) {
    await new Promise((r) => setTimeout(r, o.checkEveryMs ?? 1_000));
    if (o.stopped()) return;
    try {
      const partitions: PartitionLag[] = [];
      for (const topic of o.topics) partitions.push(...(await groupLagByPartition(o.admin, o.groupId, topic)));
      const lag = partitions.reduce((a, p) => a + p.lag, 0);
      behind = partitions.filter((p) => p.lag > 0);
      lastError = null;
      o.onProgress?.({ processed: o.processed(), lag });
      if (lag === 0 && !(o.busy?.() ?? false)) return;
    } catch (err) {
      lastError = err instanceof Error ? err.message : String(err);
      o.log.warn(`drain check failed: ${lastError}`);
    }
    if (Date.now() - lastReport >= reportEveryMs) {
      lastReport = Date.now();
      const joined = o.joined ? o.joined() : null;
      const moving = o.processed() > processedAtReport;
      processedAtReport = o.processed();
      o.log[moving ? 'info' : 'warn'](
        { groupId: o.groupId, behind, joined, processed: o.processed() },
        describeDrainWait({ waitedMs: lastReport - started, behind, joined, processed: o.processed(), lastError }),
      );
    }
  }
}

/**
 * Readiness of a processor: in its group, no dependency failing, and no batch silent (no heartbeat)
 * for longer than the session timeout (the coordinator has then removed this member: its partitions
 * are someone else's or nobody's until the batch ends, so it must not report itself as consuming).
 */
export function consumerReadiness(
  consumer: Pick<BatchConsumer, 'joined' | 'batchRunningMs' | 'sessionTimeoutMs'>,
  failing: ReadonlySet<string>,
): () => { ok: boolean; detail: string } {
  return () => {
    if (!consumer.joined()) return { ok: false, detail: 'not yet in the consumer group' };
    if (failing.size > 0) return { ok: false, detail: `waiting for ${[...failing].join(', ')}` };
    const running = consumer.batchRunningMs();
    if (running > consumer.sessionTimeoutMs)
      return {
        ok: false,
        detail: `a batch has gone ${Math.round(running / 1000)} s without a heartbeat, longer than the ${Math.round(consumer.sessionTimeoutMs / 1000)} s session timeout: the group has likely removed this member`,
      };
    return { ok: true, detail: 'consuming' };
  };
}
