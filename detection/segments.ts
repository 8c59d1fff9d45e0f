/**
 * Alert rate and precision per segment, before and after a change to detection (issue 19's
 * fairness check): by channel, merchant country and account age band. A segment whose alert rate
 * moves by more than a factor (either way) is flagged, once it is large enough to say so. Pure.
 */
import type { FeatureSource } from '../domain/snapshot.ts';
import type { RuleTxField } from './rules.ts';

export const SEGMENT_DIMENSIONS = ['channel', 'merchant_country', 'account_age_band'] as const;
export type SegmentDimension = (typeof SEGMENT_DIMENSIONS)[number];

/** The account age bands, by days since the account opened (the snapshot's account_age_days). */
export function ageBand(days: unknown): string {
  if (typeof days !== 'number' || !Number.isFinite(days)) return 'unknown';
  if (days < 30) return '<30d';
  if (days < 180) return '30-180d';
  if (days < 730) return '180d-2y';
  return '>=2y';
}

/** A transaction's segment in each dimension. */
export interface SegmentKeys {
  channel: string;
  merchantCountry: string;
  ageBand: string;
}

/** The segments of a transaction: its channel and merchant country, its account's age band. */
export function segmentKeysOf(tx: Readonly<Record<RuleTxField, unknown>>, snapshot: FeatureSource): SegmentKeys {
  return {
    channel: String(tx.channel ?? 'unknown'),
    merchantCountry: String(tx.merchant_country ?? 'unknown'),
    ageBand: ageBand(snapshot.get('account_age_days')),
  };
}

export interface SegmentRow {
  dimension: SegmentDimension;
  value: string;
  transactions: number;
  alertsBefore: number;
  alertsAfter: number;
  rateBefore: number;
  rateAfter: number;
  /** rateAfter / rateBefore (Infinity when alerts appear where there were none; NaN when neither alerts). */
  factor: number;
  /** Labelled transactions in the segment, and the fraud among its alerts before and after (NaN: no labelled alert). */
  labelled: number;
  precisionBefore: number;
  precisionAfter: number;
  /** The alert rate moved by more than the factor either way, in a segment large enough to tell. */
  flagged: boolean;
}

/** What a segment must hold before a move of its alert rate counts: alerts on either side, and transactions. */
export interface FairnessPolicy {
  /** Flag a move of the alert rate by more than this factor, up or down (e.g. 2: doubled or halved). */
  factor: number;
  /** Only segments with at least this many alerts before or after. */
  minAlerts: number;
}

export const DEFAULT_FAIRNESS: FairnessPolicy = Object.freeze({ factor: 2, minAlerts: 20 });

interface Cell {
  transactions: number;
  alertsBefore: number;
  alertsAfter: number;
  labelled: number;
  labelledAlertsBefore: number;
  fraudAlertsBefore: number;
  labelledAlertsAfter: number;
  fraudAlertsAfter: number;
}

/** Accumulates per segment; `add` once per compared transaction. */
export class SegmentTally {
  private readonly cells = new Map<string, Cell>();

  add(
    tx: Readonly<Record<RuleTxField, unknown>>,
    snapshot: FeatureSource,
    alertBefore: boolean,
    alertAfter: boolean,
    label: boolean | null,
  ): void {
    this.addKeys(segmentKeysOf(tx, snapshot), alertBefore, alertAfter, label);
  }

  /** add() with the segments already worked out. */
  addKeys(keys: SegmentKeys, alertBefore: boolean, alertAfter: boolean, label: boolean | null): void {
    this.bump('channel', keys.channel, alertBefore, alertAfter, label);
    this.bump('merchant_country', keys.merchantCountry, alertBefore, alertAfter, label);
    this.bump('account_age_band', keys.ageBand, alertBefore, alertAfter, label);
  }

  private bump(dimension: SegmentDimension, value: string, before: boolean, after: boolean, label: boolean | null): void {
    const key = `${dimension}\u0000${value}`;
    let c = this.cells.get(key);
    if (c === undefined)
      this.cells.set(
        key,
        (c = {
          transactions: 0,
          alertsBefore: 0,
          alertsAfter: 0,
          labelled: 0,
          labelledAlertsBefore: 0,
          fraudAlertsBefore: 0,
          labelledAlertsAfter: 0,
          fraudAlertsAfter: 0,
        }),
      );
    c.transactions++;
    if (before) c.alertsBefore++;
    if (after) c.alertsAfter++;
    if (label === null) return;
    c.labelled++;
    if (before) {
      c.labelledAlertsBefore++;
      if (label) c.fraudAlertsBefore++;
    }
    if (after) {
      c.labelledAlertsAfter++;
      if (label) c.fraudAlertsAfter++;
    }
  }

  /** Every segment, by dimension then value; flagged by `policy`. */
  rows(policy: FairnessPolicy = DEFAULT_FAIRNESS): SegmentRow[] {
    const out: SegmentRow[] = [];
    for (const [key, c] of this.cells) {
      const [dimension, value] = key.split('\u0000') as [SegmentDimension, string];
      const rateBefore = c.alertsBefore / c.transactions;
      const rateAfter = c.alertsAfter / c.transactions;
      const factor = c.alertsBefore === 0 ? (c.alertsAfter === 0 ? NaN : Infinity) : rateAfter / rateBefore;
      const large = Math.max(c.alertsBefore, c.alertsAfter) >= policy.minAlerts;
      out.push({
        dimension,
        value,
        transactions: c.transactions,
        alertsBefore: c.alertsBefore,
        alertsAfter: c.alertsAfter,
        rateBefore,
        rateAfter,
        factor,
        labelled: c.labelled,
        precisionBefore: c.labelledAlertsBefore === 0 ? NaN : c.fraudAlertsBefore / c.labelledAlertsBefore,
        precisionAfter: c.labelledAlertsAfter === 0 ? NaN : c.fraudAlertsAfter / c.labelledAlertsAfter,
        flagged: large && !Number.isNaN(factor) && (factor > policy.factor || factor < 1 / policy.factor),
      });
    }
    const dim = (d: SegmentDimension) => SEGMENT_DIMENSIONS.indexOf(d);
    return out.sort((a, b) => dim(a.dimension) - dim(b.dimension) || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  }
}

/** The flagged segments as lines for a person ("channel=ECOMMERCE: alert rate 1.20% → 3.10% (2.58×)"). */
export function flaggedLines(rows: readonly SegmentRow[], policy: FairnessPolicy): string[] {
  return rows
    .filter((r) => r.flagged)
    .map(
      (r) =>
        `${r.dimension}=${r.value}: alert rate ${(100 * r.rateBefore).toFixed(2)}% → ${(100 * r.rateAfter).toFixed(2)}% (${Number.isFinite(r.factor) ? `${r.factor.toFixed(2)}×` : 'from none'}; more than ${policy.factor}× either way) over ${r.transactions.toLocaleString('en')} transactions`,
    );
}
