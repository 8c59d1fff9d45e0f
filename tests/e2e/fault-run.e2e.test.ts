// Issue 23's fault run (tests/helpers/fault-run.ts). In the chaos tier at a minutes-long size;
// `npm run chaos` runs it with CHAOS_EVENTS=1000000 and at least 50 processor kills. The figures go
// to .txmon/chaos/latest.json and to the test report (the console line below).
import { describe, expect, it } from 'vitest';
import { faultRun } from '../helpers/fault-run.ts';

const EVENTS = Number(process.env.CHAOS_EVENTS ?? 12_000);
const KILLS = Number(process.env.CHAOS_KILLS ?? 6);
const DEPENDENCY_FAULTS = Number(process.env.CHAOS_DEPENDENCY_FAULTS ?? 1);
const SEED = Number(process.env.CHAOS_SEED ?? 23);
/** An hour per million events on this machine, and ten minutes at least. */
const TIMEOUT_MS = Math.max(600_000, (EVENTS / 1_000_000) * 3_600_000);

describe('the fault run', () => {
  it(
    `${EVENTS.toLocaleString('en-US')} events through three ingest and two reconcile processes on three brokers and a Redis Cluster, with ${KILLS} processor kills and ${DEPENDENCY_FAULTS} fault(s) of each dependency: nothing lost or doubled against a clean pass`,
    async () => {
      const lines: string[] = [];
      const report = await faultRun({
        events: EVENTS,
        seed: SEED,
        processorKills: KILLS,
        dependencyFaults: DEPENDENCY_FAULTS,
        say: (l) => {
          lines.push(l);
          console.info(l);
        },
      });
      expect(report.kills).toBe(KILLS);
      expect(report.outages).toEqual({
        broker: DEPENDENCY_FAULTS,
        redis: DEPENDENCY_FAULTS,
        mariadb: DEPENDENCY_FAULTS,
        registry: DEPENDENCY_FAULTS,
      });
      expect(report.crashes, lines.join('\n')).toBe(0);
      expect(report.readiness_red_during_outage).toBe(true);
      expect(report.window_mismatches).toBe(0);
      expect(report.window_entities).toBeGreaterThan(100);
      // Nothing lost and nothing twice, anywhere: MySQL and the Kafka outputs (read_committed). Six
      // causes of doubles on the topics were found by this run and fixed (docs/state.md, "Outputs
      // once after a fencing"); what a run reads twice is also in .txmon/chaos/doubled.json.
      for (const c of report.checks.filter((x) => x.name !== 'alerts against the clean pass')) {
        expect({ check: c.name, lost: c.lost, doubled: c.doubled }).toEqual({ check: c.name, lost: 0, doubled: 0 });
        if (c.name !== 'settlement dead letters') expect(c.expected, c.name).toBeGreaterThan(0);
      }
    },
    TIMEOUT_MS,
  );
});
