import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { objectSource } from '../domain/snapshot.ts';
import { SegmentTally, ageBand, flaggedLines } from './segments.ts';

const tx = (channel: string, country: string) => ({ channel, merchant_country: country }) as never;

describe('ageBand', () => {
  it('bands account age in days; anything else is unknown', () => {
    expect([0, 29, 30, 179, 180, 729, 730, 5000].map(ageBand)).toEqual([
      '<30d',
      '<30d',
      '30-180d',
      '30-180d',
      '180d-2y',
      '180d-2y',
      '>=2y',
      '>=2y',
    ]);
    expect([null, undefined, NaN, 'LOW'].map(ageBand)).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
  });
});

describe('SegmentTally', () => {
  it('counts alert rate and precision per segment and flags a move beyond the factor in a large enough segment', () => {
    const t = new SegmentTally();
    const young = objectSource({ account_age_days: 3 });
    const old = objectSource({ account_age_days: 900 });
    // ECOMMERCE: 100 transactions, 10 alerts before, 30 after (3×); labelled: fraud on the first 5 of each.
    for (let i = 0; i < 100; i++) t.add(tx('ECOMMERCE', 'DE'), young, i < 10, i < 30, i < 40 ? i % 10 < 5 : null);
    // POS: 100 transactions, 10 alerts before and after, and 2 alerts in one more segment: too small to flag.
    for (let i = 0; i < 100; i++) t.add(tx('POS', 'FR'), old, i < 10, i < 12, null);
    const rows = t.rows({ factor: 2, minAlerts: 20 });
    const row = (d: string, v: string) => rows.find((r) => r.dimension === d && r.value === v);
    expect(row('channel', 'ECOMMERCE')).toMatchObject({
      transactions: 100,
      alertsBefore: 10,
      alertsAfter: 30,
      rateBefore: 0.1,
      rateAfter: 0.3,
      labelled: 40,
      precisionBefore: 0.5,
      flagged: true,
    });
    expect(row('channel', 'ECOMMERCE')?.factor).toBeCloseTo(3);
    // After: alerts 0..29, labelled 0..29 of which fraud where i % 10 < 5: 15 of 30.
    expect(row('channel', 'ECOMMERCE')?.precisionAfter).toBeCloseTo(0.5);
    expect(row('channel', 'POS')).toMatchObject({ alertsBefore: 10, alertsAfter: 12, flagged: false, labelled: 0 });
    expect(row('channel', 'POS')?.precisionBefore).toBeNaN();
    expect(row('account_age_band', '<30d')?.flagged).toBe(true);
    expect(row('merchant_country', 'FR')?.flagged).toBe(false);
    // The order: by dimension, then value.
    expect(rows.map((r) => `${r.dimension}=${r.value}`)).toEqual([
      'channel=ECOMMERCE',
      'channel=POS',
      'merchant_country=DE',
      'merchant_country=FR',
      'account_age_band=<30d',
      'account_age_band=>=2y',
    ]);
    expect(flaggedLines(rows, { factor: 2, minAlerts: 20 })[0]).toMatch(
      /^channel=ECOMMERCE: alert rate 10\.00% → 30\.00% \(3\.00×/,
    );
  });

  it('flags a fall as well as a rise, and alerts from none; never a segment below the minimum', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 60 }), fc.integer({ min: 0, max: 60 }), (before, after) => {
        const t = new SegmentTally();
        for (let i = 0; i < 100; i++) t.add(tx('ATM', 'US'), objectSource({}), i < before, i < after, null);
        const r = t.rows({ factor: 2, minAlerts: 20 })[0];
        const large = Math.max(before, after) >= 20;
        const moved = before === 0 ? after > 0 : after > 2 * before || after < before / 2;
        expect(r?.flagged).toBe(large && moved);
      }),
    );
  });
});
