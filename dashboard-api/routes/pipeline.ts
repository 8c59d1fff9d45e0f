/** Pipeline health for SREs: lag per group and partition, throughput, dead letters, late events. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Admin } from 'kafkajs';
import { DeadlineRead } from '../../platform/deadline-read.ts';
import { errorMessage } from '../../platform/errors.ts';
import type { Pool } from '../../platform/mysql.ts';
import { PROBE_DEADLINE_MS, PROBE_WAIT_MS } from '../../platform/probe-admin.ts';
import { HttpProblem } from '../plugins/errors.ts';
import { transactionCounts } from '../repositories/pipeline.ts';
import { problems } from '../schemas/common.ts';
import { Pipeline, type GroupView } from '../schemas/pipeline.ts';

/** How long the stored, late and duplicate counts are reused. */
const COUNTS_TTL_MS = 10_000;
/** MariaDB stops the counts' statement past this (max_statement_time). */
const COUNTS_MAX_SECONDS = 5;
/** How long a Kafka reading (lag, dead letters) is reused. */
const KAFKA_FRESH_MS = 2_000;

export interface PipelineTopology {
  groups: ReadonlyArray<{ group: string; topics: readonly string[] }>;
  deadLetterTopics: readonly string[];
}

/**
 * Records on each dead-letter topic (end minus start offset). A DLQ topic that does not exist yet
 * holds none: it is listed as 0 rather than failing the whole reading (one metadata request says
 * which exist; only those are asked for offsets).
 */
export async function deadLetterRecords(
  admin: Admin,
  topics: readonly string[],
): Promise<Array<{ topic: string; records: number }>> {
  const existing = new Set(await admin.listTopics());
  const out = [];
  for (const topic of topics) {
    // Never ask kafkajs for a missing topic: see topicOffsetsIfExists.
    const offsets = existing.has(topic) ? await admin.fetchTopicOffsets(topic) : [];
    out.push({ topic, records: offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0) });
  }
  return out;
}

/** Lag per partition of each group and topic (no throughput: that needs the previous reading). */
async function readGroups(admin: Admin, topology: PipelineTopology) {
  const out: Array<Omit<GroupView, 'records_per_second'> & { committedTotal: number }> = [];
  const existing = new Set(await admin.listTopics());
  for (const g of topology.groups)
    for (const topic of g.topics) {
      // Never ask kafkajs for a missing topic: see topicOffsetsIfExists.
      if (!existing.has(topic)) throw new Error(`topic ${topic} does not exist`);
      const [ends, [committed]] = await Promise.all([
        admin.fetchTopicOffsets(topic),
        admin.fetchOffsets({ groupId: g.group, topics: [topic] }),
      ]);
      const byPartition = new Map((committed?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
      const partitions = ends
        .map((p) => {
          const c = byPartition.get(p.partition) ?? -1;
          const from = c < 0 ? Number(p.low) : c;
          return {
            partition: p.partition,
            committed: Math.max(c, 0),
            end: Number(p.high),
            lag: Math.max(0, Number(p.high) - from),
          };
        })
        .sort((a, b) => a.partition - b.partition);
      out.push({
        group: g.group,
        topic,
        lag: partitions.reduce((a, p) => a + p.lag, 0),
        partitions,
        committedTotal: partitions.reduce((a, p) => a + p.committed, 0),
      });
    }
  return out;
}

const pipelineRoutes: FastifyPluginAsyncTypebox<{
  pool: Pool;
  admin: Admin;
  topology: PipelineTopology;
  /** A read of Kafka or MySQL pending this long counts as failed (≤ 2 s). */
  deadlineMs?: number;
  /** How long a caller waits (default PROBE_WAIT_MS); past it the last reading is served with its age. */
  waitMs?: number;
}> = async (app, opts) => {
  const deadlineMs = Math.min(opts.deadlineMs ?? PROBE_DEADLINE_MS, PROBE_DEADLINE_MS);
  const waitMs = Math.min(opts.waitMs ?? PROBE_WAIT_MS, deadlineMs);
  const warn = (reading: string) => (outcome: string, err?: unknown) => {
    if (outcome !== 'ok')
      app.log.warn(
        { reading, outcome, err: err === undefined ? undefined : errorMessage(err) },
        'pipeline view: reading failed; serving the last one',
      );
  };
  // One Kafka reading at a time, whoever asks; a late or failed one serves the previous with its age.
  const kafka = new DeadlineRead(
    async () => {
      const [groups, deadLetters] = await Promise.all([
        readGroups(opts.admin, opts.topology),
        deadLetterRecords(opts.admin, opts.topology.deadLetterTopics),
      ]);
      return { groups, deadLetters };
    },
    { deadlineMs, waitMs, freshMs: KAFKA_FRESH_MS, onOutcome: warn('kafka') },
  );
  // Full counts are table scans: read at most every COUNTS_TTL_MS, whoever asks, and cut off by
  // MariaDB past COUNTS_MAX_SECONDS (a busy table cannot hold a connection for long).
  const counts = new DeadlineRead(
    async () => {
      return transactionCounts(opts.pool, COUNTS_MAX_SECONDS);
    },
    { deadlineMs, waitMs, freshMs: COUNTS_TTL_MS, onOutcome: warn('mysql-counts') },
  );
  // The previous reading of each group's committed total, for throughput.
  const last = new Map<string, { at: number; committed: number; rate: number | null }>();
  const rateOf = (key: string, total: number, at: number): number | null => {
    const prev = last.get(key);
    let rate = prev?.rate ?? null;
    if (!prev || at - prev.at >= 5_000) {
      if (prev && at > prev.at) rate = Math.round(((total - prev.committed) / ((at - prev.at) / 1000)) * 10) / 10;
      last.set(key, { at, committed: total, rate });
    }
    return rate;
  };

  app.get(
    '/pipeline',
    {
      config: { roles: ['sre', 'admin'] },
      schema: {
        tags: ['operations'],
        summary: 'Lag per consumer group and partition, throughput, dead letters, late events',
        response: { 200: Pipeline, ...problems(503) },
      },
    },
    async (_request, reply) => {
      const [k, c] = await Promise.all([kafka.get(), counts.get()]);
      if (k.value === null || k.ageMs === null) {
        // The first reading still under way: it shows on the next call.
        if (k.failure === null) {
          reply.header('retry-after', 1);
          throw new HttpProblem(503, 'the first reading of the broker is under way; retry in a second');
        }
        throw new HttpProblem(
          503,
          k.failure === 'timeout'
            ? `the broker did not answer within ${deadlineMs} ms and there is no earlier reading`
            : 'reading the broker failed (a topic of the view may not exist) and there is no earlier reading; the API log says why',
        );
      }
      const readAt = Date.now() - k.ageMs;
      return {
        groups: k.value.groups.map(({ committedTotal, ...g }) => ({
          ...g,
          records_per_second: rateOf(`${g.group}\n${g.topic}`, committedTotal, readAt),
        })),
        dead_letters: k.value.deadLetters,
        transactions: c.value ?? { stored: null, late: null, duplicates: null },
        age_seconds: {
          kafka: k.ageMs / 1000,
          counts: c.ageMs === null ? null : c.ageMs / 1000,
        },
      };
    },
  );
};

export default pipelineRoutes;
