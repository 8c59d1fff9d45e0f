/**
 * The backtest's compute alone (issue 19: ≥ 100,000 transactions/s on this machine): stored
 * decisions decided again by a candidate from their stored vectors, as `txmon backtest` does once a
 * page is read from MySQL. The rows are bench/decide.ts's snapshots (the shipped rules, a forest of
 * 100 trees over every feature), stored as the sink stores them (JSON vectors, NaN as null) with the
 * decisions the ingest's own function made; the candidate is the same rules with one account on the
 * block list, so some decisions change.
 *
 *   npm run bench:backtest            (BENCH_BACKTEST_TX, default 200000)
 *
 * Time: the best of 5 passes over every row, each a fresh Backtest (a shared machine).
 */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { Backtest, storedDecisionOf, type BacktestRow } from '../detection/backtest.ts';
import { decideTransaction } from '../detection/decision-record.ts';
import { compileRuleSet } from '../detection/rules.ts';
import { snapshotFeatureNames, vectorSource } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { setup } from './decide.ts';

export const BACKTEST_RESULT_TAG = 'backtest-result ';

export interface BacktestBenchResult {
  transactions: number;
  txPerSecond: number;
  changed: number;
}

/** Builds the stored rows, runs the passes, reports through `say`. */
export function backtestBench(say: (line: string) => void, n = 200_000): BacktestBenchResult {
  say(`bench: backtest: ${n.toLocaleString('en')} stored decisions to build (snapshots, a forest, the shipped rules) ...`);
  const { inputs, rules, models, policy } = setup(n);
  const names = Object.freeze(snapshotFeatureNames(DEFAULT_WINDOWS));
  const rows: BacktestRow[] = inputs.map((input, i) => {
    const rec = decideTransaction(input, rules, models, policy, 0);
    const values = JSON.parse(JSON.stringify(names.map((name) => input.snapshot.get(name)))) as unknown[];
    return {
      ...input,
      snapshot: vectorSource(names, values),
      stored: storedDecisionOf(rec),
      label: i % 10 === 0 ? rec.decision !== 'ALLOW' : null,
    };
  });
  // The candidate: the shipped rules with one busy account on the block list.
  const edit = JSON.parse(readFileSync(new URL('../rules/rules.json', import.meta.url), 'utf8')) as {
    version: string;
    lists: Record<string, string[]>;
  };
  edit.version = 'candidate';
  edit.lists.blocked_accounts = ['acc-7'];
  const candidateRules = compileRuleSet(JSON.stringify(edit), names);
  let best = Infinity;
  let changed = 0;
  for (let pass = 0; pass < 5; pass++) {
    const backtest = new Backtest({ rules: candidateRules, model: models.active, policy });
    const t0 = performance.now();
    for (const r of rows) backtest.add(r);
    const ms = performance.now() - t0;
    changed = backtest.report().changed;
    best = Math.min(best, ms);
  }
  const txPerSecond = Math.round(n / (best / 1000));
  say(
    `  backtest compute: ${n.toLocaleString('en')} stored decisions in ${best.toFixed(0)} ms (best of 5): ${txPerSecond.toLocaleString('en')} tx/s; ${changed.toLocaleString('en')} changed by the candidate`,
  );
  return { transactions: n, txPerSecond, changed };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const result = backtestBench((line) => console.log(line), Number(process.env.BENCH_BACKTEST_TX ?? 200_000));
  if (process.argv.includes('--json')) console.log(`${BACKTEST_RESULT_TAG}${JSON.stringify(result)}`);
}
