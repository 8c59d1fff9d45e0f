/**
 * kafkajs against @platformatic/kafka for the hot path's Kafka work (issue 17, design item 7), side
 * by side on the same broker, topics, sizes and counts. Not a test: it measures, prints a table and
 * writes `.txmon/bench/kafka-clients.json` (git-ignored). docs/performance.md, "Kafka client:
 * kafkajs vs @platformatic/kafka", has the figures, the method and the recommendation.
 *
 *  (a) one transaction = N alert-sized messages (N = 0, 10, 100) + the consumer group's offset of one
 *      input partition + commit. kafkajs through the hot path's own TransactionalOutput (one
 *      producer per input partition); @platformatic/kafka with one producer, the offset taken from a
 *      message its consumer (a member of the group) fetched, so TxnOffsetCommit v4 carries the
 *      group's generation and member id.
 *  (b) a batch covering 8 input partitions (N alerts each): kafkajs needs 8 transactions, one per
 *      partition's producer, run in parallel; @platformatic/kafka does it in one transaction.
 *  (c) consume: fetch and iterate CONSUME_COUNT records of ~300 bytes, raw (no decode),
 *      read_committed, from a topic written in transactions.
 * Latency per transaction or batch (p50/p99/p99.9), this process's CPU (process.cpuUsage) and the
 * broker's (/proc/<pid>/stat of the pid in its pid file) per transaction, batch or record. Every
 * measurement runs ROUNDS times, the clients alternating, so the spread shows the machine's noise
 * (other work shares its 2 cores; the broker's CPU includes whatever else it serves meanwhile).
 *
 * Run (Node ≥ 22.22, which @platformatic/kafka 2.x needs; on an older Node it exits 2 saying so):
 *   $(node scripts/node-lts.js --major 22) --import tsx bench/kafka-clients.ts
 * with TXMON_HOME pointing at the running services' state (the broker's pid file). Settings:
 * BENCH_KC_TX (transactions per measurement, default 300), BENCH_KC_BATCHES (8-partition batches,
 * default 150), BENCH_KC_CONSUME (records, default 200000), BENCH_KC_ROUNDS (default 2).
 * Topics live in a namespace of their own (`bench-kc-<random>.`) and are deleted at the end.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { quantileSorted } from 'simple-statistics';
import { loadConfig } from '../config/config.ts';
import { createKafka } from '../platform/kafka.ts';
import { createLogger } from '../platform/logger.ts';
import { sleep } from '../platform/retry.ts';
import { isConcurrentTransactions, TRANSACTION_RETRY, TransactionalOutput } from '../platform/transactional-output.ts';
import { kafkaPidFile } from '../services/kafka.ts';
import { REQUIRED_NODE, nodeSupportsPlatformatic } from './platformatic-node.ts';

if (!nodeSupportsPlatformatic()) {
  process.stderr.write(
    `bench/kafka-clients.ts: @platformatic/kafka 2.x needs Node ${REQUIRED_NODE} or later, this is ${process.version};` +
      ' run it with $(node scripts/node-lts.js --major 22) --import tsx bench/kafka-clients.ts\n',
  );
  process.exit(2);
}
// Loaded once the Node version is known to be one it runs on.
const { checkPlatformatic } = await import('./kafka-clients-check.ts');
const { CONSUME_RECORD_BYTES, PlatformaticSide } = await import('./kafka-platformatic.ts');

const TX = Number(process.env.BENCH_KC_TX ?? 300);
const BATCHES = Number(process.env.BENCH_KC_BATCHES ?? 150);
const CONSUME_COUNT = Number(process.env.BENCH_KC_CONSUME ?? 200_000);
const ROUNDS = Number(process.env.BENCH_KC_ROUNDS ?? 2);
const SIZES = [0, 10, 100];
const PARTITIONS = 8;
/** Alerts per partition in (b). */
const BATCH_ALERTS = 10;
/** An alert's Avro encoding is ~400 bytes of mostly text (ids, rule names, explanation): this stands in for it. */
const ALERT = Buffer.from(
  JSON.stringify({ alert: 'a'.repeat(8), rules: ['velocity_1h', 'new_device', 'amount_zscore'], text: 'x'.repeat(300) }).slice(
    0,
    400,
  ),
);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
const say = (line: string) => process.stdout.write(`${line}\n`);

const cfg = loadConfig(process.env);
const logger = createLogger({ level: process.env.TXMON_LOG_LEVEL ?? 'error' });
const ns = `bench-kc-${randomBytes(4).toString('hex')}.`;
const topics = {
  input: `${ns}input`,
  alerts: `${ns}alerts`,
  consume: `${ns}consume`,
  // The self-check's (bench/kafka-clients-check.ts names the others after it).
  check: `${ns}check`,
  checkInput: `${ns}check-input`,
  checkZombie: `${ns}check-zombie`,
  checkZombieDefault: `${ns}check-zombie-default`,
  checkGeneration: `${ns}check-input-gen`,
  checkConcurrent: `${ns}check-input-concurrent`,
};
const brokerPid = Number(readFileSync(kafkaPidFile(cfg).pidFile, 'utf8').trim());

/** CPU seconds (user + system, all threads) a process has used so far, from /proc/<pid>/stat. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

interface Run {
  client: 'kafkajs' | 'platformatic';
  case: string;
  round: number;
  units: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  clientUsPerUnit: number;
  brokerUsPerUnit: number;
  /** kafkajs only: transactions the bench retried after CONCURRENT_TRANSACTIONS (see kjCommit). */
  retries: number;
}

/** Times `units` awaited calls of `once`; client and broker CPU over all of them. */
async function timed(
  client: Run['client'],
  name: string,
  round: number,
  units: number,
  once: (i: number) => Promise<unknown>,
): Promise<Run> {
  const ms: number[] = [];
  const retries0 = kjRetries;
  const broker0 = cpuSeconds(brokerPid);
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < units; i++) {
    const t = performance.now();
    await once(i);
    ms.push(performance.now() - t);
  }
  const cpu = process.cpuUsage(cpu0);
  const brokerUs = (cpuSeconds(brokerPid) - broker0) * 1e6;
  ms.sort((a, b) => a - b);
  return {
    client,
    case: name,
    round,
    units,
    p50Ms: quantileSorted(ms, 0.5),
    p99Ms: quantileSorted(ms, 0.99),
    p999Ms: quantileSorted(ms, 0.999),
    clientUsPerUnit: (cpu.user + cpu.system) / units,
    brokerUsPerUnit: brokerUs / units,
    retries: kjRetries - retries0,
  };
}

interface Throughput {
  client: Run['client'];
  round: number;
  records: number;
  recordsPerS: number;
  clientUsPerRecord: number;
  brokerUsPerRecord: number;
}

/** Runs a consume of CONSUME_COUNT records; rate and CPU from its first record to its last (group join excluded). */
async function throughput(
  client: Run['client'],
  round: number,
  consume: (onFirst: () => void) => Promise<number>,
): Promise<Throughput> {
  let t0 = 0;
  let cpu0 = process.cpuUsage();
  let broker0 = 0;
  const records = await consume(() => {
    t0 = performance.now();
    cpu0 = process.cpuUsage();
    broker0 = cpuSeconds(brokerPid);
  });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return {
    client,
    round,
    records,
    recordsPerS: records / seconds,
    clientUsPerRecord: (cpu.user + cpu.system) / records,
    brokerUsPerRecord: ((cpuSeconds(brokerPid) - broker0) * 1e6) / records,
  };
}

/** kafkajs transactions retried by the bench after CONCURRENT_TRANSACTIONS (kjCommit). */
let kjRetries = 0;

const alerts = (n: number, partition: number) =>
  Array.from({ length: n }, (_, i) => ({ key: `acct-${partition}-${i}`, value: ALERT, partition }));

async function main(): Promise<void> {
  const kafka = createKafka(cfg, logger, '-bench-kc');
  const admin = kafka.admin();
  await admin.connect();
  const pf = new PlatformaticSide(cfg, ns);
  const kjGroup = `${ns}group-kafkajs`;
  const output = new TransactionalOutput(kafka, `${ns}kafkajs`, logger);
  try {
    await admin.createTopics({
      topics: Object.values(topics).map((topic) => ({ topic, numPartitions: PARTITIONS })),
      waitForLeaders: true,
    });
    say(`bench/kafka-clients.ts: Node ${process.version}, broker pid ${brokerPid}, namespace ${ns}`);
    say('self-check of @platformatic/kafka (atomic commit and abort, zombie fencing) ...');
    for (const line of await checkPlatformatic(cfg, ns, topics.check)) say(`  ok: ${line}`);

    await pf.joinInput(topics.input, PARTITIONS);
    const runs: Run[] = [];
    const kjCommit = async (n: number, partition: number, offset: number) => {
      const messages = n === 0 ? [] : [{ topic: topics.alerts, messages: alerts(n, partition) }];
      const offsets = { groupId: kjGroup, topic: topics.input, partition, offset: String(offset + 1) };
      // kafkajs retries CONCURRENT_TRANSACTIONS on AddPartitionsToTxn but not on AddOffsetsToTxn;
      // TransactionalOutput retries its sendOffsets since this bench found that (10 ms, doubling).
      // What still reaches here after those retries is retried and counted.
      for (let attempt = 0; ; attempt++) {
        try {
          return await output.commit(messages, offsets);
        } catch (err) {
          if (attempt >= TRANSACTION_RETRY.retries || !isConcurrentTransactions(err)) throw err;
          kjRetries++;
          await sleep(TRANSACTION_RETRY.initialRetryTime * 2 ** attempt);
        }
      }
    };
    let offset = 0;
    // Connections, producer ids and coordinators first: the steady state is what is measured.
    for (let i = 0; i < 5; i++) {
      for (const p of Array.from({ length: PARTITIONS }, (_, q) => q)) await kjCommit(1, p, offset);
      await pf.commit(topics.alerts, alerts(1, 0), [0], offset++);
    }
    say(`(a) one transaction: N alerts + one partition's offset + commit, ${TX} transactions per run ...`);
    for (const n of SIZES) {
      for (let round = 1; round <= ROUNDS; round++) {
        runs.push(await timed('kafkajs', `a: N=${n}`, round, TX, () => kjCommit(n, 0, offset++)));
        runs.push(
          await timed('platformatic', `a: N=${n}`, round, TX, () => pf.commit(topics.alerts, alerts(n, 0), [0], offset++)),
        );
      }
    }
    say(`(b) ${PARTITIONS} partitions' offsets + ${BATCH_ALERTS} alerts each, ${BATCHES} batches per run ...`);
    const all = Array.from({ length: PARTITIONS }, (_, p) => p);
    for (let round = 1; round <= ROUNDS; round++) {
      runs.push(
        await timed('kafkajs', `b: ${PARTITIONS} partitions, ${PARTITIONS} tx in parallel`, round, BATCHES, () => {
          const o = offset++;
          return Promise.all(all.map((p) => kjCommit(BATCH_ALERTS, p, o)));
        }),
      );
      runs.push(
        await timed('platformatic', `b: ${PARTITIONS} partitions, 1 tx`, round, BATCHES, () =>
          pf.commit(
            topics.alerts,
            all.flatMap((p) => alerts(BATCH_ALERTS, p)),
            all,
            offset++,
          ),
        ),
      );
    }
    say(`(c) consume ${CONSUME_COUNT} records of ${CONSUME_RECORD_BYTES} bytes, read_committed: writing them ...`);
    await fillConsumeTopic(kafka, topics.consume);
    const reads: Throughput[] = [];
    for (let round = 1; round <= ROUNDS; round++) {
      reads.push(await throughput('kafkajs', round, (onFirst) => consumeKafkajs(kafka, topics.consume, round, onFirst)));
      reads.push(
        await throughput('platformatic', round, (onFirst) => pf.consumeAll(topics.consume, CONSUME_COUNT, round, onFirst)),
      );
    }
    report(runs, reads);
  } finally {
    await output.disconnect();
    await pf.close();
    await admin
      .deleteTopics({ topics: Object.values(topics) })
      .catch((err: unknown) => say(`deleting the topics failed: ${String(err)}`));
    await admin.disconnect();
  }
}

/** CONSUME_COUNT records of CONSUME_RECORD_BYTES over the topic's partitions, in kafkajs transactions of 5,000. */
async function fillConsumeTopic(kafka: ReturnType<typeof createKafka>, topic: string): Promise<void> {
  const producer = kafka.producer({ transactionalId: `${ns}fill`, idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const value = randomBytes(CONSUME_RECORD_BYTES);
  try {
    for (let done = 0; done < CONSUME_COUNT; done += 5_000) {
      const tx = await producer.transaction();
      const n = Math.min(5_000, CONSUME_COUNT - done);
      for (let i = 0; i < n; i += 1_000)
        await tx.send({
          topic,
          messages: Array.from({ length: Math.min(1_000, n - i) }, (_, j) => ({ key: `k${done + i + j}`, value })),
        });
      await tx.commit();
    }
  } finally {
    await producer.disconnect();
  }
}

/** kafkajs eachBatch over the topic from the beginning, read_committed, touching each record's value. */
async function consumeKafkajs(
  kafka: ReturnType<typeof createKafka>,
  topic: string,
  round: number,
  onFirst: () => void,
): Promise<number> {
  const consumer = kafka.consumer({ groupId: `${ns}consume-kafkajs-${round}`, readUncommitted: false, maxBytes: 10_485_760 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let count = 0;
  let bytes = 0;
  let finish: () => void = () => {};
  const done = new Promise<void>((resolve) => (finish = resolve));
  await consumer.run({
    autoCommit: false,
    eachBatch: async ({ batch }) => {
      if (count === 0 && batch.messages.length > 0) onFirst();
      for (const m of batch.messages) bytes += m.value?.length ?? 0;
      count += batch.messages.length;
      if (count >= CONSUME_COUNT) finish();
    },
  });
  await done;
  await consumer.disconnect();
  if (bytes < count * CONSUME_RECORD_BYTES) throw new Error('kafkajs consume: records shorter than written');
  return count;
}

const fmt = (x: number, digits = 1) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const spread = (xs: number[], digits = 1) =>
  xs.length > 1 ? `${fmt(Math.min(...xs), digits)}–${fmt(Math.max(...xs), digits)}` : fmt(xs[0] ?? NaN, digits);

function report(runs: Run[], reads: Throughput[]): void {
  say('');
  say(
    `Transactions (per transaction in (a), per batch of ${PARTITIONS} partitions in (b)); ranges are the spread over ${ROUNDS} rounds`,
  );
  say(
    `${'case'.padEnd(40)} ${'client'.padEnd(13)} ${'p50 ms'.padStart(11)} ${'p99 ms'.padStart(11)} ${'p99.9 ms'.padStart(11)} ${'client µs'.padStart(13)} ${'broker µs'.padStart(13)} ${'retried'.padStart(8)}`,
  );
  const cases = [...new Set(runs.map((r) => r.case.replace(/, .*$/, '')))];
  for (const c of cases) {
    for (const client of ['kafkajs', 'platformatic'] as const) {
      const rs = runs.filter((r) => r.client === client && r.case.replace(/, .*$/, '') === c);
      if (rs.length === 0) continue;
      say(
        `${(rs[0]?.case ?? c).padEnd(40)} ${client.padEnd(13)} ${spread(rs.map((r) => r.p50Ms)).padStart(11)} ${spread(rs.map((r) => r.p99Ms)).padStart(11)}` +
          ` ${spread(rs.map((r) => r.p999Ms)).padStart(11)} ${spread(
            rs.map((r) => r.clientUsPerUnit),
            0,
          ).padStart(13)} ${spread(
            rs.map((r) => r.brokerUsPerUnit),
            0,
          ).padStart(13)}` +
          ` ${String(rs.reduce((sum, r) => sum + r.retries, 0)).padStart(8)}`,
      );
    }
  }
  say('');
  say(`Consume ${CONSUME_COUNT} records of ${CONSUME_RECORD_BYTES} bytes, read_committed, raw`);
  for (const client of ['kafkajs', 'platformatic'] as const) {
    const rs = reads.filter((r) => r.client === client);
    say(
      `${client.padEnd(13)} ${spread(
        rs.map((r) => r.recordsPerS),
        0,
      ).padStart(16)} records/s   client ${spread(
        rs.map((r) => r.clientUsPerRecord),
        2,
      )} µs/record   broker ${spread(
        rs.map((r) => r.brokerUsPerRecord),
        2,
      )} µs/record`,
    );
  }
  const file = join('.txmon', 'bench', 'kafka-clients.json');
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        at: new Date().toISOString(),
        commit: execFileSync('git', ['rev-parse', 'HEAD'], { encoding: 'utf8' }).trim(),
        node: process.version,
        settings: {
          tx: TX,
          batches: BATCHES,
          consume: CONSUME_COUNT,
          rounds: ROUNDS,
          alert_bytes: ALERT.length,
          partitions: PARTITIONS,
        },
        transactions: runs,
        consume: reads,
      },
      null,
      2,
    )}\n`,
  );
  say(`figures written to ${file}`);
}

await main();
