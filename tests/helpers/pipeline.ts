/** End-to-end helpers: simulate into a namespace, run `txmon run ingest` as a real process, read the end state. */
import { expect } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Kafka } from 'kafkajs';
import type { RowDataPacket } from 'mysql2/promise';
import { createConnection } from '../../platform/mysql.ts';
import { createKafka } from '../../platform/kafka.ts';
import { sleep } from '../../platform/retry.ts';
import { loadSimulatedRefdata } from '../../simulator/load-refdata.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { groupLag } from './lag.ts';
import { createRegistry, frame, registerSchema } from '../../platform/schema-registry.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { generateEvents } from '../../simulator/generate.ts';
import { produceSimulation } from '../../simulator/produce.ts';
import type { GroundTruthSummary } from '../../simulator/simulate.ts';
import type { GroundTruthLine } from '../../simulator/ground-truth.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions, type Transaction } from '../../simulator/types.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { testLogger, type TestNamespace } from './namespace.ts';
import { slowStep } from './slow-step.ts';
import { openTransactions } from './stable-offsets.ts';

const REPO = new URL('../../', import.meta.url).pathname;

/** The valid transactions of a simulated stream without re-sends or malformed records. */
export function validTransactions(seed: number, count: number): Transaction[] {
  const out: Transaction[] = [];
  for (const e of generateEvents({ ...DEFAULT_SIM_OPTIONS, seed, count, duplicateRate: 0, malformedRate: 0 })) {
    if (e.kind === 'valid') out.push(e.tx);
  }
  return out;
}

/**
 * Registers the transaction schema under the namespace's subject, as an upstream producer would,
 * and returns an encoder of records in the registry's wire format with that schema id.
 */
export async function transactionEncoder(ns: TestNamespace): Promise<(tx: Transaction) => Buffer> {
  const schemaId = await registerSchema(
    createRegistry(ns.cfg),
    ns.cfg.registryUrl,
    valueSubject(ns.cfg.topicNamespace, 'transactions'),
    schemaText('transaction'),
  );
  const type = avroType('transaction');
  return (tx) => frame(schemaId, type.toBuffer(tx));
}

export interface Simulated {
  summary: GroundTruthSummary;
  lines: GroundTruthLine[];
}

/** Produces a simulated stream into the namespace's transactions topic and returns its ground truth. */
export async function produceSimulated(ns: TestNamespace, opts: Partial<SimOptions>): Promise<Simulated> {
  const path = join(tmpdir(), `${ns.id}-ground-truth.jsonl`);
  const summary = await slowStep(`produce simulated transactions of ${ns.id}`, () =>
    produceSimulation(ns.cfg, testLogger, { ...DEFAULT_SIM_OPTIONS, ...opts, ratePerSecond: 0, groundTruthPath: path }, () => {}),
  );
  await slowStep(`load simulated refdata of ${ns.id}`, () =>
    loadSimulatedRefdata(ns.cfg, { ...DEFAULT_SIM_OPTIONS, ...opts }, join(tmpdir(), `${ns.id}-refdata`)),
  );
  const lines = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as GroundTruthLine & { summary?: unknown })
    .filter((l) => l.summary === undefined);
  return { summary, lines };
}

export interface RunningIngest {
  child: ChildProcess;
  exited: Promise<number | null>;
  output: () => string;
}

/** Spawns `node bin/txmon.js run <processor>` with the namespace's environment. */
export function spawnProcessor(
  ns: TestNamespace,
  processor: 'ingest' | 'reconcile',
  args: string[] = ['--drain'],
  extraEnv: Record<string, string> = {},
): RunningIngest {
  let out = '';
  const child = spawn(process.execPath, ['bin/txmon.js', 'run', processor, '--metrics-port', '0', ...args], {
    cwd: REPO,
    env: { ...process.env, ...ns.env, TXMON_LOG_LEVEL: 'info', TXMON_LOG_PRETTY: 'false', ...extraEnv },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // A --drain run ends by itself once it has caught up. One that has not after DRAIN_DEADLINE_MS
  // is killed, and says so in its output: the test then fails on its exit code with the
  // processor's log beside it, instead of a bare test timeout that shows nothing.
  const deadline = args.includes('--drain')
    ? setTimeout(() => {
        out += `\n[test harness: the --drain run had not exited after ${DRAIN_DEADLINE_MS / 1000} s; killed with SIGKILL]\n`;
        child.kill('SIGKILL');
      }, DRAIN_DEADLINE_MS)
    : undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      clearTimeout(deadline);
      resolve(code);
    }),
  );
  return { child, exited, output: () => out };
}

/** Below the e2e tests' 180 s timeout, so the processor's own log reaches the failure message. */
const DRAIN_DEADLINE_MS = 150_000;

/** Spawns `node bin/txmon.js run ingest` with the namespace's environment. */
export function spawnIngest(
  ns: TestNamespace,
  args: string[] = ['--drain'],
  extraEnv: Record<string, string> = {},
): RunningIngest {
  return spawnProcessor(ns, 'ingest', args, extraEnv);
}

export interface DeadLetterView {
  source: string;
  errorClass: string;
  errorMessage: string;
  redacted: boolean;
  originalValue: Buffer | null;
}

export interface EndState {
  transactionIds: string[];
  /** Transactions stored with late = 1, sorted. */
  lateIds: string[];
  rowChecksum: string;
  duplicateIds: string[];
  deadLetters: DeadLetterView[];
  lag: number;
  /** Transactions with a decision, sorted. */
  decidedIds: string[];
  /** Checksum over every decision's fields (a replay must not change one). */
  decisionChecksum: string;
  /** Alert ids in MySQL's alerts table, sorted. */
  alertIds: string[];
  /** Alert ids read (read_committed) from the alerts topic, sorted, repeats kept. */
  publishedAlertIds: string[];
  /** Output partitions whose transaction was still open when they were read (after the wait): none, normally. */
  openAtRead: Array<{ topic: string; partition: number; lso: string; high: string }>;
}

/** Reads what the pipeline left behind: MySQL rows, recorded duplicates, the DLQ topic, the group's lag. */
export async function readEndState(ns: TestNamespace): Promise<EndState> {
  const conn = await createConnection(ns.cfg);
  const [rows] = await conn.query<RowDataPacket[]>('SELECT transaction_id FROM transactions ORDER BY transaction_id');
  const [[sum]] = await conn.query<RowDataPacket[]>(
    "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(amount_minor), 0), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', transaction_id, account_id, amount_minor, currency, event_time, src_partition, src_offset, late, features))), 0)) AS c FROM transactions",
  );
  const [late] = await conn.query<RowDataPacket[]>('SELECT transaction_id FROM transactions WHERE late ORDER BY transaction_id');
  const [dups] = await conn.query<RowDataPacket[]>('SELECT transaction_id FROM transaction_duplicates ORDER BY transaction_id');
  const [decided] = await conn.query<RowDataPacket[]>('SELECT transaction_id FROM decisions ORDER BY transaction_id');
  const [[dsum]] = await conn.query<RowDataPacket[]>(
    "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', transaction_id, decision, risk_score, model_version, model_score, shadow_score, ruleset_version, rule_hits, explanation, alert_id, decided_at))), 0)) AS c FROM decisions",
  );
  const [alertRows] = await conn.query<RowDataPacket[]>('SELECT alert_id FROM alerts ORDER BY alert_id');
  await conn.end();
  const kafka = createKafka(ns.cfg, testLogger);
  // A transaction still open on an output hides from read_committed readers what other producers
  // committed after its first record, until it ends (at the latest, the producer's transaction
  // timeout): the outputs are read once none is open, or after the wait, with what stayed open kept.
  const outputs = [topicName(ns.cfg.topicNamespace, 'transactionsDlq'), topicName(ns.cfg.topicNamespace, 'alerts')];
  const openAtRead = await waitNoOpenTransactions(kafka, outputs, OPEN_TRANSACTION_WAIT_MS);
  const deadLetters = await readDeadLetters(kafka, ns);
  const alertType = avroType('alert');
  const published = (await readTopic(kafka, topicName(ns.cfg.topicNamespace, 'alerts'))).map(
    (m) => (alertType.fromBuffer((m.value as Buffer).subarray(5)) as { alert_id: string }).alert_id,
  );
  const admin = kafka.admin();
  await admin.connect();
  const lag = await groupLag(admin, ns.cfg.ingest.groupId, topicName(ns.cfg.topicNamespace, 'transactions'));
  await admin.disconnect();
  return {
    decidedIds: decided.map((r) => r.transaction_id as string),
    decisionChecksum: String(dsum?.c),
    alertIds: alertRows.map((r) => r.alert_id as string),
    publishedAlertIds: published.sort(),
    transactionIds: rows.map((r) => r.transaction_id as string),
    lateIds: late.map((r) => r.transaction_id as string),
    rowChecksum: String(sum?.c),
    duplicateIds: dups.map((r) => r.transaction_id as string),
    deadLetters,
    lag,
    openAtRead,
  };
}

/**
 * How long readEndState waits for the outputs' open transactions to end: beyond kafkajs's default
 * transaction timeout (60 s), at which the broker aborts one left open.
 */
export const OPEN_TRANSACTION_WAIT_MS = 70_000;

/** Waits until no partition of `topics` has a transaction open, or `maxMs`; returns what is still open. */
export async function waitNoOpenTransactions(
  kafka: Kafka,
  topics: readonly string[],
  maxMs: number,
): Promise<Array<{ topic: string; partition: number; lso: string; high: string }>> {
  const until = Date.now() + maxMs;
  for (;;) {
    const open: Array<{ topic: string; partition: number; lso: string; high: string }> = [];
    for (const topic of topics)
      for (const o of await openTransactions(kafka, topic))
        open.push({ topic, partition: o.partition, lso: o.lso.toString(), high: o.high.toString() });
    if (open.length === 0 || Date.now() >= until) return open;
    await sleep(250);
  }
}

/** The namespace's dead letters as read from its DLQ topic (read_committed, or every record sent). */
export async function readDeadLetters(
  kafka: Kafka,
  ns: TestNamespace,
  opts: { readUncommitted?: boolean } = {},
): Promise<DeadLetterView[]> {
  const dlqType = avroType('dead-letter');
  const dlq = await readTopic(kafka, topicName(ns.cfg.topicNamespace, 'transactionsDlq'), opts);
  return dlq.map((m) => {
    const v = dlqType.fromBuffer((m.value as Buffer).subarray(5)) as {
      source_topic: string;
      source_partition: number;
      source_offset: number;
      error_class: string;
      error_message: string;
      original_redacted: boolean;
      original_value: Buffer | null;
    };
    return {
      source: `${v.source_topic}/${v.source_partition}/${v.source_offset}`,
      errorClass: v.error_class,
      errorMessage: v.error_message,
      redacted: v.original_redacted,
      originalValue: v.original_value,
    };
  });
}

/** What a correct run must leave, derived from the simulator's ground truth alone. */
export function expectedEndState(sim: Simulated) {
  const bySeq = new Map(sim.lines.map((l) => [l.seq, l]));
  const validIds = sim.lines.filter((l) => l.kind === 'valid').map((l) => l.transaction_id as string);
  const duplicateIds = sim.lines
    .filter((l) => l.kind === 'duplicate')
    .map((l) => l.transaction_id ?? (bySeq.get(l.duplicate_of as number)?.transaction_id as string));
  const lateIds = sim.lines.filter((l) => l.kind === 'valid' && l.timing === 'late').map((l) => l.transaction_id as string);
  return {
    lateIds: [...lateIds].sort(),
    transactionIds: [...validIds].sort(),
    duplicateIds: [...duplicateIds].sort(),
    deadLetterCount: sim.summary.invalid + sim.summary.bad_bytes + sim.summary.unknown_schema,
  };
}

/** Counts dead letters by error class. */
export function countByClass(letters: readonly DeadLetterView[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of letters) out[d.errorClass] = (out[d.errorClass] ?? 0) + 1;
  return out;
}

/** Moves the namespace's ingest group back to the earliest offsets (a manual replay). */
export async function resetGroupToEarliest(ns: TestNamespace): Promise<void> {
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  try {
    await admin.resetOffsets({
      groupId: ns.cfg.ingest.groupId,
      topic: topicName(ns.cfg.topicNamespace, 'transactions'),
      earliest: true,
    });
  } finally {
    await admin.disconnect();
  }
}

/** The end state equals what the ground truth says one clean pass leaves (rows, duplicates, late flags, dead letters, lag). */
export function expectEndStateOf(state: EndState, sim: Simulated): void {
  const want = expectedEndState(sim);
  expect(state.transactionIds).toEqual(want.transactionIds);
  expect(state.duplicateIds).toEqual(want.duplicateIds);
  expect(state.lateIds).toEqual(want.lateIds);
  expect(state.deadLetters.length).toBe(want.deadLetterCount);
  expect(new Set(state.deadLetters.map((d) => d.source)).size).toBe(want.deadLetterCount);
  expect(state.lag).toBe(0);
  expect(state.openAtRead).toEqual([]);
  expectDecisionsExactlyOnce(state);
}

/** Every stored transaction has one decision, and every alert is on the alerts topic exactly once. */
export function expectDecisionsExactlyOnce(state: EndState): void {
  expect(state.decidedIds).toEqual(state.transactionIds);
  // Rules alone flag some of any simulated stream: an empty topic would prove nothing.
  expect(state.alertIds.length).toBeGreaterThan(0);
  expect(state.publishedAlertIds).toEqual(state.alertIds);
}

/**
 * Starts `txmon run ingest` and SIGKILLs it `kills` times, each once the committed progress passes a
 * random point of the next stretch of the stream, so kills land between and inside batch effects.
 * Returns the lag left after the last kill (more than 0: the kills were mid-stream).
 */
export async function killAtRandomPoints(ns: TestNamespace, kills: number): Promise<number> {
  const topic = topicName(ns.cfg.topicNamespace, 'transactions');
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  try {
    const total = await groupLag(admin, ns.cfg.ingest.groupId, topic);
    for (let i = 0; i < kills; i++) {
      const target = Math.floor(total * (1 - (i + 0.5 + Math.random() * 0.5) / (kills + 1)));
      const run = spawnIngest(ns, []);
      let exited = false;
      void run.exited.then(() => (exited = true));
      // A processor that stops making progress fails here with its own log, not as a test timeout;
      // a slow one (a loaded machine) goes on as long as the lag keeps falling.
      const startLag = await groupLag(admin, ns.cfg.ingest.groupId, topic);
      let lastLag = startLag;
      let deadline = Date.now() + 100_000;
      for (;;) {
        const lag = await groupLag(admin, ns.cfg.ingest.groupId, topic);
        if (exited || lag <= target) break;
        if (lag < lastLag) {
          lastLag = lag;
          deadline = Date.now() + 100_000;
        }
        if (Date.now() > deadline) {
          run.child.kill('SIGKILL');
          throw new Error(
            `ingest run ${i + 1} made no progress for 100 s (lag ${startLag} at its start, ${lag} now, target ${target}); its output:\n${run.output().slice(-4000)}`,
          );
        }
        await sleep(20);
      }
      expect(exited, run.output()).toBe(false);
      run.child.kill('SIGKILL');
      await run.exited;
    }
    return await groupLag(admin, ns.cfg.ingest.groupId, topic);
  } finally {
    await admin.disconnect();
  }
}

/**
 * A manual replay: resets the group to the earliest offsets, runs ingest to the end again, and
 * checks that MySQL holds exactly what it held (rows byte for byte, duplicates) with no lag left.
 */
export async function replayFromEarliest(ns: TestNamespace): Promise<{ before: EndState; after: EndState }> {
  const before = await readEndState(ns);
  await resetGroupToEarliest(ns);
  const run = spawnIngest(ns);
  expect(await run.exited, run.output()).toBe(0);
  const after = await readEndState(ns);
  expect(after.transactionIds).toEqual(before.transactionIds);
  expect(after.rowChecksum).toBe(before.rowChecksum);
  expect(after.duplicateIds).toEqual(before.duplicateIds);
  expect(after.lag).toBe(0);
  // The replay decides nothing anew and publishes no alert again.
  expect(after.decisionChecksum).toBe(before.decisionChecksum);
  expect(after.publishedAlertIds).toEqual(before.publishedAlertIds);
  return { before, after };
}
