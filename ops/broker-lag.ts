/**
 * Consumer lag as the broker sees it (issue 21): for each watched consumer group, the high watermark
 * of each partition of its input topics less the group's committed offset there, summed per topic.
 * The processors export their own lag (`txmon_ingest_consumer_lag_records`), but only while they
 * run and fetch: a processor that is down, stuck in a rebalance or wedged before its commit stops
 * updating it, or takes it down with its /metrics, which is when the lag grows. Read from the
 * broker it keeps growing, so its forecast still says when the SLO breaks.
 *
 * ops-watch reads it once per round and feeds it to the engine as the exposition text of a target
 * of its own, `kafka` (`kafka:up` is then whether the broker answered): the same parser, detector,
 * forecaster, traces and evidence as every scraped series.
 */
import type { Admin } from 'kafkajs';
import { groupLag } from '../platform/batch-consumer.ts';

/** The metric's name, in the engine's watch list and SLOs (ops/watch-list.ts). */
export const GROUP_LAG_METRIC = 'txmon_consumer_group_lag_records';
/** The name of the target the lags are read as (its series are `kafka:…`). */
export const BROKER_TARGET = 'kafka';

/** A consumer group and the topics it consumes. */
export interface LagWatch {
  readonly group: string;
  readonly topics: readonly string[];
}

/** One group's lag on one topic: the sum over its partitions. */
export interface GroupTopicLag {
  readonly group: string;
  readonly topic: string;
  readonly lag: number;
}

/** A label value as the text format writes it: backslash, double quote and line feed escaped. */
function labelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** The lags as Prometheus text exposition (a gauge per group and topic). */
export function lagExposition(lags: readonly GroupTopicLag[]): string {
  const lines = [
    `# HELP ${GROUP_LAG_METRIC} Offsets the group has still to process on the topic, from the broker: high watermarks less the group's committed offsets (or the low watermarks where the group has none or is below them), summed over the partitions; transaction markers count.`,
    `# TYPE ${GROUP_LAG_METRIC} gauge`,
  ];
  for (const l of lags) lines.push(`${GROUP_LAG_METRIC}{group="${labelValue(l.group)}",topic="${labelValue(l.topic)}"} ${l.lag}`);
  return `${lines.join('\n')}\n`;
}

/**
 * Each watched group's lag on each of its topics, asked of the broker. A topic that does not exist
 * (yet) is left out rather than asked for (platform/batch-consumer.ts topicOffsetsIfExists says why);
 * a broker that does not answer rejects, and the round counts the target as down.
 */
export async function readGroupLags(admin: Admin, watches: readonly LagWatch[]): Promise<GroupTopicLag[]> {
  const existing = new Set(await admin.listTopics());
  // In the watches' order (Promise.all keeps it): the text is the same each round.
  return Promise.all(
    watches.flatMap((w) =>
      w.topics
        .filter((t) => existing.has(t))
        .map(async (topic) => ({
          group: w.group,
          topic,
          lag: await groupLag(admin, w.group, topic),
        })),
    ),
  );
}
