import { describe, expect, it } from 'vitest';
import type { DecisionRecord, Models } from '../../detection/decision-record.ts';
import type { Logger } from '../../platform/logger.ts';
import { createIngestMetrics } from './ingest.metrics.ts';
import { IngestObserver, StepTrace, type BatchOutcome } from './ingest.observer.ts';

const NO_MODELS = { active: null, shadow: null } as unknown as Models;

function debugLogger(lines: Array<[Record<string, unknown>, string]>): Logger {
  return {
    isLevelEnabled: (l: string) => l === 'debug',
    debug: (o: Record<string, unknown>, m: string) => lines.push([o, m]),
  } as never;
}

function outcome(over: Partial<BatchOutcome> = {}): BatchOutcome {
  return {
    fresh: 3,
    lateFresh: 1,
    replayed: 2,
    duplicates: 1,
    deadLettered: 2,
    inserted: 3,
    duplicatesRecorded: 1,
    decisions: [
      {
        decision: 'ALLOW',
        ruleHits: [],
        modelScore: null,
        shadowScore: null,
        shadowRules: { version: '2@ab', decision: 'REVIEW' },
      },
      {
        decision: 'ALLOW',
        ruleHits: [],
        modelScore: null,
        shadowScore: null,
        shadowRules: { version: '2@ab', decision: 'REVIEW' },
      },
      {
        decision: 'BLOCK',
        ruleHits: [{ ruleId: 'r1', snoozed: false }],
        modelScore: null,
        shadowScore: null,
        shadowRules: { version: '2@ab', decision: 'BLOCK' },
      },
      // A replay's stored decision: no shadow decision, not counted.
      { decision: 'REVIEW', ruleHits: [], modelScore: null, shadowScore: null, shadowRules: null },
    ] as unknown as DecisionRecord[],
    alerts: 1,
    deadLetterClasses: ['DECODE', 'DECODE'],
    ...over,
  };
}

async function value(metrics: ReturnType<typeof createIngestMetrics>, name: string, labels: Record<string, string> = {}) {
  const m = (await metrics.registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = (m?.values as Array<{ value: number; labels: Record<string, string | number> }> | undefined)?.find((x) =>
    Object.entries(labels).every(([k, want]) => String(x.labels[k]) === want),
  );
  return v?.value ?? 0;
}

describe('StepTrace', () => {
  it('times each marked step from the end of the one before, in STEPS order, leaving out unmarked ones', async () => {
    const t = new StepTrace();
    t.mark('decode');
    await new Promise((r) => setTimeout(r, 20));
    t.mark('state');
    const d = t.durations();
    expect(Object.keys(d)).toEqual(['decode', 'state']);
    expect(d.state as number).toBeGreaterThanOrEqual(15);
    expect(d.decode as number).toBeLessThan(d.state as number);
  });
});

describe('IngestObserver', () => {
  it('counts a committed batch once: outcomes, dead letters by class, decisions, rule hits, lag, latencies', async () => {
    const metrics = createIngestMetrics();
    const obs = new IngestObserver(metrics, debugLogger([]), () => NO_MODELS);
    const elapsed = obs.batchStarted('tx', 9);
    const now = Date.now();
    obs.batchCommitted(
      {
        topic: 'tx',
        partition: 4,
        offsetLag: '17',
        timestamps: [{ timestamp: String(now - 50) }, { timestamp: String(now - 150) }],
      },
      9,
      outcome(),
      elapsed,
    );
    expect(obs.processed).toBe(9);
    expect(await value(metrics, 'txmon_ingest_records_consumed_total', { topic: 'tx' })).toBe(9);
    expect(await value(metrics, 'txmon_ingest_records_total', { outcome: 'valid' })).toBe(3);
    expect(await value(metrics, 'txmon_ingest_records_total', { outcome: 'replayed' })).toBe(2);
    expect(await value(metrics, 'txmon_ingest_dead_letters_total', { error_class: 'DECODE' })).toBe(2);
    expect(await value(metrics, 'txmon_ingest_consumer_lag_records', { partition: '4' })).toBe(17);
    expect(await value(metrics, 'txmon_detection_decisions_total', { decision: 'BLOCK' })).toBe(1);
    expect(await value(metrics, 'txmon_detection_decisions_total', { decision: 'REVIEW' })).toBe(1);
    expect(await value(metrics, 'txmon_detection_rule_hits_total', { rule_id: 'r1' })).toBe(1);
    // The shadow rule set's decisions beside the live ones, per transition.
    const shadow = (decision: string, shadow_decision: string) =>
      value(metrics, 'txmon_detection_shadow_rules_decisions_total', { version: '2@ab', decision, shadow_decision });
    expect(await shadow('ALLOW', 'REVIEW')).toBe(2);
    expect(await shadow('BLOCK', 'BLOCK')).toBe(1);
    expect(await shadow('REVIEW', 'REVIEW')).toBe(0);
    const s = obs.summary();
    expect(s.batches).toBe(1);
    expect(s.recordToCommitP50Ms).toBeGreaterThanOrEqual(50);
    expect(s.recordToCommitP99Ms).toBeGreaterThanOrEqual(150);
  });

  it('logs an attempt’s step timings and its kind of offset commit at debug level with the names the bench reads', () => {
    const lines: Array<[Record<string, unknown>, string]> = [];
    const obs = new IngestObserver(createIngestMetrics(), debugLogger(lines), () => NO_MODELS);
    const t = new StepTrace();
    for (const s of ['decode', 'refdata', 'dedup', 'state', 'detect', 'mysql', 'checkpoint', 'kafka'] as const) t.mark(s);
    obs.attemptDone(12, t, 'member');
    expect(lines).toHaveLength(1);
    const [fields, msg] = lines[0] as [Record<string, unknown>, string];
    expect(msg).toBe('batch step timings');
    expect(Object.keys(fields)).toEqual([
      'records',
      'commit',
      'decodeMs',
      'refdataMs',
      'dedupMs',
      'stateMs',
      'detectMs',
      'mysqlMs',
      'checkpointMs',
      'kafkaMs',
    ]);
    expect(fields.records).toBe(12);
    expect(fields.commit).toBe('member');
  });
});
