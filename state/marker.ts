/**
 * The state marker (docs/state.md "Lost or rolled-back Redis"): one hash per Redis master that
 * exists while the window state is intact, holding the state layout and generation, and per input
 * partition how far the state has taken it (progress.lua). A batch that finds it missing, on another
 * generation, or below the progress its process last read or wrote stops, and the windows are
 * rebuilt from MySQL; a progress below Kafka's committed offset is restored by replay (docs/state.md
 * "A checkpoint per commit interval").
 */
import { StateLostError } from '../platform/errors.ts';
import { stateMarkerKey } from '../platform/keys.ts';
import { execKeyed, perNodeKeys, unlinkAll, type StateRedis } from '../platform/redis-pipelines.ts';

/** The marker's field of a partition's progress (progress.lua). */
export function progressField(p: { topic: string; partition: number }): string {
  return `p:${p.topic}/${p.partition}`;
}

/**
 * The layout of the window state: 3 is one hash of contributions per entity (state/keys.ts, blobs
 * of state/codec.ts); 2 was window-core.lua's msgpack state with per-transaction keys. The marker
 * records it; state of another layout (written by an older txmon) is rebuilt before processing,
 * like lost state, and the rebuild deletes the older generations' keys whatever their layout.
 */
export const STATE_LAYOUT = 3;

export interface MarkerView {
  /** intact, missing (state lost or never built), or written for another layout */
  status: 'intact' | 'missing' | 'old-layout';
  /** The state generation (platform/keys.ts stateRoot) when intact. */
  generation: number | null;
}

/** The marker keys: one on a single Redis, one per master on a cluster (platform/redis-pipelines.ts). */
export function markerKeys(redis: StateRedis, prefix: string): string[] {
  return perNodeKeys(redis, stateMarkerKey(prefix));
}

/**
 * What the markers say. A marker is a hash: `meta` (JSON: layout, generation, when and from how
 * many rows the state was built), `gen` (the generation, for progress.lua) and one field per input
 * partition with the offset the state has taken it to (progress.lua). On a cluster every master has
 * one, and the state is intact only when all are, on the same generation.
 */
export async function readMarker(redis: StateRedis, prefix: string): Promise<MarkerView> {
  let generation: number | null = null;
  for (const key of markerKeys(redis, prefix)) {
    const type = await redis.type(key);
    if (type === 'none') return { status: 'missing', generation: null };
    if (type !== 'hash') return { status: 'old-layout', generation: null };
    const [meta = null, gen = null] = await redis.hmget(key, 'meta', 'gen');
    let layout: unknown;
    try {
      layout = (JSON.parse(meta ?? 'null') as { layout?: unknown } | null)?.layout;
    } catch {
      layout = undefined;
    }
    if (layout !== STATE_LAYOUT || gen === null || !/^\d+$/.test(gen)) return { status: 'old-layout', generation: null };
    // Masters on different generations: one of them kept an old marker through a loss.
    if (generation !== null && Number(gen) !== generation) return { status: 'missing', generation: null };
    generation = Number(gen);
  }
  return { status: 'intact', generation };
}

/** Writes the markers of intact state (no partition progress yet: the next batches record it). */
export async function writeMarker(
  redis: StateRedis,
  prefix: string,
  generation: number,
  meta: Record<string, unknown>,
): Promise<void> {
  const value = JSON.stringify({ layout: STATE_LAYOUT, generation, ...meta });
  for (const key of markerKeys(redis, prefix)) await redis.hset(key, 'meta', value, 'gen', String(generation));
}

/** Deletes the markers: every processor's next batch then waits for a rebuild. */
export async function deleteMarker(redis: StateRedis, prefix: string): Promise<void> {
  await unlinkAll(redis, markerKeys(redis, prefix));
}

/** A batch's place in its partition, recorded in the marker (state/lua/progress.lua). */
export interface PartitionProgress {
  topic: string;
  partition: number;
  /** The offset the state has now taken the partition to (only ever rises in the marker); null: a check, nothing recorded. */
  next: string | null;
  /**
   * The floor the stored progress must not be below (else Redis lost acknowledged writes): the
   * progress this process last read or wrote while it held the partition; undefined: no check.
   */
  floor: bigint | null | undefined;
  /** Kafka's committed offset before the batch, when known: raises the marker's published offset. */
  committed: bigint | undefined;
}

/** What every master's marker said: the state generation, and the highest offset Kafka ever committed. */
export interface ProgressReply {
  generation: number;
  /** Kafka committed everything below this offset before (alerts included); null: not known. */
  published: bigint | null;
}

/**
 * Records a partition's progress in every master's marker (one pipelined round trip) and checks it:
 * throws StateLostError when a marker is missing (Redis lost its data), when a master's recorded
 * progress is below the floor (it lost acknowledged writes: progress.lua deleted the marker so the
 * windows are rebuilt), or when the masters disagree on the generation. Called after a batch's reads
 * (a check: they ran on intact state if the marker is still there) and after a checkpoint (the
 * progress lands after the contributions it covers, so a Redis that keeps the progress kept them),
 * always before the Kafka commit.
 */
export async function recordProgress(redis: StateRedis, prefix: string, p: PartitionProgress): Promise<ProgressReply> {
  const keys = markerKeys(redis, prefix);
  const field = progressField(p);
  const floor = p.floor === null || p.floor === undefined ? '' : p.floor.toString();
  const replies = await execKeyed(
    redis,
    keys.map((key) => ({
      key,
      add: (pipe) => pipe.txmonProgressV4(1, key, field, p.next ?? '', floor, p.committed?.toString() ?? ''),
    })),
  );
  let generation: number | null = null;
  let published: bigint | null = null;
  for (const [err, reply] of replies) {
    if (err) throw err;
    const [found, gen, third] = reply as [number, string | undefined, string | null | undefined];
    if (found === 0) throw new StateLostError('state marker missing: Redis lost its data; windows must be rebuilt from MySQL');
    if (found === 2)
      throw new StateLostError(
        `Redis lost acknowledged writes: it had ${field} up to offset ${third}, below the ${floor} this process recorded; windows must be rebuilt from MySQL`,
      );
    if (generation !== null && Number(gen) !== generation)
      throw new StateLostError('the Redis masters are on different state generations; windows must be rebuilt from MySQL');
    generation = Number(gen);
    if (typeof third === 'string' && (published === null || BigInt(third) > published)) published = BigInt(third);
  }
  return { generation: generation as number, published };
}

/**
 * A partition's progress as every master's marker holds it: the lowest (a master that lost writes
 * holds less; the fences make replaying from the lowest exact on the others), or null when none
 * holds one (the state covers everything Kafka committed: docs/state.md "A checkpoint per commit
 * interval"). Throws StateLostError when a marker is missing, or when some masters hold the
 * partition's progress and others do not (one lost it: the marker is deleted so the windows are
 * rebuilt).
 */
export async function readProgress(
  redis: StateRedis,
  prefix: string,
  p: { topic: string; partition: number },
): Promise<{ generation: number; progress: bigint | null }> {
  const keys = markerKeys(redis, prefix);
  const field = progressField(p);
  const replies = await execKeyed(
    redis,
    keys.map((key) => ({ key, add: (pipe) => void pipe.hmget(key, 'gen', field) })),
  );
  let generation: number | null = null;
  let lowest: bigint | null = null;
  let missing = 0;
  for (const [err, reply] of replies) {
    if (err) throw err;
    const [gen, stored] = reply as [string | null, string | null];
    if (gen === null) throw new StateLostError('state marker missing: Redis lost its data; windows must be rebuilt from MySQL');
    if (generation !== null && Number(gen) !== generation)
      throw new StateLostError('the Redis masters are on different state generations; windows must be rebuilt from MySQL');
    generation = Number(gen);
    if (stored === null) missing++;
    else if (lowest === null || BigInt(stored) < lowest) lowest = BigInt(stored);
  }
  if (missing > 0 && lowest !== null) {
    await deleteMarker(redis, prefix);
    throw new StateLostError(
      `Redis lost acknowledged writes: ${missing} of ${keys.length} masters hold no progress of ${field}; windows must be rebuilt from MySQL`,
    );
  }
  return { generation: generation as number, progress: lowest };
}
