/**
 * The model registry in MySQL (migrations/006): models and their states, candidate → shadow →
 * active → retired (models/lifecycle.ts: every change in one transaction under the registry's lock,
 * audited, bumping the revision that running processors poll).
 */
import type { RowDataPacket } from 'mysql2/promise';
import type { Baseline } from '../detection/baseline.ts';
import type { ModelCard } from '../detection/model-card.ts';
import { parseForest } from '../detection/forest-file.ts';
import type { ForestModel } from '../detection/isolation-forest.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { audit } from '../sinks/audit.ts';
import { MODELS, change, promoteIn, revisionOf, rollbackIn, shadowIn, type LifecycleState } from './lifecycle.ts';

export type ModelState = LifecycleState;

export interface ModelParams {
  trees: number;
  sampleSize: number;
  seed: number;
  targetAlertRate: number;
}

/** What training produces, before it has a state. */
export interface NewModel {
  version: string;
  /** Its model card (detection/model-card.ts), written at training; a model without one cannot be promoted. */
  card: ModelCard;
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

/** Stores a newly trained model as a candidate. */
export async function registerModel(pool: Pool, m: NewModel, actor: string): Promise<void> {
  await change(pool, MODELS, async (conn) => {
    await conn.query(
      `INSERT INTO models (version, state, created_at, state_changed_at, trained_from, trained_to, training_rows, params, features, threshold, baseline, metrics, checksum, forest, card)
       VALUES (?, 'candidate', NOW(3), NOW(3), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
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
        JSON.stringify(m.card),
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

/**
 * Makes `version` the active model; the previous active one is retired, a shadow promoted leaves
 * shadow. A model without a card (trained before cards) is refused: `txmon model card <v> --generate`.
 */
export async function promote(
  pool: Pool,
  version: string,
  actor: string,
  reason?: string,
  clientAddr: string | null = null,
): Promise<{ previous: string | null }> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT card IS NOT NULL AS carded FROM models WHERE version = ?', [version]);
  if (rows[0] !== undefined && Number(rows[0].carded) !== 1)
    throw new InputError(
      `model ${version} has no model card, so it cannot be promoted: write one with txmon model card ${version} --generate`,
    );
  return promoteIn(pool, MODELS, version, actor, reason, clientAddr);
}

/** A model's card, or null when it has none (trained before cards). */
export async function loadModelCard(pool: Pool, version: string): Promise<ModelCard | null> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT card FROM models WHERE version = ?', [version]);
  if (rows[0] === undefined) throw new InputError(`no model ${version} (txmon model list shows them)`);
  return rows[0].card === null ? null : json<ModelCard>(rows[0].card);
}

/** Stores the card of a model trained before cards existed (`txmon model card --generate`), audited. */
export async function storeModelCard(pool: Pool, card: ModelCard, actor: string): Promise<void> {
  await change(pool, MODELS, async (conn) => {
    await conn.query('UPDATE models SET card = ? WHERE version = ? AND card IS NULL', [JSON.stringify(card), card.version]);
    await audit(conn, actor, 'model.card', card.version, { segments: card.segments.length, limits: card.limits.length });
  });
}

/** Scores `version` beside the active model; a model already in shadow goes back to candidate. */
export const shadow = (pool: Pool, version: string, actor: string, reason?: string, clientAddr: string | null = null) =>
  shadowIn(pool, MODELS, version, actor, reason, clientAddr);

/** Retires the active model and reactivates the one active before it. */
export const rollback = (pool: Pool, actor: string, reason?: string, clientAddr: string | null = null) =>
  rollbackIn(pool, MODELS, actor, reason, clientAddr);

/** The registry revision: it changes whenever a model changes state. */
export const registryRevision = (pool: Pool) => revisionOf(pool, MODELS);

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
