/** `txmon state rebuild|status`: the windowed state in Redis, checked and rebuilt from MySQL. */
import type { TxmonConfig } from '../config/config.ts';
import { createPool } from '../platform/mysql.ts';
import { connectOnce, createStateRedis } from '../platform/redis.ts';
import { redactUrl } from '../config/secrets.ts';
import { dataNodes } from '../platform/redis-pipelines.ts';
import { committedOffsets, ensureState, rebuildDepsFor } from '../state/rebuild.ts';
import { markerKeys, readMarker } from '../state/marker.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { errorMessage } from '../platform/errors.ts';
import { topicName } from '../topics/topics.ts';

async function withClients<T>(
  cfg: TxmonConfig,
  fn: (c: { redis: ReturnType<typeof createStateRedis>; pool: ReturnType<typeof createPool> }) => Promise<T>,
) {
  const redis = createStateRedis(cfg);
  await connectOnce(redis, cfg);
  const pool = createPool(cfg);
  try {
    return await fn({ redis, pool });
  } finally {
    redis.disconnect();
    await pool.end();
  }
}

/**
 * Deletes the prefix's state and replays MySQL's transactions of the longest window into it. The
 * ingest group's committed offsets go into the marker (state/rebuild.ts committedProgress); when
 * Kafka does not answer, the rebuild still runs and says so.
 */
export async function stateRebuild(cfg: TxmonConfig, logger: Logger, say: (line: string) => void): Promise<number> {
  return withClients(cfg, async ({ redis, pool }) => {
    const committed = async () => {
      const admin = createKafka(cfg, logger, '-state-rebuild').admin();
      try {
        await admin.connect();
        return await committedOffsets(admin, cfg.ingest.groupId, topicName(cfg.topicNamespace, 'transactions'));
      } catch (err) {
        say(`state: Kafka did not answer (${errorMessage(err)}); the marker starts without partition progress`);
        return [];
      } finally {
        await admin.disconnect().catch((err: unknown) => say(`state: closing the Kafka admin failed (${errorMessage(err)})`));
      }
    };
    const r = await ensureState(rebuildDepsFor(cfg, { redis, pool }, say, committed), { force: true });
    if (r.outcome === 'busy') {
      say('state: another process is rebuilding right now (lock held); try again when it is done');
      return 1;
    }
    if (r.outcome === 'rebuilt')
      say(
        `state: done: ${r.rows} transactions since ${r.fromEventTime ?? '-'} (event time), ${r.keysDeleted} old keys deleted, ${r.seconds} s`,
      );
    return 0;
  });
}

/**
 * Prints whether the state marker exists and how Redis persists it. Exit code 1 when the marker is
 * missing or of an older state layout.
 */
export async function stateStatus(cfg: TxmonConfig, say: (line: string) => void): Promise<number> {
  return withClients(cfg, async ({ redis }) => {
    const { status } = await readMarker(redis, cfg.keyPrefix);
    const key = markerKeys(redis, cfg.keyPrefix)[0] as string;
    const marker = status === 'intact' ? await redis.hgetall(key) : status === 'old-layout' ? await redis.type(key) : null;
    const nodes = dataNodes(redis);
    const persistence = await Promise.all(
      nodes.map(async (n) => {
        const aof = (await n.config('GET', 'appendonly').catch(() => [])) as string[];
        const fsync = (await n.config('GET', 'appendfsync').catch(() => [])) as string[];
        return aof[1] === 'yes'
          ? `AOF on (appendfsync ${fsync[1] ?? '?'})`
          : 'AOF OFF: the state does not survive a Redis restart';
      }),
    );
    const eviction = await Promise.all(
      nodes.map(async (n) => {
        const max = (await n.config('GET', 'maxmemory').catch(() => [])) as string[];
        const policy = (await n.config('GET', 'maxmemory-policy').catch(() => [])) as string[];
        if (max[1] === '0') return 'no memory limit (nothing is evicted)';
        return policy[1] === 'noeviction'
          ? `maxmemory ${max[1] ?? '?'} bytes, noeviction`
          : `WARNING maxmemory-policy ${policy[1] ?? '?'}: Redis may evict windows and markers of keys with a TTL, which goes unnoticed; use noeviction`;
      }),
    );
    say(
      `state: prefix "${cfg.keyPrefix}" on ${cfg.redisCluster ? `the Redis Cluster of ${cfg.redisCluster.join(',')} (${nodes.length} masters)` : redactUrl(cfg.redisUrl)}`,
    );
    say(
      `state: marker ${
        status === 'missing'
          ? 'MISSING (state lost or never built; `txmon state rebuild`, or start a processor)'
          : status === 'old-layout'
            ? `of an older state layout (a ${String(marker)}; rebuilt by \`txmon state rebuild\` or when a processor starts)`
            : `present ${(marker as Record<string, string>).meta ?? ''}`
      }`,
    );
    if (status === 'intact') {
      const partitions = Object.entries(marker as Record<string, string>).filter(([f]) => f.startsWith('p:'));
      say(
        `state: ${partitions.length} partition(s) applied: ${partitions.map(([f, o]) => `${f.slice(2)} up to offset ${o}`).join(', ') || '-'}`,
      );
    }
    say(`state: persistence ${[...new Set(persistence)].join('; ')}`);
    say(`state: eviction ${[...new Set(eviction)].join('; ')}`);
    return status === 'intact' ? 0 : 1;
  });
}
