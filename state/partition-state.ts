/**
 * The "Windows" step of an ingest batch (issue 17, docs/state.md "The partition-state stage"): one
 * PartitionState per ingest process serves all its assigned partitions. For a batch of one source
 * partition it applies each non-duplicate transaction's event to its four entities' windows in
 * memory and returns the features after it, then the changed contributions to checkpoint.
 *
 * - Own contributions (this partition's part of an entity) are kept in memory between batches, read
 *   through from Redis on first touch (one pipelined read per batch for every entity it needs).
 * - The fence is the truth: a record at an offset ≤ the own contribution's fence is already in it and
 *   only read, one above it is applied, so an entity is never applied twice, whatever the batch cut.
 *   A FRESH record (no MySQL row) at or below a fence means Redis holds what MySQL lost: it is reported
 *   as an anomaly, never guessed at.
 * - Other partitions' contributions (merchants and devices always; an account or card only once one
 *   was found) are read at batch start and merged into the view; another source's blob is decoded
 *   only when its fence moved since the last decode (decode costs about a Redis write), and the view
 *   is rebuilt only when they changed or own applied an event the view found stale.
 * - The checkpoint blobs are encoded when the batch's events are applied, so the state written is the
 *   batch's even if the next batch is applied before this one's checkpoint (pipelined batches).
 * - Memory: an LRU of own contributions capped in approximate bytes; only entries whose last change
 *   is checkpointed are evicted. A write refused with a newer stored fence (a new owner wrote after
 *   us: we are a zombie or behind) drops the entry, so it is re-read next time.
 *
 * The caller's contract: after a batch fails anywhere between applyBatch and confirm, call
 * release(topic, partition) before retrying (memory holds the failed attempt's events, which the
 * retry would otherwise find at or below the fence as fresh records); on revocation, release too.
 */
import type { EntityEvent, EntityFeatures } from '../domain/entity-features.ts';
import { SNAPSHOT_ENTITIES, type EntityFeatureSet, type FlatFeatures } from '../domain/snapshot.ts';
import type { WindowSpec } from '../domain/windows.ts';
import { ENTITY_KINDS, type EntityKind } from '../platform/keys.ts';
import { TxmonError } from '../platform/errors.ts';
import { decodeWindowState, encodeWindowState } from './codec.ts';
import type { CheckpointOutcome, CheckpointWrite, Contribution, EntityStore } from './entity-store.ts';
import { sourceName, type EntityRef, type SourcePartition } from './keys.ts';
import {
  EntityView,
  EntityWindows,
  PER_WINDOW,
  TAIL,
  featureLength,
  geometryOf,
  type WindowBuckets,
  type WindowGeometry,
} from './window-engine.ts';

/** What the stage needs of the store (state/entity-store.ts; a fake in unit tests). */
export type PartitionStateStore = Pick<EntityStore, 'read'>;

/** MySQL's verdict on a transaction (sinks/lookup-stored.ts plus the in-flight set): a duplicate is never applied. */
export type DedupVerdict = 'fresh' | 'replay' | 'duplicate';

/** One valid transaction of a batch, in offset order. */
export interface StateTransaction {
  offset: bigint | string;
  verdict: DedupVerdict;
  account: string;
  card: string;
  merchant: string;
  device: string | null;
  event: EntityEvent;
}

/** A fresh record found at or below an entity's fence: Redis holds what MySQL has not (lost state). */
export interface FenceAnomaly {
  /** Index of the transaction in the batch. */
  index: number;
  kind: EntityKind;
  id: string;
  fence: bigint;
}

export interface PartitionStateOptions {
  windows: readonly WindowSpec[];
  /** Cap of the own contributions kept in memory, approximate bytes (default 128 MB). */
  cacheBytes?: number;
  /**
   * How long a shared entity's other contributions (merchants, devices, any entity found with
   * another partition's part) are used before they are read from the store again, ms (default
   * DEFAULT_SHARED_REFRESH_MS; 0: at every batch). Reading and merging them costs per entity per
   * batch, whatever the batch's size, so small batches (low latency) paid it many times a second.
   */
  sharedRefreshMs?: number;
  /** The clock of sharedRefreshMs (tests). */
  now?: () => number;
  /**
   * Whether this process holds every partition of a source topic now (the ingest: its assignment
   * covers the topic's partitions as the broker lists them). Then no other process writes a
   * contribution of that topic's partitions, and a shared entity whose other contributions are all
   * held here is refreshed from memory, without reading the store (default: never).
   */
  holdsAllOf?: (topic: string) => boolean;
  /**
   * Whether each batch encodes its changed contributions when it is applied (StateBatch.
   * checkpointWrites), so a caller may checkpoint batch n after applying n + 1 (default true). The
   * ingest sets false: it checkpoints a partition's changes per commit interval with `checkpoint`,
   * encoding each entity once per interval instead of once per batch.
   */
  encodeAtApply?: boolean;
}

/** What this process holds of a source partition since it first touched it (see `hold`). */
export interface HeldPartition {
  readonly source: SourcePartition;
  /** The offset after the last batch applied in memory whose rows MySQL holds (what a checkpoint now covers); null: none yet. */
  next: string | null;
  /** The partition's progress (state/marker.ts) as this process last read or wrote it; null: none recorded. */
  progress: bigint | null;
  /** When its last checkpoint was confirmed (ms, the `now` clock); -Infinity: none since it was held. */
  checkpointedAt: number;
  /** When its last checkpoint of shared contributions only (`checkpoint(source, { sharedOnly: true })`) was confirmed; -Infinity: none. */
  sharedCheckpointedAt: number;
  /**
   * The fraction of an interval after which its second checkpoint falls due, 0.75–1 by partition
   * number (`checkpointPhase`); every later one comes a whole interval after the one before. The
   * partitions a process holds, held together, would otherwise all checkpoint in the same batch
   * cycle every interval, a stall the whole fetch waits for; offset once, they stay apart.
   */
  readonly phase: number;
  /** Checkpoints (with the progress) confirmed since it was held. */
  checkpoints: number;
  /** While a restore replays the records below Kafka's committed offset: that offset; else null. */
  restoreTo: bigint | null;
}

/** A partition's changed contributions, encoded for EntityStore.checkpoint, and what to do with its outcomes. */
export interface PartitionCheckpoint {
  readonly writes: readonly CheckpointWrite[];
  confirm(outcomes: readonly CheckpointOutcome[]): void;
}

export const DEFAULT_STATE_CACHE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_SHARED_REFRESH_MS = 1_000;

/**
 * Another partition's contribution as the view last merged it: decoded from the store, or (local)
 * the own contribution of a partition this process also holds, shared by reference, never copied.
 */
interface Decoded {
  fence: bigint;
  state: EntityWindows;
  /** state.revision when the view last merged it (a local one changes in place). */
  revision: number;
  local: boolean;
}

/** The others of an entry that has none: one empty map for all of them, never written. */
const NO_OTHERS: ReadonlyMap<string, Decoded> = new Map();

/** One entity's own contribution for one source partition, in memory. */
interface Entry {
  readonly key: string;
  readonly source: string;
  readonly ref: EntityRef;
  view: EntityView;
  /** Highest offset of the source applied into own (-1: none). */
  fence: bigint;
  /** own.revision at the last confirmed checkpoint (or at the read). */
  saved: number;
  /**
   * own.revision at the last confirmed shared-only checkpoint (`checkpoint(source, { sharedOnly })`):
   * not sent again by the next one, but still changed for the checkpoint, which sends it again with
   * the progress, so a Redis that lost it meanwhile (a failover to a replica behind) gets it back
   * before a progress covers it.
   */
  sent: number;
  /** Other sources' contributions, decoded; read every batch once non-empty (NO_OTHERS while empty: most entries). */
  others: ReadonlyMap<string, Decoded>;
  /** Own applied an event the merged view found stale: the next batch rebuilds the view. */
  diverged: boolean;
  /** Batches between their load and their apply's end: such an entry is never evicted (see evict). */
  pins: number;
  /** When its contributions were last read from the store (the clock of sharedRefreshMs). */
  readAt: number;
  bytes: number;
  /** The live view it shares with the entity's other entries here (refreshFromMemory), or null. */
  group: Group | null;
  /**
   * Another partition's entry of the entity was dropped here: its contribution may be in the store
   * and not in memory, so the next refresh reads the store.
   */
  reread: boolean;
}

/**
 * Every entry of one shared entity in this process, one per source partition, while the process
 * holds every partition of the topic and the entity's contributions are all these entries' own:
 * their views share one live merged state (`live`; null with one member, whose view is its own),
 * each entry applying its events to it, so the view counts every partition's events up to the one
 * being applied and needs no refresh. Formed by refreshFromMemory; dissolved (each member reads
 * again at its next touch) when an entry of the entity is added or dropped, when one applied an
 * event the live view found stale, or when the process no longer holds every partition.
 */
interface Group {
  readonly key: string;
  readonly members: readonly Entry[];
  readonly live: EntityWindows | null;
  /**
   * It merged contributions of partitions held here whose entries were not in memory, as read from
   * the store: its members read again per sharedRefreshMs (a zombie of their last owner may still
   * write them), as entries outside a group do.
   */
  readonly frozen: boolean;
}

/** A batch's checkpoint, encoded when it was applied. */
export interface Pending {
  entry: Entry;
  revision: number;
}

/** What the stage computed for one batch. */
export class StateBatch {
  constructor(
    /**
     * The features after each transaction, flat: transaction i's entity k (SNAPSHOT_ENTITIES order)
     * at (i * 4 + k) * featureLength, in the engine's layout (window-engine.ts), unknown values NaN.
     * Meaningful only where complete(i).
     */
    readonly values: Float64Array,
    private readonly flags: Uint8Array,
    /** Fresh records at or below a fence (the caller treats the state as lost). */
    readonly anomalies: readonly FenceAnomaly[],
    private readonly writes: readonly CheckpointWrite[],
    private readonly pending: readonly Pending[],
    private readonly owner: PartitionState,
    /** Values per entity: featureLength(windows). */
    readonly featureLength: number,
  ) {}

  /** Whether transaction i has features: not a duplicate, and every entity of it applied (not at or below a fence). */
  complete(i: number): boolean {
    return ((this.flags[i] ?? 0) & COMPLETE) !== 0;
  }

  /** Transaction i's four entities' features (device null when it has none), or null when not complete(i). */
  features(i: number): EntityFeatureSet | null {
    const flags = this.flags[i] ?? 0;
    if ((flags & COMPLETE) === 0) return null;
    return {
      account: this.entity(i, 0),
      card: this.entity(i, 1),
      merchant: this.entity(i, 2),
      device: flags & HAS_DEVICE ? this.entity(i, 3) : null,
    };
  }

  /** Transaction i's features in place (domain/snapshot.ts FlatFeatures), or null when not complete(i): no copies. */
  flat(i: number): FlatFeatures | null {
    const flags = this.flags[i] ?? 0;
    if ((flags & COMPLETE) === 0) return null;
    return { values: this.values, at: i * 4 * this.featureLength, hasDevice: (flags & HAS_DEVICE) !== 0 };
  }

  private entity(i: number, k: number): EntityFeatures {
    return entityFeaturesAt(this.values, (i * 4 + k) * this.featureLength, this.featureLength);
  }

  /** The changed own contributions, encoded, with their new fences (for EntityStore.checkpoint). */
  checkpointWrites(): readonly CheckpointWrite[] {
    return this.writes;
  }

  /** After the checkpoint: marks what was stored, drops what a newer owner overtook. */
  confirm(outcomes: readonly CheckpointOutcome[]): void {
    if (outcomes.length !== this.writes.length)
      throw new RangeError(`${outcomes.length} outcomes for ${this.writes.length} checkpoint writes`);
    this.owner.settle(this.writes, this.pending, outcomes);
  }
}

const COMPLETE = 1;
const HAS_DEVICE = 2;

function orNull(x: number): number | null {
  return Number.isNaN(x) ? null : x;
}

/** One entity's features from the flat layout (NaN: unknown → null), without closures or copies of the array. */
function entityFeaturesAt(v: Float64Array, at: number, length: number): EntityFeatures {
  const windowCount = (length - TAIL) / PER_WINDOW;
  const windows: EntityFeatures['windows'] = [];
  for (let w = 0; w < windowCount; w++) {
    const k = at + w * PER_WINDOW;
    windows.push({
      count: v[k] as number,
      sumMinor: v[k + 1] as number,
      distinctMerchants: v[k + 2] as number,
      distinctCountries: v[k + 3] as number,
    });
  }
  const t = at + windowCount * PER_WINDOW;
  return {
    windows,
    amountN: v[t] as number,
    amountMean: v[t + 1] as number,
    amountStd: v[t + 2] as number,
    sincePrevMs: orNull(v[t + 3] as number),
    travelKm: orNull(v[t + 4] as number),
    travelKmh: orNull(v[t + 5] as number),
  };
}

/**
 * A partition's checkpoint phase (HeldPartition.phase): 1 for partition 0, then spread over
 * 0.75–1 by the golden ratio's fractional steps, so any number of consecutive partitions fall
 * due at distinct moments of the interval. No checkpoint comes later than the interval.
 */
export function checkpointPhase(partition: number): number {
  const f = (partition * 0.6180339887498949) % 1;
  return 1 - 0.25 * f;
}

/** The kinds whose other partitions' contributions are read again per refresh interval (with any entity found shared). */
const SHARED_KINDS: ReadonlySet<EntityKind> = new Set(['merchant', 'device']);

/** Whether other partitions' contributions of an entity are read (its kind is shared, or it was found with one). */
function isShared(kind: EntityKind, e: Entry | undefined): boolean {
  return SHARED_KINDS.has(kind) || (e !== undefined && e.others.size > 0);
}

export class PartitionState {
  private readonly geometry: readonly WindowGeometry[];
  private readonly featureLength: number;
  private readonly cacheBytes: number;
  private readonly sharedRefreshMs: number;
  private readonly now: () => number;
  private readonly holdsAllOf: (topic: string) => boolean;
  /** Own contributions by "<source>|<kind>:<id>", least recently used first. */
  private readonly cache = new Map<string, Entry>();
  /** Per source, the held entries whose own contribution changed since its last confirmed checkpoint. */
  private readonly dirty = new Map<string, Set<Entry>>();
  /** Source partitions held since their first touch (cleared by release). */
  private readonly partitions = new Map<string, HeldPartition>();
  private readonly encodeAtApply: boolean;
  private bytes = 0;
  /** Decodes done (own read-through and others), for tests and the bench. */
  decodes = 0;
  /** Shared entities refreshed from memory (holdsAllOf) instead of the store, for tests and the bench. */
  memoryRefreshes = 0;
  /** Live views of shared entities by "<kind>:<id>" (Group), while this process holds every partition. */
  private readonly groups = new Map<string, Group>();
  /** Shared entries dropped so far: a store read sent before a drop may lack what the drop left in the store only. */
  private drops = 0;

  constructor(
    private readonly store: PartitionStateStore,
    opts: PartitionStateOptions,
  ) {
    this.geometry = geometryOf(opts.windows);
    this.featureLength = featureLength(opts.windows.length);
    this.cacheBytes = opts.cacheBytes ?? DEFAULT_STATE_CACHE_BYTES;
    if (!(this.cacheBytes >= 0)) throw new RangeError(`cacheBytes must be ≥ 0, got ${this.cacheBytes}`);
    this.sharedRefreshMs = opts.sharedRefreshMs ?? DEFAULT_SHARED_REFRESH_MS;
    if (!(this.sharedRefreshMs >= 0)) throw new RangeError(`sharedRefreshMs must be ≥ 0, got ${this.sharedRefreshMs}`);
    this.now = opts.now ?? Date.now;
    this.holdsAllOf = opts.holdsAllOf ?? (() => false);
    this.encodeAtApply = opts.encodeAtApply ?? true;
  }

  /** Whether this process holds every partition of the topic (holdsAllOf): its shared entities' views are live. */
  holdsEveryPartitionOf(topic: string): boolean {
    return this.holdsAllOf(topic);
  }

  /** What this process holds of a source partition, or undefined when it is not held (never touched, or released). */
  heldPartition(source: SourcePartition): HeldPartition | undefined {
    return this.partitions.get(sourceName(source));
  }

  /**
   * Holds a source partition from its progress as read from the store: the caller then restores
   * whatever its input holds between that progress and Kafka's committed offset (docs/state.md "A
   * checkpoint per commit interval"). Held until release.
   */
  hold(source: SourcePartition, progress: bigint | null): HeldPartition {
    const h: HeldPartition = {
      source,
      next: null,
      progress,
      checkpointedAt: Number.NEGATIVE_INFINITY,
      sharedCheckpointedAt: Number.NEGATIVE_INFINITY,
      phase: checkpointPhase(source.partition),
      checkpoints: 0,
      restoreTo: null,
    };
    this.partitions.set(sourceName(source), h);
    return h;
  }

  /** The source partitions held. */
  heldPartitions(): HeldPartition[] {
    return [...this.partitions.values()];
  }

  /** Whether a held partition's checkpoint is due: `intervalMs` (0: always) since its last, on the `now` clock. */
  checkpointDue(held: HeldPartition, intervalMs: number): boolean {
    const span = held.checkpoints === 1 ? intervalMs * held.phase : intervalMs;
    return intervalMs === 0 || this.now() - held.checkpointedAt >= span;
  }

  /** Whether a checkpoint of its shared contributions is due: `intervalMs` (0: always) since the last checkpoint of either kind. */
  sharedCheckpointDue(held: HeldPartition, intervalMs: number): boolean {
    return intervalMs === 0 || this.now() - Math.max(held.checkpointedAt, held.sharedCheckpointedAt) >= intervalMs;
  }

  /** Whether a source partition has changes not yet checkpointed. */
  hasChanges(source: SourcePartition): boolean {
    return (this.dirty.get(sourceName(source))?.size ?? 0) > 0;
  }

  /**
   * Every change of a source partition's contributions since their last confirmed checkpoint,
   * encoded now (the state after the partition's last applied batch), for EntityStore.checkpoint.
   * Its confirm records a checkpoint of the held partition at the `now` clock.
   *
   * `sharedOnly`: only the contributions other partitions read (merchants, devices, any entity
   * found shared), the rest staying changed in memory; its confirm records a shared checkpoint. It
   * raises no progress: each write carries its fence, so a holder replaying from the older progress
   * applies to each entity only what is above it (docs/state.md "Shared contributions between
   * checkpoints").
   */
  checkpoint(source: SourcePartition, o: { sharedOnly?: boolean } = {}): PartitionCheckpoint {
    const src = sourceName(source);
    const writes: CheckpointWrite[] = [];
    const pending: Pending[] = [];
    for (const e of this.dirty.get(src) ?? []) {
      const own = e.view.own;
      if (own.revision === e.saved) continue;
      if (o.sharedOnly === true && (own.revision === e.sent || !isShared(e.ref.kind, e))) continue;
      writes.push({ ...e.ref, source, fence: e.fence, blob: encodeWindowState(own) });
      pending.push({ entry: e, revision: own.revision });
    }
    return {
      writes,
      confirm: (outcomes) => {
        this.settle(writes, pending, outcomes, o.sharedOnly === true);
        const h = this.partitions.get(src);
        if (h && o.sharedOnly === true) h.sharedCheckpointedAt = this.now();
        else if (h) {
          h.checkpointedAt = this.now();
          h.checkpoints++;
        }
      },
    };
  }

  /**
   * A checkpoint's outcomes: marks what was stored, drops what a newer owner overtook. `sharedOnly`:
   * marks it sent only (it stays changed until a checkpoint with the progress stores it again).
   */
  settle(
    writes: readonly CheckpointWrite[],
    pending: readonly Pending[],
    outcomes: readonly CheckpointOutcome[],
    sharedOnly = false,
  ): void {
    if (outcomes.length !== writes.length)
      throw new RangeError(`${outcomes.length} outcomes for ${writes.length} checkpoint writes`);
    outcomes.forEach((o, i) => {
      const w = writes[i] as CheckpointWrite;
      const p = pending[i] as Pending;
      if ((o.written || o.fence === w.fence) && sharedOnly) p.entry.sent = Math.max(p.entry.sent, p.revision);
      else if (o.written || o.fence === w.fence) {
        p.entry.saved = Math.max(p.entry.saved, p.revision);
        if (p.entry.saved === p.entry.view.own.revision) this.dirty.get(p.entry.source)?.delete(p.entry);
      } else if (o.fence > w.fence) this.drop(p.entry);
      else throw new TxmonError('INVARIANT_BROKEN', `checkpoint refused fence ${w.fence} with a lower stored one ${o.fence}`);
    });
    this.evict();
  }

  /** Approximate bytes held in memory. */
  get heldBytes(): number {
    return this.bytes;
  }

  /** Entities held in memory. */
  get held(): number {
    return this.cache.size;
  }

  /** Applies a batch of one partition (transactions in offset order); one store read at most. */
  async applyBatch(
    source: SourcePartition,
    txs: readonly StateTransaction[],
    opts: { afterReadsSent?: () => void } = {},
  ): Promise<StateBatch> {
    const src = sourceName(source);
    const offsets = txs.map((t) => BigInt(t.offset));
    for (let i = 1; i < offsets.length; i++)
      if ((offsets[i] as bigint) <= (offsets[i - 1] as bigint)) throw new RangeError(`batch offsets not ascending at ${i}`);
    const entries = await this.load(src, this.holdsAllOf(source.topic), txs, opts.afterReadsSent);
    try {
      return this.apply(source, txs, offsets, entries);
    } finally {
      for (const byId of entries) for (const e of byId.values()) e.pins--;
      this.evict();
    }
  }

  /** The batch's records applied to its loaded entries, features kept, changed contributions encoded. */
  private apply(
    source: SourcePartition,
    txs: readonly StateTransaction[],
    offsets: readonly bigint[],
    entries: ReadonlyArray<Map<string, Entry>>,
  ): StateBatch {
    const length = this.featureLength;
    const values = new Float64Array(txs.length * 4 * length);
    const incomplete = new Uint8Array(txs.length);
    const anomalies: FenceAnomaly[] = [];
    // Encoded right after an entity's last record, while its state is still in the CPU cache.
    const blobs = new Map<Entry, Buffer>();
    for (let k = 0; k < 4; k++) {
      const kind = SNAPSHOT_ENTITIES[k] as EntityKind;
      const { order, of } = byEntity(txs, kind, entries[k] as Map<string, Entry>);
      for (let j = 0; j < order.length; j++) {
        const i = order[j] as number;
        const t = txs[i] as StateTransaction;
        const e = of[i] as Entry;
        const offset = offsets[i] as bigint;
        if (offset <= e.fence) {
          incomplete[i] = 1;
          if (t.verdict === 'fresh') anomalies.push({ index: i, kind, id: e.ref.id, fence: e.fence });
        } else {
          this.applyTo(e, t.event, values, (i * 4 + k) * length);
          e.fence = offset;
        }
        const last = j + 1 === order.length || of[order[j + 1] as number] !== e;
        if (this.encodeAtApply && last && e.view.own.revision !== e.saved) blobs.set(e, encodeWindowState(e.view.own));
      }
    }
    // In transaction order, then entity order, whatever the order of the applies.
    anomalies.sort((a, b) => a.index - b.index || SNAPSHOT_ENTITIES.indexOf(a.kind) - SNAPSHOT_ENTITIES.indexOf(b.kind));
    const flags = new Uint8Array(txs.length);
    for (let i = 0; i < txs.length; i++) {
      const t = txs[i] as StateTransaction;
      if (t.verdict !== 'duplicate') flags[i] = (incomplete[i] === 1 ? 0 : COMPLETE) | (t.device === null ? 0 : HAS_DEVICE);
    }
    const writes: CheckpointWrite[] = [];
    const pending: Pending[] = [];
    const src = sourceName(source);
    let dirty = this.dirty.get(src);
    if (dirty === undefined) this.dirty.set(src, (dirty = new Set()));
    for (const byId of entries)
      for (const e of byId.values()) {
        // Own applied an event the live view found stale: the members rebuild it at their next touch.
        if (e.diverged && e.group) this.dissolve(e.group);
        const own = e.view.own;
        if (own.revision !== e.saved) {
          dirty.add(e);
          if (this.encodeAtApply) {
            writes.push({ ...e.ref, source, fence: e.fence, blob: blobs.get(e) ?? encodeWindowState(own) });
            pending.push({ entry: e, revision: own.revision });
          }
        }
        const bytes = entryBytes(e);
        if (this.cache.get(e.key) === e) this.bytes += bytes - e.bytes;
        e.bytes = bytes;
      }
    return new StateBatch(values, flags, anomalies, writes, pending, this, length);
  }

  /** Applies one event to an entry's view, features into `into` at `at`; notes when own applied what the merged view did not. */
  private applyTo(e: Entry, event: EntityEvent, into: Float64Array, at: number): void {
    const own = e.view.own;
    const view = e.view.view;
    if (view === own) {
      own.apply(event, into, at);
      return;
    }
    const ownBefore = own.revision;
    const viewBefore = view.revision;
    e.view.apply(event, into, at);
    if (own.revision - ownBefore !== view.revision - viewBefore) e.diverged = true;
  }

  /**
   * The batch's entries: held ones, and in one read the missing ones plus every entity whose other
   * partitions' contributions are needed (merchants, devices, and any entity found shared).
   */
  private async load(
    src: string,
    holdsAll: boolean,
    txs: readonly StateTransaction[],
    afterReadsSent?: () => void,
  ): Promise<Array<Map<string, Entry>>> {
    // Per kind, by id: the batch's loop then looks entries up without building a key per record.
    const entries = SNAPSHOT_ENTITIES.map(() => new Map<string, Entry>());
    const reading = SNAPSHOT_ENTITIES.map(() => new Set<string>());
    const toRead: EntityRef[] = [];
    const now = this.now();
    for (const t of txs) {
      if (t.verdict === 'duplicate') continue;
      for (let k = 0; k < 4; k++) {
        const kind = SNAPSHOT_ENTITIES[k] as EntityKind;
        const id = entityId(t, kind);
        const mine = entries[k] as Map<string, Entry>;
        const queued = reading[k] as Set<string>;
        if (id === null || mine.has(id) || queued.has(id)) continue;
        const held = this.cache.get(cacheKey(src, kind, id));
        if (held?.group) {
          // A live view: every contribution's events applied to it as they come, nothing to read.
          if (holdsAll && (!held.group.frozen || now - held.readAt < this.sharedRefreshMs)) {
            mine.set(id, this.touch(held));
            continue;
          }
          this.dissolve(held.group, held.group.frozen);
        }
        const shared = isShared(kind, held);
        if (held && !held.reread && (!shared || now - held.readAt < this.sharedRefreshMs)) {
          // Others as read last time; a view own moved past (diverged) is rebuilt from them.
          if (held.diverged) this.rebase(held);
          mine.set(id, this.touch(held));
        } else if (held && holdsAll && !held.reread && this.refreshFromMemory(held, now)) {
          mine.set(id, this.touch(held));
        } else {
          queued.add(id);
          toRead.push({ kind, id });
        }
      }
    }
    try {
      // Drops after this point may have taken contributions into the store after the read saw it.
      const drops = this.drops;
      const reading = toRead.length === 0 ? undefined : this.store.read(toRead);
      // The read is on its way (the store sends before its first await): what the caller sends now
      // on the same connection runs after it. Should the callback throw, the read's own failure
      // is not left unhandled (this batch fails with the callback's).
      // eslint-disable-next-line no-restricted-syntax
      reading?.catch(() => undefined);
      afterReadsSent?.();
      const found = reading === undefined ? [] : await reading;
      toRead.forEach((ref, i) => {
        const e = this.refresh(src, ref, found[i] as Map<string, Contribution>, now, drops);
        // Every contribution in memory (one process holding them all): the live view at once.
        if (holdsAll && isShared(ref.kind, e)) this.refreshFromMemory(e, now);
        (entries[SNAPSHOT_ENTITIES.indexOf(ref.kind)] as Map<string, Entry>).set(ref.id, this.touch(e));
      });
    } catch (err) {
      for (const byId of entries) for (const e of byId.values()) e.pins--;
      throw err;
    }
    return entries;
  }

  /** An entry brought up to date with what the store holds of it (own on first touch, others always). */
  private refresh(
    src: string,
    ref: EntityRef,
    stored: ReadonlyMap<string, Contribution>,
    now: number,
    dropsAtRead: number,
  ): Entry {
    const key = cacheKey(src, ref.kind, ref.id);
    let e = this.cache.get(key);
    // Pulled into a group while its read was on its way (another partition's batch): the group
    // ends, and the entry's view is rebuilt below from what it read (and the group formed again
    // from it when the batch holds every partition).
    if (e?.group) this.dissolve(e.group);
    const mine = stored.get(src);
    // A stored fence above ours: another owner moved on (we were a zombie or behind); take the store's.
    if (e && mine && mine.fence > e.fence) {
      this.drop(e);
      e = undefined;
    }
    let changed = false;
    if (!e) {
      // A new contribution of the entity here: a live view of the others lacks it.
      if (this.groups.size > 0) {
        if (SHARED_KINDS.has(ref.kind)) this.refreshSiblings(src, ref, false);
        else {
          const g = this.groups.get(groupKey(ref));
          if (g) this.dissolve(g);
        }
      }
      const own = mine ? this.decode(mine.blob) : new EntityWindows(this.geometry);
      const fence = mine?.fence ?? -1n;
      e = {
        key,
        source: src,
        ref,
        view: new EntityView(own),
        fence,
        saved: own.revision,
        sent: own.revision,
        others: NO_OTHERS,
        diverged: false,
        pins: 0,
        readAt: now,
        bytes: 0,
        group: null,
        reread: false,
      };
      this.cache.set(key, e);
      changed = true;
    }
    // Allocated at the first other contribution: most entities have none (an account's partition only).
    let others: Map<string, Decoded> | undefined;
    const take = (name: string, d: Decoded): void => {
      const had = e.others.get(name);
      if (had === undefined || had.state !== d.state || had.revision !== d.revision) changed = true;
      (others ??= new Map()).set(name, d);
    };
    for (const [name, c] of stored) {
      if (name === src) continue;
      // A partition this process holds too: its own contribution in memory, at least as fresh as
      // the store's, unless another owner wrote past it (then this copy is a zombie's: decoded).
      const sibling = this.sibling(name, ref);
      if (sibling !== undefined && sibling.fence >= c.fence) {
        take(name, { fence: sibling.fence, state: sibling.view.own, revision: sibling.view.own.revision, local: true });
        continue;
      }
      const had = e.others.get(name);
      if (had && !had.local && had.fence === c.fence) (others ??= new Map()).set(name, had);
      else {
        (others ??= new Map()).set(name, { fence: c.fence, state: this.decode(c.blob), revision: 0, local: false });
        changed = true;
      }
    }
    // Partitions held here that touched the entity since their last checkpoint, not in the store yet.
    for (const name of this.partitions.keys()) {
      if (name === src || others?.has(name)) continue;
      const sibling = this.sibling(name, ref);
      if (sibling === undefined || sibling.view.own.head === null) continue;
      take(name, { fence: sibling.fence, state: sibling.view.own, revision: sibling.view.own.revision, local: true });
    }
    if ((others?.size ?? 0) !== e.others.size) changed = true;
    e.others = others ?? NO_OTHERS;
    e.readAt = now;
    // An entry dropped meanwhile may have put its contribution in the store after this read.
    e.reread = this.drops !== dropsAtRead;
    // A live view of a group that ended is nobody's to keep: the entry's own view is rebuilt.
    if (changed || e.diverged || e.view.isShared) this.rebase(e);
    return e;
  }

  /**
   * A shared entry's refresh when this process holds every partition of its topic. When each other
   * contribution it read is a sibling's in memory (the entry this process holds for it now) or, for
   * a partition held here with no entry in memory, as the store gave it, and no other partition held
   * here touched the entity since, nothing newer is anywhere: the entity's entries here then form a
   * group, one live view merged from them, which each applies its events to from now on (Group).
   * False: read the store.
   */
  private refreshFromMemory(e: Entry, now: number): boolean {
    if (e.reread) return false;
    let frozen: EntityWindows[] | undefined;
    for (const [name, d] of e.others) {
      const sibling = this.sibling(name, e.ref);
      if (d.local ? sibling?.view.own !== d.state : sibling !== undefined || !this.partitions.has(name)) return false;
      if (!d.local) (frozen ??= []).push(d.state);
    }
    // A copy from the store is used for sharedRefreshMs from its read, in a group or not.
    if (frozen !== undefined && now - e.readAt >= this.sharedRefreshMs) return false;
    const readAt = frozen === undefined ? now : e.readAt;
    const members: Entry[] = [e];
    for (const name of this.partitions.keys()) {
      if (name === e.source) continue;
      const sibling = this.sibling(name, e.ref);
      if (sibling === undefined) continue;
      if (!e.others.has(name) && sibling.view.own.head !== null) return false;
      members.push(sibling);
    }
    const key = groupKey(e.ref);
    const old = this.groups.get(key);
    if (old) this.dissolve(old);
    let live: EntityWindows | null = null;
    if (members.length + (frozen?.length ?? 0) > 1) {
      live = (members[0] as Entry).view.own.clone();
      for (let i = 1; i < members.length; i++) live.merge((members[i] as Entry).view.own);
      for (const f of frozen ?? []) live.merge(f);
    }
    const g: Group = { key, members, live, frozen: frozen !== undefined };
    this.groups.set(key, g);
    for (const m of members) {
      m.group = g;
      m.view.adopt(live);
      m.diverged = false;
      m.readAt = readAt;
    }
    this.memoryRefreshes++;
    return true;
  }

  /**
   * Ends a group: its members keep the live view for the batches that loaded them and read again
   * at their next touch, which rebuilds their views: from the store when `dropped` (a member left
   * memory, its contribution maybe only in the store), else from memory if it can.
   */
  private dissolve(g: Group, dropped = false): void {
    if (this.groups.get(g.key) === g) this.groups.delete(g.key);
    for (const m of g.members)
      if (m.group === g) {
        m.group = null;
        m.readAt = Number.NEGATIVE_INFINITY;
        if (dropped) m.reread = true;
      }
  }

  /**
   * Another source partition's entry of an entity was added or dropped here: the entity's group
   * ends, and its other entries here refresh at their next touch (from the store when `reread`: the
   * dropped contribution may be there and not in memory).
   */
  private refreshSiblings(src: string, ref: EntityRef, reread: boolean): void {
    if (reread) this.drops++;
    // Without groups (several processes) the siblings keep their refresh interval, as before.
    const live = this.groups.size > 0;
    const g = live ? this.groups.get(groupKey(ref)) : undefined;
    if (g) this.dissolve(g, reread);
    for (const name of this.partitions.keys()) {
      const sibling = name === src ? undefined : this.sibling(name, ref);
      if (sibling === undefined) continue;
      if (live) sibling.readAt = Number.NEGATIVE_INFINITY;
      if (reread) sibling.reread = true;
    }
  }

  /** The entry of a source partition this process holds, for an entity (undefined: not held, or not in memory). */
  private sibling(name: string, ref: EntityRef): Entry | undefined {
    return this.partitions.has(name) ? this.cache.get(cacheKey(name, ref.kind, ref.id)) : undefined;
  }

  /** Rebuilds an entry's view from own and its others. */
  private rebase(e: Entry): void {
    const states: EntityWindows[] = [];
    for (const d of e.others.values()) {
      d.revision = d.state.revision;
      states.push(d.state);
    }
    e.view.rebase(states);
    e.diverged = false;
  }

  private decode(blob: Buffer): EntityWindows {
    this.decodes++;
    return decodeWindowState(blob, this.geometry);
  }

  /** Marks an entry most recently used and pins it for the batch being loaded. */
  private touch(e: Entry): Entry {
    e.pins++;
    this.cache.delete(e.key);
    this.cache.set(e.key, e);
    return e;
  }

  /** Forgets an entry (re-read from the store on next touch). */
  drop(e: Entry): void {
    if (this.cache.get(e.key) !== e) return;
    // Its contribution may be in the store: the entity's other entries here must read it there.
    if (e.group || isShared(e.ref.kind, e)) this.refreshSiblings(e.source, e.ref, true);
    this.cache.delete(e.key);
    this.dirty.get(e.source)?.delete(e);
    this.bytes -= e.bytes;
  }

  /**
   * Evicts least recently used entries whose changes are all checkpointed, down to the cap. Not a
   * pinned one: batches of other partitions run while a batch awaits its read, and an entry evicted
   * between a batch's load and its apply would be applied outside memory, so the partition's next
   * batch would read the store's older copy before this batch's checkpoint lands.
   */
  evict(): void {
    if (this.bytes <= this.cacheBytes) return;
    for (const e of this.cache.values()) {
      if (this.bytes <= this.cacheBytes) return;
      if (e.pins === 0 && e.view.own.revision === e.saved) this.drop(e);
    }
  }

  /** Drops every partition's entries (a rebalance: the partitions kept may have moved on meanwhile). */
  releaseAll(): void {
    this.cache.clear();
    this.groups.clear();
    this.dirty.clear();
    this.partitions.clear();
    this.bytes = 0;
  }

  /** Drops a partition's entries (revoked in a rebalance, or a failed batch to be retried). */
  release(topic: string, partition: number): void {
    const src = sourceName({ topic, partition });
    for (const e of [...this.cache.values()]) if (e.source === src) this.drop(e);
    this.dirty.delete(src);
    this.partitions.delete(src);
  }
}

/**
 * The batch's records of one entity kind grouped by entity, each entity's in offset order (`order`:
 * transaction indexes), with each record's entry (`of`). The stage applies entity by entity, not
 * transaction by transaction: an entity's windows depend only on its own events in order, so the
 * results are the same, and its state stays in the CPU cache across its records. Applied in
 * transaction order, nearly every apply met a state evicted from the cache by the ~1,800 others of
 * the batch, which made an apply several times slower than bench/state-engine.ts's.
 */
function byEntity(
  txs: readonly StateTransaction[],
  kind: EntityKind,
  byId: ReadonlyMap<string, Entry>,
): { order: Int32Array; of: Array<Entry | undefined> } {
  const ordinals = new Map<Entry, number>();
  const of = new Array<Entry | undefined>(txs.length);
  const starts = new Int32Array(byId.size + 1);
  let total = 0;
  for (let i = 0; i < txs.length; i++) {
    const t = txs[i] as StateTransaction;
    if (t.verdict === 'duplicate') continue;
    const id = entityId(t, kind);
    if (id === null) continue;
    const e = byId.get(id) as Entry;
    of[i] = e;
    let o = ordinals.get(e);
    if (o === undefined) {
      o = ordinals.size;
      ordinals.set(e, o);
    }
    starts[o + 1] = (starts[o + 1] as number) + 1;
    total++;
  }
  for (let o = 1; o < starts.length; o++) starts[o] = (starts[o] as number) + (starts[o - 1] as number);
  const order = new Int32Array(total);
  for (let i = 0; i < txs.length; i++) {
    const e = of[i];
    if (e === undefined) continue;
    const o = ordinals.get(e) as number;
    order[starts[o] as number] = i;
    starts[o] = (starts[o] as number) + 1;
  }
  return { order, of };
}

function entityId(t: StateTransaction, kind: EntityKind): string | null {
  return kind === 'account' ? t.account : kind === 'card' ? t.card : kind === 'merchant' ? t.merchant : t.device;
}

/** A shared entity's key among the groups. */
function groupKey(ref: EntityRef): string {
  return `${ENTITY_KINDS[ref.kind]}:${ref.id}`;
}

/** An own contribution's key in the LRU. */
function cacheKey(src: string, kind: EntityKind, id: string): string {
  return `${src}|${ENTITY_KINDS[kind]}:${id}`;
}

/**
 * Approximate heap of one state: measured ~4.5 KB for an account and ~6.6 KB for a merchant
 * (bench/state-engine.ts "heap kept"); counted from its parts so a busy entity weighs more.
 */
function stateBytes(s: EntityWindows): number {
  let n = 400 + 80 * (s.merchants.size + s.countries.size);
  for (const x of s.windows as WindowBuckets[]) n += 200 + 8 * x.b.length;
  return n;
}

/** An entry's approximate heap: own, the merged view if any, the decoded others (a local one is its partition's entry's). */
function entryBytes(e: Entry): number {
  let n = 200 + stateBytes(e.view.own);
  // A live view is counted once over its group's members.
  if (e.view.view !== e.view.own) n += stateBytes(e.view.view) / (e.group?.members.length ?? 1);
  for (const d of e.others.values()) if (!d.local) n += stateBytes(d.state);
  return n;
}
