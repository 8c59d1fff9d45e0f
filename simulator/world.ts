/** The simulated population: accounts with cards and devices, merchants with an MCC and a location; amount helpers. */
import { minorUnits } from '../domain/currencies.ts';
import { centroidOf, countriesOf, perUsd, simulatedBin } from './geo.ts';
import type { Rng } from '../domain/rng.ts';
import type { Channel, SimOptions } from './types.ts';

export interface MccProfile {
  readonly mcc: string;
  readonly name: string;
  /** Relative share of merchants with this MCC. */
  readonly weight: number;
  /** Spend multiplier over an account's typical spend. */
  readonly spend: number;
  /** Channels a purchase at such a merchant uses (repeats weight them). */
  readonly channels: readonly Channel[];
}

export const MCCS: readonly MccProfile[] = [
  { mcc: '5411', name: 'grocery', weight: 22, spend: 1, channels: ['POS', 'POS', 'POS', 'ECOMMERCE'] },
  { mcc: '5541', name: 'fuel', weight: 12, spend: 1.1, channels: ['POS'] },
  { mcc: '5812', name: 'restaurants', weight: 16, spend: 0.8, channels: ['POS', 'POS', 'ECOMMERCE'] },
  { mcc: '5999', name: 'ecommerce retail', weight: 14, spend: 1.3, channels: ['ECOMMERCE'] },
  { mcc: '4511', name: 'airlines', weight: 3, spend: 8, channels: ['ECOMMERCE', 'ECOMMERCE', 'MOTO'] },
  { mcc: '5944', name: 'jewelry', weight: 2, spend: 6, channels: ['POS', 'ECOMMERCE'] },
  { mcc: '7995', name: 'gambling', weight: 2, spend: 1.5, channels: ['ECOMMERCE'] },
  { mcc: '5816', name: 'digital goods', weight: 7, spend: 0.3, channels: ['ECOMMERCE'] },
  { mcc: '5732', name: 'electronics', weight: 4, spend: 4, channels: ['POS', 'ECOMMERCE'] },
  { mcc: '4121', name: 'taxis', weight: 6, spend: 0.6, channels: ['POS', 'ECOMMERCE'] },
  { mcc: '4899', name: 'streaming', weight: 4, spend: 0.4, channels: ['RECURRING'] },
  { mcc: '7011', name: 'hotels', weight: 3, spend: 5, channels: ['POS', 'ECOMMERCE', 'MOTO'] },
  { mcc: '6011', name: 'cash (ATM)', weight: 5, spend: 2, channels: ['ATM'] },
];

/** Largest single amount the simulator produces, in US dollars. */
const MAX_USD = 25_000;

export interface Card {
  readonly token: string;
  readonly last4: string;
  /** BIN of the card (see simulatedBin) and the country that issued it. */
  readonly bin: string;
  readonly binCountry: string;
}

export interface Account {
  readonly id: string;
  readonly country: string;
  readonly currency: string;
  /** Typical purchase in US dollars (lognormal across accounts). */
  readonly typicalUsd: number;
  readonly cards: readonly Card[];
  readonly devices: readonly string[];
}

export interface Merchant {
  readonly id: string;
  readonly profile: MccProfile;
  readonly country: string;
  readonly latitude: number | null;
  readonly longitude: number | null;
}

/** Picks items with probability proportional to their weights (cumulative table + binary search). */
export class WeightedPicker<T> {
  private readonly cumulative: number[] = [];
  private readonly total: number;

  constructor(
    private readonly items: readonly T[],
    weights: readonly number[],
  ) {
    if (items.length === 0 || items.length !== weights.length) throw new RangeError('WeightedPicker needs one weight per item');
    let sum = 0;
    for (const w of weights) this.cumulative.push((sum += w));
    this.total = sum;
  }

  pick(rng: Rng): T {
    const x = rng.next() * this.total;
    let lo = 0;
    let hi = this.cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.cumulative[mid] as number) > x) hi = mid;
      else lo = mid + 1;
    }
    return this.items[lo] as T;
  }
}

export interface World {
  readonly accounts: readonly Account[];
  /** Accounts weighted by activity: a few accounts transact much more than most. */
  readonly activeAccounts: WeightedPicker<Account>;
  readonly merchants: readonly Merchant[];
  readonly merchantsByCountry: ReadonlyMap<string, readonly Merchant[]>;
  /** Home currency of each country that has accounts or merchants. */
  readonly countryCurrency: ReadonlyMap<string, string>;
}

function pad6(n: number): string {
  return String(n).padStart(6, '0');
}

function digits(rng: Rng, n: number): string {
  let out = '';
  for (let i = 0; i < n; i++) out += String(rng.int(0, 9));
  return out;
}

function round5(x: number): number {
  return Math.round(x * 1e5) / 1e5;
}

/** Builds accounts and merchants from the options; consumes rng deterministically. */
export function buildWorld(opts: SimOptions, rng: Rng): World {
  // Earlier currencies in the list are more common, like a home market with a few foreign ones.
  const currencyPicker = new WeightedPicker(
    opts.currencies,
    opts.currencies.map((_, i) => 1 / (i + 1)),
  );
  const countryCurrency = new Map<string, string>();

  const accounts: Account[] = [];
  const activity: number[] = [];
  for (let i = 0; i < opts.accounts; i++) {
    const currency = currencyPicker.pick(rng);
    const country = rng.pick(countriesOf(currency));
    countryCurrency.set(country, currency);
    const cards: Card[] = [];
    for (let c = 0; c < opts.cardsPerAccount; c++) {
      const token = `tok_${rng.hex(24)}`;
      const b = simulatedBin(token, country);
      cards.push({ token, last4: digits(rng, 4), bin: b.bin, binCountry: b.country });
    }
    const devices: string[] = [];
    for (let d = 0; d < opts.devicesPerAccount; d++) devices.push(`dev-${rng.hex(16)}`);
    accounts.push({ id: `acc-${pad6(i)}`, country, currency, typicalUsd: rng.lognormal(Math.log(35), 0.6), cards, devices });
    activity.push(rng.lognormal(0, 1));
  }

  const mccPicker = new WeightedPicker(
    MCCS,
    MCCS.map((m) => m.weight),
  );
  const merchants: Merchant[] = [];
  const merchantsByCountry = new Map<string, Merchant[]>();
  for (let i = 0; i < opts.merchants; i++) {
    const currency = currencyPicker.pick(rng);
    const country = rng.pick(countriesOf(currency));
    countryCurrency.set(country, currency);
    const centroid = centroidOf(country);
    const merchant: Merchant = {
      id: `mer-${pad6(i)}`,
      profile: mccPicker.pick(rng),
      country,
      latitude: centroid ? round5(centroid[0] + rng.normal(0, 1.5)) : null,
      longitude: centroid ? round5(centroid[1] + rng.normal(0, 1.5)) : null,
    };
    merchants.push(merchant);
    const list = merchantsByCountry.get(country);
    if (list) list.push(merchant);
    else merchantsByCountry.set(country, [merchant]);
  }

  return { accounts, activeAccounts: new WeightedPicker(accounts, activity), merchants, merchantsByCountry, countryCurrency };
}

function exponentOf(currency: string): number {
  const exp = minorUnits(currency);
  if (exp === undefined) throw new RangeError(`unknown currency ${currency}`);
  return exp;
}

/** A US-dollar amount as positive integer minor units of `currency` (whole yen for JPY, fils for KWD). */
export function minorFromUsd(usd: number, currency: string): number {
  const major = Math.min(Math.max(usd, 0), MAX_USD) * perUsd(currency);
  return Math.max(1, Math.round(major * 10 ** exponentOf(currency)));
}

/**
 * A US-dollar amount rounded to a round local amount, in minor units: multiples of about `stepUsd`
 * expressed in a round local step (10 USD, 10 EUR, 1,000 JPY, 1 KWD for stepUsd = 10).
 */
export function roundMinorFromUsd(usd: number, currency: string, stepUsd: number): number {
  const step = stepUsd * 10 ** Math.round(Math.log10(perUsd(currency)));
  const major = Math.max(step, Math.round((Math.min(usd, MAX_USD) * perUsd(currency)) / step) * step);
  return Math.round(major * 10 ** exponentOf(currency));
}
