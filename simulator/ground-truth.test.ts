import { describe, expect, it } from 'vitest';
import { emptySummary, GroundTruth } from './ground-truth.ts';
import { collect, options } from '../tests/helpers/simulator.ts';
import type { SimEvent, Transaction } from './types.ts';
import { sampleTransaction } from '../domain/transaction.fixture.ts';

const tx = (id: string): Transaction => sampleTransaction({ transaction_id: id, idempotency_key: `idem-${id}`, event_time: 0 });

describe('GroundTruth', () => {
  it('describes each record and counts it in one bucket', () => {
    const events: SimEvent[] = [
      { kind: 'valid', tx: tx('a'), label: null },
      { kind: 'valid', tx: tx('b'), label: 'velocity', timing: 'late' },
      { kind: 'duplicate', of: 1 },
      { kind: 'invalid', tx: tx('c'), reason: 'bad_mcc' },
      { kind: 'bad-bytes', key: null, value: Buffer.from([1, 2]), reason: 'garbage' },
      { kind: 'unknown-schema', key: 'acc-000001', payloadOf: tx('d') },
      { kind: 'valid', tx: tx('e'), label: null, timing: 'out_of_order' },
    ];
    const truth = new GroundTruth();
    const lines = events.map((e) => truth.add(e));
    expect(lines).toEqual([
      { seq: 0, kind: 'valid', transaction_id: 'a' },
      { seq: 1, kind: 'valid', transaction_id: 'b', label: 'velocity', timing: 'late' },
      { seq: 2, kind: 'duplicate', transaction_id: 'b', duplicate_of: 1 },
      { seq: 3, kind: 'invalid', transaction_id: 'c', reason: 'bad_mcc' },
      { seq: 4, kind: 'bad-bytes', reason: 'garbage' },
      { seq: 5, kind: 'unknown-schema', transaction_id: 'd', reason: 'unknown_schema_id' },
      { seq: 6, kind: 'valid', transaction_id: 'e', timing: 'out_of_order' },
    ]);
    expect(truth.summary()).toEqual({
      ...emptySummary(),
      records: 7,
      valid_unique: 3,
      duplicates: 1,
      invalid: 1,
      bad_bytes: 1,
      unknown_schema: 1,
      late: 1,
      out_of_order: 1,
      fraud: { card_testing: 0, account_takeover: 0, velocity: 1, merchant_collusion: 0 },
    });
  });

  it('rejects a duplicate of anything but an earlier valid record', () => {
    const truth = new GroundTruth();
    truth.add({ kind: 'invalid', tx: tx('a'), reason: 'bad_mcc' });
    expect(() => truth.add({ kind: 'duplicate', of: 0 })).toThrow(RangeError);
    expect(() => truth.add({ kind: 'duplicate', of: 5 })).toThrow(RangeError);
  });

  it('adds up over a generated stream', () => {
    const truth = new GroundTruth();
    for (const e of collect(options({ count: 5_000 }))) truth.add(e);
    const s = truth.summary();
    expect(s.records).toBe(s.valid_unique + s.duplicates + s.invalid + s.bad_bytes + s.unknown_schema);
    expect(s.valid_unique + s.invalid).toBe(5_000);
    const summary = truth.summary();
    summary.fraud.velocity += 100; // a copy: the accumulator is not changed through it
    expect(truth.summary().fraud.velocity).toBe(s.fraud.velocity);
  });
});
