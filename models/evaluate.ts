/**
 * `txmon model evaluate`: rules alone, the model alone, and both together (the decision txmon
 * makes) on the labelled transactions in MySQL: ROC AUC, PR AUC, precision and recall of the
 * alerts, alert rate.
 */
import { decide, type DecisionPolicy } from '../detection/decide.ts';
import { atThreshold, averagePrecision, rocAuc } from '../detection/metrics.ts';
import { evaluateRules, ruleContext, type RuleSet } from '../detection/rules.ts';
import { ModelScorer, type ServingModel } from '../detection/score.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { readHistory, storedRange, type HistoryRange } from './history.ts';

export interface EvaluationRow {
  name: 'rules' | 'model' | 'combined';
  rocAuc: number;
  prAuc: number;
  precision: number;
  recall: number;
  alertRate: number;
  alerts: number;
}

export interface EvaluationReport {
  modelVersion: string;
  ruleSetVersion: string;
  range: HistoryRange;
  labelledRows: number;
  positives: number;
  rows: EvaluationRow[];
}

function row(name: EvaluationRow['name'], scores: number[], flagged: boolean[], labels: boolean[]): EvaluationRow {
  // Alerts are what was flagged: threshold the flags (1/0) at 1.
  const at = atThreshold(
    flagged.map((f) => (f ? 1 : 0)),
    labels,
    1,
  );
  return {
    name,
    rocAuc: rocAuc(scores, labels),
    prAuc: averagePrecision(scores, labels),
    precision: at.precision,
    recall: at.recall,
    alertRate: at.alertRate,
    alerts: at.flagged,
  };
}

/** Evaluates on every labelled transaction with a snapshot in the range (default: all). */
export async function evaluateDetection(
  pool: Pool,
  model: ServingModel,
  rules: RuleSet,
  policy: DecisionPolicy,
  range: HistoryRange | undefined,
  say: (line: string) => void,
): Promise<EvaluationReport> {
  const stored = await storedRange(pool);
  if (stored === null) throw new InputError('no transactions with feature snapshots in MySQL: run the ingest first');
  const r = range ?? stored;
  const scorer = new ModelScorer(model);
  const labels: boolean[] = [];
  const ruleScore: number[] = [];
  const ruleFlag: boolean[] = [];
  const modelScore: number[] = [];
  const modelFlag: boolean[] = [];
  const combinedScore: number[] = [];
  const combinedFlag: boolean[] = [];
  say(`model evaluate: ${model.version} with rules ${rules.version} ...`);
  await readHistory(pool, r, (h) => {
    if (h.label === null) return;
    labels.push(h.label);
    const snapshot = h.snapshot;
    const hits = evaluateRules(rules, ruleContext(snapshot, h.tx, rules.lists, rules.reads), h.eventTime);
    const byRules = decide(hits, null, policy);
    ruleScore.push(byRules.riskScore);
    ruleFlag.push(byRules.decision !== 'ALLOW');
    const verdict = scorer.verdict(snapshot, 0);
    modelScore.push(verdict.score);
    modelFlag.push(verdict.score >= verdict.threshold);
    const both = decide(hits, verdict, policy);
    combinedScore.push(both.riskScore);
    combinedFlag.push(both.decision !== 'ALLOW');
  });
  const positives = labels.filter(Boolean).length;
  if (positives === 0 || positives === labels.length)
    throw new InputError(
      `${labels.length} labelled transactions, ${positives} of them fraud: evaluation needs both (txmon labels load <ground-truth.jsonl>)`,
    );
  return {
    modelVersion: model.version,
    ruleSetVersion: rules.version,
    range: r,
    labelledRows: labels.length,
    positives,
    rows: [
      row('rules', ruleScore, ruleFlag, labels),
      row('model', modelScore, modelFlag, labels),
      row('combined', combinedScore, combinedFlag, labels),
    ],
  };
}

/** The report as a table. */
export function formatEvaluation(e: EvaluationReport): string {
  const f = (x: number) => (Number.isNaN(x) ? '   n/a' : x.toFixed(4));
  const lines = [
    `evaluation on ${e.labelledRows.toLocaleString('en')} labelled transactions (${e.positives.toLocaleString('en')} fraud), model ${e.modelVersion}, rules ${e.ruleSetVersion}`,
    '  detector   ROC AUC   PR AUC  precision  recall  alert rate   alerts',
    ...e.rows.map(
      (r) =>
        `  ${r.name.padEnd(9)} ${f(r.rocAuc).padStart(8)} ${f(r.prAuc).padStart(8)} ${f(r.precision).padStart(10)} ${f(r.recall).padStart(7)} ${(100 * r.alertRate).toFixed(2).padStart(9)}% ${r.alerts.toLocaleString('en').padStart(8)}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}
