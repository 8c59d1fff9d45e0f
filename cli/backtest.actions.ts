/** `txmon backtest`: the candidate built from the options, the run, the report and the changed transactions. */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import { formatBacktest, type Candidate, type ChangedDecision } from '../detection/backtest.ts';
import { runBacktest } from '../models/backtest.ts';
import { candidateModel, candidateRules, checkPromotion, fairnessOf, strictRefusal } from '../models/candidate.ts';
import { rangeOption } from '../models/history.ts';
import { InputError } from '../platform/errors.ts';
import { createPool, type Pool } from '../platform/mysql.ts';
import { csvField } from './recon.actions.ts';

export interface BacktestCliOptions {
  rules?: string;
  model?: string;
  threshold?: number;
  blockScore?: number | 'none';
  from?: string;
  to?: string;
  changedCsv?: string;
  json?: boolean;
}

const CSV_HEADER = 'transaction_id,event_time,account_id,stored,candidate,risk_before,risk_after,rules\n';

/** One changed transaction as a CSV line. */
export function changedCsvLine(c: ChangedDecision): string {
  return `${[
    c.transactionId,
    new Date(c.eventTime).toISOString(),
    c.accountId,
    c.from,
    c.to,
    String(c.riskBefore),
    String(c.riskAfter),
    c.rules.join(';'),
  ]
    .map(csvField)
    .join(',')}\n`;
}

/**
 * Before a promotion (unless `check` is false): models/candidate.ts checkPromotion, its flagged
 * segments printed as warnings and, with `strict`, the promotion refused (nothing changes).
 */
export async function checkBeforePromotion(
  pool: Pool,
  cfg: TxmonConfig,
  promoting: { rules?: string; model?: string },
  o: { strict?: boolean; check?: boolean },
  say: (line: string) => void,
): Promise<void> {
  if (o.check === false) return;
  const check = await checkPromotion(pool, cfg, promoting, say);
  say(check.summary);
  for (const line of check.flagged) say(`  WARNING: ${line}`);
  if (o.strict && check.flagged.length > 0) throw strictRefusal(check, '--strict');
}

/** `txmon backtest`. */
export async function backtestCommand(cfg: TxmonConfig, o: BacktestCliOptions, say: (line: string) => void): Promise<void> {
  const range = rangeOption(o.from, o.to);
  if (o.json && o.changedCsv === '-')
    throw new InputError('--json and --changed-csv - both write to stdout: give --changed-csv a file');
  const pool = createPool(cfg);
  let csv: WriteStream | null = null;
  try {
    const { set: rules, source } = await candidateRules(pool, cfg, o.rules);
    const candidate: Candidate = {
      rules,
      model: await candidateModel(pool, o.model, o.threshold),
      policy: {
        blockScore: o.blockScore === undefined ? cfg.detection.blockScore : o.blockScore === 'none' ? null : o.blockScore,
      },
    };
    say(
      `backtest: rules ${rules.version} (${source}), model ${candidate.model?.model.version ?? 'none'}: reading the stored decisions ...`,
    );
    const out =
      o.changedCsv === undefined ? null : o.changedCsv === '-' ? process.stdout : (csv = createWriteStream(o.changedCsv));
    out?.write(CSV_HEADER);
    const report = await runBacktest(pool, candidate, range, {
      fairness: fairnessOf(cfg),
      say,
      ...(out !== null && { onChanged: (c: ChangedDecision) => out.write(changedCsvLine(c)) }),
    });
    if (csv !== null) {
      const file = csv;
      await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
      csv = null;
      say(`backtest: ${report.changed.toLocaleString('en')} changed transaction(s) written to ${o.changedCsv}`);
    }
    say(
      `backtest: ${report.transactions.toLocaleString('en')} decided again in ${report.computeSeconds.toFixed(2)} s (${report.computeTxPerSecond.toLocaleString('en')} tx/s of compute), read from MySQL in ${report.readSeconds.toFixed(2)} s${report.undecided > 0 ? `; ${report.undecided.toLocaleString('en')} rows without a stored decision left out` : ''}`,
    );
    if (o.json) process.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      const text = `range ${report.range.from} to ${report.range.to}\n${formatBacktest(report)}`;
      // With the CSV on stdout, the report goes to the terminal.
      if (o.changedCsv === '-') process.stderr.write(text);
      else process.stdout.write(text);
    }
  } finally {
    csv?.destroy();
    await pool.end();
  }
}
