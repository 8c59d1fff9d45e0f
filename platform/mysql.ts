/** MySQL/MariaDB pool and migrations (postgrator over plain SQL files in migrations/). */
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import Postgrator from 'postgrator';
import type { TxmonConfig } from '../config/config.ts';
import { snapshotFeatureNames } from '../domain/snapshot.ts';
import { registerFeatureLayout } from '../sinks/feature-vector.ts';

export type Pool = mysql.Pool;

/**
 * Where and as whom to connect: the server of TXMON_MYSQL_URL with its user, the password from
 * TXMON_MYSQL_PASSWORD(_FILE) or the URL, and TLS when configured (the server's certificate and its
 * name verified). `database: false` for the server alone (creating the database).
 */
export function mysqlConnectionOptions(cfg: TxmonConfig, opts: { database?: boolean } = {}): mysql.ConnectionOptions {
  const { host, port, user, password, ssl, database } = cfg.mysql;
  return {
    host,
    port,
    user,
    password: password?.reveal(),
    database: opts.database === false ? undefined : database,
    ssl: ssl === null ? undefined : { ca: ssl.ca, rejectUnauthorized: true, verifyIdentity: true },
    connectTimeout: 5_000,
  };
}

/** One connection on the configured database (or server): for tools and tests, not the hot path. */
export function createConnection(
  cfg: TxmonConfig,
  opts: { database?: boolean; multipleStatements?: boolean } = {},
): Promise<mysql.Connection> {
  return mysql.createConnection({
    ...mysqlConnectionOptions(cfg, opts),
    multipleStatements: opts.multipleStatements ?? false,
  });
}

/**
 * Runs fn in one MySQL transaction on a connection of the pool: committed when fn resolves, rolled
 * back when it throws (the rollback's own failure is secondary: fn's error is the one thrown).
 */
export async function inTransaction<T>(pool: Pool, fn: (conn: mysql.PoolConnection) => Promise<T>): Promise<T> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
    const out = await fn(conn);
    await conn.commit();
    return out;
  } catch (err) {
    await rollbackOrDestroy(conn);
    throw err;
  } finally {
    conn.release();
  }
}

/**
 * The rollback after a failed statement (the caller throws the statement's own error). A rollback
 * that fails leaves the connection in an unknown state: a transaction may still be open on it, and
 * the next `BEGIN` there would commit it. So it is destroyed (MySQL rolls back what a closed
 * connection left open), and `release()` after it gives the pool nothing back.
 */
export async function rollbackOrDestroy(conn: Pick<mysql.PoolConnection, 'rollback' | 'destroy'>): Promise<void> {
  try {
    await conn.rollback();
  } catch {
    conn.destroy();
  }
}

/**
 * mysql2's formatting (sql-escaper's format, as Connection#format calls it), except that a statement
 * sent without values goes as it is at once: format returns it unchanged too, but only after reading
 * all of it for placeholders, which for the sink's INSERT built as text (sinks/row-text.ts, ~1 KB a
 * row) costs as much as building it.
 */
export function formatQuery(sql: string, values: unknown, timezone = 'Z'): string {
  if (values === undefined || values === null || (Array.isArray(values) && values.length === 0)) return sql;
  return mysql.format(sql, values as mysql.SqlValue, false, timezone as mysql.Timezone);
}

/** Each pooled connection's session: UTC, and backslash escapes in strings (sql_mode without NO_BACKSLASH_ESCAPES). */
export const SESSION_SETTINGS =
  "SET time_zone = '+00:00', sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))";

/**
 * A pool on the configured database. `dateStrings` off: DATETIME(3) comes back as Date in UTC; the
 * session is in UTC. `multipleStatements` only for a writer whose every statement is built from
 * escaped values (the ingest's transactions sink: one round trip per batch's statements).
 */
export function createPool(cfg: TxmonConfig, opts: { connectionLimit?: number; multipleStatements?: boolean } = {}): Pool {
  const pool = mysql.createPool({
    ...mysqlConnectionOptions(cfg),
    connectionLimit: opts.connectionLimit ?? 4,
    timezone: 'Z',
    // mysql2 calls it with the connection's timezone (above) as the third argument.
    queryFormat: formatQuery,
    supportBigNumbers: true,
    bigNumberStrings: false,
    multipleStatements: opts.multipleStatements ?? false,
    enableKeepAlive: true,
    // affectedRows must count inserted rows only, so the sink can tell a no-op upsert from an insert.
    flags: ['-FOUND_ROWS'],
  });
  // The server's own NOW(3) and CURRENT_TIMESTAMP(3) in UTC too, like every DATETIME txmon reads
  // and writes (timezone 'Z'), whatever the server's zone; and backslashes as escapes, which is how
  // mysql2 (and sinks/row-text.ts) escape a quote in a value: a server whose sql_mode has
  // NO_BACKSLASH_ESCAPES would otherwise end the string there. Sent first on each new connection.
  pool.on('connection', (conn) => {
    // The promise pool re-emits the underlying callback-style connection.
    const core = conn as unknown as { query(sql: string, cb: (err: Error | null) => void): void; destroy(): void };
    core.query(SESSION_SETTINGS, (err) => {
      if (!err) return;
      process.emitWarning(`txmon: could not set the MySQL session's time zone and escapes: ${err.message}`);
      // A connection whose strings may not be read as written is not used.
      core.destroy();
    });
  });
  return pool;
}

/** Runs `fn` with a pool of its own, ended when it settles (a command's whole use of MySQL). */
export async function withPool<T>(
  cfg: TxmonConfig,
  fn: (pool: Pool) => Promise<T>,
  opts: { connectionLimit?: number; multipleStatements?: boolean } = {},
): Promise<T> {
  const pool = createPool(cfg, opts);
  try {
    return await fn(pool);
  } finally {
    await pool.end();
  }
}

const MIGRATIONS_DIR = fileURLToPath(new URL('../migrations/', import.meta.url));

/**
 * Creates the database if needed, applies pending migrations (up to `to`, default all) and registers
 * the feature layout of the configured windows (sinks/feature-vector.ts); safe to re-run. Returns
 * the versions applied now.
 */
export async function migrate(
  cfg: TxmonConfig,
  log: (line: string) => void = () => {},
  opts: { to?: string } = {},
): Promise<string[]> {
  const admin = await createConnection(cfg, { database: false });
  try {
    await admin.query(`CREATE DATABASE IF NOT EXISTS \`${cfg.mysql.database}\` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin`);
  } finally {
    await admin.end();
  }
  const conn = await createConnection(cfg, { multipleStatements: true });
  try {
    const postgrator = new Postgrator({
      migrationPattern: `${MIGRATIONS_DIR}*`,
      driver: 'mysql',
      database: cfg.mysql.database,
      schemaTable: 'schema_migrations',
      execQuery: async (query: string) => {
        const [rows] = await conn.query(query);
        return { rows: Array.isArray(rows) ? (rows as unknown[]) : [] };
      },
    });
    postgrator.on('migration-started', (m: { version: number; name: string }) => log(`migrate: applying ${m.version} ${m.name}`));
    const applied = await postgrator.migrate(opts.to);
    const version = await postgrator.getDatabaseVersion();
    log(`migrate: database ${cfg.mysql.database} at version ${version} (${applied.length} applied now)`);
    if (opts.to === undefined) {
      const layout = await registerFeatureLayout(conn, snapshotFeatureNames(cfg.state.windows));
      log(`migrate: feature layout ${layout} for the configured windows`);
    }
    return applied.map((m: { version: number; name: string }) => `${m.version}.${m.name}`);
  } finally {
    await conn.end();
  }
}
