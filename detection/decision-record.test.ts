import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StaticFeatures } from '../domain/enrich.ts';
import type { EntityFeatures } from '../domain/entity-features.ts';
import { SnapshotLayout, objectSource, snapshotObject, type EntityFeatureSet, type FeatureSource } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { distributionOf } from './baseline.ts';
import { alertId, type DecisionKind, type DecisionPolicy, type ModelVerdict } from './decide.ts';
import {
  UNSTORED_EXPLANATION,
  decideTransaction,
  type DecisionInput,
  type DecisionRecord,
  type Models,
} from './decision-record.ts';
import { FeatureSpace } from './features.ts';
import { scoreMatrix, trainForest } from './isolation-forest.ts';
import { thresholdForRate } from './metrics.ts';
import { compileRuleSet, evaluateRules, ruleContext, type RuleHit, type RuleSet, type Severity } from './rules.ts';
import { ModelScorer, type ServingModel } from './score.ts';

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
    ruleHits: [...hits],
    explanation: { summary: d.summary, model: alerting ? d.model : null },
    alertId: alerting ? alertId(input.transactionId, active?.model.version ?? null, rules.version) : null,
    eventTime: input.eventTime,
    decidedAt: 0,
    amountMinor: input.amountMinor,
    currency: input.currency,
  };
}

const layout = new SnapshotLayout(DEFAULT_WINDOWS);
const windowCount = DEFAULT_WINDOWS.length;

// Values around the shipped rules' thresholds, so every rule holds for some snapshots and not others.
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 8 });
const tier = maybe(fc.constantFrom('LOW' as const, 'MEDIUM' as const, 'HIGH' as const));
const staticFeatures: fc.Arbitrary<StaticFeatures> = fc.record({
  amount_base_minor: maybe(fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 800_000 }))),
  account_age_days: maybe(fc.integer({ min: 0, max: 3_000 })),
  account_risk_tier: tier,
  home_country_mismatch: maybe(fc.boolean()),
  ip_country_mismatch: maybe(fc.boolean()),
  merchant_risk_tier: tier,
  bin_country_mismatch: maybe(fc.boolean()),
  hour_of_day: fc.integer({ min: 0, max: 23 }),
});
const entity: fc.Arbitrary<EntityFeatures | null> = maybe(
  fc.record({
    windows: fc.array(
      fc.record({
        count: fc.integer({ min: 0, max: 10 }),
        sumMinor: fc.integer({ min: 0, max: 20_000 }),
        distinctMerchants: fc.integer({ min: 0, max: 5 }),
        distinctCountries: fc.integer({ min: 0, max: 7 }),
      }),
      { minLength: windowCount, maxLength: windowCount },
    ),
    amountN: fc.integer({ min: 0, max: 5 }),
    amountMean: fc.double({ min: 0, max: 20_000, noNaN: true }),
    amountStd: fc.double({ min: 0, max: 5_000, noNaN: true }),
    sincePrevMs: maybe(fc.integer({ min: -1_000, max: 86_400_000 })),
    travelKm: maybe(fc.double({ min: 0, max: 3_000, noNaN: true })),
    travelKmh: maybe(fc.double({ min: 0, max: 3_000, noNaN: true })),
  }),
);
const featureSet: fc.Arbitrary<EntityFeatureSet> = fc.record({ account: entity, card: entity, merchant: entity, device: entity });
const transaction = fc.record({
  st: staticFeatures,
  features: featureSet,
  account: fc.constantFrom('acc-1', 'acc-2', 'acc-3', 'acc-4'),
  merchant: fc.constantFrom('m-1', 'm-2', 'm-3'),
  mcc: fc.constantFrom('5411', '7995', '5967'),
  device: fc.option(fc.constantFrom('dev-1', 'dev-2'), { nil: null }),
  // By name (a replay's stored snapshot) or read in place (the ingest's).
  inPlace: fc.boolean(),
});

type Transaction = typeof transaction extends fc.Arbitrary<infer T> ? T : never;

function inputOf(t: Transaction, i: number): DecisionInput {
  const snapshot: FeatureSource = t.inPlace
    ? layout.source(t.st, t.features)
    : objectSource(snapshotObject(t.st, t.features, DEFAULT_WINDOWS));
  return {
    transactionId: `tx-${i}`,
    accountId: t.account,
    eventTime: 1_780_000_000_000 + i,
    amountMinor: 1_000,
    currency: 'EUR',
    snapshot,
    tx: {
      amount_minor: 1_000,
      currency: 'EUR',
      mcc: t.mcc,
      channel: 'ECOMMERCE',
      type: 'PURCHASE',
      account_id: t.account,
      merchant_id: t.merchant,
      merchant_country: 'DE',
      ip_country: null,
      device_id: t.device,
      card_bin: null,
    },
  };
}

/** A small forest over every snapshot feature, flagging 10 % of its training rows. */
function model(version: string, seed: number): ServingModel {
  const space = new FeatureSpace(layout.names);
  const rows = fc.sample(fc.tuple(staticFeatures, featureSet), { numRuns: 400, seed });
  const data = new Float64Array(rows.length * space.names.length);
  rows.forEach(([st, f], r) => data.set(space.fromSource(layout.source(st, f)), r * space.names.length));
  const matrix = { rows: rows.length, cols: space.names.length, data };
  const forest = trainForest(matrix, { trees: 20, sampleSize: 64, seed });
  const scores = scoreMatrix(forest, matrix);
  const features: Record<string, ReturnType<typeof distributionOf>> = {};
  space.names.forEach((name, c) => {
    features[name] = distributionOf(Float64Array.from({ length: rows.length }, (_, r) => data[r * matrix.cols + c] as number));
  });
  return {
    version,
    features: [...space.names],
    threshold: thresholdForRate(scores, 0.1),
    baseline: { features, score: distributionOf(scores) },
    forest,
  };
}

/** The shipped rules with lists that hold, a snoozed rule, and a rule set whose variable is computed at run time. */
function ruleSets(): RuleSet[] {
  const shipped = JSON.parse(readFileSync(new URL('../rules/rules.json', import.meta.url), 'utf8')) as {
    lists: Record<string, string[]>;
    rules: Array<Record<string, unknown>>;
  };
  shipped.lists = { ...shipped.lists, blocked_accounts: ['acc-1'], blocked_merchants: ['m-1'], allowed_accounts: ['acc-2'] };
  shipped.rules.push({
    ...shipped.rules.find((r) => r.id === 'velocity-1m'),
    id: 'velocity-1m-strict',
    action: 'BLOCK',
    when: { '>=': [{ var: 'account_count_1m' }, 4] },
    snooze_until: '2099-01-01T00:00:00Z',
  });
  const dynamic = {
    ruleset: 'dynamic',
    version: '1',
    rules: [
      {
        id: 'computed-name',
        version: '1',
        description: 'amount read through a computed variable name',
        severity: 'medium',
        action: 'REVIEW',
        when: { '>': [{ var: { cat: ['amount_', 'base_minor'] } }, 400_000] },
        detail: 'amount {amount_base_minor} at {merchant_id}',
      },
    ],
  };
  return [compileRuleSet(JSON.stringify(shipped), layout.names), compileRuleSet(JSON.stringify(dynamic), layout.names)];
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
