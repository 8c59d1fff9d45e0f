/** `txmon topics apply`: creates missing topics and reports drift between code and broker. */
import kafkajs, { type Admin } from 'kafkajs';
import { retry } from '../platform/retry.ts';
import { TOPICS, topicName, type TopicKey } from './topics.ts';

export interface TopicReport {
  topic: string;
  action: 'created' | 'exists';
  drift: string[];
}

/** How many replicas a topic gets, and how many must have a write before it counts (TXMON_TOPIC_*). */
export interface Replication {
  factor: number;
  minInsync: number;
}

/** One broker: one replica, one in sync. */
export const SINGLE_BROKER: Replication = { factor: 1, minInsync: 1 };

/** A topic's broker configs: the code's, and min.insync.replicas where there is more than one replica. */
export function topicConfig(k: TopicKey, replication: Replication): Record<string, string> {
  return replication.factor > 1
    ? { ...TOPICS[k].config, 'min.insync.replicas': String(replication.minInsync) }
    : { ...TOPICS[k].config };
}

/**
 * Creates each missing topic with its partitions, replicas and configs; for existing ones lists
 * every difference (partitions, replication factor, configs).
 */
export async function applyTopics(
  admin: Admin,
  namespace: string,
  log: (line: string) => void = () => {},
  replication: Replication = SINGLE_BROKER,
): Promise<TopicReport[]> {
  const existing = new Set(await admin.listTopics());
  const keys = Object.keys(TOPICS) as TopicKey[];
  const missing = keys.filter((k) => !existing.has(topicName(namespace, k)));
  if (missing.length > 0) await createWaitingForLeaders(admin, namespace, missing, replication);
  const present = keys.filter((k) => !missing.includes(k));
  const reports: TopicReport[] = missing.map((k) => ({ topic: topicName(namespace, k), action: 'created', drift: [] }));
  if (present.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: present.map((k) => topicName(namespace, k)) });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((k) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name: topicName(namespace, k),
        configNames: Object.keys(topicConfig(k, replication)),
      })),
    });
    for (const k of present) {
      const name = topicName(namespace, k);
      const spec = TOPICS[k];
      const drift: string[] = [];
      const parts = meta.topics.find((t) => t.name === name)?.partitions ?? [];
      if (parts.length !== spec.partitions) drift.push(`partitions: broker has ${parts.length}, code says ${spec.partitions}`);
      const replicas = Math.min(...parts.map((p) => p.replicas.length));
      if (parts.length > 0 && replicas !== replication.factor)
        drift.push(`replication factor: broker has ${replicas}, TXMON_TOPIC_REPLICATION_FACTOR says ${replication.factor}`);
      const entries = configs.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
      for (const [cfgName, want] of Object.entries(topicConfig(k, replication))) {
        const have = entries.find((e) => e.configName === cfgName)?.configValue;
        if (have !== want) drift.push(`${cfgName}: broker has ${have ?? '(unset)'}, code says ${want}`);
      }
      reports.push({ topic: name, action: 'exists', drift });
    }
  }
  for (const r of reports) {
    log(`topics: ${r.topic} ${r.action}${r.drift.length ? ` — DRIFT: ${r.drift.join('; ')}` : ''}`);
  }
  return reports;
}

/**
 * Creates the topics and waits for their leaders. A broker that is busy or just started may answer
 * the wait's metadata request with a retriable error (UNKNOWN_TOPIC_OR_PARTITION while the new
 * topic's metadata propagates) that kafkajs's own wait gives up on: the wait is asked again, up to
 * 30 s, and a topic an earlier attempt created counts as created.
 */
async function createWaitingForLeaders(
  admin: Admin,
  namespace: string,
  missing: readonly TopicKey[],
  replication: Replication,
): Promise<void> {
  const deadline = Date.now() + 30_000;
  let todo: readonly TopicKey[] | null = missing;
  await retry(
    async () => {
      // After a failed attempt, what it created is not created again: only its leaders are awaited.
      todo ??= await stillMissing(admin, namespace, missing);
      const create = todo;
      todo = null;
      if (create.length > 0)
        await admin.createTopics({
          waitForLeaders: true,
          topics: create.map((k) => ({
            topic: topicName(namespace, k),
            numPartitions: TOPICS[k].partitions,
            replicationFactor: replication.factor,
            configEntries: Object.entries(topicConfig(k, replication)).map(([name, value]) => ({ name, value })),
          })),
        });
      else await admin.fetchTopicMetadata({ topics: missing.map((k) => topicName(namespace, k)) });
    },
    { initialMs: 100, maxMs: 1_000, shouldContinue: () => Date.now() < deadline },
  );
}

async function stillMissing(admin: Admin, namespace: string, keys: readonly TopicKey[]): Promise<TopicKey[]> {
  const existing = new Set(await admin.listTopics());
  return keys.filter((k) => !existing.has(topicName(namespace, k)));
}
