/** Pipeline health for SREs: lag per group and partition, throughput, dead letters, late events. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Admin } from 'kafkajs';
import type { RowDataPacket } from 'mysql2/promise';
import { Type } from 'typebox';
import type { Pool } from '../../platform/mysql.ts';
import { problems } from '../schemas/common.ts';

/** How long the stored, late and duplicate counts are reused. */
const COUNTS_TTL_MS = 10_000;

export interface PipelineTopology {
  groups: ReadonlyArray<{ group: string; topics: readonly string[] }>;
  deadLetterTopics: readonly string[];
}

const Pipeline = Type.Object({
  groups: Type.Array(
    Type.Object({
      group: Type.String(),
      topic: Type.String(),
      lag: Type.Integer(),
      records_per_second: Type.Union([Type.Number(), Type.Null()], {
        description: 'Committed records per second since the previous call at least 5 s earlier (null on the first).',
      }),
      partitions: Type.Array(
        Type.Object({ partition: Type.Integer(), committed: Type.Integer(), end: Type.Integer(), lag: Type.Integer() }),
      ),
    }),
  ),
  dead_letters: Type.Array(Type.Object({ topic: Type.String(), records: Type.Integer() })),
  transactions: Type.Object({ stored: Type.Integer(), late: Type.Integer(), duplicates: Type.Integer() }),
});

const pipelineRoutes: FastifyPluginAsyncTypebox<{ pool: Pool; admin: Admin; topology: PipelineTopology }> = async (app, opts) => {
  let counts: { at: number; t: RowDataPacket | undefined } = { at: 0, t: undefined };
  // The previous reading of each group's committed total, for throughput.
  const last = new Map<string, { at: number; committed: number; rate: number | null }>();

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
    async () => {
      const groups = [];
      for (const g of opts.topology.groups)
        for (const topic of g.topics) {
          const [ends, [committed]] = await Promise.all([
            opts.admin.fetchTopicOffsets(topic),
            opts.admin.fetchOffsets({ groupId: g.group, topics: [topic] }),
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
          const total = partitions.reduce((a, p) => a + p.committed, 0);
          const key = `${g.group}\n${topic}`;
          const prev = last.get(key);
          const now = Date.now();
          let rate = prev?.rate ?? null;
          if (!prev || now - prev.at >= 5_000) {
            if (prev) rate = Math.round(((total - prev.committed) / ((now - prev.at) / 1000)) * 10) / 10;
            last.set(key, { at: now, committed: total, rate });
          }
          groups.push({
            group: g.group,
            topic,
            lag: partitions.reduce((a, p) => a + p.lag, 0),
            records_per_second: rate,
            partitions,
          });
        }
      const deadLetters = [];
      for (const topic of opts.topology.deadLetterTopics) {
        const offsets = await opts.admin.fetchTopicOffsets(topic);
        deadLetters.push({ topic, records: offsets.reduce((a, p) => a + Number(p.high) - Number(p.low), 0) });
      }
      // Full counts are table scans: read at most every COUNTS_TTL_MS, whoever asks.
      if (Date.now() - counts.at >= COUNTS_TTL_MS) {
        const [[t]] = await opts.pool.query<RowDataPacket[]>(
          'SELECT (SELECT COUNT(*) FROM transactions) AS stored, (SELECT COUNT(*) FROM transactions WHERE late) AS late, (SELECT COUNT(*) FROM transaction_duplicates) AS duplicates',
        );
        counts = { at: Date.now(), t };
      }
      const t = counts.t;
      return {
        groups,
        dead_letters: deadLetters,
        transactions: { stored: Number(t?.stored), late: Number(t?.late), duplicates: Number(t?.duplicates) },
      };
    },
  );
};

export default pipelineRoutes;
