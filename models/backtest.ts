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
  o: { onChanged?: (c: ChangedDecision) => void; say: (line: string) => void },
): Promise<BacktestRun> {
  const stored = await storedRange(pool);
  if (stored === null) throw new InputError('no transactions with feature snapshots in MySQL: run the ingest first');
  const r = range ?? stored;
  const backtest = new Backtest(candidate, o.onChanged);
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
