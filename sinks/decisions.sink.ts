/**
 * Decisions and alerts in MySQL, inside the batch's transaction (sinks/transactions.sink.ts). A
 * transaction is decided once: when a replay finds its decision stored, the stored one wins, so the
 * alert published again after a crash is byte-identical to the first, whatever changed meanwhile
 * (a promoted model, a new rule set).
 */
import type { PoolConnection, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { DecisionKind } from '../detection/decide.ts';
import type { RuleHit } from '../detection/rules.ts';
import { jsonLiteral } from './sql-literal.ts';

const CHUNK = 2_000;
const QUERY_TIMEOUT_MS = 30_000;

function decisionRow(d: DecisionRecord): unknown[] {
  return [
    d.transactionId,
    d.accountId,
    d.decision,
    d.riskScore,
    d.modelVersion,
    d.modelScore,
    d.shadowModelVersion,
    d.shadowScore,
    d.rulesetVersion,
    d.ruleHits.length === 0 ? '[]' : jsonLiteral(JSON.stringify(d.ruleHits)),
    jsonLiteral(JSON.stringify(d.explanation)),
    d.alertId,
    new Date(d.eventTime),
    new Date(d.decidedAt),
  ];
}

const json = <T>(v: unknown): T => (typeof v === 'string' ? (JSON.parse(v) as T) : (v as T));

/**
 * Stores the decisions (sorted by transaction id, as the transactions were) and their alerts;
 * returns them as stored: for a transaction decided before, the earlier decision.
 */
export async function storeDecisions(conn: PoolConnection, records: readonly DecisionRecord[]): Promise<DecisionRecord[]> {
  if (records.length === 0) return [];
  const sorted = [...records].sort((a, b) =>
    a.transactionId < b.transactionId ? -1 : a.transactionId > b.transactionId ? 1 : 0,
  );
  let inserted = 0;
  for (let i = 0; i < sorted.length; i += CHUNK) {
    const [res] = await conn.query<ResultSetHeader>({
      sql:
        'INSERT INTO decisions (transaction_id, account_id, decision, risk_score, model_version, model_score, shadow_model_version, shadow_score, ' +
        'ruleset_version, rule_hits, explanation, alert_id, event_time, decided_at) VALUES ? ON DUPLICATE KEY UPDATE transaction_id = transaction_id',
      values: [sorted.slice(i, i + CHUNK).map(decisionRow)],
      timeout: QUERY_TIMEOUT_MS,
    });
    inserted += res.affectedRows;
  }
  const final = inserted === sorted.length ? sorted : await withStored(conn, sorted);
  const alerting = final.filter((d) => d.alertId !== null);
  for (let i = 0; i < alerting.length; i += CHUNK) {
    await conn.query({
      sql:
        'INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, event_time, created_at) VALUES ? ' +
        'ON DUPLICATE KEY UPDATE alert_id = alert_id',
      values: [
        alerting
          .slice(i, i + CHUNK)
          .map((d) => [
            d.alertId,
            d.transactionId,
            d.accountId,
            d.decision,
            d.riskScore,
            d.explanation.summary,
            new Date(d.eventTime),
            new Date(d.decidedAt),
          ]),
      ],
      timeout: QUERY_TIMEOUT_MS,
    });
  }
  return final;
}

/** The records with every field MySQL already holds for them replaced by the stored value. */
async function withStored(conn: PoolConnection, records: DecisionRecord[]): Promise<DecisionRecord[]> {
  const stored = new Map<string, RowDataPacket>();
  for (let i = 0; i < records.length; i += CHUNK) {
    const [rows] = await conn.query<RowDataPacket[]>({
      sql:
        'SELECT transaction_id, decision, risk_score, model_version, model_score, shadow_model_version, shadow_score, ruleset_version, ' +
        'rule_hits, explanation, alert_id, decided_at FROM decisions WHERE transaction_id IN (?)',
      values: [records.slice(i, i + CHUNK).map((d) => d.transactionId)],
      timeout: QUERY_TIMEOUT_MS,
    });
    for (const r of rows) stored.set(r.transaction_id as string, r);
  }
  return records.map((d) => {
    const r = stored.get(d.transactionId);
    if (r === undefined) return d;
    return {
      ...d,
      decision: r.decision as DecisionKind,
      riskScore: Number(r.risk_score),
      modelVersion: (r.model_version as string | null) ?? null,
      modelScore: r.model_score === null ? null : Number(r.model_score),
      shadowModelVersion: (r.shadow_model_version as string | null) ?? null,
      shadowScore: r.shadow_score === null ? null : Number(r.shadow_score),
      rulesetVersion: r.ruleset_version as string,
      ruleHits: json<RuleHit[]>(r.rule_hits),
      explanation: json<DecisionRecord['explanation']>(r.explanation),
      alertId: (r.alert_id as string | null) ?? null,
      decidedAt: (r.decided_at as Date).getTime(),
    };
  });
}
