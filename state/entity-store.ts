/**
 * The Redis store of the partition-owned window state (issue 17): each entity's record holds one
 * contribution per source partition that touched it, written only by that partition's owner, once
 * per batch, with a fence, the highest source offset applied into it.
 *
 * Layout (state/keys.ts): one hash per entity per state generation,
 *   <prefix>:g<gen>:{<a|c|m|d>:<id>}:w   s:<topic>/<partition> → blob, f:<topic>/<partition> → fence
 *
 * Fence: state/lua/checkpoint.lua writes a source's blob and fence together, and only when the new
 * fence is greater than the stored one, so a replayed batch or a zombie owner (a process that lost
 * the partition but still writes) cannot move a contribution back; a reader knows that the records
 * of that partition at offsets ≤ fence are in the blob, without any per-transaction key.
 *
 * Every batch is one pipelined round trip (platform/redis-pipelines.ts execKeyed: one pipeline per
 * master on a Redis Cluster; each hash is one slot). A checkpoint puts many entities in one script
 * call where Redis allows it (any on one Redis, one slot's on a cluster): measured, a call costs
 * several times what one entity in it costs (docs/state.md). The blob is opaque here: the window
 * engine encodes and decodes it.
 */
import { Cluster } from 'ioredis';
import { TxmonError } from '../platform/errors.ts';
import { hashSlot } from '../platform/keys.ts';
import { execKeyed, type KeyedCommand, type Reply, type StateRedis } from '../platform/redis-pipelines.ts';
import { blobField, entityStateKey, fenceField, sourceName, type EntityRef, type SourcePartition } from './keys.ts';

/** One source partition's part of an entity's state. */
export interface Contribution {
  /** The highest offset of the source partition applied into the blob. */
  fence: bigint;
  blob: Buffer;
}

/** A contribution to store: the entity, the partition it comes from, its fence and blob. */
export interface CheckpointWrite extends EntityRef {
  source: SourcePartition;
  fence: bigint;
  blob: Buffer;
}

/** What a checkpoint did with one write. */
export interface CheckpointOutcome {
  /** false: the stored fence was equal or newer (a replay or a zombie), nothing changed. */
  written: boolean;
  /** The source's fence stored after the write: the given one, or the newer one that won. */
  fence: bigint;
}

export interface EntityStoreOptions {
  prefix: string;
  /** How long an entity's hash lives after its last written contribution, ms. */
  stateTtlMs: number;
  /** The state generation (platform/keys.ts stateRoot), default 0. */
  generation?: number;
  /**
   * At most this many entities per checkpoint.lua call (default 500): more amortise the call, fewer
   * bound how long one call holds Redis (~5 µs per entity). On a cluster only entities of one slot
   * share a call.
   */
  entitiesPerCall?: number;
}

/** One checkpoint.lua call: its entities' hashes, its arguments after the keys, the writes it carries in order. */
interface CheckpointCall {
  keys: string[];
  argv: Array<string | number | Buffer>;
  idx: number[];
}

export class EntityStore {
  /** Pipelines sent (Redis round trips), for the benchmark. */
  roundTrips = 0;
  readonly generation: number;
  private readonly entitiesPerCall: number;

  constructor(
    private readonly redis: StateRedis,
    private readonly opts: EntityStoreOptions,
  ) {
    if (!Number.isSafeInteger(opts.stateTtlMs) || opts.stateTtlMs <= 0)
      throw new RangeError(`stateTtlMs must be a positive integer, got ${opts.stateTtlMs}`);
    this.generation = opts.generation ?? 0;
    this.entitiesPerCall = opts.entitiesPerCall ?? 500;
    if (!Number.isSafeInteger(this.entitiesPerCall) || this.entitiesPerCall < 1)
      throw new RangeError(`entitiesPerCall must be a positive integer, got ${this.entitiesPerCall}`);
  }

  /** The same store on another state generation (a rebuild fills the next one beside the old). */
  forGeneration(generation: number): EntityStore {
    return new EntityStore(this.redis, { ...this.opts, generation });
  }

  /** The hash of an entity in this generation. */
  key(entity: EntityRef): string {
    return entityStateKey(this.opts.prefix, this.generation, entity);
  }

  /**
   * Stores contributions, each only if its fence is newer than the stored one, in one round trip.
   * Returns one outcome per write, in order.
   */
  async checkpoint(writes: readonly CheckpointWrite[]): Promise<CheckpointOutcome[]> {
    if (writes.length === 0) return [];
    const byKey = new Map<string, number[]>();
    writes.forEach((w, i) => {
      if (w.fence < 0n) throw new RangeError(`a fence is a Kafka offset (≥ 0), got ${w.fence}`);
      const key = this.key(w);
      const idx = byKey.get(key);
      if (idx) idx.push(i);
      else byKey.set(key, [i]);
    });
    const calls = this.group(byKey, writes);
    const replies = await this.send(
      calls.map((c) => ({ key: c.keys[0] as string, add: (p) => p.txmonCheckpointV1(c.keys.length, ...c.keys, ...c.argv) })),
    );
    const out = new Array<CheckpointOutcome>(writes.length);
    calls.forEach((c, ci) => {
      const reply = replies[ci] as Array<number | string>;
      c.idx.forEach((i, j) => (out[i] = { written: reply[2 * j] === 1, fence: BigInt(reply[2 * j + 1] as string) }));
    });
    return out;
  }

  /**
   * The script calls of a checkpoint: entities of one slot share a call (on one Redis any do), at
   * most entitiesPerCall per call. A call costs Redis and this process far more than an entity in
   * it, and AOF with fsync always syncs once per call rather than once per 16 KB of requests.
   */
  private group(byKey: ReadonlyMap<string, number[]>, writes: readonly CheckpointWrite[]): CheckpointCall[] {
    const cluster = this.redis instanceof Cluster;
    const open = new Map<number, CheckpointCall>();
    const calls: CheckpointCall[] = [];
    for (const [key, idx] of byKey) {
      const slot = cluster ? hashSlot(key) : 0;
      let call = open.get(slot);
      if (!call || call.keys.length >= this.entitiesPerCall) {
        call = { keys: [], argv: [this.opts.stateTtlMs], idx: [] };
        open.set(slot, call);
        calls.push(call);
      }
      call.keys.push(key);
      call.argv.push(idx.length);
      for (const i of idx) {
        const w = writes[i] as CheckpointWrite;
        call.argv.push(sourceName(w.source), w.fence.toString(), w.blob);
        call.idx.push(i);
      }
    }
    return calls;
  }

  /**
   * Every contribution of each entity, by source name "<topic>/<partition>" (an empty map: none).
   * Sends its pipeline before its first await: what the caller sends on the same Redis right after
   * calling it runs after the reads (PartitionState's `afterReadsSent`).
   */
  async read(entities: readonly EntityRef[]): Promise<Array<Map<string, Contribution>>> {
    if (entities.length === 0) return [];
    const keys = entities.map((e) => this.key(e));
    const replies = await this.send(keys.map((key) => ({ key, add: (p) => p.hgetallBuffer(key) })));
    return replies.map((reply, i) => contributions(keys[i] as string, reply as Record<string, Buffer>));
  }

  /** The contributions of the given source partitions only (the others are not read). */
  async readSources(
    entities: readonly EntityRef[],
    sources: readonly SourcePartition[],
  ): Promise<Array<Map<string, Contribution>>> {
    if (entities.length === 0) return [];
    const names = sources.map(sourceName);
    if (names.length === 0) return entities.map(() => new Map());
    const fields = names.flatMap((s) => [fenceField(s), blobField(s)]);
    const keys = entities.map((e) => this.key(e));
    const replies = await this.send(keys.map((key) => ({ key, add: (p) => p.hmgetBuffer(key, ...fields) })));
    return replies.map((reply, i) => {
      const values = reply as Array<Buffer | null>;
      const found = new Map<string, Contribution>();
      names.forEach((s, j) => {
        const fence = values[2 * j] ?? null;
        const blob = values[2 * j + 1] ?? null;
        if (fence === null && blob === null) return;
        found.set(s, contribution(keys[i] as string, s, fence, blob));
      });
      return found;
    });
  }

  /** One round trip; the first failed command fails the whole call (the batch is retried). */
  private async send(cmds: KeyedCommand[]): Promise<unknown[]> {
    this.roundTrips++;
    const replies: Reply[] = await execKeyed(this.redis, cmds);
    return replies.map(([err, reply]) => {
      if (err) throw err;
      return reply;
    });
  }
}

/** The contributions of one hash as HGETALL returned it. */
function contributions(key: string, hash: Record<string, Buffer>): Map<string, Contribution> {
  const found = new Map<string, Contribution>();
  for (const field of Object.keys(hash)) {
    const source = field.slice(2);
    if (!/^[sf]:/.test(field) || found.has(source)) continue;
    found.set(source, contribution(key, source, hash[fenceField(source)] ?? null, hash[blobField(source)] ?? null));
  }
  return found;
}

/** A contribution from its two fields; checkpoint.lua writes both together, so one alone is a broken store. */
function contribution(key: string, source: string, fence: Buffer | null, blob: Buffer | null): Contribution {
  if (fence === null || blob === null)
    throw new TxmonError(
      'INVARIANT_BROKEN',
      `${key} holds the ${fence === null ? 'blob' : 'fence'} of ${source} without its pair`,
    );
  return { fence: BigInt(fence.toString('latin1')), blob };
}
