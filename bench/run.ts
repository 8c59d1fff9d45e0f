/**
 * `npm run bench`: issue 17's measurements, in one run on this machine, against the real services,
 * over the same simulated topic (BENCH_COUNT transactions, default 200,000):
 *   (a) the raw ceiling: consume + Avro decode only, in this process;
 *   (n) the naive implementation (bench/naive.ts): eachMessage, per record a registry decode, one
 *       awaited Redis call, ml-isolation-forest scoring and one awaited INSERT; its tx/s;
 *   (b) ingest end to end (`txmon run ingest --drain`, its own process): tx/s, its ratios to (a) and
 *       (n), CPU µs per transaction of each process (/proc), the ingest's peak RSS, and the bytes it
 *       allocates per transaction (V8's --trace-gc-nvp lines, bench/gc-trace.ts); batch latency and
 *       Redis figures from its summary and INFO;
 *   (c) a fixed offered load with the ingest running live for BENCH_FIXED_SECONDS (default 60),
 *       measured after BENCH_FIXED_WARMUP_SECONDS (default 20) of it from the ingest's cold start:
 *       BENCH_FIXED_RATE (default 10,000) tx/s, or 70 % of the saturation measured in (b) if lower
 *       (the line says which and why); achieved / offered, and event → decision committed (Kafka)
 *       and durable (MySQL) p50/p99/p99.9, measured from outside the ingest (bench/latency.ts says
 *       how, and the resolution); below 95 % of offered achieved, a line says the latencies mean nothing;
 *   (d) the floors of a batch's three durable boundaries (bench/floors.ts);
 *   (0) last, the in-repo isolation forest against ml-isolation-forest (bench/forest.ts), and
 *   (t) the backtest's compute (bench/backtest.ts, issue 19: >= 100,000 tx/s), and
 *   (g) log templates (bench/logs.ts, issue 22): Drain's grouping accuracy on txmon's own logs and on
 *       two public labelled sets (bench/public-logs.ts), and
 *       its parsing speed in lines/s.
 * It writes its figures to .txmon/bench/latest.json (bench/figures.ts builds the object; fields in
 * docs/performance.md) and closes with issue 17's targets, each met or NOT met with its figure.
 * Everything is measured through the ingest's public surfaces (the process, the topics, the MySQL
 * tables, the group's offsets), so it measures whatever ingest is on main. Not a test: it measures
 * and prints.
 *
 * BENCH_NAIVE_SECONDS (default 20) bounds (n). BENCH_INGEST_PROCESSES (default 1) runs that many
 * ingest processes in the group for (b) and (c). BENCH_INGEST_NODE_ARGS passes node options to the
 * ingest process of (b), e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" for a profile;
 * BENCH_INGEST_LOG=<file> writes its log at debug level there (per-batch step timings), and the
 * fixed-load run's to <file>.fixed. BENCH_MARIADB_BUFFER_POOL_MB (default 1024; 0: as the server
 * has it) raises MariaDB's InnoDB buffer pool for the run, and sets it back at the end (on SIGINT
 * and SIGTERM too; a kill -9 leaves it raised until the server restarts): at the server's 128 MB
 * default a run's rows and indexes do not fit, and InnoDB's page flushes and reads stalled the
 * MySQL step (p99 57-65 ms, 203 ms in one run of three, against 49-54 ms with 1 GB;
 * docs/performance.md, "The services' state").
 */
import { execFileSync, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { Redis } from 'ioredis';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../config/config.ts';
import { resetNamespace } from '../cli/reset-namespace.ts';
import type { Transaction } from '../domain/transaction.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { AvroDecoder, createRegistry } from '../platform/schema-registry.ts';
import { sleep } from '../platform/retry.ts';
import { groupLag } from '../platform/batch-consumer.ts';
import { avroType } from '../schemas/index.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import { topicName } from '../topics/topics.ts';
import { prepareNamespace } from '../cli/prepare-namespace.ts';
import { BACKTEST_RESULT_TAG, type BacktestBenchResult } from './backtest.ts';
import { RESULT_TAG as LOGS_RESULT_TAG, type LogsBenchResult } from './logs.ts';
import { RESULT_TAG, type ForestBenchResult } from './forest.ts';
import { boundaryFloors } from './floors.ts';
import {
  BENCH_BUFFER_POOL_MB,
  buildFigures,
  chooseOfferedRate,
  cpuCoresLine,
  latencyPercentiles,
  serviceNotes,
  targetVerdicts,
  type ServiceConditions,
} from './figures.ts';
import { GC_TRACE_FLAG, GcTrace } from './gc-trace.ts';
import { COMMITTED_METHOD, DURABLE_METHOD, LatencyProbe, POLL_MS, type LatencyResult } from './latency.ts';
import { naiveRun } from './naive.ts';
import { dirname, join } from 'node:path';
import type { TxmonConfig } from '../config/config.ts';
import { createConnection, createPool } from '../platform/mysql.ts';
import type { RowDataPacket } from 'mysql2/promise';
import { redisConnectionOptions } from '../platform/redis.ts';
import { loadSimulatedRefdata } from '../simulator/load-refdata.ts';
import type { SimOptions } from '../simulator/types.ts';
import { promote, registerModel } from '../models/model-registry.ts';
import { trainModel } from '../models/train.ts';
import { produceSimulation } from '../simulator/produce.ts';
import { kafkaPidFile } from '../services/kafka.ts';
import { CLUSTER_KAFKA_PORTS, CLUSTER_REDIS_PORTS, kafkaNodePid } from '../services/cluster.ts';
import { registryPidFile } from '../services/apicurio.ts';
import { livePid } from '../services/process.ts';

const say = (line: string) => process.stdout.write(`${line}\n`);
const count = Number(process.env.BENCH_COUNT ?? 200_000);
const base = loadConfig(process.env);
const env = {
  ...process.env,
  TXMON_TOPIC_NAMESPACE: 'bench.',
  TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_bench`,
  TXMON_KEY_PREFIX: 'txmon-bench',
  TXMON_INGEST_GROUP_ID: 'txmon-bench-ingest',
  TXMON_LOG_LEVEL: 'warn',
};
const cfg = loadConfig(env);
const logger = createLogger({ level: process.env.BENCH_LOG_LEVEL ?? 'error' });
const topic = topicName(cfg.topicNamespace, 'transactions');

/** Loads the simulated world's reference data, so enrichment runs as in production (cache hits). */
const loadRefdata = (c: TxmonConfig, opts: SimOptions) =>
  loadSimulatedRefdata(c, opts, join('.txmon', 'bench-refdata', c.topicNamespace || 'default'));

async function prepare(): Promise<number> {
  await resetNamespace(cfg, logger, say);
  await prepareNamespace(cfg, logger);
  let last = 0;
  const opts = { ...DEFAULT_SIM_OPTIONS, count };
  const summary = await produceSimulation(cfg, logger, { ...opts, ratePerSecond: 0 }, (l) => {
    if (Date.now() - last > 3_000) {
      last = Date.now();
      say(`  ${l}`);
    }
  });
  await loadRefdata(cfg, opts);
  return summary.records;
}

/** Runs `txmon run ingest` as its own process with `environment`; resolves with its stderr when it exits 0. */
function runIngestProcess(
  environment: NodeJS.ProcessEnv,
  args: string[],
  nodeArgs: string[] = [],
): { child: ReturnType<typeof spawn>; done: Promise<string> } {
  // BENCH_INGEST_LOG=<file>: this run's debug log (per-batch step timings) goes to <file>.fixed.
  const logFile = process.env.BENCH_INGEST_LOG ? `${process.env.BENCH_INGEST_LOG}.fixed` : undefined;
  if (logFile) writeFileSync(logFile, '');
  const child = spawn(process.execPath, [...nodeArgs, 'bin/txmon.js', 'run', 'ingest', '--metrics-port', '0', ...args], {
    env: { ...environment, TXMON_LOG_PRETTY: 'false', ...(logFile && { TXMON_LOG_LEVEL: 'debug' }) },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (logFile) appendFileSync(logFile, d);
  });
  const done = new Promise<string>((resolve, reject) =>
    child.on('exit', (code) =>
      code === 0 ? resolve(stderr) : reject(new Error(`ingest exited with ${code}:\n${stderr.slice(-3000)}`)),
    ),
  );
  return { child, done };
}

const HISTORY = Number(process.env.BENCH_HISTORY ?? 10_000);
/** Ingest processes in the group for (b) and (c) (BENCH_INGEST_PROCESSES, default 1): the scale-out of one machine's cores. */
const INGEST_PROCESSES = Number(process.env.BENCH_INGEST_PROCESSES ?? 1);
if (!Number.isInteger(INGEST_PROCESSES) || INGEST_PROCESSES < 1 || INGEST_PROCESSES > 8)
  throw new Error(`BENCH_INGEST_PROCESSES must be an integer from 1 to 8, got ${process.env.BENCH_INGEST_PROCESSES}`);

/**
 * A model for the detection stage: a history of its own (namespace bench-history.) is ingested,
 * a forest trained on its snapshots, then registered and promoted in the bench database, so (b)
 * and (c) run with rules and an active model, as production does.
 */
async function benchModel(): Promise<string> {
  const historyEnv = {
    ...env,
    TXMON_TOPIC_NAMESPACE: 'bench-history.',
    TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_bench_history`,
    TXMON_KEY_PREFIX: 'txmon-bench-history',
    TXMON_INGEST_GROUP_ID: 'txmon-bench-history-ingest',
  };
  const hcfg = loadConfig(historyEnv);
  await resetNamespace(hcfg, logger, () => {});
  await prepareNamespace(hcfg, logger);
  const opts = { ...DEFAULT_SIM_OPTIONS, seed: 7, count: HISTORY, startTime: Date.parse('2025-12-20T00:00:00Z') };
  await produceSimulation(hcfg, logger, { ...opts, ratePerSecond: 0 }, () => {});
  await loadRefdata(hcfg, opts);
  await runIngestProcess(historyEnv, ['--drain']).done;
  const hpool = createPool(hcfg);
  const pool = createPool(cfg);
  try {
    const model = await trainModel(
      hpool,
      hcfg.state.windows,
      { trees: 100, sampleSize: 256, seed: 1, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, model, 'bench');
    await promote(pool, model.version, 'bench', 'bench');
    return model.version;
  } finally {
    await Promise.all([hpool.end(), pool.end()]);
  }
}

/** What the fixed-load run measured: the offered, produced and achieved rates and the latencies. */
interface FixedLoadResult {
  producedPerS: number;
  achievedPerS: number;
  /** Each process's CPU over the measured span (after the warm-up, while producing), in cores. */
  cpuCores: Record<string, number>;
  latency: LatencyResult;
  /** The ingest's own summary at exit (its record-to-commit figures: a cross-check, see below). */
  ingestSummary: Record<string, number>;
}

/**
 * (c) A fixed offered load: ingest runs live while the simulator produces at `rate` records per
 * second for `warmupSeconds` + `seconds`; the latencies of the records after the warm-up are
 * measured from outside (bench/latency.ts). Achieved is the measured records committed over the
 * span between the polls that saw the first and the last of them
 * committed (those of the first poll are not counted: they were committed before the span began),
 * so a pipeline that keeps up commits them over the production's span (shifted by its
 * latency), one that falls behind stretches it.
 */
async function fixedLoad(rate: number, seconds: number, warmupSeconds: number): Promise<FixedLoadResult> {
  // BENCH_FIXED_NODE_ARGS: node options for these processes (e.g. --cpu-prof), as BENCH_INGEST_NODE_ARGS for (b)'s.
  const nodeArgs = (process.env.BENCH_FIXED_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const runs = Array.from({ length: INGEST_PROCESSES }, () => runIngestProcess(env, [], nodeArgs));
  const services = await servicePids();
  const admin = createKafka(cfg, logger, '-bench-admin').admin();
  await admin.connect();
  let producedPerS = 0;
  let latency: LatencyResult;
  // CPU of every process, this one's too, read when the warm-up's records are produced and when the
  // last record is: the machine while the measured records go through.
  const procs = () => [...runs.map((r) => ({ name: 'ingest', pid: r.child.pid as number })), ...services];
  const cpuNow = () => {
    const self = process.cpuUsage();
    return { at: performance.now(), procs: procs().map((p) => cpuSeconds(p.pid)), bench: (self.user + self.system) / 1e6 };
  };
  let cpuFrom: ReturnType<typeof cpuNow> | undefined;
  let cpuTo: ReturnType<typeof cpuNow> | undefined;
  try {
    // Wait until it has joined and caught up (its lag is 0), so only the offered load is measured.
    const joinDeadline = Date.now() + 60_000;
    await sleep(3_000);
    while ((await groupLag(admin, cfg.ingest.groupId, topic)) > 0 && Date.now() < joinDeadline) await sleep(200);
    const opts = {
      ...DEFAULT_SIM_OPTIONS,
      seed: 9,
      count: rate * (warmupSeconds + seconds),
      startTime: Date.parse('2026-02-01T00:00:00Z'),
    };
    await loadRefdata(cfg, opts);
    const probe = await LatencyProbe.start(cfg, logger, topic);
    let t0 = performance.now();
    let warm: NodeJS.Timeout | undefined;
    // Every record is generated and encoded before the first is sent: while it sends, the load
    // generator's CPU is the sending alone (it shares the machine with what it measures).
    const produced = (
      await produceSimulation(
        cfg,
        logger,
        {
          ...opts,
          ratePerSecond: rate,
          pregenerate: true,
          onSendStart: () => {
            t0 = performance.now();
            warm = setTimeout(() => (cpuFrom = cpuNow()), warmupSeconds * 1000);
          },
        },
        () => {},
      )
    ).records;
    cpuTo = cpuNow();
    clearTimeout(warm);
    producedPerS = produced / ((performance.now() - t0) / 1000);
    const deadline = Date.now() + 180_000;
    while ((await groupLag(admin, cfg.ingest.groupId, topic)) > 0 && Date.now() < deadline) await sleep(200);
    // A row is committed in MySQL before its offsets in Kafka: one more poll of each sees them all.
    await sleep(POLL_MS * 10);
    // The records of the first warmupSeconds (from the first record's broker timestamp) are not
    // measured: a process started cold reads every entity it meets from Redis and compiles its code
    // meanwhile (reported apart).
    latency = await probe.stop(warmupSeconds * 1000);
  } finally {
    await admin.disconnect();
    for (const run of runs) run.child.kill('SIGTERM');
  }
  const stderr = (await Promise.all(runs.map((run) => run.done)))[0] as string;
  const spanS = (latency.lastCommittedAt - latency.firstCommittedAt) / 1000;
  const cpuCores: Record<string, number> = {};
  const [from, to] = [cpuFrom, cpuTo];
  if (from !== undefined && to !== undefined) {
    const span = (to.at - from.at) / 1000;
    for (const c of cpuUsed(procs(), from.procs, to.procs)) cpuCores[c.name] = c.seconds / span;
    cpuCores.bench = (to.bench - from.bench) / span;
  }
  return {
    cpuCores,
    producedPerS,
    achievedPerS: spanS > 0 ? latency.committedAfterFirst / spanS : 0,
    latency,
    ingestSummary: JSON.parse(/summary (\{.*\})/.exec(stderr)?.[1] ?? '{}') as Record<string, number>,
  };
}

/** (a) consume + decode only, in this process, with the same fetch settings as ingest. */
async function rawCeiling(records: number): Promise<{ seconds: number; decoded: number }> {
  const kafka = createKafka(cfg, logger, '-bench-raw');
  const decoder = new AvroDecoder<Transaction>(createRegistry(cfg), avroType('transaction'));
  const consumer = kafka.consumer({
    groupId: `txmon-bench-raw-${Date.now()}`,
    maxBytesPerPartition: cfg.ingest.maxBytesPerPartition,
    maxBytes: cfg.ingest.maxBytesPerPartition * 4,
    maxWaitTimeInMs: 250,
  });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  let seen = 0;
  let decoded = 0;
  let first = 0;
  let lastAt = 0;
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (first === 0) first = performance.now();
      await decoder.warmValues(batch.messages.map((m) => m.value));
      for (const m of batch.messages) {
        try {
          decoder.decode(m.value);
          decoded++;
        } catch {
          // malformed records are part of the stream; the ceiling only counts the attempt
        }
      }
      seen += batch.messages.length;
      lastAt = performance.now();
    },
  });
  const deadline = Date.now() + 120_000;
  while (seen < records) {
    if (Date.now() > deadline) throw new Error(`raw ceiling: only ${seen} of ${records} records arrived within 120 s`);
    await sleep(20);
  }
  await consumer.disconnect();
  return { seconds: (lastAt - first) / 1000, decoded };
}

/** bench/forest.ts in a fresh process (BENCH_FOREST_ROWS and BENCH_FOREST_COLS pass through); its lines are shown. */
function runForestBench(): ForestBenchResult {
  return runTagged<ForestBenchResult>('bench/forest.ts', RESULT_TAG);
}

/** A bench script in a fresh process with `--json`: its lines are shown, and the one after `tag` is its result. */
function runTagged<T>(script: string, tag: string): T {
  const out = execFileSync(process.execPath, ['--import', 'tsx', script, '--json'], {
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
  });
  let result: T | undefined;
  for (const line of out.split('\n')) {
    if (line.startsWith(tag)) result = JSON.parse(line.slice(tag.length)) as T;
    else if (line !== '') say(line);
  }
  if (!result) throw new Error(`${script} printed no result:\n${out.slice(-2000)}`);
  return result;
}

const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/**
 * CPU seconds each named process used between two readings of `cpuSeconds` (one per process, in
 * `procs` order). A process gone at either end (NaN) has no figure and is left out; processes of
 * one name (the ingest's) are summed into one figure.
 */
function cpuUsed(
  procs: ReadonlyArray<{ name: string }>,
  atStart: readonly number[],
  atFinish: readonly number[],
): Array<{ name: string; seconds: number }> {
  const cpu: Array<{ name: string; seconds: number }> = [];
  procs.forEach((p, i) => {
    const seconds = (atFinish[i] ?? NaN) - (atStart[i] ?? NaN);
    if (!Number.isFinite(seconds)) return;
    const same = cpu.find((c) => c.name === p.name);
    if (same) same.seconds += seconds;
    else cpu.push({ name: p.name, seconds });
  });
  return cpu;
}

/**
 * CPU seconds (user + system) a process and its reaped children have used so far, from
 * /proc/<pid>/stat; NaN once it is gone. The children count: Redis rewrites its AOF in a forked child
 * each time the file doubles past 64 MB (one of ~1 s in a 60,000-transaction bench on 2026-12-07),
 * and until then that was not in Redis's figure. A child counts once reaped: a rewrite still running
 * at the second reading is not in the span's figure, one begun before the first is, whole.
 */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15,
    // the waited-for children's cutime 16 and cstime 17.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
  } catch {
    return NaN;
  }
}

/** MariaDB's buffer pool for the run, MB (BENCH_MARIADB_BUFFER_POOL_MB; 0: the server's as it is). */
const BUFFER_POOL_MB = Number(process.env.BENCH_MARIADB_BUFFER_POOL_MB ?? BENCH_BUFFER_POOL_MB);
if (!/^\d+$/.test(process.env.BENCH_MARIADB_BUFFER_POOL_MB ?? '0') || !Number.isSafeInteger(BUFFER_POOL_MB))
  throw new Error(
    `BENCH_MARIADB_BUFFER_POOL_MB must be a whole number of MB (0: leave the server's), got ${process.env.BENCH_MARIADB_BUFFER_POOL_MB}`,
  );

/**
 * Raises MariaDB's innodb_buffer_pool_size to BUFFER_POOL_MB for the run (online, not persisted:
 * the server's restart undoes it too) unless it is that large already; never lowers it. Returns
 * what sets it back. A server that refuses (no privilege, a managed database) is said and left.
 */
async function roomyBufferPool(): Promise<() => Promise<void>> {
  const nothing = async () => {};
  if (BUFFER_POOL_MB === 0) return nothing;
  // A connection to the server, not to the bench's database: on a fresh machine it does not exist yet.
  const conn = await createConnection(cfg, { database: false }).catch((err: unknown) => {
    say(`bench: NOTE: MariaDB's buffer pool left as the server has it (${String(err)})`);
    return null;
  });
  if (conn === null) return nothing;
  try {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT @@innodb_buffer_pool_size AS b');
    const before = Number(rows[0]?.b);
    const wanted = BUFFER_POOL_MB * 1024 * 1024;
    if (!(before < wanted)) return nothing;
    await conn.query('SET GLOBAL innodb_buffer_pool_size = ?', [wanted]);
    say(
      `bench: MariaDB's buffer pool raised from ${Math.round(before / 1024 / 1024)} to ${BUFFER_POOL_MB} MB for this run (BENCH_MARIADB_BUFFER_POOL_MB; set back at the end)`,
    );
    return async () => {
      await createConnection(cfg, { database: false })
        .then(async (c) => {
          try {
            await c.query('SET GLOBAL innodb_buffer_pool_size = ?', [before]);
          } finally {
            await c.end().catch(() => {});
          }
        })
        .then(() => say(`bench: MariaDB's buffer pool set back to ${Math.round(before / 1024 / 1024)} MB`))
        .catch((err: unknown) => say(`bench: NOTE: MariaDB's buffer pool could not be set back: ${String(err)}`));
    };
  } catch (err) {
    say(`bench: NOTE: MariaDB's buffer pool left as the server has it (${String(err)})`);
    return nothing;
  } finally {
    await conn.end().catch(() => {});
  }
}

/** Seconds a process has run, from /proc/<pid>/stat (starttime, field 22) and /proc/uptime; null once it is gone. */
function processAgeSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const startedS = Number(f[19]) / CLK_TCK;
    const uptimeS = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
    return Number.isFinite(startedS) && Number.isFinite(uptimeS) ? uptimeS - startedS : null;
  } catch {
    return null;
  }
}

/** The services' state as (c) begins: the youngest broker's age and MariaDB's buffer pool (figures.ts serviceNotes). */
async function serviceConditions(): Promise<ServiceConditions> {
  const ages = (await servicePids())
    .filter((p) => p.name === 'kafka')
    .map((p) => processAgeSeconds(p.pid))
    .filter((a): a is number => a !== null);
  const pool = createPool(cfg, { connectionLimit: 1 });
  const bufferPool = await pool
    .query<RowDataPacket[]>('SELECT @@innodb_buffer_pool_size AS b')
    .then(([rows]) => Number(rows[0]?.b) / 1024 / 1024)
    .catch(() => null)
    .finally(() => pool.end().catch(() => {}));
  return {
    brokerUptimeS: ages.length === 0 ? null : Math.min(...ages),
    mariadbBufferPoolMb: bufferPool !== null && Number.isFinite(bufferPool) ? bufferPool : null,
  };
}

/**
 * The MariaDB server the bench talks to, from its own pid file (@@pid_file): a throwaway server a
 * test starts meanwhile must not be counted in its place.
 */
async function mariadbPid(): Promise<number | undefined> {
  const pool = createPool(cfg, { connectionLimit: 1 });
  try {
    const [rows] = await pool.query<RowDataPacket[]>('SELECT @@pid_file AS f');
    const pid = Number(readFileSync(String(rows[0]?.f), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  } finally {
    await pool.end();
  }
}

/** The processes beside ingest whose CPU (b) costs: Redis, MariaDB, the broker, the registry (when found). */
async function servicePids(): Promise<Array<{ name: string; pid: number }>> {
  const out: Array<{ name: string; pid: number }> = [];
  // On the cluster (`services up --cluster` and its settings): every Redis node, replicas included
  // (they replay the masters' writes), and the three brokers, each summed under its name.
  const redisNodes = cfg.redisCluster
    ? CLUSTER_REDIS_PORTS.map((port) => ({ ...redisConnectionOptions(cfg), host: '127.0.0.1', port }))
    : [redisConnectionOptions(cfg)];
  for (const opts of redisNodes) {
    const redis = new Redis({ ...opts, lazyConnect: true, maxRetriesPerRequest: 1 });
    const m = await redis
      .connect()
      .then(() => redis.info('server'))
      .then((info) => /process_id:(\d+)/.exec(info))
      .catch(() => null);
    redis.disconnect();
    if (m) out.push({ name: 'redis', pid: Number(m[1]) });
  }
  const mariadb = await mariadbPid();
  if (mariadb !== undefined) out.push({ name: 'mariadb', pid: mariadb });
  const kafka = kafkaPidFile(cfg);
  const registry = registryPidFile(cfg);
  const onCluster = cfg.kafka.brokers.some((b) => CLUSTER_KAFKA_PORTS.some((p) => b.endsWith(`:${p}`)));
  const brokerPids = onCluster ? [1, 2, 3].map((id) => kafkaNodePid(cfg, id)) : [livePid(kafka.pidFile, kafka.marker)];
  const kafkaPid = brokerPids.find((p) => p !== undefined);
  const registryPid = livePid(registry.pidFile, registry.marker);
  for (const pid of brokerPids) if (pid !== undefined) out.push({ name: 'kafka', pid });
  if (registryPid !== undefined) out.push({ name: 'registry', pid: registryPid });
  // Said once: a CPU split without the broker reads as a quieter machine than it is.
  const unmeasured = [
    kafkaPid === undefined && `the broker (${kafka.pidFile})`,
    registryPid === undefined && `the registry (${registry.pidFile})`,
  ].filter(Boolean);
  if (unmeasured.length > 0 && !unmeasuredSaid) {
    unmeasuredSaid = true;
    say(
      `bench: NOTE: ${unmeasured.join(' and ')}: no live process of this checkout's \`txmon services up\` (started from another checkout?); left out of (b)'s and (c)'s CPU splits`,
    );
  }
  return out;
}
let unmeasuredSaid = false;

/**
 * (b) the ingest slice as its own process; throughput from committed progress, peak RSS from /proc,
 * bytes allocated from its GC trace (bench/gc-trace.ts), all over the same measured span.
 */
async function slice(records: number): Promise<{
  seconds: number;
  measured: number;
  peakRssMb: number;
  allocatedBytes: number;
  gcPauseMs: number;
  scavenges: number;
  gcs: number;
  summary: string;
  cpu: Array<{ name: string; seconds: number }>;
}> {
  const services = await servicePids();
  const admin = createKafka(cfg, logger, '-bench-admin').admin();
  await admin.connect();
  const nodeArgs = (process.env.BENCH_INGEST_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const logFile = process.env.BENCH_INGEST_LOG;
  if (logFile) writeFileSync(logFile, '');
  // Each process drains: it exits once the group has committed everything.
  const children = Array.from({ length: INGEST_PROCESSES }, () => {
    const child = spawn(
      process.execPath,
      [GC_TRACE_FLAG, ...nodeArgs, 'bin/txmon.js', 'run', 'ingest', '--drain', '--metrics-port', '0'],
      {
        env: { ...env, TXMON_LOG_PRETTY: 'false', ...(logFile && { TXMON_LOG_LEVEL: 'debug' }) },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    // V8 prints its GC lines on stdout; the log goes to stderr.
    const gc = new GcTrace();
    child.stdout.on('data', (d: Buffer) => gc.feed(d.toString()));
    const run = { child, gc, stderr: '', exited: false, exitCode: Promise.resolve<number | null>(null) };
    child.stderr.on('data', (d: Buffer) => {
      run.stderr += d.toString();
      if (logFile) appendFileSync(logFile, d);
    });
    run.exitCode = new Promise<number | null>((resolve) => child.on('exit', (code) => ((run.exited = true), resolve(code))));
    return run;
  });
  const allocated = () => children.reduce((a, c) => a + c.gc.allocated, 0);
  const gcTotals = () => ({
    pauseMs: children.reduce((a, c) => a + c.gc.pauseMs, 0),
    scavenges: children.reduce((a, c) => a + c.gc.scavenges, 0),
    gcs: children.reduce((a, c) => a + c.gc.gcs, 0),
  });
  let gcAtStart = gcTotals();
  let gcAtFinish = gcTotals();
  // The largest process's peak (each runs its share of the partitions).
  let peakKb = 0;
  // Measured from the first poll that sees progress to the one that sees none left: the records
  // committed before that first poll are not counted (they were processed before the clock started).
  let started = 0;
  let measured = 0;
  let finished = 0;
  const procs = () => [...children.map((c) => ({ name: 'ingest', pid: c.child.pid as number })), ...services];
  let cpuAtStart: number[] = [];
  let cpuAtFinish: number[] = [];
  let allocAtStart = 0;
  let allocAtFinish = 0;
  while (!children.every((c) => c.exited)) {
    for (const c of children) {
      const status = `/proc/${c.child.pid}/status`;
      if (!existsSync(status)) continue;
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch {
        // the process ended between the check and the read
      }
    }
    const lag = await groupLag(admin, cfg.ingest.groupId, topic).catch(() => records);
    if (started === 0 && lag < records) {
      started = performance.now();
      measured = lag;
      cpuAtStart = procs().map((p) => cpuSeconds(p.pid));
      allocAtStart = allocated();
      gcAtStart = gcTotals();
    }
    if (finished === 0 && lag === 0) {
      finished = performance.now();
      cpuAtFinish = procs().map((p) => cpuSeconds(p.pid));
      allocAtFinish = allocated();
      gcAtFinish = gcTotals();
    }
    await sleep(50);
  }
  await admin.disconnect();
  for (const c of children) {
    const code = await c.exitCode;
    if (code !== 0) throw new Error(`ingest exited with ${code}:\n${c.stderr.slice(-3000)}`);
  }
  // The first process's summary (its batches and latencies; with several, its share of them).
  const summary = /summary (\{.*\})/.exec(children[0]?.stderr ?? '')?.[1] ?? '{}';
  const cpu = cpuUsed(procs(), cpuAtStart, cpuAtFinish);
  return {
    seconds: (finished - started) / 1000,
    measured,
    peakRssMb: peakKb / 1024,
    allocatedBytes: allocAtFinish - allocAtStart,
    gcPauseMs: gcAtFinish.pauseMs - gcAtStart.pauseMs,
    scavenges: gcAtFinish.scavenges - gcAtStart.scavenges,
    gcs: gcAtFinish.gcs - gcAtStart.gcs,
    summary,
    cpu,
  };
}

async function redisStatsReset(): Promise<void> {
  const redis = new Redis(redisConnectionOptions(cfg));
  await redis.config('RESETSTAT');
  redis.disconnect();
}

/** Server-side time of txmon's scripts since the reset (INFO commandstats). */
async function redisScriptCost(): Promise<{ scriptCalls: number; usPerCall: number; usPerTx: number }> {
  const redis = new Redis(redisConnectionOptions(cfg));
  const info = await redis.info('commandstats');
  redis.disconnect();
  let calls = 0;
  let usec = 0;
  for (const m of info.matchAll(/cmdstat_(?:evalsha|eval):calls=(\d+),usec=(\d+)/g)) {
    calls += Number(m[1]);
    usec += Number(m[2]);
  }
  return { scriptCalls: calls, usPerCall: calls ? usec / calls : 0, usPerTx: usec / count };
}

/** Redis memory of the bench prefix per active account: MEMORY USAGE of a key sample, scaled up. */
async function memoryPerAccount(): Promise<{ bytesPerAccount: number; accounts: number; keys: number; withTtl: number }> {
  const redis = new Redis(redisConnectionOptions(cfg));
  try {
    const keys: string[] = [];
    let cursor = '0';
    do {
      const [next, batch] = await redis.scan(cursor, 'MATCH', `${cfg.keyPrefix}:*`, 'COUNT', 5_000);
      cursor = next;
      keys.push(...batch);
    } while (cursor !== '0');
    // One hash per entity and generation (state/keys.ts): <prefix>:g<gen>:{a:<account>}:w.
    const accounts = keys.filter((k) => k.includes(':{a:') && k.endsWith(':w')).length;
    const step = Math.max(1, Math.floor(keys.length / 5_000));
    const sample = keys.filter((_, i) => i % step === 0);
    const p = redis.pipeline();
    for (const k of sample) p.memory('USAGE', k);
    for (const k of sample) p.pttl(k);
    const r = (await p.exec()) ?? [];
    const bytes = r.slice(0, sample.length).reduce((a, [, v]) => a + Number(v ?? 0), 0);
    const withTtl = r.slice(sample.length).filter(([, v]) => Number(v) > 0).length;
    return {
      bytesPerAccount: accounts ? Math.round(((bytes / sample.length) * keys.length) / accounts) : 0,
      accounts,
      keys: keys.length,
      withTtl: Math.round((withTtl / Math.max(1, sample.length)) * keys.length),
    };
  } finally {
    redis.disconnect();
  }
}

/** HEAD of the checkout the bench runs from, and whether its tree differs from it (untracked files too). */
function gitCommit(): { sha: string; dirty: boolean } {
  try {
    const sha = execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain'], { encoding: 'utf8' }).trim() !== '';
    return { sha, dirty };
  } catch {
    return { sha: 'unknown', dirty: true };
  }
}

const FIGURES_FILE = join('.txmon', 'bench', 'latest.json');

const ALLOC_METHOD = `V8 ${GC_TRACE_FLAG} on the ingest process: the sum of allocated= (bytes allocated on the V8 heap since the previous GC) over the GCs of (b)'s measured span, divided by its transactions; Buffer contents outside the V8 heap are not in it`;

async function main(): Promise<void> {
  const startedAt = new Date();
  // Read now: the code this run loaded is the checkout's at its start, not at its end.
  const commit = gitCommit();
  const requestedRate = Number(process.env.BENCH_FIXED_RATE ?? 10_000);
  const fixedSeconds = Number(process.env.BENCH_FIXED_SECONDS ?? 60);
  const warmupSeconds = Number(process.env.BENCH_FIXED_WARMUP_SECONDS ?? 20);
  if (!Number.isFinite(warmupSeconds) || warmupSeconds < 0)
    throw new Error(`BENCH_FIXED_WARMUP_SECONDS must be a number of seconds >= 0, got ${process.env.BENCH_FIXED_WARMUP_SECONDS}`);
  const naiveSeconds = Number(process.env.BENCH_NAIVE_SECONDS ?? 20);
  const restoreBufferPool = await roomyBufferPool();
  // Interrupted (Ctrl-C, a kill): the buffer pool is set back before the process ends.
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)
    process.once(signal, () => {
      say(`bench: ${signal}: stopping`);
      void restoreBufferPool().finally(() => process.exit(code));
    });
  try {
    await measureAll(startedAt, commit, requestedRate, fixedSeconds, warmupSeconds, naiveSeconds);
  } finally {
    await restoreBufferPool();
  }
}

async function measureAll(
  startedAt: Date,
  commit: ReturnType<typeof gitCommit>,
  requestedRate: number,
  fixedSeconds: number,
  warmupSeconds: number,
  naiveSeconds: number,
): Promise<void> {
  say(`bench: preparing ${count.toLocaleString('en')} simulated transactions in namespace ${cfg.topicNamespace} ...`);
  const records = await prepare();
  say(`bench: ${records.toLocaleString('en')} records on ${topic}`);
  say(
    `bench: a model for detection: ${HISTORY.toLocaleString('en')} transactions of history ingested in bench-history., a forest trained on them ...`,
  );
  const modelVersion = await benchModel();
  say(`bench: ${modelVersion} active`);

  say('bench: (a) raw ceiling: consume + Avro decode ...');
  const raw = await rawCeiling(records);
  const rawRate = records / raw.seconds;

  say(
    `bench: (n) naive: eachMessage, per record registry decode + one Redis call + ml-isolation-forest + one INSERT, for ${naiveSeconds} s ...`,
  );
  const naive = await naiveRun(cfg, logger, topic, { seconds: naiveSeconds, maxRecords: records });

  say(
    'bench: (b) ingest end to end with state and detection on (decode, validate, enrich, dedup, windows, rules + isolation forest, MySQL, alerts + DLQ + offsets in a Kafka transaction) ...',
  );
  await redisStatsReset();
  const s = await slice(records);
  const sliceRate = s.measured / s.seconds;
  if (s.seconds < 5)
    say(`bench: WARNING (b) measured over ${s.seconds.toFixed(2)} s only: too short for a rate; use BENCH_COUNT >= 50000`);
  const sum = JSON.parse(s.summary) as {
    batches?: number;
    stateRoundTrips?: number;
    batchP50Ms?: number;
    batchP99Ms?: number;
    batchMaxMs?: number;
    recordToCommitP50Ms?: number;
    recordToCommitP99Ms?: number;
  };
  const lua = await redisScriptCost();
  const mem = await memoryPerAccount();
  const offered = chooseOfferedRate(requestedRate, sliceRate);
  say(
    `bench: (c) a fixed offered load of ${offered.rate.toLocaleString('en')} tx/s for ${warmupSeconds} s of warm-up and ${fixedSeconds} s measured, ingest running live (${offered.reason}) ...`,
  );
  const conditions = await serviceConditions();
  for (const note of serviceNotes(conditions)) say(`bench: NOTE: ${note}`);
  const fixed = await fixedLoad(offered.rate, fixedSeconds, warmupSeconds);
  say('bench: (d) floors: one Kafka transaction, one Redis script write, one MySQL commit, each alone and back to back ...');
  const floors = await boundaryFloors(cfg, logger);
  const floorSum = floors.reduce((a, f) => a + f.p50Ms, 0);
  // Last, when the services that `services up` just started (two JVMs) have settled and no ingest
  // runs, and in a process of its own: this one has trained and scored other forests, and the JIT
  // code it kept for them made the walk 2-3x slower than in a fresh process.
  say('bench: (0) isolation forest: in-repo vs ml-isolation-forest, same data, own process (no services) ...');
  const forest = runForestBench();
  say('bench: (t) backtest: stored decisions decided again by a candidate, compute only, own process (no services) ...');
  const backtest = runTagged<BacktestBenchResult>('bench/backtest.ts', BACKTEST_RESULT_TAG);
  say("bench: (g) log templates: Drain on txmon's own logs (tests/fixtures/logs), own process (no services) ...");
  const logs = runTagged<LogsBenchResult>('bench/logs.ts', LOGS_RESULT_TAG);

  const perTx = (sec: number) => (sec * 1e6) / Math.max(1, s.measured);
  const cpuTotal = s.cpu.reduce((a, c) => a + c.seconds, 0);
  const committed = latencyPercentiles(fixed.latency.committedMs);
  const durable = latencyPercentiles(fixed.latency.durableMs);
  const withWarmup = latencyPercentiles(fixed.latency.allCommittedMs);
  const figures = buildFigures({
    startedAt,
    node: process.version,
    commit,
    count: records,
    rawRecordsPerS: rawRate,
    naiveTxPerS: naive.txPerS,
    e2eTxPerS: sliceRate,
    cpuUsPerTx: { ...Object.fromEntries(s.cpu.map((c) => [c.name, perTx(c.seconds)])), all: perTx(cpuTotal) },
    fixed: {
      requested: requestedRate,
      offered: offered.rate,
      capped: offered.capped,
      reason: offered.reason,
      seconds: fixedSeconds,
      warmupSeconds,
      withWarmup,
      producedPerS: fixed.producedPerS,
      achievedPerS: fixed.achievedPerS,
      committed,
      durable,
      committedMethod: COMMITTED_METHOD,
      durableMethod: DURABLE_METHOD,
      cpuCores: fixed.cpuCores,
    },
    peakRssMb: s.peakRssMb,
    allocBytesPerTx: s.allocatedBytes / Math.max(1, s.measured),
    allocMethod: ALLOC_METHOD,
    forestSpeedup: forest.speedup,
    backtestTxPerS: backtest.txPerSecond,
    logLinesPerS: logs.linesPerSecond,
    logGroupingAccuracy: logs.groupingAccuracy,
    conditions,
  });
  mkdirSync(dirname(FIGURES_FILE), { recursive: true });
  writeFileSync(FIGURES_FILE, `${JSON.stringify(figures, null, 2)}\n`);

  const n = (v: number) => Math.round(v).toLocaleString('en');
  const ms = (v: number | null) => (v === null ? '?' : v.toFixed(1));
  const fl = figures.fixed_load;
  say('');
  say(`  records                        ${records.toLocaleString('en')}`);
  say(`  (a) raw consume + decode       ${n(rawRate)} records/s  (${raw.seconds.toFixed(2)} s)`);
  say(
    `  (0) forest scoring             ${forest.ours.scoreUs.toFixed(2)} µs/row in-repo vs ${forest.library.scoreUs.toFixed(1)} µs/row ml-isolation-forest (${forest.speedup.toFixed(1)}×)`,
  );
  say(
    `  (t) backtest compute           ${n(backtest.txPerSecond)} tx/s  (${backtest.transactions.toLocaleString('en')} stored decisions decided again; target >= 100,000)`,
  );
  say(
    `  (g) log templates (Drain)      ${n(logs.linesPerSecond)} lines/s; grouping accuracy ${(logs.groupingAccuracy * 100).toFixed(1)} % (${logs.labelled.toLocaleString('en')} lines of txmon's own logs)`,
  );
  // Issue 22's public labelled sets (bench/public-logs.ts): Drain's defaults, and the best of a sweep per set.
  const publicAt = (settings: 'defaults' | 'tuned') =>
    (logs.publicSets ?? [])
      .filter((p) => p.view === 'single-line' && p.input === 'content' && p.settings === settings)
      .map((p) => `${p.set} ${(p.groupingAccuracy * 100).toFixed(1)} %`)
      .join(', ');
  say(
    `  (g) public labelled logs       ${publicAt('defaults')} at Drain's defaults; ${publicAt('tuned')} tuned per set (single-line events of CTS and HiBench, Xu et al. 2023)`,
  );
  say(
    `  (n) naive                      ${n(naive.txPerS)} tx/s  (${naive.records.toLocaleString('en')} records in ${naive.seconds.toFixed(2)} s, ${naive.undecodable} not decodable)`,
  );
  say(
    `  (b) ingest + state + detection ${n(sliceRate)} tx/s  (${s.measured.toLocaleString('en')} records in ${s.seconds.toFixed(2)} s; model ${modelVersion} active)`,
  );
  say(`  ratio (b)/(a) raw ceiling      ${((sliceRate / rawRate) * 100).toFixed(1)} %`);
  say(`  ratio (b)/(n) naive            ${(sliceRate / naive.txPerS).toFixed(2)}×  (target >= 5×)`);
  say(
    `  batches                        ${sum.batches ?? '?'}  (${Math.round(records / INGEST_PROCESSES / (sum.batches ?? 1))} records per batch${INGEST_PROCESSES > 1 ? `; the first of ${INGEST_PROCESSES} ingest processes` : ''})`,
  );
  say(
    `  Redis round trips per batch    ${sum.stateRoundTrips && sum.batches ? (sum.stateRoundTrips / sum.batches).toFixed(2) : '?'}  (state stage: read-through and marker check per batch; checkpoint and progress per TXMON_STATE_CHECKPOINT_MS)`,
  );
  say(`  batch latency p50 / p99 / max  ${sum.batchP50Ms} / ${sum.batchP99Ms} / ${sum.batchMaxMs} ms`);
  say(
    `  Redis Lua time                 ${lua.scriptCalls.toLocaleString('en')} script calls, ${lua.usPerCall.toFixed(0)} µs each, ${lua.usPerTx.toFixed(0)} µs per transaction (server side)`,
  );
  say(
    `  Redis memory per account       ${mem.bytesPerAccount.toLocaleString('en')} bytes (all keys of the prefix / ${mem.accounts.toLocaleString('en')} active accounts; ${mem.keys.toLocaleString('en')} keys, TTL on ${mem.withTtl.toLocaleString('en')})`,
  );
  say(
    `  ingest peak RSS                ${s.peakRssMb.toFixed(0)} MB${INGEST_PROCESSES > 1 ? ` (the largest of ${INGEST_PROCESSES} ingest processes)` : ''}`,
  );
  say(
    `  ingest allocation (b)          ${n(figures.alloc_bytes_per_tx ?? NaN)} bytes per transaction  (${GC_TRACE_FLAG}: heap growth between the span's GCs / transactions; V8 heap only)`,
  );
  say(
    `  ingest GC pauses (b)           ${(perTx(s.gcPauseMs / 1000) || 0).toFixed(0)} µs per transaction on the main thread  (${n(s.gcs)} GCs, ${n(s.scavenges)} of them scavenges; V8's pause= in the same trace)`,
  );
  // What each process spent per transaction during (b), against what the target leaves per transaction.
  const cores = availableParallelism();
  say(
    `  CPU per transaction (b)        ${s.cpu.map((c) => `${c.name} ${perTx(c.seconds).toFixed(0)}`).join(', ')}: ${perTx(cpuTotal).toFixed(0)} µs in all (${((cpuTotal / s.seconds / cores) * 100).toFixed(0)} % of ${cores} cores; 15,000 tx/s on ${cores} cores leaves ${((cores * 1e6) / 15_000).toFixed(0)} µs)`,
  );
  say(
    `  (b) event → decision p50 / p99 ${sum.recordToCommitP50Ms} / ${sum.recordToCommitP99Ms} ms  (backlog: includes the wait in the topic; the ingest's own figure)`,
  );
  say(
    `  (c) offered / achieved         ${n(fl.offered_tx_per_s)} / ${n(fl.achieved_tx_per_s ?? 0)} tx/s = ${(((fl.achieved_tx_per_s ?? 0) / fl.offered_tx_per_s) * 100).toFixed(1)} %  (produced at ${n(fl.produced_tx_per_s ?? 0)} tx/s; offered: ${offered.reason})`,
  );
  if (!fl.sustained)
    say(
      `  (c) NOT MEANINGFUL: achieved is below 95 % of offered, so the latencies below include a growing wait in the topic; they are no latency at this load`,
    );
  say(
    `  (c) event → decision committed p50 / p99 / p99.9  ${ms(fl.p50_ms)} / ${ms(fl.p99_ms)} / ${ms(fl.p999_ms)} ms  (${fl.samples.toLocaleString('en')} of ${fixed.latency.records.toLocaleString('en')} records seen committed, produced after the first ${fl.warmup_seconds} s)`,
  );
  say(
    `  (c) with the warm-up           p50 / p99 / p99.9  ${ms(fl.with_warmup_p50_ms)} / ${ms(fl.with_warmup_p99_ms)} / ${ms(fl.with_warmup_p999_ms)} ms  (every record from the ingest's cold start on)`,
  );
  say(
    `  (c) event → decision durable   p50 / p99 / p99.9  ${ms(fl.durable_p50_ms)} / ${ms(fl.durable_p99_ms)} / ${ms(fl.durable_p999_ms)} ms  (${fl.durable_samples.toLocaleString('en')} MySQL rows)`,
  );
  say(`  (c) CPU while measured         ${cpuCoresLine(fixed.cpuCores, cores)}`);
  if (fixed.latency.failedPolls > 0)
    say(`  (c) ${fixed.latency.failedPolls} polls failed (no answer): the resolution was coarser at those moments`);
  say(`      committed: ${COMMITTED_METHOD}`);
  say(`      durable: ${DURABLE_METHOD}`);
  const own = fixed.ingestSummary;
  say(
    `  (c) the ingest's own figure    p50 / p99 ${own.recordToCommitP50Ms ?? '?'} / ${own.recordToCommitP99Ms ?? '?'} ms  (its clock after its commit returned, over its last 200,000 records; a cross-check only)`,
  );
  for (const f of floors) say(`  (d) ${f.name.padEnd(48)} p50 ${f.p50Ms.toFixed(2)} ms, p99 ${f.p99Ms.toFixed(2)} ms`);
  say(
    `  (d) a batch pays all three before its offsets move: ${floorSum.toFixed(1)} ms at p50, against the target's 30 ms p50 / 100 ms p99 event → decision`,
  );
  say(
    `  figures                        ${FIGURES_FILE}  (commit ${figures.commit.slice(0, 12)}${figures.dirty ? ', dirty tree' : ''})`,
  );
  const c = figures.services;
  say(
    `  services as (c) began          broker up ${c.broker_uptime_s === null ? '?' : `${n(c.broker_uptime_s)} s`}, MariaDB buffer pool ${c.mariadb_buffer_pool_mb === null ? '?' : `${n(c.mariadb_buffer_pool_mb)} MB`}${serviceNotes(conditions).length > 0 ? '  (NOT warm or roomy: see the NOTE lines above)' : ''}`,
  );
  say(`  targets (issue 17): ${targetVerdicts(figures).join('; ')}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
