// Reconciliation end to end: hand-made transactions and settlement lines covering every status, 1:N
// and N:1, through the real broker, registry and MariaDB; then a replay from the start and a run
// that sees the settlements before their transactions, both of which must end in the same results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Settlement } from '../../domain/settlement.ts';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import type { Transaction } from '../../domain/transaction.ts';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { exceptionsCsv } from '../../cli/recon.actions.ts';
import { importSettlements } from '../../cli/settlements.actions.ts';
import { createLogger } from '../../platform/logger.ts';
import { createPool } from '../../platform/mysql.ts';
import { TOLERATED } from '../../platform/tolerated.ts';
import { startReconcile } from '../../processors/reconcile/main.ts';
import { reconExceptions, reconReport } from '../../sinks/recon-report.ts';
import { resolveException } from '../../sinks/recon-resolve.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { produceRecords, readReconState, resetReconGroup, type ReconState } from '../helpers/recon.ts';

const H = 3_600_000;
const DAY = 24 * H;
const T0 = Date.parse('2026-01-05T10:00:00Z');
const ENV = { TXMON_RECON_TOLERANCE_MINOR: '2' };

let n = 0;
const tx = (reference: string | null, amount: number, over: Partial<Transaction> = {}): Transaction =>
  sampleTransaction({
    transaction_id: `tx-${++n}`,
    idempotency_key: `idem-${n}`,
    account_id: `acc-${n % 5}`,
    reference,
    amount_minor: amount,
    event_time: T0,
    ...over,
  });
const line = (id: string, reference: string, amount: number, at = T0 + 20 * H, over: Partial<Settlement> = {}): Settlement => ({
  settlement_id: id,
  transaction_reference: reference,
  amount_minor: amount,
  currency: 'USD',
  settlement_date: Math.floor(at / DAY),
  batch_id: 'batch-1',
  fee_minor: 3,
  event_time: at,
  ...over,
});

const noRef = tx(null, 1500);
// Partial captures settle under the authorization's reference; the authorization itself is then due no more.
const pcAuth = tx('r-pc', 1000);
// A reversed authorization: nothing is due.
const revAuth = tx('r-rev', 500);
const TRANSACTIONS: Transaction[] = [
  tx('r-ok', 1000),
  tx('r-split', 1000),
  tx('r-batched', 300),
  tx('r-batched', 700, { event_time: T0 + H }),
  tx('r-tol', 1000),
  tx('r-off', 1000),
  tx('r-ccy', 1000),
  tx('r-dup', 1000),
  tx('r-missing', 1000),
  tx('r-late', 1000),
  tx('r-recent', 1000, { event_time: T0 + 9 * DAY }),
  tx('r-capture', 500, { type: 'CAPTURE', parent_transaction_id: 'tx-0' }),
  noRef,
  tx('r-refund', 400, { type: 'REFUND' }),
  pcAuth,
  tx('r-pc', 600, { type: 'CAPTURE', parent_transaction_id: pcAuth.transaction_id, event_time: T0 + H }),
  tx('r-pc', 400, { type: 'CAPTURE', parent_transaction_id: pcAuth.transaction_id, event_time: T0 + 2 * H }),
  revAuth,
  tx('r-rev-2', 500, { type: 'REVERSAL', parent_transaction_id: revAuth.transaction_id, event_time: T0 + H }),
  tx('r-invalid', 0),
];
const LINES: Settlement[] = [
  line('s-ok', 'r-ok', 1000),
  line('s-split-1', 'r-split', 400),
  line('s-split-2', 'r-split', 600, T0 + 30 * H),
  line('s-batched', 'r-batched', 1000),
  line('s-tol', 'r-tol', 1002),
  line('s-off', 'r-off', 1010),
  line('s-ccy', 'r-ccy', 1000, T0 + 20 * H, { currency: 'EUR' }),
  line('s-dup-1', 'r-dup', 1000),
  line('s-dup-2', 'r-dup', 1000, T0 + 21 * H),
  line('s-unknown', 'r-unknown', 1000),
  line('s-late', 'r-late', 1000, T0 + 80 * H),
  line('s-capture', 'r-capture', 500),
  line('s-noref', noRef.transaction_id, 1500),
  line('s-pc-1', 'r-pc', 600),
  line('s-pc-2', 'r-pc', 400, T0 + 22 * H),
  // Moves the watermark past every deadline above (itself still inside its own).
  line('s-far', 'r-far', 1000, T0 + 10 * DAY),
  // The same line again (a re-imported file): harmless.
  line('s-split-1', 'r-split', 400),
  // The same id with other content: dead-lettered, the first line is kept.
  line('s-ok', 'r-ok', 999),
  // Invalid: not an ISO currency.
  line('s-bad-ccy', 'r-ok', 1000, T0 + 20 * H, { currency: 'ZZZ' }),
];
const RAW_BAD = [{ key: 'r-ok', value: Buffer.from('not avro at all') }];

const EXPECTED: Record<string, string> = {
  'r-ok': 'MATCHED',
  'r-split': 'MATCHED',
  'r-batched': 'MATCHED',
  'r-tol': 'MATCHED',
  'r-off': 'AMOUNT_MISMATCH',
  'r-ccy': 'CURRENCY_MISMATCH',
  'r-dup': 'DUPLICATE_SETTLEMENT',
  'r-missing': 'MISSING_SETTLEMENT',
  'r-unknown': 'UNEXPECTED_SETTLEMENT',
  'r-late': 'LATE_MATCH',
  'r-recent': 'PENDING',
  'r-capture': 'MATCHED',
  [noRef.transaction_id]: 'MATCHED',
  'r-pc': 'MATCHED',
  'r-rev': 'MATCHED',
  'r-far': 'PENDING',
};

// The test logger is silent unless TXMON_TEST_LOG_LEVEL says otherwise; the drains speak at warn
// anyway, so that a drain that hangs says what it waits for before the test times out.
const drainLogger = process.env.TXMON_TEST_LOG_LEVEL ? testLogger : createLogger({ level: 'warn' });

async function drain(ns: TestNamespace): Promise<string> {
  const proc = await startReconcile(ns.cfg, drainLogger, { drain: true });
  await proc.done;
  return proc.metrics.registry.metrics();
}

function expectExactlyOncePublished(s: ReconState): void {
  expect(s.unpublished).toBe(0);
  expect(s.publishedIds).toEqual(s.eventIds);
  expect(new Set(s.publishedIds).size).toBe(s.publishedIds.length);
}

let ns: TestNamespace;
let first: ReconState;
let metricsText: string;

beforeAll(async () => {
  ns = await createNamespace(ENV);
  await produceRecords(ns, 'transactions', TRANSACTIONS);
  await produceRecords(ns, 'settlements', LINES, RAW_BAD);
  metricsText = await drain(ns);
  first = await readReconState(ns);
});
afterAll(async () => {
  await ns?.cleanup();
});

describe('reconciliation scenarios', () => {
  it('gives every group its status: 1:1, 1:N, N:1, tolerance, every exception, pending', () => {
    expect(first.statuses).toEqual(EXPECTED);
    // Each line once (the re-sent one and the conflicting one are not stored twice), each settle-able transaction once.
    expect(first.settlements).toBe(16);
    // Every transaction of a settled type once (not the refund, the reversal or the invalid one).
    expect(first.items).toBe(TRANSACTIONS.length - 3);
  });

  it('dead-letters undecodable, invalid and conflicting lines with their reason', () => {
    const byClass = Object.fromEntries(first.deadLetters.map((d) => [d.errorClass, d]));
    expect(Object.keys(byClass).sort()).toEqual(['CONFLICTING_SETTLEMENT', 'DECODE_FAILED', 'VALIDATION_FAILED']);
    expect(byClass.VALIDATION_FAILED?.errorMessage).toMatch(/currency "ZZZ"/);
    expect(byClass.CONFLICTING_SETTLEMENT?.errorMessage).toMatch(
      /settlement_id s-ok was first read at .*settlements\.v1\/\d+\/\d+/,
    );
    expect(first.deadLetters).toHaveLength(3);
  });

  it('publishes every exception change exactly once, as stored', () => {
    expect(first.eventIds.length).toBeGreaterThanOrEqual(6);
    expectExactlyOncePublished(first);
  });

  it('exports the matched rate, open exceptions by status and the oldest one’s age', () => {
    const value = (name: string) => Number(new RegExp(`^${name.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(metricsText)?.[1]);
    expect(value('txmon_recon_groups{status="MISSING_SETTLEMENT"}')).toBe(1);
    expect(value('txmon_recon_groups{status="MATCHED"}')).toBe(8);
    expect(value('txmon_recon_groups{status="PENDING"}')).toBe(2);
    // 8 matched + 1 late match of 14 decided groups.
    expect(value('txmon_recon_matched_ratio')).toBeCloseTo(9 / 14, 6);
    // The oldest open exception: r-unknown's deadline (its line + 1 day) to the watermark (s-far - 1 h).
    expect(value('txmon_recon_oldest_open_exception_age_seconds')).toBe((T0 + 10 * DAY - H - (T0 + 20 * H + DAY)) / 1000);
    expect(value('txmon_recon_watermark_seconds')).toBe((T0 + 10 * DAY - H) / 1000);
    expect(
      value('txmon_recon_records_total{topic="' + topicName(ns.cfg.topicNamespace, 'settlements') + '",outcome="conflict"}'),
    ).toBe(1);
  });

  it('went through no failure it tolerates: every reason is exported, each at 0, after a clean drain', () => {
    const tolerated = [...metricsText.matchAll(/^txmon_tolerated_failures_total\{reason="([^"]+)"\} (\S+)$/gm)];
    expect(tolerated.map((m) => m[1]).sort()).toEqual(Object.keys(TOLERATED).sort());
    expect(tolerated.filter((m) => m[2] !== '0').map((m) => `${m[1]} ${m[2]}`)).toEqual([]);
  });

  it('reports counts and amounts per status and currency, and exports the exceptions as CSV', async () => {
    const pool = createPool(ns.cfg);
    try {
      const report = await reconReport(pool, '2026-01-05');
      const line = (status: string) => report.find((l) => l.status === status);
      expect(line('MATCHED')).toEqual({
        status: 'MATCHED',
        currency: 'USD',
        groups: 8,
        expectedMinor: '7000',
        settledMinor: '7002',
      });
      expect(line('DUPLICATE_SETTLEMENT')).toMatchObject({ groups: 1, expectedMinor: '1000', settledMinor: '2000' });
      // r-unknown's business date is its line's settlement date; r-recent and r-far are later days.
      expect(line('UNEXPECTED_SETTLEMENT')).toBeUndefined();
      expect(report.reduce((a, l) => a + l.groups, 0)).toBe(13);
      expect(await reconReport(pool, '2026-01-06')).toEqual([
        { status: 'UNEXPECTED_SETTLEMENT', currency: 'USD', groups: 1, expectedMinor: '0', settledMinor: '1000' },
      ]);
      const csv = exceptionsCsv(await reconExceptions(pool, '2026-01-05'));
      const rows = csv.trimEnd().split('\r\n');
      expect(rows[0]).toBe(
        'reference,status,reason,currency,expected_minor,settled_minor,difference_minor,transaction_ids,settlement_ids,business_date,deadline,exception_since,revision,resolution',
      );
      expect(rows).toHaveLength(1 + 5);
      expect(rows.find((r) => r.startsWith('r-dup,'))).toMatch(
        /^r-dup,DUPLICATE_SETTLEMENT,[^,]+,USD,1000,2000,1000,tx-\d+,s-dup-1 s-dup-2,2026-01-05,/,
      );
    } finally {
      await pool.end();
    }
  });

  it('closes an exception only through an audited action, which a replay keeps', async () => {
    const pool = createPool(ns.cfg);
    try {
      await expect(
        resolveException(pool, 'r-missing', 'ACCEPTED', 'finance-ops@example', 'bank confirmed'),
      ).resolves.toMatchObject({
        status: 'MISSING_SETTLEMENT',
        resolution: 'ACCEPTED',
      });
      await expect(resolveException(pool, 'r-missing', 'RESOLVED', 'someone', null)).rejects.toThrow(
        /already ACCEPTED by finance-ops@example/,
      );
      await expect(resolveException(pool, 'r-ok', 'RESOLVED', 'someone', null)).rejects.toThrow(/is MATCHED; only exceptions/);
      await expect(resolveException(pool, 'r-nope', 'RESOLVED', 'someone', null)).rejects.toThrow(/no reconciliation result/);
      const [audit] = await pool.query<RowDataPacket[]>(
        "SELECT actor, action, detail FROM audit_log WHERE subject = 'recon:r-missing'",
      );
      expect(audit).toHaveLength(1);
      expect(audit[0]).toMatchObject({ actor: 'finance-ops@example', action: 'recon.accepted' });
      // The command line: a refused resolution is a clear message and exit code 2.
      const cli = spawnSync(process.execPath, ['bin/txmon.js', 'recon', 'resolve', 'r-ok', '--as', 'resolved', '--actor', 'x'], {
        cwd: new URL('../../', import.meta.url).pathname,
        env: { ...process.env, ...ns.env },
        encoding: 'utf8',
      });
      expect(cli.status).toBe(2);
      expect(cli.stderr).toMatch(/BAD_INPUT: reference r-ok is MATCHED; only exceptions are resolved or accepted/);
    } finally {
      await pool.end();
    }
  });

  it('a replay from the start changes nothing and publishes nothing again', async () => {
    await resetReconGroup(ns);
    await drain(ns);
    const again = await readReconState(ns);
    expect(again.resultChecksum).toBe(first.resultChecksum);
    expect(again.eventIds).toEqual(first.eventIds);
    expectExactlyOncePublished(again);
    expect(again.statuses).toEqual(EXPECTED);
    const pool = createPool(ns.cfg);
    const [[row]] = await pool.query<RowDataPacket[]>("SELECT resolution FROM recon_results WHERE reference = 'r-missing'");
    await pool.end();
    expect(row?.resolution).toBe('ACCEPTED');
  });

  it('settlements seen before their transactions end in the same results (event time, not arrival order)', async () => {
    const other = await createNamespace(ENV);
    try {
      await produceRecords(other, 'settlements', LINES, RAW_BAD);
      await drain(other);
      const early = await readReconState(other);
      // Without transactions every line is unexpected, or pending (s-far).
      expect(new Set(Object.values(early.statuses))).toEqual(new Set(['UNEXPECTED_SETTLEMENT', 'PENDING']));
      // One event per unexpected line's group (12; s-far is pending).
      expect(early.eventIds).toHaveLength(12);
      expectExactlyOncePublished(early);
      await produceRecords(other, 'transactions', TRANSACTIONS);
      await drain(other);
      const late = await readReconState(other);
      expect(late.statuses).toEqual(EXPECTED);
      expectExactlyOncePublished(late);
      // Eleven of those groups found their transactions (cleared or turned into another exception), and
      // r-missing became an exception: at least one more event each (r-batched's two transactions may
      // arrive in separate batches, through an AMOUNT_MISMATCH first).
      expect(late.eventIds.length - early.eventIds.length).toBeGreaterThanOrEqual(12);
    } finally {
      await other.cleanup();
    }
  });
});

describe('a bank file imported twice', () => {
  it('reconciles each line once: re-importing the file is harmless', async () => {
    const own = await createNamespace();
    try {
      const a = tx('f-1', 1234);
      const b = tx('f-2', 5000, { currency: 'JPY' });
      await produceRecords(own, 'transactions', [a, b]);
      const file = join(tmpdir(), `${own.id}-bank.csv`);
      writeFileSync(
        file,
        [
          'settlement_id,transaction_reference,amount,currency,settlement_date,event_time',
          'b-1,f-1,12.34,USD,2026-01-06,2026-01-06T02:00:00Z',
          'b-2,f-2,2500,JPY,2026-01-06,2026-01-06T02:00:00Z',
          'b-3,f-2,2500.00,JPY,2026-01-06,2026-01-06T03:00:00Z',
          'b-4,f-9,1.00,USD,2026-01-09,2026-01-09T00:00:00Z',
          'b-5,f-1,12.345,USD,2026-01-06,2026-01-06T02:00:00Z',
        ].join('\r\n'),
      );
      for (let i = 0; i < 2; i++) {
        const s = await importSettlements(own.cfg, testLogger, file, {}, () => {});
        expect([s.published, s.bad, s.exitCode]).toEqual([4, 1, 2]);
      }
      await drain(own);
      const state = await readReconState(own);
      expect(state.settlements).toBe(4);
      // f-9's line moved the watermark (less 1 h) past f-1's and f-2's deadlines, not its own.
      expect(state.statuses).toEqual({ 'f-1': 'MATCHED', 'f-2': 'MATCHED', 'f-9': 'PENDING' });
      // The bad line was dead-lettered by each import, with its line number.
      expect(state.deadLetters.map((d) => d.source)).toEqual([`file:${basename(file)}/-1/6`, `file:${basename(file)}/-1/6`]);
    } finally {
      await own.cleanup();
    }
  });
});

describe('a resolution closes one revision', () => {
  it('a group that changes after it was accepted is open again, and must be closed again', async () => {
    const own = await createNamespace();
    try {
      await produceRecords(own, 'transactions', [tx('q-1', 1000)]);
      await produceRecords(own, 'settlements', [line('q-far', 'q-far', 1, T0 + 10 * DAY)]);
      await drain(own);
      const pool = createPool(own.cfg);
      try {
        expect((await readReconState(own)).statuses['q-1']).toBe('MISSING_SETTLEMENT');
        await expect(resolveException(pool, 'q-1', 'ACCEPTED', 'ops', 'written off', 7)).rejects.toThrow(
          /is at revision \d+, not 7/,
        );
        const accepted = await resolveException(pool, 'q-1', 'ACCEPTED', 'ops', 'written off');
        const open = async () => (await reconExceptions(pool, null)).find((e) => e.reference === 'q-1');
        expect((await open())?.resolution).toBe('ACCEPTED');
        // The bank pays after all, late: the group changes, the acceptance was for the old revision.
        await produceRecords(own, 'settlements', [line('q-late', 'q-1', 1000, T0 + 11 * DAY)]);
        await drain(own);
        const now = await open();
        expect(now?.status).toBe('LATE_MATCH');
        expect(now?.revision).toBeGreaterThan(accepted.revision);
        expect(now?.resolution).toBeNull();
        await expect(resolveException(pool, 'q-1', 'RESOLVED', 'ops', 'paid late', now?.revision)).resolves.toMatchObject({
          status: 'LATE_MATCH',
        });
      } finally {
        await pool.end();
      }
    } finally {
      await own.cleanup();
    }
  });
});
