/** `txmon backtest`: the candidate built from the options, the run, the report and the changed transactions. */
import { createWriteStream, existsSync, type WriteStream } from 'node:fs';
import type { TxmonConfig } from '../config/config.ts';
import { formatBacktest, type Candidate, type ChangedDecision } from '../detection/backtest.ts';
import type { RuleSet } from '../detection/rules.ts';
import type { FairnessPolicy } from '../detection/segments.ts';
import { FeatureSpace } from '../detection/features.ts';
import { ModelScorer } from '../detection/score.ts';
import { promotionCheck, runBacktest } from '../models/backtest.ts';
import { rangeOption } from '../models/history.ts';
import { listModels, loadModel } from '../models/model-registry.ts';
import { compileForRegistry, loadRuleSetText, readRuleFile, rulesInForce } from '../models/rule-set-registry.ts';
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

/** The candidate's model: the named version, else the active one, else none; 'none': rules alone. */
export async function candidateModel(
  pool: Pool,
  version: string | undefined,
  threshold: number | undefined,
): Promise<ModelScorer | null> {
  if (version === 'none') {
    if (threshold !== undefined) throw new InputError('--threshold needs a model: not with --model none');
    return null;
  }
  const pick = version ?? (await listModels(pool)).find((m) => m.state === 'active')?.version;
  if (pick === undefined) {
    if (threshold !== undefined) throw new InputError('--threshold needs a model, and no model is active: name one with --model');
    return null;
  }
  const model = await loadModel(pool, pick);
  return new ModelScorer(threshold === undefined ? model : { ...model, threshold });
}

/**
 * The candidate's rules: a file, else a published version; by default the rules in force (the
 * registry's active rule set, else TXMON_RULES_FILE).
 */
export async function candidateRules(
  pool: Pool,
  cfg: TxmonConfig,
  given: string | undefined,
): Promise<{ set: RuleSet; source: string }> {
  const names = FeatureSpace.available(cfg.state.windows);
  if (given === undefined) return rulesInForce(pool, cfg.detection.rulesFile, names);
  if (existsSync(given)) return { set: readRuleFile(given, names), source: given };
  if (!/^[^/\\]+@[0-9a-f]{12}$/.test(given))
    throw new InputError(
      `--rules ${given}: no such file, nor a published rule-set version (<version>@<12 hex digits>: txmon rules list)`,
    );
  const stored = await loadRuleSetText(pool, given);
  return { set: compileForRegistry(stored.text, names, `rule set ${given}`), source: `the registry (${stored.state})` };
}

/** The fairness policy the configuration sets (TXMON_FAIRNESS_FACTOR, TXMON_FAIRNESS_MIN_ALERTS). */
export function fairnessOf(cfg: TxmonConfig): FairnessPolicy {
  return { factor: cfg.detection.fairnessFactor, minAlerts: cfg.detection.fairnessMinAlerts };
}

/**
 * Before a promotion (unless `check` is false): the rule set or model being promoted, with the rest
 * of what is in force, backtested over the latest stored decisions; flagged segments are printed as
 * warnings and, with `strict`, refuse the promotion (nothing changes).
 */
export async function checkBeforePromotion(
  pool: Pool,
  cfg: TxmonConfig,
  promoting: { rules?: string; model?: string },
  o: { strict?: boolean; check?: boolean },
  say: (line: string) => void,
): Promise<void> {
  if (o.check === false) return;
  const candidate: Candidate = {
    rules: (await candidateRules(pool, cfg, promoting.rules)).set,
    model: await candidateModel(pool, promoting.model, undefined),
    policy: { blockScore: cfg.detection.blockScore },
  };
  const strict = Boolean(o.strict);
  const fairness = fairnessOf(cfg);
  const check = await promotionCheck(pool, candidate, cfg.detection.promotionCheckDays, fairness, say);
  say(check.summary);
  for (const line of check.flagged) say(`  WARNING: ${line}`);
  if (strict && check.flagged.length > 0)
    throw new InputError(
      `promotion refused (--strict): ${check.flagged.length} segment(s) move by more than ${fairness.factor}× (txmon backtest shows the detail); nothing changed`,
    );
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
