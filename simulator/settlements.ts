/**
 * Settlement lines for a simulated transaction stream, with configurable mismatches, and their
 * ground truth: per reference, what the simulator did (its intent) and the status reconciliation
 * must end with. Pure: the same transactions, options and policy give the same lines.
 *
 * The expected status follows from the intent and the policy's deadlines alone; it never asks the
 * matcher, so tests can hold reconciliation/match.ts against it.
 */
import { minorUnits } from '../domain/currencies.ts';
import { Rng } from '../domain/rng.ts';
import type { Settlement } from '../domain/settlement.ts';
import type { Transaction } from '../domain/transaction.ts';
import { ConfigError } from '../platform/errors.ts';
import { RECON_STATUSES, type MatchPolicy, type ReconStatus } from '../reconciliation/match.ts';

/** What the simulator does with a reference. */
export const SETTLEMENT_INTENTS = [
  /** One exact line, on time. */
  'ok',
  /** 2-3 lines, on time, summing exactly to the group's total (1:N). */
  'split',
  /** One line off by at most the policy's tolerance (only drawn when the tolerance is at least 1 minor unit). */
  'within_tolerance',
  /** No line. */
  'missing',
  /** The exact line twice, under two settlement ids. */
  'duplicated',
  /** One line off by more than the tolerance. */
  'amount_off',
  /** One line of the exact digits in another currency of the same minor units. */
  'wrong_currency',
  /** One exact line after the group's deadline. */
  'late',
  /** A line naming a reference no transaction has. */
  'unknown',
  /**
   * Not drawn: a batched reference whose transactions are in several currencies (a customer paying a
   * foreign merchant in either currency on one day). Each currency's total is settled exactly, yet no
   * settlement can match such a reference: it is a currency exception.
   */
  'mixed_currency',
  /**
   * Not drawn: every transaction of the reference was captured or reversed (a capture or reversal
   * names it as parent), so nothing is due under it and no line is sent: MATCHED with nothing to settle.
   */
  'superseded',
] as const;
export type SettlementIntent = (typeof SETTLEMENT_INTENTS)[number];

/** The status each intent must end in once its deadline has passed. */
const FINAL_STATUS: Readonly<Record<SettlementIntent, Exclude<ReconStatus, 'PENDING'>>> = {
  ok: 'MATCHED',
  split: 'MATCHED',
  within_tolerance: 'MATCHED',
  missing: 'MISSING_SETTLEMENT',
  duplicated: 'DUPLICATE_SETTLEMENT',
  amount_off: 'AMOUNT_MISMATCH',
  wrong_currency: 'CURRENCY_MISMATCH',
  late: 'LATE_MATCH',
  unknown: 'UNEXPECTED_SETTLEMENT',
  mixed_currency: 'CURRENCY_MISMATCH',
  superseded: 'MATCHED',
};

export interface SettlementOptions {
  /** Seeds the settlements' own Rng (independent of the transaction generator's). */
  seed: number;
  missingRate: number;
  duplicatedRate: number;
  amountOffRate: number;
  wrongCurrencyRate: number;
  splitRate: number;
  lateRate: number;
  /** Drawn only for groups whose tolerance is at least 1 minor unit; other groups get an exact line. */
  withinToleranceRate: number;
  /** Lines naming unknown references, as a share of the transactions' reference groups. */
  unknownRate: number;
}

/** The defaults of `txmon simulate --settlements`. */
export const DEFAULT_SETTLEMENT_OPTIONS: Readonly<SettlementOptions> = Object.freeze({
  seed: 42,
  missingRate: 0.02,
  duplicatedRate: 0.01,
  amountOffRate: 0.01,
  wrongCurrencyRate: 0.005,
  splitRate: 0.03,
  lateRate: 0.01,
  withinToleranceRate: 0.01,
  unknownRate: 0.005,
});

/** Which transactions expect settlement and how reconciliation judges them (cfg.recon). */
export interface SettlementPolicy {
  settledTypes: readonly string[];
  match: MatchPolicy;
  allowedLatenessMs: number;
}

/** The ground truth of one reference. */
export interface SettlementTruthLine {
  reference: string;
  intent: SettlementIntent;
  /** The status at the final watermark: the intent's, or PENDING while its deadline is ahead. */
  expected_status: ReconStatus;
  transactions: number;
  /** Settlement ids of the reference's lines, in event-time order. */
  settlement_ids: string[];
  /** The transactions' currency (the first one's), or the line's for an unknown reference. */
  currency: string;
  /** Sum of the transactions, in minor units; null for an unknown reference. */
  expected_minor: number | null;
  /** Sum of the lines, in minor units of their currencies. */
  settled_minor: number;
  /** Event time (epoch ms) after which the outcome is final. */
  deadline: number;
}

export interface SettlementSummary {
  /** Reference groups, unknown references included. */
  references: number;
  /** Settle-able transactions grouped under those references. */
  transactions: number;
  lines: number;
  /** References per status expected at the final watermark. */
  expected: Record<ReconStatus, number>;
  intents: Record<SettlementIntent, number>;
  /** References settled by split lines (1:N). */
  one_to_n: number;
  /** References shared by several transactions (N:1). */
  n_to_one: number;
  /** Largest line event time less the allowed lateness; null without lines. */
  final_watermark: number | null;
}

export interface SimulatedSettlements {
  /** Sorted by event time (stable). */
  lines: Settlement[];
  /** One per reference: the transactions' groups in stream order, then the unknown references. */
  truth: SettlementTruthLine[];
  summary: SettlementSummary;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** On-time lines come this long after the group's last transaction at the earliest ... */
const ON_TIME_MIN_MS = 2 * HOUR_MS;
/** ... and at the latest this long, or half the settlement window if that is shorter. */
const ON_TIME_MAX_MS = 30 * HOUR_MS;
const ACQUIRERS = ['A', 'B', 'C'] as const;
/** Where a wrong currency comes from: at least two codes for every minor-unit exponent (0, 2, 3, 4). */
const OTHER_CURRENCIES = ['USD', 'EUR', 'GBP', 'CHF', 'CAD', 'SEK', 'JPY', 'KRW', 'CLP', 'KWD', 'BHD', 'OMR', 'CLF', 'UYW'];
/** Keeps the settlements' stream apart from the transaction generator's, which is seeded with the same seed. */
const SEED_SALT = 0x5e771e;

/** The drawn intents and the option giving each one's share of the groups, in drawing order. */
const DRAWN: ReadonlyArray<readonly [Exclude<keyof SettlementOptions, 'seed' | 'unknownRate'>, SettlementIntent]> = [
  ['missingRate', 'missing'],
  ['duplicatedRate', 'duplicated'],
  ['amountOffRate', 'amount_off'],
  ['wrongCurrencyRate', 'wrong_currency'],
  ['splitRate', 'split'],
  ['lateRate', 'late'],
  ['withinToleranceRate', 'within_tolerance'],
];

/** Throws a ConfigError naming the first option out of range. */
export function validateSettlementOptions(opts: SettlementOptions): void {
  if (!Number.isSafeInteger(opts.seed)) throw new ConfigError(`settlements: seed must be a safe integer, got ${opts.seed}`);
  for (const name of [...DRAWN.map(([n]) => n), 'unknownRate'] as const) {
    if (!(opts[name] >= 0 && opts[name] <= 1))
      throw new ConfigError(`settlements: option ${name} must be a rate in [0, 1], got ${opts[name]}`);
  }
  const total = DRAWN.reduce((a, [n]) => a + opts[n], 0);
  if (total > 1) throw new ConfigError(`settlements: the mismatch and split rates add up to ${total}, more than 1`);
}

/** A reference's settle-able transactions. */
interface Group {
  reference: string;
  transactions: number;
  /** Transactions that expect settlement (not captured or reversed). */
  expecting: number;
  /** The first expecting transaction's currency (the first transaction's when none expects). */
  currency: string;
  /** Sum of the transactions per currency (one entry unless the reference mixes currencies). */
  byCurrency: Map<string, bigint>;
  total: bigint;
  last: number;
  merchantId: string;
}

/** A line before it has its id (ids follow event-time order). */
interface Draft {
  truth: SettlementTruthLine;
  amount: bigint;
  currency: string;
  eventTime: number;
  fee: number;
  acquirer: string;
}

/**
 * The settlement lines for `transactions` (the stream's valid, unique transactions in stream order)
 * with mismatches at `opts`' rates, and their ground truth at the final watermark.
 */
export function generateSettlements(
  transactions: Iterable<Transaction>,
  opts: SettlementOptions,
  policy: SettlementPolicy,
): SimulatedSettlements {
  validateSettlementOptions(opts);
  const rng = new Rng(opts.seed <= Number.MAX_SAFE_INTEGER - SEED_SALT ? opts.seed + SEED_SALT : opts.seed - SEED_SALT);
  const groups = groupByReference(transactions, new Set(policy.settledTypes));
  const { settleWithinMs, unexpectedAfterMs } = policy.match;
  const onTimeMin = Math.min(ON_TIME_MIN_MS, Math.floor(settleWithinMs / 2));
  const onTimeMax = Math.max(onTimeMin, Math.min(ON_TIME_MAX_MS, Math.floor(settleWithinMs / 2)));
  const acquirerOf = new Map<string, string>();
  const drafts: Draft[] = [];
  const truth: SettlementTruthLine[] = [];

  const draft = (t: SettlementTruthLine, amount: bigint, currency: string, eventTime: number, acquirer: string): void => {
    // Fees are a small share of the amount (0-2.5 %), in whole minor units.
    const fee = Number(((amount < 0n ? -amount : amount) * BigInt(rng.int(0, 250))) / 10_000n);
    drafts.push({ truth: t, amount, currency, eventTime, fee, acquirer });
  };

  for (const g of groups) {
    const t: SettlementTruthLine = {
      reference: g.reference,
      intent: 'ok',
      expected_status: 'PENDING',
      transactions: g.transactions,
      settlement_ids: [],
      currency: g.currency,
      expected_minor: safe(g.total),
      settled_minor: 0,
      deadline: g.last + settleWithinMs,
    };
    truth.push(t);
    let acquirer = acquirerOf.get(g.merchantId);
    if (acquirer === undefined) acquirerOf.set(g.merchantId, (acquirer = rng.pick(ACQUIRERS)));
    const allowed = toleranceOf(g.total, policy.match);
    t.intent = g.expecting === 0 ? 'superseded' : drawIntent(rng, opts, g, allowed);
    const onTime = (): number => g.last + rng.int(onTimeMin, onTimeMax);
    const line = (amount: bigint, currency = g.currency, at = onTime()): void => draft(t, amount, currency, at, acquirer);
    switch (t.intent) {
      case 'ok':
        line(g.total);
        break;
      case 'split':
        for (const part of splitAmount(rng, g.total)) line(part);
        break;
      case 'within_tolerance':
        line(offBy(rng, g.total, BigInt(rng.int(1, safe(allowed)))));
        break;
      case 'missing':
        break;
      case 'duplicated':
        line(g.total);
        line(g.total);
        break;
      case 'amount_off':
        line(offBy(rng, g.total, allowed + 1n + BigInt(rng.int(0, safe(g.total / 10n)))));
        break;
      case 'wrong_currency': {
        const exponent = minorUnits(g.currency);
        line(g.total, rng.pick(OTHER_CURRENCIES.filter((c) => c !== g.currency && minorUnits(c) === exponent)));
        break;
      }
      case 'late':
        line(g.total, g.currency, t.deadline + rng.int(HOUR_MS, 2 * DAY_MS));
        break;
      case 'mixed_currency':
        for (const [c, amount] of [...g.byCurrency].sort(([a], [b]) => (a < b ? -1 : 1))) line(amount, c);
        break;
      case 'superseded':
        break;
      case 'unknown':
        throw new RangeError('settlements: the unknown intent is not drawn for a group');
    }
  }

  const unknown = groups.length === 0 ? 0 : Math.round(opts.unknownRate * groups.length);
  for (let i = 0; i < unknown; i++) {
    // Looks like the traffic around it: a known group's currency and time, a similar amount.
    const like = rng.pick(groups);
    const eventTime = like.last + rng.int(onTimeMin, onTimeMax);
    const amount = maxBig(1n, (like.total * BigInt(rng.int(50, 150))) / 100n);
    const t: SettlementTruthLine = {
      reference: `unk-${opts.seed}-${i}`,
      intent: 'unknown',
      expected_status: 'PENDING',
      transactions: 0,
      settlement_ids: [],
      currency: like.currency,
      expected_minor: null,
      settled_minor: 0,
      deadline: eventTime + unexpectedAfterMs,
    };
    truth.push(t);
    draft(t, amount, like.currency, eventTime, rng.pick(ACQUIRERS));
  }

  // Array.prototype.sort is stable: lines of one instant keep their order of creation.
  drafts.sort((a, b) => a.eventTime - b.eventTime);
  const lines = drafts.map((d, n): Settlement => {
    const settlementId = `stl-${opts.seed}-${n}`;
    d.truth.settlement_ids.push(settlementId);
    d.truth.settled_minor += safe(d.amount);
    const date = Math.floor(d.eventTime / DAY_MS);
    return {
      settlement_id: settlementId,
      transaction_reference: d.truth.reference,
      amount_minor: safe(d.amount),
      currency: d.currency,
      settlement_date: date,
      batch_id: `batch-${yyyymmdd(date)}-${d.acquirer}`,
      fee_minor: d.fee,
      event_time: d.eventTime,
    };
  });

  const last = drafts.at(-1);
  const watermark = last === undefined ? null : last.eventTime - policy.allowedLatenessMs;
  for (const t of truth) t.expected_status = expectedStatus(t.intent, t.deadline, watermark);
  return { lines, truth, summary: summarize(truth, lines.length, groups, watermark) };
}

/**
 * The status a reference must have at the watermark: a match (late or not) is final as soon as its
 * lines are in; anything else waits for its deadline.
 */
export function expectedStatus(intent: SettlementIntent, deadline: number, watermark: number | null): ReconStatus {
  const status = FINAL_STATUS[intent];
  if (status === 'MATCHED' || status === 'LATE_MATCH') return status;
  return watermark !== null && watermark >= deadline ? status : 'PENDING';
}

/** The settle-able transactions by reference, in order of first appearance. */
function groupByReference(transactions: Iterable<Transaction>, settled: ReadonlySet<string>): Group[] {
  const all = [...transactions];
  // A capture or reversal supersedes its parent: the parent expects nothing itself (reconciliation does the same).
  const superseded = new Set<string>();
  for (const tx of all)
    if ((tx.type === 'CAPTURE' || tx.type === 'REVERSAL') && tx.parent_transaction_id !== null)
      superseded.add(tx.parent_transaction_id);
  const byRef = new Map<string, Group>();
  for (const tx of all) {
    if (!settled.has(tx.type)) continue;
    const reference = tx.reference ?? tx.transaction_id;
    let g = byRef.get(reference);
    if (g === undefined) {
      g = {
        reference,
        transactions: 0,
        expecting: 0,
        currency: tx.currency,
        byCurrency: new Map(),
        total: 0n,
        last: tx.event_time,
        merchantId: tx.merchant_id,
      };
      byRef.set(reference, g);
    }
    g.transactions++;
    g.last = Math.max(g.last, tx.event_time);
    if (superseded.has(tx.transaction_id)) continue;
    // The currency of what is due: the first transaction that expects settlement.
    if (g.expecting === 0) g.currency = tx.currency;
    g.expecting++;
    g.byCurrency.set(tx.currency, (g.byCurrency.get(tx.currency) ?? 0n) + BigInt(tx.amount_minor));
    g.total += BigInt(tx.amount_minor);
  }
  return [...byRef.values()];
}

/** One draw picks the intent; intents a group cannot have fall back to an exact line. */
function drawIntent(rng: Rng, opts: SettlementOptions, g: Group, allowed: bigint): SettlementIntent {
  const r = rng.next();
  let intent: SettlementIntent = 'ok';
  let cumulative = 0;
  for (const [rate, which] of DRAWN) {
    cumulative += opts[rate];
    if (r < cumulative) {
      intent = which;
      break;
    }
  }
  if (g.byCurrency.size > 1) return intent === 'missing' ? 'missing' : 'mixed_currency';
  // An extra copy within the tolerance is indistinguishable from a match; a total of one minor unit cannot be split.
  if (intent === 'within_tolerance' && allowed < 1n) return 'ok';
  if (intent === 'duplicated' && g.total <= allowed) return 'ok';
  if (intent === 'split' && g.total < 2n) return 'ok';
  return intent;
}

/**
 * The policy's allowed difference for an expected sum: the larger of the absolute and the relative
 * tolerance. Restated from the policy's definition rather than imported, so the truth stays
 * independent of the matcher.
 */
function toleranceOf(expected: bigint, p: MatchPolicy): bigint {
  const relative = ((expected < 0n ? -expected : expected) * p.toleranceBps) / 10_000n;
  return maxBig(relative, p.toleranceMinor);
}

/** `total` less `delta` or plus it, at random, keeping the line positive. */
function offBy(rng: Rng, total: bigint, delta: bigint): bigint {
  return rng.chance(0.5) && total - delta >= 1n ? total - delta : total + delta;
}

/** 2-3 positive parts summing exactly to `total` (at least 2). */
function splitAmount(rng: Rng, total: bigint): bigint[] {
  const cuts = new Set<number>();
  const wanted = Math.min(rng.int(2, 3), safe(total)) - 1;
  for (let i = 0; i < wanted; i++) cuts.add(rng.int(1, safe(total) - 1));
  const points = [0, ...[...cuts].sort((a, b) => a - b), safe(total)];
  return points.slice(1).map((p, i) => BigInt(p - (points[i] as number)));
}

function summarize(
  truth: readonly SettlementTruthLine[],
  lines: number,
  groups: readonly Group[],
  watermark: number | null,
): SettlementSummary {
  const expected = Object.fromEntries(RECON_STATUSES.map((s) => [s, 0])) as Record<ReconStatus, number>;
  const intents = Object.fromEntries(SETTLEMENT_INTENTS.map((i) => [i, 0])) as Record<SettlementIntent, number>;
  for (const t of truth) {
    expected[t.expected_status]++;
    intents[t.intent]++;
  }
  return {
    references: truth.length,
    transactions: groups.reduce((a, g) => a + g.transactions, 0),
    lines,
    expected,
    intents,
    one_to_n: intents.split,
    n_to_one: groups.filter((g) => g.transactions > 1).length,
    final_watermark: watermark,
  };
}

/** A minor-unit amount as the number the Avro record carries (throws past 2^53: a programmer error). */
function safe(x: bigint): number {
  const n = Number(x);
  if (!Number.isSafeInteger(n)) throw new RangeError(`settlements: amount ${x} is beyond a safe integer`);
  return n;
}

const maxBig = (a: bigint, b: bigint): bigint => (a > b ? a : b);

/** `YYYYMMDD` of a day since 1970-01-01. */
function yyyymmdd(day: number): string {
  return new Date(day * DAY_MS).toISOString().slice(0, 10).replaceAll('-', '');
}
