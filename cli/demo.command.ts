/**
 * `npm run demo`: services up, a fresh demo namespace, simulated traffic, the pipeline until drained,
 * and a summary checked against the simulator's ground truth.
 */
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { readTopic } from '../platform/topic-reader.ts';
import { startIngest } from '../processors/ingest/main.ts';
import { servicesUp } from '../services/manager.ts';
import { topicName } from '../topics/topics.ts';
import { resetNamespace } from './reset-namespace.ts';
import { runSimulate } from './simulate.command.ts';
import { prepareNamespace } from './prepare-namespace.ts';
import { createPool } from '../platform/mysql.ts';
import { loadCsv } from '../refdata/load.ts';

/** The demo's own namespace, so it never touches a user's real topics, database or keys. */
export function demoEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const base = loadConfig(env);
  return {
    ...env,
    TXMON_TOPIC_NAMESPACE: 'demo.',
    TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_demo`,
    TXMON_KEY_PREFIX: 'txmon-demo',
    TXMON_INGEST_GROUP_ID: 'txmon-demo-ingest',
    TXMON_LOG_LEVEL: env.TXMON_LOG_LEVEL ?? 'error',
  };
}

/** Runs the demo; returns whether every figure matched the ground truth. */
export async function runDemo(
  env: Readonly<Record<string, string | undefined>>,
  o: { count: number; seed: number },
  say: (line: string) => void,
): Promise<boolean> {
  const cfg = loadConfig(demoEnv(env));
  const logger = createLogger({ level: cfg.log.level, pretty: Boolean(process.stderr.isTTY) });
  say('demo: 1/6 starting services (first run downloads Kafka and the registry from Maven Central) ...');
  await servicesUp(cfg, say);
  say('demo: 2/6 resetting the demo namespace ...');
  await resetNamespace(cfg, logger, say);
  say('demo: 3/6 topics, schemas, migrations ...');
  await prepareNamespace(cfg, logger, say);

  say(`demo: 4/6 simulating ${o.count.toLocaleString('en')} transactions (seed ${o.seed}) ...`);
  const truth = await runSimulate(
    cfg,
    logger,
    {
      count: o.count,
      seed: o.seed,
      rate: 0,
      accounts: 2_000,
      merchants: 300,
      cardsPerAccount: 2,
      txPerAccountDay: 20,
      currencies: 'USD,EUR,GBP,JPY,KWD',
      duplicateRate: 0.03,
      outOfOrderRate: 0.02,
      lateRate: 0.005,
      malformedRate: 0.01,
      fraudRate: 0.01,
      start: '2026-01-01T00:00:00Z',
      groundTruth: '.txmon/demo-ground-truth.jsonl',
      refdataDir: '.txmon/demo-refdata',
    },
    say,
  );

  const pool = createPool(cfg);
  try {
    for (const kind of ['accounts', 'merchants', 'bins', 'fx'] as const) {
      const r = await loadCsv(pool, kind, `.txmon/demo-refdata/${kind}.csv`);
      say(`refdata: ${kind}: ${r.upserted} rows loaded, ${r.problems.length} rejected`);
    }
  } finally {
    await pool.end();
  }

  say('demo: 5/6 running the ingest pipeline until the topic is drained ...');
  const started = Date.now();
  let lastSay = 0;
  const proc = await startIngest(cfg, logger, {
    drain: true,
    onProgress: ({ processed, lag }) => {
      if (Date.now() - lastSay > 2_000) {
        lastSay = Date.now();
        say(`ingest: ${processed.toLocaleString('en')} processed, ${lag.toLocaleString('en')} to go`);
      }
    },
  });
  await proc.done;
  const seconds = (Date.now() - started) / 1000;

  say('demo: 6/6 checking the result against the ground truth ...');
  const conn = await mysql.createConnection({ uri: cfg.mysql.url });
  const [[tx]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions');
  const [[dup]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transaction_duplicates');
  const [[late]] = await conn.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions WHERE late');
  const [[snap]] = await conn.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM transactions WHERE JSON_VALUE(features, '$.amount_base_minor') IS NOT NULL AND JSON_VALUE(features, '$.card_count_24h') IS NOT NULL",
  );
  await conn.end();
  const dlq = await readTopic(createKafka(cfg, logger), topicName(cfg.topicNamespace, 'transactionsDlq'));
  const consumed = truth.records;
  const expectDead = truth.invalid + truth.bad_bytes + truth.unknown_schema;
  const rows: Array<[string, number, number]> = [
    ['rows in MySQL (unique valid)', Number(tx?.n), truth.valid_unique],
    ['duplicates recorded', Number(dup?.n), truth.duplicates],
    ['late (older than the watermark, flagged)', Number(late?.n), truth.late],
    ['rows with enriched + windowed features', Number(snap?.n), truth.valid_unique],
    ['dead-lettered (DLQ records)', dlq.length, expectDead],
    ['accounted for (rows + duplicates + DLQ)', Number(tx?.n) + Number(dup?.n) + dlq.length, consumed],
  ];
  say('');
  say(
    `  consumed ${consumed.toLocaleString('en')} records in ${seconds.toFixed(1)} s = ${Math.round(consumed / seconds).toLocaleString('en')} records/s (incl. group join)`,
  );
  let ok = true;
  for (const [label, got, want] of rows) {
    const match = got === want;
    ok &&= match;
    say(`  ${label.padEnd(42)} ${String(got).padStart(8)}   expected ${String(want).padStart(8)}   ${match ? 'OK' : 'MISMATCH'}`);
  }
  say('');
  say(ok ? 'demo: every figure matches the simulator ground truth.' : 'demo: MISMATCH against the ground truth (see above).');
  return ok;
}
