import { describe, expect, it } from 'vitest';
import { loadConfig, requireOpsTargetNames } from '../config/config.ts';
import { BROKER_TARGET, GROUP_LAG_METRIC, lagExposition } from './broker-lag.ts';
import { readScrape } from './exposition.ts';
import { OpsWatchEngine, type WatchStep } from './watch.ts';
import { watchParams } from './watch-list.ts';

describe('the groups’ lag from the broker as exposition text', () => {
  it('parses back to one gauge per group and topic, odd label values included', () => {
    const text = lagExposition([
      { group: 'txmon-ingest', topic: 'txmon.transactions.v1', lag: 1_234 },
      { group: 'odd "group"\\name\nx', topic: 't', lag: 0 },
    ]);
    const scrape = readScrape(text, 1_000);
    expect([...scrape.samples.entries()]).toEqual([
      [
        `${GROUP_LAG_METRIC}{group="txmon-ingest",topic="txmon.transactions.v1"}`,
        { kind: 'gauge', name: GROUP_LAG_METRIC, value: 1_234 },
      ],
      [
        `${GROUP_LAG_METRIC}{group=${JSON.stringify('odd "group"\\name\nx')},topic="t"}`,
        { kind: 'gauge', name: GROUP_LAG_METRIC, value: 0 },
      ],
    ]);
    expect(readScrape(lagExposition([]), 0).samples.size).toBe(0);
  });

  it('is watched with the SLO of the lag: a steady lag raises nothing, a climbing one is forecast ahead of its breach', () => {
    const cfg = loadConfig({ TXMON_OPS_SCRAPE_MS: '15000', TXMON_OPS_SLO_LAG_RECORDS: '100000' });
    const engine = new OpsWatchEngine(watchParams(cfg));
    const key = `${BROKER_TARGET}:${GROUP_LAG_METRIC}{group="g",topic="t"}`;
    const steps: WatchStep[] = [];
    const climbFrom = 60;
    const lagAt = (i: number) => (i < climbFrom ? 300 + ((i * 37) % 50) : 300 + 5_000 * (i - climbFrom + 1));
    for (let i = 0; i < 90; i++)
      steps.push(
        engine.observe(i * 15_000, [{ target: BROKER_TARGET, text: lagExposition([{ group: 'g', topic: 't', lag: lagAt(i) }]) }]),
      );
    expect(steps.slice(0, climbFrom).flatMap((s) => s.flagged)).toEqual([]);
    const said = steps.findIndex((s) => s.predictions.some((p) => p.series === key));
    expect(said).toBeGreaterThanOrEqual(climbFrom);
    // The lag reaches 100,000 at the 20th climbing scrape; the forecast came at least a minute before.
    const breach = climbFrom + Math.ceil((100_000 - 300) / 5_000) - 1;
    expect(lagAt(breach)).toBeGreaterThanOrEqual(100_000);
    expect(lagAt(breach - 1)).toBeLessThan(100_000);
    expect((breach - said) * 15_000).toBeGreaterThanOrEqual(60_000);
    expect(steps.flatMap((s) => (s.incidents.opened ? [s.incidents.opened.firstMover] : []))).toEqual([key]);
  });

  it('a lag mostly 0 with batches in flight now and then (a low rate) raises nothing: its scale is at least a share of its SLO', () => {
    const cfg = loadConfig({ TXMON_OPS_SCRAPE_MS: '15000' });
    // Three scrapes in a row that catch a few hundred records in flight, every 40 scrapes.
    const lagAt = (i: number) => (i % 40 >= 37 ? 60 * (1 + (i % 6)) : 0);
    const flagged = (params: ReturnType<typeof watchParams>) => {
      const engine = new OpsWatchEngine(params);
      let n = 0;
      for (let i = 0; i < 400; i++)
        n += engine.observe(i * 15_000, [
          { target: BROKER_TARGET, text: lagExposition([{ group: 'g', topic: 't', lag: lagAt(i) }]) },
        ]).flagged.length;
      return n;
    };
    expect(flagged(watchParams(cfg))).toBe(0);
    // Without the SLO's floor (median and MAD 0) each such run would be an alarm.
    expect(flagged({ ...watchParams(cfg), slos: [] })).toBeGreaterThan(0);
  });

  it('is off with TXMON_OPS_BROKER_LAG=false, on by default; a target named kafka is refused while it is on', () => {
    expect(loadConfig({}).ops.brokerLag).toBe(true);
    expect(loadConfig({ TXMON_OPS_BROKER_LAG: 'false' }).ops.brokerLag).toBe(false);
    expect(() => loadConfig({ TXMON_OPS_BROKER_LAG: 'maybe' })).toThrow(/TXMON_OPS_BROKER_LAG/);
    // A target of the broker's name would share its series: refused at ops-watch's start, naming the setting.
    const named = { TXMON_OPS_TARGETS: 'ingest=http://a:1/metrics,kafka=http://b:2/metrics' };
    expect(() => requireOpsTargetNames(loadConfig(named).ops)).toThrow(
      /^invalid configuration: TXMON_OPS_TARGETS: names a target kafka/,
    );
    expect(() => requireOpsTargetNames(loadConfig({ ...named, TXMON_OPS_BROKER_LAG: 'false' }).ops)).not.toThrow();
    expect(() => requireOpsTargetNames(loadConfig({}).ops)).not.toThrow();
  });
});
