// What the sink reports of a batch, computed before its write (the ingest sends its alerts meanwhile).
import { describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../detection/decision-record.ts';
import type { Transaction } from '../domain/transaction.ts';
import type { StoredTransaction } from './lookup-stored.ts';
import { sinkDecisions, type PositionedTransaction } from './transactions.sink.ts';

const at = (id: string, offset: number): PositionedTransaction => ({
  tx: { transaction_id: id } as Transaction,
  position: { topic: 't', partition: 0, offset: String(offset) },
});

const decided = (id: string, decision: DecisionRecord['decision'], alertId: string | null): DecisionRecord =>
  ({ transactionId: id, decision, riskScore: 0.1, alertId, decidedAt: 1 }) as DecisionRecord;

const storedAt = (id: string, offset: number, d: Partial<DecisionRecord> | null): StoredTransaction =>
  ({
    transactionId: id,
    position: { topic: 't', partition: 0, offset: String(offset) },
    late: false,
    features: null,
    decision: d,
  }) as StoredTransaction;

describe('sinkDecisions', () => {
  it('passes the batch’s decisions through when MySQL held none of them', () => {
    const decisions = [decided('a', 'ALLOW', null), decided('b', 'REVIEW', 'al-b')];
    const out = sinkDecisions([at('a', 1), at('b', 2)], decisions, new Map());
    expect(out.lateDuplicates).toEqual([]);
    expect(out.decisions).toEqual(decisions);
  });

  it('keeps the stored decision of a replay (same position) and drops a late duplicate’s (another position)', () => {
    const stored = new Map([
      ['a', storedAt('a', 1, { decision: 'BLOCK', alertId: 'al-a-first', riskScore: 0.9, decidedAt: 0 })],
      ['b', storedAt('b', 7, { decision: 'ALLOW', alertId: null, riskScore: 0, decidedAt: 0 })],
    ]);
    const out = sinkDecisions(
      [at('a', 1), at('b', 2), at('c', 3)],
      [decided('a', 'ALLOW', null), decided('b', 'REVIEW', 'al-b'), decided('c', 'REVIEW', 'al-c')],
      stored,
    );
    expect(out.lateDuplicates).toEqual([
      { transactionId: 'b', position: { topic: 't', partition: 0, offset: '2' }, firstSeen: 't/0/7', detectedBy: 'mysql' },
    ]);
    expect(out.decisions.map((d) => [d.transactionId, d.decision, d.alertId])).toEqual([
      ['a', 'BLOCK', 'al-a-first'],
      ['c', 'REVIEW', 'al-c'],
    ]);
  });
});
