/** Alerts for fraud analysts: list with filters (keyset pages), detail, triage actions (audited), live stream. */
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Pool } from '../../platform/mysql.ts';
import { decodeCursor, encodeCursor } from '../cursor.ts';
import { alertDetail, alertsAfter, listAlerts, triage } from '../repositories/alerts.ts';
import { HttpProblem } from '../plugins/errors.ts';
import {
  AlertDetail,
  AlertIdParams,
  AlertListQuery,
  AlertPage,
  AlertStreamQuery,
  EventStream,
  NoteBody,
  ResolveBody,
  TriageResult,
} from '../schemas/alerts.ts';
import { problems } from '../schemas/common.ts';
import { writeOrWait } from './write-or-wait.ts';

const ANALYSTS = ['analyst', 'admin'] as const;

/** How far back each poll of the live stream looks again: an alert committed this late is still sent once. */
export const STREAM_RESCAN_MS = 5 * 60_000;
/** Alerts per query of the stream (a poll pages through more with a keyset). */
const STREAM_PAGE = 500;
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
      const rows = await alertsAfter(pool, page, STREAM_PAGE);
      for (const { at, alert } of rows) {
        const id = alert.alert_id;
        page = [at, id];
        if (sent.has(id) || isSent(at, id)) continue;
        sent.set(id, at);
        newest = Math.max(newest, at);
        if (!(await write(`id: ${encodeCursor([at, id])}\nevent: alert\ndata: ${JSON.stringify(alert)}\n\n`))) return;
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
        querystring: AlertStreamQuery,
        response: { 200: EventStream, ...problems(503) },
      },
    },
    async (request, reply) => {
      const principal = request.principal;
      const credential = request.credential;
      if (principal === null || credential === null) throw new HttpProblem(401, 'an API key is required');
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
        const now = await app.reverify(credential);
        if (now === null) return credential.kind === 'key' ? 'the API key was revoked' : 'the session has ended';
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
