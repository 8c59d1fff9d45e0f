// ops-watch (issue 21) over real HTTP, MariaDB, Kafka and the registry: it scrapes a processor's
// /metrics page, served by the processors' own probe server (platform/http-probe.ts) from a real
// prom-client registry, and a target that does not answer. A lag that starts to climb becomes one
// incident and an SLO breach forecast: ops alerts in `ops_alerts` (latest revision) and on
// txmon.ops-alerts.v1 (every revision, Avro); its own /metrics and /readyz say so. Restarted, it
// closes what the previous run left open. With TXMON_OPS_LOG_FILES (issue 22) it reads a log file
// as it grows: a kind of line first seen after the warm-up is an incident naming its template. The
// groups' lag read from the broker (TXMON_OPS_BROKER_LAG) forecasts a breach while no processor answers.
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { Gauge, Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startProbeServer, type ProbeServer } from '../../platform/http-probe.ts';
import { createKafka } from '../../platform/kafka.ts';
import { readGroupLags } from '../../ops/broker-lag.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { startOpsWatch } from '../../processors/ops-watch/main.ts';
import type { WatchStep } from '../../ops/watch.ts';
import { avroType } from '../../schemas/index.ts';
import { topicName } from '../../topics/topics.ts';
import type { TxmonConfig } from '../../config/config.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { buildApp } from '../../dashboard-api/app.ts';
import { createApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { createApiMetrics } from '../../dashboard-api/plugins/metrics.ts';
import { dependencyProbes } from '../../dashboard-api/routes/health.ts';

let ns: TestNamespace;
let pool: Pool;
const servers: ProbeServer[] = [];
beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
}, 120_000);
afterAll(async () => {
  for (const s of servers) await s.close();
  await pool?.end();
  await ns?.cleanup();
});

/** A processor's /metrics page over a registry (the processors' own probe server), closed after the tests. */
async function metricsServer(registry: Registry): Promise<ProbeServer> {
  const server = await startProbeServer({ host: '127.0.0.1', port: 0, registry, ready: () => ({ ok: true, detail: 'ok' }) });
  servers.push(server);
  return server;
}

/** A port nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

/** The dashboard API on the test's database, limits out of the way. */
const apiApp = () =>
  buildApp(
    { pool, logger: testLogger, metrics: createApiMetrics(null), probes: dependencyProbes({ pool }) },
    { rateLimitPerMinute: 100_000, keyCacheMs: 0, guard: { ...ns.cfg.apiGuard, rateLimitPerAddressPerMinute: 1_000_000 } },
  );

/** GET /api/v1/ops/alerts with a key. */
const listAlerts = (app: Awaited<ReturnType<typeof apiApp>>, key: string, query: string) =>
  app.inject({ method: 'GET', url: `/api/v1/ops/alerts${query}`, headers: { authorization: `Bearer ${key}` } });

/** Every revision on the topic: [alert_id, revision, status, kind]. */
async function published(): Promise<Array<[string, number, string, string]>> {
  const type = avroType('ops-alert');
  const messages = await readTopic(createKafka(ns.cfg, testLogger), topicName(ns.cfg.topicNamespace, 'opsAlerts'));
  return messages.map((m) => {
    const v = type.fromBuffer((m.value as Buffer).subarray(5)) as {
      alert_id: string;
      revision: number;
      status: string;
      kind: string;
    };
    expect(String(m.key)).toBe(v.alert_id);
    return [v.alert_id, v.revision, v.status, v.kind];
  });
}

describe('ops-watch', () => {
  it('a climbing lag: one incident and one forecast as ops alerts in MySQL and on the topic; a dead target counted; a restart closes them', async () => {
    const register = new Registry();
    const lag = new Gauge({
      name: 'txmon_ingest_consumer_lag_records',
      help: 'h',
      labelNames: ['partition'],
      registers: [register],
    });
    const ingest = await metricsServer(register);
    const dead = await closedPort();
    // Rounds 200 ms apart (the setting's floor is a second; the engine's steps are the same).
    const cfg: TxmonConfig = {
      ...ns.cfg,
      ops: {
        ...ns.cfg.ops,
        // The broker's lag has a test of its own (the last).
        brokerLag: false,
        targets: [
          { name: 'ingest', url: `http://127.0.0.1:${ingest.port}/metrics` },
          { name: 'reconcile', url: `http://127.0.0.1:${dead}/metrics` },
        ],
        minPoints: 8,
        forecastPoints: 5,
        slo: { ...ns.cfg.ops.slo, lagRecords: 5_000 },
        scrapeMs: 200,
        groupMs: 1_000,
        quietMs: 2_000,
        horizonMs: 60_000,
      },
    };
    const steps: WatchStep[] = [];
    let round = 0;
    const climbFrom = 14;
    let readyMidway: Promise<Response> | null = null;
    const watch = await startOpsWatch(cfg, testLogger, {
      metricsPort: 0,
      rounds: 24,
      onStep: (s) => {
        steps.push(s);
        round++;
        // What the next scrape will see: a steady lag with a little noise, then a climb of 400 a round.
        // (Gauges only: a counter bumped per round would have a rate that follows the rounds' timing
        // jitter on a loaded machine, not the traffic.)
        lag.set({ partition: '0' }, round >= climbFrom ? 100 + 400 * (round - climbFrom + 1) : 100 + (round % 3));
        if (round === 5) readyMidway = fetch(`http://127.0.0.1:${watch.probePort}/readyz`);
      },
    });
    await watch.done;
    expect((await (readyMidway as Promise<Response> | null))?.status).toBe(200);
    const lagSeries = 'ingest:txmon_ingest_consumer_lag_records{partition="0"}';
    const opened = steps.filter((s) => s.incidents.opened).map((s) => s.incidents.opened);
    expect(opened.length).toBe(1);
    // The dead target's up series was 0 from the start (never a baseline of 1), so it is not the incident.
    expect(opened[0]?.firstMover).toBe(lagSeries);
    expect(steps.flatMap((s) => s.predictions).map((p) => p.series)).toEqual([lagSeries]);

    const [rows] = await pool.query<RowDataPacket[]>(
      'SELECT alert_id, revision, kind, status, first_mover, summary, evidence, forecast FROM ops_alerts ORDER BY kind',
    );
    expect(rows.map((r) => [r.kind, r.status, r.first_mover])).toEqual([
      ['ANOMALY', 'OPEN', lagSeries],
      ['SLO_FORECAST', 'OPEN', lagSeries],
    ]);
    const anomaly = rows[0] as RowDataPacket;
    expect(anomaly.alert_id).toBe(opened[0]?.id);
    expect(String(anomaly.summary)).toMatch(
      /^ingest:txmon_ingest_consumer_lag_records\{partition="0"\} moved first \(\d+ against a baseline of 10\d/,
    );
    const evidence = (typeof anomaly.evidence === 'string' ? JSON.parse(anomaly.evidence) : anomaly.evidence) as Array<{
      series: string;
      score: number;
    }>;
    expect(evidence[0]?.series).toBe(lagSeries);
    expect(evidence[0]?.score).toBeGreaterThan(3.5);
    const forecast = (rows[1] as RowDataPacket).forecast;
    expect((typeof forecast === 'string' ? JSON.parse(forecast) : forecast) as { limit: number }).toMatchObject({ limit: 5_000 });
    // Every revision on the topic; the table holds the latest of each.
    const topic = await published();
    for (const r of rows) expect(topic.filter(([id]) => id === r.alert_id).at(-1)?.[1]).toBe(r.revision);

    const own = await watch.metrics.registry.metrics();
    expect(own).toContain('txmon_ops_incidents_total{event="opened"} 1');
    expect(own).toContain('txmon_ops_scrapes_total{target="reconcile",outcome="failed"} 24');
    expect(own).toContain('txmon_ops_scrapes_total{target="ingest",outcome="ok"} 24');
    expect(own).toContain('txmon_ops_predictions_total 1');
    expect(own).toMatch(/txmon_tolerated_failures_total\{reason="ops-alerts-write"\} 0/);
    expect(watch.summary()).toEqual({ rounds: 24, incidents: 1, predictions: 1 });

    // A new run: the open alerts of the old one are closed, a revision each, in both places.
    const again = await startOpsWatch(cfg, testLogger, { rounds: 1 });
    await again.done;
    const [after] = await pool.query<RowDataPacket[]>('SELECT alert_id, revision, status, summary FROM ops_alerts');
    for (const r of after) {
      const before = rows.find((x) => x.alert_id === r.alert_id) as RowDataPacket;
      expect([r.status, r.revision]).toEqual(['CLOSED', Number(before.revision) + 1]);
      expect(String(r.summary)).toMatch(/closed: ops-watch restarted/);
    }
    // The API lists them for SREs and admins, with their evidence; an analyst is refused.
    const app = await apiApp();
    try {
      const sre = (await createApiKey(pool, 'ops-sre', 'sre', 'test')).key;
      const analyst = (await createApiKey(pool, 'ops-analyst', 'analyst', 'test')).key;
      const res = await listAlerts(app, sre, '?status=CLOSED');
      expect(res.statusCode, res.body).toBe(200);
      const items = res.json<{
        items: Array<{
          kind: string;
          first_mover: string;
          evidence: Array<{ series: string }>;
          forecast: { limit: number } | null;
        }>;
      }>().items;
      expect(items.map((i) => i.kind).sort()).toEqual(['ANOMALY', 'SLO_FORECAST']);
      expect(items.find((i) => i.kind === 'ANOMALY')?.evidence[0]?.series).toBe(lagSeries);
      expect(items.find((i) => i.kind === 'SLO_FORECAST')?.forecast?.limit).toBe(5_000);
      const open = await app.inject({
        method: 'GET',
        url: '/api/v1/ops/alerts?status=OPEN',
        headers: { authorization: `Bearer ${sre}` },
      });
      expect(open.json<{ items: unknown[] }>().items).toEqual([]);
      const refused = await app.inject({
        method: 'GET',
        url: '/api/v1/ops/alerts',
        headers: { authorization: `Bearer ${analyst}` },
      });
      expect(refused.statusCode).toBe(403);
      const bad = await app.inject({
        method: 'GET',
        url: '/api/v1/ops/alerts?status=MAYBE',
        headers: { authorization: `Bearer ${sre}` },
      });
      expect(bad.statusCode).toBe(400);
    } finally {
      await app.close();
    }
    const last = await published();
    for (const r of after)
      expect(last.filter(([id]) => id === r.alert_id).at(-1)).toEqual([r.alert_id, r.revision, 'CLOSED', expect.any(String)]);
  });

  it('log templates: a kind of line first logged after the warm-up is an incident with its template, in MySQL, on the topic and in the API', async () => {
    const register = new Registry();
    const ingest = await metricsServer(register);
    const logFile = join(mkdtempSync(join(tmpdir(), 'txmon-ops-logs-')), 'ingest.log');
    writeFileSync(logFile, '{"level":30,"msg":"logged before ops-watch started: not read"}\n');
    const cfg: TxmonConfig = {
      ...ns.cfg,
      ops: {
        ...ns.cfg.ops,
        brokerLag: false,
        targets: [{ name: 'ingest', url: `http://127.0.0.1:${ingest.port}/metrics` }],
        logFiles: [logFile],
        logWarmupMs: 1_000,
        minPoints: 8,
        scrapeMs: 200,
        groupMs: 1_000,
        quietMs: 2_000,
      },
    };
    const line = (msg: string) => appendFileSync(logFile, `${JSON.stringify({ level: 30, time: Date.now(), pid: 1, msg })}\n`);
    let round = 0;
    const steps: WatchStep[] = [];
    const watch = await startOpsWatch(cfg, testLogger, {
      rounds: 20,
      onStep: (s) => {
        steps.push(s);
        round++;
        // What the next round reads: two steady kinds of line, then (round 14) one never logged before.
        line(`batch of ${100 + (round % 7)} records committed in ${20 + (round % 5)} ms`);
        line('heartbeat sent to the group coordinator');
        if (round === 14) line('aborting the Kafka transaction failed; recreating the producer');
      },
    });
    await watch.done;
    const newSeries = 'logs:rate(txmon_log_template_lines{template="3"})';
    const opened = steps.filter((s) => s.incidents.opened).map((s) => s.incidents.opened);
    expect(opened.map((i) => i?.firstMover)).toEqual([newSeries]);
    expect(await watch.metrics.registry.metrics()).toMatch(/txmon_ops_log_lines_total \d+/);

    const [rows] = await pool.query<RowDataPacket[]>(
      "SELECT alert_id, evidence FROM ops_alerts WHERE kind = 'ANOMALY' AND first_mover LIKE 'logs:%'",
    );
    expect(rows).toHaveLength(1);
    const evidence = (typeof rows[0]?.evidence === 'string' ? JSON.parse(rows[0].evidence) : rows[0]?.evidence) as Array<{
      series: string;
      template?: string;
      newTemplate?: boolean;
    }>;
    expect(evidence).toEqual([
      expect.objectContaining({
        series: newSeries,
        template: 'aborting the Kafka transaction failed; recreating the producer',
        newTemplate: true,
      }),
    ]);
    // On the topic, the Avro record carries the template.
    const type = avroType('ops-alert');
    const records = (await readTopic(createKafka(ns.cfg, testLogger), topicName(ns.cfg.topicNamespace, 'opsAlerts')))
      .map(
        (m) =>
          type.fromBuffer((m.value as Buffer).subarray(5)) as {
            alert_id: string;
            evidence: Array<{ template: string | null; new_template: boolean }>;
          },
      )
      .filter((r) => r.alert_id === rows[0]?.alert_id);
    expect(records.length).toBeGreaterThanOrEqual(1);
    expect(records[0]?.evidence[0]).toMatchObject({
      template: 'aborting the Kafka transaction failed; recreating the producer',
      new_template: true,
    });

    const app = await apiApp();
    try {
      const sre = (await createApiKey(pool, 'ops-sre-logs', 'sre', 'test')).key;
      const res = await listAlerts(app, sre, '?limit=500');
      expect(res.statusCode, res.body).toBe(200);
      const items = res.json<{
        items: Array<{
          alert_id: string;
          templates: Array<{ template: string; new_template: boolean }>;
          evidence: Array<{ template: string | null }>;
        }>;
      }>().items;
      const incident = items.find((i) => i.alert_id === rows[0]?.alert_id);
      expect(incident?.templates).toEqual([
        expect.objectContaining({
          template: 'aborting the Kafka transaction failed; recreating the producer',
          new_template: true,
        }),
      ]);
      // A metric's incident has no templates, and its evidence says so.
      const other = items.find((i) => i.alert_id !== rows[0]?.alert_id && i.evidence.length > 0);
      expect(other?.templates).toEqual([]);
      expect(other?.evidence[0]?.template).toBeNull();
    } finally {
      await app.close();
    }
  });
  it('lag from the broker: a group that stops consuming while its topic grows is forecast to breach, with no processor answering', async () => {
    const kafka = createKafka(ns.cfg, testLogger);
    const admin = kafka.admin();
    const producer = kafka.producer();
    await Promise.all([admin.connect(), producer.connect()]);
    try {
      const topic = topicName(ns.cfg.topicNamespace, 'transactions');
      const group = ns.cfg.ingest.groupId;
      const send = (n: number) =>
        producer.send({ topic, messages: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: Buffer.from('x') })) });
      // The group has processed everything so far (its committed offsets at the high watermarks).
      await send(150);
      const ends = await admin.fetchTopicOffsets(topic);
      await admin.setOffsets({
        groupId: group,
        topic,
        partitions: ends.map((p) => ({ partition: p.partition, offset: p.high })),
      });
      const dead = await closedPort();
      const cfg: TxmonConfig = {
        ...ns.cfg,
        ops: {
          ...ns.cfg.ops,
          // The ingest is down: its own lag gauge is not there to read.
          targets: [{ name: 'ingest', url: `http://127.0.0.1:${dead}/metrics` }],
          brokerLag: true,
          minPoints: 8,
          forecastPoints: 5,
          slo: { ...ns.cfg.ops.slo, lagRecords: 6_000 },
          scrapeMs: 200,
          groupMs: 1_000,
          quietMs: 2_000,
          horizonMs: 60_000,
        },
      };
      const steps: WatchStep[] = [];
      let round = 0;
      const climbFrom = 12;
      let sending = Promise.resolve();
      const watch = await startOpsWatch(cfg, testLogger, {
        rounds: 26,
        onStep: (s) => {
          steps.push(s);
          round++;
          // Then the topic grows by 300 records a round, and nobody consumes them.
          if (round >= climbFrom) sending = sending.then(() => send(300).then(() => {}));
        },
      });
      await watch.done;
      await sending;
      const series = `kafka:txmon_consumer_group_lag_records{group=${JSON.stringify(group)},topic=${JSON.stringify(topic)}}`;
      const predictions = steps.flatMap((s) => s.predictions.map((p) => ({ ...p, time: s.time })));
      expect(predictions.map((p) => p.series)).toContain(series);
      const forecast = predictions.find((p) => p.series === series) as (typeof predictions)[number];
      // Ahead of the breach: the lag was still below the limit when it was forecast.
      expect(forecast.value).toBeLessThan(6_000);
      expect(forecast.expectedAt).toBeGreaterThan(forecast.time);
      // The climb is also the incident, and the broker's series moved first.
      const opened = steps.flatMap((s) => (s.incidents.opened ? [s.incidents.opened] : []));
      expect(opened.map((o) => o.firstMover)).toEqual([series]);
      const [rows] = await pool.query<RowDataPacket[]>('SELECT kind FROM ops_alerts WHERE status = ? AND first_mover = ?', [
        'OPEN',
        series,
      ]);
      expect(rows.map((r) => r.kind).sort()).toEqual(['ANOMALY', 'SLO_FORECAST']);
      const own = await watch.metrics.registry.metrics();
      // Every round read the broker, give or take two (a read slower than 500 ms, the floor of the timeout, counts as failed).
      const ok = Number(/txmon_ops_scrapes_total\{target="kafka",outcome="ok"\} (\d+)/.exec(own)?.[1] ?? 0);
      expect(ok).toBeGreaterThanOrEqual(24);
      expect(own).toContain('txmon_ops_scrapes_total{target="ingest",outcome="failed"} 26');
      // The figure is exact: every record sent after the group's commit, and for the reconcile group
      // (no commit on the topic) every record on it.
      const sent = (round - climbFrom + 1) * 300;
      expect(
        await readGroupLags(admin, [
          { group, topics: [topic] },
          { group: ns.cfg.recon.groupId, topics: [topic, `${topic}.missing`] },
        ]),
      ).toEqual([
        { group, topic, lag: sent },
        { group: ns.cfg.recon.groupId, topic, lag: sent + 150 },
      ]);
    } finally {
      await producer.disconnect();
      await admin.disconnect();
    }
  });
});
