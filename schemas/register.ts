/** `txmon schemas register`: every contract under its topic's value subject, BACKWARD compatible. */
import type { TxmonConfig } from '../config/config.ts';
import { createRegistry, registerSchema } from '../platform/schema-registry.ts';
import { TOPICS, valueSubject, type TopicKey } from '../topics/topics.ts';
import { schemaText } from './index.ts';

/** Registers all schemas; returns subject → schema id. Idempotent. */
export async function registerAll(cfg: TxmonConfig, log: (line: string) => void = () => {}): Promise<Record<string, number>> {
  const registry = createRegistry(cfg);
  const ids: Record<string, number> = {};
  for (const key of Object.keys(TOPICS) as TopicKey[]) {
    const subject = valueSubject(cfg.topicNamespace, key);
    ids[subject] = await registerSchema(registry, cfg.registryUrl, subject, schemaText(TOPICS[key].valueSchema));
    log(`schemas: ${subject} -> id ${ids[subject]} (BACKWARD)`);
  }
  return ids;
}
