/** A transaction's view in MySQL: what it was (no card data, no location), its decision, alerts and reconciliation status. */
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../platform/mysql.ts';
import { CURRENT_RESOLUTION_SQL } from '../../sinks/recon-report.ts';
import type { TransactionViewT } from '../schemas/transactions.ts';

type Row = RowDataPacket & Record<string, unknown>;

/** The transaction `id` as the API shows it, or null when MySQL holds none. */
export async function transactionView(pool: Pool, id: string): Promise<TransactionViewT | null> {
  // One row holds the transaction and its decision (migration 013): the decision is null until it has one.
  const [[t]] = await pool.query<Row[]>(
    `SELECT transaction_id, type, account_id, merchant_id, mcc, merchant_country, amount_minor, currency, channel, reference,
            event_time, late, decision, risk_score, model_version, ruleset_version, alert_id
       FROM transactions WHERE transaction_id = ?`,
    [id],
  );
  if (!t) return null;
  const [alerts] = await pool.query<Row[]>('SELECT alert_id, status, decision FROM alerts WHERE transaction_id = ?', [id]);
  const [[r]] = await pool.query<Row[]>(
    `SELECT reference, status, reason, ${CURRENT_RESOLUTION_SQL} AS resolution FROM recon_results WHERE reference = ?`,
    [String(t.reference)],
  );
  return {
    transaction_id: String(t.transaction_id),
    type: String(t.type),
    account_id: String(t.account_id),
    merchant_id: String(t.merchant_id),
    mcc: String(t.mcc),
    merchant_country: String(t.merchant_country),
    amount_minor: Number(t.amount_minor),
    currency: String(t.currency),
    channel: String(t.channel),
    reference: String(t.reference),
    event_time: (t.event_time as Date).toISOString(),
    late: Number(t.late) === 1,
    decision:
      t.decision == null
        ? null
        : {
            decision: String(t.decision),
            risk_score: Number(t.risk_score),
            model_version: t.model_version == null ? null : String(t.model_version),
            ruleset_version: String(t.ruleset_version),
            alert_id: t.alert_id == null ? null : String(t.alert_id),
          },
    alerts: alerts.map((a) => ({ alert_id: String(a.alert_id), status: String(a.status), decision: String(a.decision) })),
    reconciliation: r
      ? {
          reference: String(r.reference),
          status: String(r.status),
          reason: String(r.reason),
          resolution: r.resolution == null ? null : String(r.resolution),
        }
      : null,
  };
}
