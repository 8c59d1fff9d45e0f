import { describe, expect, it } from 'vitest';
import { alertId, decide, modelRisk, type ModelVerdict } from './decide.ts';
import type { RuleHit } from './rules.ts';

const hit = (over: Partial<RuleHit> = {}): RuleHit => ({
  ruleId: 'r',
  ruleVersion: '1',
  severity: 'medium',
  action: 'REVIEW',
  detail: 'd',
  snoozed: false,
  ...over,
});
const model = (score: number): ModelVerdict => ({
  version: 'm1',
  score,
  threshold: 0.6,
  percentile: score >= 0.6 ? 0.995 : (score / 0.6) * 0.99,
  thresholdPercentile: 0.99,
  drivers: [{ name: 'account_sum_1h', value: 123456, share: 0.4, percentile: 0.999 }],
});
const policy = { blockScore: null };

describe('decide', () => {
  it('follows the precedence block rule > allow rule > model block > review', () => {
    expect(decide([hit({ action: 'BLOCK' }), hit({ action: 'ALLOW' })], null, policy).decision).toBe('BLOCK');
    expect(decide([hit({ action: 'ALLOW' }), hit()], model(0.9), policy).decision).toBe('ALLOW');
    expect(decide([], model(0.9), { blockScore: 0.8 }).decision).toBe('BLOCK');
    expect(decide([], model(0.7), { blockScore: 0.8 }).decision).toBe('REVIEW');
    expect(decide([hit()], model(0.1), policy).decision).toBe('REVIEW');
    expect(decide([], model(0.59), policy).decision).toBe('ALLOW');
    expect(decide([], null, policy).decision).toBe('ALLOW');
  });

  it('lets snoozed rules decide nothing but records and names them', () => {
    const d = decide([hit({ action: 'BLOCK', snoozed: true, ruleId: 'zz' })], null, policy);
    expect(d.decision).toBe('ALLOW');
    expect(d.hits).toHaveLength(1);
    expect(d.summary).toContain('snoozed: zz');
  });

  it('scores risk as the combined evidence: more evidence, more risk, whatever decided', () => {
    const none = decide([], model(0.3), policy).riskScore;
    const weak = decide([hit({ severity: 'low' })], model(0.3), policy);
    const strong = decide([hit({ severity: 'high' })], model(0.3), policy);
    expect(weak.decision).toBe('REVIEW');
    expect(weak.riskScore).toBeGreaterThan(none);
    expect(strong.riskScore).toBeGreaterThan(weak.riskScore);
    expect(decide([hit({ severity: 'high' })], model(0.7), policy).riskScore).toBeGreaterThan(strong.riskScore);
    // A critical rule is certainty; an allow-listed transaction keeps its model risk.
    expect(decide([hit({ severity: 'critical', action: 'BLOCK' })], null, policy).riskScore).toBe(1);
    expect(decide([hit({ action: 'ALLOW' })], model(0.7), policy).riskScore).toBeGreaterThan(0.5);
    for (const s of [0, 0.3, 0.59, 0.6, 0.75, 1]) {
      const r = decide([hit()], model(s), policy).riskScore;
      expect(r).toBeGreaterThanOrEqual(0);
      expect(r).toBeLessThanOrEqual(1);
    }
  });

  it('explains with the rule details and the model drivers', () => {
    const d = decide([hit({ ruleId: 'velocity-1m', detail: '9 purchases' })], model(0.7), policy);
    expect(d.summary).toBe(
      'REVIEW: rules: velocity-1m (medium): 9 purchases | model m1: score 0.7 >= threshold 0.6 (above 99.5% of training); driven by account_sum_1h=123456 (p99.9)',
    );
  });
});

describe('modelRisk', () => {
  it('is monotone in the score and crosses 0.5 at the threshold', () => {
    let prev = -1;
    for (let s = 0; s <= 1; s += 0.01) {
      const r = modelRisk(model(s));
      expect(r).toBeGreaterThanOrEqual(prev);
      expect(r >= 0.5).toBe(s >= 0.6);
      prev = r;
    }
  });

  it('gives a typical score almost no weight, so a weak rule tips only near-threshold scores over', () => {
    const typical = { score: 0.45, threshold: 0.6, percentile: 0.5, thresholdPercentile: 0.99 };
    expect(modelRisk(typical)).toBeCloseTo(0.01, 9);
    const low = hit({ action: 'SCORE', severity: 'low' });
    expect(decide([low], { ...model(0.45), percentile: 0.5 }, policy).decision).toBe('ALLOW');
    expect(decide([low], { ...model(0.59), percentile: 0.9898 }, policy).decision).toBe('REVIEW');
    expect(decide([low], { ...model(0.55), percentile: 0.98 }, policy).decision).toBe('ALLOW');
    expect(decide([low], null, policy).decision).toBe('ALLOW');
  });
});

describe('alertId', () => {
  it('is the same for the same transaction and versions, and differs otherwise', () => {
    expect(alertId('t1', 'm1', 'r1')).toBe(alertId('t1', 'm1', 'r1'));
    expect(alertId('t1', 'm1', 'r1')).not.toBe(alertId('t1', 'm2', 'r1'));
    expect(alertId('t1', null, 'r1')).not.toBe(alertId('t1', 'm1', 'r1'));
    expect(alertId('t1', 'm1', 'r1')).toMatch(/^[0-9a-f]{32}$/);
  });
});
