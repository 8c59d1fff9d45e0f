/**
 * The naive implementation issue 17 measures txmon against, in the same run over the same
 * simulated topic: what a first version of a transaction monitor written in the obvious way does.
 * kafkajs `eachMessage` (one record at a time, one partition at a time), and per record:
 *   1. Avro decode through the schema-registry client (`registry.decode`),
 *   2. one awaited Redis call: a small Lua script that adds the record to its account's one-minute
 *      window (count and sum, HINCRBY) and returns both,
 *   3. ml-isolation-forest scoring of a feature vector built from the record and that window,
 *   4. one awaited `INSERT` (autocommit: one MySQL transaction per record) into a table of its own.
 * Offsets are committed by kafkajs's auto-commit, as such a consumer would. Records that do not
 * decode are counted and skipped. Not a test: it measures and returns a rate.
 *
 * The forest (100 trees, the library's default) is trained before the clock starts on 2,000
 * synthetic rows of the vector's shape: the library grows each tree on every training row, so
 * its depth, and the scoring cost, follow the training set's size (see bench/forest.ts).
 */
import { IsolationForest } from 'ml-isolation-forest';
import { Redis } from 'ioredis';
import type { TxmonConfig } from '../config/config.ts';
import type { Transaction } from '../domain/transaction.ts';
import { Rng } from '../domain/rng.ts';
import { createKafka } from '../platform/kafka.ts';
import type { Logger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { redisConnectionOptions } from '../platform/redis.ts';
import { createRegistry } from '../platform/schema-registry.ts';
import { sleep } from '../platform/retry.ts';

/** KEYS[1] the account's minute window; ARGV[1] amount, ARGV[2] TTL ms. Returns {count, sum}. */
const WINDOW_SCRIPT = `
local n = redis.call('HINCRBY', KEYS[1], 'n', 1)
local s = redis.call('HINCRBY', KEYS[1], 's', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return {n, s}`;

const TABLE = 'bench_naive_transactions';

export interface NaiveResult {
  /** Records handled (decoded or not) between the first and the last one timed. */
  records: number;
  undecodable: number;
  seconds: number;
  txPerS: number;
}

/** The vector scored per record: amount, hour, window count and sum, channel, foreign IP. */
function features(tx: Transaction, count: number, sum: number): number[] {
  return [
    Math.log1p(tx.amount_minor),
    new Date(tx.event_time).getUTCHours(),
    count,
    Math.log1p(sum),
    tx.channel === 'ECOMMERCE' ? 1 : 0,
    tx.ip_country !== null && tx.ip_country !== tx.merchant_country ? 1 : 0,
  ];
}

function trainedForest(): IsolationForest {
  const rng = new Rng(11);
  const rows = Array.from({ length: 2_000 }, () => [
    Math.log1p(rng.lognormal(8, 1.2)),
    Math.floor(rng.float(0, 24)),
    Math.floor(rng.float(1, 6)),
    Math.log1p(rng.lognormal(9, 1.2)),
    rng.chance(0.3) ? 1 : 0,
    rng.chance(0.05) ? 1 : 0,
  ]);
  const forest = new IsolationForest();
  forest.train(rows);
  return forest;
}

/**
 * Consumes `topic` from the beginning with the naive consumer for `seconds` or until `maxRecords`
 * records, whichever comes first; the rate is measured from the first record handled to the last.
 */
export async function naiveRun(
  cfg: TxmonConfig,
  logger: Logger,
  topic: string,
  opts: { seconds: number; maxRecords: number },
): Promise<NaiveResult> {
  const registry = createRegistry(cfg);
  const redis = new Redis(redisConnectionOptions(cfg));
  const pool = createPool(cfg, { connectionLimit: 1 });
  const consumer = createKafka(cfg, logger, '-bench-naive').consumer({ groupId: `txmon-bench-naive-${Date.now()}` });
  const forest = trainedForest();
  const keyPrefix = `${cfg.keyPrefix}:naive`;
  await pool.query(`DROP TABLE IF EXISTS ${TABLE}`);
  await pool.query(
    `CREATE TABLE ${TABLE} (id BIGINT AUTO_INCREMENT PRIMARY KEY, transaction_id VARCHAR(64) NOT NULL UNIQUE,
       account_id VARCHAR(64) NOT NULL, amount_minor BIGINT NOT NULL, score DOUBLE NOT NULL) ENGINE = InnoDB`,
  );
  let records = 0;
  let undecodable = 0;
  let first = 0;
  let last = 0;
  try {
    await consumer.connect();
    await consumer.subscribe({ topics: [topic], fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ message }) => {
        if (records >= opts.maxRecords) return;
        if (first === 0) first = performance.now();
        let tx: Transaction;
        try {
          tx = (await registry.decode(message.value as Buffer)) as Transaction;
        } catch {
          undecodable++;
          records++;
          last = performance.now();
          return;
        }
        const minute = Math.floor(tx.event_time / 60_000);
        const [count, sum] = (await redis.eval(
          WINDOW_SCRIPT,
          1,
          `${keyPrefix}:{a:${tx.account_id}}:${minute}`,
          tx.amount_minor,
          120_000,
        )) as [number, number];
        const [score] = forest.predict([features(tx, count, sum)]);
        await pool.execute(
          `INSERT INTO ${TABLE} (transaction_id, account_id, amount_minor, score) VALUES (?, ?, ?, ?) ON DUPLICATE KEY UPDATE id = id`,
          [tx.transaction_id, tx.account_id, tx.amount_minor, score ?? 0],
        );
        records++;
        last = performance.now();
      },
    });
    // Waits for the first record (joining the group takes seconds), then runs the time or the count.
    const joinDeadline = Date.now() + 60_000;
    while (first === 0 && Date.now() < joinDeadline) await sleep(50);
    if (first === 0) throw new Error(`naive: no record of ${topic} arrived within 60 s`);
    const end = Date.now() + opts.seconds * 1000;
    while (records < opts.maxRecords && Date.now() < end) await sleep(50);
  } finally {
    await consumer.disconnect();
    redis.disconnect();
    await pool.query(`DROP TABLE IF EXISTS ${TABLE}`).catch(() => {});
    await pool.end();
  }
  await deleteKeys(cfg, `${keyPrefix}:*`);
  const seconds = (last - first) / 1000;
  return { records, undecodable, seconds, txPerS: seconds > 0 ? records / seconds : 0 };
}

/** Deletes the naive windows (they expire in two minutes anyway; the bench leaves nothing behind). */
async function deleteKeys(cfg: TxmonConfig, pattern: string): Promise<void> {
  const redis = new Redis(redisConnectionOptions(cfg));
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 5_000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}
