/** Deleting a non-production namespace: its topics, consumer group, database and Redis keys (demo and tests). */
import { createStateRedis } from '../platform/redis.ts';
import { scanAll, unlinkAll } from '../platform/redis-pipelines.ts';
import { createConnection } from '../platform/mysql.ts';
import { registryAuthHeaders } from '../platform/schema-registry.ts';
import type { TxmonConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { sleep } from '../platform/retry.ts';
import { TOPICS, topicName, valueSubject, type TopicKey } from '../topics/topics.ts';

/** Deletes the namespace's topics, database and Redis keys (demo and tests only). */
export async function resetNamespace(cfg: TxmonConfig, logger: Logger, say: (line: string) => void): Promise<void> {
  if (cfg.topicNamespace === '') throw new Error('refusing to reset the production namespace');
  const admin = createKafka(cfg, logger).admin();
  await admin.connect();
  try {
    const names = (Object.keys(TOPICS) as TopicKey[]).map((k) => topicName(cfg.topicNamespace, k));
    const existing = (await admin.listTopics()).filter((t) => names.includes(t));
    if (existing.length > 0) {
      await admin.deleteTopics({ topics: existing, timeout: 30_000 });
      for (let i = 0; i < 100 && (await admin.listTopics()).some((t) => existing.includes(t)); i++) await sleep(200);
    }
    // A group never created is refused too (GROUP_ID_NOT_FOUND): logged, not fatal.
    await admin
      .deleteGroups([cfg.ingest.groupId, cfg.recon.groupId])
      .catch((err: unknown) => logger.debug({ err }, 'reset: the namespace’s consumer groups were not all deleted'));
  } finally {
    await admin.disconnect();
  }
  // Registry subjects of the namespace (soft delete, then permanent), so tests leave none behind.
  for (const key of Object.keys(TOPICS) as TopicKey[]) {
    const url = `${cfg.registryUrl}/subjects/${encodeURIComponent(valueSubject(cfg.topicNamespace, key))}`;
    // A subject never registered answers 404 (no error); a registry that does not answer is logged.
    const notDeleted = (err: unknown) => logger.debug({ err, subject: url }, 'reset: a registry subject was not deleted');
    await fetch(url, { method: 'DELETE', headers: registryAuthHeaders(cfg) }).catch(notDeleted);
    await fetch(`${url}?permanent=true`, { method: 'DELETE', headers: registryAuthHeaders(cfg) }).catch(notDeleted);
  }
  const conn = await createConnection(cfg, { database: false });
  await conn.query(`DROP DATABASE IF EXISTS \`${cfg.mysql.database}\``);
  await conn.end();
  const redis = createStateRedis(cfg);
  await redis.connect();
  let deleted = 0;
  try {
    await scanAll(redis, `${cfg.keyPrefix}:*`, async (keys) => {
      deleted += await unlinkAll(redis, keys);
    });
  } finally {
    redis.disconnect();
  }
  say(`demo: reset namespace "${cfg.topicNamespace}" (topics, database ${cfg.mysql.database}, ${deleted} Redis keys)`);
}
