/**
 * Staged rollouts (migration 016): a rule set or a model decides for a share of accounts first
 * (detection/canary.ts), grows by command, completes into a promotion, or is rolled back — by hand,
 * or by itself when a guardrail is crossed (checkRollout, run by the ingest processors). Every step
 * is one MySQL transaction under the rule-set registry's lock (whose revision the processors poll),
 * with its audit entry and evidence: a process killed mid-step leaves it done or not done.
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { psi } from '../detection/baseline.ts';
import type { DecisionKind } from '../detection/decide.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { audit } from '../sinks/audit.ts';
import { loadModel } from './model-registry.ts';
import { MODELS, RULE_SETS, activeWithin, change, promoteWithin, stateWithin, type Registry } from './lifecycle.ts';

export type RolloutKind = 'rules' | 'model';
export type RolloutState = 'running' | 'completed' | 'rolled_back';

export interface Rollout {
  id: number;
  kind: RolloutKind;
  version: string;
  controlVersion: string | null;
  shareBp: number;
  state: RolloutState;
  startedAt: Date;
  updatedAt: Date;
  openReviewsAtStart: number;
  evidence: RolloutEvidence | null;
}

/** The guardrails' limits (config: TXMON_ROLLOUT_*). */
export interface GuardrailLimits {
  /** Roll back when the canary's alert rate exceeds the control's by more than this factor. */
  maxAlertRateFactor: number;
  /** Roll back when the review queue (OPEN REVIEW alerts) grew by more than this since the start. */
  maxReviewQueueGrowth: number;
  /** Roll back when a model canary's recent scores drift from its training by more than this PSI. */
  maxScorePsi: number;
  /** Judge the alert rate only once the canary has decided this many transactions. */
  minDecisions: number;
}

export interface ArmCounts {
  decisions: number;
  alerts: number;
  reviews: number;
}

/** What a guardrail check measured, kept with the rollout (and the audit entry of a rollback). */
export interface RolloutEvidence {
  at: string;
  canary: ArmCounts;
  control: ArmCounts;
  canaryAlertRate: number | null;
  controlAlertRate: number | null;
  /** canary / control alert rate; null when either arm has no decision yet or the control has no alert. */
  alertRateFactor: number | null;
  openReviews: number;
  reviewQueueGrowth: number;
  scorePsi: number | null;
  limits: GuardrailLimits;
  /** The guardrails crossed (empty: none). */
  crossed: string[];
}

const REG: Record<RolloutKind, Registry> = { rules: RULE_SETS, model: MODELS };
const label = (k: RolloutKind) => (k === 'rules' ? 'rule set' : 'model');

function rolloutOf(r: RowDataPacket): Rollout {
  const evidence = r.evidence === null ? null : typeof r.evidence === 'string' ? JSON.parse(r.evidence) : r.evidence;
  return {
    id: Number(r.id),
    kind: r.kind as RolloutKind,
    version: r.version as string,
    controlVersion: (r.control_version as string | null) ?? null,
    shareBp: Number(r.share_bp),
    state: r.state as RolloutState,
    startedAt: r.started_at as Date,
    updatedAt: r.updated_at as Date,
    openReviewsAtStart: Number(r.open_reviews_at_start),
    evidence: evidence as RolloutEvidence | null,
  };
}

/** The running rollout, if any (read with a lock inside a step). */
export async function runningRollout(db: Pool | PoolConnection, forUpdate = false): Promise<Rollout | null> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT * FROM rollouts WHERE state = 'running' ORDER BY id DESC LIMIT 1${forUpdate ? ' FOR UPDATE' : ''}`,
  );
  return rows[0] === undefined ? null : rolloutOf(rows[0]);
}

/** Every rollout, newest first. */
export async function listRollouts(pool: Pool, limit = 20): Promise<Rollout[]> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT * FROM rollouts ORDER BY id DESC LIMIT ?', [limit]);
  return rows.map(rolloutOf);
}

/** One step of a rollout as the audit log keeps it: who, when, what (start, grow, complete, rollback) and its detail. */
export interface RolloutStep {
  at: Date;
  actor: string;
  action: string;
  detail: unknown;
}

/**
 * A rollout's audit trail, oldest first: its entries under its version's subject that name its id
 * (a start recorded before the id was kept in its detail is matched by its time, the rollout's start).
 */
export async function rolloutHistory(db: Pool | PoolConnection, r: Rollout): Promise<RolloutStep[]> {
  const [rows] = await db.query<RowDataPacket[]>(
    `SELECT at, actor, action, detail FROM audit_log
      WHERE subject = ? AND action LIKE 'rollout.%'
        AND (JSON_VALUE(detail, '$.id') = ?
             OR (action = 'rollout.start' AND JSON_VALUE(detail, '$.id') IS NULL
                 AND at BETWEEN ? - INTERVAL 1 SECOND AND ? + INTERVAL 1 SECOND))
      ORDER BY id`,
    [r.version, r.id, r.startedAt, r.startedAt],
  );
  return rows.map((row) => ({
    at: row.at as Date,
    actor: String(row.actor),
    action: String(row.action),
    detail: typeof row.detail === 'string' ? (JSON.parse(row.detail) as unknown) : row.detail,
  }));
}

async function openReviews(db: Pool | PoolConnection): Promise<number> {
  const [rows] = await db.query<RowDataPacket[]>(
    "SELECT COUNT(*) AS n FROM alerts WHERE status = 'OPEN' AND decision = 'REVIEW'",
  );
  return Number(rows[0]?.n ?? 0);
}

/** Who takes a step, and why (the audit log's actor and reason; the API's client address). */
export interface StepBy {
  actor: string;
  reason?: string;
  clientAddr?: string | null;
}

/** A step's fault point (crash tests: TXMON_FAULT_ROLLOUT_STEP): SIGKILL after the change, before its commit. */
export type StepFault = () => void;
const noFault: StepFault = () => {};

/** Starts a rollout of `version` at `shareBp` basis points of accounts; the rest stay with what is active. */
export async function startRollout(
  pool: Pool,
  kind: RolloutKind,
  version: string,
  shareBp: number,
  who: StepBy,
  fault: StepFault = noFault,
): Promise<Rollout> {
  return change(pool, RULE_SETS, async (conn) => {
    const running = await runningRollout(conn, true);
    if (running !== null)
      throw new InputError(
        `rollout ${running.id} of ${label(running.kind)} ${running.version} is running (${running.shareBp / 100}%): complete or roll it back first (txmon rollout status)`,
      );
    const reg = REG[kind];
    const state = await stateWithin(conn, reg, version);
    if (state === 'active') throw new InputError(`${reg.noun} ${version} is already active`);
    const control = await activeWithin(conn, reg);
    const reviews = await openReviews(conn);
    const [inserted] = await conn.query<ResultSetHeader>(
      `INSERT INTO rollouts (kind, version, control_version, share_bp, state, started_at, updated_at, open_reviews_at_start)
       VALUES (?, ?, ?, ?, 'running', NOW(3), NOW(3), ?)`,
      [kind, version, control, shareBp, reviews],
    );
    fault();
    await audit(
      conn,
      who.actor,
      'rollout.start',
      version,
      { id: inserted.insertId, kind, share: shareBp / 100, control, reason: who.reason ?? null },
      who.clientAddr ?? null,
    );
    return (await runningRollout(conn)) as Rollout;
  });
}

/** Grows the running rollout to `shareBp` (more than now). */
export async function growRollout(pool: Pool, shareBp: number, who: StepBy, fault: StepFault = noFault): Promise<Rollout> {
  return change(pool, RULE_SETS, async (conn) => {
    const r = await runningRollout(conn, true);
    if (r === null) throw new InputError('no rollout is running (txmon rollout status)');
    if (shareBp <= r.shareBp) throw new InputError(`rollout ${r.id} is at ${r.shareBp / 100}% already: grow it to more`);
    await conn.query('UPDATE rollouts SET share_bp = ?, updated_at = NOW(3) WHERE id = ?', [shareBp, r.id]);
    fault();
    await audit(
      conn,
      who.actor,
      'rollout.grow',
      r.version,
      { id: r.id, from: r.shareBp / 100, to: shareBp / 100, reason: who.reason ?? null },
      who.clientAddr ?? null,
    );
    return { ...r, shareBp };
  });
}

/** Completes the running rollout: its version is promoted for every account. */
export async function completeRollout(pool: Pool, who: StepBy, fault: StepFault = noFault): Promise<Rollout> {
  return change(pool, RULE_SETS, async (conn) => {
    const r = await runningRollout(conn, true);
    if (r === null) throw new InputError('no rollout is running (txmon rollout status)');
    await conn.query("UPDATE rollouts SET state = 'completed', updated_at = NOW(3) WHERE id = ?", [r.id]);
    await promoteWithin(
      conn,
      REG[r.kind],
      r.version,
      who.actor,
      who.reason ?? `rollout ${r.id} completed`,
      who.clientAddr ?? null,
    );
    // The model registry's own revision too, so the processors reload the models.
    if (r.kind === 'model') await conn.query('UPDATE model_registry SET revision = revision + 1 WHERE id = 1');
    fault();
    await audit(conn, who.actor, 'rollout.complete', r.version, { id: r.id, kind: r.kind }, who.clientAddr ?? null);
    return { ...r, state: 'completed' };
  });
}

/** Rolls the running rollout back (by hand, or by a guardrail with its evidence): every account back on the control. */
export async function rollBackRollout(
  pool: Pool,
  who: StepBy,
  evidence: RolloutEvidence | null = null,
  expectId?: number,
  fault: StepFault = noFault,
): Promise<Rollout | null> {
  return change(pool, RULE_SETS, async (conn) => {
    const r = await runningRollout(conn, true);
    if (r === null || (expectId !== undefined && r.id !== expectId)) {
      if (expectId !== undefined) return null; // a guardrail that lost the race: someone else ended it
      throw new InputError('no rollout is running (txmon rollout status)');
    }
    // The audit entry comes from the row's trigger (migration 016), in this transaction.
    await conn.query(
      "UPDATE rollouts SET state = 'rolled_back', updated_at = NOW(3), evidence = COALESCE(?, evidence), ended_by = ?, end_reason = ? WHERE id = ?",
      [evidence === null ? null : JSON.stringify(evidence), who.actor, who.reason ?? null, r.id],
    );
    fault();
    return { ...r, state: 'rolled_back', evidence: evidence ?? r.evidence };
  });
}

/** The decisions each arm of a rollout made so far (rollout_counts, summed over partitions). */
export async function armCounts(db: Pool | PoolConnection, id: number): Promise<{ canary: ArmCounts; control: ArmCounts }> {
  const [rows] = await db.query<RowDataPacket[]>(
    'SELECT arm, decision, SUM(n) AS n FROM rollout_counts WHERE rollout_id = ? GROUP BY arm, decision',
    [id],
  );
  const out = { canary: { decisions: 0, alerts: 0, reviews: 0 }, control: { decisions: 0, alerts: 0, reviews: 0 } };
  for (const r of rows) {
    const arm = out[r.arm as 'canary' | 'control'];
    const n = Number(r.n);
    const d = r.decision as DecisionKind;
    arm.decisions += n;
    if (d !== 'ALLOW') arm.alerts += n;
    if (d === 'REVIEW') arm.reviews += n;
  }
  return out;
}

/**
 * Measures the running rollout against the guardrails; `scorePsi` is the model canary's recent
 * score drift (null for rule sets, or when too few scores). Pure apart from the two reads.
 */
export async function measureRollout(
  pool: Pool,
  r: Rollout,
  limits: GuardrailLimits,
  scorePsi: number | null,
  now = new Date(),
): Promise<RolloutEvidence> {
  const { canary, control } = await armCounts(pool, r.id);
  const reviews = await openReviews(pool);
  return evidenceOf(canary, control, reviews, r.openReviewsAtStart, scorePsi, limits, now);
}

/** The evidence and the guardrails it crosses. Pure. */
export function evidenceOf(
  canary: ArmCounts,
  control: ArmCounts,
  openReviewsNow: number,
  openReviewsAtStart: number,
  scorePsi: number | null,
  limits: GuardrailLimits,
  now: Date,
): RolloutEvidence {
  const canaryRate = canary.decisions === 0 ? null : canary.alerts / canary.decisions;
  const controlRate = control.decisions === 0 ? null : control.alerts / control.decisions;
  const factor =
    canaryRate === null || controlRate === null
      ? null
      : controlRate === 0
        ? canaryRate === 0
          ? 1
          : Infinity
        : canaryRate / controlRate;
  // Growth relative to the queue at the start, with a floor of 100 so an empty queue does not make any review infinite growth.
  const growth = (openReviewsNow - openReviewsAtStart) / Math.max(100, openReviewsAtStart);
  const crossed: string[] = [];
  if (factor !== null && canary.decisions >= limits.minDecisions && factor > limits.maxAlertRateFactor)
    crossed.push(
      `alert rate ${(100 * (canaryRate as number)).toFixed(2)}% on the canary against ${(100 * (controlRate as number)).toFixed(2)}% on the control (${Number.isFinite(factor) ? factor.toFixed(2) : '∞'}× > ${limits.maxAlertRateFactor}×)`,
    );
  if (growth > limits.maxReviewQueueGrowth)
    crossed.push(
      `review queue ${openReviewsAtStart} → ${openReviewsNow} open reviews (+${(100 * growth).toFixed(0)}% > +${(100 * limits.maxReviewQueueGrowth).toFixed(0)}%)`,
    );
  if (scorePsi !== null && scorePsi > limits.maxScorePsi)
    crossed.push(
      `score PSI ${scorePsi.toFixed(3)} > ${limits.maxScorePsi} (the canary model's recent scores against its training)`,
    );
  return {
    at: now.toISOString(),
    canary,
    control,
    canaryAlertRate: canaryRate,
    controlAlertRate: controlRate,
    alertRateFactor: factor !== null && Number.isFinite(factor) ? factor : null,
    openReviews: openReviewsNow,
    reviewQueueGrowth: growth,
    scorePsi,
    limits,
    crossed,
  };
}

/**
 * Checks the running rollout: records the evidence, and rolls it back (audited, with the evidence)
 * when a guardrail is crossed. Safe from several processes at once: the rollback happens once
 * under the lock, the others find it ended. Returns what it did.
 */
export async function checkRollout(
  pool: Pool,
  limits: GuardrailLimits,
  scorePsiOf: (r: Rollout) => Promise<number | null>,
): Promise<{ rollout: Rollout; evidence: RolloutEvidence; rolledBack: boolean } | null> {
  const r = await runningRollout(pool);
  if (r === null) return null;
  const evidence = await measureRollout(pool, r, limits, await scorePsiOf(r));
  if (evidence.crossed.length === 0) {
    await pool.query("UPDATE rollouts SET evidence = ? WHERE id = ? AND state = 'running'", [JSON.stringify(evidence), r.id]);
    return { rollout: r, evidence, rolledBack: false };
  }
  const done = await rollBackRollout(pool, { actor: 'guardrail', reason: evidence.crossed.join('; ') }, evidence, r.id);
  return { rollout: r, evidence, rolledBack: done !== null };
}

/** Scores below this many make no PSI (too few to bin). */
const MIN_SCORES_FOR_PSI = 200;

/**
 * A model canary's score drift: PSI of its most recent `sample` scores (ix_transactions_model_decided)
 * against its training's score distribution; null for a rule-set rollout or too few scores yet.
 */
export async function canaryScorePsi(pool: Pool, r: Rollout, sample = 2_000): Promise<number | null> {
  if (r.kind !== 'model') return null;
  const [rows] = await pool.query<RowDataPacket[]>(
    'SELECT model_score FROM transactions WHERE model_version = ? AND model_score IS NOT NULL ORDER BY decided_at DESC LIMIT ?',
    [r.version, sample],
  );
  if (rows.length < MIN_SCORES_FOR_PSI) return null;
  const model = await loadModel(pool, r.version);
  return psi(
    model.baseline.score,
    Float64Array.from(rows, (x) => Number(x.model_score)),
  );
}
