/**
 * The stateful core's Redis side: dedup, windowed aggregates and feature snapshots for a batch, in
 * one pipelined round trip. One account-state.lua call per account (dedup + account windows +
 * snapshot, atomic in the account's slot) and one entity-state.lua call per card, merchant and
 * device (each idempotent on its own in its own slot). See DESIGN.md invariant 3.
 */
import { parseEntityFeatures, type EntityFeatures } from '../../domain/entity-features.ts';
import type { WindowSpec } from '../../domain/windows.ts';
import { StateLostError } from '../../platform/errors.ts';
import { entityKeys, stateMarkerKey, stateRoot, type EntityKind } from '../../platform/keys.ts';
import { AccountStatus, type ScriptArgs } from '../../platform/redis.ts';
import { execKeyed, perNodeKeys, type KeyedCommand, type StateRedis } from '../../platform/redis-pipelines.ts';
import { Packr, Unpackr } from 'msgpackr';
import { progressField } from '../../state/marker.ts';

/**
 * The scripts' msgpack: records and features as Lua's cmsgpack writes them (64-bit integers, such
 * as large sums, as plain numbers; arrays and strings only, no msgpackr extensions).
 */
const unpackr = new Unpackr({ int64AsType: 'number', useRecords: false });
const packr = new Packr({ useRecords: false });

/** An account's transaction record (account-state.lua): where it was first seen, its features, the opaque string. */
export interface AccountRecord {
  firstSeen: string;
  features: Array<number | null>;
  extra: string;
}

export function decodeAccountRecord(raw: Buffer): AccountRecord {
  const [firstSeen, features, extra] = unpackr.unpack(raw) as [string, Array<number | null>, string];
  return { firstSeen, features, extra };
}

export function encodeAccountRecord(r: AccountRecord): Buffer {
  return packr.pack([r.firstSeen, r.features, r.extra]);
}

/** A card's, merchant's or device's stored features (entity-state.lua's marker). */
export function encodeEntityFeatures(features: Array<number | null>): Buffer {
  return packr.pack(features);
}

/** A batch's place in its partition, recorded in the state marker (progress.lua). */
export interface BatchProgress {
  topic: string;
  partition: number;
  /** The offset after the batch, which will be committed to Kafka once the batch is durable. */
  next: string;
  /** Kafka's committed offset before the batch, when known. */
  committed: bigint | undefined;
}

export { progressField } from '../../state/marker.ts';

/** What the state stage needs of one valid transaction. */
export interface StateEvent {
  transactionId: string;
  accountId: string;
  cardToken: string;
  merchantId: string;
  deviceId: string | null;
  /** "<topic>/<partition>/<offset>" */
  position: string;
  eventTime: number;
  amountBaseMinor: number | null;
  country: string;
  lat: number | null;
  lon: number | null;
  late: boolean;
  /** Stored with the transaction by the account script and returned on replay (static features). */
  extra: string;
}

export type StateResult =
  | { status: 'new' | 'replay'; firstSeen: string; extra: string; features: Record<EntityKind, EntityFeatures | null> }
  | { status: 'duplicate'; firstSeen: string };

export interface WindowStateOptions {
  prefix: string;
  windows: readonly WindowSpec[];
  /** How long a transaction id is remembered by the account (dedup), seconds. */
  dedupTtlSeconds: number;
  /** How long windows, stats and entity markers live after their last update, seconds. */
  stateTtlSeconds: number;
  /** The state generation to start with (default 0). */
  generation?: number;
}

const KINDS_BESIDE_ACCOUNT = ['card', 'merchant', 'device'] as const;

/** The id of a transaction's entity of one kind (null: it has none, e.g. no device). */
export function entityId(e: StateEvent, kind: EntityKind): string | null {
  switch (kind) {
    case 'account':
      return e.accountId;
    case 'card':
      return e.cardToken;
    case 'merchant':
      return e.merchantId;
    case 'device':
      return e.deviceId;
  }
}

/** Live aggregates of one entity as entity-read.lua returns them. */
export interface EntityAggregates {
  head: number | null;
  windows: Array<{ count: number; sumMinor: number; distinctMerchants: number; distinctCountries: number }>;
  amountN: number;
  amountMean: number;
  amountStd: number;
}

export class WindowState {
  /** Pipelines sent (Redis round trips), for the benchmark. */
  roundTrips = 0;
  /** The windows as the scripts take them: "<bucketMs>:<buckets>,...". */
  readonly spec: string;

  /**
   * The state generation the scripts use (platform/keys.ts stateRoot). Set from the marker by the
   * rebuild and the processor; a batch that finds the marker on another generation adopts it and
   * fails, to be retried.
   */
  generation: number;

  constructor(
    private readonly redis: StateRedis,
    private readonly opts: WindowStateOptions,
  ) {
    this.generation = opts.generation ?? 0;
    this.spec = opts.windows.map((w) => `${w.bucketMs}:${Math.ceil(w.lengthMs / w.bucketMs)}`).join(',');
  }

  /** A store like this one on another state generation (the rebuild builds the next one with it). */
  forGeneration(generation: number): WindowState {
    return new WindowState(this.redis, { ...this.opts, generation });
  }

  /** Keys of one entity in the current generation. */
  keys(kind: EntityKind, id: string) {
    return entityKeys(stateRoot(this.opts.prefix, this.generation), kind, id);
  }

  /** The current windows of entities (one pipelined round trip); null for an entity with no state. */
  async read(entities: ReadonlyArray<{ kind: EntityKind; id: string }>): Promise<Array<EntityAggregates | null>> {
    const replies = await execKeyed(
      this.redis,
      entities.map((e) => {
        const key = this.keys(e.kind, e.id).state;
        return { key, add: (p) => p.txmonEntityReadV2(1, key, this.spec) };
      }),
    );
    return replies.map(([err, raw]) => {
      if (err) throw err;
      const a = JSON.parse(raw as string) as Array<number | null>;
      if (a[0] === null) return null;
      const n = this.opts.windows.length;
      return {
        head: a[0] as number,
        windows: Array.from({ length: n }, (_, w) => ({
          count: a[1 + 4 * w] as number,
          sumMinor: a[2 + 4 * w] as number,
          distinctMerchants: a[3 + 4 * w] as number,
          distinctCountries: a[4 + 4 * w] as number,
        })),
        amountN: a[1 + 4 * n] as number,
        amountMean: a[2 + 4 * n] as number,
        amountStd: a[3 + 4 * n] as number,
      };
    });
  }

  /** Script arguments of one entity's transactions (see the scripts' headers). */
  args(kind: EntityKind, id: string, events: readonly StateEvent[], txTtlSeconds: number): ScriptArgs {
    const keys = this.keys(kind, id);
    const allKeys = [keys.state, ...events.map((e) => keys.tx(e.transactionId))];
    const flat: Array<string | number | boolean | null> = [];
    for (const e of events)
      flat.push(
        e.position,
        e.eventTime,
        e.amountBaseMinor,
        e.merchantId,
        e.country,
        e.lat,
        e.lon,
        e.late,
        kind === 'account' ? e.extra : null,
      );
    return [allKeys.length, ...allKeys, txTtlSeconds, this.opts.stateTtlSeconds * 1000, this.spec, packr.pack(flat)];
  }

  /**
   * Applies a batch (in partition order) and returns one result per event, in the same order.
   * Throws StateLostError when the state marker is missing (unless `requireMarker` is false, for
   * the rebuild itself), and when `progress` shows that Redis lost writes Kafka's committed offset
   * relies on (then the marker is deleted first, so the windows are rebuilt). With `progress`, the
   * batch's next offset is recorded in the marker even when there are no events.
   */
  async apply(
    events: readonly StateEvent[],
    opts: { requireMarker?: boolean; progress?: BatchProgress } = {},
  ): Promise<StateResult[]> {
    return (await this.applyBatch(events, opts)).results;
  }

  /** apply(), also telling which state generation the scripts ran under (for the MySQL fence). */
  async applyBatch(
    events: readonly StateEvent[],
    opts: { requireMarker?: boolean; progress?: BatchProgress } = {},
  ): Promise<{ results: StateResult[]; generation: number; published: bigint | null }> {
    if (events.length === 0 && !opts.progress) return { results: [], generation: this.generation, published: null };
    // Groups keep arrival order; the first copy of a transaction id alone reaches the other entities,
    // so an in-batch re-send cannot touch a card or device the original did not.
    const groups = new Map<string, { kind: EntityKind; id: string; idx: number[] }>();
    const add = (kind: EntityKind, id: string, i: number) => {
      const k = `${kind}\u0000${id}`;
      const g = groups.get(k);
      if (g) g.idx.push(i);
      else groups.set(k, { kind, id, idx: [i] });
    };
    const firstCopy = new Set<string>();
    events.forEach((e, i) => {
      add('account', e.accountId, i);
      if (firstCopy.has(e.transactionId)) return;
      firstCopy.add(e.transactionId);
      for (const kind of KINDS_BESIDE_ACCOUNT) {
        const id = entityId(e, kind);
        if (id !== null) add(kind, id, i);
      }
    });
    const list = [...groups.values()];
    const usedGeneration = this.generation;
    const cmds: KeyedCommand[] = list.map((g) => {
      const evs = g.idx.map((i) => events[i] as StateEvent);
      const args =
        g.kind === 'account'
          ? this.args('account', g.id, evs, this.opts.dedupTtlSeconds)
          : this.args(g.kind, g.id, evs, this.opts.stateTtlSeconds);
      return {
        key: args[1] as string,
        add: (p) => (g.kind === 'account' ? p.txmonAccountStateV2Buffer(...args) : p.txmonEntityStateV2Buffer(...args)),
      };
    });
    // Checked last: if the markers are still there after the scripts ran, they ran on intact state.
    // (On a cluster every master has its own marker: platform/redis-pipelines.ts perNodeKeys.)
    const markers = perNodeKeys(this.redis, stateMarkerKey(this.opts.prefix));
    const progress = opts.progress;
    for (const marker of markers)
      cmds.push({
        key: marker,
        add: (p) =>
          progress
            ? p.txmonProgressV3(1, marker, progressField(progress), progress.next, progress.committed?.toString() ?? '')
            : p.exists(marker),
      });
    this.roundTrips++;
    const replies = await execKeyed(this.redis, cmds);
    const markerReplies = replies.slice(replies.length - markers.length);
    for (const [err] of markerReplies) if (err) throw err;
    let published: bigint | null = null;
    for (const [, reply] of markerReplies) {
      const [found, generation, third] = Array.isArray(reply)
        ? (reply as [number, string | undefined, string | null | undefined])
        : [reply as number, undefined, undefined];
      const stored = third;
      // Every master keeps its own copy; one that lost its data knows less: take the highest.
      if (found === 1 && typeof third === 'string' && (published === null || BigInt(third) > published))
        published = BigInt(third);
      if (found === 2)
        throw new StateLostError(
          `Redis lost acknowledged writes: it had ${progressField(progress as BatchProgress)} up to offset ${stored}, Kafka's committed offset is ${progress?.committed}; windows must be rebuilt from MySQL`,
        );
      if (found !== 1 && opts.requireMarker !== false)
        throw new StateLostError('state marker missing: Redis lost its data; windows must be rebuilt from MySQL');
      if (progress && generation !== undefined && Number(generation) !== usedGeneration) {
        this.generation = Number(generation);
        throw new StateLostError(
          `the state was rebuilt meanwhile (generation ${usedGeneration} -> ${generation}); the batch is retried on the new one`,
        );
      }
    }

    const n = this.opts.windows.length;
    const account: Array<{ status: number; record: AccountRecord }> = [];
    const others = events.map(() => ({ card: null, merchant: null, device: null }) as Record<EntityKind, EntityFeatures | null>);
    list.forEach((g, gi) => {
      const [err, reply] = replies[gi] as [Error | null, Array<number | Buffer>];
      if (err) throw err;
      g.idx.forEach((i, j) => {
        const status = reply[2 * j] as number;
        const raw = reply[2 * j + 1] as Buffer;
        if (g.kind === 'account') account[i] = { status, record: decodeAccountRecord(raw) };
        else (others[i] as Record<EntityKind, EntityFeatures | null>)[g.kind] = parseEntityFeatures(unpackr.unpack(raw), n);
      });
    });
    const results = events.map((_, i): StateResult => {
      const { status, record } = account[i] as (typeof account)[number];
      if (status === AccountStatus.DUPLICATE) return { status: 'duplicate', firstSeen: record.firstSeen };
      const o = others[i] as Record<EntityKind, EntityFeatures | null>;
      // An in-batch re-send that is a replay of the first copy's position cannot happen (positions
      // differ), so a non-duplicate always has its own entity results.
      return {
        status: status === AccountStatus.NEW ? 'new' : 'replay',
        firstSeen: record.firstSeen,
        extra: record.extra,
        features: {
          account: parseEntityFeatures(record.features, n),
          card: o.card,
          merchant: o.merchant,
          device: o.device,
        },
      };
    });
    return { results, generation: usedGeneration, published };
  }

  /** The record account-state.lua keeps for a transaction (null when none): what a replay gets back. */
  async storedRecord(accountId: string, transactionId: string): Promise<AccountRecord | null> {
    const raw = await this.redis.getBuffer(this.keys('account', accountId).tx(transactionId));
    return raw ? decodeAccountRecord(raw) : null;
  }
}
