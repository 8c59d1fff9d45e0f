/** Alerts for fraud analysts: list with filters (keyset pages), detail, triage actions (audited), live stream. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from 'typebox';
import type { RowDataPacket } from 'mysql2/promise';
import { rollbackOrDestroy, type Pool } from '../../platform/mysql.ts';
import { audit } from '../../sinks/audit.ts';
import { FeatureDecoder } from '../../sinks/feature-vector.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { presentedKey } from '../plugins/auth.ts';
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
import { writeOrWait } from './write-or-wait.ts';

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

async function alertDetail(pool: Pool, alertId: string) {
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
async function triage(
  pool: Pool,
  alertId: string,
  action: string,
  actor: string,
  change: { from: readonly string[]; to: string } | null,
  detail: Record<string, unknown>,
  clientAddr: string,
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
         ON DUPLICATE KEY UPDATE label = VALUES(label), pattern = NULL, source = VALUES(source), labelled_at = VALUES(labelled_at)`,
        [row.transaction_id, label],
      );
    await audit(conn, actor, action, `alert:${alertId}`, { ...detail, status }, clientAddr);
    await conn.commit();
    return { alert_id: alertId, status };
  } catch (err) {
    await rollbackOrDestroy(conn);
    throw err;
  } finally {
    conn.release();
  }
}

const ANALYSTS = ['analyst', 'admin'] as const;

/** How far back each poll of the live stream looks again: an alert committed this late is still sent once. */
export const STREAM_RESCAN_MS = 5 * 60_000;
/** Alerts per query of the stream (a poll pages through more with a keyset). */
const STREAM_PAGE = 500;
/** The fastest a stream may poll MySQL: 100 streams cost at most 100 queries a second (issue 16). */
export const STREAM_MIN_POLL_MS = 1_000;
/** A client that has not read what was sent within this long is dropped. */
const SLOW_CLIENT_MS = 30_000;

type StreamSink = NodeJS.WritableStream & { writeHead(status: number, headers: Record<string, string>): unknown };

/**
 * Server-sent events of new alerts. Each poll reads the alerts raised since (the newest sent) minus
 * STREAM_RESCAN_MS, a page at a time, and sends those not sent yet: a batch commits its alerts a
 * little after it raised them, and not in order across partitions, so a plain keyset would skip
 * some. Everything at or before `after` (the resumed Last-Event-ID) counts as sent.
 */
async function streamAlerts(
  pool: Pool,
  raw: StreamSink,
  closed: () => boolean,
  opts: {
    since: number;
    after: [number, string] | null;
    pollMs: number;
    heartbeatMs: number;
    /** Null while the client may still read alerts, else why not (the stream then ends with `event: end`). */
    stillAllowed: () => Promise<string | null>;
    /** Waits between polls; settles early when the stream ends (so its place is free at once). */
    pause: (ms: number) => Promise<void>;
    /** A resume that reached further back than allowed: said to the client before any alert. */
    clamped?: { requested: number; detail: string };
  },
): Promise<void> {
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    // The connection ends with the stream: nothing waits on an idle keep-alive socket afterwards.
    connection: 'close',
    'x-accel-buffering': 'no',
  });
  // Waits for a slow reader; false when it did not read in time (the stream ends).
  const write = (chunk: string): Promise<boolean> => writeOrWait(raw, chunk, SLOW_CLIENT_MS);
  const isSent = (at: number, id: string): boolean =>
    at < opts.since || (opts.after !== null && (at < opts.after[0] || (at === opts.after[0] && id <= opts.after[1])));
  if (!(await write(`: txmon alerts since ${new Date(opts.since).toISOString()}\n\n`))) return;
  if (opts.clamped) {
    const data = {
      requested: new Date(opts.clamped.requested).toISOString(),
      since: new Date(opts.since).toISOString(),
      detail: opts.clamped.detail,
    };
    if (!(await write(`event: resume-clamped\ndata: ${JSON.stringify(data)}\n\n`))) return;
  }
  const sent = new Map<string, number>();
  let newest = opts.since;
  let lastWrite = Date.now();
  while (!closed()) {
    // The key is checked again before every poll (through the key cache, so MySQL is asked at most
    // once per TXMON_API_KEY_CACHE_MS): a revoked key or a role that may no longer read alerts ends
    // the stream with a last event saying why, and no alert after it.
    const refused = await opts.stillAllowed();
    if (refused !== null) {
      await write(`event: end\ndata: ${JSON.stringify({ reason: refused })}\n\n`);
      return;
    }
    if (closed()) return;
    let page: [number, string] = [Math.max(Math.min(newest, Date.now()) - STREAM_RESCAN_MS, opts.since - STREAM_RESCAN_MS), ''];
    for (;;) {
      const [rows] = await pool.query<Row[]>(
        `SELECT ${SUMMARY_COLUMNS} FROM alerts a JOIN transactions d ON d.transaction_id = a.transaction_id
          WHERE a.created_at > ? OR (a.created_at = ? AND a.alert_id > ?)
          ORDER BY a.created_at, a.alert_id LIMIT ${STREAM_PAGE}`,
        [new Date(page[0]), new Date(page[0]), page[1]],
      );
      for (const r of rows) {
        const id = String(r.alert_id);
        const at = (r.created_at as Date).getTime();
        page = [at, id];
        if (sent.has(id) || isSent(at, id)) continue;
        sent.set(id, at);
        newest = Math.max(newest, at);
        if (!(await write(`id: ${encodeCursor([at, id])}\nevent: alert\ndata: ${JSON.stringify(summary(r))}\n\n`))) return;
        lastWrite = Date.now();
      }
      if (rows.length < STREAM_PAGE || closed()) break;
    }
    for (const [id, at] of sent) if (at < newest - 2 * STREAM_RESCAN_MS) sent.delete(id);
    if (Date.now() - lastWrite >= opts.heartbeatMs) {
      if (!(await write(': keep-alive\n\n'))) return;
      lastWrite = Date.now();
    }
    await opts.pause(opts.pollMs);
  }
}

/**
 * The open alert streams of an app: capped in all and per key, and ended by its preClose hook, so
 * closing does not wait for their clients.
 */
export class OpenStreams {
  readonly ends = new Set<() => void>();
  private readonly perKey = new Map<string, number>();
  constructor(readonly max: number) {}
  /** Counts a new stream of `keyId`, or says why not: a 503 when the process is full, a 429 when the key is. */
  open(keyId: string, perKeyMax: number): HttpProblem | null {
    if (this.ends.size >= this.max)
      return new HttpProblem(503, `this API serves at most ${this.max} alert streams at once; retry later`);
    const mine = this.perKey.get(keyId) ?? 0;
    if (mine >= perKeyMax)
      return new HttpProblem(429, `this key holds ${mine} alert streams already (at most ${perKeyMax}); close one first`);
    this.perKey.set(keyId, mine + 1);
    return null;
  }
  /** Uncounts a stream of `keyId`. */
  close(keyId: string): void {
    const mine = (this.perKey.get(keyId) ?? 1) - 1;
    if (mine <= 0) this.perKey.delete(keyId);
    else this.perKey.set(keyId, mine);
  }
  /** Settles when each open stream has ended its response. */
  readonly finished = new Set<Promise<void>>();
  closing = false;
  get size(): number {
    return this.ends.size;
  }
  /** Ends every stream and waits (at most `ms`) until their responses are over, so the server can close their sockets as idle. */
  async endAll(ms = 2_000): Promise<void> {
    this.closing = true;
    for (const end of this.ends) end();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(this.finished), new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }
}

export interface StreamLimits {
  /** Streams one key may hold open at once. */
  perKey: number;
  /** How far back (by when an alert was raised) a resume may reach; older Last-Event-IDs are clamped. */
  resumeMaxMs: number;
  /** A comment line at least this often on a quiet stream (within the server's idle timeout). */
  heartbeatMs: number;
}

const alertsRoutes: FastifyPluginAsyncTypebox<{ pool: Pool; streams: OpenStreams; stream: StreamLimits }> = async (
  app,
  { pool, streams, stream: limits },
) => {
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
          {
            poll_ms: Type.Optional(
              Type.Integer({
                minimum: STREAM_MIN_POLL_MS,
                maximum: 10_000,
                default: 1_000,
                description: 'How often to look for new alerts.',
              }),
            ),
          },
          { additionalProperties: false },
        ),
        response: { 200: Type.String({ description: 'text/event-stream' }), ...problems(503) },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      const key = presentedKey(request);
      if (principal === null || key === null) throw new HttpProblem(401, 'an API key is required');
      const last = request.headers['last-event-id'];
      let after =
        typeof last === 'string' && last.length > 0 ? (decodeCursor(last, ['number', 'string']) as [number, string]) : null;
      // A resume reaches back at most resumeMaxMs: `[0,""]` would otherwise replay the whole table.
      // Clamped rather than refused (an EventSource gives up on a 4xx), and said in the stream.
      const floor = Date.now() - limits.resumeMaxMs;
      let clamped: { requested: number; detail: string } | undefined;
      if (after !== null && after[0] < floor) {
        clamped = {
          requested: after[0],
          detail: `a resume reaches back at most ${limits.resumeMaxMs} ms; alerts raised before \`since\` are not replayed (GET /api/v1/alerts lists them)`,
        };
        after = null;
      }
      const since = after?.[0] ?? (clamped ? floor : Date.now());
      const refused = streams.open(principal.keyId, limits.perKey);
      if (refused) throw refused;
      const stillAllowed = async (): Promise<string | null> => {
        const now = await app.apiKeys.verify(key);
        if (now === null) return 'the API key was revoked';
        if (!(ANALYSTS as readonly string[]).includes(now.role)) return `role ${now.role} may no longer read alerts`;
        return null;
      };
      let ended = false;
      let wake = () => {};
      const end = () => {
        ended = true;
        wake();
      };
      const pause = (ms: number) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, ms);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      streams.ends.add(end);
      let finish = () => {};
      const finished = new Promise<void>((resolve) => (finish = resolve));
      streams.finished.add(finished);
      // The client may have gone already (during the key check) or go at any time.
      const socket = request.raw.socket;
      reply.raw.on('close', end);
      socket.on('close', end);
      const closed = () => ended || streams.closing || socket.destroyed || reply.raw.destroyed || reply.raw.writableEnded;
      reply.hijack();
      try {
        await streamAlerts(pool, reply.raw, closed, {
          since,
          after,
          pollMs: request.query.poll_ms ?? 1_000,
          heartbeatMs: limits.heartbeatMs,
          stillAllowed,
          pause,
          ...(clamped && { clamped }),
        });
      } catch (err) {
        request.log.warn({ err }, 'alert stream ended on an error');
      } finally {
        streams.ends.delete(end);
        streams.close(principal.keyId);
        reply.raw.end();
        streams.finished.delete(finished);
        finish();
      }
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
        request.ip,
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
        request.ip,
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
      triage(pool, request.params.alertId, 'alert.note', actor(request.principal), null, { note: request.body.note }, request.ip),
  );
};

export default alertsRoutes;
