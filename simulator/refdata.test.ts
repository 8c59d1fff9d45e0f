import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { validateRow, type RefdataKind } from '../refdata/rows.ts';
import { generateEvents } from './generate.ts';
import { refdataCsvs } from './refdata.ts';
import { DEFAULT_SIM_OPTIONS } from './types.ts';

const opts = { ...DEFAULT_SIM_OPTIONS, count: 5_000 };

describe('simulated reference data', () => {
  const csv = refdataCsvs(opts);
  const rows = (kind: RefdataKind, text: string) => parse(text, { columns: true }) as Array<Record<string, string>>;

  it('is valid for `txmon refdata load`, every line', () => {
    for (const [kind, text] of [
      ['accounts', csv.accounts],
      ['merchants', csv.merchants],
      ['bins', csv.bins],
      ['fx', csv.fx],
    ] as const) {
      const parsed = rows(kind, text);
      expect(parsed.length).toBeGreaterThan(0);
      parsed.forEach((r, i) => expect(validateRow(kind, r, i + 2)).toMatchObject({ ok: true }));
    }
  });

  it('covers every account and merchant the stream refers to, and every non-base currency', () => {
    const accounts = new Set(rows('accounts', csv.accounts).map((r) => r.account_id));
    const merchants = new Set(rows('merchants', csv.merchants).map((r) => r.merchant_id));
    const currencies = new Set(rows('fx', csv.fx).map((r) => r.currency));
    const bins = new Map(rows('bins', csv.bins).map((r) => [r.bin, r.issuing_country]));
    let foreign = 0;
    for (const e of generateEvents(opts)) {
      if (e.kind !== 'valid') continue;
      expect(accounts.has(e.tx.account_id), e.tx.account_id).toBe(true);
      expect(merchants.has(e.tx.merchant_id), e.tx.merchant_id).toBe(true);
      if (e.tx.currency !== 'USD') expect(currencies.has(e.tx.currency), e.tx.currency).toBe(true);
      expect(bins.has(e.tx.card_bin ?? ''), String(e.tx.card_bin)).toBe(true);
      if (bins.get(e.tx.card_bin ?? '') !== e.tx.merchant_country) foreign++;
    }
    // Some cards are used outside their issuing country (the BIN-country mismatch feature).
    expect(foreign).toBeGreaterThan(0);
  });

  it('is deterministic per seed', () => {
    expect(refdataCsvs(opts)).toEqual(csv);
    expect(refdataCsvs({ ...opts, seed: 43 }).accounts).not.toBe(csv.accounts);
  });
});
