import { describe, expect, it } from 'vitest';
import { evidenceOf, type GuardrailLimits } from './rollout.ts';

const LIMITS: GuardrailLimits = { maxAlertRateFactor: 2, maxReviewQueueGrowth: 1, maxScorePsi: 0.25, minDecisions: 100 };
const at = new Date('2026-12-06T00:00:00Z');
const arm = (decisions: number, alerts: number) => ({ decisions, alerts, reviews: alerts });

describe('evidenceOf (the guardrails)', () => {
  it('crosses the alert-rate guardrail only past the factor and with enough canary decisions', () => {
    expect(evidenceOf(arm(200, 8), arm(1_000, 20), 0, 0, null, LIMITS, at).crossed).toEqual([]); // 4 % vs 2 %: 2×, not more
    expect(evidenceOf(arm(200, 9), arm(1_000, 20), 0, 0, null, LIMITS, at).crossed[0]).toMatch(
      /^alert rate 4\.50% .* \(2\.25× > 2×\)/,
    );
    expect(evidenceOf(arm(99, 90), arm(1_000, 20), 0, 0, null, LIMITS, at).crossed).toEqual([]); // too few yet
    // Alerts on the canary where the control has none: crossed, and the factor is not a number JSON can hold.
    const none = evidenceOf(arm(200, 5), arm(1_000, 0), 0, 0, null, LIMITS, at);
    expect(none.crossed[0]).toContain('∞');
    expect(none.alertRateFactor).toBeNull();
    expect(evidenceOf(arm(0, 0), arm(0, 0), 0, 0, null, LIMITS, at)).toMatchObject({ canaryAlertRate: null, crossed: [] });
  });

  it('measures the review queue against its size at the start, at least 100', () => {
    expect(evidenceOf(arm(0, 0), arm(0, 0), 150, 50, null, LIMITS, at)).toMatchObject({ reviewQueueGrowth: 1, crossed: [] });
    expect(evidenceOf(arm(0, 0), arm(0, 0), 151, 50, null, LIMITS, at).crossed[0]).toMatch(/^review queue 50 → 151 open reviews/);
    expect(evidenceOf(arm(0, 0), arm(0, 0), 1_900, 1_000, null, LIMITS, at).crossed).toEqual([]);
    expect(evidenceOf(arm(0, 0), arm(0, 0), 2_001, 1_000, null, LIMITS, at).crossed).toHaveLength(1);
  });

  it('crosses the score guardrail of a model canary past the PSI limit', () => {
    expect(evidenceOf(arm(0, 0), arm(0, 0), 0, 0, 0.2, LIMITS, at).crossed).toEqual([]);
    expect(evidenceOf(arm(0, 0), arm(0, 0), 0, 0, 0.3, LIMITS, at).crossed[0]).toMatch(/^score PSI 0\.300 > 0\.25/);
  });
});
