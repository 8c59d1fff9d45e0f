/**
 * Reconciliation of one reference group: the transactions that expect settlement under a reference
 * and the settlement lines that name it. Pure: the outcome is a function of the two sets, the
 * watermark and the policy, so a replay, a rebalance or last week's backlog gives the same answer.
 *
 * 1:1, 1:N (split lines, partial captures) and N:1 (several transactions under one batched
 * reference) all reduce to comparing the group's sums.
 */

/** A group's state. PENDING: still inside its deadline with nothing final to say. */
export const RECON_STATUSES = [
  'PENDING',
  'MATCHED',
  'AMOUNT_MISMATCH',
  'CURRENCY_MISMATCH',
  'DUPLICATE_SETTLEMENT',
  'MISSING_SETTLEMENT',
  'UNEXPECTED_SETTLEMENT',
  'LATE_MATCH',
] as const;
export type ReconStatus = (typeof RECON_STATUSES)[number];

/** Statuses finance ops must look at (published to the exceptions topic). */
export const EXCEPTION_STATUSES: ReadonlySet<ReconStatus> = new Set(
  RECON_STATUSES.filter((s) => s !== 'PENDING' && s !== 'MATCHED'),
);

/** A transaction that expects to be settled. */
export interface ExpectedItem {
  transactionId: string;
  amountMinor: bigint;
  currency: string;
  /** Event time, epoch ms. */
  eventTime: number;
  /**
   * A capture or reversal of it exists (parent_transaction_id): its captures settle instead, or it
   * was cancelled, so it expects nothing itself (it stays a member of its group, for the audit).
   */
  superseded?: boolean;
}

/** A settlement line naming the group's reference. */
export interface SettledLine {
  settlementId: string;
  amountMinor: bigint;
  currency: string;
  /** Event time, epoch ms. */
  eventTime: number;
  /** Days since 1970-01-01. */
  settlementDate: number;
}

export interface MatchPolicy {
  /** Absolute amount tolerance, in minor units of the group's currency. */
  toleranceMinor: bigint;
  /** Relative amount tolerance, in basis points of the expected amount (the larger of the two applies). */
  toleranceBps: bigint;
  /** A transaction must be settled within this long after it (event time); later is LATE_MATCH, none is MISSING. */
  settleWithinMs: number;
  /** A settlement line's transaction must be known within this long after the line (event time), or it is UNEXPECTED. */
  unexpectedAfterMs: number;
}

export interface GroupOutcome {
  status: ReconStatus;
  /** What the sets say, ignoring the deadline (equals `status` once the deadline has passed). */
  raw: Exclude<ReconStatus, 'PENDING'>;
  /** Sum of the transactions, or null when there are none. */
  expectedMinor: bigint | null;
  /** Sum of the settlement lines (in their currencies; meaningful when `currency` covers them all). */
  settledMinor: bigint;
  /** The transactions' currency, or else the lines' first currency. */
  currency: string;
  /** Event time after which the group's outcome is final (unless more input arrives). */
  deadline: number;
  /** Days since 1970-01-01: the first transaction's UTC date, or the first line's settlement date. */
  businessDate: number;
  /** Human-readable reason, for the report and the exceptions topic. */
  reason: string;
}

const DAY_MS = 86_400_000;

/** The amount the policy allows between `settled` and `expected`. */
export function tolerance(expected: bigint, policy: MatchPolicy): bigint {
  const abs = expected < 0n ? -expected : expected;
  const relative = (abs * policy.toleranceBps) / 10_000n;
  return relative > policy.toleranceMinor ? relative : policy.toleranceMinor;
}

const absBig = (x: bigint): bigint => (x < 0n ? -x : x);
// Loops, not Math.min(...xs): a spread of a very large group would overflow the call stack.
const least = (xs: readonly number[]): number => xs.reduce((a, b) => (b < a ? b : a), Infinity);
const greatest = (xs: readonly number[]): number => xs.reduce((a, b) => (b > a ? b : a), -Infinity);
const sum = (xs: ReadonlyArray<{ amountMinor: bigint }>): bigint => xs.reduce((a, x) => a + x.amountMinor, 0n);

/**
 * The group's outcome at `watermark` (event time: the settlement stream's progress less the allowed
 * lateness). Throws on an empty group (a caller's mistake).
 */
export function reconcileGroup(
  items: readonly ExpectedItem[],
  lines: readonly SettledLine[],
  watermark: number,
  policy: MatchPolicy,
): GroupOutcome {
  if (items.length === 0 && lines.length === 0) throw new RangeError('reconcileGroup: a group needs a transaction or a line');
  const expecting = items.filter((i) => i.superseded !== true);
  const expectedMinor = items.length > 0 ? sum(expecting) : null;
  const settledMinor = sum(lines);
  const firstItem = items.length > 0 ? least(items.map((i) => i.eventTime)) : null;
  const lastItem = items.length > 0 ? greatest(items.map((i) => i.eventTime)) : null;
  const deadline =
    lastItem !== null ? lastItem + policy.settleWithinMs : least(lines.map((l) => l.eventTime)) + policy.unexpectedAfterMs;
  const businessDate = firstItem !== null ? Math.floor(firstItem / DAY_MS) : least(lines.map((l) => l.settlementDate));
  const currency = (expecting[0] ?? items[0])?.currency ?? (lines[0] as SettledLine).currency;
  const { raw, reason } =
    items.length > 0 && expecting.length === 0
      ? supersededStatus(items, lines, currency)
      : rawStatus(expecting, lines, expectedMinor, settledMinor, deadline, policy);
  const final = raw === 'MATCHED' || raw === 'LATE_MATCH' || watermark >= deadline;
  return { status: final ? raw : 'PENDING', raw, expectedMinor, settledMinor, currency, deadline, businessDate, reason };
}

/** A group whose transactions were all captured or reversed (under this reference or another): nothing is due. */
function supersededStatus(
  items: readonly ExpectedItem[],
  lines: readonly SettledLine[],
  currency: string,
): { raw: Exclude<ReconStatus, 'PENDING'>; reason: string } {
  if (lines.length === 0)
    return { raw: 'MATCHED', reason: `nothing to settle: ${items.length} transaction(s) captured or reversed` };
  const foreign = lines.filter((l) => l.currency !== currency);
  if (foreign.length > 0) return { raw: 'CURRENCY_MISMATCH', reason: `settled in ${foreign[0]?.currency}, nothing was due` };
  return { raw: 'AMOUNT_MISMATCH', reason: `settled ${sum(lines)} ${currency} where nothing was due (captured or reversed)` };
}

function rawStatus(
  items: readonly ExpectedItem[],
  lines: readonly SettledLine[],
  expected: bigint | null,
  settled: bigint,
  deadline: number,
  policy: MatchPolicy,
): { raw: Exclude<ReconStatus, 'PENDING'>; reason: string } {
  if (expected === null)
    return { raw: 'UNEXPECTED_SETTLEMENT', reason: `${lines.length} line(s) name a reference no transaction has` };
  if (lines.length === 0) return { raw: 'MISSING_SETTLEMENT', reason: `no settlement line for ${items.length} transaction(s)` };
  const currencies = new Set(items.map((i) => i.currency));
  if (currencies.size > 1)
    return { raw: 'CURRENCY_MISMATCH', reason: `the reference's transactions are in ${[...currencies].sort().join(', ')}` };
  const currency = items[0]!.currency;
  const foreign = lines.filter((l) => l.currency !== currency);
  if (foreign.length > 0)
    return {
      raw: 'CURRENCY_MISMATCH',
      reason: `settled in ${[...new Set(foreign.map((l) => l.currency))].sort().join(', ')}, transaction(s) in ${currency}`,
    };
  const allowed = tolerance(expected, policy);
  if (absBig(settled - expected) <= allowed) {
    const lastLine = greatest(lines.map((l) => l.eventTime));
    if (lastLine > deadline)
      return {
        raw: 'LATE_MATCH',
        reason: `settled ${formatDuration(lastLine - deadline)} after the ${formatDuration(policy.settleWithinMs)} deadline`,
      };
    return { raw: 'MATCHED', reason: lines.length > 1 || items.length > 1 ? `${items.length}:${lines.length}` : '1:1' };
  }
  const copies = duplicateCopies(lines, settled - expected, allowed);
  if (copies > 0) return { raw: 'DUPLICATE_SETTLEMENT', reason: `${copies} line(s) repeat another line of the same amount` };
  return { raw: 'AMOUNT_MISMATCH', reason: `settled ${settled} against ${expected} ${currency} (tolerance ${allowed})` };
}

/**
 * How many repeated lines explain an excess: some number m of extra copies of one amount (m below
 * that amount's count) whose removal brings the sum within tolerance; 0 when none does.
 */
function duplicateCopies(lines: readonly SettledLine[], excess: bigint, allowed: bigint): number {
  if (excess <= allowed) return 0;
  const counts = new Map<bigint, number>();
  for (const l of lines) counts.set(l.amountMinor, (counts.get(l.amountMinor) ?? 0) + 1);
  let best = 0;
  for (const [amount, count] of counts) {
    if (amount <= 0n) continue;
    for (let m = 1; m < count; m++)
      if (absBig(excess - BigInt(m) * amount) <= allowed) {
        if (best === 0 || m < best) best = m;
        break;
      }
  }
  return best;
}

function formatDuration(ms: number): string {
  const h = ms / 3_600_000;
  return h >= 48
    ? `${Math.round((h / 24) * 10) / 10} d`
    : h >= 1
      ? `${Math.round(h * 10) / 10} h`
      : `${Math.round(ms / 60_000)} min`;
}
