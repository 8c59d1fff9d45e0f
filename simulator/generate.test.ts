import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { validateTransaction } from '../domain/transaction.ts';
import { minorUnits } from '../domain/currencies.ts';
import { ConfigError } from '../platform/errors.ts';
import {
  batchReference,
  DUPLICATE_WINDOW,
  generateEvents,
  INVALID_REASONS,
  isBatchSettling,
  MAX_OUT_OF_ORDER_MS,
} from './generate.ts';
import { perUsd } from './geo.ts';
import { GroundTruth } from './ground-truth.ts';
import { collect, decode, encode, isLuhnValid, options, TEST_SCHEMA_ID, transactionType } from '../tests/helpers/simulator.ts';
import { FRAUD_LABELS, type SimEvent, type Transaction } from './types.ts';

const HOUR = 3_600_000;

/** Bytes of every record as the simulator would send them (duplicates as their original). */
function bytesOf(events: SimEvent[]): Buffer[] {
  return events.map((e, i) => {
    switch (e.kind) {
      case 'valid':
      case 'invalid':
        return encode(e.tx);
      case 'duplicate':
        return Buffer.from(`dup:${e.of}@${i}`);
      case 'bad-bytes':
        return e.value;
      case 'unknown-schema':
        return Buffer.concat([Buffer.from('unknown:'), encode(e.payloadOf)]);
    }
  });
}

const txOf = (e: SimEvent): Transaction | undefined => (e.kind === 'valid' || e.kind === 'invalid' ? e.tx : undefined);

describe('generateEvents', () => {
  const opts = options();
  const events = collect(opts);
  const valid = events.flatMap((e) => (e.kind === 'valid' ? [e] : []));

  it('yields the same stream for the same seed and a different one for another seed', () => {
    const first = bytesOf(collect(options({ count: 2_000 })));
    const again = bytesOf(collect(options({ count: 2_000 })));
    const other = bytesOf(collect(options({ count: 2_000, seed: 43 })));
    expect(first.length).toBeGreaterThan(2_000);
    expect(Buffer.concat(again).equals(Buffer.concat(first))).toBe(true);
    expect(Buffer.concat(other).equals(Buffer.concat(first))).toBe(false);
    // A longer run starts with the same events: the stream does not depend on count.
    expect(Buffer.concat(bytesOf(events.slice(0, 1_000))).equals(Buffer.concat(first.slice(0, 1_000)))).toBe(true);
  });

  it('yields exactly count original transactions with unique ids', () => {
    const originals = events.flatMap((e) => txOf(e) ?? []);
    expect(originals).toHaveLength(opts.count);
    const ids = new Set(
      events.map((e) => txOf(e)?.transaction_id ?? (e.kind === 'unknown-schema' ? e.payloadOf.transaction_id : null)),
    );
    ids.delete(null);
    expect(ids.size).toBe(opts.count + events.filter((e) => e.kind === 'unknown-schema').length);
  });

  it('valid transactions round-trip through Avro and are sane', () => {
    const byId = new Map<string, Transaction>();
    const problems: string[] = [];
    const check = (ok: boolean, what: string, tx: Transaction): void => {
      if (!ok) problems.push(`${tx.transaction_id}: ${what}`);
    };
    for (const { tx } of valid) {
      check(decode(encode(tx)).transaction_id === tx.transaction_id && transactionType.isValid(tx), 'Avro round trip', tx);
      check(Number.isSafeInteger(tx.amount_minor) && tx.amount_minor > 0, 'amount a positive safe integer', tx);
      check(opts.currencies.includes(tx.currency), 'currency', tx);
      // Plausible amounts in each currency's minor units: between about half a cent and 25,000 US dollars.
      const usd = tx.amount_minor / 10 ** (minorUnits(tx.currency) ?? NaN) / perUsd(tx.currency);
      check(usd >= 0.005 && usd <= 25_000, `amount ${usd} USD`, tx);
      check(/^tok_[0-9a-f]{24}$/.test(tx.card_token) && !isLuhnValid(tx.card_token), 'card token', tx);
      check(/^\d{4}$/.test(tx.card_last4 ?? ''), 'card_last4', tx);
      check(/^acc-\d{6}$/.test(tx.account_id) && /^mer-\d{6}$/.test(tx.merchant_id), 'ids', tx);
      check(/^\d{4}$/.test(tx.mcc) && /^[A-Z]{2}$/.test(tx.merchant_country), 'mcc and country', tx);
      check(tx.event_time > opts.startTime - 3 * HOUR - MAX_OUT_OF_ORDER_MS, 'event time', tx);
      check(validateTransaction(tx, { recordTimestamp: Date.now(), maxFutureSkewMs: 300_000 }).ok, 'passes txmon validation', tx);
      if (tx.parent_transaction_id !== null) {
        const parent = byId.get(tx.parent_transaction_id);
        check(parent?.type === 'AUTHORIZATION' && tx.type !== 'AUTHORIZATION', 'follow-up of an earlier authorization', tx);
        check(
          tx.account_id === parent?.account_id && tx.card_token === parent?.card_token,
          'same account and card as parent',
          tx,
        );
        check(tx.amount_minor <= (parent?.amount_minor ?? 0), 'not more than the parent', tx);
      } else {
        check(tx.type === 'AUTHORIZATION', 'only authorizations lack a parent', tx);
      }
      byId.set(tx.transaction_id, tx);
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(decode(encode(valid[0]!.tx))).toEqual(valid[0]!.tx);
    const types = new Set(valid.map((e) => e.tx.type));
    expect([...types].sort()).toEqual(['AUTHORIZATION', 'CAPTURE', 'REFUND', 'REVERSAL']);
    expect(new Set(valid.map((e) => e.tx.channel)).size).toBeGreaterThanOrEqual(5);
  });

  it('JPY amounts are whole yen of plausible size and KWD amounts are in fils', () => {
    const jpy = valid.filter((e) => e.tx.currency === 'JPY' && e.label === null && e.tx.type === 'AUTHORIZATION');
    const kwd = valid.filter((e) => e.tx.currency === 'KWD' && e.label === null && e.tx.type === 'AUTHORIZATION');
    expect(jpy.length).toBeGreaterThan(100);
    expect(kwd.length).toBeGreaterThan(100);
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    // A typical purchase of a few tens of dollars: thousands of yen, thousands of fils (a few dinars).
    expect(median(jpy.map((e) => e.tx.amount_minor))).toBeGreaterThan(1_000);
    expect(median(jpy.map((e) => e.tx.amount_minor))).toBeLessThan(50_000);
    expect(median(kwd.map((e) => e.tx.amount_minor))).toBeGreaterThan(1_000);
    expect(median(kwd.map((e) => e.tx.amount_minor))).toBeLessThan(50_000);
  });

  it('respects the rates within tolerance', () => {
    const truth = new GroundTruth();
    for (const e of events) truth.add(e);
    const s = truth.summary();
    const malformed = s.invalid + s.bad_bytes + s.unknown_schema;
    expect(s.duplicates / s.records).toBeGreaterThan(0.03 * 0.8);
    expect(s.duplicates / s.records).toBeLessThan(0.03 * 1.2);
    expect(malformed / s.records).toBeGreaterThan(0.01 * 0.7);
    expect(malformed / s.records).toBeLessThan(0.01 * 1.3);
    for (const part of [s.invalid, s.bad_bytes, s.unknown_schema]) expect(part).toBeGreaterThan(30);
    expect(s.out_of_order / s.valid_unique).toBeGreaterThan(0.02 * 0.75);
    expect(s.out_of_order / s.valid_unique).toBeLessThan(0.02 * 1.25);
    expect(s.late / s.valid_unique).toBeGreaterThan(0.005 * 0.5);
    expect(s.late / s.valid_unique).toBeLessThan(0.005 * 1.5);
    const fraud = Object.values(s.fraud).reduce((a, b) => a + b, 0);
    expect(fraud / opts.count).toBeGreaterThan(0.01 * 0.5);
    expect(fraud / opts.count).toBeLessThan(0.01 * 1.5);
    // Event time advances at about eventsPerSecondOfEventTime.
    const span = (valid.at(-1)?.tx.event_time ?? 0) - opts.startTime;
    expect(span / 1000).toBeGreaterThan((opts.count / opts.eventsPerSecondOfEventTime) * 0.9);
    expect(span / 1000).toBeLessThan((opts.count / opts.eventsPerSecondOfEventTime) * 1.1);
  });

  it('every duplicate repeats an earlier valid event within the window', () => {
    const dups = events.flatMap((e, seq) => (e.kind === 'duplicate' ? [{ seq, of: e.of }] : []));
    expect(dups.length).toBeGreaterThan(0);
    for (const { seq, of } of dups) {
      expect(of).toBeLessThan(seq);
      expect(seq - of).toBeLessThanOrEqual(DUPLICATE_WINDOW);
      expect(events[of]?.kind).toBe('valid');
    }
  });

  it('batch-settling merchants share one reference per account and UTC day (N:1); other references are unique', () => {
    const byRef = new Map<string, Transaction[]>();
    for (const { tx } of valid) if (tx.reference !== null) byRef.set(tx.reference, [...(byRef.get(tx.reference) ?? []), tx]);
    const batched = [...byRef].filter(([ref]) => ref.startsWith('ord-'));
    expect(batched.filter(([, txs]) => txs.length > 1).length).toBeGreaterThan(20);
    const wrong = [...byRef].filter(([ref, txs]) =>
      ref.startsWith('ord-')
        ? ref.length > 64 ||
          txs.some(
            (tx) =>
              tx.type !== 'AUTHORIZATION' ||
              !isBatchSettling(tx.merchant_id) ||
              ref !== batchReference(tx.merchant_id, tx.account_id, tx.event_time),
          )
        : txs.length !== 1 || (isBatchSettling(txs[0]!.merchant_id) && txs[0]!.type === 'AUTHORIZATION'),
    );
    expect(wrong).toEqual([]);
    expect(batchReference('mer-000001', 'acc-000002', Date.parse('2026-01-31T23:59:59.999Z'))).toBe(
      'ord-mer-000001-acc-000002-20260131',
    );
    const share = Array.from({ length: 10_000 }, (_, i) => `mer-${String(i).padStart(6, '0')}`).filter(isBatchSettling).length;
    expect(share).toBeGreaterThan(400);
    expect(share).toBeLessThan(600);
  });

  it('displaces event times as labelled', () => {
    let latestInOrder = opts.startTime;
    for (const e of valid) {
      const t = e.tx.event_time;
      if (e.timing === 'late') {
        expect(latestInOrder - t).toBeGreaterThanOrEqual(HOUR - MAX_OUT_OF_ORDER_MS);
      } else if (e.timing === 'out_of_order') {
        expect(t).toBeLessThan(latestInOrder);
        expect(latestInOrder - t).toBeLessThanOrEqual(MAX_OUT_OF_ORDER_MS);
      } else {
        expect(t).toBeGreaterThanOrEqual(latestInOrder);
        latestInOrder = t;
      }
    }
  });

  it('makes invalid transactions invalid for the reason given', () => {
    const invalid = events.flatMap((e) => (e.kind === 'invalid' ? [e] : []));
    expect(new Set(invalid.map((e) => e.reason))).toEqual(new Set(INVALID_REASONS));
    for (const { tx, reason } of invalid) {
      expect(decode(encode(tx))).toEqual(tx); // decodable: only the values are wrong
      const broken: Record<(typeof INVALID_REASONS)[number], boolean> = {
        amount_not_positive: tx.amount_minor <= 0,
        unknown_currency: minorUnits(tx.currency) === undefined,
        empty_account_id: tx.account_id === '',
        event_time_in_future:
          tx.event_time > opts.startTime + (opts.count / opts.eventsPerSecondOfEventTime) * 1000 * 1.2 + 24 * HOUR,
        card_token_is_pan: isLuhnValid(tx.card_token) && tx.card_token.length === 16,
        bad_mcc: !/^\d{4}$/.test(tx.mcc),
      };
      expect(broken[reason as (typeof INVALID_REASONS)[number]]).toBe(true);
      // ...and txmon's own validator rejects it, whenever it is produced.
      expect(validateTransaction(tx, { recordTimestamp: Date.now(), maxFutureSkewMs: 300_000 }).ok).toBe(false);
    }
  });

  it('bad bytes never decode and unknown-schema bodies do', () => {
    const bad = events.flatMap((e) => (e.kind === 'bad-bytes' ? [e] : []));
    expect(new Set(bad.map((e) => e.reason))).toEqual(new Set(['garbage', 'wrong_magic_byte', 'truncated_avro']));
    expect(bad.some((e) => e.key === null)).toBe(true);
    for (const e of bad) expect(() => decode(e.value)).toThrow();
    for (const e of bad.filter((b) => b.reason === 'truncated_avro')) expect(e.value.readInt32BE(1)).toBe(TEST_SCHEMA_ID);
    for (const e of events) if (e.kind === 'unknown-schema') expect(transactionType.isValid(e.payloadOf)).toBe(true);
  });

  it('labels every fraud pattern, each with its signature', () => {
    const byLabel = new Map(FRAUD_LABELS.map((l) => [l, valid.filter((e) => e.label === l).map((e) => e.tx)]));
    for (const [label, txs] of byLabel) expect(txs.length, label).toBeGreaterThan(0);
    const cardTesting = byLabel.get('card_testing') ?? [];
    expect(
      cardTesting.every((tx) => tx.amount_minor / 10 ** (minorUnits(tx.currency) as number) / perUsd(tx.currency) <= 2.01),
    ).toBe(true);
    const collusion = byLabel.get('merchant_collusion') ?? [];
    expect(collusion.every((tx) => tx.amount_minor % 10 ** (minorUnits(tx.currency) as number) === 0)).toBe(true);
    const ato = byLabel.get('account_takeover') ?? [];
    expect(ato.every((tx) => tx.device_id !== null && tx.ip_country !== null)).toBe(true);
  });

  it('yields no fraud, duplicates or malformed records when the rates are 0', () => {
    const clean = collect(
      options({ count: 3_000, fraudRate: 0, duplicateRate: 0, malformedRate: 0, lateRate: 0, outOfOrderRate: 0 }),
    );
    expect(clean.every((e) => e.kind === 'valid' && e.label === null && e.timing === undefined)).toBe(true);
  });

  it('rejects options out of range, naming them', () => {
    expect(() => [...generateEvents(options({ currencies: ['USD', 'XYZ'] }))]).toThrow(ConfigError);
    expect(() => [...generateEvents(options({ count: -1 }))]).toThrow(/count/);
    expect(() => [...generateEvents(options({ duplicateRate: 1.5 }))]).toThrow(/duplicateRate/);
  });

  it('ground truth adds up for any options', () => {
    fc.assert(
      fc.property(
        fc.record({
          seed: fc.integer({ min: 0, max: 2 ** 31 }),
          count: fc.integer({ min: 0, max: 600 }),
          accounts: fc.integer({ min: 1, max: 30 }),
          merchants: fc.integer({ min: 1, max: 10 }),
          duplicateRate: fc.double({ min: 0, max: 1, noNaN: true }),
          malformedRate: fc.double({ min: 0, max: 1, noNaN: true }),
          fraudRate: fc.double({ min: 0, max: 1, noNaN: true }),
          lateRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
          outOfOrderRate: fc.double({ min: 0, max: 0.5, noNaN: true }),
        }),
        (o) => {
          const truth = new GroundTruth();
          let originals = 0;
          for (const e of generateEvents(options(o), encode)) {
            truth.add(e);
            if (txOf(e)) originals++;
          }
          const s = truth.summary();
          expect(originals).toBe(o.count);
          expect(s.records).toBe(s.valid_unique + s.duplicates + s.invalid + s.bad_bytes + s.unknown_schema);
          expect(s.valid_unique + s.invalid).toBe(o.count);
        },
      ),
      { numRuns: 40 },
    );
  });
});
