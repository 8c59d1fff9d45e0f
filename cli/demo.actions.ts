/**
 * `npm run demo`: services up, a fresh demo namespace, simulated history, the pipeline until drained,
 * a summary checked against the simulator's ground truth; then a model trained on that history and
 * a new day of traffic decided by rules and model, with the alerts and the evaluation analysts see.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { loadConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { readTopic } from '../platform/topic-reader.ts';
import { startIngest } from '../processors/ingest/main.ts';
import { servicesUp } from '../services/manager.ts';
import { topicName } from '../topics/topics.ts';
import { resetNamespace } from './reset-namespace.ts';
import { runSettlementSimulation, runSimulate, simOptionsOf } from './simulate.actions.ts';
import { writeFileSync } from 'node:fs';
import { startReconcile } from '../processors/reconcile/main.ts';
import { reconExceptions, reconReport } from '../sinks/recon-report.ts';
import { DEFAULT_SETTLEMENT_OPTIONS } from '../simulator/settlements.ts';
import { exceptionsCsv, formatReport } from './recon.actions.ts';
import { prepareNamespace } from './prepare-namespace.ts';
import { createConnection, createPool } from '../platform/mysql.ts';
import { loadCsv } from '../refdata/load.ts';
import type { TxmonConfig } from '../config/config.ts';
import type { Logger } from '../platform/logger.ts';
import { FeatureSpace } from '../detection/features.ts';
import { rulesInForce } from '../models/rule-set-registry.ts';
import { evaluateDetection, formatEvaluation } from '../models/evaluate.ts';
import { END_OF_TIME } from '../models/history.ts';
import { loadLabels } from '../models/labels.ts';
import { loadModel, promote, registerModel } from '../models/model-registry.ts';
import { trainModel } from '../models/train.ts';
import type { SimulateCliOptions } from './simulate.actions.ts';
import { createApiKey } from '../dashboard-api/auth/api-keys.ts';

/** The demo's own namespace, so it never touches a user's real topics, database or keys. */
export function demoEnv(env: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const base = loadConfig(env);
  return {
    ...env,
    TXMON_TOPIC_NAMESPACE: 'demo.',
    TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_demo`,
    TXMON_KEY_PREFIX: 'txmon-demo',
    TXMON_INGEST_GROUP_ID: 'txmon-demo-ingest',
    TXMON_RECON_GROUP_ID: 'txmon-demo-reconcile',
    TXMON_LOG_LEVEL: env.TXMON_LOG_LEVEL ?? 'error',
  };
}

function simulateOptions(count: number, seed: number, start: string, tag: string): SimulateCliOptions {
  return {
    count,
    seed,
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
    start,
    groundTruth: `.txmon/demo-${tag}ground-truth.jsonl`,
    refdataDir: `.txmon/demo-${tag}refdata`,
  };
}

async function loadDemoRefdata(cfg: TxmonConfig, dir: string, say: (line: string) => void): Promise<void> {
  const pool = createPool(cfg);
  try {
    for (const kind of ['accounts', 'merchants', 'bins', 'fx'] as const) {
      const r = await loadCsv(pool, kind, `${dir}/${kind}.csv`);
      say(`refdata: ${kind}: ${r.upserted} rows loaded, ${r.problems.length} rejected`);
    }
  } finally {
    await pool.end();
  }
}

/** A drain's progress line, said at most every two seconds: `<who>: N <what>, M to go`. */
function drainProgress(say: (line: string) => void, who: string, what: string) {
  let lastSay = 0;
  return ({ processed, lag }: { processed: number; lag: number }): void => {
    if (Date.now() - lastSay <= 2_000) return;
    lastSay = Date.now();
    say(`${who}: ${processed.toLocaleString('en')} ${what}, ${lag.toLocaleString('en')} to go`);
  };
}

/** Runs ingest until the topic is drained; returns the seconds it took. */
async function drainIngest(cfg: TxmonConfig, logger: Logger, say: (line: string) => void): Promise<number> {
  const started = Date.now();
  const proc = await startIngest(cfg, logger, { drain: true, onProgress: drainProgress(say, 'ingest', 'processed') });
  await proc.done;
  return (Date.now() - started) / 1000;
}

/** Runs the demo; returns whether every figure matched the ground truth. */
export async function runDemo(
  env: Readonly<Record<string, string | undefined>>,
  o: { count: number; seed: number; live: number; serve?: boolean },
  say: (line: string) => void,
): Promise<boolean> {
  const cfg = loadConfig(demoEnv(env));
  const logger = createLogger({ level: cfg.log.level, pretty: Boolean(process.stderr.isTTY) });
  say('demo: 1/10 starting services (first run downloads Kafka and the registry from Maven Central) ...');
  await servicesUp(cfg, say);
  say('demo: 2/10 resetting the demo namespace ...');
  await resetNamespace(cfg, logger, say);
  say('demo: 3/10 topics, schemas, migrations ...');
  await prepareNamespace(cfg, logger, say);

  say(`demo: 4/10 simulating ${o.count.toLocaleString('en')} transactions of history (seed ${o.seed}) ...`);
  const truth = await runSimulate(cfg, logger, simulateOptions(o.count, o.seed, HISTORY_START, ''), say);
  await loadDemoRefdata(cfg, '.txmon/demo-refdata', say);

  say('demo: 5/10 running the ingest pipeline until the topic is drained (no model yet: rules alone decide) ...');
  const seconds = await drainIngest(cfg, logger, say);

  say('demo: 6/10 checking the result against the ground truth ...');
  const conn = await createConnection(cfg);
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

  const reconciled = await demoReconciliation(cfg, logger, o, say);
  const detected = await demoDetection(cfg, logger, o, truthSpanDays(o.count), say);
  const passed = ok && reconciled && detected;
  const interactive = Boolean(process.stdout.isTTY) && env.CI !== 'true' && env.CI !== '1';
  if (o.serve !== false && interactive) await serveDemoApi(cfg, logger, say);
  else
    say(
      'demo: not serving the dashboard API (no terminal, CI set, or --no-serve); `txmon run api` serves it, the console at its `/`',
    );
  return passed;
}

const HISTORY_START = '2026-01-01T00:00:00Z';

/** The end of the demo: the dashboard API on the demo's data, a key per role, until Ctrl-C. */
async function serveDemoApi(cfg: TxmonConfig, logger: Logger, say: (line: string) => void): Promise<void> {
  const pool = createPool(cfg, { connectionLimit: 1 });
  const keys: Array<[string, string]> = [];
  try {
    for (const role of ['analyst', 'sre', 'admin'] as const)
      keys.push([role, (await createApiKey(pool, `demo-${role}`, role, 'demo')).key]);
  } finally {
    await pool.end();
  }
  const { startApi } = await import('../dashboard-api/server.ts');
  const api = await startApi(cfg, logger);
  say('');
  say(`demo: the dashboard API is serving the demo's data at ${api.url}`);
  say(`  console:    ${api.url}/   (sign in with one of the keys below: each role sees its own pages)`);
  say(`  OpenAPI UI: ${api.url}/docs   (Authorize with one of the keys below)`);
  for (const [role, key] of keys) say(`  ${role.padEnd(8)} key: ${key}`);
  say(`  try: curl -H "Authorization: Bearer ${keys[0]?.[1] ?? ''}" ${api.url}/api/v1/alerts?limit=5`);
  say(
    '  then triage one: POST /api/v1/alerts/<alert_id>/acknowledge, /resolve {"label":"fraud"}; its history shows the audit entries.',
  );
  say('  Ctrl-C stops it.');
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      say('demo: stopping the dashboard API');
      api.close().then(resolve, resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * Step 7: the acquirer's settlement lines for the history, with the simulator's mismatches, matched
 * by the reconcile processor; the report, and its counts beside the ground truth's.
 */
async function demoReconciliation(
  cfg: TxmonConfig,
  logger: Logger,
  o: { count: number; seed: number },
  say: (line: string) => void,
): Promise<boolean> {
  say('');
  say('demo: 7/10 settlements for the history (with missing, duplicated, split, late, wrong lines) and reconciliation ...');
  const expected = await runSettlementSimulation(
    cfg,
    logger,
    simOptionsOf(simulateOptions(o.count, o.seed, HISTORY_START, '')),
    { ...DEFAULT_SETTLEMENT_OPTIONS, seed: o.seed, groundTruthPath: '.txmon/demo-settlements-ground-truth.jsonl' },
    say,
  );
  const started = Date.now();
  const proc = await startReconcile(cfg, logger, {
    drain: true,
    onProgress: drainProgress(say, 'reconcile', 'records processed'),
  });
  await proc.done;
  const seconds = (Date.now() - started) / 1000;
  const pool = createPool(cfg);
  try {
    const report = await reconReport(pool, null);
    const csvPath = '.txmon/demo-recon-exceptions.csv';
    const exceptions = await reconExceptions(pool, null);
    writeFileSync(csvPath, exceptionsCsv(exceptions));
    say('');
    say(
      `  reconciled ${expected.transactions.toLocaleString('en')} transactions against ${expected.lines.toLocaleString('en')} settlement lines in ${seconds.toFixed(1)} s`,
    );
    say(formatReport(report, null).replace(/^/gm, '  '));
    say('');
    const got: Record<string, number> = {};
    for (const l of report) got[l.status] = (got[l.status] ?? 0) + l.groups;
    let ok = true;
    for (const [status, want] of Object.entries(expected.expected)) {
      const n = got[status] ?? 0;
      const match = n === want;
      ok &&= match;
      say(
        `  ${status.padEnd(42)} ${String(n).padStart(8)}   expected ${String(want).padStart(8)}   ${match ? 'OK' : 'MISMATCH'}`,
      );
    }
    say(
      `  (1:N split references ${expected.one_to_n.toLocaleString('en')}, N:1 batched references ${expected.n_to_one.toLocaleString('en')})`,
    );
    say(
      `  ${exceptions.length.toLocaleString('en')} exceptions written to ${csvPath}; see also: txmon recon report --date <YYYY-MM-DD>`,
    );
    say('');
    say(
      ok
        ? 'demo: every reconciliation status count matches the simulator ground truth.'
        : 'demo: reconciliation MISMATCH (see above).',
    );
    return ok;
  } finally {
    await pool.end();
  }
}
/** Days of event time `count` transactions of the demo's 2,000 accounts at 20 a day take, rounded up. */
const truthSpanDays = (count: number) => Math.ceil(count / 40_000);

/**
 * Steps 7-9: a model trained on the history, then a new day of traffic decided by rules and model
 * together, then what an analyst wants first: alerts by decision and rule, the top alerts with
 * their explanations, and the evaluation on that day's labels (the model never saw them).
 */
async function demoDetection(
  cfg: TxmonConfig,
  logger: Logger,
  o: { count: number; seed: number; live: number },
  historyDays: number,
  say: (line: string) => void,
): Promise<boolean> {
  say('');
  say('demo: 8/10 training an isolation forest on the history and promoting it ...');
  const pool = createPool(cfg);
  try {
    await loadLabels(pool, '.txmon/demo-ground-truth.jsonl', 'simulator', say);
    const model = await trainModel(pool, cfg.state.windows, { trees: 100, sampleSize: 256, seed: 1, alertRate: 0.01 }, say);
    await registerModel(pool, model, 'demo');
    await promote(pool, model.version, 'demo', 'demo: first model');
    say(`model: ${model.version} active`);

    const liveStart = new Date(Date.parse(HISTORY_START) + (historyDays + 1) * 86_400_000).toISOString();
    say(
      `demo: 9/10 a new day of live traffic: ${o.live.toLocaleString('en')} transactions (seed ${o.seed + 1}) from ${liveStart} ...`,
    );
    const live = await runSimulate(cfg, logger, simulateOptions(o.live, o.seed + 1, liveStart, 'live-'), say);
    await loadDemoRefdata(cfg, '.txmon/demo-live-refdata', say);
    await loadLabels(pool, '.txmon/demo-live-ground-truth.jsonl', 'simulator', say);
    const seconds = await drainIngest(cfg, logger, say);
    say(`ingest: ${live.records.toLocaleString('en')} records in ${seconds.toFixed(1)} s`);

    say('demo: 10/10 what the analysts see ...');
    const from = new Date(liveStart);
    const [byDecision] = await pool.query<RowDataPacket[]>(
      'SELECT decision, COUNT(*) AS n FROM decisions WHERE event_time >= ? GROUP BY decision ORDER BY decision',
      [from],
    );
    // Rule hits are kept with alerts only (migration 013): these are the alerts' hits.
    const [byRule] = await pool.query<RowDataPacket[]>(
      `SELECT h.rule_id, COUNT(*) AS n FROM alerts a,
         JSON_TABLE(a.rule_hits, '$[*]' COLUMNS (rule_id VARCHAR(64) PATH '$.ruleId')) h
       WHERE a.event_time >= ? GROUP BY h.rule_id ORDER BY n DESC`,
      [from],
    );
    const [[modelOnly]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM decisions WHERE event_time >= ? AND decision <> 'ALLOW' AND JSON_LENGTH(rule_hits) = 0",
      [from],
    );
    const [top] = await pool.query<RowDataPacket[]>(
      `SELECT a.alert_id, a.decision, a.risk_score, a.summary, l.pattern FROM alerts a
         LEFT JOIN labels l ON l.transaction_id = a.transaction_id
       WHERE a.event_time >= ? ORDER BY a.risk_score DESC, a.alert_id LIMIT 5`,
      [from],
    );
    const [[counts]] = await pool.query<RowDataPacket[]>(
      'SELECT (SELECT COUNT(*) FROM transactions) AS tx, (SELECT COUNT(*) FROM decisions) AS decided, (SELECT COUNT(*) FROM alerts) AS alerts',
    );
    const published = await readTopic(createKafka(cfg, logger), topicName(cfg.topicNamespace, 'alerts'));
    const ids = published.map((m) => m.headers?.['txmon-alert-id']?.toString());
    say('');
    say(`  decisions of the live day: ${byDecision.map((r) => `${r.decision} ${Number(r.n).toLocaleString('en')}`).join(', ')}`);
    say(`  rule hits of alerts: ${byRule.map((r) => `${r.rule_id} ${Number(r.n).toLocaleString('en')}`).join(', ') || 'none'}`);
    say(`  alerts from the model alone (no rule hit): ${Number(modelOnly?.n).toLocaleString('en')}`);
    say('  top alerts:');
    for (const a of top)
      say(`    ${a.alert_id} risk ${Number(a.risk_score).toFixed(3)} [truth: ${a.pattern ?? 'legitimate'}]\n      ${a.summary}`);
    const report = await evaluateDetection(
      pool,
      await loadModel(pool, model.version),
      (await rulesInForce(pool, cfg.detection.rulesFile, FeatureSpace.available(cfg.state.windows))).set,
      { blockScore: cfg.detection.blockScore },
      { from, to: END_OF_TIME },
      () => {},
    );
    say('');
    say(formatEvaluation(report).replace(/^/gm, '  ').trimEnd());
    const checks: Array<[string, number, number]> = [
      ['every transaction decided once', Number(counts?.decided), Number(counts?.tx)],
      ['alerts on the topic (read_committed)', ids.length, Number(counts?.alerts)],
      ['distinct alert ids on the topic', new Set(ids).size, Number(counts?.alerts)],
    ];
    say('');
    let ok = true;
    for (const [label, got, want] of checks) {
      const match = got === want;
      ok &&= match;
      say(
        `  ${label.padEnd(42)} ${String(got).padStart(8)}   expected ${String(want).padStart(8)}   ${match ? 'OK' : 'MISMATCH'}`,
      );
    }
    say('');
    say(ok ? 'demo: every transaction decided once; every alert published once.' : 'demo: detection MISMATCH (see above).');
    return ok;
  } finally {
    await pool.end();
  }
}
