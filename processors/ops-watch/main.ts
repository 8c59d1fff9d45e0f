/**
 * `txmon run ops-watch` (issue 21): scrapes the processors' /metrics every TXMON_OPS_SCRAPE_MS and
 * runs the engine (ops/watch.ts) over each round: anomalies grouped into incidents, SLO breaches
 * forecast. Nothing of the transaction path: it only reads what Prometheus reads. Each incident and
 * forecast is an ops alert (ops/alerts.ts): logged, counted, a row in `ops_alerts` at its latest
 * revision, and every revision on txmon.ops-alerts.v1.
 */
import { requireOpsApiToken, requireOpsTargetNames, type TxmonConfig } from '../../config/config.ts';
import { errorMessage } from '../../platform/errors.ts';
import { startProcessorProbes } from '../../platform/http-probe.ts';
import type { Logger } from '../../platform/logger.ts';
import { OpsWatchEngine, type WatchStep } from '../../ops/watch.ts';
import type { Incident } from '../../ops/incidents.ts';
import { createOpsMetrics, type OpsMetrics } from './ops-watch.metrics.ts';
import { OpsAlertBook, type OpsAlert } from '../../ops/alerts.ts';
import { listOpsAlerts, publishOpsAlerts, writeOpsAlerts } from '../../sinks/ops-alerts.sink.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createPool } from '../../platform/mysql.ts';
import { retry } from '../../platform/retry.ts';
import { createRegistry, registerSchema } from '../../platform/schema-registry.ts';
import { createTolerate } from '../../platform/tolerated.ts';
import { watchParams } from '../../ops/watch-list.ts';
import { avroType, schemaText } from '../../schemas/index.ts';
import { LogTemplateWatch } from '../../ops/log-watch.ts';
import { LogFileTail } from './log-files.ts';
import { topicName, valueSubject } from '../../topics/topics.ts';
import { BROKER_TARGET, lagExposition, readGroupLags, type LagWatch } from '../../ops/broker-lag.ts';

/** Templates with a series of their own; the rest share one (a runaway log must not grow the series without bound). */
const LOG_TEMPLATES_MAX = 500;

export interface OpsWatchOptions {
  /** Serve /metrics, /healthz, /readyz (0: any free port). */
  metricsPort?: number;
  /** Stop by itself after this many scrape rounds. */
  rounds?: number;
  /** Called with every round's result. */
  onStep?: (step: WatchStep) => void;
}

export interface OpsWatchProcess {
  done: Promise<void>;
  close(): Promise<void>;
  probePort: number | null;
  metrics: OpsMetrics;
  summary(): { rounds: number; incidents: number; predictions: number };
}

export async function startOpsWatch(cfg: TxmonConfig, logger: Logger, opts: OpsWatchOptions = {}): Promise<OpsWatchProcess> {
  requireOpsApiToken(cfg.ops);
  requireOpsTargetNames(cfg.ops);
  const log = logger.child({ processor: 'ops-watch' });
  if (cfg.ops.apiToken !== null && !cfg.ops.targets.some((t) => t.name === 'api'))
    log.warn('ops-watch: TXMON_OPS_API_TOKEN is set but no target is named api (TXMON_OPS_TARGETS): the key is not used');
  const metrics = createOpsMetrics();
  const tolerate = createTolerate(metrics.registry, log);
  const engine = new OpsWatchEngine(watchParams(cfg));
  // The processors' logs (issue 22), when TXMON_OPS_LOG_FILES names any: templates as series.
  const { logFiles, logWarmupMs } = cfg.ops;
  const tail = logFiles.length === 0 ? null : new LogFileTail(logFiles);
  const templates =
    tail === null
      ? null
      : new LogTemplateWatch({ scrapeMs: cfg.ops.scrapeMs, warmupMs: logWarmupMs, maxTemplates: LOG_TEMPLATES_MAX });
  const book = new OpsAlertBook((key, startedAt) => {
    const template = templates?.templateOf(key);
    return template === undefined ? undefined : { template, newTemplate: templates?.isNew(key, startedAt) === true };
  });
  const untilUp = <T>(what: string, fn: () => Promise<T>): Promise<T> =>
    retry(fn, {
      maxMs: cfg.retryMaxBackoffMs,
      shouldContinue: () => true,
      onRetry: (err) => log.warn(`${what} not ready (${errorMessage(err)}); retrying`),
    });
  const topic = topicName(cfg.topicNamespace, 'opsAlerts');
  const schemaId = await untilUp('the schema registry', () =>
    registerSchema(createRegistry(cfg), cfg.registryUrl, valueSubject(cfg.topicNamespace, 'opsAlerts'), schemaText('ops-alert')),
  );
  const type = avroType('ops-alert');
  const pool = createPool(cfg);
  const kafka = createKafka(cfg, log, '-ops-watch');
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  // The groups' lag as the broker sees it (TXMON_OPS_BROKER_LAG): read as a target of its own.
  const admin = cfg.ops.brokerLag ? kafka.admin() : null;
  const lagWatches: LagWatch[] = [
    { group: cfg.ingest.groupId, topics: [topicName(cfg.topicNamespace, 'transactions')] },
    {
      group: cfg.recon.groupId,
      topics: [topicName(cfg.topicNamespace, 'transactions'), topicName(cfg.topicNamespace, 'settlements')],
    },
  ];
  try {
    await untilUp('kafka', () => producer.connect());
    if (admin !== null) await untilUp('kafka', () => admin.connect());
  } catch (err) {
    // The start failed: what it reports is `err`; a failed disconnect of a client that never connected adds nothing.
    await producer.disconnect().catch((e: unknown) => tolerate('teardown-step', e));
    await admin?.disconnect().catch((e: unknown) => tolerate('teardown-step', e));
    await pool.end();
    throw err;
  }
  // Alerts a previous run left open: its baselines are gone, so they close (a revision each).
  const pending: OpsAlert[] = (await untilUp('mysql', () => listOpsAlerts(pool, { status: 'OPEN', limit: 10_000 }))).map((a) => ({
    ...a,
    revision: a.revision + 1,
    status: 'CLOSED',
    updatedAt: Date.now(),
    closedAt: Date.now(),
    summary: `${a.summary}; closed: ops-watch restarted (its baselines start again)`,
  }));
  const flush = async () => {
    if (pending.length === 0) return;
    const batch = pending.slice();
    try {
      await writeOpsAlerts(pool, batch);
      await publishOpsAlerts(producer, topic, type, schemaId, batch);
      pending.splice(0, batch.length);
      metrics.alertRevisions.inc(batch.length);
    } catch (err) {
      tolerate('ops-alerts-write', err, { pending: pending.length });
    }
  };
  const { targets, scrapeMs } = cfg.ops;
  const down = new Set<string>();
  let rounds = 0;
  let incidents = 0;
  let predictions = 0;
  let lastRoundAt = 0;
  let lastTime = 0;
  let stopping = false;
  let wake: (() => void) | null = null;

  const probe = await startProcessorProbes({
    host: cfg.metrics.host,
    port: opts.metricsPort,
    registry: metrics.registry,
    ready: () => {
      if (rounds === 0) return { ok: false, detail: 'no scrape round yet' };
      const age = Date.now() - lastRoundAt;
      return age > 3 * scrapeMs
        ? { ok: false, detail: `the last scrape round was ${Math.round(age / 1000)} s ago` }
        : { ok: true, detail: 'scraping' };
    },
    log,
  });

  // The API's /metrics needs a key (sre or admin): presented to the target named api only.
  const apiAuth = cfg.ops.apiToken === null ? undefined : { authorization: `Bearer ${cfg.ops.apiToken.reveal()}` };
  // A target that does not answer within half a round (10 s at most) counts as down for the round.
  const scrapeTimeoutMs = Math.min(10_000, Math.max(500, scrapeMs / 2));
  const scrape = async (target: { name: string; url: string }): Promise<string | null> => {
    try {
      const keyed = target.name === 'api' && apiAuth !== undefined;
      const res = await fetch(target.url, {
        signal: AbortSignal.timeout(scrapeTimeoutMs),
        // A /metrics endpoint has no reason to redirect; with the key, a redirect is refused outright.
        ...(keyed && { headers: apiAuth, redirect: 'error' as const }),
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        if (keyed && (res.status === 401 || res.status === 403))
          throw new Error(
            `HTTP ${res.status}: the API refused TXMON_OPS_API_TOKEN (revoked, expired, or not an sre or admin key)`,
          );
        throw new Error(`HTTP ${res.status}`);
      }
      const text = await res.text();
      metrics.scrapes.inc({ target: target.name, outcome: 'ok' });
      if (down.delete(target.name)) log.info({ target: target.name, url: target.url }, `ops-watch: ${target.name} answers again`);
      return text;
    } catch (err) {
      metrics.scrapes.inc({ target: target.name, outcome: 'failed' });
      if (!down.has(target.name)) {
        down.add(target.name);
        log.warn({ target: target.name, url: target.url, err: errorMessage(err) }, `ops-watch: cannot scrape ${target.name}`);
      }
      return null;
    }
  };

  /** This round's lags from the broker as exposition text, or null when it did not answer (`kafka:up` 0). */
  const readLags = async (): Promise<string | null> => {
    if (admin === null) return null;
    try {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${scrapeTimeoutMs} ms`)), scrapeTimeoutMs);
      });
      const lags = await Promise.race([readGroupLags(admin, lagWatches), late]).finally(() => clearTimeout(timer));
      const text = lagExposition(lags);
      metrics.scrapes.inc({ target: BROKER_TARGET, outcome: 'ok' });
      if (down.delete(BROKER_TARGET)) log.info(`ops-watch: the broker answers the groups' offsets again`);
      return text;
    } catch (err) {
      metrics.scrapes.inc({ target: BROKER_TARGET, outcome: 'failed' });
      if (!down.has(BROKER_TARGET)) {
        down.add(BROKER_TARGET);
        log.warn({ target: BROKER_TARGET, err: errorMessage(err) }, `ops-watch: cannot read the groups' lag from the broker`);
      }
      return null;
    }
  };

  const unreadable = new Set<string>();
  /** This round's new log lines as template series, and the templates first seen in them. */
  const readLogs = async (time: number) => {
    if (tail === null || templates === null) return {};
    const { lines, failed } = await tail.read();
    for (const f of failed)
      if (!unreadable.has(f.path)) {
        unreadable.add(f.path);
        log.warn({ path: f.path, err: f.error }, 'ops-watch: cannot read a log file');
      }
    for (const path of unreadable)
      if (!failed.some((f) => f.path === path)) {
        unreadable.delete(path);
        log.info({ path }, 'ops-watch: a log file reads again');
      }
    const r = templates.round(time, lines, failed.length === 0);
    metrics.logLines.inc(r.lines);
    for (const f of r.fresh) log.warn({ series: f.key, template: templates.templateOf(f.key) }, 'ops-watch: a new log template');
    return { points: r.points, flagged: r.fresh };
  };

  const evidence = (i: Incident) =>
    [...i.series.values()].map((s) => ({
      series: s.key,
      startedAt: new Date(s.startedAt).toISOString(),
      value: s.peakValue,
      baseline: s.peakBaseline,
      score: Math.round(s.peakScore * 100) / 100,
      ...(templates?.templateOf(s.key) !== undefined && { template: templates.templateOf(s.key) }),
    }));

  const report = (step: WatchStep) => {
    metrics.series.set(step.points);
    metrics.flagged.inc(step.flagged.length);
    const { opened, updated, closed } = step.incidents;
    if (closed) {
      metrics.incidents.inc({ event: 'closed' });
      log.info(
        { incident: closed.id, firstMover: closed.firstMover, series: evidence(closed) },
        `ops incident ${closed.id} closed`,
      );
    }
    if (opened) {
      incidents++;
      metrics.incidents.inc({ event: 'opened' });
      log.warn(
        { incident: opened.id, firstMover: opened.firstMover, series: evidence(opened) },
        `ops incident ${opened.id} opened: ${opened.firstMover} moved first`,
      );
    }
    if (updated)
      log.warn(
        { incident: updated.id, firstMover: updated.firstMover, series: evidence(updated) },
        `ops incident ${updated.id}: ${updated.series.size} series, ${updated.firstMover} moved first`,
      );
    metrics.incidentsOpen.set(engine.openIncident === null ? 0 : 1);
    for (const p of step.predictions) {
      predictions++;
      metrics.predictions.inc();
      log.warn(
        {
          series: p.series,
          value: p.value,
          limit: p.limit,
          expectedAt: new Date(p.expectedAt).toISOString(),
          earliestAt: new Date(p.earliestAt).toISOString(),
          latestAt: p.latestAt === null ? null : new Date(p.latestAt).toISOString(),
        },
        `SLO breach forecast: ${p.series} at ${p.value} reaches ${p.limit} in about ${Math.round((p.expectedAt - step.time) / 1000)} s`,
      );
    }
    for (const series of step.cleared) log.info({ series }, `SLO breach forecast for ${series} no longer holds`);
  };

  const loop = async () => {
    const start = Date.now();
    for (let k = 0; !stopping && (opts.rounds === undefined || k < opts.rounds); k++) {
      const due = start + k * scrapeMs;
      const wait = due - Date.now();
      if (wait > 0)
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, wait);
          wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
      wake = null;
      if (stopping) break;
      // Never backwards, should the wall clock be stepped back: a series' points are in time order.
      const time = Math.max(Date.now(), lastTime);
      lastTime = time;
      const [texts, logs, lags] = await Promise.all([Promise.all(targets.map(scrape)), readLogs(time), readLags()]);
      const scrapes = targets.map((t, i) => ({ target: t.name, text: texts[i] ?? null }));
      if (admin !== null) scrapes.push({ target: BROKER_TARGET, text: lags });
      const step = engine.observe(time, scrapes, logs);
      rounds++;
      lastRoundAt = Date.now();
      report(step);
      pending.push(...book.changes(step));
      await flush();
      opts.onStep?.(step);
    }
  };

  log.info(
    {
      targets: targets.map((t) => `${t.name}=${t.url}`),
      brokerLag: admin === null ? null : lagWatches.map((w) => `${w.group}: ${w.topics.join(', ')}`),
      logFiles,
      scrapeMs,
    },
    'ops-watch running',
  );
  const done = (async () => {
    await flush(); // what a previous run left open, closed
    await loop();
  })().finally(async () => {
    await flush(); // it keeps what it could not write, and says so
    await probe?.close();
    await producer.disconnect().catch((err: unknown) => tolerate('teardown-step', err));
    await admin?.disconnect().catch((err: unknown) => tolerate('teardown-step', err));
    await pool.end().catch((err: unknown) => tolerate('teardown-step', err));
  });
  return {
    done,
    close: async () => {
      stopping = true;
      wake?.();
      // The same error reaches whoever awaits `done` (runProcessor prints it and exits non-zero).
      await done.catch((err: unknown) => log.error({ err: errorMessage(err) }, 'ops-watch ended with an error'));
    },
    probePort: probe?.port ?? null,
    metrics,
    summary: () => ({ rounds, incidents, predictions }),
  };
}
