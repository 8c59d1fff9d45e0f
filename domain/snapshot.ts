/**
 * The feature snapshot stored with every transaction: the static enrichment, then each entity's
 * windowed features, under fixed names. Stored as a vector of values in a layout of names
 * (`transactions.feature_layout`, `feature_values`; docs/storage.md). Pure.
 *
 * The ingest hot path writes the vector's text directly from the values (SnapshotWriter): building
 * an object of ~80 computed keys per transaction and stringifying it was the largest single cost of
 * the ingest process after the state stage went to msgpack (its objects fall into V8's dictionary
 * mode). `snapshotObject` is the plain reference the writer is tested against.
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

/**
 * A value as JSON (what JSON.stringify writes for it inside an array). A string must hold no comma
 * (nor what JSON escapes): MariaDB splits the stored array at commas to give `transactions.features`
 * back as a named object (migration 013). The snapshot's strings are risk tiers.
 */
function jsonValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'string') checkSnapshotString(v);
  return JSON.stringify(v);
}

/** Refuses a string snapshot value that holds a comma or a character JSON escapes (builds no text). */
function checkSnapshotString(v: string): void {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
  if (/[,"\\\u0000-\u001f]/.test(v))
    throw new RangeError(`a snapshot value holds a comma or a character JSON escapes: ${JSON.stringify(v.slice(0, 40))}`);
}

/** Makes V8 store a concatenated string as one piece (any read by index does; the value is unused). */
function flatten(s: string): void {
  if (s.length > 0) void s.charCodeAt(s.length - 1);
}

/**
 * Writes snapshots as feature vectors: the values of snapshotFeatureNames(windows), in order, as a
 * JSON array (what JSON.stringify(names.map((n) => snapshotObject(...)[n])) gives). The names live
 * once, in the vector's layout (sinks/feature-vector.ts); the 2.2 KB named object of every row was
 * mostly repeated names.
 */
export class SnapshotWriter {
  private readonly staticCount = STATIC_FEATURE_NAMES.length;
  private readonly perEntity: number;

  constructor(private readonly windows: readonly WindowSpec[]) {
    this.perEntity = entityFeatureNames('account', windows).length;
  }

  /** The vector as JSON array text. */
  values(st: StaticFeatures, features: EntityFeatureSet): string {
    let s = '[';
    for (let i = 0; i < this.staticCount; i++) {
      if (i > 0) s += ',';
      s += jsonValue(st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures]);
    }
    for (const entity of SNAPSHOT_ENTITIES) {
      const f = features[entity];
      if (f === null) {
        for (let i = 0; i < this.perEntity; i++) s += ',null';
        continue;
      }
      if (f.windows.length !== this.windows.length)
        throw new TypeError(`features of ${f.windows.length} windows, expected ${this.windows.length}`);
      for (const w of f.windows)
        s += `,${jsonValue(w.count)},${jsonValue(w.sumMinor)},${jsonValue(w.distinctMerchants)},${jsonValue(w.distinctCountries)}`;
      s += `,${jsonValue(f.amountN)},${jsonValue(f.amountMean)},${jsonValue(f.amountStd)}`;
      s += `,${jsonValue(f.sincePrevMs)},${jsonValue(f.travelKm)},${jsonValue(f.travelKmh)}`;
    }
    const out = `${s}]`;
    // Flat now: the concatenation is a tree of cons strings that lived, and was promoted with the
    // batch, until MySQL's query writer flattened it.
    flatten(out);
    return out;
  }

  /**
   * The vector as JSON array text, from the state stage's flat features (FlatFeatures): the same
   * text as values() of the EntityFeatureSet they hold, without building it.
   */
  valuesFlat(st: StaticFeatures, f: FlatFeatures): string {
    let s = '[';
    for (let i = 0; i < this.staticCount; i++) {
      if (i > 0) s += ',';
      s += jsonValue(st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures]);
    }
    const n = this.perEntity;
    checkFlat(f, n);
    for (let k = 0; k < SNAPSHOT_ENTITIES.length; k++) {
      if (k === DEVICE && !f.hasDevice) {
        for (let i = 0; i < n; i++) s += ',null';
        continue;
      }
      const at = f.at + k * n;
      // Non-finite values are null in JSON, whichever of NaN or null the object form holds.
      for (let j = 0; j < n; j++) s += `,${jsonValue(f.values[at + j])}`;
    }
    const out = `${s}]`;
    flatten(out);
    return out;
  }

  /**
   * The items of valuesFlat(st, f), written to `out` one by one: the row writer puts them straight
   * into the statement, without the ~1 KB text per transaction in between.
   */
  writeFlat(st: StaticFeatures, f: FlatFeatures, out: VectorOut): void {
    for (let i = 0; i < this.staticCount; i++) {
      const v = st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures];
      if (typeof v === 'string') checkSnapshotString(v); // the same refusals as the text's
      out.jsonScalar(v ?? null);
    }
    const n = this.perEntity;
    checkFlat(f, n);
    for (let k = 0; k < SNAPSHOT_ENTITIES.length; k++) {
      if (k === DEVICE && !f.hasDevice) {
        for (let i = 0; i < n; i++) out.jsonScalar(null);
        continue;
      }
      const at = f.at + k * n;
      for (let j = 0; j < n; j++) out.jsonNumber(f.values[at + j] as number);
    }
  }
}

/** Where SnapshotWriter.writeFlat writes a vector's items (sinks/row-text.ts SqlText writes them into SQL text). */
export interface VectorOut {
  /** A number as JSON writes it (non-finite: null). */
  jsonNumber(n: number): unknown;
  /** null, a boolean, a number or a string JSON writes without escapes. */
  jsonScalar(v: string | number | boolean | null): unknown;
}

/**
 * One transaction's windowed features as the state stage computes them (state/partition-state.ts
 * StateBatch.values): the four entities in SNAPSHOT_ENTITIES order from `at`, each the snapshot's
 * names of that entity in order (4 per window, then the 6 running values), unknown values NaN.
 * Every entity is known but the device, absent when the transaction has none.
 */
export interface FlatFeatures {
  readonly values: Float64Array;
  readonly at: number;
  readonly hasDevice: boolean;
}

const DEVICE = SNAPSHOT_ENTITIES.indexOf('device');
/** The running values an EntityFeatures holds as null when unknown (the others stay NaN): since-previous and travel. */
const NULLABLE_TAIL_FROM = 3;

function checkFlat(f: FlatFeatures, perEntity: number): void {
  if (f.at < 0 || f.at + SNAPSHOT_ENTITIES.length * perEntity > f.values.length)
    throw new RangeError(`flat features at ${f.at} outside a vector of ${f.values.length}`);
}

/** The snapshot object of a stored vector: `names` (its layout) paired with `values` in order. */
export function snapshotFromVector(names: readonly string[], values: readonly unknown[]): Record<string, unknown> {
  if (values.length !== names.length)
    throw new RangeError(`a feature vector of ${values.length} values for a layout of ${names.length} names`);
  const out: Record<string, unknown> = {};
  for (let i = 0; i < names.length; i++) out[names[i] as string] = values[i];
  return out;
}

/** A transaction's features by name: a snapshot object, or the state stage's values read in place. */
export interface FeatureSource {
  /** The value snapshotObject would hold under `name` (undefined for a name it has not). */
  get(name: string): unknown;
  /** Every name it has, in snapshot order (for rules whose names are only known at run time). */
  readonly names: readonly string[];
  /**
   * Optional: get(names[slot]) without the look-up by name, for readers that map their names to
   * slots once per layout; undefined for a slot out of range. A source that has it returns the same
   * `names` array on every read, the one its slots index.
   */
  at?(slot: number): unknown;
}

/** A snapshot object (e.g. a decoded stored vector) as a FeatureSource. */
export function objectSource(o: Readonly<Record<string, unknown>>): FeatureSource {
  return {
    get: (name) => o[name],
    get names() {
      return Object.keys(o);
    },
  };
}

/** Each layout's index by name, built once per layout array (a process has a handful). */
const layoutIndexes = new WeakMap<readonly string[], ReadonlyMap<string, number>>();

/**
 * A stored vector (its layout's `names` and `values` in order) as a FeatureSource that reads by slot,
 * without building the snapshot object: what a backtest reads per transaction. `names` must be the
 * same array for every vector of a layout (sinks/feature-vector.ts FeatureDecoder keeps one).
 */
export function vectorSource(names: readonly string[], values: readonly unknown[]): FeatureSource {
  if (values.length !== names.length)
    throw new RangeError(`a feature vector of ${values.length} values for a layout of ${names.length} names`);
  let index = layoutIndexes.get(names);
  if (index === undefined) {
    index = new Map(names.map((n, i) => [n, i]));
    layoutIndexes.set(names, index);
  }
  const slots = index;
  return {
    names,
    get: (name) => {
      const i = slots.get(name);
      return i === undefined ? undefined : values[i];
    },
    at: (slot) => values[slot],
  };
}

/**
 * Reads snapshot features by name straight from a transaction's static and windowed values. The
 * ingest path used to build the snapshot as an object of ~80 keys per transaction for rules and
 * models that read ~30 of them: the largest allocation of the process (heap sampling, 50k-transaction
 * bench), which kept its heap and RSS high.
 */
export class SnapshotLayout {
  readonly names: readonly string[];
  private readonly slots: ReadonlyMap<string, number>;
  private readonly perEntity: number;

  constructor(readonly windows: readonly WindowSpec[]) {
    this.names = Object.freeze(snapshotFeatureNames(windows));
    this.slots = new Map(this.names.map((n, i) => [n, i]));
    this.perEntity = entityFeatureNames('account', windows).length;
  }

  /** The features of one transaction, read on demand. */
  source(st: StaticFeatures, features: EntityFeatureSet): FeatureSource {
    return new LayoutSource(this, st, features);
  }

  /** The features of one transaction from the state stage's flat values, read on demand. */
  flatSource(st: StaticFeatures, f: FlatFeatures): FeatureSource {
    checkFlat(f, this.perEntity);
    return new FlatSource(this, st, f);
  }

  /** What source(st, features)[name] gives for the EntityFeatureSet that `f` holds. */
  flatValue(name: string, st: StaticFeatures, f: FlatFeatures): unknown {
    const i = this.slots.get(name);
    return i === undefined ? undefined : this.flatValueAt(i, st, f);
  }

  /** flatValue(names[i], st, f); undefined for an index out of range. */
  flatValueAt(i: number, st: StaticFeatures, f: FlatFeatures): unknown {
    if (!(i >= 0 && i < this.names.length)) return undefined;
    const s = STATIC_FEATURE_NAMES.length;
    if (i < s) return st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures];
    const e = Math.floor((i - s) / this.perEntity);
    if (e === DEVICE && !f.hasDevice) return null;
    const j = i - s - e * this.perEntity;
    const v = f.values[f.at + e * this.perEntity + j] as number;
    return j >= this.windows.length * 4 + NULLABLE_TAIL_FROM && Number.isNaN(v) ? null : v;
  }

  /** snapshotObject(st, features, windows)[name], without building the object. */
  value(name: string, st: StaticFeatures, features: EntityFeatureSet): unknown {
    const i = this.slots.get(name);
    return i === undefined ? undefined : this.valueAt(i, st, features);
  }

  /** value(names[i], st, features); undefined for an index out of range. */
  valueAt(i: number, st: StaticFeatures, features: EntityFeatureSet): unknown {
    if (!(i >= 0 && i < this.names.length)) return undefined;
    const s = STATIC_FEATURE_NAMES.length;
    if (i < s) return st[STATIC_FEATURE_NAMES[i] as keyof StaticFeatures];
    const e = Math.floor((i - s) / this.perEntity);
    const f = features[SNAPSHOT_ENTITIES[e] as SnapshotEntity];
    if (f === null) return null;
    // Per entity: 4 values per window (flattenFeatures' order), then the 6 running values.
    const j = i - s - e * this.perEntity;
    const windowValues = this.windows.length * 4;
    if (j < windowValues) {
      const w = f.windows[j >> 2];
      if (w === undefined) throw new TypeError(`features of ${f.windows.length} windows, expected ${this.windows.length}`);
      const field = j & 3;
      return field === 0 ? w.count : field === 1 ? w.sumMinor : field === 2 ? w.distinctMerchants : w.distinctCountries;
    }
    switch (j - windowValues) {
      case 0:
        return f.amountN;
      case 1:
        return f.amountMean;
      case 2:
        return f.amountStd;
      case 3:
        return f.sincePrevMs;
      case 4:
        return f.travelKm;
      default:
        return f.travelKmh;
    }
  }
}

/** A FeatureSource over flat values: one small object per transaction instead of ~1 KB of feature objects. */
class FlatSource implements FeatureSource {
  constructor(
    private readonly layout: SnapshotLayout,
    private readonly st: StaticFeatures,
    private readonly f: FlatFeatures,
  ) {}

  get names(): readonly string[] {
    return this.layout.names;
  }

  get(name: string): unknown {
    return this.layout.flatValue(name, this.st, this.f);
  }

  at(slot: number): unknown {
    return this.layout.flatValueAt(slot, this.st, this.f);
  }
}

/** A SnapshotLayout's source: an instance per transaction, its methods shared (no closures per transaction). */
class LayoutSource implements FeatureSource {
  constructor(
    private readonly layout: SnapshotLayout,
    private readonly st: StaticFeatures,
    private readonly features: EntityFeatureSet,
  ) {}

  get names(): readonly string[] {
    return this.layout.names;
  }

  get(name: string): unknown {
    return this.layout.value(name, this.st, this.features);
  }

  at(slot: number): unknown {
    return this.layout.valueAt(slot, this.st, this.features);
  }
}
