/**
 * The lifecycle models and rule sets share (migrations 006 and 014): candidate → shadow → active →
 * retired, at most one active and one in shadow. Every change runs in one MySQL transaction that
 * locks the registry's row, writes the audit log, and bumps the registry revision that running
 * processors poll.
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { InputError } from '../platform/errors.ts';
import { inTransaction, type Pool } from '../platform/mysql.ts';
import { audit } from '../sinks/audit.ts';

export type LifecycleState = 'candidate' | 'shadow' | 'active' | 'retired';

/** Where one kind of versioned thing lives, and what it is called in messages and the audit log. */
export interface Registry {
  /** The table of versions (`version`, `state`, `state_changed_at`, `last_active_at`). */
  readonly table: 'models' | 'rule_sets';
  /** The one-row table whose `revision` processors poll. */
  readonly lock: 'model_registry' | 'rule_set_registry';
  /** In messages: "no model x", "rule set x is already active". */
  readonly noun: string;
  /** The audit log's action prefix: `<prefix>.promote`. */
  readonly action: string;
  /** The command that lists them, named in "no such version" messages. */
  readonly lister: string;
}

export const MODELS: Registry = Object.freeze({
  table: 'models',
  lock: 'model_registry',
  noun: 'model',
  action: 'model',
  lister: 'txmon model list',
});
export const RULE_SETS: Registry = Object.freeze({
  table: 'rule_sets',
  lock: 'rule_set_registry',
  noun: 'rule set',
  action: 'rules',
  lister: 'txmon rules list',
});

/** Runs `fn` in a transaction holding the registry lock; bumps the revision when it returns. */
export async function change<T>(pool: Pool, reg: Registry, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (conn) => {
    await conn.query(`SELECT revision FROM ${reg.lock} WHERE id = 1 FOR UPDATE`);
    const out = await fn(conn);
    await conn.query(`UPDATE ${reg.lock} SET revision = revision + 1 WHERE id = 1`);
    return out;
  });
}

async function stateOf(conn: PoolConnection, reg: Registry, version: string): Promise<LifecycleState> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT state FROM ${reg.table} WHERE version = ? FOR UPDATE`, [version]);
  const state = rows[0]?.state as LifecycleState | undefined;
  if (state === undefined) throw new InputError(`no ${reg.noun} ${version} (${reg.lister} shows them)`);
  return state;
}

async function setState(conn: PoolConnection, reg: Registry, version: string, state: LifecycleState): Promise<void> {
  await conn.query<ResultSetHeader>(
    `UPDATE ${reg.table} SET state = ?, state_changed_at = NOW(3)${state === 'active' ? ', last_active_at = NOW(3)' : ''} WHERE version = ?`,
    [state, version],
  );
}

async function versionIn(conn: PoolConnection, reg: Registry, state: LifecycleState): Promise<string | null> {
  const [rows] = await conn.query<RowDataPacket[]>(`SELECT version FROM ${reg.table} WHERE state = ? FOR UPDATE`, [state]);
  return (rows[0]?.version as string | undefined) ?? null;
}

/** Makes `version` the active one; the previous active one is retired, a shadow promoted leaves shadow. */
export async function promoteIn(
  pool: Pool,
  reg: Registry,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ previous: string | null }> {
  return change(pool, reg, (conn) => promoteWithin(conn, reg, version, actor, reason, clientAddr));
}

/** promoteIn's work inside the caller's transaction (which holds the registry's lock). */
export async function promoteWithin(
  conn: PoolConnection,
  reg: Registry,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ previous: string | null }> {
  const from = await stateOf(conn, reg, version);
  if (from === 'active') throw new InputError(`${reg.noun} ${version} is already active`);
  const previous = await versionIn(conn, reg, 'active');
  if (previous !== null) await setState(conn, reg, previous, 'retired');
  await setState(conn, reg, version, 'active');
  await audit(conn, actor, `${reg.action}.promote`, version, { from, previous, reason: reason ?? null }, clientAddr);
  return { previous };
}

/** The active version, inside the caller's transaction; null when none is active. */
export async function activeWithin(conn: PoolConnection, reg: Registry): Promise<string | null> {
  return versionIn(conn, reg, 'active');
}

/** The state of `version`, inside the caller's transaction (an InputError naming it when there is none). */
export async function stateWithin(conn: PoolConnection, reg: Registry, version: string): Promise<LifecycleState> {
  return stateOf(conn, reg, version);
}

/** Puts `version` in shadow beside the active one; one already in shadow goes back to candidate. */
export async function shadowIn(
  pool: Pool,
  reg: Registry,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ replaced: string | null }> {
  return change(pool, reg, async (conn) => {
    const from = await stateOf(conn, reg, version);
    if (from === 'shadow') throw new InputError(`${reg.noun} ${version} is already in shadow`);
    if (from === 'active') throw new InputError(`${reg.noun} ${version} is active; roll back or promote another first`);
    const replaced = await versionIn(conn, reg, 'shadow');
    if (replaced !== null) await setState(conn, reg, replaced, 'candidate');
    await setState(conn, reg, version, 'shadow');
    await audit(conn, actor, `${reg.action}.shadow`, version, { from, replaced, reason: reason ?? null }, clientAddr);
    return { replaced };
  });
}

/** Retires the active one and reactivates the one active before it. */
export async function rollbackIn(
  pool: Pool,
  reg: Registry,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ from: string; to: string }> {
  return change(pool, reg, async (conn) => {
    const current = await versionIn(conn, reg, 'active');
    if (current === null) throw new InputError(`no ${reg.noun} is active: nothing to roll back`);
    const [rows] = await conn.query<RowDataPacket[]>(
      `SELECT version FROM ${reg.table} WHERE state = 'retired' AND last_active_at IS NOT NULL ORDER BY last_active_at DESC LIMIT 1 FOR UPDATE`,
    );
    const to = rows[0]?.version as string | undefined;
    if (to === undefined)
      throw new InputError(`${reg.noun} ${current} is the first active ${reg.noun}: there is none to roll back to`);
    await setState(conn, reg, current, 'retired');
    await setState(conn, reg, to, 'active');
    await audit(conn, actor, `${reg.action}.rollback`, to, { from: current, reason: reason ?? null }, clientAddr);
    return { from: current, to };
  });
}

/** The registry revision: it changes whenever a version changes state or is added. */
export async function revisionOf(pool: Pool, reg: Registry): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>(`SELECT revision FROM ${reg.lock} WHERE id = 1`);
  return Number(rows[0]?.revision ?? 0);
}
