/**
 * Decision = ALLOW / REVIEW / BLOCK from rule hits and the model's score, with a risk score and an
 * explanation an analyst can read. Pure.
 *
 * Precedence: a BLOCK rule blocks; else an ALLOW rule (allow list) allows; else a model score at or
 * above the block score (when one is configured) blocks; else a REVIEW rule, or evidence of 0.5 or
 * more (the model at its threshold, or below it with SCORE rules adding weight), sends to review.
 * Snoozed rules are recorded and decide nothing.
 */
import { createHash } from 'node:crypto';
import type { RuleHit, Severity } from './rules.ts';

export type DecisionKind = 'ALLOW' | 'REVIEW' | 'BLOCK';

export interface ModelVerdict {
  readonly version: string;
  readonly score: number;
  /** The model's alert threshold (chosen from a target alert rate at training). */
  readonly threshold: number;
  /** Share of the training scores at or below this score, in [0, 1]. */
  readonly percentile: number;
  /** The same share for the threshold (about 1 − the training alert rate). */
  readonly thresholdPercentile: number;
  /** Features that drove the score, most first. */
  readonly drivers: ReadonlyArray<{ name: string; value: number | null; share: number; percentile: number | null }>;
}

export interface DecisionPolicy {
  /** Model score at or above which the model alone blocks; null: the model alone only reviews. */
  readonly blockScore: number | null;
}

export interface Decision {
  readonly decision: DecisionKind;
  /**
   * In [0, 1]: the evidence, the model's risk and each live rule hit's severity weight combined as
   * noisy-OR (0.5 is the model at its threshold; a critical rule hit is 1).
   */
  readonly riskScore: number;
  readonly hits: readonly RuleHit[];
  readonly model: ModelVerdict | null;
  /** One line for analysts: why this decision. */
  readonly summary: string;
}

/** How much one rule hit of each severity weighs as evidence, in [0, 1]. */
const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = { low: 0.05, medium: 0.25, high: 0.6, critical: 1 };

/**
 * The model's verdict on the risk scale, from its tail: the share of training scores at or above the
 * score (t), against the threshold's (t₀, about the training alert rate). At or above the threshold
 * 1 − 0.5 · t / t₀ (0.5 at the threshold, 1 past every training score); below it 0.5 · t₀ / t. A
 * typical transaction (t ≈ 0.5 against t₀ = 0.01) weighs about 0.01, one just under the threshold
 * almost 0.5 (weak rule evidence tips only the latter over), and the rarest scores outrank a single
 * high-severity rule hit.
 */
export function modelRisk(v: Pick<ModelVerdict, 'score' | 'threshold' | 'percentile' | 'thresholdPercentile'>): number {
  return modelRiskOf(v.score, v.threshold, v.percentile, v.thresholdPercentile);
}

/** modelRisk from its four numbers (no verdict object: the ingest computes it for every transaction). */
export function modelRiskOf(score: number, threshold: number, percentile: number, thresholdPercentile: number): number {
  if (!Number.isFinite(score)) return 0;
  const tail = Math.max(1 - percentile, 0);
  const thresholdTail = Math.max(1 - thresholdPercentile, 1e-9);
  if (score >= threshold) return 1 - 0.5 * Math.min(1, tail / thresholdTail);
  return 0.5 * Math.min(1, thresholdTail / Math.max(tail, 1e-9));
}

/**
 * The evidence: the model's risk `m` and every live rule hit's severity weight, combined as
 * independent signals (noisy-OR). 0.5 is the model's threshold alone; a SCORE rule can tip a score
 * below it over.
 */
export function evidenceOf(hits: readonly RuleHit[], m: number): number {
  let keep = 1 - m;
  for (const h of hits) if (!h.snoozed && h.action !== 'ALLOW') keep *= 1 - SEVERITY_WEIGHT[h.severity];
  return 1 - keep;
}

/** The decision by the precedence above; `modelBlock`: the model's score reached the policy's block score. */
export function decisionKind(hits: readonly RuleHit[], evidence: number, modelBlock: boolean): DecisionKind {
  let block = false;
  let allow = false;
  let review = false;
  for (const h of hits) {
    if (h.snoozed) continue;
    if (h.action === 'BLOCK') block = true;
    else if (h.action === 'ALLOW') allow = true;
    else if (h.action === 'REVIEW') review = true;
  }
  if (block) return 'BLOCK';
  if (allow) return 'ALLOW';
  if (modelBlock) return 'BLOCK';
  if (evidence >= 0.5 || review) return 'REVIEW';
  return 'ALLOW';
}

/**
 * The risk score of an evidence. The risk is the evidence, whatever decided: a review required by a
 * weak policy rule shows a low risk, a strong model score under an allow list a high one, and alerts
 * rank by what backs them.
 */
export function riskScoreOf(evidence: number): number {
  return round(evidence, 6);
}

/** Decides one transaction. */
export function decide(hits: readonly RuleHit[], model: ModelVerdict | null, policy: DecisionPolicy): Decision {
  const evidence = evidenceOf(hits, model === null ? 0 : modelRisk(model));
  const modelBlock = model !== null && policy.blockScore !== null && model.score >= policy.blockScore;
  const decision = decisionKind(hits, evidence, modelBlock);
  return { decision, riskScore: riskScoreOf(evidence), hits, model, summary: summaryOf(decision, hits, model) };
}

/** The one line for analysts of a decision (decide's `summary`). */
export function summaryOf(decision: DecisionKind, hits: readonly RuleHit[], model: ModelVerdict | null): string {
  const modelAlert = model !== null && model.score >= model.threshold;
  const parts: string[] = [];
  const deciding = hits.filter((h) => !h.snoozed && (h.action === 'ALLOW') === (decision === 'ALLOW'));
  if (deciding.length > 0) parts.push(`rules: ${deciding.map((h) => `${h.ruleId} (${h.severity}): ${h.detail}`).join('; ')}`);
  if (model !== null) {
    const drivers = model.drivers
      .slice(0, 3)
      .map(
        (d) =>
          `${d.name}=${d.value === null ? 'n/a' : round(d.value)}${d.percentile === null ? '' : ` (p${round(d.percentile * 100)})`}`,
      )
      .join(', ');
    parts.push(
      `model ${model.version}: score ${round(model.score)} ${modelAlert ? '>=' : '<'} threshold ${round(model.threshold)} (above ${round(model.percentile * 100)}% of training)${drivers ? `; driven by ${drivers}` : ''}`,
    );
  }
  const snoozed = hits.filter((h) => h.snoozed);
  if (snoozed.length > 0) parts.push(`snoozed: ${snoozed.map((h) => h.ruleId).join(', ')}`);
  return `${decision}: ${parts.join(' | ') || 'no rule hit, no model'}`;
}

function round(x: number, digits = 3): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/**
 * The alert id: the same transaction decided by the same model and rule-set versions always gets
 * the same id, so consumers can drop repeats by id.
 */
export function alertId(transactionId: string, modelVersion: string | null, ruleSetVersion: string): string {
  return createHash('sha256')
    .update(`${transactionId}\u0000${modelVersion ?? ''}\u0000${ruleSetVersion}`)
    .digest('hex')
    .slice(0, 32);
}
