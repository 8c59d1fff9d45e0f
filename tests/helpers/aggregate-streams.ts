/**
 * The brute force that state/aggregates.ts is tested against (unit and integration tests): an
 * entity's live aggregates recomputed from the events each source partition applied to it, with
 * domain/windows.ts aggregateBruteForce at the merged head and the amount statistics by two passes.
 * Test support only.
 */
import type { EntityEvent } from '../../domain/entity-features.ts';
import { aggregateBruteForce, type WindowSpec } from '../../domain/windows.ts';
import type { EntityAggregates } from '../../state/aggregates.ts';
import type { EntityRef } from '../../state/keys.ts';
import { entityOf, type StreamTx } from './partition-streams.ts';

/**
 * The events one partition applied to an entity, in its order: not late, and not stale (outside the
 * largest window at the head they would make), as domain/entity-features.ts defines it.
 */
export function appliedEvents(events: readonly EntityEvent[], windows: readonly WindowSpec[]): EntityEvent[] {
  const largest = windows[windows.length - 1] as WindowSpec;
  const buckets = Math.ceil(largest.lengthMs / largest.bucketMs);
  let head: number | null = null;
  const out: EntityEvent[] = [];
  for (const e of events) {
    const next: number = head === null ? e.eventTime : Math.max(head, e.eventTime);
    const stale = Math.floor(e.eventTime / largest.bucketMs) <= Math.floor(next / largest.bucketMs) - buckets;
    if (e.late || stale) continue;
    head = next;
    out.push(e);
  }
  return out;
}

/** An entity's aggregates from each partition's events (in that partition's order); null when none applied. */
export function expectedAggregates(
  perPartition: ReadonlyArray<readonly EntityEvent[]>,
  windows: readonly WindowSpec[],
): EntityAggregates | null {
  const applied = perPartition.flatMap((events) => appliedEvents(events, windows));
  if (applied.length === 0) return null;
  const head = Math.max(...applied.map((e) => e.eventTime));
  // Unknown amounts (no FX rate) are counted and not summed.
  const asWindowEvents = applied.map((e) => ({ ...e, amountMinor: e.amountMinor ?? 0 }));
  const amounts = applied.flatMap((e) => (e.amountMinor === null ? [] : [e.amountMinor]));
  const n = amounts.length;
  const mean = n === 0 ? 0 : amounts.reduce((s, x) => s + x, 0) / n;
  const std = n < 2 ? 0 : Math.sqrt(amounts.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  return {
    head,
    windows: windows.map((w) => aggregateBruteForce(asWindowEvents, head, w)),
    amountN: n,
    amountMean: mean,
    amountStd: std,
    activity: windows.map((w) => bucketsBruteForce(applied, head, w)),
  };
}

/** A window's live buckets at `head` from the applied events: each bucket with an event, oldest first. */
function bucketsBruteForce(applied: readonly EntityEvent[], head: number, w: WindowSpec): EntityAggregates['activity'][number] {
  const oldest = Math.floor(head / w.bucketMs) - Math.ceil(w.lengthMs / w.bucketMs) + 1;
  const byIndex = new Map<number, { count: number; sumMinor: number }>();
  for (const e of applied) {
    const i = Math.floor(e.eventTime / w.bucketMs);
    if (i < oldest) continue;
    const b = byIndex.get(i) ?? { count: 0, sumMinor: 0 };
    b.count += 1;
    b.sumMinor += e.amountMinor ?? 0;
    byIndex.set(i, b);
  }
  return [...byIndex].sort(([a], [b]) => a - b).map(([i, b]) => ({ start: i * w.bucketMs, ...b }));
}

/**
 * Where two aggregates differ (null: they agree): head, windows, n and the live buckets exactly, mean and std within
 * 1e-9 relative (Welford and Chan's merge against two passes differ in the last bits).
 */
export function aggregatesMismatch(got: EntityAggregates | null, want: EntityAggregates | null): string | null {
  if (got === null || want === null) return got === want ? null : `${JSON.stringify(got)} vs ${JSON.stringify(want)}`;
  const exact = (a: EntityAggregates) => JSON.stringify({ head: a.head, windows: a.windows, n: a.amountN, activity: a.activity });
  if (exact(got) !== exact(want)) return `${exact(got)} vs ${exact(want)}`;
  const close = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));
  if (!close(got.amountMean, want.amountMean)) return `amount mean ${got.amountMean} vs ${want.amountMean}`;
  if (!close(got.amountStd, want.amountStd)) return `amount std ${got.amountStd} vs ${want.amountStd}`;
  return null;
}

/** An entity's events in a stream (duplicates are never applied), in offset order. */
export function eventsOf(stream: readonly StreamTx[], ref: EntityRef): EntityEvent[] {
  return stream.filter((t) => !t.duplicate && entityOf(t, ref.kind) === ref.id).map((t) => t.event);
}
