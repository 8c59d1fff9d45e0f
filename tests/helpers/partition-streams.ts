/**
 * Test support for the partition-state stage (state/partition-state.ts): random transaction streams
 * over accounts, cards, merchants and devices of one partition, their brute-force features
 * (domain/entity-features.ts), an in-memory twin of EntityStore's fenced read/checkpoint for unit
 * tests, and a driver that runs a stream through batches with crashes at every step of a batch
 * ("One batch, in order" in docs/state.md), as the ingest processor will.
 */
import fc from 'fast-check';
import { entityFeaturesBruteForce, featureArray, type EntityEvent, type EntityFeatures } from '../../domain/entity-features.ts';
import { SNAPSHOT_ENTITIES, type EntityFeatureSet } from '../../domain/snapshot.ts';
import type { WindowSpec } from '../../domain/windows.ts';
import type { EntityKind } from '../../platform/keys.ts';
import { decodeWindowState } from '../../state/codec.ts';
import type { CheckpointOutcome, CheckpointWrite, Contribution } from '../../state/entity-store.ts';
import { sourceName, type EntityRef, type SourcePartition } from '../../state/keys.ts';
import { PartitionState, type StateBatch, type StateTransaction } from '../../state/partition-state.ts';
import { EntityWindows, geometryOf } from '../../state/window-engine.ts';
import { eventStream, type StreamScale } from './window-streams.ts';

/** A transaction of a generated stream: its entities, its event, whether it is a duplicate. */
export interface StreamTx {
  account: string;
  card: string;
  merchant: string;
  device: string | null;
  event: EntityEvent;
  duplicate: boolean;
}

/**
 * A stream of one partition: accounts `<tag>a0..`, each with its own cards, merchants and devices
 * from pools shared by every partition (`m0..`, `d0..`), ~10 % duplicates.
 */
export function txStream(scale: StreamScale, tag: string, maxLength = 80): fc.Arbitrary<StreamTx[]> {
  const pick = fc.record({
    account: fc.integer({ min: 0, max: 3 }),
    card: fc.integer({ min: 0, max: 1 }),
    merchant: fc.integer({ min: 0, max: 4 }),
    device: fc.option(fc.integer({ min: 0, max: 3 }), { freq: 4 }),
    duplicate: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
  });
  return eventStream(scale, maxLength).chain((events) =>
    fc.array(pick, { minLength: events.length, maxLength: events.length }).map((ps) =>
      events.map((event, i) => {
        const p = ps[i] as (typeof ps)[number];
        return {
          account: `${tag}a${p.account}`,
          card: `${tag}a${p.account}c${p.card}`,
          merchant: `m${p.merchant}`,
          device: p.device === null ? null : `d${p.device}`,
          event,
          duplicate: p.duplicate,
        };
      }),
    ),
  );
}

export function entityOf(t: StreamTx, kind: EntityKind): string | null {
  return kind === 'account' ? t.account : kind === 'card' ? t.card : kind === 'merchant' ? t.merchant : t.device;
}

/** Every entity of a stream. */
export function entitiesOf(stream: readonly StreamTx[]): EntityRef[] {
  const seen = new Map<string, EntityRef>();
  for (const t of stream)
    for (const kind of SNAPSHOT_ENTITIES) {
      const id = entityOf(t, kind);
      if (id !== null) seen.set(`${kind}:${id}`, { kind, id });
    }
  return [...seen.values()];
}

/** Brute-force features of every non-duplicate transaction (by index) for each entity kind, and each entity's last. */
export function bruteForce(stream: readonly StreamTx[], windows: readonly WindowSpec[]) {
  const byTx = stream.map(() => new Map<EntityKind, EntityFeatures>());
  const last = new Map<string, EntityFeatures>();
  for (const kind of SNAPSHOT_ENTITIES) {
    const groups = new Map<string, number[]>();
    stream.forEach((t, i) => {
      const id = entityOf(t, kind);
      if (id === null || t.duplicate) return;
      const g = groups.get(id);
      if (g) g.push(i);
      else groups.set(id, [i]);
    });
    for (const [id, idx] of groups) {
      const fs = entityFeaturesBruteForce(
        idx.map((i) => (stream[i] as StreamTx).event),
        windows,
      );
      idx.forEach((i, j) => byTx[i]?.set(kind, fs[j] as EntityFeatures));
      last.set(`${kind}:${id}`, fs[fs.length - 1] as EntityFeatures);
    }
  }
  return { byTx, last };
}

/** The fenced read/checkpoint of state/entity-store.ts over a Map (unit tests only). */
export class FakeEntityStore {
  readonly hashes = new Map<string, Map<string, Contribution>>();
  reads = 0;

  async read(entities: readonly EntityRef[]): Promise<Array<Map<string, Contribution>>> {
    this.reads++;
    return entities.map((e) => new Map(this.hashes.get(`${e.kind}:${e.id}`) ?? []));
  }

  async checkpoint(writes: readonly CheckpointWrite[]): Promise<CheckpointOutcome[]> {
    return writes.map((w) => {
      const key = `${w.kind}:${w.id}`;
      const hash = this.hashes.get(key) ?? new Map<string, Contribution>();
      this.hashes.set(key, hash);
      const name = sourceName(w.source);
      const stored = hash.get(name);
      if (stored && stored.fence >= w.fence) return { written: false, fence: stored.fence };
      hash.set(name, { fence: w.fence, blob: Buffer.from(w.blob) });
      return { written: true, fence: w.fence };
    });
  }
}

/** What the driver needs of a store: EntityStore or the fake. */
export interface DrivenStore {
  read(entities: readonly EntityRef[]): Promise<Array<Map<string, Contribution>>>;
  checkpoint(writes: readonly CheckpointWrite[]): Promise<CheckpointOutcome[]>;
}

/**
 * Where a batch stops: nowhere, before MySQL, after MySQL (before the checkpoint), after half the
 * checkpoint's writes (a failure part-way), after the checkpoint (before Kafka's commit), or a
 * manual offset reset after the commit (replay from an earlier offset, with memory kept).
 */
export type Crash = 'none' | 'beforeMysql' | 'afterMysql' | 'partial' | 'afterCheckpoint' | 'reset';
export const CRASHES: readonly Crash[] = ['none', 'beforeMysql', 'afterMysql', 'partial', 'afterCheckpoint', 'reset'];

export interface DriveOptions {
  windows: readonly WindowSpec[];
  source: SourcePartition;
  cuts: readonly number[];
  crashes: readonly Crash[];
  cacheBytes?: number;
  /** Called with every batch's result and its transactions' stream indexes. */
  onBatch?: (batch: StateBatch, indexes: number[], txs: StateTransaction[]) => void;
}

/** The stage's input for the stream's records at `indexes` (offsets = indexes), with dedup verdicts from the rows "MySQL" holds. */
function batchOf(stream: readonly StreamTx[], indexes: readonly number[], rows: ReadonlySet<number>): StateTransaction[] {
  return indexes.map((i) => {
    const t = stream[i] as StreamTx;
    const verdict = t.duplicate ? 'duplicate' : rows.has(i) ? 'replay' : 'fresh';
    return { offset: BigInt(i), verdict, ...t };
  });
}

/**
 * Runs a stream through PartitionState batch by batch, as the ingest processor does: dedup verdicts
 * from the rows "MySQL" holds, MySQL, checkpoint, commit; a crash drops the process's memory and
 * restarts from the committed offset. Offsets are the stream's indexes.
 */
export async function drive(stream: readonly StreamTx[], store: DrivenStore, o: DriveOptions): Promise<void> {
  const rows = new Set<number>();
  const fresh = () => new PartitionState(store, { windows: o.windows, cacheBytes: o.cacheBytes });
  let ps = fresh();
  let committed = 0;
  let b = 0;
  while (committed < stream.length) {
    const size = o.cuts[b % o.cuts.length] as number;
    const crash = o.crashes[b] ?? 'none';
    b++;
    const indexes = stream.slice(committed, committed + size).map((_, j) => committed + j);
    const txs = batchOf(stream, indexes, rows);
    const batch = await ps.applyBatch(o.source, txs);
    o.onBatch?.(batch, indexes, txs);
    if (crash === 'beforeMysql') {
      ps = fresh();
      continue;
    }
    for (const i of indexes) if (!(stream[i] as StreamTx).duplicate) rows.add(i);
    if (crash === 'afterMysql') {
      ps = fresh();
      continue;
    }
    const writes = batch.checkpointWrites();
    if (crash === 'partial') {
      await store.checkpoint(writes.filter((_, j) => j % 2 === 0));
      ps = fresh();
      continue;
    }
    const outcomes = await store.checkpoint(writes);
    if (crash === 'afterCheckpoint') {
      ps = fresh();
      continue;
    }
    batch.confirm(outcomes);
    committed += indexes.length;
    if (crash === 'reset') committed = Math.max(0, committed - 3 * size);
  }
}

/**
 * Where a batch stops when checkpoints are per interval (the ingest's TXMON_STATE_CHECKPOINT_MS):
 * as Crash, plus after Kafka's commit with changes not yet checkpointed (the partition's progress in
 * the store trails the committed offset; the next holder replays from it).
 */
export type IntervalCrash = Exclude<Crash, 'reset'> | 'afterCommit';
export const INTERVAL_CRASHES: readonly IntervalCrash[] = [
  'none',
  'beforeMysql',
  'afterMysql',
  'partial',
  'afterCheckpoint',
  'afterCommit',
];

export interface IntervalDriveOptions extends Omit<DriveOptions, 'crashes'> {
  crashes: readonly IntervalCrash[];
  /** A checkpoint every this many batches of the holder (and at its first batch), as the interval does. */
  every: number;
  /**
   * Between checkpoints, the shared contributions alone every this many batches
   * (TXMON_STATE_SHARED_CHECKPOINT_MS): written with their fences, no progress raised.
   */
  sharedEvery?: number;
  /**
   * Whether the store loses the shared-only write of the holder's b-th batch right after
   * acknowledging it (a failover to a replica behind; the progress it holds is older anyway), with
   * `rollback`, which takes a snapshot and returns the function that restores it.
   */
  loseShared?: (b: number) => boolean;
  rollback?: () => () => void;
  /** Called when a new holder replays from the stored progress (from, to: the committed offset). */
  onRestore?: (from: number, to: number) => void;
}

/**
 * Runs a stream through PartitionState as the ingest does with a checkpoint per commit interval
 * (processors/ingest/ingest.processor.ts, docs/state.md "A checkpoint per commit interval"): batches
 * commit to "MySQL" and "Kafka" every time, but the partition's changes and its progress reach the
 * store only at a holder's first batch and every `every` batches. A crash drops memory; the next
 * holder reads the stored progress and, when it is below the committed offset, replays from it
 * (the records there are rows, so replays), also when the crash came after the stream's last batch
 * (the ingest restores on assignment). Ends with a final checkpoint (a graceful stop).
 */
export async function driveIntervals(
  stream: readonly StreamTx[],
  store: DrivenStore,
  o: IntervalDriveOptions,
): Promise<{ sharedWrites: number }> {
  const rows = new Set<number>();
  let sharedWrites = 0;
  const fresh = () => new PartitionState(store, { windows: o.windows, cacheBytes: o.cacheBytes, encodeAtApply: false });
  let ps = fresh();
  let committed = 0;
  let progress: number | null = null;
  let position = 0;
  let sinceCheckpoint = 0;
  let sinceShared = 0;
  let b = 0;
  const crashed = () => {
    ps = fresh();
    position = committed;
  };
  const checkpoint = async (end: number, half = false) => {
    const cp = ps.checkpoint(o.source);
    if (half) return void (await store.checkpoint(cp.writes.filter((_, j) => j % 2 === 0)));
    cp.confirm(await store.checkpoint(cp.writes));
    progress = Math.max(progress ?? 0, end);
    sinceCheckpoint = 0;
    sinceShared = 0;
  };
  for (;;) {
    // A new holder (an assignment, or the first batch after a crash) replays from the stored progress.
    if (ps.heldPartition(o.source) === undefined) {
      ps.hold(o.source, progress === null ? null : BigInt(progress));
      if (progress !== null && progress < position) {
        o.onRestore?.(progress, position);
        position = progress;
      }
      sinceCheckpoint = Infinity;
    }
    if (position >= stream.length) break;
    const size = o.cuts[b % o.cuts.length] as number;
    const crash = o.crashes[b] ?? 'none';
    b++;
    const indexes = stream.slice(position, position + size).map((_, j) => position + j);
    const end = position + indexes.length;
    const txs = batchOf(stream, indexes, rows);
    const batch = await ps.applyBatch(o.source, txs);
    o.onBatch?.(batch, indexes, txs);
    if (crash === 'beforeMysql') {
      crashed();
      continue;
    }
    for (const i of indexes) if (!(stream[i] as StreamTx).duplicate) rows.add(i);
    if (crash === 'afterMysql') {
      crashed();
      continue;
    }
    sinceCheckpoint++;
    sinceShared++;
    if (sinceCheckpoint >= o.every || crash === 'partial' || crash === 'afterCheckpoint') {
      await checkpoint(end, crash === 'partial');
      if (crash === 'partial' || crash === 'afterCheckpoint') {
        crashed();
        continue;
      }
    } else if (o.sharedEvery !== undefined && sinceShared >= o.sharedEvery) {
      const cp = ps.checkpoint(o.source, { sharedOnly: true });
      const restore = o.loseShared?.(b) === true ? o.rollback?.() : undefined;
      cp.confirm(await store.checkpoint(cp.writes));
      restore?.();
      sharedWrites += cp.writes.length;
      sinceShared = 0;
    }
    // Kafka's commit: a replay below the committed offset commits nothing.
    committed = Math.max(committed, end);
    position = end;
    if (crash === 'afterCommit') crashed();
  }
  await checkpoint(committed);
  return { sharedWrites };
}

/** An entity's stored state: all its contributions merged (empty when none). */
export async function storedState(store: DrivenStore, ref: EntityRef, windows: readonly WindowSpec[]): Promise<EntityWindows> {
  const [found] = await store.read([ref]);
  const geometry = geometryOf(windows);
  const merged = new EntityWindows(geometry);
  for (const c of (found ?? new Map<string, Contribution>()).values()) merged.merge(decodeWindowState(c.blob, geometry));
  return merged;
}

/** The features a stage result holds for one kind, flat (null when absent). */
export function featuresOf(set: EntityFeatureSet, kind: EntityKind): Array<number | null> | null {
  const f = set[kind];
  return f === null ? null : featureArray(f);
}
