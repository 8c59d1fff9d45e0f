/**
 * ops-watch's alerts in MySQL (`ops_alerts`, one row per alert at its latest revision) and on
 * txmon.ops-alerts.v1 (every revision, Avro). The row is written first: a revision that reached the
 * topic is always in MySQL; a crash between the two leaves a revision the topic never got, which a
 * consumer of the topic sees as a gap in revisions (the table has it). A revision never overwrites a
 * later one (a replay or a slow retry keeps the newest).
 */
import type avro from 'avsc';
import type { Producer } from 'kafkajs';
import type { Pool } from '../platform/mysql.ts';
import { frame } from '../platform/schema-registry.ts';
import type { RowDataPacket } from 'mysql2/promise';
import type { OpsAlert } from '../ops/alerts.ts';

const COLUMNS = [
  'kind',
  'status',
  'opened_at',
  'updated_at',
  'closed_at',
  'first_mover',
  'summary',
  'evidence',
  'forecast',
] as const;

/** Upserts the alerts' rows; a row at a later revision stays as it is. */
export async function writeOpsAlerts(pool: Pool, alerts: readonly OpsAlert[]): Promise<void> {
  if (alerts.length === 0) return;
  const values = alerts.map((a) => [
    a.alertId,
    a.revision,
    a.kind,
    a.status,
    new Date(a.openedAt),
    new Date(a.updatedAt),
    a.closedAt === null ? null : new Date(a.closedAt),
    a.firstMover.slice(0, 512),
    a.summary.slice(0, 1024),
    JSON.stringify(a.evidence.map((e) => ({ ...e, startedAt: new Date(e.startedAt).toISOString() }))),
    a.forecast === null ? null : JSON.stringify(forecastJson(a.forecast)),
  ]);
  // Every column only from a later revision; `revision` itself last, so the others compare against the old one.
  const updates = [
    ...COLUMNS.map((c) => `${c} = IF(VALUES(revision) > revision, VALUES(${c}), ${c})`),
    'revision = GREATEST(revision, VALUES(revision))',
  ];
  await pool.query(
    `INSERT INTO ops_alerts (alert_id, revision, ${COLUMNS.join(', ')}) VALUES ? ON DUPLICATE KEY UPDATE ${updates.join(', ')}`,
    [values],
  );
}

function forecastJson(f: NonNullable<OpsAlert['forecast']>) {
  return {
    series: f.series,
    limit: f.limit,
    value: f.value,
    expectedAt: new Date(f.expectedAt).toISOString(),
    earliestAt: new Date(f.earliestAt).toISOString(),
    latestAt: f.latestAt === null ? null : new Date(f.latestAt).toISOString(),
  };
}

/** The Avro record of a revision (schemas/ops-alert.avsc); times in epoch ms. */
export function opsAlertRecord(a: OpsAlert) {
  return {
    alert_id: a.alertId,
    revision: a.revision,
    kind: a.kind,
    status: a.status,
    opened_at: a.openedAt,
    updated_at: a.updatedAt,
    closed_at: a.closedAt,
    first_mover: a.firstMover,
    summary: a.summary,
    evidence: a.evidence.map((e) => ({
      series: e.series,
      started_at: e.startedAt,
      value: e.value,
      baseline: e.baseline,
      score: e.score,
      template: e.template ?? null,
      new_template: e.newTemplate === true,
    })),
    forecast:
      a.forecast === null
        ? null
        : {
            series: a.forecast.series,
            limit: a.forecast.limit,
            value: a.forecast.value,
            expected_at: a.forecast.expectedAt,
            earliest_at: a.forecast.earliestAt,
            latest_at: a.forecast.latestAt,
          },
  };
}

/** Publishes the revisions, keyed by alert id (one partition per alert: its revisions stay in order). */
export async function publishOpsAlerts(
  producer: Producer,
  topic: string,
  type: avro.Type,
  schemaId: number,
  alerts: readonly OpsAlert[],
): Promise<void> {
  if (alerts.length === 0) return;
  await producer.send({
    topic,
    acks: -1,
    messages: alerts.map((a) => ({ key: a.alertId, value: frame(schemaId, type.toBuffer(opsAlertRecord(a))) })),
  });
}

const SELECT =
  'SELECT alert_id, revision, kind, status, opened_at, updated_at, closed_at, first_mover, summary, evidence, forecast FROM ops_alerts';

/** The stored alerts, newest first (optionally only OPEN or CLOSED ones). */
export async function listOpsAlerts(pool: Pool, opts: { status?: OpsAlert['status']; limit: number }): Promise<OpsAlert[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    `${SELECT} ${opts.status ? 'WHERE status = ?' : ''} ORDER BY opened_at DESC, alert_id DESC LIMIT ?`,
    opts.status ? [opts.status, opts.limit] : [opts.limit],
  );
  return rows.map(storedAlert);
}

/** A stored row as an alert (JSON columns come back parsed or as text, by driver setting). */
export function storedAlert(r: RowDataPacket): OpsAlert {
  const json = (v: unknown) => (typeof v === 'string' ? (JSON.parse(v) as unknown) : v);
  const evidence = json(r.evidence) as Array<{
    series: string;
    startedAt: string;
    value: number;
    baseline: number;
    score: number;
    template?: string;
    newTemplate?: boolean;
  }>;
  const f = json(r.forecast) as {
    series: string;
    limit: number;
    value: number;
    expectedAt: string;
    earliestAt: string;
    latestAt: string | null;
  } | null;
  return {
    alertId: String(r.alert_id),
    revision: Number(r.revision),
    kind: r.kind as OpsAlert['kind'],
    status: r.status as OpsAlert['status'],
    openedAt: (r.opened_at as Date).getTime(),
    updatedAt: (r.updated_at as Date).getTime(),
    closedAt: r.closed_at === null ? null : (r.closed_at as Date).getTime(),
    firstMover: String(r.first_mover),
    summary: String(r.summary),
    evidence: evidence.map((e) => ({ ...e, startedAt: Date.parse(e.startedAt) })),
    forecast:
      f === null
        ? null
        : {
            ...f,
            expectedAt: Date.parse(f.expectedAt),
            earliestAt: Date.parse(f.earliestAt),
            latestAt: f.latestAt === null ? null : Date.parse(f.latestAt),
          },
  };
}
