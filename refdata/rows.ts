/** Row schemas of the reference-data CSV files (pure): one zod schema per kind, with the header it expects. */
import { z } from 'zod';
import { isKnownCurrency } from '../domain/currencies.ts';
import { parseRate } from '../domain/enrich.ts';

const country = z.string().regex(/^[A-Z]{2}$/, 'ISO 3166-1 alpha-2, e.g. GB');
const id = z.string().regex(/^[\x21-\x7e]{1,64}$/, '1-64 printable characters without spaces');
const tier = z.enum(['LOW', 'MEDIUM', 'HIGH']);
const instant = z
  .string()
  .refine((s) => !Number.isNaN(Date.parse(s)) && /\d{4}-\d{2}-\d{2}/.test(s), 'ISO 8601 date or time, e.g. 2026-01-31T00:00:00Z')
  .transform((s) => new Date(Date.parse(s)));
const timeZone = z.string().refine((tz) => {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}, 'an IANA time zone, e.g. Europe/London');
const currency = z.string().refine(isKnownCurrency, 'an active ISO 4217 code');

export const REFDATA = {
  accounts: {
    table: 'ref_accounts',
    columns: ['account_id', 'opened_at', 'home_country', 'risk_tier', 'time_zone'],
    row: z.object({ account_id: id, opened_at: instant, home_country: country, risk_tier: tier, time_zone: timeZone }),
  },
  merchants: {
    table: 'ref_merchants',
    columns: ['merchant_id', 'mcc', 'country', 'risk_tier'],
    row: z.object({ merchant_id: id, mcc: z.string().regex(/^\d{4}$/, '4 digits'), country, risk_tier: tier }),
  },
  bins: {
    table: 'ref_card_bins',
    columns: ['bin', 'issuing_country'],
    row: z.object({ bin: z.string().regex(/^\d{6,8}$/, '6 to 8 digits'), issuing_country: country }),
  },
  fx: {
    table: 'ref_fx_rates',
    columns: ['currency', 'base_currency', 'valid_from', 'rate'],
    row: z.object({
      currency,
      base_currency: currency,
      valid_from: instant,
      rate: z.string().refine((r) => {
        try {
          parseRate(r);
          return true;
        } catch {
          return false;
        }
      }, 'a positive decimal with at most 10 fraction digits'),
    }),
  },
} as const;

export type RefdataKind = keyof typeof REFDATA;

export interface RowProblem {
  line: number;
  message: string;
}

/** Validates one parsed CSV record; returns the values in column order, or the problems. */
export function validateRow(
  kind: RefdataKind,
  record: Record<string, string>,
  line: number,
): { ok: true; values: unknown[] } | { ok: false; problem: RowProblem } {
  const spec = REFDATA[kind];
  const parsed = spec.row.safeParse(record);
  if (!parsed.success) {
    const message = parsed.error.issues.map((i) => `${String(i.path[0] ?? '?')}: ${i.message}`).join('; ');
    return { ok: false, problem: { line, message } };
  }
  const data = parsed.data as Record<string, unknown>;
  return { ok: true, values: spec.columns.map((c) => data[c]) };
}
