/** Alerts for fraud analysts: list with filters (keyset pages), detail, triage actions (audited), live stream. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RowDataPacket } from 'mysql2/promise';
import type { Pool } from '../../platform/mysql.ts';
import { audit } from '../../sinks/audit.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { HttpProblem } from '../plugins/errors.ts';
import {
  AlertDetail,
  AlertIdParams,
  AlertListQuery,
  AlertPage,
  NoteBody,
  ResolveBody,
  TriageResult,
  type AlertListQueryT,
  type AlertSummaryT,
} from '../schemas/alerts.ts';
import { problems } from '../schemas/common.ts';

type Row = RowDataPacket & Record<string, unknown>;
const iso = (v: unknown): string => (v instanceof Date ? v : new Date(String(v))).toISOString();
const json = (v: unknown): unknown => (typeof v === 'string' ? JSON.parse(v) : v);

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
  if (q.from) add('a.event_time >= ?', new Date(q.from));
  if (q.to) add('a.event_time < ?', new Date(q.to));
  if (q.model_version) add('d.model_version = ?', q.model_version);
  if (q.rule_id) add("JSON_CONTAINS(JSON_EXTRACT(d.rule_hits, '$[*].ruleId'), JSON_QUOTE(?))", q.rule_id);
  if (q.severity) add("JSON_CONTAINS(JSON_EXTRACT(d.rule_hits, '$[*].severity'), JSON_QUOTE(?))", q.severity);
  if (q.cursor) {
    const [ms, id] = decodeCursor(q.cursor, ['number', 'string']);
    add('(a.created_at < ? OR (a.created_at = ? AND a.alert_id < ?))', new Date(ms as number), new Date(ms as number), id);
  }
  const limit = q.limit ?? 50;
  const [rows] = await pool.query<Row[]>(
    `SELECT ${SUMMARY_COLUMNS} FROM alerts a JOIN decisions d ON d.transaction_id = a.transaction_id
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY a.created_at DESC, a.alert_id DESC LIMIT ?`,
    [...args, limit + 1],
  );
  const items = rows.slice(0, limit).map(summary);
  const last = rows.length > limit ? rows[limit - 1] : undefined;
  return { items, next: last ? encodeCursor([(last.created_at as Date).getTime(), String(last.alert_id)]) : null };
}

async function alertDetail(pool: Pool, alertId: string) {
  const [[r]] = await pool.query<Row[]>(
    `SELECT ${SUMMARY_COLUMNS}, d.risk_score AS d_risk, d.model_score, d.shadow_model_version, d.shadow_score, d.rule_hits,
            d.explanation, d.decided_at, t.type, t.amount_minor, t.currency, t.merchant_id, t.mcc, t.merchant_country, t.channel,
            t.event_time AS t_event_time, t.features
       FROM alerts a JOIN decisions d ON d.transaction_id = a.transaction_id JOIN transactions t ON t.transaction_id = a.transaction_id
      WHERE a.alert_id = ?`,
    [alertId],
  );
  if (!r) throw new HttpProblem(404, `no alert ${alertId}`);
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
    feature_snapshot: r.features == null ? null : json(r.features),
    history: history.map((h) => ({ at: iso(h.at), actor: String(h.actor), action: String(h.action), detail: json(h.detail) })),
  };
}

/** Moves an alert from one of `from` to `to` in one transaction with its audit entry (and a label when given). */
async function triage(
  pool: Pool,
  alertId: string,
  action: string,
  actor: string,
  change: { from: readonly string[]; to: string } | null,
  detail: Record<string, unknown>,
  label?: 'fraud' | 'legit',
): Promise<{ alert_id: string; status: string }> {
  const conn = await pool.getConnection();
  try {
    await conn.beginTransaction();
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
         ON DUPLICATE KEY UPDATE label = VALUES(label), source = VALUES(source), labelled_at = VALUES(labelled_at)`,
        [row.transaction_id, label],
      );
    await audit(conn, actor, action, `alert:${alertId}`, { ...detail, status });
    await conn.commit();
    return { alert_id: alertId, status };
  } catch (err) {
    await conn.rollback().catch(() => {});
    throw err;
  } finally {
    conn.release();
  }
}

const ANALYSTS = ['analyst', 'admin'] as const;

/** How far back each poll of the live stream looks again: an alert committed this late is still sent once. */
export const STREAM_RESCAN_MS = 5 * 60_000;

/**
 * Server-sent events of new alerts. Each poll reads the alerts raised since (the last sent) minus
 * STREAM_RESCAN_MS and sends those not sent yet: a batch commits its alerts a little after it
 * raised them, and not in order across partitions, so a plain keyset would skip some.
 */
async function streamAlerts(
  pool: Pool,
  raw: NodeJS.WritableStream & { writeHead(status: number, headers: Record<string, string>): unknown },
  closed: () => boolean,
  opts: { since: number; pollMs: number; heartbeatMs: number },
): Promise<void> {
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  raw.write(`: txmon alerts since ${new Date(opts.since).toISOString()}\n\n`);
  const sent = new Map<string, number>();
  let newest = opts.since;
  let lastWrite = Date.now();
  while (!closed()) {
    const from = Math.min(newest, Date.now()) - STREAM_RESCAN_MS;
    const [rows] = await pool.query<Row[]>(
      `SELECT ${SUMMARY_COLUMNS} FROM alerts a JOIN decisions d ON d.transaction_id = a.transaction_id
        WHERE a.created_at >= ? ORDER BY a.created_at, a.alert_id LIMIT 1000`,
      [new Date(Math.max(from, opts.since))],
    );
    for (const r of rows) {
      const id = String(r.alert_id);
      const at = (r.created_at as Date).getTime();
      if (sent.has(id) || at < opts.since) continue;
      sent.set(id, at);
      newest = Math.max(newest, at);
      raw.write(`id: ${encodeCursor([at, id])}\nevent: alert\ndata: ${JSON.stringify(summary(r))}\n\n`);
      lastWrite = Date.now();
    }
    for (const [id, at] of sent) if (at < newest - 2 * STREAM_RESCAN_MS) sent.delete(id);
    if (Date.now() - lastWrite >= opts.heartbeatMs) {
      raw.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    if (rows.length < 1000) await new Promise((r) => setTimeout(r, opts.pollMs));
  }
}

const alertsRoutes: FastifyPluginAsyncTypebox<{ pool: Pool }> = async (app, { pool }) => {
  const actor = (p: { name: string; keyId: string } | null) => (p ? `${p.name} (key ${p.keyId})` : 'unknown');

  app.get(
    '/alerts',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'Alerts, newest first, with filters and cursor pagination',
        querystring: AlertListQuery,
        response: { 200: AlertPage, ...problems() },
      },
    },
    async (request) => listAlerts(pool, request.query),
  );

  app.get(
    '/alerts/stream',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'New alerts as server-sent events (event: alert, data: the list item); resumes after Last-Event-ID',
        querystring: Type.Object(
          { poll_ms: Type.Optional(Type.Integer({ minimum: 100, maximum: 10_000, default: 1_000 })) },
          { additionalProperties: false },
        ),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...problems() },
      },
    },
    async (request, reply) => {
      const last = request.headers['last-event-id'];
      const since =
        typeof last === 'string' && last.length > 0 ? (decodeCursor(last, ['number', 'string'])[0] as number) : Date.now();
      let closed = false;
      request.raw.on('close', () => (closed = true));
      reply.hijack();
      await streamAlerts(pool, reply.raw, () => closed, {
        since,
        pollMs: request.query.poll_ms ?? 1_000,
        heartbeatMs: 15_000,
      }).catch((err: unknown) => request.log.warn({ err }, 'alert stream ended on an error'));
      reply.raw.end();
    },
  );

  app.get(
    '/alerts/:alertId',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'One alert with its decision, explanation, feature snapshot and triage history',
        params: AlertIdParams,
        response: { 200: AlertDetail, ...problems(404) },
      },
    },
    async (request) => alertDetail(pool, request.params.alertId),
  );

  app.post(
    '/alerts/:alertId/acknowledge',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'Take an OPEN alert into review',
        params: AlertIdParams,
        response: { 200: TriageResult, ...problems(404, 409) },
      },
    },
    async (request) =>
      triage(
        pool,
        request.params.alertId,
        'alert.acknowledge',
        actor(request.principal),
        { from: ['OPEN'], to: 'IN_REVIEW' },
        {},
      ),
  );

  app.post(
    '/alerts/:alertId/resolve',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'Resolve an alert as fraud or legitimate; the label feeds evaluation and training',
        params: AlertIdParams,
        body: ResolveBody,
        response: { 200: TriageResult, ...problems(404, 409) },
      },
    },
    async (request) => {
      const fraud = request.body.label === 'fraud';
      return triage(
        pool,
        request.params.alertId,
        'alert.resolve',
        actor(request.principal),
        { from: ['OPEN', 'IN_REVIEW'], to: fraud ? 'CONFIRMED_FRAUD' : 'FALSE_POSITIVE' },
        { label: request.body.label, note: request.body.note ?? null },
        fraud ? 'fraud' : 'legit',
      );
    },
  );

  app.post(
    '/alerts/:alertId/notes',
    {
      config: { roles: ANALYSTS },
      schema: {
        tags: ['alerts'],
        summary: 'Add a note to an alert’s history',
        params: AlertIdParams,
        body: NoteBody,
        response: { 200: TriageResult, ...problems(404) },
      },
    },
    async (request) =>
      triage(pool, request.params.alertId, 'alert.note', actor(request.principal), null, { note: request.body.note }),
  );
};

export default alertsRoutes;
