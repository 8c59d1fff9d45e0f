/** ops-watch's own metrics: what it scraped, flagged, grouped and forecast. */
import { Counter, Gauge, Registry } from 'prom-client';

export interface OpsMetrics {
  registry: Registry;
  scrapes: Counter<'target' | 'outcome'>;
  flagged: Counter;
  incidents: Counter<'event'>;
  incidentsOpen: Gauge;
  predictions: Counter;
  series: Gauge;
  alertRevisions: Counter;
  logLines: Counter;
}

export function createOpsMetrics(): OpsMetrics {
  const registry = new Registry();
  return {
    registry,
    scrapes: new Counter({
      name: 'txmon_ops_scrapes_total',
      help: "Scrapes of each target's /metrics, by outcome (ok, failed).",
      labelNames: ['target', 'outcome'],
      registers: [registry],
    }),
    flagged: new Counter({
      name: 'txmon_ops_anomalies_total',
      help: 'Series points flagged as anomalous (a series flagged at 3 scrapes counts 3).',
      registers: [registry],
    }),
    incidents: new Counter({
      name: 'txmon_ops_incidents_total',
      help: 'Ops incidents opened and closed.',
      labelNames: ['event'],
      registers: [registry],
    }),
    incidentsOpen: new Gauge({
      name: 'txmon_ops_incidents_open',
      help: 'Ops incidents open now (0 or 1).',
      registers: [registry],
    }),
    predictions: new Counter({
      name: 'txmon_ops_predictions_total',
      help: 'SLO breaches forecast within TXMON_OPS_HORIZON_MS.',
      registers: [registry],
    }),
    series: new Gauge({ name: 'txmon_ops_series', help: 'Series with a point in the last scrape round.', registers: [registry] }),
    alertRevisions: new Counter({
      name: 'txmon_ops_alert_revisions_total',
      help: 'Ops alert revisions written to ops_alerts and published on txmon.ops-alerts.v1.',
      registers: [registry],
    }),
    logLines: new Counter({
      name: 'txmon_ops_log_lines_total',
      help: 'Lines read from TXMON_OPS_LOG_FILES and mined into templates (issue 22).',
      registers: [registry],
    }),
  };
}
