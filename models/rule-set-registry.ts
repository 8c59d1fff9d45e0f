/**
 * The rule-set registry in MySQL (migration 014): published rule files, byte for byte, with their
 * author, reason and state (models/lifecycle.ts: candidate → shadow → active → retired, audited).
 * A rule file stays the authoring format; publishing it validates it as the processors would.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { emptyTransitions } from '../detection/backtest.ts';
import type { DecisionKind } from '../detection/decide.ts';
import { compileRuleSet, RuleSetError, type RuleSet } from '../detection/rules.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { audit } from '../sinks/audit.ts';
import { RULE_SETS, change, promoteIn, revisionOf, rollbackIn, shadowIn, type LifecycleState } from './lifecycle.ts';

export interface RuleSetSummary {
  version: string;
  name: string;
  state: LifecycleState;
  ruleCount: number;
  author: string;
  reason: string;
  createdAt: Date;
  stateChangedAt: Date;
  lastActiveAt: Date | null;
  contentSha256: string;
}

/** A stored rule set's text, as published. */
export interface StoredRuleSet {
  version: string;
  state: LifecycleState;
  text: string;
}

const SUMMARY_COLUMNS =
  'version, name, state, rule_count, author, reason, created_at, state_changed_at, last_active_at, content_sha256';

function summary(r: RowDataPacket): RuleSetSummary {
  return {
    version: r.version as string,
    name: r.name as string,
    state: r.state as LifecycleState,
    ruleCount: Number(r.rule_count),
    author: r.author as string,
    reason: r.reason as string,
    createdAt: r.created_at as Date,
    stateChangedAt: r.state_changed_at as Date,
    lastActiveAt: (r.last_active_at as Date | null) ?? null,
    contentSha256: r.content_sha256 as string,
  };
}

/** Compiles a rule file's text as the processors will, a bad one as an InputError naming what is wrong. */
export function compileForRegistry(text: string, featureNames: readonly string[], what: string): RuleSet {
  try {
    return compileRuleSet(text, featureNames);
  } catch (err) {
    if (err instanceof RuleSetError) throw new InputError(`${what}: ${err.message}`);
    throw err;
  }
}

/**
 * Validates and stores a rule file's text as a candidate, audited. The same text published again
 * is the same version: nothing is stored and `created` is false.
 */
export async function publishRuleSet(
  pool: Pool,
  text: string,
  featureNames: readonly string[],
  o: { actor: string; reason: string; source: string },
): Promise<{ version: string; created: boolean }> {
  const set = compileForRegistry(text, featureNames, o.source);
  const sha = createHash('sha256').update(text).digest('hex');
  return change(pool, RULE_SETS, async (conn) => {
    const [same] = await conn.query<RowDataPacket[]>('SELECT version FROM rule_sets WHERE content_sha256 = ?', [sha]);
    if (same[0] !== undefined) return { version: same[0].version as string, created: false };
    await conn.query(
      `INSERT INTO rule_sets (version, name, state, content, content_sha256, rule_count, author, reason, created_at, state_changed_at)
       VALUES (?, ?, 'candidate', ?, ?, ?, ?, ?, NOW(3), NOW(3))`,
      [set.version, set.name, text, sha, set.rules.length, o.actor, o.reason],
    );
    await audit(conn, o.actor, 'rules.publish', set.version, {
      name: set.name,
      rules: set.rules.length,
      sha256: sha,
      source: o.source,
      reason: o.reason,
    });
    return { version: set.version, created: true };
  });
}

/** Every published rule set, newest first. */
export async function listRuleSets(pool: Pool): Promise<RuleSetSummary[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT ${SUMMARY_COLUMNS} FROM rule_sets ORDER BY created_at DESC, version DESC`,
  );
  return rows.map(summary);
}

/** One published rule set's text. */
export async function loadRuleSetText(pool: Pool, version: string): Promise<StoredRuleSet> {
  const [rows] = await pool.query<RowDataPacket[]>('SELECT version, state, content FROM rule_sets WHERE version = ?', [version]);
  const r = rows[0];
  if (r === undefined) throw new InputError(`no rule set ${version} (txmon rules list shows them)`);
  return { version: r.version as string, state: r.state as LifecycleState, text: r.content as string };
}

/** The active and shadow rule sets' texts (null where there is none). */
export async function servingRuleSets(pool: Pool): Promise<{ active: StoredRuleSet | null; shadow: StoredRuleSet | null }> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT version, state, content FROM rule_sets WHERE state IN ('active', 'shadow')",
  );
  const out: { active: StoredRuleSet | null; shadow: StoredRuleSet | null } = { active: null, shadow: null };
  for (const r of rows) {
    const stored = { version: r.version as string, state: r.state as LifecycleState, text: r.content as string };
    if (stored.state === 'active') out.active = stored;
    else out.shadow = stored;
  }
  return out;
}

/** Makes `version` the rule set the processors decide with; the previous active one is retired. */
export const promoteRuleSet = (pool: Pool, version: string, actor: string, reason?: string, clientAddr: string | null = null) =>
  promoteIn(pool, RULE_SETS, version, actor, reason, clientAddr);

/**
 * Puts `version` in shadow: the processors decide with it beside the live rules, never acting, and
 * count its decisions (shadowReport); one already in shadow goes back to candidate.
 */
export const shadowRuleSet = (pool: Pool, version: string, actor: string, reason?: string, clientAddr: string | null = null) =>
  shadowIn(pool, RULE_SETS, version, actor, reason, clientAddr);

/** What a rule set decided in shadow so far, beside the live decisions: the backtest's shape. */
export interface ShadowReport {
  version: string;
  state: LifecycleState;
  /** Transactions decided while it was in shadow (each once, replays not counted). */
  transactions: number;
  changed: number;
  /** transitions[live][shadow] = count. */
  transitions: Record<DecisionKind, Record<DecisionKind, number>>;
  /** REVIEW + BLOCK per UTC day of event time: live (`before`) and the shadow rule set's (`after`). */
  alertsPerDay: Array<{ day: string; before: number; after: number }>;
}

/** The shadow decisions counted for `version` (rule_shadow_counts), summed over partitions. */
export async function shadowReport(pool: Pool, version: string): Promise<ShadowReport> {
  const { state } = await loadRuleSetText(pool, version);
  const [rows] = await pool.query<RowDataPacket[]>(
    `SELECT DATE_FORMAT(day, '%Y-%m-%d') AS day, decision, shadow_decision, SUM(n) AS n
       FROM rule_shadow_counts WHERE version = ? GROUP BY day, decision, shadow_decision ORDER BY day`,
    [version],
  );
  const transitions = emptyTransitions();
  const days = new Map<string, { day: string; before: number; after: number }>();
  let transactions = 0;
  let changed = 0;
  for (const r of rows) {
    const n = Number(r.n);
    const live = r.decision as DecisionKind;
    const shadow = r.shadow_decision as DecisionKind;
    transitions[live][shadow] += n;
    transactions += n;
    if (live !== shadow) changed += n;
    if (live === 'ALLOW' && shadow === 'ALLOW') continue;
    const day = r.day as string;
    let d = days.get(day);
    if (d === undefined) days.set(day, (d = { day, before: 0, after: 0 }));
    if (live !== 'ALLOW') d.before += n;
    if (shadow !== 'ALLOW') d.after += n;
  }
  return { version, state, transactions, changed, transitions, alertsPerDay: [...days.values()] };
}

/** Retires the active rule set and reactivates the one active before it. */
export const rollbackRuleSet = (pool: Pool, actor: string, reason?: string, clientAddr: string | null = null) =>
  rollbackIn(pool, RULE_SETS, actor, reason, clientAddr);

/** The registry revision: it changes with every publication and state change. */
export const ruleSetRevision = (pool: Pool) => revisionOf(pool, RULE_SETS);

/**
 * The rules the processors decide with: the registry's active rule set, else the rule file; a
 * command that speaks of "the rules in force" (backtest, evaluate) reads them here.
 */
export async function rulesInForce(
  pool: Pool,
  file: string,
  featureNames: readonly string[],
): Promise<{ set: RuleSet; source: string }> {
  const { active } = await servingRuleSets(pool);
  if (active !== null)
    return { set: compileForRegistry(active.text, featureNames, `rule set ${active.version}`), source: 'the registry (active)' };
  return { set: readRuleFile(file, featureNames), source: file };
}

/** A rule file compiled, its problems as an InputError naming it. */
export function readRuleFile(file: string, featureNames: readonly string[]): RuleSet {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return compileForRegistry(text, featureNames, file);
}
