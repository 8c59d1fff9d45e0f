/**
 * The alerts' reads and triage writes in MySQL (the routes in routes/alerts.ts only shape HTTP):
 * a keyset page of summaries, one alert's detail with its transaction, features and history, the
 * live stream's next page, and a triage step in one transaction with its audit entry.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { inTransaction, type Pool } from '../../platform/mysql.ts';
import { audit } from '../../sinks/audit.ts';
import { FeatureDecoder } from '../../sinks/feature-vector.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { HttpProblem } from '../plugins/errors.ts';
import type { AlertListQueryT, AlertSummaryT } from '../schemas/alerts.ts';

type Row = RowDataPacket & Record<string, unknown>;
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

// `d` is the alert's transaction: its row holds the decision's columns (migration 013), the alert its rule hits and explanation.
const SUMMARY_COLUMNS = `a.alert_id, a.transaction_id, a.account_id, a.decision, a.risk_score, a.status, a.summary,
  d.model_version, d.ruleset_version, a.event_time, a.created_at`;

function summary(r: Row): AlertSummaryT {
  return {
    alert_id: String(r.alert_id),
    transaction_id: String(r.transaction_id),
    account_id: String(r.account_id),
    decision: String(r.decision),
    risk_score: Number(r.risk_score),
    status: String(r.status),
    summary: String(r.summary),
    model_version: r.model_version == null ? null : String(r.model_version),
    ruleset_version: String(r.ruleset_version),
    event_time: iso(r.event_time),
    created_at: iso(r.created_at),
  };
}

/** A date-time the schema let through that is not a real instant (a leap second, say) is a 400, not an empty answer. */
function validTime(text: string, field: string): Date {
  const d = new Date(text);
  if (Number.isNaN(d.getTime()))
    throw new HttpProblem(400, `querystring.${field} is not a valid instant: ${JSON.stringify(text.slice(0, 40))}`);
  return d;
}

/**
 * A page of alerts, newest first by the time they were raised (then id): a keyset on a key that
 * only grows, so alerts raised while a client pages through appear on no later page, and none is
 * skipped or repeated.
 */
export async function listAlerts(pool: Pool, q: AlertListQueryT): Promise<{ items: AlertSummaryT[]; next: string | null }> {
  const where: string[] = [];
  const args: unknown[] = [];
  const add = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (q.status) add('a.status = ?', q.status);
  if (q.decision) add('a.decision = ?', q.decision);
  if (q.account_id) add('a.account_id = ?', q.account_id);
  if (q.from) add('a.event_time >= ?', validTime(q.from, 'from'));
  if (q.to) add('a.event_time < ?', validTime(q.to, 'to'));
  if (q.model_version) add('d.model_version = ?', q.model_version);
  // Rule hits are a JSON array on the alert, which MariaDB cannot index: alert_rule_hits
  // (migration 012, filled by a trigger on the alert's insert) holds them one row each, indexed.
  if (q.rule_id) add('a.alert_id IN (SELECT h.alert_id FROM alert_rule_hits h WHERE h.rule_id = ?)', q.rule_id);
  if (q.severity) add('a.alert_id IN (SELECT h.alert_id FROM alert_rule_hits h WHERE h.severity = ?)', q.severity);
  // With no filter MariaDB 10.11 plans a scan of every alert and a sort; the hint makes a page read
  // its own rows by the order's index. With a filter it would push the filter's own index aside.
  const hint = where.length === 0 ? ' FORCE INDEX FOR ORDER BY (ix_alerts_created)' : '';
  if (q.cursor) {
    const [ms, id] = decodeCursor(q.cursor, ['number', 'string']);
    add('(a.created_at < ? OR (a.created_at = ? AND a.alert_id < ?))', new Date(ms as number), new Date(ms as number), id);
  }
  const limit = q.limit ?? 50;
  const [rows] = await pool.query<Row[]>(
    `SELECT ${SUMMARY_COLUMNS} FROM alerts a${hint} JOIN transactions d ON d.transaction_id = a.transaction_id
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY a.created_at DESC, a.alert_id DESC LIMIT ?`,
    [...args, limit + 1],
  );
  const items = rows.slice(0, limit).map(summary);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return { items, next: last ? encodeCursor([(last.created_at as Date).getTime(), String(last.alert_id)]) : null };
}

export async function alertDetail(pool: Pool, alertId: string) {
  const [[r]] = await pool.query<Row[]>(
    `SELECT ${SUMMARY_COLUMNS}, d.risk_score AS d_risk, d.model_score, d.shadow_model_version, d.shadow_score, a.rule_hits,
            a.explanation, d.decided_at, d.type, d.amount_minor, d.currency, d.merchant_id, d.mcc, d.merchant_country, d.channel,
            d.event_time AS t_event_time, d.feature_layout, d.feature_values
       FROM alerts a JOIN transactions d ON d.transaction_id = a.transaction_id
      WHERE a.alert_id = ?`,
    [alertId],
  );
  if (!r) throw new HttpProblem(404, `no alert ${alertId}`);
  const [features] = await new FeatureDecoder(pool).decodeRows([r]);
  const [history] = await pool.query<Row[]>('SELECT at, actor, action, detail FROM audit_log WHERE subject = ? ORDER BY id', [
    `alert:${alertId}`,
  ]);
  return {
    ...summary(r),
    decision_detail: {
      risk_score: Number(r.d_risk),
      model_version: r.model_version == null ? null : String(r.model_version),
      model_score: r.model_score == null ? null : Number(r.model_score),
      shadow_model_version: r.shadow_model_version == null ? null : String(r.shadow_model_version),
      shadow_score: r.shadow_score == null ? null : Number(r.shadow_score),
      ruleset_version: String(r.ruleset_version),
      rule_hits: json(r.rule_hits) as never,
      explanation: json(r.explanation),
      decided_at: iso(r.decided_at),
    },
    transaction: {
      type: String(r.type),
      amount_minor: Number(r.amount_minor),
      currency: String(r.currency),
      merchant_id: String(r.merchant_id),
      mcc: String(r.mcc),
      merchant_country: String(r.merchant_country),
      channel: String(r.channel),
      event_time: iso(r.t_event_time),
    },
    feature_snapshot: features?.object() ?? null,
    history: history.map((h) => ({ at: iso(h.at), actor: String(h.actor), action: String(h.action), detail: json(h.detail) })),
  };
}

/** Moves an alert from one of `from` to `to` in one transaction with its audit entry (and a label when given). */
export async function triage(
  pool: Pool,
  alertId: string,
  action: string,
  actor: string,
  change: { from: readonly string[]; to: string } | null,
  detail: Record<string, unknown>,
  clientAddr: string,
  label?: 'fraud' | 'legit',
): Promise<{ alert_id: string; status: string }> {
  return inTransaction(pool, async (conn) => {
    const [[row]] = await conn.query<Row[]>('SELECT status, transaction_id FROM alerts WHERE alert_id = ? FOR UPDATE', [alertId]);
    if (!row) throw new HttpProblem(404, `no alert ${alertId}`);
    let status = String(row.status);
    if (change) {
      if (!change.from.includes(status))
        throw new HttpProblem(409, `alert ${alertId} is ${status}; ${action} needs ${change.from.join(' or ')}`);
      await conn.query('UPDATE alerts SET status = ? WHERE alert_id = ?', [change.to, alertId]);
      status = change.to;
    }
    if (label)
      await conn.query(
        `INSERT INTO labels (transaction_id, label, pattern, source, labelled_at) VALUES (?, ?, NULL, 'analyst', NOW(3))
         ON DUPLICATE KEY UPDATE label = VALUES(label), pattern = NULL, source = VALUES(source), labelled_at = VALUES(labelled_at)`,
        [row.transaction_id, label],
      );
    await audit(conn, actor, action, `alert:${alertId}`, { ...detail, status }, clientAddr);
    return { alert_id: alertId, status };
  });
}

/**
 * The alerts raised after `after` ([created_at ms, alert_id]), oldest first, at most `limit`: the
 * live stream's page (routes/alerts.ts streamAlerts).
 */
export async function alertsAfter(
  pool: Pool,
  after: readonly [number, string],
  limit: number,
): Promise<Array<{ at: number; alert: AlertSummaryT }>> {
  const [rows] = await pool.query<Row[]>(
    `SELECT ${SUMMARY_COLUMNS} FROM alerts a JOIN transactions d ON d.transaction_id = a.transaction_id
      WHERE a.created_at > ? OR (a.created_at = ? AND a.alert_id > ?)
      ORDER BY a.created_at, a.alert_id LIMIT ?`,
    [new Date(after[0]), new Date(after[0]), after[1], limit],
  );
  return rows.map((r) => ({ at: (r.created_at as Date).getTime(), alert: summary(r) }));
}
