// ops-watch (issue 21) over real HTTP: it scrapes two processors' /metrics pages, served by the
// processors' own probe server (platform/http-probe.ts) from real prom-client registries, and a
// target that does not answer. A lag that starts to climb becomes one incident and an SLO breach
// forecast; ops-watch's own /metrics and /readyz say so.
import { createServer } from 'node:net';
import { Counter, Gauge, Registry } from 'prom-client';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { startProbeServer, type ProbeServer } from '../../platform/http-probe.ts';
import { startOpsWatch } from '../../processors/ops-watch/main.ts';
import type { WatchStep } from '../../ops/watch.ts';
import { testLogger } from '../helpers/namespace.ts';

const servers: ProbeServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
});

/** A port nothing listens on (taken, then freed). */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as { port: number };
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

describe('ops-watch', () => {
  it('scrapes real /metrics pages: a climbing lag is one incident and a breach forecast; a dead target is counted; its own probes say so', async () => {
    const register = new Registry();
    const lag = new Gauge({
      name: 'txmon_ingest_consumer_lag_records',
      help: 'h',
      labelNames: ['partition'],
      registers: [register],
    });
    const records = new Counter({
      name: 'txmon_ingest_records_total',
      help: 'h',
      labelNames: ['outcome'],
      registers: [register],
    });
    const ingest = await startProbeServer({
      host: '127.0.0.1',
      port: 0,
      registry: register,
      ready: () => ({ ok: true, detail: 'ok' }),
    });
    servers.push(ingest);
    const dead = await closedPort();
    const base = loadConfig({
      TXMON_OPS_TARGETS: `ingest=http://127.0.0.1:${ingest.port}/metrics,reconcile=http://127.0.0.1:${dead}/metrics`,
      TXMON_OPS_MIN_POINTS: '8',
      TXMON_OPS_SLO_LAG_RECORDS: '5000',
      TXMON_OPS_FORECAST_POINTS: '5',
    });
    // Rounds 200 ms apart (the setting's floor is a second; the engine's steps are the same).
    const cfg = { ...base, ops: { ...base.ops, scrapeMs: 200, groupMs: 1_000, quietMs: 2_000, horizonMs: 60_000 } };
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
        lag.set({ partition: '0' }, round >= climbFrom ? 100 + 400 * (round - climbFrom + 1) : 100 + (round % 3));
        records.inc({ outcome: 'decided' }, 300 + (round % 5));
        if (round === 5) readyMidway = fetch(`http://127.0.0.1:${watch.probePort}/readyz`);
      },
    });
    try {
      await watch.done;
      expect((await (readyMidway as Promise<Response> | null))?.status).toBe(200);
      const opened = steps.filter((s) => s.incidents.opened).map((s) => s.incidents.opened);
      expect(opened.length).toBe(1);
      // The dead target's up series was 0 from the start (never a baseline of 1), so it is not the incident.
      expect(opened[0]?.firstMover).toBe('ingest:txmon_ingest_consumer_lag_records{partition="0"}');
      const predicted = steps.flatMap((s) => s.predictions);
      expect(predicted.map((p) => p.series)).toEqual(['ingest:txmon_ingest_consumer_lag_records{partition="0"}']);
      expect(predicted[0]?.limit).toBe(5_000);
      const own = await watch.metrics.registry.metrics();
      expect(own).toContain('txmon_ops_incidents_total{event="opened"} 1');
      expect(own).toContain('txmon_ops_scrapes_total{target="reconcile",outcome="failed"} 24');
      expect(own).toContain('txmon_ops_scrapes_total{target="ingest",outcome="ok"} 24');
      expect(own).toContain('txmon_ops_predictions_total 1');
      expect(watch.summary()).toEqual({ rounds: 24, incidents: 1, predictions: 1 });
    } finally {
      await watch.close();
    }
  });
});
