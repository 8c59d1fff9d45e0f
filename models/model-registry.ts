/**
 * The model registry in MySQL (migrations/006): models and their states, candidate → shadow →
 * active → retired. Every change runs in one transaction that locks the registry row, writes the
 * audit log, and bumps the registry revision that running processors poll.
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { Baseline } from '../detection/baseline.ts';
import { parseForest } from '../detection/forest-file.ts';
import type { ForestModel } from '../detection/isolation-forest.ts';
import { InputError } from '../platform/errors.ts';
import { inTransaction, type Pool } from '../platform/mysql.ts';
import { audit } from '../sinks/audit.ts';

export type ModelState = 'candidate' | 'shadow' | 'active' | 'retired';

export interface ModelParams {
  trees: number;
  sampleSize: number;
  seed: number;
  targetAlertRate: number;
}

/** What training produces, before it has a state. */
export interface NewModel {
  version: string;
  trainedFrom: Date;
  trainedTo: Date;
  trainingRows: number;
  params: ModelParams;
  features: string[];
  threshold: number;
  baseline: Baseline;
  metrics: Record<string, unknown> | null;
  checksum: string;
  forest: string;
}

export interface ModelSummary {
  version: string;
  state: ModelState;
  createdAt: Date;
  stateChangedAt: Date;
  lastActiveAt: Date | null;
  trainedFrom: Date;
  trainedTo: Date;
  trainingRows: number;
  params: ModelParams;
  threshold: number;
  metrics: Record<string, unknown> | null;
  checksum: string;
  featureCount: number;
}

/** A model ready to score: its forest checked against its checksum. */
export interface LoadedModel {
  version: string;
  state: ModelState;
  features: string[];
  threshold: number;
  baseline: Baseline;
  forest: ForestModel;
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

function summary(r: RowDataPacket): ModelSummary {
  return {
    version: r.version as string,
    state: r.state as ModelState,
    createdAt: r.created_at as Date,
    stateChangedAt: r.state_changed_at as Date,
    lastActiveAt: (r.last_active_at as Date | null) ?? null,
    trainedFrom: r.trained_from as Date,
    trainedTo: r.trained_to as Date,
    trainingRows: Number(r.training_rows),
    params: json<ModelParams>(r.params),
    threshold: Number(r.threshold),
    metrics: r.metrics === null ? null : json<Record<string, unknown>>(r.metrics),
    checksum: r.checksum as string,
    featureCount: Number(r.feature_count),
  };
}

const SUMMARY_COLUMNS =
  'version, state, created_at, state_changed_at, last_active_at, trained_from, trained_to, training_rows, params, threshold, metrics, checksum, JSON_LENGTH(features) AS feature_count';

/** Runs `fn` in a transaction holding the registry lock; bumps the revision when it returns. */
async function change<T>(pool: Pool, fn: (conn: PoolConnection) => Promise<T>): Promise<T> {
  return inTransaction(pool, async (conn) => {
    await conn.query('SELECT revision FROM model_registry WHERE id = 1 FOR UPDATE');
    const out = await fn(conn);
    await conn.query('UPDATE model_registry SET revision = revision + 1 WHERE id = 1');
    return out;
  });
}

async function stateOf(conn: PoolConnection, version: string): Promise<ModelState> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT state FROM models WHERE version = ? FOR UPDATE', [version]);
  const state = rows[0]?.state as ModelState | undefined;
  if (state === undefined) throw new InputError(`no model ${version} (txmon model list shows them)`);
  return state;
}

async function setState(conn: PoolConnection, version: string, state: ModelState): Promise<void> {
  await conn.query<ResultSetHeader>(
    `UPDATE models SET state = ?, state_changed_at = NOW(3)${state === 'active' ? ', last_active_at = NOW(3)' : ''} WHERE version = ?`,
    [state, version],
  );
}

async function versionIn(conn: PoolConnection, state: ModelState): Promise<string | null> {
  const [rows] = await conn.query<RowDataPacket[]>('SELECT version FROM models WHERE state = ? FOR UPDATE', [state]);
  return (rows[0]?.version as string | undefined) ?? null;
}

/** Stores a newly trained model as a candidate. */
export async function registerModel(pool: Pool, m: NewModel, actor: string): Promise<void> {
  await change(pool, async (conn) => {
    await conn.query(
      `INSERT INTO models (version, state, created_at, state_changed_at, trained_from, trained_to, training_rows, params, features, threshold, baseline, metrics, checksum, forest)
       VALUES (?, 'candidate', NOW(3), NOW(3), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        m.version,
        m.trainedFrom,
        m.trainedTo,
        m.trainingRows,
        JSON.stringify(m.params),
        JSON.stringify(m.features),
        m.threshold,
        JSON.stringify(m.baseline),
        m.metrics === null ? null : JSON.stringify(m.metrics),
        m.checksum,
        m.forest,
      ],
    );
    await audit(conn, actor, 'model.train', m.version, {
      trainingRows: m.trainingRows,
      trainedFrom: m.trainedFrom,
      trainedTo: m.trainedTo,
      params: m.params,
      threshold: m.threshold,
      checksum: m.checksum,
      metrics: m.metrics,
    });
  });
}

/** Every model, newest first. */
export async function listModels(pool: Pool): Promise<ModelSummary[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${SUMMARY_COLUMNS} FROM models ORDER BY created_at DESC, version DESC`,
  );
  return rows.map(summary);
}

/** Makes `version` the active model; the previous active one is retired, a shadow promoted leaves shadow. */
export async function promote(
  pool: Pool,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ previous: string | null }> {
  return change(pool, async (conn) => {
    const from = await stateOf(conn, version);
    if (from === 'active') throw new InputError(`model ${version} is already active`);
    const previous = await versionIn(conn, 'active');
    if (previous !== null) await setState(conn, previous, 'retired');
    await setState(conn, version, 'active');
    await audit(conn, actor, 'model.promote', version, { from, previous, reason: reason ?? null }, clientAddr);
    return { previous };
  });
}

/** Scores `version` beside the active model; a model already in shadow goes back to candidate. */
export async function shadow(
  pool: Pool,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ replaced: string | null }> {
  return change(pool, async (conn) => {
    const from = await stateOf(conn, version);
    if (from === 'shadow') throw new InputError(`model ${version} is already in shadow`);
    if (from === 'active') throw new InputError(`model ${version} is active; roll back or promote another first`);
    const replaced = await versionIn(conn, 'shadow');
    if (replaced !== null) await setState(conn, replaced, 'candidate');
    await setState(conn, version, 'shadow');
    await audit(conn, actor, 'model.shadow', version, { from, replaced, reason: reason ?? null }, clientAddr);
    return { replaced };
  });
}

/** Retires the active model and reactivates the one active before it. */
export async function rollback(
  pool: Pool,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ from: string; to: string }> {
  return change(pool, async (conn) => {
    const current = await versionIn(conn, 'active');
    if (current === null) throw new InputError('no model is active: nothing to roll back');
    const [rows] = await conn.query<RowDataPacket[]>(
      "SELECT version FROM models WHERE state = 'retired' AND last_active_at IS NOT NULL ORDER BY last_active_at DESC LIMIT 1 FOR UPDATE",
    );
    const to = rows[0]?.version as string | undefined;
    if (to === undefined) throw new InputError(`model ${current} is the first active model: there is none to roll back to`);
    await setState(conn, current, 'retired');
    await setState(conn, to, 'active');
    await audit(conn, actor, 'model.rollback', to, { from: current, reason: reason ?? null }, clientAddr);
    return { from: current, to };
  });
}

/** The registry revision: it changes whenever a model changes state. */
export async function registryRevision(pool: Pool): Promise<number> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT revision FROM model_registry WHERE id = 1');
  return Number(rows[0]?.revision ?? 0);
}

function loaded(r: RowDataPacket): LoadedModel {
  const parsed = parseForest(r.forest as string);
  if (parsed.checksum !== r.checksum)
    throw new InputError(`model ${r.version as string}: stored checksum ${r.checksum as string} does not match its forest`);
  return {
    version: r.version as string,
    state: r.state as ModelState,
    features: json<string[]>(r.features),
    threshold: Number(r.threshold),
    baseline: json<Baseline>(r.baseline),
    forest: parsed.model,
  };
}

/** One model, loaded and checked. */
export async function loadModel(pool: Pool, version: string): Promise<LoadedModel> {
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT version, state, features, threshold, baseline, checksum, forest FROM models WHERE version = ?',
    [version],
  );
  if (rows[0] === undefined) throw new InputError(`no model ${version}`);
  return loaded(rows[0]);
}

/** The active and shadow models, loaded and checked. */
export async function loadServingModels(pool: Pool): Promise<{ active: LoadedModel | null; shadow: LoadedModel | null }> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT version, state, features, threshold, baseline, checksum, forest FROM models WHERE state IN ('active', 'shadow')",
  );
  const out: { active: LoadedModel | null; shadow: LoadedModel | null } = { active: null, shadow: null };
  for (const r of rows) {
    const m = loaded(r);
    if (m.state === 'active') out.active = m;
    else out.shadow = m;
  }
  return out;
}
