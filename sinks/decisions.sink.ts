/**
 * Decisions in MySQL, inside the batch's transaction (sinks/transactions.sink.ts): the decision's
 * columns of its transaction's row (migration 013), and for REVIEW and BLOCK the alert, which keeps
 * the rule hits and the explanation. A transaction is decided once: when a replay finds its decision
 * stored, the stored one wins, so the alert published again after a crash is byte-identical to the
 * first, whatever changed meanwhile (a promoted model, a new rule set).
 */
import type { PoolConnection } from 'mysql2/promise';
import { formatQuery } from '../platform/mysql.ts';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { StoredTransaction } from './lookup-stored.ts';
import type { SqlText } from './row-text.ts';
import { jsonLiteral } from './sql-literal.ts';

const CHUNK = 2_000;
const QUERY_TIMEOUT_MS = 30_000;

/** The decision's columns of `transactions`, in the order of decisionValues. */
export const DECISION_COLUMNS = [
  'decision',
  'risk_score',
  'model_version',
  'model_score',
  'shadow_model_version',
  'shadow_score',
  'ruleset_version',
  'alert_id',
  'decided_at',
] as const;

const NO_DECISION: readonly unknown[] = DECISION_COLUMNS.map(() => null);

/** A decision's values for DECISION_COLUMNS (NULLs for a transaction without one). */
export function decisionValues(d: DecisionRecord | undefined): readonly unknown[] {
  if (d === undefined) return NO_DECISION;
  return [
    d.decision,
    d.riskScore,
    d.modelVersion,
    d.modelScore,
    d.shadowModelVersion,
    d.shadowScore,
    d.rulesetVersion,
    d.alertId,
    new Date(d.decidedAt),
  ];
}

/** Writes the values of decisionValues(d) into the open tuple, as mysql2 writes them. */
export function writeDecisionValues(out: SqlText, d: DecisionRecord | undefined): void {
  if (d === undefined) {
    for (let i = 0; i < DECISION_COLUMNS.length; i++) out.null();
    return;
  }
  out
    .string(d.decision)
    .number(d.riskScore)
    .nullableString(d.modelVersion)
    .nullableNumber(d.modelScore)
    .nullableString(d.shadowModelVersion)
    .nullableNumber(d.shadowScore)
    .string(d.rulesetVersion)
    .nullableString(d.alertId)
    .date(d.decidedAt);
}

/** The records with every field MySQL already holds for them replaced by the stored value. */
export function withStoredDecisions(
  records: readonly DecisionRecord[],
  stored: ReadonlyMap<string, StoredTransaction>,
): DecisionRecord[] {
  return records.map((d) => {
    const s = stored.get(d.transactionId)?.decision;
    return s === undefined || s === null ? d : { ...d, ...s, shadowRules: null, rollout: null };
  });
}

/**
 * The statements that insert the alerts of `decisions` (REVIEW and BLOCK) with their rule hits and
 * explanation, as text (none when nothing alerts); a stored alert stays.
 */
export function alertStatements(decisions: readonly DecisionRecord[]): string[] {
  // Sorted by transaction id, as the transactions were: concurrent batches lock in one order.
  const alerting = decisions
    .filter((d) => d.alertId !== null)
    .sort((a, b) => (a.transactionId < b.transactionId ? -1 : a.transactionId > b.transactionId ? 1 : 0));
  const out: string[] = [];
  for (let i = 0; i < alerting.length; i += CHUNK) {
    out.push(
      formatQuery(
        // The insert trigger (migration 013) fills alert_rule_hits from rule_hits; a replay inserts nothing.
        'INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, rule_hits, explanation, event_time, created_at) VALUES ? ' +
          'ON DUPLICATE KEY UPDATE alert_id = alert_id',
        [
          alerting
            .slice(i, i + CHUNK)
            .map((d) => [
              d.alertId,
              d.transactionId,
              d.accountId,
              d.decision,
              d.riskScore,
              d.explanation.summary,
              d.ruleHits.length === 0 ? '[]' : jsonLiteral(JSON.stringify(d.ruleHits)),
              jsonLiteral(JSON.stringify(d.explanation)),
              new Date(d.eventTime),
              new Date(d.decidedAt),
            ]),
        ],
      ),
    );
  }
  return out;
}

/** Inserts the alerts of `decisions` (alertStatements), inside the caller's transaction. */
export async function storeAlerts(conn: PoolConnection, decisions: readonly DecisionRecord[]): Promise<void> {
  for (const sql of alertStatements(decisions)) await conn.query({ sql, timeout: QUERY_TIMEOUT_MS });
}
