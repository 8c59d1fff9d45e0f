import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { alertId, type DecisionKind, type DecisionPolicy, type ModelVerdict } from './decide.ts';
import { inputOf, model, ruleSets, transaction } from './decision.fixture.ts';
import {
  UNSTORED_EXPLANATION,
  decideTransaction,
  type DecisionInput,
  type DecisionRecord,
  type Models,
} from './decision-record.ts';
import { evaluateRules, ruleContext, type RuleHit, type RuleSet, type Severity } from './rules.ts';
import { ModelScorer } from './score.ts';

// The decision stage as it was before it built summaries and verdicts for alerts only and reused
// one rule context per rule set (commit 5da9130): the reference the new path must agree with.
const SEVERITY_WEIGHT: Readonly<Record<Severity, number>> = { low: 0.05, medium: 0.25, high: 0.6, critical: 1 };

function referenceModelRisk(v: ModelVerdict): number {
  if (!Number.isFinite(v.score)) return 0;
  const tail = Math.max(1 - v.percentile, 0);
  const thresholdTail = Math.max(1 - v.thresholdPercentile, 1e-9);
  if (v.score >= v.threshold) return 1 - 0.5 * Math.min(1, tail / thresholdTail);
  return 0.5 * Math.min(1, thresholdTail / Math.max(tail, 1e-9));
}

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

function referenceDecide(hits: readonly RuleHit[], model: ModelVerdict | null, policy: DecisionPolicy) {
  const live = hits.filter((h) => !h.snoozed);
  const m = model === null ? 0 : referenceModelRisk(model);
  let keep = 1 - m;
  for (const h of live) if (h.action !== 'ALLOW') keep *= 1 - SEVERITY_WEIGHT[h.severity];
  const evidence = 1 - keep;
  const modelBlock = model !== null && policy.blockScore !== null && model.score >= policy.blockScore;
  let decision: DecisionKind;
  if (live.some((h) => h.action === 'BLOCK')) decision = 'BLOCK';
  else if (live.some((h) => h.action === 'ALLOW')) decision = 'ALLOW';
  else if (modelBlock) decision = 'BLOCK';
  else if (evidence >= 0.5 || live.some((h) => h.action === 'REVIEW')) decision = 'REVIEW';
  else decision = 'ALLOW';
  const modelAlert = model !== null && model.score >= model.threshold;
  const parts: string[] = [];
  const deciding = live.filter((h) => (h.action === 'ALLOW') === (decision === 'ALLOW'));
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
  return {
    decision,
    riskScore: round(evidence, 6),
    model,
    summary: `${decision}: ${parts.join(' | ') || 'no rule hit, no model'}`,
  };
}

function referenceDecideTransaction(
  input: DecisionInput,
  rules: RuleSet,
  models: Models,
  policy: DecisionPolicy,
  errors: { count: number },
): DecisionRecord {
  const hits = evaluateRules(rules, ruleContext(input.snapshot, input.tx, rules.lists, rules.reads), input.eventTime, errors);
  const active = models.active;
  let verdict: ModelVerdict | null = null;
  let modelScore: number | null = null;
  if (active !== null) {
    modelScore = active.score(input.snapshot);
    const alerting = modelScore >= active.model.threshold || hits.some((h) => !h.snoozed && h.action !== 'ALLOW');
    verdict = active.explain(modelScore, alerting ? 3 : 0);
  }
  const d = referenceDecide(hits, verdict, policy);
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
    shadowRules: null,
    rollout: null,
    ruleHits: [...hits],
    explanation: { summary: d.summary, model: alerting ? d.model : null },
    alertId: alerting ? alertId(input.transactionId, active?.model.version ?? null, rules.version) : null,
    eventTime: input.eventTime,
    decidedAt: 0,
    amountMinor: input.amountMinor,
    currency: input.currency,
  };
}

describe('decideTransaction', () => {
  const sets = ruleSets();
  const active = new ModelScorer(model('m-active', 1));
  const shadow = new ModelScorer(model('m-shadow', 2));
  const modelChoices: Models[] = [
    { active, shadow: null },
    { active, shadow },
    { active: null, shadow: null },
  ];
  // A block score below the threshold makes alerts that the drivers rule of the old path left bare.
  const blockScores = [null, active.model.threshold, active.model.threshold * 0.95];

  it('decides, scores and explains every alert as the reference did; an ALLOW reads as MySQL gives it back', () => {
    const seen = new Set<string>();
    fc.assert(
      fc.property(
        fc.array(transaction, { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 0, max: sets.length - 1 }),
        fc.integer({ min: 0, max: modelChoices.length - 1 }),
        fc.constantFrom(...blockScores),
        (txs, s, m, blockScore) => {
          const rules = sets[s] as RuleSet;
          const models = modelChoices[m] as Models;
          const policy = { blockScore };
          // Several transactions in a row: the reused context must carry nothing from one to the next.
          txs.forEach((t, i) => {
            const input = inputOf(t, i);
            const expectedErrors = { count: 0 };
            const expected = referenceDecideTransaction(input, rules, models, policy, expectedErrors);
            const errors = { count: 0 };
            const actual = decideTransaction(input, rules, models, policy, 0, errors);
            expect(errors).toEqual(expectedErrors);
            const { explanation, ...rest } = actual;
            const { explanation: expectedExplanation, ...expectedRest } = expected;
            expect(rest).toEqual(expectedRest);
            if (actual.decision === 'ALLOW') expect(explanation).toEqual(UNSTORED_EXPLANATION('ALLOW'));
            else expect(explanation).toEqual(expectedExplanation);
            // Read in place (by slot) and by name, the same snapshot decides the same.
            expect(decideTransaction(inputOf({ ...t, inPlace: !t.inPlace }, i), rules, models, policy, 0)).toEqual(actual);
            seen.add(actual.decision);
            if (actual.ruleHits.some((h) => h.snoozed)) seen.add('snoozed');
            if (actual.decision !== 'ALLOW' && (actual.explanation.model?.drivers.length ?? 0) > 0) seen.add('drivers');
            if (actual.ruleHits.some((h) => h.action === 'ALLOW')) seen.add('allow-rule');
          });
        },
      ),
      { numRuns: 300 },
    );
    // The runs reached every branch the comparison is about.
    expect([...seen].sort()).toEqual(['ALLOW', 'BLOCK', 'REVIEW', 'allow-rule', 'drivers', 'snoozed']);
  });

  it('decides with a shadow rule set as that rule set would live, acting on nothing', () => {
    fc.assert(
      fc.property(
        fc.array(transaction, { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 0, max: modelChoices.length - 1 }),
        fc.constantFrom(...blockScores),
        fc.boolean(),
        (txs, m, blockScore, swap) => {
          const [live, shadowSet] = (swap ? [sets[1], sets[0]] : [sets[0], sets[1]]) as [RuleSet, RuleSet];
          const models = modelChoices[m] as Models;
          txs.forEach((t, i) => {
            const input = inputOf(t, i);
            const withShadow = decideTransaction(input, live, models, { blockScore }, 0, undefined, shadowSet);
            const alone = decideTransaction(input, live, models, { blockScore }, 0);
            const asLive = decideTransaction(input, shadowSet, models, { blockScore }, 0);
            // The live decision is untouched; the shadow's is what it would decide live.
            expect({ ...withShadow, shadowRules: null }).toEqual(alone);
            expect(alone.shadowRules).toBeNull();
            expect(withShadow.shadowRules).toEqual({ version: shadowSet.version, decision: asLive.decision });
          });
        },
      ),
      { numRuns: 200 },
    );
  });

  it('gives every ALLOW the same frozen explanation, and each alert its own', () => {
    const rules = sets[0] as RuleSet;
    const samples = fc.sample(transaction, { numRuns: 200, seed: 3 });
    const records = samples.map((t, i) =>
      decideTransaction(inputOf(t, i), rules, { active, shadow: null }, { blockScore: null }, 0),
    );
    const allows = records.filter((r) => r.decision === 'ALLOW');
    const alerts = records.filter((r) => r.decision !== 'ALLOW');
    expect(allows.length).toBeGreaterThan(0);
    expect(alerts.length).toBeGreaterThan(0);
    expect(new Set(allows.map((r) => r.explanation)).size).toBe(1);
    expect(Object.isFrozen(allows[0]?.explanation)).toBe(true);
    expect(new Set(alerts.map((r) => r.explanation)).size).toBe(alerts.length);
  });
});
