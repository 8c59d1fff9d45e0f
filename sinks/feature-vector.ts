/**
 * Feature vectors in MySQL (migration 013): a row stores its snapshot as `feature_layout` (a version
 * of `feature_layouts`, which holds the ordered names once) and `feature_values` (the values, in
 * that order, as a JSON array: domain/snapshot.ts SnapshotWriter). This is the one place txmon
 * reads them back by name (training, the API, the state rebuild, the replay look-up), and where a
 * layout is registered. Outside readers keep `transactions.features`, the named object, computed
 * from the same two columns by MariaDB (docs/storage.md).
 */
import type mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { snapshotFromVector } from '../domain/snapshot.ts';
import { ConfigError } from '../platform/errors.ts';

/** A pool or one of its connections: both query. */
export type Queryable = Pick<mysql.Pool, 'query'> | Pick<mysql.PoolConnection, 'query'>;

/** A stored vector, decoded: its layout, its values in order, and a read by name. */
export interface StoredFeatures {
  layout: number;
  values: readonly unknown[];
  names: readonly string[];
  /** The snapshot object (name → value), as `transactions.features` returns it. */
  object(): Record<string, unknown>;
}

const sameNames = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n, i) => b[i] === n);

/**
 * Registers the layout of `names` if it is new (idempotent: feature_layouts is unique on the names'
 * hash) and, when it was new, regenerates the `features` column to cover it. Needs ALTER: run by
 * `txmon migrate`, which runs as an administrator. Returns the layout's version.
 */
export async function registerFeatureLayout(conn: Queryable, names: readonly string[]): Promise<number> {
  const [res] = await conn.query<mysql.ResultSetHeader>('INSERT IGNORE INTO feature_layouts (names) VALUES (?)', [
    JSON.stringify(names),
  ]);
  if (res.affectedRows > 0) await conn.query('CALL txmon_regenerate_features()');
  const version = await featureLayoutVersion(conn, names);
  if (version === null) throw new Error(`feature layout of ${names.length} names not found after registering it`);
  return version;
}

/** The version of the layout of exactly `names`, or null when it is not registered. */
export async function featureLayoutVersion(conn: Queryable, names: readonly string[]): Promise<number | null> {
  const [rows] = await conn.query<RowDataPacket[]>(
    'SELECT version, names FROM feature_layouts WHERE names_sha256 = UNHEX(SHA2(JSON_COMPACT(?), 256))',
    [JSON.stringify(names)],
  );
  const r = rows[0];
  // The hash picked it; the names themselves confirm it.
  return r !== undefined && sameNames(parseJson<string[]>(r.names), names) ? Number(r.version) : null;
}

/** The layout the writer stores vectors in; fails at start-up when `txmon migrate` has not registered it. */
export async function requireFeatureLayout(conn: Queryable, names: readonly string[]): Promise<number> {
  const version = await featureLayoutVersion(conn, names);
  if (version === null)
    throw new ConfigError(
      `the feature layout of the configured windows (${names.length} features) is not registered in MySQL: run \`txmon migrate\``,
    );
  return version;
}

function parseJson<T>(v: unknown): T {
  return (typeof v === 'string' || Buffer.isBuffer(v) ? JSON.parse(v.toString()) : v) as T;
}

/** Decodes stored vectors; layouts are read from MySQL on first sight (there are a handful, ever). */
export class FeatureDecoder {
  private readonly layouts = new Map<number, readonly string[]>();

  constructor(private readonly db: Queryable) {}

  /** Reads the layouts of `versions` not read yet (one query); call before decode() on a page of rows. */
  async load(versions: Iterable<unknown>): Promise<void> {
    const missing = new Set<number>();
    for (const v of versions) if (v !== null && v !== undefined && !this.layouts.has(Number(v))) missing.add(Number(v));
    if (missing.size === 0) return;
    const [rows] = await this.db.query<RowDataPacket[]>('SELECT version, names FROM feature_layouts WHERE version IN (?)', [
      [...missing],
    ]);
    for (const r of rows) this.layouts.set(Number(r.version), Object.freeze(parseJson<string[]>(r.names)));
  }

  /** A row's `feature_layout` and `feature_values` decoded; null for a row without a snapshot. */
  decode(layout: unknown, values: unknown): StoredFeatures | null {
    if (layout === null || layout === undefined || values === null || values === undefined) return null;
    const version = Number(layout);
    const names = this.layouts.get(version);
    if (names === undefined) throw new Error(`feature layout ${version} not loaded (FeatureDecoder.load first)`);
    const parsed = parseJson<unknown[]>(values);
    if (!Array.isArray(parsed) || parsed.length !== names.length)
      throw new RangeError(`a feature vector of layout ${version} holds ${String(parsed?.length)} values, not ${names.length}`);
    return { layout: version, values: parsed, names, object: () => snapshotFromVector(names, parsed) };
  }

  /** Loads the layouts of `rows` and decodes each row's vector (columns feature_layout, feature_values). */
  async decodeRows(rows: readonly RowDataPacket[]): Promise<Array<StoredFeatures | null>> {
    await this.load(rows.map((r) => r.feature_layout));
    return rows.map((r) => this.decode(r.feature_layout, r.feature_values));
  }
}
