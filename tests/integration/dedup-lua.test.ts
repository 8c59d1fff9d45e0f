// dedup-1.lua against the real Redis: new, replay (same position) and duplicate (other position).
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { accountKeys } from '../../platform/keys.ts';
import { DedupStatus, createRedis, type TxmonPipeline, type TxmonRedis } from '../../platform/redis.ts';

const prefix = `t-dedup-${randomBytes(4).toString('hex')}`;
let redis: TxmonRedis;

beforeAll(async () => {
  redis = createRedis(loadConfig({ ...process.env, TXMON_KEY_PREFIX: prefix }));
  await redis.connect();
});
afterAll(async () => {
  const keys = await redis.keys(`${prefix}:*`);
  if (keys.length) await redis.del(...keys);
  redis.disconnect();
});

describe('dedup-1.lua', () => {
  it('tells new, replay and duplicate apart by first-seen position', async () => {
    const key = accountKeys(prefix, 'acc-1').dedup('tx-1');
    expect(await redis.txmonDedup(key, 'topic/0/10', 60)).toEqual([DedupStatus.NEW, 'topic/0/10']);
    expect(await redis.txmonDedup(key, 'topic/0/10', 60)).toEqual([DedupStatus.REPLAY, 'topic/0/10']);
    expect(await redis.txmonDedup(key, 'topic/3/99', 60)).toEqual([DedupStatus.DUPLICATE, 'topic/0/10']);
    // a duplicate changes nothing: the original is still a replay of itself
    expect(await redis.txmonDedup(key, 'topic/0/10', 60)).toEqual([DedupStatus.REPLAY, 'topic/0/10']);
  });

  it('sets the TTL so memory stays bounded', async () => {
    const key = accountKeys(prefix, 'acc-2').dedup('tx-2');
    await redis.txmonDedup(key, 'topic/0/1', 120);
    const ttl = await redis.ttl(key);
    expect(ttl).toBeGreaterThan(100);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('keeps every key of an account in one hash slot', () => {
    const k = accountKeys(prefix, 'acc-3');
    expect(k.dedup('a')).toContain('{a:acc-3}');
    expect(k.dedup('b')).toContain('{a:acc-3}');
  });

  it('gives pipelined results in order within one round trip', async () => {
    const p = redis.pipeline() as TxmonPipeline;
    const key = accountKeys(prefix, 'acc-4').dedup('tx-4');
    p.txmonDedup(key, 't/0/1', 60).txmonDedup(key, 't/0/2', 60).txmonDedup(key, 't/0/1', 60);
    const res = await p.exec();
    expect(res?.map(([err, r]) => [err, (r as [number, string])[0]])).toEqual([
      [null, DedupStatus.NEW],
      [null, DedupStatus.DUPLICATE],
      [null, DedupStatus.REPLAY],
    ]);
  });
});
