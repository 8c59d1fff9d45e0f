/** ISO 4217 active currency codes and their minor-unit exponents (pure data, no I/O). */

const ZERO = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF';
const THREE = 'BHD IQD JOD KWD LYD OMR TND';
const FOUR = 'CLF UYW';
const TWO =
  'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD CAD CDF CHE CHF CHW ' +
  'CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR ' +
  'IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN ' +
  'NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB ' +
  'TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG';

const table = new Map<string, number>();
for (const [codes, exp] of [
  [ZERO, 0],
  [TWO, 2],
  [THREE, 3],
  [FOUR, 4],
] as const) {
  for (const code of codes.split(' ')) table.set(code, exp);
}

/** Minor-unit exponent of an ISO 4217 code (2 for USD, 0 for JPY, 3 for KWD), or undefined if unknown. */
export function minorUnits(code: string): number | undefined {
  return table.get(code);
}

/** Whether the code is an active ISO 4217 currency txmon accepts. */
export function isKnownCurrency(code: string): boolean {
  return table.has(code);
}

/** Minor units as an exact decimal amount of the currency ("-12.34" for -1234 USD, "1234" for JPY). */
export function formatMinor(minor: bigint | string, code: string): string {
  const exp = minorUnits(code) ?? 2;
  const v = BigInt(minor);
  const abs = (v < 0n ? -v : v).toString().padStart(exp + 1, '0');
  const whole = abs.slice(0, abs.length - exp);
  return `${v < 0n ? '-' : ''}${whole}${exp > 0 ? `.${abs.slice(abs.length - exp)}` : ''}`;
}
