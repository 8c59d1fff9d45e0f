/** The ground truth of a simulated stream: what every record is, and the totals a pipeline run must reproduce. */
import { DUPLICATE_WINDOW } from './generate.ts';
import { FRAUD_LABELS, type FraudLabel, type SimEvent, type Timing } from './types.ts';

export interface GroundTruthSummary {
  /** Every record produced to the topic. */
  records: number;
  /** Decodable, valid transactions, each counted once. */
  valid_unique: number;
  /** Exact re-sends of a valid transaction (only valid ones are re-sent). */
  duplicates: number;
  /** Decodable but semantically invalid transactions. */
  invalid: number;
  /** Undecodable records. */
  bad_bytes: number;
  /** Records framed with a schema id the registry does not know. */
  unknown_schema: number;
  /** Valid transactions 1-3 hours behind the stream. */
  late: number;
  /** Valid transactions a few seconds behind the stream. */
  out_of_order: number;
  /** Valid transactions per fraud pattern. */
  fraud: Record<FraudLabel, number>;
}

/** One JSONL line per record, in production order. */
export interface GroundTruthLine {
  seq: number;
  kind: SimEvent['kind'];
  transaction_id?: string;
  label?: FraudLabel;
  reason?: string;
  duplicate_of?: number;
  timing?: Timing;
}

/** An empty summary. */
export function emptySummary(): GroundTruthSummary {
  const fraud = Object.fromEntries(FRAUD_LABELS.map((l) => [l, 0])) as Record<FraudLabel, number>;
  return {
    records: 0,
    valid_unique: 0,
    duplicates: 0,
    invalid: 0,
    bad_bytes: 0,
    unknown_schema: 0,
    late: 0,
    out_of_order: 0,
    fraud,
  };
}

/**
 * Fed the events in production order, tracks totals and describes each record. Duplicates name the
 * transaction they repeat, so it remembers the ids of the last DUPLICATE_WINDOW records.
 */
export class GroundTruth {
  private readonly totals = emptySummary();
  private readonly validIds = new Map<number, string>();

  /** Accounts for the next record and returns its line. */
  add(event: SimEvent): GroundTruthLine {
    const seq = this.totals.records++;
    switch (event.kind) {
      case 'valid': {
        this.totals.valid_unique++;
        this.validIds.set(seq, event.tx.transaction_id);
        for (const old of this.validIds.keys()) {
          if (old >= seq - DUPLICATE_WINDOW) break;
          this.validIds.delete(old);
        }
        const line: GroundTruthLine = { seq, kind: event.kind, transaction_id: event.tx.transaction_id };
        if (event.label !== null) {
          this.totals.fraud[event.label]++;
          line.label = event.label;
        }
        if (event.timing === 'late') this.totals.late++;
        if (event.timing === 'out_of_order') this.totals.out_of_order++;
        if (event.timing !== undefined) line.timing = event.timing;
        return line;
      }
      case 'duplicate': {
        const id = this.validIds.get(event.of);
        if (id === undefined) throw new RangeError(`record ${seq} duplicates ${event.of}, which is not an earlier valid record`);
        this.totals.duplicates++;
        return { seq, kind: event.kind, transaction_id: id, duplicate_of: event.of };
      }
      case 'invalid':
        this.totals.invalid++;
        return { seq, kind: event.kind, transaction_id: event.tx.transaction_id, reason: event.reason };
      case 'bad-bytes':
        this.totals.bad_bytes++;
        return { seq, kind: event.kind, reason: event.reason };
      case 'unknown-schema':
        this.totals.unknown_schema++;
        return { seq, kind: event.kind, transaction_id: event.payloadOf.transaction_id, reason: 'unknown_schema_id' };
    }
  }

  /** A copy of the totals so far. */
  summary(): GroundTruthSummary {
    return { ...this.totals, fraud: { ...this.totals.fraud } };
  }
}
