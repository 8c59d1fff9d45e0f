/**
 * Detects lost Redis state and rebuilds it from MySQL (DESIGN.md "State and scale-out",
 * docs/state.md "Lost or rolled-back Redis").
 *
 * A marker exists while the state is intact (state/marker.ts). When it is missing (an empty Redis
 * after a restart without persistence, a failover that dropped writes, a FLUSHALL), of an older
 * layout, or on another generation than MySQL's, one processor takes a lock, deletes the marker,
 * moves MySQL's state generation, and rebuilds the windows of the new generation from MySQL's rows
 * of the longest window (plus the allowed lateness): for each entity and each source partition, the
 * rows' events applied in offset order into one contribution, checkpointed with the highest offset
 * applied as its fence, as state/partition-state.ts would have written it. It then sets the marker
 * and deletes the older generations. A processor racing the rebuild cannot write into the new
 * generation (it only waits for the marker), and a replay gets its features from MySQL's row, so
 * nothing per transaction is restored.
 */
import { randomBytes } from 'node:crypto';
import type { Admin } from 'kafkajs';
import type { Connection as CoreConnection } from 'mysql2';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import type { TxmonConfig } from '../config/config.ts';
import type { EntityEvent } from '../domain/entity-features.ts';
import type { WindowSpec } from '../domain/windows.ts';
import { DependencyError, errorMessage } from '../platform/errors.ts';
import { stateKeyPattern, stateMarkerKey, stateRoot, type EntityKind } from '../platform/keys.ts';
import type { Pool } from '../platform/mysql.ts';
import { scanAll, unlinkAll, type StateRedis } from '../platform/redis-pipelines.ts';
import type { Tolerate } from '../platform/tolerated.ts';
import { FeatureDecoder } from '../sinks/feature-vector.ts';
import { encodeWindowState } from './codec.ts';
import { EntityStore, type CheckpointWrite } from './entity-store.ts';
import { STATE_LAYOUT, deleteMarker, markerKeys, progressField, readMarker } from './marker.ts';
import { EntityWindows, featureLength, geometryOf } from './window-engine.ts';

export interface RebuildDeps {
  redis: StateRedis;
  pool: Pool;
  /** The store of the processor's generation; the rebuild fills `state.forGeneration(next)`. */
  state: EntityStore;
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
  /** Counts a lock left to expire (a processor's metric); without it the failure goes to `progress`. */
  tolerate?: Tolerate;
}

export interface CommittedOffset {
  topic: string;
  partition: number;
  /** The next offset to read (Kafka's committed offset). */
  offset: string;
}

/**
 * What `ensureState` did. 'intact' and 'rebuilt' carry the state generation to work on: the caller's
 * store is `state.forGeneration(generation)` (EntityStore.generation is fixed per instance).
 */
export type EnsureResult =
  | { outcome: 'intact'; generation: number }
  | { outcome: 'busy' }
  | {
      outcome: 'rebuilt';
      generation: number;
      /** forced (`txmon state rebuild`), missing marker (state lost or new), or state of an older layout */
      reason: 'forced' | 'missing' | 'old-layout';
      /** MySQL rows replayed (transactions). */
      rows: number;
      /** Contributions written (one per entity and source partition). */
      contributions: number;
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
  const state = new EntityStore(clients.redis, { prefix: cfg.keyPrefix, stateTtlMs: cfg.state.ttlSeconds * 1000 });
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
      // A renewal that fails (Redis unreachable) is said once; keep() finds a lost lock and fails.
      let said = false;
      renewal = setInterval(
        () =>
          void renew().then(
            () => (said = false),
            (err: unknown) => {
              if (!said) d.progress(`state: renewing the rebuild lock failed (${errorMessage(err)}); trying again`);
              said = true;
            },
          ),
        Math.max(50, Math.floor(ttl / 6)),
      );
      renewal.unref();
    },
    async keep(): Promise<void> {
      // A rebuild inside a batch would otherwise send the group no heartbeat for its whole length. A
      // failed heartbeat (a rebalance) does not stop it: the state is shared by every partition.
      // eslint-disable-next-line no-restricted-syntax -- a rebalance is expected here and changes nothing (above)
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
 * process holds the rebuild lock: the caller waits for the marker. 'intact' and 'rebuilt' say the
 * generation the caller's store must work on from then on.
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
  if (!opts.force && found.status === 'intact' && !stale) return { outcome: 'intact', generation: found.generation as number };
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
    const { rows, contributions, from } = await replay(d, lock, builder);
    const committed = (await d.committedOffsets?.()) ?? [];
    await lock.keep();
    await lock.writeMarker(generation, { rebuiltAt: new Date().toISOString(), rows }, committed);
    // Only older generations, of any layout (layout 2's per-entity ":st" and per-transaction ":tx:"
    // keys included): a newer one would be another rebuild's (if the lock was ever lost).
    let keysDeleted = await wipe(d, lock, (k) => generationOf(d.prefix, k) < generation);
    if (found.status === 'old-layout') keysDeleted += await wipeLayout1(d);
    d.progress(
      `state: generation ${generation} built; deleted ${keysDeleted.toLocaleString('en')} keys of older generations of prefix "${d.prefix}"`,
    );
    const seconds = Math.round((Date.now() - started) / 100) / 10;
    d.progress(
      `state: rebuilt ${contributions.toLocaleString('en')} contributions from ${rows.toLocaleString('en')} MySQL rows in ${seconds} s`,
    );
    const reason = opts.force ? 'forced' : found.status === 'intact' ? 'missing' : found.status;
    return { outcome: 'rebuilt', generation, reason, rows, contributions, keysDeleted, fromEventTime: from, seconds };
  } finally {
    await lock
      .release()
      .catch((err: unknown) =>
        d.tolerate
          ? d.tolerate('rebuild-lock-release', err)
          : d.progress(
              `state: releasing the rebuild lock failed (${errorMessage(err)}); it expires within ${Math.round((d.lockTtlMs ?? LOCK_TTL_MS) / 1000)} s`,
            ),
      );
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

/** Each entity kind's column in `transactions` (device_id is NULL for a transaction without a device). */
const ENTITY_COLUMNS: ReadonlyArray<{ kind: EntityKind; column: string }> = [
  { kind: 'account', column: 'account_id' },
  { kind: 'card', column: 'card_token' },
  { kind: 'merchant', column: 'merchant_id' },
  { kind: 'device', column: 'device_id' },
];
/** Contributions per checkpoint round trip (the store puts up to 500 entities in one script call). */
const WRITES_PER_CHECKPOINT = 2_000;
/** Rows buffered from the stream before MariaDB is told to pause (mysql2's backpressure). */
const ROWS_BUFFERED = 1_000;
/**
 * A kind's stream fails when no row arrives for this long. MariaDB sorts the whole range before it
 * sends the first row (minutes for tens of millions of rows), hence more than QUERY_TIMEOUT_MS.
 */
const STREAM_IDLE_MS = 300_000;

/** One (entity, source partition) being replayed: its rows' events applied in offset order. */
interface Building {
  id: string;
  topic: string;
  partition: number;
  state: EntityWindows;
  fence: bigint;
}

/**
 * Replays the transactions of the longest window (+ lateness) into contributions, one entity kind at
 * a time: every row is a first-seen, non-duplicate transaction (duplicates live in
 * transaction_duplicates), applied to each of its entities' contribution of its source partition as
 * state/partition-state.ts applies it (late rows only read, and move the fence like any record).
 */
async function replay(
  d: RebuildDeps,
  lock: { keep(): Promise<void> },
  builder: EntityStore,
): Promise<{ rows: number; contributions: number; from: string | null }> {
  const [[top]] = await d.pool.query<RowDataPacket[]>({
    sql: 'SELECT MAX(event_time) AS t FROM transactions WHERE NOT late',
    timeout: QUERY_TIMEOUT_MS,
  });
  if (!top?.t) return { rows: 0, contributions: 0, from: null };
  const longest = Math.max(...d.windows.map((w) => w.lengthMs));
  const from = new Date((top.t as Date).getTime() - longest - d.allowedLatenessMs);
  const geometry = geometryOf(d.windows);
  const amounts = new BaseAmounts(d.pool);
  let rows = 0;
  let contributions = 0;
  for (const { kind, column } of ENTITY_COLUMNS) {
    let writes: CheckpointWrite[] = [];
    let replayed = 0;
    const flush = async () => {
      await builder.checkpoint(writes);
      contributions += writes.length;
      writes = [];
      await lock.keep();
      d.progress(
        `state: replayed ${replayed.toLocaleString('en')} ${kind} rows from MySQL (${contributions.toLocaleString('en')} contributions)`,
      );
    };
    const done = async (b: Building | null) => {
      // Nothing applied (only late or stale rows): nothing to store, as partition-state.ts writes
      // only a contribution whose state changed.
      if (b === null || b.state.revision === 0) return;
      const source = { topic: b.topic, partition: b.partition };
      writes.push({ kind, id: b.id, source, fence: b.fence, blob: encodeWindowState(b.state) });
      if (writes.length >= WRITES_PER_CHECKPOINT) await flush();
    };
    let cur: Building | null = null;
    // The features each apply writes are not needed: one array for all of them.
    const scratch = new Float64Array(featureLength(geometry.length));
    await streamRows(d.pool, kindQuery(column), [from], async (r) => {
      const id = String(r.entity);
      const topic = r.src_topic as string;
      const partition = Number(r.src_partition);
      if (cur === null || cur.id !== id || cur.partition !== partition || cur.topic !== topic) {
        await done(cur);
        cur = { id, topic, partition, state: new EntityWindows(geometry), fence: -1n };
      }
      cur.state.apply(await eventOf(r, amounts), scratch);
      cur.fence = BigInt(String(r.src_offset));
      replayed++;
    });
    await done(cur);
    await flush();
    if (kind === 'account') rows = replayed; // every row has exactly one account
  }
  return { rows, contributions, from: from.toISOString() };
}

/**
 * One kind's rows of the range, ordered by entity, source partition and offset, so each
 * contribution's rows arrive together and in the order its partition's owner applied them.
 *
 * EXPLAIN (MariaDB 10.11, 20,000 rows, the range 60 % of them): `ALL`, "Using where; Using
 * filesort". MariaDB sorts: no index leads with an entity column (migration 013 keeps only indexes
 * with a reader on the hot path), and ix_transactions_event_time, which a narrower range may use,
 * cannot give the entity order. It sorts the range once per kind, in sort_buffer_size and merge
 * files on disk: bounded memory on the server. Keyset pagination would have to sort the remaining
 * range again for every page (quadratic in the rows), and an index per entity column would cost
 * every batch's insert for a rebuild that runs rarely; one sorted stream per kind costs one sort,
 * and with mysql2's backpressure this process holds one contribution and one checkpoint's writes
 * at a time.
 */
function kindQuery(column: string): string {
  return `SELECT ${column} AS entity, src_topic, src_partition, src_offset, event_time, late, merchant_id, merchant_country,
            latitude, longitude, feature_layout, feature_values
       FROM transactions WHERE event_time >= ?${column === 'device_id' ? ' AND device_id IS NOT NULL' : ''}
      ORDER BY ${column}, src_topic, src_partition, src_offset, id`;
}

/** The event a row applies (EntityEvent as the ingest processor builds it for partition-state.ts). */
async function eventOf(r: RowDataPacket, amounts: BaseAmounts): Promise<EntityEvent> {
  return {
    eventTime: (r.event_time as Date).getTime(),
    amountMinor: await amounts.of(r),
    merchantId: r.merchant_id as string,
    country: r.merchant_country as string,
    lat: (r.latitude as number | null) ?? null,
    lon: (r.longitude as number | null) ?? null,
    late: Boolean(r.late),
  };
}

/** A row's base amount: the static feature `amount_base_minor` of its stored vector (null: no FX rate, or no vector). */
class BaseAmounts {
  private readonly decoder: FeatureDecoder;
  /** Per layout version, the position of amount_base_minor (-1: not in it). */
  private readonly at = new Map<number, number>();

  constructor(pool: Pool) {
    this.decoder = new FeatureDecoder(pool);
  }

  async of(r: RowDataPacket): Promise<number | null> {
    if (r.feature_layout === null || r.feature_layout === undefined) return null;
    const version = Number(r.feature_layout);
    // A handful of layouts ever: read each once, on first sight.
    if (!this.at.has(version)) await this.decoder.load([version]);
    const stored = this.decoder.decode(version, r.feature_values);
    if (stored === null) return null;
    let i = this.at.get(version);
    if (i === undefined) {
      i = stored.names.indexOf('amount_base_minor');
      this.at.set(version, i);
    }
    const v = i < 0 ? null : stored.values[i];
    return typeof v === 'number' ? v : null;
  }
}

/**
 * Streams a query's rows into `onRow`, one at a time (mysql2 pauses the connection while rows wait).
 * The connection is destroyed rather than returned to the pool when the stream did not end cleanly.
 */
async function streamRows(pool: Pool, sql: string, values: unknown[], onRow: (r: RowDataPacket) => Promise<void>): Promise<void> {
  const conn: PoolConnection = await pool.getConnection();
  let clean = false;
  let idle: NodeJS.Timeout | undefined;
  try {
    // The promise API has no stream; its connection wraps the callback API's (typed as the promise one).
    const core = conn.connection as unknown as CoreConnection;
    const stream = core.query({ sql, values }).stream({ highWaterMark: ROWS_BUFFERED });
    const arm = () => {
      clearTimeout(idle);
      idle = setTimeout(
        () =>
          stream.destroy(new DependencyError('mysql', `the state rebuild's query sent no row for ${STREAM_IDLE_MS / 1000} s`)),
        STREAM_IDLE_MS,
      );
    };
    arm();
    for await (const r of stream as AsyncIterable<RowDataPacket>) {
      clearTimeout(idle);
      await onRow(r);
      arm();
    }
    clean = true;
  } finally {
    clearTimeout(idle);
    if (clean) conn.release();
    else conn.destroy();
  }
}
