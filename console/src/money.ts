// Money as the API gives it: integer minor units (numbers, or decimal strings where sums can pass
// 2^53), shown in the currency's major unit without ever dividing a float.

const digitsCache = new Map<string, number>();

/** Fraction digits of an ISO 4217 currency (2 when the browser does not know it). */
export function currencyDigits(currency: string): number {
  let d = digitsCache.get(currency);
  if (d === undefined) {
    try {
      d = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    } catch {
      d = 2;
    }
    digitsCache.set(currency, d);
  }
  return d;
}

/** `minor` (an integer or its decimal string) as a decimal amount in the major unit, e.g. "-12.05". */
export function majorUnits(minor: number | string, currency: string): string {
  const text = String(minor).trim();
  const neg = text.startsWith('-');
  const abs = neg ? text.slice(1) : text;
  if (!/^\d+$/.test(abs)) return text;
  const digits = currencyDigits(currency);
  if (digits === 0) return `${neg ? '-' : ''}${abs}`;
  const padded = abs.padStart(digits + 1, '0');
  return `${neg ? '-' : ''}${padded.slice(0, -digits)}.${padded.slice(-digits)}`;
}

/** An amount with its currency code, e.g. "12.05 EUR". */
export function money(minor: number | string, currency: string): string {
  return `${majorUnits(minor, currency)} ${currency}`;
}
