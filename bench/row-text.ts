/**
 * The ingest's CPU and heap allocation to build the `transactions` INSERT of one batch: mysql2's
 * formatter over transactionRow's values (what writeBatch sent before) against insertTransactionsSql
 * (sinks/row-text.ts). Not a test: it measures and prints.
 *
 *   node --expose-gc --max-semi-space-size=128 --min-semi-space-size=128 --import tsx bench/row-text.ts [rows, default 2500] [rounds, default 40]
 *
 * Rows of the simulator's shape (its transactions, a feature vector of the real layout's length,
 * decisions as the bench of mysql-rows.ts makes them). Each variant's statement is then encoded as
 * mysql2's query packet encodes it (Buffer.byteLength and utf8Write: where a string of many pieces
 * is flattened). The new statement goes through the pool's queryFormat (formatQuery), and for
 * comparison through mysql2's default, which scans a statement even when it has no values. Allocation: V8's heap (and its young generation) and external
 * memory before and after one build and encoding, in a young generation large enough that no
 * collection runs in between (checked). Medians of `rounds`, the variants interleaved.
 */
import v8 from 'node:v8';
import mysql, { type SqlValue } from 'mysql2';
import type { DecisionRecord } from '../detection/decision-record.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { Rng } from '../domain/rng.ts';
import { snapshotFeatureNames } from '../domain/snapshot.ts';
import { formatQuery } from '../platform/mysql.ts';
import { generateEvents } from '../simulator/generate.ts';
import { DEFAULT_SIM_OPTIONS } from '../simulator/types.ts';
import {
  insertTransactionsSql,
  TRANSACTION_COLUMNS,
  transactionRow,
  type PositionedTransaction,
} from '../sinks/transactions.sink.ts';

const ROWS = Number(process.argv[2] ?? 2_500);
const ROUNDS = Number(process.argv[3] ?? 40);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

function batch(): { rows: PositionedTransaction[]; decided: Map<string, DecisionRecord> } {
  const rng = new Rng(11);
  const width = snapshotFeatureNames(DEFAULT_WINDOWS).length;
  const rows: PositionedTransaction[] = [];
  const decided = new Map<string, DecisionRecord>();
  for (const e of generateEvents({ ...DEFAULT_SIM_OPTIONS, count: Math.ceil(ROWS * 1.2), malformedRate: 0, duplicateRate: 0 })) {
    if (e.kind !== 'valid') continue;
    const tx = e.tx;
    // The vector's mix: counts, sums in minor units, fractional means and distances, tiers, flags, nulls.
    const values = Array.from({ length: width }, (_, i) => {
      const r = rng.next();
      if (i % 11 === 2) return ['LOW', 'MEDIUM', 'HIGH'][rng.int(0, 2)];
      if (i % 13 === 3) return r < 0.1;
      if (r < 0.08) return null;
      if (r < 0.6) return rng.int(0, 400);
      if (r < 0.8) return rng.int(0, 60_000) * rng.int(1, 40);
      return (rng.int(100, 5_000_000) * 1.0) / rng.int(1, 400);
    });
    rows.push({
      tx,
      position: { topic: 'transactions', partition: 3, offset: String(1_200_000 + rows.length) },
      late: false,
      featureLayout: 1,
      featureValues: JSON.stringify(values),
    });
    const alerting = rng.next() < 0.03;
    decided.set(tx.transaction_id, {
      transactionId: tx.transaction_id,
      accountId: tx.account_id,
      decision: alerting ? 'REVIEW' : 'ALLOW',
      riskScore: alerting ? 0.7 + rng.next() * 0.3 : rng.next() * 0.4,
      modelVersion: 'if-20260101-1',
      modelScore: rng.next(),
      shadowModelVersion: null,
      shadowScore: null,
      rulesetVersion: 'rules-7',
      shadowRules: null,
      rollout: null,
      ruleHits: [],
      explanation: { summary: 'ALLOW', model: null },
      alertId: alerting ? `al-${tx.transaction_id}`.padEnd(32, '0').slice(0, 32) : null,
      eventTime: tx.event_time,
      decidedAt: tx.event_time + rng.int(50, 3_000),
      amountMinor: tx.amount_minor,
      currency: tx.currency,
    });
    if (rows.length === ROWS) break;
  }
  return { rows, decided };
}

const TEMPLATE = `INSERT INTO transactions (${TRANSACTION_COLUMNS.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE id = id`;

/** mysql2's way (Connection#format): the rows' values, then sql-escaper. */
function viaMysql2(rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>): string {
  return mysql.format(TEMPLATE, [rows.map((p) => transactionRow(p, decided.get(p.tx.transaction_id)) as SqlValue[])], false, 'Z');
}

/** The new way, through the pool's queryFormat (platform/mysql.ts formatQuery). */
function direct(rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>): string {
  return formatQuery(insertTransactionsSql(rows, decided), [], 'Z');
}

/** The new way through mysql2's default formatting, which scans a statement sent without values. */
function scanned(rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>): string {
  return mysql.format(insertTransactionsSql(rows, decided), [], false, 'Z');
}

/** The query packet's encoding (mysql2 packets/query.js): flattens the string, then copies it out. */
function encode(sql: string): number {
  const buf = Buffer.allocUnsafe(Buffer.byteLength(sql, 'utf8'));
  return buf.write(sql, 0, 'utf8');
}

type Build = (rows: readonly PositionedTransaction[], decided: ReadonlyMap<string, DecisionRecord>) => string;

function newSpaceUsed(): number {
  return v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_used_size ?? 0;
}

interface Allocation {
  /** V8's heap, all spaces. */
  heap: number;
  /** Its young generation: what scavenges copy or sweep. */
  young: number;
  /** Outside V8's heap: the packet's Buffer, and a large latin1 string Node keeps there. */
  external: number;
}

/** Bytes allocated by one build and its packet encoding; retried if a scavenge ran meanwhile. */
function allocated(build: Build, data: ReturnType<typeof batch>): Allocation {
  for (let attempt = 0; attempt < 5; attempt++) {
    // Twice, with a pause: the freeing of earlier Buffers' memory finishes on another thread.
    gc?.();
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    gc?.();
    const m0 = process.memoryUsage();
    const y0 = newSpaceUsed();
    const sql = build(data.rows, data.decided);
    encode(sql);
    const y1 = newSpaceUsed();
    const m1 = process.memoryUsage();
    if (y1 >= y0) return { heap: m1.heapUsed - m0.heapUsed, young: y1 - y0, external: m1.external - m0.external };
  }
  throw new Error('a scavenge ran during every measurement: give a larger --min-semi-space-size');
}

function timed(build: Build, data: ReturnType<typeof batch>, withEncode: boolean): number {
  const t0 = process.cpuUsage();
  const sql = build(data.rows, data.decided);
  if (withEncode) encode(sql);
  const t = process.cpuUsage(t0);
  return t.user + t.system;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] as number;

const data = batch();
const a = viaMysql2(data.rows, data.decided);
const b = direct(data.rows, data.decided);
if (a !== b) throw new Error('the two statements differ');
console.log(
  `${data.rows.length} rows, statement ${(a.length / 1024).toFixed(0)} KB (${(a.length / data.rows.length).toFixed(0)} chars a row)`,
);

const variants: Array<[string, Build]> = [
  ['mysql2 format of transactionRow', viaMysql2],
  ['insertTransactionsSql + formatQuery', direct],
  ['insertTransactionsSql + mysql2 scan', scanned],
];
const cpu = new Map<string, { build: number[]; withEncode: number[] }>(variants.map(([n]) => [n, { build: [], withEncode: [] }]));
for (let round = 0; round < ROUNDS; round++)
  for (const [name, build] of variants) {
    const c = cpu.get(name) as { build: number[]; withEncode: number[] };
    c.build.push(timed(build, data, false));
    c.withEncode.push(timed(build, data, true));
  }
const perRow = (x: number): string => (x / data.rows.length).toFixed(2);
for (const [name, build] of variants) {
  const c = cpu.get(name) as { build: number[]; withEncode: number[] };
  const mem = allocated(build, data);
  const bytes = (x: number): string => (x / data.rows.length).toFixed(0);
  console.log(
    `${name.padEnd(38)} CPU µs/row: build ${perRow(median(c.build))}, build + packet encoding ${perRow(median(c.withEncode))}; ` +
      `allocated B/row (build + encoding): V8 heap ${bytes(mem.heap)} (young ${bytes(mem.young)}), external ${bytes(mem.external)}`,
  );
}
