/**
 * Seeds alerts the way the sink stores them (migration 013): the transaction's row with the
 * decision's columns, and the alert row with the rule hits and explanation. For API tests that need
 * many alerts without running the pipeline.
 */
import type { Pool } from '../../platform/mysql.ts';

export interface DecidedAlert {
  alertId: string;
  transactionId: string;
  accountId: string;
  eventTime: Date;
  /** When the alert was raised (alerts.created_at; the decision's decided_at). */
  createdAt: Date;
  decision?: 'REVIEW' | 'BLOCK';
  riskScore?: number;
  rulesetVersion?: string;
  ruleHits?: unknown[];
  status?: string;
  summary?: string;
}

const CHUNK = 500;

/** Inserts the alerts' transactions (decided) and the alerts; the insert trigger fills alert_rule_hits. */
export async function insertDecidedAlerts(pool: Pool, alerts: readonly DecidedAlert[]): Promise<void> {
  for (let i = 0; i < alerts.length; i += CHUNK) {
    const chunk = alerts.slice(i, i + CHUNK);
    await pool.query(
      `INSERT INTO transactions (transaction_id, idempotency_key, type, account_id, card_token, merchant_id, mcc, merchant_country,
         amount_minor, currency, event_time, channel, reference, src_topic, src_partition, src_offset,
         decision, risk_score, ruleset_version, alert_id, decided_at) VALUES ?`,
      [
        chunk.map((a, j) => [
          a.transactionId,
          `idem-${a.transactionId}`,
          'AUTHORIZATION',
          a.accountId,
          'tok_seed',
          'm-seed',
          '5411',
          'GB',
          1000,
          'GBP',
          a.eventTime,
          'ECOM',
          a.transactionId,
          'seed',
          0,
          i + j,
          a.decision ?? 'REVIEW',
          a.riskScore ?? 0.9,
          a.rulesetVersion ?? 'v',
          a.alertId,
          a.createdAt,
        ]),
      ],
    );
    await pool.query(
      'INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, rule_hits, explanation, status, event_time, created_at) VALUES ?',
      [
        chunk.map((a) => [
          a.alertId,
          a.transactionId,
          a.accountId,
          a.decision ?? 'REVIEW',
          a.riskScore ?? 0.9,
          a.summary ?? 'seeded',
          JSON.stringify(a.ruleHits ?? []),
          '{}',
          a.status ?? 'OPEN',
          a.eventTime,
          a.createdAt,
        ]),
      ],
    );
  }
}

/** Removes an account's seeded alerts and their transactions. */
export async function deleteDecidedAlerts(pool: Pool, accountId: string): Promise<void> {
  await pool.query('DELETE FROM alerts WHERE account_id = ?', [accountId]);
  await pool.query("DELETE FROM transactions WHERE account_id = ? AND src_topic = 'seed'", [accountId]);
}
