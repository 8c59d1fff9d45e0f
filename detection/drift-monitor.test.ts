import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import { distributionOf } from './baseline.ts';
import { DriftMonitor } from './drift-monitor.ts';

const rng = new Rng(5);
const sample = (n: number, mean: number) => Float64Array.from({ length: n }, () => rng.normal(mean, 1));
const baseline = {
  features: { a: distributionOf(sample(10_000, 0)), b: distributionOf(sample(10_000, 0)) },
  score: distributionOf(sample(10_000, 0.4)),
};

describe('DriftMonitor', () => {
  it('reports nothing until it has enough traffic', () => {
    const m = new DriftMonitor('m1', ['a', 'b'], baseline, 1_000);
    for (let i = 0; i < 499; i++) m.add([0, 0], 0.4);
    expect(m.report()).toBeNull();
  });

  it('sees a shifted feature and score, and not the stable feature', () => {
    const m = new DriftMonitor('m1', ['a', 'b'], baseline, 2_000);
    const a = sample(2_000, 1.5);
    const b = sample(2_000, 0);
    const s = sample(2_000, 1.2);
    for (let i = 0; i < 2_000; i++) m.add([a[i] as number, b[i] as number], s[i] as number);
    const r = m.report();
    expect(r?.sample).toBe(2_000);
    expect(r?.featurePsi.a).toBeGreaterThan(0.5);
    expect(r?.featurePsi.b).toBeLessThan(0.05);
    expect(r?.scorePsi).toBeGreaterThan(0.25);
  });

  it('keeps only the most recent transactions (a ring)', () => {
    const m = new DriftMonitor('m1', ['a', 'b'], baseline, 1_000);
    const shifted = sample(1_000, 3);
    for (let i = 0; i < 1_000; i++) m.add([shifted[i] as number, 0], 0.4);
    expect(m.report()?.featurePsi.a).toBeGreaterThan(1);
    const normal = sample(1_000, 0);
    for (let i = 0; i < 1_000; i++) m.add([normal[i] as number, 0], 0.4);
    expect(m.report()?.featurePsi.a).toBeLessThan(0.05);
  });
});
