/**
 * An entity's live windowed aggregates read from the partition-owned state (issue 17, docs/state.md
 * "Reading aggregates"): what the dashboard shows for an account and what the tests compare with a
 * recomputation from MySQL. It replaces the per-transaction design's entity-read.lua.
 *
 * An entity's hash holds one contribution per source partition that touched it; the aggregates are
 * those of their merge (EntityWindows.merge), evaluated at the merged head, the highest event time
 * any partition applied: per window count, sum, distinct merchants and countries of the live buckets,
 * then amount n, mean and sample std. For an entity with one contribution (an account, in practice a
 * card) these are exactly the values entity-read.lua returned for the same events; for a merchant or
 * device they are the merge of every owner's last checkpoint.
 */
import { parseEntityFeatures, type WindowValues } from '../domain/entity-features.ts';
import type { WindowSpec } from '../domain/windows.ts';
import { decodeWindowState } from './codec.ts';
import type { Contribution, EntityStore } from './entity-store.ts';
import type { EntityRef } from './keys.ts';
import { geometryOf, type EntityWindows, type WindowGeometry } from './window-engine.ts';

/** Live aggregates of one entity at its head (the values entity-read.lua returned). */
export interface EntityAggregates {
  /** The entity's latest applied event time, ms: the windows are evaluated here. */
  head: number;
  /** Per configured window, smallest first. */
  windows: WindowValues[];
  /** Running amount statistics over every applied event with a known base amount (not windowed). */
  amountN: number;
  amountMean: number;
  amountStd: number;
  /**
   * Per configured window, its live buckets oldest first: the bucket's start (ms of event time), its
   * events and the sum of their known base amounts (minor units). The account's recent activity as
   * the windows hold it (the console's timeline), with no read of MySQL.
   */
  activity: BucketActivity[][];
}

/** One live bucket of a window: events and the sum of their known base amounts. */
export interface BucketActivity {
  start: number;
  count: number;
  sumMinor: number;
}

/** What reading needs of the store (state/entity-store.ts; a fake in unit tests). */
export type AggregatesStore = Pick<EntityStore, 'read'>;

/**
 * The live aggregates of each entity, in order, from one store round trip; null for an entity with
 * no state (never seen, or idle past the state TTL).
 */
export async function readAggregates(
  store: AggregatesStore,
  windows: readonly WindowSpec[],
  entities: readonly EntityRef[],
): Promise<Array<EntityAggregates | null>> {
  if (entities.length === 0) return [];
  const geometry = geometryOf(windows);
  const found = await store.read(entities);
  return found.map((contributions) => aggregatesOf(contributions, geometry));
}

/** The aggregates of one entity's contributions (by source name, as EntityStore.read gives them); null when none has a head. */
export function aggregatesOf(
  contributions: ReadonlyMap<string, Contribution>,
  geometry: readonly WindowGeometry[],
): EntityAggregates | null {
  // Merged in one fixed order: HGETALL's field order is Redis's business, and the amount mean and
  // std of a merge depend on its order in the last bits. Two reads of the same state must agree.
  const sources = [...contributions.keys()].sort(compareSources);
  let view: EntityWindows | null = null;
  for (const source of sources) {
    const state = decodeWindowState((contributions.get(source) as Contribution).blob, geometry);
    if (state.head === null) continue;
    // Each decode is a fresh state of our own, so the first one can take the others' merges.
    view = view === null ? state : view.merge(state);
  }
  if (view === null || view.head === null) return null;
  // features() is the engine's read at the head without an event: the same layout and the same
  // std formula as its apply, which tests/integration/window-engine-lua.test.ts holds to the Lua.
  const f = parseEntityFeatures(view.features(), geometry.length);
  const activity = geometry.map((g, w) =>
    (view as EntityWindows).buckets(w).map(([index, count, sumMinor]) => ({ start: index * g.bucketMs, count, sumMinor })),
  );
  return {
    head: view.head,
    windows: f.windows,
    amountN: f.amountN,
    amountMean: f.amountMean,
    amountStd: f.amountStd,
    activity,
  };
}

/** "<topic>/<partition>" names by topic, then partition as a number (so 2 comes before 10). */
function compareSources(a: string, b: string): number {
  const ia = a.lastIndexOf('/');
  const ib = b.lastIndexOf('/');
  const ta = a.slice(0, ia);
  const tb = b.slice(0, ib);
  if (ta !== tb) return ta < tb ? -1 : 1;
  return Number(a.slice(ia + 1)) - Number(b.slice(ib + 1));
}
