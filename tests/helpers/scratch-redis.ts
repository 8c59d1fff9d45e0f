/**
 * A test file's own corner of the shared Redis: a client whose keys all start with `<root>:`, and
 * their removal when the file is done (SCAN + DEL of that prefix only; never a FLUSH).
 */
import { loadConfig } from '../../config/config.ts';
import { createRedis, type TxmonRedis } from '../../platform/redis.ts';

export async function connectScratchRedis(root: string): Promise<TxmonRedis> {
  const redis = createRedis(loadConfig({ ...process.env, TXMON_KEY_PREFIX: root }));
  await redis.connect();
  return redis;
}

export async function dropScratchRedis(redis: TxmonRedis | undefined, root: string): Promise<void> {
  if (!redis) return;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${root}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length) await redis.del(...keys);
  } while (cursor !== '0');
  redis.disconnect();
}
