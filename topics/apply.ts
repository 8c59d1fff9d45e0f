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
  const existing = new Set(await admin.listTopics());
  const keys = Object.keys(TOPICS) as TopicKey[];
  const missing = keys.filter((k) => !existing.has(topicName(namespace, k)));
  if (missing.length > 0) {
    await admin.createTopics({
      waitForLeaders: true,
      topics: missing.map((k) => ({
        topic: topicName(namespace, k),
        numPartitions: TOPICS[k].partitions,
        replicationFactor: TOPICS[k].replicationFactor,
        configEntries: Object.entries(TOPICS[k].config).map(([name, value]) => ({ name, value })),
      })),
    });
  }
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
