/** `txmon topics apply`: creates missing topics and reports drift between code and broker. */
import kafkajs, { type Admin } from 'kafkajs';
import { TOPICS, topicName, type TopicKey } from './topics.ts';

export interface TopicReport {
  topic: string;
  action: 'created' | 'exists';
  drift: string[];
}

/** Creates each missing topic with its partitions and configs; for existing ones lists every difference. */
export async function applyTopics(
  admin: Admin,
  namespace: string,
  log: (line: string) => void = () => {},
): Promise<TopicReport[]> {
  const keys = Object.keys(TOPICS) as TopicKey[];
  const existing = new Set(await admin.listTopics());
  const missing = keys.filter((k) => !existing.has(topicName(namespace, k)));
  if (missing.length > 0) await createWaitingForLeaders(admin, namespace, missing);
  const present = keys.filter((k) => !missing.includes(k));
  const reports: TopicReport[] = missing.map((k) => ({ topic: topicName(namespace, k), action: 'created', drift: [] }));
  if (present.length > 0) {
    const meta = await admin.fetchTopicMetadata({ topics: present.map((k) => topicName(namespace, k)) });
    const configs = await admin.describeConfigs({
      includeSynonyms: false,
      resources: present.map((k) => ({
        type: kafkajs.ConfigResourceTypes.TOPIC,
        name: topicName(namespace, k),
        configNames: Object.keys(TOPICS[k].config),
      })),
    });
    for (const k of present) {
      const name = topicName(namespace, k);
      const spec = TOPICS[k];
      const drift: string[] = [];
      const partitions = meta.topics.find((t) => t.name === name)?.partitions.length ?? 0;
      if (partitions !== spec.partitions) drift.push(`partitions: broker has ${partitions}, code says ${spec.partitions}`);
      const entries = configs.resources.find((r) => r.resourceName === name)?.configEntries ?? [];
      for (const [cfgName, want] of Object.entries(spec.config)) {
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
 * 30 s, and a topic the first attempt created counts as created.
 */
async function createWaitingForLeaders(admin: Admin, namespace: string, keys: readonly TopicKey[]): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (let attempt = 1; ; attempt++) {
    const existing = new Set(await admin.listTopics());
    const missing = keys.filter((k) => !existing.has(topicName(namespace, k)));
    try {
      if (missing.length > 0)
        await admin.createTopics({
          waitForLeaders: true,
          topics: missing.map((k) => ({
            topic: topicName(namespace, k),
            numPartitions: TOPICS[k].partitions,
            replicationFactor: TOPICS[k].replicationFactor,
            configEntries: Object.entries(TOPICS[k].config).map(([name, value]) => ({ name, value })),
          })),
        });
      else await admin.fetchTopicMetadata({ topics: keys.map((k) => topicName(namespace, k)) });
      return;
    } catch (err) {
      const retriable = (err as { retriable?: unknown }).retriable === true;
      if (!retriable || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, Math.min(1_000, 100 * attempt)));
    }
  }
}
