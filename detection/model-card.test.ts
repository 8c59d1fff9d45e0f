import { describe, expect, it } from 'vitest';
import { buildModelCard, formatModelCard, type CardRow } from './model-card.ts';

const window = { from: new Date('2026-01-01T00:00:00Z'), to: new Date('2026-01-03T00:00:00Z') };

/** n rows: scores 0..1 in steps, fraud on the top `fraudTop` scores; two channels; one feature missing in 20 %. */
function training(n: number, fraudTop: number, labelled = true) {
  const scores = Float64Array.from({ length: n }, (_, i) => i / n);
  const rows: CardRow[] = Array.from(scores, (_, i) => ({
    segments: { channel: i % 2 === 0 ? 'POS' : 'ECOMMERCE', merchantCountry: i % 50 === 0 ? 'LU' : 'DE', ageBand: '>=2y' },
    label: labelled ? i >= n - fraudTop : null,
  }));
  const data = new Float64Array(n * 2);
  for (let i = 0; i < n; i++) {
    data[i * 2] = i;
    data[i * 2 + 1] = i % 5 === 0 ? NaN : 1;
  }
  return { scores, rows, matrix: { rows: n, cols: 2, data } };
}

describe('buildModelCard', () => {
  it('calibrates the score in deciles, reports alert rate by segment and names its limits', () => {
    const t = training(1_000, 50);
    const card = buildModelCard(
      {
        version: 'if-x',
        trainedFrom: window.from,
        trainedTo: window.to,
        features: ['a', 'b'],
        params: { trees: 100 },
        threshold: 0.95,
        evaluation: { rocAuc: 1 },
        scores: t.scores,
        matrix: t.matrix,
      },
      t.rows,
    );
    expect(card.training).toEqual({
      from: window.from.toISOString(),
      to: window.to.toISOString(),
      rows: 1_000,
      labelled: 1_000,
      fraud: 50,
    });
    expect(card.calibration).toHaveLength(10);
    expect(card.calibration.map((b) => b.rows)).toEqual(Array(10).fill(100));
    // The top decile holds the 50 frauds and the 50 alerts (scores >= 0.95).
    expect(card.calibration[9]).toMatchObject({ lo: 0.9, hi: 0.999, alerting: 0.5, labelled: 100, fraudRate: 0.5 });
    expect(card.calibration[0]).toMatchObject({ fraudRate: 0, alerting: 0 });
    // Segments of at least 100 rows; LU (20 rows) is left out and said so.
    expect(card.segments.map((s) => `${s.dimension}=${s.value}`)).toEqual([
      'channel=ECOMMERCE',
      'channel=POS',
      'merchant_country=DE',
      'account_age_band=>=2y',
    ]);
    expect(card.segments[0]).toMatchObject({ transactions: 500, rateAfter: 0.05, precisionAfter: 1 });
    expect(card.sparseFeatures).toEqual([{ feature: 'b', missing: 0.2 }]);
    const limits = card.limits.join('\n');
    expect(limits).toContain('Evaluated on the training window itself (1,000 labelled rows)');
    expect(limits).toContain('missing in more than 10 % of the window (filled with the training median): b');
    expect(limits).toContain('1 segment(s) with fewer than 100 training rows');
    expect(limits).not.toContain('less than a day');
    const text = formatModelCard(card);
    expect(text).toMatch(/^model card: if-x\n/);
    expect(text).toContain('channel=ECOMMERCE');
    expect(text).toContain('    - Unsupervised');
  });

  it('says when there are no labels and when the window is short; refuses rows that do not match the scores', () => {
    const t = training(300, 0, false);
    const card = buildModelCard(
      {
        version: 'if-y',
        trainedFrom: window.from,
        trainedTo: new Date(window.from.getTime() + 3_600_000),
        features: ['a', 'b'],
        params: {},
        threshold: 0.99,
        evaluation: null,
        scores: t.scores,
        matrix: t.matrix,
      },
      t.rows,
    );
    expect(card.calibration.every((b) => b.fraudRate === null && b.labelled === 0)).toBe(true);
    expect(card.limits.join('\n')).toContain('No usable labels in the training window');
    expect(card.limits.join('\n')).toContain('less than a day of event time');
    expect(formatModelCard(card)).toContain('evaluation    none');
    expect(() =>
      buildModelCard(
        {
          ...{
            version: 'z',
            trainedFrom: window.from,
            trainedTo: window.to,
            features: ['a', 'b'],
            params: {},
            threshold: 1,
            evaluation: null,
          },
          scores: t.scores,
          matrix: t.matrix,
        },
        t.rows.slice(1),
      ),
    ).toThrow(/299 rows for 300 scores/);
  });
});
