/**
 * What MySQL holds of a batch's transactions, in one look-up on the unique key (chunked): where each
 * was first seen, its late flag, its stored feature vector and its stored decision. MySQL's unique
 * key is the record of what was seen (DESIGN.md, invariant 3): a transaction stored from another
 * position is a duplicate, one stored from the same position a replay, which gets back the features
 * and the decision it had, so its score, decision and alert are the first ones.
 */
import type { RowDataPacket } from 'mysql2/promise';
import { UNSTORED_EXPLANATION, type DecisionRecord } from '../detection/decision-record.ts';
import type { DecisionKind } from '../detection/decide.ts';
import type { RuleHit } from '../detection/rules.ts';
import { FeatureDecoder, type Queryable, type StoredFeatures } from './feature-vector.ts';
import { SqlText } from './row-text.ts';
import type { KafkaPosition } from './kafka-position.ts';

/** The stored decision's fields (the rest of a DecisionRecord is the transaction's). */
export type StoredDecision = Pick<
  DecisionRecord,
  | 'decision'
  | 'riskScore'
  | 'modelVersion'
  | 'modelScore'
  | 'shadowModelVersion'
  | 'shadowScore'
  | 'rulesetVersion'
  | 'ruleHits'
  | 'explanation'
  | 'alertId'
  | 'decidedAt'
>;

export interface StoredTransaction {
  transactionId: string;
  /** Where it was first seen. */
  position: KafkaPosition;
  late: boolean;
  /** Null for a row stored without a snapshot. */
  features: StoredFeatures | null;
  /** Null for a row stored before decisions existed. */
  decision: StoredDecision | null;
}

/** Ids per statement: ~2 µs of MariaDB per id on the unique key (docs/storage.md). */
const CHUNK = 5_000;

const LOOKUP_SQL = `SELECT t.transaction_id, t.src_topic, t.src_partition, t.src_offset, t.late, t.feature_layout, t.feature_values,
                   t.decision, t.risk_score, t.model_version, t.model_score, t.shadow_model_version, t.shadow_score,
                   t.ruleset_version, t.alert_id, t.decided_at, a.rule_hits, a.explanation
              FROM transactions t LEFT JOIN alerts a ON a.alert_id = t.alert_id
             WHERE t.transaction_id IN `;

/**
 * The look-up's text, its ids escaped as mysql2 escapes them (sinks/row-text.ts), written into one
 * reused buffer: mysql2's format builds a string per id and joins them (~0.2 KB per transaction).
 */
const lookupText = new SqlText(64 * 1024);

/** The look-up statement for `ids` (one or more). */
export function lookupSql(ids: readonly string[]): string {
  if (ids.length === 0) throw new RangeError('a look-up needs at least one id');
  const out = lookupText.reset().raw(LOOKUP_SQL).openRow();
  for (const id of ids) out.string(id);
  return out.closeRow().text();
}

const json = <T>(v: unknown): T => (typeof v === 'string' || Buffer.isBuffer(v) ? (JSON.parse(v.toString()) as T) : (v as T));

function storedDecision(r: RowDataPacket): StoredDecision | null {
  if (r.decision === null) return null;
  const decision = r.decision as DecisionKind;
  return {
    decision,
    riskScore: Number(r.risk_score),
    modelVersion: (r.model_version as string | null) ?? null,
    modelScore: r.model_score === null ? null : Number(r.model_score),
    shadowModelVersion: (r.shadow_model_version as string | null) ?? null,
    shadowScore: r.shadow_score === null ? null : Number(r.shadow_score),
    rulesetVersion: r.ruleset_version as string,
    // An alert keeps them; an ALLOW does not (migration 013).
    ruleHits: r.rule_hits === null ? [] : json<RuleHit[]>(r.rule_hits),
    explanation: r.explanation === null ? UNSTORED_EXPLANATION(decision) : json<DecisionRecord['explanation']>(r.explanation),
    alertId: (r.alert_id as string | null) ?? null,
    decidedAt: (r.decided_at as Date).getTime(),
  };
}

/**
 * The stored transactions among `transactionIds`, by id (absent: never stored). One
 * `SELECT … WHERE transaction_id IN (…)` per 5,000 ids; run it on the batch's connection to read
 * inside its transaction.
 */
export async function lookupStored(
  db: Queryable,
  transactionIds: readonly string[],
  opts: { timeoutMs?: number; decoder?: FeatureDecoder } = {},
): Promise<Map<string, StoredTransaction>> {
  const out = new Map<string, StoredTransaction>();
  const decoder = opts.decoder ?? new FeatureDecoder(db);
  for (let i = 0; i < transactionIds.length; i += CHUNK) {
    const [rows] = await db.query<RowDataPacket[]>({
      sql: lookupSql(transactionIds.slice(i, i + CHUNK)),
      timeout: opts.timeoutMs,
    });
    const features = await decoder.decodeRows(rows);
    rows.forEach((r, j) => {
      const id = r.transaction_id as string;
      out.set(id, {
        transactionId: id,
        position: { topic: r.src_topic as string, partition: Number(r.src_partition), offset: String(r.src_offset) },
        late: Boolean(r.late),
        features: features[j] ?? null,
        decision: storedDecision(r),
      });
    });
  }
  return out;
}
