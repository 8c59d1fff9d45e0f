/**
 * Feature snapshots as numbers, for the forest and for rules. Pure.
 *
 * Numbers stay as they are, booleans become 1/0, risk tiers LOW/MEDIUM/HIGH become 0/1/2, and a
 * missing value (null: no card, unknown reference data, first event of an entity) becomes NaN,
 * which the forest fills with its training median and which every rule comparison reads as false.
 */
import { objectSource, snapshotFeatureNames, type FeatureSource } from '../domain/snapshot.ts';
import type { WindowSpec } from '../domain/windows.ts';

const TIERS: Readonly<Record<string, number>> = { LOW: 0, MEDIUM: 1, HIGH: 2 };

/** One snapshot value as a number (NaN when missing or not numeric). */
export function numericValue(v: unknown): number {
  if (typeof v === 'number') return Number.isFinite(v) ? v : NaN;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') return TIERS[v] ?? NaN;
  return NaN;
}

/**
 * Where each of a fixed list of names sits in the layout of sources that read by slot
 * (FeatureSource.at), worked out once per layout: a look-up by name per feature per transaction
 * was most of the cost of building a model's vector on the ingest path. Keeps the last layout seen
 * (a process has one).
 */
export class SlotMap {
  private layout: readonly string[] | null = null;
  private slots = new Int32Array(0);

  constructor(private readonly names: readonly string[]) {}

  /** The slot of each name in `source` (-1: it has none), or null when it reads by name only. */
  of(source: FeatureSource): Int32Array | null {
    if (source.at === undefined) return null;
    const layout = source.names;
    if (layout !== this.layout) {
      const index = new Map(layout.map((n, i) => [n, i]));
      this.slots = Int32Array.from(this.names, (n) => index.get(n) ?? -1);
      this.layout = layout;
    }
    return this.slots;
  }
}

/** Maps snapshots onto a model's feature list, in its order. */
export class FeatureSpace {
  readonly names: readonly string[];
  private readonly slots: SlotMap;

  constructor(names: readonly string[]) {
    if (names.length === 0) throw new RangeError('a feature space needs at least one feature');
    if (new Set(names).size !== names.length) throw new RangeError('feature names repeat');
    this.names = Object.freeze([...names]);
    this.slots = new SlotMap(this.names);
  }

  /** The names a snapshot over these windows offers; a model may use any subset. */
  static available(windows: readonly WindowSpec[]): string[] {
    return snapshotFeatureNames(windows);
  }

  /** Names of this space that snapshots over `windows` lack (a model trained elsewhere). */
  missingFrom(windows: readonly WindowSpec[]): string[] {
    const have = new Set(snapshotFeatureNames(windows));
    return this.names.filter((n) => !have.has(n));
  }

  /** The vector of a snapshot object (parsed `transactions.features` JSON). */
  fromObject(
    snapshot: Readonly<Record<string, unknown>>,
    out: Float64Array<ArrayBufferLike> = new Float64Array(this.names.length),
  ): Float64Array<ArrayBufferLike> {
    return this.fromSource(objectSource(snapshot), out);
  }

  /** The vector of a feature source (the ingest path's snapshot, read in place). */
  fromSource(
    source: FeatureSource,
    out: Float64Array<ArrayBufferLike> = new Float64Array(this.names.length),
  ): Float64Array<ArrayBufferLike> {
    const slots = this.slots.of(source);
    if (slots !== null) for (let i = 0; i < slots.length; i++) out[i] = numericValue(source.at?.(slots[i] as number));
    else for (let i = 0; i < this.names.length; i++) out[i] = numericValue(source.get(this.names[i] as string));
    return out;
  }
}
