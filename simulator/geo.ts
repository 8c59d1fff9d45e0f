/** Reference data for realistic traffic: countries of each currency, country centroids, rough FX rates. */

/** Countries that use a currency, for the currencies the defaults use; others fall back to the code's first two letters. */
const CURRENCY_COUNTRIES: Readonly<Record<string, readonly string[]>> = {
  USD: ['US'],
  EUR: ['DE', 'FR', 'NL', 'ES', 'IT', 'IE'],
  GBP: ['GB'],
  JPY: ['JP'],
  KWD: ['KW'],
  CHF: ['CH'],
};

/** Approximate country centroids [latitude, longitude]. */
const CENTROIDS: Readonly<Record<string, readonly [number, number]>> = {
  US: [39.8, -98.6],
  DE: [51.2, 10.4],
  FR: [46.6, 2.2],
  NL: [52.1, 5.3],
  ES: [40.4, -3.7],
  IT: [42.8, 12.5],
  IE: [53.4, -8.2],
  GB: [54.0, -2.0],
  JP: [36.2, 138.3],
  KW: [29.3, 47.5],
  CH: [46.8, 8.2],
  CA: [56.1, -106.3],
  AU: [-25.3, 133.8],
  SE: [60.1, 18.6],
  NO: [60.5, 8.5],
  DK: [56.3, 9.5],
  PL: [51.9, 19.1],
  IN: [20.6, 79.0],
  BR: [-14.2, -51.9],
  MX: [23.6, -102.6],
  SG: [1.35, 103.8],
  HK: [22.3, 114.2],
  NZ: [-40.9, 174.9],
  ZA: [-30.6, 22.9],
  BH: [26.0, 50.6],
};

/** Units of each currency per US dollar, rough: enough for plausible amounts, not for money. */
const PER_USD: Readonly<Record<string, number>> = {
  USD: 1,
  EUR: 0.92,
  GBP: 0.79,
  JPY: 150,
  KWD: 0.31,
  CHF: 0.88,
  CAD: 1.36,
  AUD: 1.52,
  SEK: 10.5,
  NOK: 10.6,
  DKK: 6.9,
  PLN: 4.0,
  INR: 83,
  BRL: 5.0,
  MXN: 17,
  SGD: 1.35,
  HKD: 7.8,
  NZD: 1.65,
  ZAR: 18.5,
  BHD: 0.377,
  KRW: 1330,
  CNY: 7.2,
};

/** Countries where fraudsters' IPs come from in the labelled patterns. */
export const FOREIGN_IP_COUNTRIES: readonly string[] = ['NG', 'RU', 'BR', 'VN', 'RO', 'ID', 'UA', 'PH'];

/** Countries whose home currency is `currency` (ISO 4217 codes mostly start with the ISO 3166 country code). */
export function countriesOf(currency: string): readonly string[] {
  return CURRENCY_COUNTRIES[currency] ?? [currency.slice(0, 2)];
}

/** Approximate centroid of a country, or undefined when unknown. */
export function centroidOf(country: string): readonly [number, number] | undefined {
  return CENTROIDS[country];
}

/** Units of `currency` per US dollar (1 when the simulator has no rate for it). */
export function perUsd(currency: string): number {
  return PER_USD[currency] ?? 1;
}

/** Every country the simulator knows, sorted: the stable index behind simulated BINs. */
export const KNOWN_COUNTRIES: readonly string[] = Object.freeze(Object.keys(CENTROIDS).sort());

/**
 * A card's simulated BIN, derived from its token (no random draw, so the seeded world is unchanged):
 * "4" + the issuing country's index + three digits. One card in twelve is issued abroad.
 */
export function simulatedBin(token: string, homeCountry: string): { bin: string; country: string } {
  const h = parseInt(token.slice(-8), 16) || 0;
  const home = Math.max(0, KNOWN_COUNTRIES.indexOf(homeCountry));
  const index = h % 12 === 0 ? (home + 1 + (h % (KNOWN_COUNTRIES.length - 1))) % KNOWN_COUNTRIES.length : home;
  return {
    bin: `4${String(index).padStart(2, '0')}${String(h % 1000).padStart(3, '0')}`,
    country: KNOWN_COUNTRIES[index] as string,
  };
}
