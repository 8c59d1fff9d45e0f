/**
 * Records an ops trace (ops/trace.ts) of a real pipeline run with faults injected, for `txmon ops
 * evaluate` and the tests (issue 21): `txmon run ingest` as its own process on the real broker,
 * registry, MariaDB and Redis, simulated traffic at OPS_RECORD_RATE tx/s (simulator/, with its
 * duplicates and 1 % malformed records), the ingest's /metrics scraped every OPS_RECORD_SCRAPE_MS
 * into round points (the same `ScrapeReader` ops-watch uses), and between clean stretches the
 * faults of OPS_RECORD_FAULTS, each written into the trace with its start and end:
 *
 *   malformed-flood   an upstream sends records that are not Avro (1,200/s beside the traffic)
 *   redis-paused      Redis answers no client (CLIENT PAUSE … ALL)
 *   broker-paused     the Kafka broker's process stopped (SIGSTOP, then SIGCONT)
 *   mariadb-slowed    the ingest's table locked 80 % of each second (LOCK TABLES … WRITE)
 *   traffic-drift     a second upstream sends half as much traffic again from another population
 *                     (another world's accounts and merchants, half of it fraud episodes) for 120 s:
 *                     the active model's score distribution moves (its PSI, reported every 2 s here);
 *                     not in the defaults (WITH_MODEL below says why)
 *   rules-review-all  a rule set whose extra rule sends every transaction to review is promoted,
 *                     and rolled back 60 s later (the registry's active rule set, as `txmon rules
 *                     promote` and `txmon rules rollback` do)
 *   lag-growth        the same table locked 950 ms of each second until a partition's lag passes
 *                     the trace's lag SLO (OPS_RECORD_LAG_SLO) by a fifth, or 240 s: the breach
 *                     forecast's test. It grows the lag only when the ingest's fetches are small
 *                     (OPS_RECORD_INGEST_MAX_BYTES=16384): with the default 512 KB a partition's
 *                     whole backlog is taken in each unlocked 50 ms. (Stopping the ingest's process
 *                     190 ms of every 200 grew it, but left most scrapes unanswered.)
 *
 * The run decides with the shipped rules, published and promoted in the registry; with the drift
 * fault, also with a model trained on its own first OPS_RECORD_TRAIN_AFTER_S of traffic, and the
 * trace then starts OPS_RECORD_SETTLE_S after the model's promotion.
 *
 * Not a test and not in `npm test`: it takes OPS_RECORD_WARMUP_S + per fault its length and
 * OPS_RECORD_GAP_S of clean traffic after it (about 20 minutes by default), and pauses services the
 * whole machine shares. Usage: `node --import tsx bench/ops-record.ts <out.jsonl.gz>`; OPS_RECORD_FAULTS=
 * (empty) records clean traffic only, for OPS_RECORD_CLEAN_S seconds.
 */
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { loadConfig } from '../config/config.ts';
import { resetNamespace } from '../cli/reset-namespace.ts';
import { prepareNamespace } from '../cli/prepare-namespace.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { createPool } from '../platform/mysql.ts';
import { redisConnectionOptions } from '../platform/redis.ts';
import { sleep } from '../platform/retry.ts';
import { kafkaPidFile } from '../services/kafka.ts';
import { livePid } from '../services/process.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import { produceSimulation } from '../simulator/produce.ts';
import { loadSimulatedRefdata } from '../simulator/load-refdata.ts';
import { topicName } from '../topics/topics.ts';
import { TraceWriter, type TraceFault } from '../ops/trace.ts';
import { ScrapeReader, type RoundPoint, type SloLimit } from '../ops/watch.ts';
import { readScrape } from '../ops/exposition.ts';
import { shareBy, WATCHED_METRICS } from '../ops/watch-list.ts';
import { publishRuleSet, promoteRuleSet, rollbackRuleSet } from '../models/rule-set-registry.ts';
import { snapshotFeatureNames } from '../domain/snapshot.ts';
import { promote, registerModel } from '../models/model-registry.ts';
import { trainModel } from '../models/train.ts';

const out = process.argv[2] ?? '';
if (!out) throw new Error('usage: node --import tsx bench/ops-record.ts <out.jsonl.gz>');
const num = (name: string, dflt: number) => {
  const v = Number(process.env[name] ?? dflt);
  if (!(Number.isFinite(v) && v >= 0)) throw new Error(`${name} must be a non-negative number, got ${process.env[name]}`);
  return v;
};
const RATE = num('OPS_RECORD_RATE', 1_000);
const SCRAPE_MS = num('OPS_RECORD_SCRAPE_MS', 1_000);
const WARMUP_S = num('OPS_RECORD_WARMUP_S', 120);
const GAP_S = num('OPS_RECORD_GAP_S', 180);
const CLEAN_S = num('OPS_RECORD_CLEAN_S', 1_200);
const LAG_SLO = num('OPS_RECORD_LAG_SLO', 8_000);
const INGEST_MAX_BYTES = process.env.OPS_RECORD_INGEST_MAX_BYTES;
const FAULT_NAMES = [
  'malformed-flood',
  'redis-paused',
  'broker-paused',
  'mariadb-slowed',
  'traffic-drift',
  'rules-review-all',
  'lag-growth',
] as const;
type FaultName = (typeof FAULT_NAMES)[number];
const faults = (process.env.OPS_RECORD_FAULTS ?? FAULT_NAMES.filter((f) => f !== 'traffic-drift').join(','))
  .split(',')
  .map((s) => s.trim())
  .filter((s) => s !== '') as FaultName[];
for (const f of faults)
  if (!FAULT_NAMES.includes(f)) throw new Error(`OPS_RECORD_FAULTS: unknown fault ${f} (known: ${FAULT_NAMES.join(', ')})`);

/**
 * The run decides with a model only for the drift fault (its score's PSI is the fault's effect): a
 * model trained on the run's first minutes, while the windows still fill (1 h, 24 h), sees the score
 * distribution move all through a 30-min recording (PSI 4.1 → 5.3 over the minute before the fault
 * on 2026-12-07, half a minute after its promotion), so its PSI is no clean baseline and the fault is not in the defaults.
 */
const WITH_MODEL = faults.includes('traffic-drift');
/** Traffic before the model is trained on it, and the wait after its promotion before the trace starts. */
const TRAIN_AFTER_S = num('OPS_RECORD_TRAIN_AFTER_S', 180);
const SETTLE_S = num('OPS_RECORD_SETTLE_S', 30);

const say = (line: string) => process.stdout.write(`[ops-record ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const base = loadConfig(process.env);
const env = {
  ...process.env,
  TXMON_TOPIC_NAMESPACE: 'opsrec.',
  TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_opsrec`,
  TXMON_KEY_PREFIX: 'txmon-opsrec',
  TXMON_INGEST_GROUP_ID: 'txmon-opsrec-ingest',
  TXMON_LOG_LEVEL: 'warn',
  TXMON_LOG_PRETTY: 'false',
  // The drift report every 2 s, as the 30-s default is to 15-s scrapes (the scrapes here are 1 s).
  TXMON_DRIFT_INTERVAL_MS: String(Math.max(1_000, 2 * SCRAPE_MS)),
  ...(INGEST_MAX_BYTES && { TXMON_INGEST_MAX_BYTES_PER_PARTITION: INGEST_MAX_BYTES }),
};
const cfg = loadConfig(env);
const logger = createLogger({ level: 'error' });

const SLOS: SloLimit[] = [
  { metric: 'txmon_ingest_consumer_lag_records', as: 'gauge', limit: LAG_SLO },
  { metric: 'txmon_ingest_record_to_commit_seconds', as: 'p99', limit: 30 },
  { metric: 'txmon_ingest_dead_letters_total', as: 'rate', limit: 500 },
];
const EFFECT: Record<FaultName, { effect: string; direction: 'up' | 'down'; description: string }> = {
  'malformed-flood': {
    effect: 'txmon_ingest_dead_letters_total',
    direction: 'up',
    description: 'an upstream sends 1,200 records a second that are not Avro, beside the traffic',
  },
  'redis-paused': {
    effect: 'txmon_ingest_records_total',
    direction: 'down',
    description: 'Redis answers no client (CLIENT PAUSE ALL)',
  },
  'broker-paused': {
    effect: 'txmon_ingest_records_total',
    direction: 'down',
    description: "the Kafka broker's process stopped (SIGSTOP)",
  },
  'mariadb-slowed': {
    effect: 'txmon_ingest_batch_duration_seconds',
    direction: 'up',
    description: "the ingest's transactions table locked 800 ms of each second",
  },
  'traffic-drift': {
    effect: 'txmon_model_score_psi',
    direction: 'up',
    description: `a second upstream sends ${RATE / 2} tx/s from another population (another world, half of it fraud episodes) beside the traffic, 120 s`,
  },
  'rules-review-all': {
    effect: 'txmon_detection_decisions_total',
    direction: 'up',
    description: 'a rule set that sends every transaction to review promoted, rolled back after 60 s',
  },
  'lag-growth': {
    effect: 'txmon_ingest_consumer_lag_records',
    direction: 'up',
    description: `the transactions table locked 950 ms of each second until a partition's lag passed ${LAG_SLO * 1.2}${INGEST_MAX_BYTES ? ` (the ingest fetching at most ${INGEST_MAX_BYTES} bytes a partition)` : ''}`,
  },
};

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

let commit = 'unknown';
try {
  commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
} catch {
  // not a checkout
}

const cleanups: Array<() => void> = [];
const cleanupAll = () => {
  for (const c of cleanups.splice(0)) {
    try {
      c();
    } catch {
      // best effort
    }
  }
};
process.on('exit', cleanupAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.on(sig, () => {
    cleanupAll();
    process.exit(130);
  });

/** The shipped rules, published and promoted in the registry (so a faulty rule set's rollback returns to them). */
const DEFAULT_RULES = readFileSync('rules/rules.json', 'utf8');
const featureNames = snapshotFeatureNames(cfg.state.windows);
let producing = false;

async function publishDefaultRules(): Promise<void> {
  const pool = createPool(cfg);
  try {
    const { version } = await publishRuleSet(pool, DEFAULT_RULES, featureNames, {
      actor: 'ops-record',
      reason: 'the shipped rules, for the recording',
      source: 'rules/rules.json',
    });
    await promoteRuleSet(pool, version, 'ops-record', 'the shipped rules, for the recording');
  } finally {
    await pool.end();
  }
}

/** A model trained on the run's stored transactions so far, registered and made the active one; its version. */
async function trainOnOwnTraffic(): Promise<string> {
  const pool = createPool(cfg);
  try {
    const model = await trainModel(pool, cfg.state.windows, { trees: 100, sampleSize: 256, seed: 1, alertRate: 0.01 }, () => {});
    await registerModel(pool, model, 'ops-record');
    await promote(pool, model.version, 'ops-record', 'trained on the recorded run');
    return model.version;
  } finally {
    await pool.end();
  }
}

/** The shipped rules with one more rule that sends every transaction to review: a faulty rule file. */
function reviewAllRules(): string {
  const set = JSON.parse(DEFAULT_RULES) as { version: string; rules: unknown[] };
  set.version = `${set.version}-review-all`;
  set.rules.push({
    id: 'review-everything',
    version: '1',
    description: 'Every transaction to review (the faulty rule of the recording)',
    severity: 'low',
    action: 'REVIEW',
    when: { '>=': [{ var: 'amount_base_minor' }, 0] },
    detail: 'every transaction',
  });
  return JSON.stringify(set, null, 2);
}

async function main(): Promise<void> {
  say(`preparing namespace ${cfg.topicNamespace}`);
  await resetNamespace(cfg, logger, () => {});
  await prepareNamespace(cfg, logger);
  const total = Math.ceil(
    RATE * (TRAIN_AFTER_S + SETTLE_S + 60 + WARMUP_S + (faults.length === 0 ? CLEAN_S : faults.length * (GAP_S + 240)) + 60),
  );
  // Event time keeps pace with the wall clock (RATE transactions a second of event time), over
  // accounts enough that each buys about once a minute, as a live upstream would send them.
  const simOpts = {
    ...DEFAULT_SIM_OPTIONS,
    count: total,
    accounts: Math.max(DEFAULT_SIM_OPTIONS.accounts, RATE * 60),
    startTime: Date.now() + 5_000,
    eventsPerSecondOfEventTime: RATE,
  };
  await loadSimulatedRefdata(cfg, simOpts, '.txmon/opsrec-refdata');
  await publishDefaultRules();

  const port = await freePort();
  const ingest = spawn(process.execPath, ['bin/txmon.js', 'run', 'ingest', '--metrics-port', String(port)], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let ingestErr = '';
  ingest.stderr?.on('data', (d: Buffer) => {
    ingestErr = (ingestErr + d.toString()).slice(-20_000);
  });
  cleanups.push(() => ingest.kill('SIGKILL'));
  producing = true;
  const traffic = produceSimulation(cfg, logger, { ...simOpts, ratePerSecond: RATE }, () => {}).catch((err: unknown) => {
    if (producing) say(`traffic stopped: ${(err as Error).message}`);
  });
  say(`ingest on :${port}, traffic at ${RATE} tx/s; scraping every ${SCRAPE_MS} ms`);

  const writer = new TraceWriter(
    {
      scrapeMs: SCRAPE_MS,
      targets: ['ingest'],
      recordedAt: Date.now(),
      commit,
      description: `txmon run ingest at ${RATE} tx/s of simulated traffic; faults: ${faults.join(', ') || 'none'}`,
      slos: SLOS,
    },
    { raw: true },
  );
  const keep = new Set<string>([...WATCHED_METRICS, ...SLOS.map((s) => s.metric)]);
  const reader = new ScrapeReader((name) => keep.has(name), shareBy);
  let latest: RoundPoint[] = [];
  let rounds = 0;
  let recording = false;
  let scraping = true;
  const scraper = (async () => {
    let next = Date.now();
    while (scraping) {
      next += SCRAPE_MS;
      const time = Date.now();
      let text: string | null = null;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
          signal: AbortSignal.timeout(Math.max(200, SCRAPE_MS * 0.8)),
        });
        if (res.ok) text = await res.text();
      } catch {
        // unanswered: up 0
      }
      // Each scrape's raw samples go into the trace too, so it can be replayed at a longer interval.
      const raw = [{ target: 'ingest', scrape: text === null ? null : readScrape(text, time) }];
      latest = reader.readScrapes(time, raw);
      if (recording) {
        writer.round(time, latest, raw);
        rounds++;
      }
      await sleep(Math.max(0, next - Date.now()));
    }
  })();
  const save = () => writeFileSync(out as string, writer.bytes(out.endsWith('.gz')));
  cleanups.push(save);

  const maxLag = () => Math.max(0, ...latest.filter((p) => p.name === 'txmon_ingest_consumer_lag_records').map((p) => p.value));

  if (WITH_MODEL) {
    // Trained on the run's own first minutes, as production's model is on recent traffic: one
    // trained on another population reads as drifted from the first transaction (a score PSI of ~7
    // with a history of the simulator's defaults), and the drift fault could not move it. The trace
    // starts once it is active.
    say(`${TRAIN_AFTER_S} s of traffic for the model to be trained on`);
    await sleep(TRAIN_AFTER_S * 1_000);
    const model = await trainOnOwnTraffic();
    say(`model ${model} active; recording after ${SETTLE_S} s more`);
    await sleep(SETTLE_S * 1_000);
  }
  recording = true;
  say(`warm-up ${WARMUP_S} s`);
  await sleep(WARMUP_S * 1_000);
  if (faults.length === 0) {
    say(`clean traffic ${CLEAN_S} s`);
    await sleep(CLEAN_S * 1_000);
  }
  for (const name of faults) {
    const start = Date.now();
    say(`fault ${name}: injected`);
    await inject(name, maxLag);
    const end = Date.now();
    const fault: TraceFault = { name, start, end, ...EFFECT[name] };
    writer.fault(fault);
    say(`fault ${name}: removed after ${((end - start) / 1_000).toFixed(1)} s; max lag now ${maxLag()}; clean ${GAP_S} s`);
    save();
    await sleep(GAP_S * 1_000);
  }
  scraping = false;
  await scraper;
  producing = false;
  ingest.kill('SIGTERM');
  await Promise.race([new Promise((r) => ingest.on('exit', r)), sleep(15_000)]);
  save();
  say(`${rounds} rounds written to ${out}`);
  if (ingest.exitCode !== null && ingest.exitCode !== 0) say(`ingest's last log lines:\n${ingestErr.slice(-2_000)}`);
  void traffic;
  process.exit(0);
}

/** Injects one fault and resolves when it has been removed. */
async function inject(name: FaultName, maxLag: () => number): Promise<void> {
  switch (name) {
    case 'malformed-flood': {
      const producer = createKafka(cfg, logger, '-flood').producer();
      await producer.connect();
      const topic = topicName(cfg.topicNamespace, 'transactions');
      const until = Date.now() + 20_000;
      let i = 0;
      while (Date.now() < until) {
        const messages = Array.from({ length: 300 }, () => ({ key: `flood-${i % 97}`, value: Buffer.from(`not avro ${i++}`) }));
        await producer.send({ topic, messages });
        await sleep(250);
      }
      await producer.disconnect();
      return;
    }
    case 'redis-paused': {
      const redis = new Redis(redisConnectionOptions(cfg));
      await redis.call('CLIENT', 'PAUSE', '20000', 'ALL');
      redis.disconnect();
      await sleep(20_000);
      return;
    }
    case 'broker-paused': {
      const { pidFile, marker } = kafkaPidFile(cfg);
      const pid = livePid(pidFile, marker);
      if (pid === undefined) throw new Error(`broker-paused: no live broker pid in ${pidFile}`);
      const resume = () => process.kill(pid, 'SIGCONT');
      cleanups.push(resume);
      process.kill(pid, 'SIGSTOP');
      await sleep(20_000);
      resume();
      cleanups.splice(cleanups.indexOf(resume), 1);
      return;
    }
    case 'traffic-drift': {
      // Another world (seed), so other transaction ids; half of it fraud episodes. Its accounts are
      // not in the reference data: the enrichment misses them, as a new market's would.
      const drift = produceSimulation(
        cfg,
        logger,
        {
          ...DEFAULT_SIM_OPTIONS,
          seed: 4_242,
          count: Math.ceil((RATE / 2) * 120),
          accounts: Math.max(DEFAULT_SIM_OPTIONS.accounts, RATE * 30),
          fraudRate: 0.5,
          startTime: Date.now(),
          eventsPerSecondOfEventTime: RATE / 2,
          ratePerSecond: RATE / 2,
        },
        () => {},
      );
      await drift;
      return;
    }
    case 'rules-review-all': {
      const pool = createPool(cfg);
      try {
        const { version } = await publishRuleSet(pool, reviewAllRules(), featureNames, {
          actor: 'ops-record',
          reason: 'fault injection: every transaction to review',
          source: 'ops-record',
        });
        await promoteRuleSet(pool, version, 'ops-record', 'fault injection');
        // Interrupted (a signal), the faulty set is left active in the recording's database:
        // say so; the next recording's reset drops that database.
        const warn = () => say(`the review-everything rule set ${version} is still active in ${cfg.mysql.database}`);
        cleanups.push(warn);
        await sleep(60_000);
        await rollbackRuleSet(pool, 'ops-record', 'fault removed');
        cleanups.splice(cleanups.indexOf(warn), 1);
      } finally {
        await pool.end();
      }
      return;
    }
    case 'mariadb-slowed':
    case 'lag-growth': {
      const pool = createPool(cfg);
      const conn = await pool.getConnection();
      const heldMs = name === 'lag-growth' ? 950 : 800;
      const until = Date.now() + (name === 'lag-growth' ? 240_000 : 60_000);
      try {
        while (Date.now() < until && !(name === 'lag-growth' && maxLag() >= LAG_SLO * 1.2)) {
          await conn.query('LOCK TABLES transactions WRITE');
          await sleep(heldMs);
          await conn.query('UNLOCK TABLES');
          await sleep(1_000 - heldMs);
        }
      } finally {
        await conn.query('UNLOCK TABLES');
        conn.release();
        await pool.end();
      }
      return;
    }
  }
}

main().catch((err: unknown) => {
  say(`failed: ${(err as Error).stack ?? String(err)}`);
  cleanupAll();
  process.exit(1);
});
