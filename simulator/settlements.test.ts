import { describe, expect, it } from 'vitest';
import { minorUnits } from '../domain/currencies.ts';
import { validateSettlement, type Settlement } from '../domain/settlement.ts';
import { ConfigError } from '../platform/errors.ts';
import { reconcileGroup, RECON_STATUSES, type MatchPolicy } from '../reconciliation/match.ts';
import {
  DEFAULT_SETTLEMENT_OPTIONS,
  generateSettlements,
  SETTLEMENT_INTENTS,
  type SettlementOptions,
  type SettlementPolicy,
  type SimulatedSettlements,
} from './settlements.ts';
import { collect, options } from '../tests/helpers/simulator.ts';
import type { Transaction } from './types.ts';

const H = 3_600_000;
const DAY = 24 * H;
/** cfg.recon's defaults. */
const DEFAULT_MATCH: MatchPolicy = { toleranceMinor: 0n, toleranceBps: 0n, settleWithinMs: 3 * DAY, unexpectedAfterMs: DAY };
const DEFAULT_POLICY: SettlementPolicy = {
  settledTypes: ['AUTHORIZATION', 'CAPTURE'],
  match: DEFAULT_MATCH,
  allowedLatenessMs: H,
};
/** A tolerance (so within_tolerance is drawn) and no late lines (so the watermark leaves deadlines ahead: PENDING). */
const TOLERANT_POLICY: SettlementPolicy = {
  settledTypes: ['AUTHORIZATION', 'CAPTURE', 'REFUND'],
  match: { toleranceMinor: 3n, toleranceBps: 20n, settleWithinMs: 2 * DAY, unexpectedAfterMs: 12 * H },
  allowedLatenessMs: 2 * H,
};
/** Every mismatch frequent enough to be seen many times in a small stream. */
const HIGH_RATES: SettlementOptions = {
  seed: 42,
  missingRate: 0.06,
  duplicatedRate: 0.05,
  amountOffRate: 0.05,
  wrongCurrencyRate: 0.05,
  splitRate: 0.08,
  lateRate: 0.05,
  withinToleranceRate: 0.05,
  unknownRate: 0.03,
};

const transactions: Transaction[] = collect(options({ count: 20_000 })).flatMap((e) => (e.kind === 'valid' ? [e.tx] : []));

/** The settle-able transactions by reference, grouped here again so the test does not trust the generator's grouping. */
function groupsOf(txs: readonly Transaction[], policy: SettlementPolicy): Map<string, Transaction[]> {
  const types = new Set(policy.settledTypes);
  const groups = new Map<string, Transaction[]>();
  for (const tx of txs) {
    if (!types.has(tx.type)) continue;
    const ref = tx.reference ?? tx.transaction_id;
    groups.set(ref, [...(groups.get(ref) ?? []), tx]);
  }
  return groups;
}

/** Transactions some capture or reversal names as its parent: they expect nothing themselves. */
const superseded = (txs: readonly Transaction[]): Set<string> =>
  new Set(
    txs.flatMap((t) =>
      (t.type === 'CAPTURE' || t.type === 'REVERSAL') && t.parent_transaction_id !== null ? [t.parent_transaction_id] : [],
    ),
  );

function linesByReference(lines: readonly Settlement[]): Map<string, Settlement[]> {
  const out = new Map<string, Settlement[]>();
  for (const l of lines) out.set(l.transaction_reference, [...(out.get(l.transaction_reference) ?? []), l]);
  return out;
}

const sumOf = (xs: ReadonlyArray<{ amount_minor: number }>): bigint => xs.reduce((a, x) => a + BigInt(x.amount_minor), 0n);
const abs = (x: bigint): bigint => (x < 0n ? -x : x);

function allowed(expected: bigint, p: MatchPolicy): bigint {
  const relative = (abs(expected) * p.toleranceBps) / 10_000n;
  return relative > p.toleranceMinor ? relative : p.toleranceMinor;
}

const worlds: Array<[string, SettlementOptions, SettlementPolicy]> = [
  ['default rates and policy', DEFAULT_SETTLEMENT_OPTIONS, DEFAULT_POLICY],
  ['high rates, default policy', HIGH_RATES, DEFAULT_POLICY],
  ['high rates, tolerant policy, no late lines', { ...HIGH_RATES, lateRate: 0 }, TOLERANT_POLICY],
];

describe.each(worlds)('generateSettlements: %s', (_name, opts, policy) => {
  const sim: SimulatedSettlements = generateSettlements(transactions, opts, policy);
  const groups = groupsOf(transactions, policy);
  const byRef = linesByReference(sim.lines);
  const supersededIds = superseded(transactions);

  it('every line validates against the Settlement contract', () => {
    const limits = { recordTimestamp: Date.now(), maxFutureSkewMs: 300_000 };
    const bad = sim.lines.filter(
      (l) =>
        !validateSettlement(l, limits).ok ||
        l.settlement_date !== Math.floor(l.event_time / DAY) ||
        !/^batch-\d{8}-[ABC]$/.test(l.batch_id) ||
        !(Number.isSafeInteger(l.fee_minor) && l.fee_minor >= 0),
    );
    expect(bad).toEqual([]);
  });

  it('lines are sorted by event time, with unique ids', () => {
    expect(sim.lines.findIndex((l, i) => i > 0 && l.event_time < sim.lines[i - 1]!.event_time)).toBe(-1);
    expect(new Set(sim.lines.map((l) => l.settlement_id)).size).toBe(sim.lines.length);
    expect(sim.lines.every((l) => l.settlement_id.startsWith(`stl-${opts.seed}-`))).toBe(true);
  });

  it('one truth line per reference: every transaction group and every line’s reference', () => {
    const refs = sim.truth.map((t) => t.reference);
    expect(new Set(refs).size).toBe(refs.length);
    expect(new Set(refs)).toEqual(new Set([...groups.keys(), ...byRef.keys()]));
    expect(sim.truth.flatMap((t) => t.settlement_ids).sort()).toEqual(sim.lines.map((l) => l.settlement_id).sort());
  });

  it('each intent’s lines have its shape', () => {
    const { settleWithinMs } = policy.match;
    // Problems are collected, not asserted one by one: thousands of expect() calls are slow.
    const problems: string[] = [];
    for (const t of sim.truth) {
      const members = groups.get(t.reference) ?? [];
      // What is due: the members no capture or reversal superseded.
      const txs = members.filter((x) => !supersededIds.has(x.transaction_id));
      const lines = byRef.get(t.reference) ?? [];
      const expected = sumOf(txs);
      const tol = allowed(expected, policy.match);
      const last = Math.max(...members.map((x) => x.event_time));
      const deadline = last + settleWithinMs;
      const currency = txs[0]?.currency;
      const currencies = new Set(txs.map((x) => x.currency));
      const onTime = (l: Settlement): boolean =>
        l.event_time >= last + Math.min(2 * H, settleWithinMs / 2) && l.event_time <= deadline;
      const exact = (l: Settlement): boolean => BigInt(l.amount_minor) === expected && l.currency === currency;
      const check = (ok: boolean, what: string): void => {
        if (!ok) problems.push(`${t.reference} (${t.intent}): ${what}`);
      };
      if (t.intent === 'unknown') {
        check(txs.length === 0 && lines.length === 1, 'one line, no transaction');
        check(t.deadline === (lines[0]?.event_time ?? NaN) + policy.match.unexpectedAfterMs, 'deadline');
        continue;
      }
      check(
        t.deadline === deadline && t.transactions === members.length && t.expected_minor === Number(expected),
        'group figures',
      );
      check(currencies.size > 1 === (t.intent === 'mixed_currency'), 'several currencies iff mixed_currency');
      switch (t.intent) {
        case 'ok':
          check(lines.length === 1 && lines.every((l) => exact(l) && onTime(l)), 'one exact line on time');
          break;
        case 'split':
          check(lines.length >= 2 && lines.length <= 3, '2-3 lines');
          check(sumOf(lines) === expected, 'lines sum exactly to the total');
          check(
            lines.every((l) => l.amount_minor > 0 && l.currency === currency && onTime(l)),
            'positive, same currency, on time',
          );
          break;
        case 'within_tolerance': {
          const off = abs(sumOf(lines) - expected);
          check(lines.length === 1 && off >= 1n && off <= tol, `off by 1..${tol}, got ${off}`);
          check(
            lines.every((l) => l.currency === currency && onTime(l)),
            'same currency, on time',
          );
          break;
        }
        case 'missing':
          check(lines.length === 0, 'no line');
          break;
        case 'duplicated':
          check(lines.length === 2 && lines.every((l) => exact(l) && onTime(l)), 'the exact line twice, on time');
          check(lines[0]?.settlement_id !== lines[1]?.settlement_id, 'two settlement ids');
          check(expected > tol, 'a copy exceeds the tolerance');
          break;
        case 'amount_off':
          check(lines.length === 1 && abs(sumOf(lines) - expected) > tol, `off by more than ${tol}`);
          check(
            lines.every((l) => l.amount_minor > 0 && l.currency === currency && onTime(l)),
            'positive, same currency, on time',
          );
          break;
        case 'wrong_currency': {
          const l = lines[0];
          check(
            lines.length === 1 && sumOf(lines) === expected && l !== undefined && onTime(l),
            'one line of the same digits, on time',
          );
          check(
            l !== undefined && l.currency !== currency && minorUnits(l.currency) === minorUnits(currency!),
            'another currency, same minor units',
          );
          break;
        }
        case 'late': {
          const at = lines[0]?.event_time ?? NaN;
          check(lines.length === 1 && lines.every(exact), 'one exact line');
          check(at >= deadline + H && at <= deadline + 2 * DAY, 'between 1 h and 2 d after the deadline');
          break;
        }
        case 'superseded':
          check(txs.length === 0 && lines.length === 0, 'every transaction captured or reversed, no line');
          break;
        case 'mixed_currency':
          for (const c of currencies)
            check(
              sumOf(lines.filter((l) => l.currency === c)) === sumOf(txs.filter((x) => x.currency === c)),
              `${c} settled exactly`,
            );
          break;
      }
    }
    expect(problems).toEqual([]);
  });

  it('the expected counts add up', () => {
    const s = sim.summary;
    expect(s.references).toBe(sim.truth.length);
    expect(RECON_STATUSES.reduce((a, k) => a + s.expected[k], 0)).toBe(s.references);
    expect(SETTLEMENT_INTENTS.reduce((a, k) => a + s.intents[k], 0)).toBe(s.references);
    expect(s.lines).toBe(sim.lines.length);
    expect(s.transactions).toBe([...groups.values()].reduce((a, g) => a + g.length, 0));
    expect(s.one_to_n).toBe(s.intents.split);
    expect(s.n_to_one).toBe([...groups.values()].filter((g) => g.length > 1).length);
    expect(s.intents.unknown).toBe(Math.round(opts.unknownRate * groups.size));
    expect(s.final_watermark).toBe(Math.max(...sim.lines.map((l) => l.event_time)) - policy.allowedLatenessMs);
    for (const t of sim.truth) {
      if (t.expected_status !== 'PENDING') continue;
      expect(['MATCHED', 'LATE_MATCH']).not.toContain(t.intent);
      expect(t.deadline).toBeGreaterThan(s.final_watermark!);
    }
  });

  it('the matcher agrees with the ground truth on every reference at the final watermark', () => {
    const watermark = sim.summary.final_watermark!;
    const disagreements: string[] = [];
    for (const t of sim.truth) {
      const items = (groups.get(t.reference) ?? []).map((x) => ({
        transactionId: x.transaction_id,
        amountMinor: BigInt(x.amount_minor),
        currency: x.currency,
        eventTime: x.event_time,
        superseded: supersededIds.has(x.transaction_id),
      }));
      const lines = (byRef.get(t.reference) ?? []).map((l) => ({
        settlementId: l.settlement_id,
        amountMinor: BigInt(l.amount_minor),
        currency: l.currency,
        eventTime: l.event_time,
        settlementDate: l.settlement_date,
      }));
      const got = reconcileGroup(items, lines, watermark, policy.match);
      if (got.status !== t.expected_status)
        disagreements.push(`${t.reference} ${t.intent}: expected ${t.expected_status}, matcher ${got.status} (${got.reason})`);
    }
    expect(disagreements).toEqual([]);
  });
});

describe('generateSettlements: the worlds', () => {
  it('is deterministic by seed, and another seed gives other lines', () => {
    const a = generateSettlements(transactions, HIGH_RATES, DEFAULT_POLICY);
    const b = generateSettlements(transactions, HIGH_RATES, DEFAULT_POLICY);
    const c = generateSettlements(transactions, { ...HIGH_RATES, seed: 43 }, DEFAULT_POLICY);
    expect(b).toEqual(a);
    expect(c.lines.map((l) => [l.amount_minor, l.event_time])).not.toEqual(a.lines.map((l) => [l.amount_minor, l.event_time]));
  });

  it('the default world has batched references (N:1) and every kind of mismatch', () => {
    const sim = generateSettlements(transactions, DEFAULT_SETTLEMENT_OPTIONS, DEFAULT_POLICY);
    expect(sim.summary.n_to_one).toBeGreaterThan(20);
    expect(sim.truth.filter((t) => t.transactions > 1).every((t) => t.reference.startsWith('ord-'))).toBe(true);
    for (const intent of ['ok', 'split', 'missing', 'duplicated', 'amount_off', 'wrong_currency', 'late', 'unknown'] as const)
      expect(sim.summary.intents[intent], intent).toBeGreaterThan(0);
    // No tolerance in the default policy: a line within it cannot exist.
    expect(sim.summary.intents.within_tolerance).toBe(0);
  });

  it('the tolerant world draws lines within tolerance and leaves late deadlines pending', () => {
    const sim = generateSettlements(transactions, { ...HIGH_RATES, lateRate: 0 }, TOLERANT_POLICY);
    expect(sim.summary.intents.within_tolerance).toBeGreaterThan(0);
    expect(sim.summary.expected.PENDING).toBeGreaterThan(0);
  });

  it('zero rates settle every group exactly once', () => {
    const zero: SettlementOptions = {
      seed: 1,
      missingRate: 0,
      duplicatedRate: 0,
      amountOffRate: 0,
      wrongCurrencyRate: 0,
      splitRate: 0,
      lateRate: 0,
      withinToleranceRate: 0,
      unknownRate: 0,
    };
    const sim = generateSettlements(transactions, zero, DEFAULT_POLICY);
    const mixed = sim.summary.intents.mixed_currency;
    const nothingDue = sim.summary.intents.superseded;
    expect(nothingDue).toBeGreaterThan(0);
    expect(sim.summary.expected.MATCHED).toBe(sim.summary.references - mixed);
    expect(sim.summary.intents.ok).toBe(sim.summary.references - mixed - nothingDue);
  });

  it('rejects rates out of range', () => {
    expect(() => generateSettlements([], { ...HIGH_RATES, missingRate: -0.1 }, DEFAULT_POLICY)).toThrow(ConfigError);
    expect(() => generateSettlements([], { ...HIGH_RATES, unknownRate: 1.5 }, DEFAULT_POLICY)).toThrow(ConfigError);
    expect(() => generateSettlements([], { ...HIGH_RATES, missingRate: 0.6, splitRate: 0.6 }, DEFAULT_POLICY)).toThrow(
      ConfigError,
    );
  });

  it('no transactions: no lines, an empty truth', () => {
    const sim = generateSettlements([], DEFAULT_SETTLEMENT_OPTIONS, DEFAULT_POLICY);
    expect(sim.lines).toEqual([]);
    expect(sim.truth).toEqual([]);
    expect(sim.summary.final_watermark).toBeNull();
  });
});
