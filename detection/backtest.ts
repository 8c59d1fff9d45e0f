/**
 * A backtest: stored transactions decided again by a candidate (a rule set, a model or none, the
 * decision policy), compared with the decisions that were made. Pure: rows in, a report out; the
 * rows are read from MySQL by models/backtest.ts.
 *
 * The candidate decides through decideTransaction, the ingest's own function, so a candidate equal
 * to what was live reproduces every stored decision and risk score exactly; a row decided by
 * another model or rule-set version is compared all the same (its transition is what switching to
 * the candidate changes), and the report counts the versions the stored decisions were made by.
 */
import type { FeatureSource } from '../domain/snapshot.ts';
import type { DecisionKind, DecisionPolicy } from './decide.ts';
import { decideTransaction, type DecisionRecord, type Models } from './decision-record.ts';
import { atThreshold, averagePrecision } from './metrics.ts';
import type { RuleAction, RuleSet, RuleTxField, Severity } from './rules.ts';
import type { ModelScorer } from './score.ts';
import { DEFAULT_FAIRNESS, SegmentTally, flaggedLines, type FairnessPolicy, type SegmentRow } from './segments.ts';

export const DECISIONS: readonly DecisionKind[] = Object.freeze(['ALLOW', 'REVIEW', 'BLOCK']);
const DECISION_INDEX: Readonly<Record<DecisionKind, number>> = { ALLOW: 0, REVIEW: 1, BLOCK: 2 };
const DAY_MS = 86_400_000;

/** Transaction fields rules may read that MySQL does not store: a backtest reads them as missing. */
export const UNSTORED_TX_FIELDS: readonly RuleTxField[] = Object.freeze(['card_bin']);

export interface Candidate {
  readonly rules: RuleSet;
  /** The model that scores (its threshold as the candidate sets it), or null: rules alone. */
  readonly model: ModelScorer | null;
  readonly policy: DecisionPolicy;
}

/** The decision a transaction got when it was ingested. */
export interface StoredDecision {
  readonly decision: DecisionKind;
  readonly riskScore: number;
  readonly modelVersion: string | null;
  readonly rulesetVersion: string;
}

/** What the sink stores of a decision record, as a backtest reads it back. */
export function storedDecisionOf(rec: DecisionRecord): StoredDecision {
  return { decision: rec.decision, riskScore: rec.riskScore, modelVersion: rec.modelVersion, rulesetVersion: rec.rulesetVersion };
}

export interface BacktestRow {
  readonly transactionId: string;
  readonly accountId: string;
  readonly eventTime: number;
  readonly amountMinor: number;
  readonly currency: string;
  readonly snapshot: FeatureSource;
  readonly tx: Readonly<Record<RuleTxField, unknown>>;
  readonly stored: StoredDecision;
  /** true: fraud, false: legitimate, null: no label. */
  readonly label: boolean | null;
}

/** A transaction whose decision the candidate changes. */
export interface ChangedDecision {
  readonly transactionId: string;
  readonly accountId: string;
  readonly eventTime: number;
  readonly from: DecisionKind;
  readonly to: DecisionKind;
  readonly riskBefore: number;
  readonly riskAfter: number;
  /** The rules that hit under the candidate (snoozed ones marked `~`). */
  readonly rules: readonly string[];
}

export interface RuleTally {
  ruleId: string;
  action: RuleAction;
  severity: Severity;
  /** Transactions the rule held for (snoozed included). */
  hits: number;
  /** Of those, how many it held for while snoozed (recorded, not deciding). */
  snoozed: number;
  /** Of those, how many the candidate alerted on (REVIEW or BLOCK). */
  onAlerts: number;
  /** Of those, how many were stored as alerts. */
  onStoredAlerts: number;
}

export interface DetectionQuality {
  precision: number;
  recall: number;
  /** Average precision of the risk score against the labels. */
  prAuc: number;
  alerts: number;
}

export interface BacktestReport {
  candidate: { rulesetVersion: string; modelVersion: string | null; threshold: number | null; blockScore: number | null };
  /** The versions the compared decisions were made by, with their counts. */
  baseline: { rulesetVersions: Record<string, number>; modelVersions: Record<string, number> };
  transactions: number;
  /** Decision changed (a transition off the diagonal). */
  changed: number;
  /** Same decision, another risk score. */
  riskChanged: number;
  /** transitions[stored][candidate] = count. */
  transitions: Record<DecisionKind, Record<DecisionKind, number>>;
  /** REVIEW and BLOCK per UTC day of event time, stored and candidate. */
  alertsPerDay: Array<{ day: string; before: number; after: number }>;
  rules: RuleTally[];
  /** Rules that failed to evaluate (counted, read as not holding, as the ingest does). */
  ruleErrors: number;
  /** Fields the candidate's rules read that MySQL does not store (read as missing: results may differ from live). */
  unstoredFields: string[];
  /** On labelled transactions: the stored decisions and the candidate's. */
  labelled: { rows: number; positives: number; before: DetectionQuality; after: DetectionQuality } | null;
  /** Alert rate and precision per segment (channel, merchant country, account age band), before and after. */
  segments: SegmentRow[];
  /** What flags a segment (detection/segments.ts). */
  fairness: FairnessPolicy;
}

/** A transition table of zeros. */
export const emptyTransitions = (): Record<DecisionKind, Record<DecisionKind, number>> => ({
  ALLOW: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
  REVIEW: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
  BLOCK: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
});

const bump = (m: Map<string, number>, k: string) => m.set(k, (m.get(k) ?? 0) + 1);

/** Accumulates a backtest row by row; `onChanged` hears each changed transaction as it is found. */
export class Backtest {
  private readonly models: Models;
  private readonly transitions = new Float64Array(9);
  private readonly days = new Map<number, { before: number; after: number }>();
  private readonly tallies = new Map<string, RuleTally>();
  private readonly rulesetVersions = new Map<string, number>();
  private readonly modelVersions = new Map<string, number>();
  private readonly errors = { count: 0 };
  private readonly labels: boolean[] = [];
  private readonly scoresBefore: number[] = [];
  private readonly scoresAfter: number[] = [];
  private readonly flagsBefore: number[] = [];
  private readonly flagsAfter: number[] = [];
  private readonly segments = new SegmentTally();
  private rows = 0;
  private changed = 0;
  private riskChanged = 0;

  constructor(
    private readonly candidate: Candidate,
    private readonly onChanged: (c: ChangedDecision) => void = () => {},
    private readonly fairness: FairnessPolicy = DEFAULT_FAIRNESS,
  ) {
    this.models = { active: candidate.model, shadow: null };
    for (const r of candidate.rules.rules)
      this.tallies.set(r.id, {
        ruleId: r.id,
        action: r.action,
        severity: r.severity,
        hits: 0,
        snoozed: 0,
        onAlerts: 0,
        onStoredAlerts: 0,
      });
  }

  /** Decides one stored transaction with the candidate and compares. */
  add(row: BacktestRow): void {
    const { candidate } = this;
    const rec = decideTransaction(
      {
        transactionId: row.transactionId,
        accountId: row.accountId,
        eventTime: row.eventTime,
        amountMinor: row.amountMinor,
        currency: row.currency,
        snapshot: row.snapshot,
        tx: row.tx,
      },
      candidate.rules,
      this.models,
      candidate.policy,
      0,
      this.errors,
    );
    const before = row.stored.decision;
    const after = rec.decision;
    this.rows++;
    const cell = DECISION_INDEX[before] * 3 + DECISION_INDEX[after];
    this.transitions[cell] = (this.transitions[cell] as number) + 1;
    const storedAlert = before !== 'ALLOW';
    const alert = after !== 'ALLOW';
    if (before !== after) {
      this.changed++;
      this.onChanged({
        transactionId: row.transactionId,
        accountId: row.accountId,
        eventTime: row.eventTime,
        from: before,
        to: after,
        riskBefore: row.stored.riskScore,
        riskAfter: rec.riskScore,
        rules: rec.ruleHits.map((h) => (h.snoozed ? `~${h.ruleId}` : h.ruleId)),
      });
    } else if (rec.riskScore !== row.stored.riskScore) this.riskChanged++;
    if (storedAlert || alert) {
      const day = Math.floor(row.eventTime / DAY_MS);
      let d = this.days.get(day);
      if (d === undefined) this.days.set(day, (d = { before: 0, after: 0 }));
      if (storedAlert) d.before++;
      if (alert) d.after++;
    }
    for (const h of rec.ruleHits) {
      const t = this.tallies.get(h.ruleId);
      if (t === undefined) continue;
      t.hits++;
      if (h.snoozed) t.snoozed++;
      if (alert) t.onAlerts++;
      if (storedAlert) t.onStoredAlerts++;
    }
    this.segments.add(row.tx, row.snapshot, storedAlert, alert, row.label);
    bump(this.rulesetVersions, row.stored.rulesetVersion);
    bump(this.modelVersions, row.stored.modelVersion ?? '(none)');
    if (row.label !== null) {
      this.labels.push(row.label);
      this.scoresBefore.push(row.stored.riskScore);
      this.scoresAfter.push(rec.riskScore);
      this.flagsBefore.push(storedAlert ? 1 : 0);
      this.flagsAfter.push(alert ? 1 : 0);
    }
  }

  /** Transactions compared so far. */
  get count(): number {
    return this.rows;
  }

  report(): BacktestReport {
    const { candidate } = this;
    const transitions = emptyTransitions();
    for (const [i, from] of DECISIONS.entries())
      for (const [j, to] of DECISIONS.entries()) transitions[from][to] = this.transitions[i * 3 + j] as number;
    const positives = this.labels.filter(Boolean).length;
    const quality = (scores: number[], flags: number[]): DetectionQuality => {
      const at = atThreshold(flags, this.labels, 1);
      return { precision: at.precision, recall: at.recall, prAuc: averagePrecision(scores, this.labels), alerts: at.flagged };
    };
    const readsTx = candidate.rules.readsTx ?? [];
    return {
      candidate: {
        rulesetVersion: candidate.rules.version,
        modelVersion: candidate.model?.model.version ?? null,
        threshold: candidate.model?.model.threshold ?? null,
        blockScore: candidate.policy.blockScore,
      },
      baseline: {
        rulesetVersions: Object.fromEntries(this.rulesetVersions),
        modelVersions: Object.fromEntries(this.modelVersions),
      },
      transactions: this.rows,
      changed: this.changed,
      riskChanged: this.riskChanged,
      transitions,
      alertsPerDay: [...this.days.entries()]
        .sort((a, b) => a[0] - b[0])
        .map(([day, d]) => ({ day: new Date(day * DAY_MS).toISOString().slice(0, 10), before: d.before, after: d.after })),
      rules: [...this.tallies.values()].map((t) => ({ ...t })),
      ruleErrors: this.errors.count,
      unstoredFields: UNSTORED_TX_FIELDS.filter((f) => readsTx.includes(f)),
      labelled:
        this.labels.length === 0
          ? null
          : {
              rows: this.labels.length,
              positives,
              before: quality(this.scoresBefore, this.flagsBefore),
              after: quality(this.scoresAfter, this.flagsAfter),
            },
      segments: this.segments.rows(this.fairness),
      fairness: this.fairness,
    };
  }
}

const pct = (x: number) => (Number.isNaN(x) ? '   n/a' : `${(100 * x).toFixed(2)}%`);
const n = (x: number) => x.toLocaleString('en');

/** The report as text: the transition table, alerts per day, hits per rule, quality on labels. */
export function formatBacktest(r: BacktestReport): string {
  const c = r.candidate;
  const lines = [
    `backtest: ${n(r.transactions)} stored decisions against rules ${c.rulesetVersion}, model ${c.modelVersion ?? 'none (rules alone)'}${c.threshold === null ? '' : ` (threshold ${c.threshold})`}, block score ${c.blockScore ?? 'none'}`,
    `  decided before by rules ${Object.entries(r.baseline.rulesetVersions)
      .map(([v, k]) => `${v} (${n(k)})`)
      .join(', ')}; models ${Object.entries(r.baseline.modelVersions)
      .map(([v, k]) => `${v} (${n(k)})`)
      .join(', ')}`,
    '',
    ...transitionLines(r.transitions, 'stored', 'candidate'),
    `  changed: ${n(r.changed)} of ${n(r.transactions)} (${pct(r.transactions === 0 ? 0 : r.changed / r.transactions)}); same decision with another risk score: ${n(r.riskChanged)}`,
  ];
  if (r.unstoredFields.length > 0)
    lines.push(
      `  NOTE: the candidate's rules read ${r.unstoredFields.join(', ')}, which MySQL does not store: read as missing here, so those rules may hit less than live`,
    );
  if (r.ruleErrors > 0) lines.push(`  NOTE: ${n(r.ruleErrors)} rule evaluations failed (read as not holding, as live)`);
  lines.push('', ...alertsPerDayLines(r.alertsPerDay, 'stored', 'candidate'));
  lines.push('', '  rule (candidate)                 action  severity        hits  snoozed  on alerts  on stored alerts');
  for (const t of r.rules)
    lines.push(
      `  ${t.ruleId.padEnd(32)} ${t.action.padEnd(7)} ${t.severity.padEnd(8)} ${n(t.hits).padStart(10)} ${n(t.snoozed).padStart(8)} ${n(t.onAlerts).padStart(10)} ${n(t.onStoredAlerts).padStart(17)}`,
    );
  if (r.labelled === null) lines.push('', '  no labelled transactions in the range: no precision or recall (txmon labels load)');
  else {
    const l = r.labelled;
    lines.push(
      '',
      `  on ${n(l.rows)} labelled transactions (${n(l.positives)} fraud)   precision   recall   PR AUC     alerts`,
      ...(
        [
          ['stored', l.before],
          ['candidate', l.after],
        ] as const
      ).map(
        ([name, q]) =>
          `  ${name.padEnd(44)} ${pct(q.precision).padStart(9)} ${pct(q.recall).padStart(8)} ${(Number.isNaN(q.prAuc) ? 'n/a' : q.prAuc.toFixed(4)).padStart(8)} ${n(q.alerts).padStart(10)}`,
      ),
    );
  }
  lines.push('', ...segmentLines(r));
  return `${lines.join('\n')}\n`;
}

/** Alert rate (and precision, where labelled) per segment, the flagged ones marked and listed. */
export function segmentLines(r: Pick<BacktestReport, 'segments' | 'fairness'>): string[] {
  const p = (x: number) => (Number.isNaN(x) ? '   n/a' : `${(100 * x).toFixed(1)}%`);
  const lines = ['  segment                          transactions  alert rate stored → candidate   precision stored → candidate'];
  for (const s of r.segments)
    lines.push(
      `${s.flagged ? '! ' : '  '}${`${s.dimension}=${s.value}`.padEnd(32)} ${n(s.transactions).padStart(12)}  ${p(s.rateBefore).padStart(10)} → ${p(s.rateAfter).padEnd(16)} ${p(s.precisionBefore).padStart(9)} → ${p(s.precisionAfter)}`,
    );
  const flagged = flaggedLines(r.segments, r.fairness);
  lines.push(
    flagged.length === 0
      ? `  no segment's alert rate moves by more than ${r.fairness.factor}× (segments with ${r.fairness.minAlerts}+ alerts either way)`
      : `  FAIRNESS: ${flagged.length} segment(s) move by more than ${r.fairness.factor}×: ${flagged.join('; ')}`,
  );
  return lines;
}

/** The transition table: `before` decisions down, `after` decisions across. */
export function transitionLines(t: BacktestReport['transitions'], before: string, after: string): string[] {
  return [
    `  ${`${before} ↓ ${after} →`.padEnd(20)} ${DECISIONS.map((d) => d.padStart(10)).join(' ')}`,
    ...DECISIONS.map((from) => `  ${from.padEnd(20)} ${DECISIONS.map((to) => n(t[from][to]).padStart(10)).join(' ')}`),
  ];
}

/** REVIEW + BLOCK per day, `before` and `after`, with the change. */
export function alertsPerDayLines(days: BacktestReport['alertsPerDay'], before: string, after: string): string[] {
  const lines = [`  ${'alerts per day (UTC)'.padEnd(20)} ${before.padStart(9)} ${after.padStart(10)}     change`];
  for (const d of days)
    lines.push(
      `  ${d.day.padEnd(20)} ${n(d.before).padStart(9)} ${n(d.after).padStart(10)} ${(d.before === 0 ? 'new' : `${d.after >= d.before ? '+' : ''}${((100 * (d.after - d.before)) / d.before).toFixed(1)}%`).padStart(10)}`,
    );
  if (days.length === 0) lines.push('  (no alert either way)');
  return lines;
}
