/**
 * (d) The floors of a batch's three durable boundaries on this machine: what one Kafka transaction
 * (one message + the offsets, through TransactionalOutput), one Redis script write and one MySQL
 * transaction cost on their own, back to back, with nothing else in them. Every batch of the
 * ingest pays all three before its offsets move, so their sum bounds event → decision latency from
 * below whatever the processing costs. Not a test: it measures and prints.
 */
import { Redis } from 'ioredis';
import { quantileSorted } from 'simple-statistics';
import type { TxmonConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { redisConnectionOptions } from '../platform/redis.ts';
import { TransactionalOutput } from '../platform/transactional-output.ts';

export interface Floor {
  name: string;
  p50Ms: number;
  p99Ms: number;
}

async function measure(name: string, runs: number, once: (i: number) => Promise<unknown>): Promise<Floor> {
  const ms: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await once(i);
    ms.push(performance.now() - t0);
  }
  ms.sort((a, b) => a - b);
  return { name, p50Ms: quantileSorted(ms, 0.5), p99Ms: quantileSorted(ms, 0.99) };
}

/** Measures the three floors `runs` times each, in the namespace of `cfg` (its own topic, group, table, key). */
export async function boundaryFloors(cfg: TxmonConfig, logger: Logger, runs = 300): Promise<Floor[]> {
  const topic = `${cfg.topicNamespace}txmon.bench-floor`;
  const kafka = createKafka(cfg, logger, '-bench-floor');
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
  await admin.disconnect();
  const output = new TransactionalOutput(kafka, `${cfg.ingest.groupId}-floor`, logger);
  const redis = new Redis(redisConnectionOptions(cfg));
  const pool = createPool(cfg, { connectionLimit: 1 });
  try {
    const value = Buffer.alloc(300, 1);
    const kafkaFloor = await measure('Kafka transaction (1 message + offsets, commit)', runs, (i) =>
      output.commit([{ topic, messages: [{ key: 'k', value }] }], {
        groupId: `${cfg.ingest.groupId}-floor`,
        topic,
        partition: 0,
        offset: String(i + 1),
      }),
    );
    const key = `${cfg.keyPrefix}:bench-floor`;
    const redisFloor = await measure('Redis script (one write)', runs, () =>
      redis.eval("return redis.call('HINCRBY', KEYS[1], 'n', 1)", 1, key),
    );
    await redis.del(key);
    await pool.query('CREATE TABLE IF NOT EXISTS bench_floor (id BIGINT AUTO_INCREMENT PRIMARY KEY, v VARCHAR(300))');
    const mysqlFloor = await measure('MySQL transaction (one row, commit)', runs, async () => {
      const conn = await pool.getConnection();
      try {
        await conn.beginTransaction();
        await conn.query('INSERT INTO bench_floor (v) VALUES (?)', ['x'.repeat(300)]);
        await conn.commit();
      } finally {
        conn.release();
      }
    });
    await pool.query('DROP TABLE bench_floor');
    return [kafkaFloor, redisFloor, mysqlFloor];
  } finally {
    await output.disconnect();
    redis.disconnect();
    await pool.end();
  }
}
