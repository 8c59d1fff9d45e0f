/**
 * Enrichment arithmetic (pure): exact base-currency amounts and the static features of a
 * transaction from reference data. No I/O, no clock: everything is derived from the record's event
 * time and the reference data passed in, so a replay enriches exactly as the live pass did.
 */
import { minorUnits } from './currencies.ts';

/** FX rates are decimal strings with at most this many fractional digits ("1.08345"). */
export const RATE_SCALE_DIGITS = 10;
const RATE_SCALE = 10n ** BigInt(RATE_SCALE_DIGITS);

/** Parses a positive decimal rate into an integer scaled by 10^RATE_SCALE_DIGITS; throws on anything else. */
export function parseRate(rate: string): bigint {
  const m = /^(\d{1,12})(?:\.(\d{1,10}))?$/.exec(rate.trim());
  if (!m)
    throw new RangeError(
      `FX rate ${JSON.stringify(rate)} is not a positive decimal with at most ${RATE_SCALE_DIGITS} fraction digits`,
    );
  const scaled = BigInt(m[1] as string) * RATE_SCALE + BigInt((m[2] ?? '').padEnd(RATE_SCALE_DIGITS, '0'));
  if (scaled === 0n) throw new RangeError('FX rate must be positive');
  return scaled;
}

/** parseRate's results by text: a batch converts many amounts at the few rates of its day. */
const PARSED_RATES = new Map<string, bigint>();
const PARSED_RATES_MAX = 4_096;

/** parseRate, remembered (a refused text is not). */
function parsedRate(rate: string): bigint {
  let r = PARSED_RATES.get(rate);
  if (r === undefined) {
    r = parseRate(rate);
    if (PARSED_RATES.size >= PARSED_RATES_MAX) PARSED_RATES.clear();
    PARSED_RATES.set(rate, r);
  }
  return r;
}

/**
 * Converts an amount in minor units of `from` into minor units of `to` at `rate` (units of `to` per
 * unit of `from`), exactly, rounding half to even once at the end. Integer arithmetic only.
 */
export function convertMinor(amountMinor: number, from: string, to: string, rate: string): number {
  const fromExp = minorUnits(from);
  const toExp = minorUnits(to);
  if (fromExp === undefined) throw new RangeError(`unknown currency ${from}`);
  if (toExp === undefined) throw new RangeError(`unknown currency ${to}`);
  if (!Number.isSafeInteger(amountMinor)) throw new RangeError(`amount ${amountMinor} is not a safe integer`);
  if (from === to) return amountMinor;
  // result = amount * rate * 10^(toExp - fromExp), with rate scaled by 10^RATE_SCALE_DIGITS
  let num = BigInt(amountMinor) * parsedRate(rate);
  let den = RATE_SCALE;
  const shift = toExp - fromExp;
  if (shift >= 0) num *= 10n ** BigInt(shift);
  else den *= 10n ** BigInt(-shift);
  const result = divRoundHalfEven(num, den);
  if (result > BigInt(Number.MAX_SAFE_INTEGER) || result < BigInt(Number.MIN_SAFE_INTEGER))
    throw new RangeError('converted amount is out of range');
  return Number(result);
}

function divRoundHalfEven(num: bigint, den: bigint): bigint {
  const negative = num < 0n !== den < 0n;
  const n = num < 0n ? -num : num;
  const d = den < 0n ? -den : den;
  let q = n / d;
  const r = n % d;
  if (r * 2n > d || (r * 2n === d && q % 2n === 1n)) q += 1n;
  return negative ? -q : q;
}

/** One formatter per time zone: building an Intl.DateTimeFormat costs far more than using one. */
const hourFormats = new Map<string, Intl.DateTimeFormat>();
/**
 * Hours already formatted, per time zone and UTC minute: formatting costs ~2 µs and a string, and a
 * batch holds many transactions of one zone within the same minutes. Bounded: cleared when full.
 */
const hourCache = new Map<string, Map<number, number>>();
const HOUR_CACHE_MAX = 20_000;
const MINUTE_MS = 60_000;

function formattedHour(eventTime: number, timeZone: string): number {
  let f = hourFormats.get(timeZone);
  if (f === undefined) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: 'numeric', hourCycle: 'h23' });
    // Bounded by the IANA zone list (a few hundred); an unknown zone throws above and is not kept.
    hourFormats.set(timeZone, f);
  }
  return Number(f.format(eventTime));
}

/** Hour of day (0-23) of an instant in an IANA time zone (e.g. "Europe/London"). */
export function hourOfDay(eventTime: number, timeZone: string): number {
  const minute = Math.floor(eventTime / MINUTE_MS);
  let zone = hourCache.get(timeZone);
  const cached = zone?.get(minute);
  if (cached !== undefined) return cached;
  const hour = formattedHour(eventTime, timeZone);
  if (!Number.isFinite(minute)) return hour;
  // Every zone's offset today is a whole number of minutes, so a minute of UTC falls in one local
  // hour unless the offset changes inside it: kept only when the minute's first and last
  // milliseconds agree.
  const start = minute * MINUTE_MS;
  if (formattedHour(start, timeZone) !== hour || formattedHour(start + MINUTE_MS - 1, timeZone) !== hour) return hour;
  if (zone === undefined) hourCache.set(timeZone, (zone = new Map()));
  if (zone.size >= HOUR_CACHE_MAX) zone.clear();
  zone.set(minute, hour);
  return hour;
}

/** Whole days between an account's opening and the event (0 on the opening day, never negative). */
export function accountAgeDays(openedAt: number, eventTime: number): number {
  return Math.max(0, Math.floor((eventTime - openedAt) / 86_400_000));
}

/** The card BIN (first 6-8 digits of a card, as the vault reports it) with the longest matching prefix. */
export function lookupBin<T>(bins: ReadonlyMap<string, T>, bin: string): T | undefined {
  for (let len = Math.min(8, bin.length); len >= 6; len--) {
    const hit = bins.get(bin.slice(0, len));
    if (hit !== undefined) return hit;
  }
  return undefined;
}

export type RiskTier = 'LOW' | 'MEDIUM' | 'HIGH';

/** What the reference data says about one transaction (absent when unknown). */
export interface StaticRefs {
  account?: { openedAt: number; homeCountry: string; riskTier: RiskTier; timeZone: string };
  merchant?: { riskTier: RiskTier };
  /** Units of the base currency per unit of the transaction's currency, valid at its event time. */
  fxRate?: string;
  /** Issuing country of the card's BIN, when the record carries a BIN and the table knows it. */
  binCountry?: string;
}

/** Static features of a transaction: the part of enrichment that needs no windowed state. */
export interface StaticFeatures {
  amount_base_minor: number | null;
  account_age_days: number | null;
  account_risk_tier: RiskTier | null;
  home_country_mismatch: boolean | null;
  ip_country_mismatch: boolean | null;
  merchant_risk_tier: RiskTier | null;
  bin_country_mismatch: boolean | null;
  hour_of_day: number;
}

/** Computes the static features; unknown reference data gives null, never a guess. */
export function staticFeatures(
  tx: { amount_minor: number; currency: string; event_time: number; merchant_country: string; ip_country: string | null },
  refs: StaticRefs,
  baseCurrency: string,
): StaticFeatures {
  const a = refs.account;
  const amountBase =
    tx.currency === baseCurrency
      ? tx.amount_minor
      : refs.fxRate === undefined
        ? null
        : convertMinor(tx.amount_minor, tx.currency, baseCurrency, refs.fxRate);
  return {
    amount_base_minor: amountBase,
    account_age_days: a ? accountAgeDays(a.openedAt, tx.event_time) : null,
    account_risk_tier: a?.riskTier ?? null,
    home_country_mismatch: a ? tx.merchant_country !== a.homeCountry : null,
    ip_country_mismatch: a && tx.ip_country !== null ? tx.ip_country !== a.homeCountry : null,
    merchant_risk_tier: refs.merchant?.riskTier ?? null,
    bin_country_mismatch: refs.binCountry === undefined ? null : refs.binCountry !== tx.merchant_country,
    hour_of_day: hourOfDay(tx.event_time, a?.timeZone ?? 'UTC'),
  };
}
