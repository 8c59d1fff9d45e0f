/**
 * How ops-watch does on a recorded trace (ops/trace.ts): the trace's rounds replayed through the
 * engine (ops/watch.ts) with given parameters, and what it raised held against the faults the
 * recording injected. Issue 21's measures, each defined here once:
 *
 * - **Effect** of a fault: the first round from its start at which a series of the fault's effect
 *   metric is past every value that series had in the clean stretch before the fault (above its
 *   maximum for an `up` effect, below its minimum for `down`; a series with no value before counts
 *   from 0). The fault's window is its start to its end plus `settleMs` (the recovery after it).
 * - **Detection delay**: from the effect to the first round in the window at which any series is
 *   flagged, in scrape intervals (negative: another series moved before the effect metric did). A
 *   fault over (its recovery included) before the detectors could score is reported, not measured.
 * - **False alarm**: an incident opened outside every fault's window, after the warm-up (the rounds
 *   the detectors need before they score). Per day of the clean time (rounds after the warm-up
 *   outside every window).
 * - **Breach prediction lead**: for each series an SLO names, each time it reaches its limit (from
 *   below, after the warm-up), how long before that a prediction of the breach had been made and not withdrawn since.
 *   A prediction withdrawn (its series' forecast no longer breaching) before any breach is a
 *   **withdrawn prediction**.
 * Pure.
 */
import type { Trace, TraceFault } from './trace.ts';
import { OpsWatchEngine, type RoundPoint, type WatchParams } from './watch.ts';

export interface FaultResult {
  readonly name: string;
  readonly start: number;
  readonly end: number;
  /** Epoch ms of the effect (null: the effect metric never left its range in the window). */
  readonly effectAt: number | null;
  /** Epoch ms of the first flag in the window (null: not detected). */
  readonly detectedAt: number | null;
  /** (detectedAt − effectAt) in scrape intervals; null when either is. */
  readonly delayScrapes: number | null;
  /** The first mover of the incident open at the detection. */
  readonly firstMover: string | null;
  /** Every series flagged in the window, in the order first flagged. */
  readonly flagged: readonly string[];
  /**
   * The fault and its recovery were over before the detectors could score (the warm-up: `minPoints`
   * scrapes, 5 min at 15-s scrapes): nothing could flag it, and it is not held to the detection
   * target. A fault still under way when they begin is measured as any other.
   */
  readonly beforeScoring: boolean;
}

export interface FalseAlarm {
  readonly at: number;
  readonly firstMover: string;
  readonly series: readonly string[];
}

export interface BreachResult {
  readonly series: string;
  readonly limit: number;
  readonly breachAt: number;
  /** When the standing prediction of this breach was made (null: none stood). */
  readonly predictedAt: number | null;
  readonly leadMs: number | null;
}

export interface Evaluation {
  readonly scrapeMs: number;
  readonly rounds: number;
  /** Epoch ms the detectors could first score (the warm-up's end). */
  readonly scoringFrom: number;
  readonly faults: readonly FaultResult[];
  readonly falseAlarms: readonly FalseAlarm[];
  readonly cleanMs: number;
  /** falseAlarms per 86,400,000 ms of clean time (null with no clean time). */
  readonly falseAlarmsPerDay: number | null;
  readonly breaches: readonly BreachResult[];
  readonly predictions: number;
  readonly withdrawnPredictions: number;
}

export interface EvaluateOptions {
  /** After a fault's end, how long its recovery still counts as the fault's. */
  readonly settleMs: number;
}

const inWindow = (f: TraceFault, settleMs: number, t: number) => t >= f.start && t <= f.end + settleMs;

/** Replays `trace` through an engine with `params` and measures it against the trace's faults. */
export function evaluateTrace(trace: Trace, params: WatchParams, opts: EvaluateOptions): Evaluation {
  if (!(opts.settleMs >= 0)) throw new RangeError(`settleMs must be non-negative, got ${opts.settleMs}`);
  const scrapeMs = trace.header.scrapeMs;
  const engine = new OpsWatchEngine({ ...params, scrapeMs });
  const faults = trace.faults;
  const firstAnswered = trace.rounds.find((r) => r.points.some((p) => p.name === 'up' && p.value === 1))?.time ?? Infinity;
  // A rate has its first value a scrape after its target's first answer; a detector scores from its minPoints-th point.
  const scoringFrom = firstAnswered + (params.detector.minPoints + 1) * scrapeMs;

  const perFault = faults.map(() => ({
    effectAt: null as number | null,
    detectedAt: null as number | null,
    firstMover: null as string | null,
    flagged: [] as string[],
  }));
  // Each fault's effect range: per series of the effect metric, min and max over the clean stretch before it.
  const ranges = faults.map((f, i) => {
    // The clean stretch: after the previous fault's recovery (or its end, when the gap is shorter), within the window.
    const prev = i > 0 ? (faults[i - 1] as TraceFault).end : -Infinity;
    const from = Math.max(prev + opts.settleMs < f.start ? prev + opts.settleMs : prev, f.start - params.detector.windowMs);
    const range = new Map<string, [number, number]>();
    for (const r of trace.rounds) {
      if (r.time < from || r.time >= f.start) continue;
      for (const p of r.points) {
        if (p.name !== f.effect) continue;
        const [lo, hi] = range.get(p.key) ?? [Infinity, -Infinity];
        range.set(p.key, [Math.min(lo, p.value), Math.max(hi, p.value)]);
      }
    }
    return range;
  });
  const beyond = (i: number, p: RoundPoint): boolean => {
    const f = faults[i] as TraceFault;
    if (p.name !== f.effect) return false;
    const [lo, hi] = ranges[i]?.get(p.key) ?? [0, 0];
    return f.direction === 'up' ? p.value > hi : p.value < lo;
  };

  const falseAlarms: Array<{ at: number; firstMover: string; series: Set<string>; open: boolean }> = [];
  let cleanRounds = 0;
  const standing = new Map<string, number>();
  const last = new Map<string, number>();
  const breaches: BreachResult[] = [];
  let predictions = 0;
  let withdrawn = 0;
  for (const round of trace.rounds) {
    const step = engine.observePoints(round.time, round.points);
    const windowOf = faults.findIndex((f) => inWindow(f, opts.settleMs, round.time));
    if (windowOf < 0 && round.time >= scoringFrom) cleanRounds++;
    faults.forEach((f, i) => {
      if (!inWindow(f, opts.settleMs, round.time)) return;
      const r = perFault[i] as (typeof perFault)[number];
      if (r.effectAt === null && round.points.some((p) => beyond(i, p))) r.effectAt = round.time;
      for (const fl of step.flagged) if (!r.flagged.includes(fl.key)) r.flagged.push(fl.key);
      if (r.detectedAt === null && step.flagged.length > 0) {
        r.detectedAt = round.time;
        r.firstMover = engine.openIncident?.firstMover ?? null;
      }
    });
    const alarm = falseAlarms.at(-1);
    if (alarm?.open) {
      if (step.incidents.closed !== null || windowOf >= 0) alarm.open = false;
      else for (const fl of step.flagged) alarm.series.add(fl.key);
      if (alarm.open && engine.openIncident) alarm.firstMover = engine.openIncident.firstMover;
    }
    const opened = step.incidents.opened;
    if (opened !== null && windowOf < 0 && round.time >= scoringFrom)
      falseAlarms.push({ at: round.time, firstMover: opened.firstMover, series: new Set(opened.series.keys()), open: true });

    for (const p of step.predictions) {
      predictions++;
      standing.set(p.series, round.time);
    }
    for (const p of round.points) {
      const slo = params.slos.find((s) => s.metric === p.name && s.as === p.as);
      if (slo === undefined) continue;
      const before = last.get(p.key);
      last.set(p.key, p.value);
      // A breach from below, once the detectors score (not the backlog of the pipeline's own start).
      if (p.value < slo.limit || (before !== undefined && before >= slo.limit) || round.time < scoringFrom) continue;
      // A prediction made at the breach's own round (the value already past the limit) is no lead.
      const standingSince = standing.get(p.key);
      const predictedAt = standingSince !== undefined && standingSince < round.time ? standingSince : null;
      // The breach the prediction was for has come: a later one needs a new prediction.
      standing.delete(p.key);
      breaches.push({
        series: p.key,
        limit: slo.limit,
        breachAt: round.time,
        predictedAt,
        leadMs: predictedAt === null ? null : round.time - predictedAt,
      });
    }
    // Withdrawn after the breach check: the forecaster clears a series at the round it breaches.
    for (const key of step.cleared) {
      if (standing.delete(key)) withdrawn++;
    }
  }
  return {
    scrapeMs,
    rounds: trace.rounds.length,
    scoringFrom,
    faults: faults.map((f, i) => {
      const r = perFault[i] as (typeof perFault)[number];
      return {
        name: f.name,
        start: f.start,
        end: f.end,
        ...r,
        beforeScoring: f.end + opts.settleMs < scoringFrom,
        delayScrapes: r.effectAt === null || r.detectedAt === null ? null : Math.round((r.detectedAt - r.effectAt) / scrapeMs),
      };
    }),
    falseAlarms: falseAlarms.map(({ at, firstMover, series }) => ({ at, firstMover, series: [...series] })),
    cleanMs: cleanRounds * scrapeMs,
    falseAlarmsPerDay: cleanRounds === 0 ? null : (falseAlarms.length * 86_400_000) / (cleanRounds * scrapeMs),
    breaches,
    predictions,
    withdrawnPredictions: withdrawn,
  };
}
