/**
 * Decisions counted for what watches a change to detection: the shadow rule set's (migration 014,
 * rule_shadow_counts: per rule set, input partition, UTC day of event time, live decision and shadow
 * decision) and each arm of a staged rollout's (migration 016, rollout_counts: per rollout, arm,
 * partition and decision). Written by the transactions sink in its MySQL transaction for the rows
 * that transaction inserts: exactly once per transaction, whatever is replayed.
 */
import type { PoolConnection } from 'mysql2/promise';
import { formatQuery } from '../platform/mysql.ts';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { DecisionKind } from '../detection/decide.ts';

export interface ShadowCount {
  version: string;
  partition: number;
  day: string;
  decision: DecisionKind;
  shadowDecision: DecisionKind;
  n: number;
}

/** The counts of the decisions among `rows` that carry a shadow decision, in key order (locks in one order). */
export function shadowCounts(
  rows: ReadonlyArray<{ tx: { transaction_id: string; event_time: number }; position: { partition: number } }>,
  decided: ReadonlyMap<string, DecisionRecord>,
): ShadowCount[] {
  const counts = new Map<string, ShadowCount>();
  for (const p of rows) {
    const d = decided.get(p.tx.transaction_id);
    if (d === undefined || d.shadowRules === null) continue;
    const day = new Date(p.tx.event_time).toISOString().slice(0, 10);
    const key = `${d.shadowRules.version}\u0000${p.position.partition}\u0000${day}\u0000${d.decision}\u0000${d.shadowRules.decision}`;
    const c = counts.get(key);
    if (c !== undefined) c.n++;
    else
      counts.set(key, {
        version: d.shadowRules.version,
        partition: p.position.partition,
        day,
        decision: d.decision,
        shadowDecision: d.shadowRules.decision,
        n: 1,
      });
  }
  return [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, c]) => c);
}

/** The statement that adds the counts (null: none to add). */
export function shadowCountsStatement(counts: readonly ShadowCount[]): string | null {
  if (counts.length === 0) return null;
  return formatQuery(
    'INSERT INTO rule_shadow_counts (version, src_partition, day, decision, shadow_decision, n) VALUES ? ' +
      'ON DUPLICATE KEY UPDATE n = n + VALUES(n)',
    [counts.map((c) => [c.version, c.partition, c.day, c.decision, c.shadowDecision, c.n])],
  );
}

/** Adds the counts, inside the caller's transaction. */
export async function storeShadowCounts(conn: PoolConnection, counts: readonly ShadowCount[], timeoutMs: number): Promise<void> {
  const sql = shadowCountsStatement(counts);
  if (sql !== null) await conn.query({ sql, timeout: timeoutMs });
}

export interface RolloutCount {
  rolloutId: number;
  arm: 'canary' | 'control';
  partition: number;
  decision: DecisionKind;
  n: number;
}

/** The counts of the decisions among `rows` made under a staged rollout, in key order. */
export function rolloutCounts(
  rows: ReadonlyArray<{ tx: { transaction_id: string }; position: { partition: number } }>,
  decided: ReadonlyMap<string, DecisionRecord>,
): RolloutCount[] {
  const counts = new Map<string, RolloutCount>();
  for (const p of rows) {
    const d = decided.get(p.tx.transaction_id);
    if (d === undefined || d.rollout === null) continue;
    const key = `${String(d.rollout.id).padStart(20, '0')}\u0000${d.rollout.arm}\u0000${String(p.position.partition).padStart(10, '0')}\u0000${d.decision}`;
    const c = counts.get(key);
    if (c !== undefined) c.n++;
    else
      counts.set(key, {
        rolloutId: d.rollout.id,
        arm: d.rollout.arm,
        partition: p.position.partition,
        decision: d.decision,
        n: 1,
      });
  }
  return [...counts.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, c]) => c);
}

/** The statement that adds the counts (null: none to add). */
export function rolloutCountsStatement(counts: readonly RolloutCount[]): string | null {
  if (counts.length === 0) return null;
  return formatQuery(
    'INSERT INTO rollout_counts (rollout_id, arm, src_partition, decision, n) VALUES ? ON DUPLICATE KEY UPDATE n = n + VALUES(n)',
    [counts.map((c) => [c.rolloutId, c.arm, c.partition, c.decision, c.n])],
  );
}

/** Adds the counts, inside the caller's transaction. */
export async function storeRolloutCounts(
  conn: PoolConnection,
  counts: readonly RolloutCount[],
  timeoutMs: number,
): Promise<void> {
  const sql = rolloutCountsStatement(counts);
  if (sql !== null) await conn.query({ sql, timeout: timeoutMs });
}
