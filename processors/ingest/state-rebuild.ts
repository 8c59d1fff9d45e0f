/**
 * Detects lost Redis state and rebuilds it from MySQL (DESIGN.md "State and scale-out").
 *
 * A marker key exists while the state is intact. When it is missing (an empty Redis after a
 * restart without persistence, a failover that dropped writes, a FLUSHALL), one processor takes a
 * lock, deletes the marker and every other key of the prefix, and replays MySQL's transactions of
 * the longest window (plus the allowed lateness) through the same Lua scripts, in the order they
 * were stored. It then puts back the feature snapshots MySQL holds, so a later replay of those
 * records returns exactly what was stored, and sets the marker. Every script is idempotent, so a
 * processor racing the rebuild cannot double-apply anything: it only waits for the marker.
 */
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import { DependencyError } from '../../platform/errors.ts';
import type { RowDataPacket } from 'mysql2/promise';
import { entityFeatureNames } from '../../domain/entity-features.ts';
import { SNAPSHOT_ENTITIES, STATIC_FEATURE_NAMES } from '../../domain/snapshot.ts';
import type { WindowSpec } from '../../domain/windows.ts';
import { stateKeyPattern, stateMarkerKey, stateRoot } from '../../platform/keys.ts';
import { STATE_LAYOUT, deleteMarker, markerKeys, progressField, readMarker } from '../../state/marker.ts';
export { STATE_LAYOUT, deleteMarker, markerKeys, readMarker, stateIntact, writeMarker, type MarkerView } from '../../state/marker.ts';
import type { Pool } from '../../platform/mysql.ts';
import { FeatureDecoder } from '../../sinks/feature-vector.ts';
import {
  execKeyed,
  scanAll,
  unlinkAll,
  type KeyedCommand,
  type StateRedis,
} from '../../platform/redis-pipelines.ts';
import type { TxmonConfig } from '../../config/config.ts';
import {
  decodeAccountRecord,
  encodeAccountRecord,
  encodeEntityFeatures,
  entityId,
  WindowState,
  type StateEvent,
} from './state-store.ts';

export interface RebuildDeps {
  redis: StateRedis;
  pool: Pool;
  state: WindowState;
  prefix: string;
  windows: readonly WindowSpec[];
  allowedLatenessMs: number;
  progress: (line: string) => void;
  /** The rebuild lock's TTL (default 30 s; shorter in tests). */
  lockTtlMs?: number;
  /**
   * The ingest group's committed offsets, read after the rebuild moved MySQL's generation (see
   * `committedProgress`); without it the marker starts with no partition progress.
   */
  committedOffsets?: () => Promise<CommittedOffset[]>;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka's committed offset). */
  offset: string;
}

export type EnsureResult =
  | { outcome: 'intact' }
  | { outcome: 'busy' }
  | {
      outcome: 'rebuilt';
      /** forced (`txmon state rebuild`), missing marker (state lost or new), or state of an older layout */
      reason: 'forced' | 'missing' | 'old-layout';
      rows: number;
      keysDeleted: number;
      fromEventTime: string | null;
      seconds: number;
    };

/** The rebuild's dependencies from the config (one definition for the processor and the CLI). */
export function rebuildDepsFor(
  cfg: TxmonConfig,
  clients: { redis: StateRedis; pool: Pool },
  progress: (line: string) => void,
  committedOffsets?: () => Promise<CommittedOffset[]>,
): RebuildDeps {
  const state = new WindowState(clients.redis, {
    prefix: cfg.keyPrefix,
    windows: cfg.state.windows,
    dedupTtlSeconds: 7 * 24 * 3600,
    stateTtlSeconds: cfg.state.ttlSeconds,
  });
  return {
    ...clients,
    state,
    prefix: cfg.keyPrefix,
    windows: cfg.state.windows,
    allowedLatenessMs: cfg.ingest.allowedLatenessMs,
    progress,
    ...(committedOffsets && { committedOffsets }),
  };
}

/**
 * The rebuild lock's and sentinels' TTL. A timer renews them every sixth of it while the rebuild
 * runs, so a rebuild of any length keeps them, and one whose process died (SIGKILL, a crash) leaves
 * them for at most this long before another processor can take over.
 */
const LOCK_TTL_MS = 30_000;
/** A query that takes longer fails (the rebuild is retried) instead of stalling the processor. */
const QUERY_TIMEOUT_MS = 60_000;
const CHUNK = 5_000;

function lockKey(prefix: string): string {
  return `${stateMarkerKey(prefix)}:rebuild-lock`;
}

/**
 * Moves MySQL to the next state generation and returns it. The UPDATE waits for every batch
 * transaction holding the generation's shared lock (sinks/transactions.sink.ts): when it returns,
 * each batch either committed (its rows are replayed) or will see the new generation and retry.
 */
async function nextGeneration(pool: Pool): Promise<number> {
  const conn = await pool.getConnection();
  try {
    // LAST_INSERT_ID(expr) hands this connection the value it wrote: two rebuilds racing (which
    // the lock should prevent) still get different generations.
    await conn.query({
      sql: `INSERT INTO state_generation (id, generation) VALUES (1, LAST_INSERT_ID(1))
            ON DUPLICATE KEY UPDATE generation = LAST_INSERT_ID(generation + 1)`,
      timeout: QUERY_TIMEOUT_MS,
    });
    const [[row]] = await conn.query<RowDataPacket[]>({ sql: 'SELECT LAST_INSERT_ID() AS g', timeout: QUERY_TIMEOUT_MS });
    return Number(row?.g);
  } finally {
    conn.release();
  }
}

/** MySQL's state generation (0 before the first rebuild). */
async function currentGeneration(pool: Pool): Promise<number> {
  const [[row]] = await pool.query<RowDataPacket[]>({
    sql: 'SELECT generation FROM state_generation WHERE id = 1',
    timeout: QUERY_TIMEOUT_MS,
  });
  return Number(row?.generation ?? 0);
}

// Token-checked, so a process never extends or releases a lock another one holds now.
const RENEW_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0`;
const RELEASE_LOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`;
// The marker goes back only onto a node whose rebuild sentinel (same slot) still holds the token;
// ARGV[2..] are its field/value pairs.
const WRITE_MARKER_IF_BUILDING = `if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2)) return 1`;

/** The group's committed offsets of one topic, partitions with none left out (what `RebuildDeps.committedOffsets` reads). */
export async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<CommittedOffset[]> {
  const [res] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return (res?.partitions ?? [])
    .filter((p) => Number(p.offset) >= 0)
    .map((p) => ({ topic, partition: p.partition, offset: p.offset }));
}

/**
 * The marker fields (progress.lua) that a rebuilt state starts from: per partition, the offset the
 * state has taken it to and the highest offset Kafka committed, both Kafka's committed offset. True
 * lower bounds: a batch commits MySQL before Kafka, and once the rebuild has moved MySQL's
 * generation no batch of the old one commits, so every record below the committed offsets read after
 * that is in the MySQL rows the windows were rebuilt from. Without them a Redis rolled back to a
 * snapshot taken right after the rebuild would hold a marker with no progress, which nothing checks.
 */
export function committedProgress(committed: readonly CommittedOffset[]): string[] {
  const fields: string[] = [];
  for (const c of committed) {
    if (!/^\d+$/.test(c.offset)) continue; // -1: nothing committed yet
    const tp = `${c.topic}/${c.partition}`;
    fields.push(progressField(c), c.offset, `c:${tp}`, c.offset);
  }
  return fields;
}

/**
 * One per master, beside its marker (the same hash slot): "a rebuild is writing here", holding the
 * rebuild's token. The lock lives on one master only; a sentinel on each tells the rebuild that no
 * master lost its data (restart without persistence, failover) while it was being written.
 */
function sentinelKeys(d: RebuildDeps): Array<{ marker: string; sentinel: string }> {
  return markerKeys(d.redis, d.prefix).map((marker) => ({ marker, sentinel: `${marker}:building` }));
}

const LOST_DURING_REBUILD =
  'a Redis node lost its data while the state was being rebuilt (its rebuild sentinel is gone); the rebuild starts over';

/**
 * The rebuild lock and the sentinels, renewed as the rebuild goes: a rebuild longer than the lock's
 * TTL keeps it; one that lost it (expired while stalled, or Redis lost it), or that finds a master's
 * sentinel gone (that master lost what was already rebuilt on it), stops before it writes a marker.
 */
function rebuildLock(d: RebuildDeps, token: string, heartbeat?: () => Promise<void>) {
  const key = lockKey(d.prefix);
  const nodes = sentinelKeys(d);
  const ttl = d.lockTtlMs ?? LOCK_TTL_MS;
  let renewal: NodeJS.Timeout | undefined;
  /** Renews the lock, then the sentinels; the error when one is no longer this rebuild's. */
  const renew = async (): Promise<DependencyError | null> => {
    if (Number(await d.redis.eval(RENEW_LOCK, 1, key, token, ttl)) !== 1)
      return new DependencyError('redis', 'the state rebuild lost its lock (another process may be rebuilding); giving up');
    for (const n of nodes)
      if (Number(await d.redis.eval(RENEW_LOCK, 1, n.sentinel, token, ttl)) !== 1)
        return new DependencyError('redis', LOST_DURING_REBUILD);
    return null;
  };
  return {
    /** Sets the sentinels (the lock is already held) and starts renewing both. */
    async start(): Promise<void> {
      for (const n of nodes) await d.redis.set(n.sentinel, token, 'PX', ttl);
      // Between steps the rebuild may wait long (a MySQL lock, a large chunk): the timer keeps the
      // lock alive meanwhile. What it finds lost, the next keep() finds too and reports.
      renewal = setInterval(() => void renew().catch(() => {}), Math.max(50, Math.floor(ttl / 6)));
      renewal.unref();
    },
    async keep(): Promise<void> {
      // A rebuild inside a batch would otherwise send the group no heartbeat for its whole length. A
      // failed heartbeat (a rebalance) does not stop it: the state is shared by every partition.
      await heartbeat?.().catch(() => {});
      const lost = await renew();
      if (lost) throw lost;
    },
    /**
     * Writes the markers of intact state, each only if its node's sentinel is still there
     * (atomically), with the partitions' progress (`committedProgress`).
     */
    async writeMarker(generation: number, meta: Record<string, unknown>, committed: readonly CommittedOffset[]): Promise<void> {
      const fields = ['meta', JSON.stringify({ layout: STATE_LAYOUT, generation, ...meta }), 'gen', String(generation)];
      fields.push(...committedProgress(committed));
      for (const n of nodes)
        if (Number(await d.redis.eval(WRITE_MARKER_IF_BUILDING, 2, n.marker, n.sentinel, token, ...fields)) !== 1)
          throw new DependencyError('redis', LOST_DURING_REBUILD);
    },
    async release(): Promise<void> {
      clearInterval(renewal);
      for (const n of nodes) await d.redis.eval(RELEASE_LOCK, 1, n.sentinel, token);
      await d.redis.eval(RELEASE_LOCK, 1, key, token);
    },
  };
}

/**
 * Rebuilds when the marker is missing (or always, with `force`). Returns 'busy' when another
 * process holds the rebuild lock: the caller waits for the marker. Sets `d.state.generation` to the
 * marker's whenever it knows it.
 *
 * Order matters: the marker goes first (every batch from then on fails its check and waits), then
 * MySQL moves to the next generation (fencing batches that are between Redis and MySQL), then the
 * windows are replayed into the new generation's keys, which no late writer of the old generation
 * can reach, then the marker comes back with the new generation, then the old generations' keys are
 * deleted.
 */
export async function ensureState(
  d: RebuildDeps,
  opts: {
    force?: boolean;
    /** Called as the rebuild goes (the batch's consumer group heartbeat). */ heartbeat?: () => Promise<void>;
  } = {},
): Promise<EnsureResult> {
  const found = await readMarker(d.redis, d.prefix);
  // A marker of another generation than MySQL's: MySQL moved on (a rebuild that died after its
  // bump, a restore), and every batch would fail the MySQL fence; rebuild as if the marker were gone.
  const stale = found.status === 'intact' && found.generation !== (await currentGeneration(d.pool));
  if (!opts.force && found.status === 'intact' && !stale) {
    d.state.generation = found.generation as number;
    return { outcome: 'intact' };
  }
  const token = randomBytes(8).toString('hex');
  if ((await d.redis.set(lockKey(d.prefix), token, 'PX', d.lockTtlMs ?? LOCK_TTL_MS, 'NX')) !== 'OK') return { outcome: 'busy' };
  const lock = rebuildLock(d, token, opts.heartbeat);
  const started = Date.now();
  try {
    await lock.start();
    await deleteMarker(d.redis, d.prefix);
    const generation = await nextGeneration(d.pool);
    const root = `${stateRoot(d.prefix, generation)}:`;
    // The new generation is built through its own store: the processor's keeps the old one until
    // the marker is back, so none of its batches can write into what is being built.
    const builder = d.state.forGeneration(generation);
    // Keys of the new generation can only be left by a rebuild that died half way: start clean.
    await wipe(d, lock, (k) => k.startsWith(root));
    const { rows, from } = await replay(d, lock, builder);
    const committed = (await d.committedOffsets?.()) ?? [];
    await lock.keep();
    await lock.writeMarker(generation, { rebuiltAt: new Date().toISOString(), rows }, committed);
    d.state.generation = generation;
    // Only older generations: a newer one would be another rebuild's (if the lock was ever lost).
    let keysDeleted = await wipe(d, lock, (k) => generationOf(d.prefix, k) < generation);
    if (found.status === 'old-layout') keysDeleted += await wipeLayout1(d);
    d.progress(
      `state: generation ${generation} built; deleted ${keysDeleted.toLocaleString('en')} keys of older generations of prefix "${d.prefix}"`,
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    d.progress(`state: rebuilt from ${rows.toLocaleString('en')} MySQL rows in ${seconds} s`);
    const reason = opts.force ? 'forced' : found.status === 'intact' ? 'missing' : found.status;
    return { outcome: 'rebuilt', reason, rows, keysDeleted, fromEventTime: from, seconds };
  } finally {
    await lock.release().catch(() => {});
  }
}

/** The generation a state key belongs to (Infinity for a key that is not a generation's). */
function generationOf(prefix: string, key: string): number {
  const m = /^g(\d+):/.exec(key.slice(prefix.length + 1));
  return m ? Number(m[1]) : Number.POSITIVE_INFINITY;
}

/** Deletes the state keys of the prefix (every generation) that `doomed` picks. */
async function wipe(d: RebuildDeps, lock: { keep(): Promise<void> }, doomed: (key: string) => boolean): Promise<number> {
  let deleted = 0;
  await scanAll(d.redis, stateKeyPattern(d.prefix), async (keys) => {
    deleted += await unlinkAll(d.redis, keys.filter(doomed));
    await lock.keep();
  });
  return deleted;
}

/**
 * Deletes state of layout 1 (before generations: entity keys straight under the prefix,
 * `<prefix>:{<kind>:<id>}:...`, and a string marker), which would otherwise linger until its TTL.
 */
async function wipeLayout1(d: RebuildDeps): Promise<number> {
  let deleted = 0;
  await scanAll(d.redis, `${d.prefix}:{*`, async (keys) => {
    deleted += await unlinkAll(d.redis, keys);
  });
  const oldMarker = stateMarkerKey(d.prefix);
  if (!markerKeys(d.redis, d.prefix).includes(oldMarker)) deleted += await unlinkAll(d.redis, [oldMarker]);
  return deleted;
}

type Features = Record<string, number | string | boolean | null>;

/** Replays the transactions of the longest window (+ lateness) through the scripts, in stored order. */
async function replay(
  d: RebuildDeps,
  lock: { keep(): Promise<void> },
  builder: WindowState,
): Promise<{ rows: number; from: string | null }> {
  const [[top]] = await d.pool.query<RowDataPacket[]>({
    sql: 'SELECT MAX(event_time) AS t FROM transactions WHERE NOT late',
    timeout: QUERY_TIMEOUT_MS,
  });
  if (!top?.t) return { rows: 0, from: null };
  const longest = Math.max(...d.windows.map((w) => w.lengthMs));
  const from = new Date((top.t as Date).getTime() - longest - d.allowedLatenessMs);
  let lastId = 0;
  let rows = 0;
  const decoder = new FeatureDecoder(d.pool);
  for (;;) {
    const [chunk] = await d.pool.query<RowDataPacket[]>({
      sql: `SELECT id, transaction_id, account_id, card_token, merchant_id, device_id, merchant_country, event_time,
              latitude, longitude, late, feature_layout, feature_values, src_topic, src_partition, src_offset
       FROM transactions WHERE id > ? AND event_time >= ? ORDER BY id LIMIT ?`,
      values: [lastId, from, CHUNK],
      timeout: QUERY_TIMEOUT_MS,
    });
    if (chunk.length === 0) break;
    lastId = Number(chunk[chunk.length - 1]?.id);
    const events: StateEvent[] = [];
    const snapshots: Array<Features | null> = [];
    const stored = await decoder.decodeRows(chunk);
    for (const [i, r] of chunk.entries()) {
      const f = (stored[i]?.object() ?? null) as Features | null;
      const late = Boolean(r.late);
      const stat = f === null ? null : Object.fromEntries(STATIC_FEATURE_NAMES.map((k) => [k, f[k] ?? null]));
      events.push({
        transactionId: r.transaction_id as string,
        accountId: r.account_id as string,
        cardToken: r.card_token as string,
        merchantId: r.merchant_id as string,
        deviceId: (r.device_id as string | null) ?? null,
        position: `${r.src_topic as string}/${r.src_partition as number}/${String(r.src_offset)}`,
        eventTime: (r.event_time as Date).getTime(),
        amountBaseMinor: typeof f?.amount_base_minor === 'number' ? f.amount_base_minor : null,
        country: r.merchant_country as string,
        lat: (r.latitude as number | null) ?? null,
        lon: (r.longitude as number | null) ?? null,
        late,
        extra: JSON.stringify({ late, static: stat }),
      });
      snapshots.push(f);
    }
    await builder.apply(events, { requireMarker: false });
    await restoreSnapshots(d, builder, events, snapshots);
    rows += chunk.length;
    await lock.keep();
    d.progress(`state: replayed ${rows.toLocaleString('en')} transactions from MySQL`);
  }
  return { rows, from: from.toISOString() };
}

/** Puts MySQL's snapshots back into the keys a replay reads, so replays return what MySQL holds. */
async function restoreSnapshots(
  d: RebuildDeps,
  builder: WindowState,
  events: readonly StateEvent[],
  snapshots: ReadonlyArray<Features | null>,
) {
  const entities: Array<{ key: string; features: Array<number | null> }> = [];
  const accounts: Array<{ key: string; features: Array<number | null> }> = [];
  events.forEach((e, i) => {
    const f = snapshots[i];
    if (!f) return;
    for (const kind of SNAPSHOT_ENTITIES) {
      const id = entityId(e, kind);
      if (id === null) continue;
      const names = entityFeatureNames(kind, d.windows);
      if (f[names[0] as string] === null || f[names[0] as string] === undefined) continue;
      const features = names.map((n) => (f[n] ?? null) as number | null);
      const key = builder.keys(kind, id).tx(e.transactionId);
      (kind === 'account' ? accounts : entities).push({ key, features });
    }
  });
  // The account's record also holds the first-seen position and the static features: read, then rewrite.
  const records = await execKeyed(
    d.redis,
    accounts.map((a) => ({ key: a.key, add: (p) => void p.getBuffer(a.key) })),
  );
  const writes: KeyedCommand[] = [];
  accounts.forEach((a, i) => {
    const [err, raw] = records[i] as [Error | null, Buffer | null];
    if (err) throw err;
    if (raw) {
      const value = encodeAccountRecord({ ...decodeAccountRecord(raw), features: a.features });
      writes.push({ key: a.key, add: (p) => void p.set(a.key, value, 'KEEPTTL', 'XX') });
    }
  });
  for (const e of entities) {
    const value = encodeEntityFeatures(e.features);
    writes.push({ key: e.key, add: (p) => void p.set(e.key, value, 'KEEPTTL', 'XX') });
  }
  for (const [err] of await execKeyed(d.redis, writes)) if (err) throw err;
}
