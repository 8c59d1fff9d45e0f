// Redis going back in time: after a failover to a replica that lagged (simulated by restoring an
// earlier dump of every state key), Redis no longer holds writes that Kafka's committed offsets rely
// on, yet the marker is there. The processor must not carry on with windows that silently miss
// transactions: a process that takes the partitions over finds each partition's progress behind
// the committed offset and replays the records in between (what it does after any stop between two
// checkpoints, docs/state.md), and a process that holds a partition while Redis goes back finds the
// progress below what it wrote and rebuilds the windows from MySQL (state-rebuild.test.ts, marker).
import { Redis } from 'ioredis';
import mysql from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';
import { produceSimulated, spawnIngest } from '../helpers/pipeline.ts';
import { checkStateAgainstMysql } from '../helpers/state-check.ts';

let ns: TestNamespace;
let redis: Redis;
const START = Date.parse('2026-03-01T00:00:00Z');

beforeAll(async () => {
  ns = await createNamespace();
  redis = new Redis(ns.cfg.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await ns?.cleanup();
});

async function drain(): Promise<string> {
  const run = spawnIngest(ns);
  const code = await run.exited;
  expect(code, run.output()).toBe(0);
  return run.output();
}

/** Every key of the namespace: the state of every generation, the marker with its progress. */
async function stateKeys(): Promise<string[]> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${ns.cfg.keyPrefix}:*`, 'COUNT', 1000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  return keys;
}

describe('state rollback', () => {
  it('restores what Redis lost by replaying the records after the progress it kept', async () => {
    await produceSimulated(ns, { seed: 21, count: 2_000, startTime: START });
    await drain();
    // What a lagging replica would hold: every state key as it is now.
    const dump = await Promise.all(
      (await stateKeys()).map(async (k) => ({ k, v: await redis.dumpBuffer(k), ttl: await redis.pttl(k) })),
    );
    await produceSimulated(ns, { seed: 22, count: 2_000, startTime: START + 10 * 60_000 });
    await drain();
    expect((await checkStateAgainstMysql(ns)).mismatches).toEqual([]);

    // The failover: Redis goes back to the dump (the second run's writes are gone, the marker is not).
    const now = await stateKeys();
    if (now.length > 0) await redis.del(...now);
    for (const d of dump) if (d.v) await redis.restore(d.k, d.ttl > 0 ? d.ttl : 0, d.v, 'REPLACE');
    expect((await checkStateAgainstMysql(ns)).mismatches.length).toBeGreaterThan(0);

    await produceSimulated(ns, { seed: 23, count: 2_000, startTime: START + 20 * 60_000 });
    const out = await drain();
    expect(out).toMatch(/restoring the partition’s windows/);
    expect(out).toMatch(/the partition’s windows are restored/);
    expect(out).not.toMatch(/rebuilt from MySQL/);
    const check = await checkStateAgainstMysql(ns);
    expect(check.entities).toBeGreaterThan(100);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
  });

  it('rebuilds, instead of retrying forever, when MySQL moved to another state generation than Redis', async () => {
    // As after a rebuild that died right after moving MySQL on, or MySQL restored from a backup.
    const conn = await mysql.createConnection({ uri: ns.cfg.mysql.url });
    await conn.query('UPDATE state_generation SET generation = generation + 3 WHERE id = 1');
    await conn.end();
    await produceSimulated(ns, { seed: 24, count: 1_000, startTime: START + 30 * 60_000 });
    const out = await drain();
    expect(out).toMatch(/state was lost and has been rebuilt from MySQL/);
    const check = await checkStateAgainstMysql(ns);
    expect(check.mismatches.slice(0, 10)).toEqual([]);
  });
});
