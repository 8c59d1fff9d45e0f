import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { accountAgeDays, convertMinor, hourOfDay, lookupBin, parseRate } from './enrich.ts';

describe('exact currency conversion', () => {
  it('converts across different minor units exactly', () => {
    expect(convertMinor(1_000, 'USD', 'USD', '1')).toBe(1_000);
    expect(convertMinor(1_000, 'EUR', 'USD', '1.08345')).toBe(1_083); // 10.00 EUR = 10.8345 USD -> 10.83
    expect(convertMinor(1_500, 'JPY', 'USD', '0.0066')).toBe(990); // 1,500 yen -> 9.90 USD
    expect(convertMinor(1_234, 'KWD', 'USD', '3.25')).toBe(401); // 1.234 KWD -> 4.0105 USD -> 4.01
    expect(convertMinor(1_000, 'USD', 'JPY', '151.5')).toBe(1_515); // 10.00 USD -> 1,515 yen
  });

  it('rounds half to even, once', () => {
    expect(convertMinor(1, 'USD', 'EUR', '0.5')).toBe(0); // 0.5 cent -> 0 (even)
    expect(convertMinor(3, 'USD', 'EUR', '0.5')).toBe(2); // 1.5 cents -> 2 (even)
  });

  it('rejects rates that are not plain positive decimals', () => {
    for (const bad of ['-1', '1e3', '0', 'abc', '1.12345678901']) expect(() => parseRate(bad), bad).toThrow(RangeError);
  });

  it('is monotonic in the amount (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1e12 }), fc.integer({ min: 1, max: 1e6 }), (a, b) => {
        expect(convertMinor(a + b, 'EUR', 'USD', '1.08345')).toBeGreaterThanOrEqual(convertMinor(a, 'EUR', 'USD', '1.08345'));
      }),
    );
  });
});

describe('static features', () => {
  it('takes the hour of day in the account zone, not UTC', () => {
    const t = Date.parse('2026-07-01T23:30:00Z');
    expect(hourOfDay(t, 'UTC')).toBe(23);
    expect(hourOfDay(t, 'Europe/Berlin')).toBe(1); // CEST, next day
    expect(hourOfDay(t, 'America/New_York')).toBe(19);
  });

  it('gives the hour Intl formats for every instant and zone, around DST changes too, cached or not (property)', () => {
    const zones = ['UTC', 'Europe/London', 'America/New_York', 'Asia/Kathmandu', 'Australia/Lord_Howe', 'Asia/Kolkata'];
    const exact = (t: number, zone: string) =>
      Number(new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: 'numeric', hourCycle: 'h23' }).format(t));
    // Instants near 2026's DST changes (London 29 Mar / 25 Oct 01:00 UTC, Lord Howe's half-hour
    // shifts, New York 8 Mar / 1 Nov), and anywhere in 2020-2030.
    const changes = ['2026-03-29T01:00:00Z', '2026-10-25T01:00:00Z', '2026-04-04T15:00:00Z', '2026-03-08T07:00:00Z'].map(
      Date.parse,
    );
    const instant = fc.oneof(
      fc.tuple(fc.constantFrom(...changes), fc.integer({ min: -7_200_000, max: 7_200_000 })).map(([c, d]) => c + d),
      fc.integer({ min: Date.parse('2020-01-01T00:00:00Z'), max: Date.parse('2030-01-01T00:00:00Z') }),
    );
    fc.assert(
      fc.property(instant, fc.constantFrom(...zones), (t, zone) => {
        expect(hourOfDay(t, zone)).toBe(exact(t, zone));
        expect(hourOfDay(t, zone)).toBe(exact(t, zone));
      }),
      { numRuns: 2_000 },
    );
  });

  it('counts whole days since opening, never negative', () => {
    const opened = Date.parse('2026-01-01T12:00:00Z');
    expect(accountAgeDays(opened, Date.parse('2026-01-01T18:00:00Z'))).toBe(0);
    expect(accountAgeDays(opened, Date.parse('2026-01-11T12:00:00Z'))).toBe(10);
    expect(accountAgeDays(opened, Date.parse('2025-12-01T00:00:00Z'))).toBe(0);
  });

  it('finds the longest BIN prefix', () => {
    const bins = new Map([
      ['411111', 'US'],
      ['41111122', 'GB'],
    ]);
    expect(lookupBin(bins, '41111122')).toBe('GB');
    expect(lookupBin(bins, '41111199')).toBe('US');
    expect(lookupBin(bins, '999999')).toBeUndefined();
  });
});

describe('staticFeatures', () => {
  const tx = {
    amount_minor: 10_000,
    currency: 'EUR',
    event_time: Date.parse('2026-03-10T08:15:00Z'),
    merchant_country: 'FR',
    ip_country: 'NG',
  };
  it('derives every feature from the record and the reference data only', async () => {
    const { staticFeatures } = await import('./enrich.ts');
    const f = staticFeatures(
      tx,
      {
        account: { openedAt: Date.parse('2026-03-01T00:00:00Z'), homeCountry: 'DE', riskTier: 'LOW', timeZone: 'Europe/Berlin' },
        merchant: { riskTier: 'HIGH' },
        fxRate: '1.08',
      },
      'USD',
    );
    expect(f).toEqual({
      amount_base_minor: 10_800,
      account_age_days: 9,
      account_risk_tier: 'LOW',
      home_country_mismatch: true,
      ip_country_mismatch: true,
      merchant_risk_tier: 'HIGH',
      bin_country_mismatch: null,
      hour_of_day: 9,
    });
  });

  it('gives null, not a guess, for unknown reference data', async () => {
    const { staticFeatures } = await import('./enrich.ts');
    const f = staticFeatures(tx, {}, 'USD');
    expect(f.amount_base_minor).toBeNull();
    expect(f.account_age_days).toBeNull();
    expect(f.home_country_mismatch).toBeNull();
    expect(f.hour_of_day).toBe(8); // UTC when the account's zone is unknown
  });
});
