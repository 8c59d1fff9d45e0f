/** Reconciliation test helpers: produce hand-made transactions and settlement lines, read the end state. */
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { RowDataPacket } from 'mysql2/promise';
import { createConnection } from '../../platform/mysql.ts';
import type { Settlement } from '../../domain/settlement.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createRegistry, frame, registerSchema } from '../../platform/schema-registry.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { topicName, valueSubject, type TopicKey } from '../../topics/topics.ts';
import { runSettlementSimulation } from '../../cli/simulate.actions.ts';
import { sleep } from '../../platform/retry.ts';
import { groupLag } from './lag.ts';
import {
  DEFAULT_SETTLEMENT_OPTIONS,
  type SettlementOptions,
  type SettlementSummary,
  type SettlementTruthLine,
} from '../../simulator/settlements.ts';
import type { SimOptions } from '../../simulator/types.ts';
import { testLogger, type TestNamespace } from './namespace.ts';
import { spawnProcessor, type RunningIngest } from './pipeline.ts';

/** Produces records to a topic of the namespace, framed with the registered schema (key = account or reference). */
export async function produceRecords(
  ns: TestNamespace,
  key: Extract<TopicKey, 'transactions' | 'settlements'>,
  records: ReadonlyArray<Transaction | Settlement>,
  raw: ReadonlyArray<{ key: string; value: Buffer }> = [],
): Promise<void> {
  const schema = key === 'transactions' ? 'transaction' : 'settlement';
  const id = await registerSchema(
    createRegistry(ns.cfg),
    ns.cfg.registryUrl,
    valueSubject(ns.cfg.topicNamespace, key),
    schemaText(schema),
  );
  const type = avroType(schema);
  const producer = createKafka(ns.cfg, testLogger).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    const messages = [
      ...records.map((r) => ({
        key: 'account_id' in r ? r.account_id : r.transaction_reference,
        value: frame(id, type.toBuffer(r)),
      })),
      ...raw,
    ];
    for (let i = 0; i < messages.length; i += 2_000)
      await producer.send({ topic: topicName(ns.cfg.topicNamespace, key), acks: -1, messages: messages.slice(i, i + 2_000) });
  } finally {
    await producer.disconnect();
  }
}

export interface ReconState {
  statuses: Record<string, string>;
  /** Checksum over every result's fields but its wall-clock update time. */
  resultChecksum: string;
  /** Event ids stored in MySQL, sorted; and how many are still unpublished. */
  eventIds: string[];
  unpublished: number;
  /** Event ids read (read_committed) from the exceptions topic, sorted, repeats kept. */
  publishedIds: string[];
  deadLetters: Array<{ source: string; errorClass: string; errorMessage: string; value: string }>;
  settlements: number;
  items: number;
}

export async function readReconState(ns: TestNamespace): Promise<ReconState> {
  const conn = await createConnection(ns.cfg);
  const [rows] = await conn.query<RowDataPacket[]>('SELECT reference, status FROM recon_results ORDER BY reference');
  const [[sum]] = await conn.query<RowDataPacket[]>(
    "SELECT CONCAT(COUNT(*), ':', COALESCE(SUM(CRC32(CONCAT_WS('|', reference, status, reason, expected_minor, settled_minor, currency, transactions, settlement_lines, business_date, deadline, revision, exception_since))), 0)) AS c FROM recon_results",
  );
  const [events] = await conn.query<RowDataPacket[]>('SELECT exception_id, published FROM recon_events ORDER BY exception_id');
  const [[counts]] = await conn.query<RowDataPacket[]>(
    'SELECT (SELECT COUNT(*) FROM settlements) AS s, (SELECT COUNT(*) FROM recon_items) AS i',
  );
  await conn.end();
  const kafka = createKafka(ns.cfg, testLogger);
  const exType = avroType('recon-exception');
  const published = (await readTopic(kafka, topicName(ns.cfg.topicNamespace, 'reconExceptions'))).map(
    (m) => (exType.fromBuffer((m.value as Buffer).subarray(5)) as { exception_id: string }).exception_id,
  );
  const dlType = avroType('dead-letter');
  const deadLetters = (await readTopic(kafka, topicName(ns.cfg.topicNamespace, 'settlementsDlq'))).map((m) => {
    const v = dlType.fromBuffer((m.value as Buffer).subarray(5)) as {
      source_topic: string;
      source_partition: number;
      source_offset: number;
      error_class: string;
      error_message: string;
      original_value: Buffer | null;
    };
    return {
      source: `${v.source_topic}/${v.source_partition}/${v.source_offset}`,
      errorClass: v.error_class,
      errorMessage: v.error_message,
      value: v.original_value?.toString('latin1') ?? '',
    };
  });
  return {
    statuses: Object.fromEntries(rows.map((r) => [String(r.reference), String(r.status)])),
    resultChecksum: String(sum?.c),
    eventIds: events.map((e) => String(e.exception_id)),
    unpublished: events.filter((e) => Number(e.published) === 0).length,
    publishedIds: published.sort(),
    deadLetters,
    settlements: Number(counts?.s),
    items: Number(counts?.i),
  };
}

/** Moves the reconcile group back to the start of both topics (the group must be stopped). */
export async function resetReconGroup(ns: TestNamespace): Promise<void> {
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  try {
    for (const key of ['transactions', 'settlements'] as const)
      await admin.resetOffsets({ groupId: ns.cfg.recon.groupId, topic: topicName(ns.cfg.topicNamespace, key), earliest: true });
  } finally {
    await admin.disconnect();
  }
}

/** Spawns `node bin/txmon.js run reconcile` with the namespace's environment. */
export function spawnReconcile(
  ns: TestNamespace,
  args: string[] = ['--drain'],
  extraEnv: Record<string, string> = {},
): RunningIngest {
  return spawnProcessor(ns, 'reconcile', args, extraEnv);
}

/** The simulated transactions' settlement lines produced to the namespace; returns the ground truth per reference. */
export async function produceSimulatedSettlements(
  ns: TestNamespace,
  simOpts: SimOptions,
  opts: Partial<SettlementOptions> = {},
): Promise<{ truth: SettlementTruthLine[]; summary: SettlementSummary }> {
  const path = join(tmpdir(), `${ns.id}-settlements-ground-truth.jsonl`);
  const summary = await runSettlementSimulation(
    ns.cfg,
    testLogger,
    simOpts,
    { ...DEFAULT_SETTLEMENT_OPTIONS, seed: simOpts.seed, ...opts, groundTruthPath: path },
    () => {},
  );
  const truth = readFileSync(path, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as SettlementTruthLine & { summary?: unknown })
    .filter((l) => l.summary === undefined);
  return { truth, summary };
}

/** Asserts every reference of the ground truth ended in its expected status, and no other reference exists. */
export function expectStatusesOf(state: ReconState, truth: readonly SettlementTruthLine[]): void {
  const wrong = truth.filter((t) => state.statuses[t.reference] !== t.expected_status);
  expect(
    wrong.slice(0, 5).map((t) => `${t.reference} (${t.intent}): ${state.statuses[t.reference]} instead of ${t.expected_status}`),
  ).toEqual([]);
  expect(Object.keys(state.statuses).length).toBe(truth.length);
}

/**
 * Kills `txmon run reconcile` (SIGKILL) `kills` times, each at a random point of the next stretch of
 * both topics. Returns the lag left after the last kill (more than 0: the kills were mid-stream).
 */
export async function killReconcileAtRandomPoints(ns: TestNamespace, kills: number): Promise<number> {
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  const lag = async () =>
    (await groupLag(admin, ns.cfg.recon.groupId, topicName(ns.cfg.topicNamespace, 'transactions'))) +
    (await groupLag(admin, ns.cfg.recon.groupId, topicName(ns.cfg.topicNamespace, 'settlements')));
  try {
    const total = await lag();
    for (let i = 0; i < kills; i++) {
      const target = Math.floor(total * (1 - (i + 0.5 + Math.random() * 0.5) / (kills + 1)));
      const run = spawnReconcile(ns, []);
      let exited = false;
      void run.exited.then(() => (exited = true));
      while (!exited && (await lag()) > target) await sleep(20);
      expect(exited, run.output()).toBe(false);
      run.child.kill('SIGKILL');
      await run.exited;
    }
    return await lag();
  } finally {
    await admin.disconnect();
  }
}
