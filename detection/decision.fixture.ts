/**
 * Generators and fixtures for tests of the decision stage: snapshots around the shipped rules'
 * thresholds, the inputs the ingest decides, a small forest, and rule sets that reach every branch.
 * Test-only (imported by *.test.ts).
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import type { StaticFeatures } from '../domain/enrich.ts';
import type { EntityFeatures } from '../domain/entity-features.ts';
import { SnapshotLayout, objectSource, snapshotObject, type EntityFeatureSet, type FeatureSource } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { distributionOf } from './baseline.ts';
import type { DecisionInput } from './decision-record.ts';
import { FeatureSpace } from './features.ts';
import { scoreMatrix, trainForest } from './isolation-forest.ts';
import { thresholdForRate } from './metrics.ts';
import { compileRuleSet, type RuleSet } from './rules.ts';
import type { ServingModel } from './score.ts';

export const layout = new SnapshotLayout(DEFAULT_WINDOWS);
export const windowCount = DEFAULT_WINDOWS.length;

// Values around the shipped rules' thresholds, so every rule holds for some snapshots and not others.
export const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null, freq: 8 });
export const tier = maybe(fc.constantFrom('LOW' as const, 'MEDIUM' as const, 'HIGH' as const));
export const staticFeatures: fc.Arbitrary<StaticFeatures> = fc.record({
  amount_base_minor: maybe(fc.oneof(fc.integer({ min: 0, max: 30_000 }), fc.integer({ min: 0, max: 800_000 }))),
  account_age_days: maybe(fc.integer({ min: 0, max: 3_000 })),
  account_risk_tier: tier,
  home_country_mismatch: maybe(fc.boolean()),
  ip_country_mismatch: maybe(fc.boolean()),
  merchant_risk_tier: tier,
  bin_country_mismatch: maybe(fc.boolean()),
  hour_of_day: fc.integer({ min: 0, max: 23 }),
});
export const entity: fc.Arbitrary<EntityFeatures | null> = maybe(
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
export const featureSet: fc.Arbitrary<EntityFeatureSet> = fc.record({
  account: entity,
  card: entity,
  merchant: entity,
  device: entity,
});
export const transaction = fc.record({
  st: staticFeatures,
  features: featureSet,
  account: fc.constantFrom('acc-1', 'acc-2', 'acc-3', 'acc-4'),
  merchant: fc.constantFrom('m-1', 'm-2', 'm-3'),
  mcc: fc.constantFrom('5411', '7995', '5967'),
  device: fc.option(fc.constantFrom('dev-1', 'dev-2'), { nil: null }),
  // By name (a replay's stored snapshot) or read in place (the ingest's).
  inPlace: fc.boolean(),
});

export type Transaction = typeof transaction extends fc.Arbitrary<infer T> ? T : never;

export function inputOf(t: Transaction, i: number): DecisionInput {
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
export function model(version: string, seed: number): ServingModel {
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
export function ruleSets(): RuleSet[] {
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
