// dedup.lua against the real Redis: new, replay (same position) and duplicate (other position).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { accountKeys } from '../../platform/keys.ts';
import { DedupStatus, createRedis, dedupArgs, type TxmonRedis } from '../../platform/redis.ts';

const prefix = `t-dedup-${randomBytes(4).toString('hex')}`;
let redis: TxmonRedis;

/** One dedup.lua call for one (key, position) pair: [status, firstSeen]. */
async function one(key: string, position: string, ttl = 60): Promise<Array<number | string>> {
  return redis.txmonDedupV1(...dedupArgs([key], [position], ttl));
}

beforeAll(async () => {
  redis = createRedis(loadConfig({ ...process.env, TXMON_KEY_PREFIX: prefix }));
  await redis.connect();
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('dedup.lua', () => {
  it('tells new, replay and duplicate apart by first-seen position', async () => {
    const key = accountKeys(prefix, 'acc-1').dedup('tx-1');
    expect(await one(key, 'topic/0/10')).toEqual([DedupStatus.NEW, 'topic/0/10']);
    expect(await one(key, 'topic/0/10')).toEqual([DedupStatus.REPLAY, 'topic/0/10']);
    expect(await one(key, 'topic/3/99')).toEqual([DedupStatus.DUPLICATE, 'topic/0/10']);
    // a duplicate changes nothing: the original is still a replay of itself
    expect(await one(key, 'topic/0/10')).toEqual([DedupStatus.REPLAY, 'topic/0/10']);
  });

  it('sets the TTL so memory stays bounded', async () => {
    const key = accountKeys(prefix, 'acc-2').dedup('tx-2');
    await one(key, 'topic/0/1', 120);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('handles many transactions of one account in one call, in order', async () => {
    const keys = accountKeys(prefix, 'acc-4');
    const reply = await redis.txmonDedupV1(
      ...dedupArgs(
        [keys.dedup('x'), keys.dedup('y'), keys.dedup('x'), keys.dedup('x')],
        ['t/0/1', 't/0/2', 't/0/3', 't/0/1'],
        60,
      ),
    );
    expect(reply).toEqual([
      DedupStatus.NEW,
      't/0/1',
      DedupStatus.NEW,
      't/0/2',
      DedupStatus.DUPLICATE,
      't/0/1',
      DedupStatus.REPLAY,
      't/0/1',
    ]);
  });
});
