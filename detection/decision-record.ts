/**
 * What is stored and published for one decided transaction, and how it is made from the rule set,
 * the models and the snapshot. Pure: the processor passes the current rules and models in.
 */
import type { FeatureSource } from '../domain/snapshot.ts';
import {
  alertId,
  decisionKind,
  evidenceOf,
  riskScoreOf,
  summaryOf,
  type Decision,
  type DecisionKind,
  type DecisionPolicy,
  type ModelVerdict,
} from './decide.ts';
import { evaluateTransaction, type RuleHit, type RuleSet, type RuleTxField } from './rules.ts';
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
  /**
   * What the shadow rule set (migration 014) would have decided, with the same model verdict: set
   * when one is in shadow, never acted on; null otherwise, and for a decision read back from MySQL.
   */
  shadowRules: { version: string; decision: DecisionKind } | null;
  /** The arm of the running staged rollout that decided it (models/rollout.ts); null without one, and when read back. */
  rollout: { id: number; arm: 'canary' | 'control' } | null;
  ruleHits: RuleHit[];
  /**
   * The decision's explanation, stored as JSON for alerts: the summary and the model's verdict with
   * its drivers. An ALLOW's is UNSTORED_EXPLANATION, what reading it back from MySQL gives.
   */
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

/**
 * What an ALLOW's explanation reads as (the `decisions` view says the same): an ALLOW's rule hits
 * and explanation are not stored, since nobody reads them, and a row per transaction stays small.
 */
export const UNSTORED_EXPLANATION = (decision: string): DecisionRecord['explanation'] => ({
  summary: `${decision}: explanations are kept for alerts only`,
  model: null,
});

/** One for every ALLOW: frozen, since records share it. */
const ALLOW_EXPLANATION: DecisionRecord['explanation'] = Object.freeze(UNSTORED_EXPLANATION('ALLOW'));

/**
 * Decides one transaction; `errors` counts rules that failed to evaluate; `shadowRules`, the rule
 * set in shadow, decides beside the live one with the same model verdict (DecisionRecord.shadowRules). The summary and the
 * model's verdict (drivers, percentiles) are built for alerts only, the only decisions that store
 * or publish them: an ALLOW, ~97 % of transactions, gets UNSTORED_EXPLANATION, as MySQL would give
 * it back, and costs rules, a score and a percentile.
 */
export function decideTransaction(
  input: DecisionInput,
  rules: RuleSet,
  models: Models,
  policy: DecisionPolicy,
  decidedAt: number,
  errors?: { count: number },
  shadowRules: RuleSet | null = null,
): DecisionRecord {
  const hits = evaluateTransaction(rules, input.snapshot, input.tx, input.eventTime, errors);
  const active = models.active;
  let modelScore: number | null = null;
  let m = 0;
  let modelBlock = false;
  if (active !== null) {
    modelScore = active.score(input.snapshot);
    m = active.risk(modelScore);
    modelBlock = policy.blockScore !== null && modelScore >= policy.blockScore;
  }
  const evidence = evidenceOf(hits, m);
  const decision = decisionKind(hits, evidence, modelBlock);
  let shadow: DecisionRecord['shadowRules'] = null;
  if (shadowRules !== null) {
    const shadowHits = evaluateTransaction(shadowRules, input.snapshot, input.tx, input.eventTime, errors);
    shadow = { version: shadowRules.version, decision: decisionKind(shadowHits, evidenceOf(shadowHits, m), modelBlock) };
  }
  let explanation = ALLOW_EXPLANATION;
  let alert: string | null = null;
  if (decision !== 'ALLOW') {
    let verdict: ModelVerdict | null = null;
    if (active !== null && modelScore !== null) {
      // Drivers where the model or a rule alerts by itself; an alert made by the evidence of a score
      // below the threshold, or by a block score below it, has always been stored without them.
      const drivers = modelScore >= active.model.threshold || hits.some((h) => !h.snoozed && h.action !== 'ALLOW');
      verdict = active.explain(modelScore, drivers ? 3 : 0);
    }
    explanation = { summary: summaryOf(decision, hits, verdict), model: verdict };
    alert = alertId(input.transactionId, active?.model.version ?? null, rules.version);
  }
  return {
    transactionId: input.transactionId,
    accountId: input.accountId,
    decision,
    riskScore: riskScoreOf(evidence),
    modelVersion: active?.model.version ?? null,
    modelScore,
    shadowModelVersion: models.shadow?.model.version ?? null,
    shadowScore: models.shadow === null ? null : models.shadow.score(input.snapshot),
    rulesetVersion: rules.version,
    shadowRules: shadow,
    rollout: null,
    // evaluateTransaction's own array: nothing else holds it.
    ruleHits: hits,
    explanation,
    alertId: alert,
    eventTime: input.eventTime,
    decidedAt,
    amountMinor: input.amountMinor,
    currency: input.currency,
  };
}
