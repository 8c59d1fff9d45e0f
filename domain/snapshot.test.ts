import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { StaticFeatures } from './enrich.ts';
import type { EntityFeatures } from './entity-features.ts';
import {
  SnapshotLayout,
  SnapshotWriter,
  objectSource,
  snapshotFeatureNames,
  snapshotFromVector,
  snapshotObject,
  vectorSource,
  type EntityFeatureSet,
  type FlatFeatures,
} from './snapshot.ts';
import { DEFAULT_WINDOWS, type WindowSpec } from './windows.ts';

const num = fc.oneof(fc.integer(), fc.double(), fc.constant(-0), fc.constant(Number.NaN), fc.constant(2 ** 53 - 1));
const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: null });
const tier = maybe(fc.constantFrom('LOW' as const, 'MEDIUM' as const, 'HIGH' as const));

const staticFeatures: fc.Arbitrary<StaticFeatures> = fc.record({
  amount_base_minor: maybe(fc.integer()),
  account_age_days: maybe(fc.integer({ min: 0 })),
  account_risk_tier: tier,
  home_country_mismatch: maybe(fc.boolean()),
  ip_country_mismatch: maybe(fc.boolean()),
  merchant_risk_tier: tier,
  bin_country_mismatch: maybe(fc.boolean()),
  hour_of_day: fc.integer({ min: 0, max: 23 }),
});

const entity = (windows: number): fc.Arbitrary<EntityFeatures | null> =>
  maybe(
    fc.record({
      windows: fc.array(
        fc.record({ count: fc.nat(), sumMinor: fc.integer(), distinctMerchants: fc.nat(), distinctCountries: fc.nat() }),
        { minLength: windows, maxLength: windows },
      ),
      amountN: fc.nat(),
      amountMean: num,
      amountStd: num,
      sincePrevMs: maybe(fc.integer()),
      travelKm: maybe(num),
      travelKmh: maybe(num),
    }),
  );

/** The four entities' features over `windows` windows, each possibly absent. */
const featureSet = (windows: number): fc.Arbitrary<EntityFeatureSet> =>
  fc.record({ account: entity(windows), card: entity(windows), merchant: entity(windows), device: entity(windows) });

const SMALL: WindowSpec[] = [{ name: '10s', lengthMs: 10_000, bucketMs: 2_000 }];

describe('SnapshotWriter', () => {
  for (const windows of [DEFAULT_WINDOWS, SMALL])
    it(`writes exactly JSON.stringify of the snapshot object's values in name order (${windows.length} windows)`, () => {
      const writer = new SnapshotWriter(windows);
      const names = snapshotFeatureNames(windows);
      const n = windows.length;
      fc.assert(
        fc.property(staticFeatures, featureSet(n), (st, f: EntityFeatureSet) => {
          const object = snapshotObject(st, f, windows);
          const text = writer.values(st, f);
          expect(text).toBe(JSON.stringify(names.map((name) => object[name])));
          // Decoded with its layout, the vector is the snapshot object again (as JSON: NaN is null).
          expect(snapshotFromVector(names, JSON.parse(text) as unknown[])).toEqual(JSON.parse(JSON.stringify(object)));
        }),
        { numRuns: 300 },
      );
    });

  it('refuses a string value MariaDB could not split back into `features` (a comma, a quote)', () => {
    const writer = new SnapshotWriter(SMALL);
    const none = { account: null, card: null, merchant: null, device: null };
    const st = { hour_of_day: 1, account_risk_tier: 'LOW' } as StaticFeatures;
    expect(writer.values(st, none)).toContain('"LOW"');
    for (const bad of ['LOW,HIGH', 'say "hi"', 'a\\b'])
      expect(() => writer.values({ ...st, account_risk_tier: bad } as unknown as StaticFeatures, none)).toThrow(/comma/);
  });

  it('rejects features of another window count', () => {
    const writer = new SnapshotWriter(DEFAULT_WINDOWS);
    const f: EntityFeatures = {
      windows: [{ count: 1, sumMinor: 1, distinctMerchants: 1, distinctCountries: 1 }],
      amountN: 1,
      amountMean: 1,
      amountStd: 0,
      sincePrevMs: null,
      travelKm: null,
      travelKmh: null,
    };
    const st = { hour_of_day: 1 } as StaticFeatures;
    expect(() => writer.values(st, { account: f, card: null, merchant: null, device: null })).toThrow(/expected 3/);
  });
});

describe('snapshotFromVector', () => {
  it('pairs names and values in order, and refuses a vector of another length', () => {
    expect(snapshotFromVector(['a', 'b'], [1, 'LOW'])).toEqual({ a: 1, b: 'LOW' });
    expect(Object.keys(snapshotFromVector(['z', 'a'], [null, true]))).toEqual(['z', 'a']);
    expect(() => snapshotFromVector(['a', 'b'], [1])).toThrow(/1 values for a layout of 2 names/);
  });
});

describe('vectorSource', () => {
  it('reads a stored vector by name and by slot as its snapshot object holds it', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.stringMatching(/^[a-z_]{1,8}$/), { minLength: 1, maxLength: 12 }), (names) => {
        const values = names.map((_, i) => (i % 3 === 0 ? null : i * 1.5));
        const source = vectorSource(names, values);
        const object = snapshotFromVector(names, values);
        expect(source.names).toBe(names);
        for (const [i, n] of names.entries()) {
          expect(source.get(n)).toBe(object[n]);
          expect(source.at?.(i)).toBe(object[n]);
        }
        expect(source.get('NOT A NAME')).toBeUndefined();
      }),
    );
    expect(() => vectorSource(['a', 'b'], [1])).toThrow(/1 values for a layout of 2 names/);
  });
});

describe('SnapshotLayout', () => {
  for (const windows of [DEFAULT_WINDOWS, SMALL])
    it(`reads every name as the snapshot object holds it (${windows.length} windows)`, () => {
      const layout = new SnapshotLayout(windows);
      const n = windows.length;
      fc.assert(
        fc.property(staticFeatures, featureSet(n), (st, f: EntityFeatureSet) => {
          const object = snapshotObject(st, f, windows);
          const source = layout.source(st, f);
          expect(source.names).toEqual(Object.keys(object));
          for (const name of source.names) expect(source.get(name)).toBe(object[name]);
          expect(source.get('no_such_feature')).toBeUndefined();
          expect(objectSource(object).names).toEqual(source.names);
        }),
        { numRuns: 300 },
      );
    });

  it('reads by slot what it reads by name', () => {
    const layout = new SnapshotLayout(DEFAULT_WINDOWS);
    fc.assert(
      fc.property(staticFeatures, featureSet(DEFAULT_WINDOWS.length), (st, f: EntityFeatureSet) => {
        const source = layout.source(st, f);
        expect(source.names).toBe(layout.names);
        source.names.forEach((name, i) => expect(source.at?.(i)).toBe(source.get(name)));
        for (const outside of [-1, source.names.length, Number.NaN]) expect(source.at?.(outside)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });
});

/** The EntityFeatureSet a flat vector holds, by FlatFeatures' documented layout (the reference of the flat readers). */
function setOfFlat(f: FlatFeatures, windows: number): EntityFeatureSet {
  const per = windows * 4 + 6;
  const entityAt = (k: number): EntityFeatures => {
    const at = f.at + k * per;
    const v = (j: number) => f.values[at + j] as number;
    const nullable = (x: number) => (Number.isNaN(x) ? null : x);
    const t = windows * 4;
    return {
      windows: Array.from({ length: windows }, (_, w) => ({
        count: v(w * 4),
        sumMinor: v(w * 4 + 1),
        distinctMerchants: v(w * 4 + 2),
        distinctCountries: v(w * 4 + 3),
      })),
      amountN: v(t),
      amountMean: v(t + 1),
      amountStd: v(t + 2),
      sincePrevMs: nullable(v(t + 3)),
      travelKm: nullable(v(t + 4)),
      travelKmh: nullable(v(t + 5)),
    };
  };
  return { account: entityAt(0), card: entityAt(1), merchant: entityAt(2), device: f.hasDevice ? entityAt(3) : null };
}

describe('flat features (the state stage’s vector read in place)', () => {
  /** A batch-sized vector of `txs` transactions and one of them. */
  const flat = (windows: number) =>
    fc
      .tuple(fc.integer({ min: 1, max: 3 }), fc.boolean())
      .chain(([txs, hasDevice]) =>
        fc.tuple(
          fc.array(num, { minLength: txs * 4 * (windows * 4 + 6), maxLength: txs * 4 * (windows * 4 + 6) }),
          fc.integer({ min: 0, max: txs - 1 }),
          fc.constant(hasDevice),
        ),
      )
      .map(([v, i, hasDevice]): FlatFeatures => ({ values: Float64Array.from(v), at: i * 4 * (windows * 4 + 6), hasDevice }));

  for (const windows of [DEFAULT_WINDOWS, SMALL])
    it(`writes and reads what the EntityFeatureSet they hold gives (${windows.length} windows)`, () => {
      const writer = new SnapshotWriter(windows);
      const layout = new SnapshotLayout(windows);
      fc.assert(
        fc.property(staticFeatures, flat(windows.length), (st, f) => {
          const set = setOfFlat(f, windows.length);
          expect(writer.valuesFlat(st, f)).toBe(writer.values(st, set));
          const source = layout.flatSource(st, f);
          const reference = layout.source(st, set);
          expect(source.names).toBe(reference.names);
          for (const name of source.names) expect(source.get(name)).toBe(reference.get(name));
          expect(source.get('no_such_feature')).toBeUndefined();
        }),
        { numRuns: 300 },
      );
    });

  it('reads by slot what it reads by name', () => {
    const layout = new SnapshotLayout(DEFAULT_WINDOWS);
    fc.assert(
      fc.property(staticFeatures, flat(DEFAULT_WINDOWS.length), (st, f) => {
        const source = layout.flatSource(st, f);
        source.names.forEach((name, i) => expect(source.at?.(i)).toBe(source.get(name)));
        for (const outside of [-1, source.names.length, Number.NaN]) expect(source.at?.(outside)).toBeUndefined();
      }),
      { numRuns: 100 },
    );
  });

  it('refuses an offset outside the vector', () => {
    const f = { values: new Float64Array(4 * (DEFAULT_WINDOWS.length * 4 + 6)), at: 1, hasDevice: true };
    expect(() => new SnapshotWriter(DEFAULT_WINDOWS).valuesFlat({ hour_of_day: 1 } as StaticFeatures, f)).toThrow(/outside/);
    expect(() => new SnapshotLayout(DEFAULT_WINDOWS).flatSource({ hour_of_day: 1 } as StaticFeatures, f)).toThrow(/outside/);
  });
});
