/**
 * The feature snapshot stored with every transaction (`transactions.features`, JSON): the static
 * enrichment, then each entity's windowed features, under fixed names. Pure.
 *
 * The ingest hot path writes the JSON text directly from the values (SnapshotWriter): building an
 * object of ~80 computed keys per transaction and stringifying it was the largest single cost of the
 * ingest process after the state stage went to msgpack (its objects fall into V8's dictionary mode).
 * `snapshotObject` is the plain reference the writer is tested against.
 */
import type { StaticFeatures } from './enrich.ts';
import { entityFeatureNames, flattenFeatures, type EntityFeatures } from './entity-features.ts';
import type { WindowSpec } from './windows.ts';

/** Static enrichment features, in snapshot order. */
export const STATIC_FEATURE_NAMES: ReadonlyArray<keyof StaticFeatures> = Object.freeze([
  'amount_base_minor',
  'account_age_days',
  'account_risk_tier',
  'home_country_mismatch',
  'ip_country_mismatch',
  'merchant_risk_tier',
  'bin_country_mismatch',
  'hour_of_day',
]);

/** Entities with windowed features, in snapshot order. */
export const SNAPSHOT_ENTITIES = Object.freeze(['account', 'card', 'merchant', 'device'] as const);
export type SnapshotEntity = (typeof SNAPSHOT_ENTITIES)[number];

export type EntityFeatureSet = Readonly<Record<SnapshotEntity, EntityFeatures | null>>;

/** Every name of a snapshot, in order. */
export function snapshotFeatureNames(windows: readonly WindowSpec[]): string[] {
  return [...STATIC_FEATURE_NAMES, ...SNAPSHOT_ENTITIES.flatMap((k) => entityFeatureNames(k, windows))];
}

/** The snapshot as a plain object (the reference of SnapshotWriter). */
export function snapshotObject(
  st: StaticFeatures,
  features: EntityFeatureSet,
  windows: readonly WindowSpec[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const n of STATIC_FEATURE_NAMES) out[n] = st[n];
  for (const k of SNAPSHOT_ENTITIES) flattenFeatures(k, features[k], windows, out);
  return out;
}

/** A value as JSON (what JSON.stringify writes for it inside an object). */
function jsonValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return JSON.stringify(v);
}

/** Writes snapshots as JSON text, byte for byte what JSON.stringify(snapshotObject(...)) gives. */
export class SnapshotWriter {
  /** '{"name":' for the first name, ',"name":' for the others. */
  private readonly staticKeys: string[];
  private readonly entityKeys: string[][];

  constructor(private readonly windows: readonly WindowSpec[]) {
    const names = snapshotFeatureNames(windows);
    const keys = names.map((n, i) => `${i === 0 ? '{' : ','}${JSON.stringify(n)}:`);
    this.staticKeys = keys.slice(0, STATIC_FEATURE_NAMES.length);
    const per = entityFeatureNames('account', windows).length;
    this.entityKeys = SNAPSHOT_ENTITIES.map((_, e) =>
      keys.slice(STATIC_FEATURE_NAMES.length + e * per, STATIC_FEATURE_NAMES.length + (e + 1) * per),
    );
  }

  json(st: StaticFeatures, features: EntityFeatureSet): string {
    let s = '';
    for (let i = 0; i < STATIC_FEATURE_NAMES.length; i++)
      s += (this.staticKeys[i] as string) + jsonValue(st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures]);
    for (let e = 0; e < SNAPSHOT_ENTITIES.length; e++) {
      const keys = this.entityKeys[e] as string[];
      const f = features[SNAPSHOT_ENTITIES[e] as SnapshotEntity];
      if (f === null) {
        for (const k of keys) s += `${k}null`;
        continue;
      }
      let i = 0;
      for (const w of f.windows) {
        s += (keys[i++] as string) + jsonValue(w.count);
        s += (keys[i++] as string) + jsonValue(w.sumMinor);
        s += (keys[i++] as string) + jsonValue(w.distinctMerchants);
        s += (keys[i++] as string) + jsonValue(w.distinctCountries);
      }
      s += (keys[i++] as string) + jsonValue(f.amountN);
      s += (keys[i++] as string) + jsonValue(f.amountMean);
      s += (keys[i++] as string) + jsonValue(f.amountStd);
      s += (keys[i++] as string) + jsonValue(f.sincePrevMs);
      s += (keys[i++] as string) + jsonValue(f.travelKm);
      s += (keys[i++] as string) + jsonValue(f.travelKmh);
      if (i !== keys.length || f.windows.length !== this.windows.length)
        throw new TypeError(`features of ${f.windows.length} windows, expected ${this.windows.length}`);
    }
    return `${s}}`;
  }
}
