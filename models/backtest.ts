/**
 * `txmon backtest`: the stored decisions of a range of event time read from MySQL page by page and
 * decided again by a candidate (detection/backtest.ts); the compute is timed apart from the reads,
 * since the figure that matters for a rule author is how fast a candidate is judged once the history
 * is at hand.
 */
import { performance } from 'node:perf_hooks';
import {
  Backtest,
  type BacktestReport,
  type Candidate,
  type ChangedDecision,
  type StoredDecision,
} from '../detection/backtest.ts';
import { flaggedLines, type FairnessPolicy } from '../detection/segments.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { readHistory, storedRange, type HistoryRange, type HistoryRow } from './history.ts';

const decided = (h: HistoryRow): h is HistoryRow & { stored: StoredDecision } => h.stored !== null;

export interface BacktestRun extends BacktestReport {
  range: { from: string; to: string };
  /** Rows in the range without a stored decision (stored before decisions were): not compared. */
  undecided: number;
  /** Seconds spent deciding and comparing, and the rate that gives. */
  computeSeconds: number;
  computeTxPerSecond: number;
  /** Seconds spent reading and decoding the rows from MySQL. */
  readSeconds: number;
}

/** Runs a backtest over [from, to) of event time (default: everything stored). */
export async function runBacktest(
  pool: Pool,
  candidate: Candidate,
  range: HistoryRange | undefined,
  o: { onChanged?: (c: ChangedDecision) => void; say: (line: string) => void; fairness?: FairnessPolicy },
): Promise<BacktestRun> {
  const stored = await storedRange(pool);
  if (stored === null) throw new InputError('no transactions with feature snapshots in MySQL: run the ingest first');
  const r = range ?? stored;
  const backtest = new Backtest(candidate, o.onChanged, o.fairness);
  let undecided = 0;
  let computeMs = 0;
  const started = performance.now();
  let lastSaid = Date.now();
  // A page's rows are decided together once it is read, so the compute is timed apart from the reads.
  const page: Array<HistoryRow & { stored: StoredDecision }> = [];
  await readHistory(
    pool,
    r,
    (h) => {
      if (decided(h)) page.push(h);
      else undecided++;
    },
    (rows) => {
      const t0 = performance.now();
      for (const h of page) backtest.add(h);
      computeMs += performance.now() - t0;
      page.length = 0;
      if (Date.now() - lastSaid < 2_000) return;
      lastSaid = Date.now();
      o.say(`backtest: ${rows.toLocaleString('en')} rows read, ${backtest.count.toLocaleString('en')} compared ...`);
    },
  );
  const totalSeconds = (performance.now() - started) / 1000;
  const computeSeconds = computeMs / 1000;
  return {
    ...backtest.report(),
    range: { from: r.from.toISOString(), to: r.to.toISOString() },
    undecided,
    computeSeconds,
    computeTxPerSecond: computeSeconds > 0 ? Math.round(backtest.count / computeSeconds) : 0,
    readSeconds: Math.max(0, totalSeconds - computeSeconds),
  };
}

/** What a promotion's check found: the backtest over the latest stored decisions, or why there was none. */
export interface PromotionCheck {
  report: BacktestRun | null;
  /** The flagged segments, as lines (empty: none). */
  flagged: string[];
  /** One line for the person promoting. */
  summary: string;
}

/**
 * Backtests `candidate` over the latest `days` days of stored decisions (ending at the last one
 * stored) before a promotion, so the person promoting sees what it changes and which segments'
 * alert rates move by more than the fairness factor.
 */
export async function promotionCheck(
  pool: Pool,
  candidate: Candidate,
  days: number,
  fairness: FairnessPolicy,
  say: (line: string) => void,
): Promise<PromotionCheck> {
  const stored = await storedRange(pool);
  if (stored === null) return { report: null, flagged: [], summary: 'no stored decisions to check the candidate against' };
  const range = { from: new Date(Math.max(stored.from.getTime(), stored.to.getTime() - days * 86_400_000)), to: stored.to };
  say(
    `check: backtesting the candidate over ${range.from.toISOString()} to ${range.to.toISOString()} (TXMON_PROMOTION_CHECK_DAYS=${days}) ...`,
  );
  const report = await runBacktest(pool, candidate, range, { say, fairness });
  const flagged = flaggedLines(report.segments, fairness);
  const pct = report.transactions === 0 ? 0 : (100 * report.changed) / report.transactions;
  return {
    report,
    flagged,
    summary: `check: ${report.changed.toLocaleString('en')} of ${report.transactions.toLocaleString('en')} decisions would change (${pct.toFixed(2)}%); ${flagged.length === 0 ? 'no segment moves' : `${flagged.length} segment(s) move`} by more than ${fairness.factor}×`,
  };
}
