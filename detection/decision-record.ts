/**
 * What is stored and published for one decided transaction, and how it is made from the rule set,
 * the models and the snapshot. Pure: the processor passes the current rules and models in.
 */
import type { FeatureSource } from '../domain/snapshot.ts';
import { alertId, decide, type Decision, type DecisionKind, type DecisionPolicy, type ModelVerdict } from './decide.ts';
import { evaluateRules, ruleContext, type RuleHit, type RuleSet, type RuleTxField } from './rules.ts';
import type { ModelScorer } from './score.ts';

export interface DecisionRecord {
  transactionId: string;
  accountId: string;
  decision: DecisionKind;
  riskScore: number;
  modelVersion: string | null;
  modelScore: number | null;
  shadowModelVersion: string | null;
  shadowScore: number | null;
  rulesetVersion: string;
  ruleHits: RuleHit[];
  /** The decision's explanation, stored as JSON: the summary, and for alerts the model's verdict with its drivers. */
  explanation: { summary: string; model: Decision['model'] };
  /** Set for REVIEW and BLOCK: deterministic in transaction, model and rule-set versions. */
  alertId: string | null;
  eventTime: number;
  decidedAt: number;
  amountMinor: number;
  currency: string;
}

export interface DecisionInput {
  transactionId: string;
  accountId: string;
  eventTime: number;
  amountMinor: number;
  currency: string;
  /** The feature snapshot (domain/snapshot.ts), read by name. */
  snapshot: FeatureSource;
  tx: Readonly<Record<RuleTxField, unknown>>;
}

export interface Models {
  active: ModelScorer | null;
  shadow: ModelScorer | null;
}

/** Decides one transaction; `errors` counts rules that failed to evaluate. */
export function decideTransaction(
  input: DecisionInput,
  rules: RuleSet,
  models: Models,
  policy: DecisionPolicy,
  decidedAt: number,
  errors?: { count: number },
): DecisionRecord {
  const hits = evaluateRules(rules, ruleContext(input.snapshot, input.tx, rules.lists, rules.reads), input.eventTime, errors);
  const active = models.active;
  let verdict: ModelVerdict | null = null;
  let modelScore: number | null = null;
  if (active !== null) {
    modelScore = active.score(input.snapshot);
    // Drivers are worth their cost only for what an analyst will read.
    const alerting = modelScore >= active.model.threshold || hits.some((h) => !h.snoozed && h.action !== 'ALLOW');
    verdict = active.explain(modelScore, alerting ? 3 : 0);
  }
  const d = decide(hits, verdict, policy);
  const alerting = d.decision !== 'ALLOW';
  return {
    transactionId: input.transactionId,
    accountId: input.accountId,
    decision: d.decision,
    riskScore: d.riskScore,
    modelVersion: active?.model.version ?? null,
    modelScore,
    shadowModelVersion: models.shadow?.model.version ?? null,
    shadowScore: models.shadow === null ? null : models.shadow.score(input.snapshot),
    rulesetVersion: rules.version,
    ruleHits: [...hits],
    // The model's full verdict (drivers, percentiles) where an analyst reads it; score and version
    // are columns of every decision anyway.
    explanation: { summary: d.summary, model: alerting ? d.model : null },
    alertId: alerting ? alertId(input.transactionId, active?.model.version ?? null, rules.version) : null,
    eventTime: input.eventTime,
    decidedAt,
    amountMinor: input.amountMinor,
    currency: input.currency,
  };
}
