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

// What the mutation run showed unpinned (`npm run mutation`): the rate's text, every refusal's
// message, negative amounts' rounding, the range guard, the cached hour against DST, matches.
describe('conversion and static features: edges', () => {
  it('reads a rate with blanks around it and at most 10 fraction digits, naming what it refuses', () => {
    expect(parseRate(' 1.5 ')).toBe(15_000_000_000n);
    expect(parseRate('2')).toBe(20_000_000_000n);
    expect(parseRate('0.0000000001')).toBe(1n);
    expect(() => parseRate('1.')).toThrow('FX rate "1." is not a positive decimal with at most 10 fraction digits');
    expect(() => parseRate('0.000')).toThrow('FX rate must be positive');
  });

  it('refuses unknown currencies and unsafe amounts by name', () => {
    expect(() => convertMinor(1, 'XXZ', 'USD', '1')).toThrow('unknown currency XXZ');
    expect(() => convertMinor(1, 'USD', 'XXZ', '1')).toThrow('unknown currency XXZ');
    expect(() => convertMinor(2 ** 53, 'USD', 'EUR', '1')).toThrow(`amount ${2 ** 53} is not a safe integer`);
    expect(() => convertMinor(1.5, 'USD', 'USD', '1')).toThrow('amount 1.5 is not a safe integer');
    // The same currency is the amount itself, whatever the rate says.
    expect(convertMinor(777, 'EUR', 'EUR', '3')).toBe(777);
  });

  it('rounds negative amounts half to even as positive ones, mirrored', () => {
    expect(convertMinor(-1, 'USD', 'EUR', '0.5')).toBe(0); // -0.5 cent -> 0 (even; a bigint has no -0)
    expect(convertMinor(-3, 'USD', 'EUR', '0.5')).toBe(-2);
    expect(convertMinor(-5, 'USD', 'EUR', '0.5')).toBe(-2);
    expect(convertMinor(-7, 'USD', 'EUR', '0.5')).toBe(-4);
    expect(convertMinor(-1_000, 'EUR', 'USD', '1.08345')).toBe(-1_083);
    expect(convertMinor(-1_235, 'USD', 'EUR', '0.9')).toBe(-1_112); // -1,111.5 -> -1,112 (even)
    expect(convertMinor(5, 'USD', 'EUR', '0.5')).toBe(2);
    expect(convertMinor(7, 'USD', 'EUR', '0.5')).toBe(4);
    // Equal exponents (USD to EUR, 2 and 2): no shift either way.
    expect(convertMinor(100, 'USD', 'EUR', '1')).toBe(100);
  });

  it('refuses a converted amount beyond the safe integers, at the exact bound', () => {
    const max = Number.MAX_SAFE_INTEGER;
    expect(convertMinor(max, 'USD', 'EUR', '1')).toBe(max);
    expect(convertMinor(-max, 'USD', 'EUR', '1')).toBe(-max);
    expect(() => convertMinor(max, 'USD', 'EUR', '1.0000000001')).toThrow('converted amount is out of range');
    expect(() => convertMinor(-max, 'USD', 'EUR', '1.0000000001')).toThrow('converted amount is out of range');
  });

  it('gives the right hour for every minute around a DST change, asked twice (cached and not)', () => {
    // Europe/London moved from 01:59:59 GMT to 03:00 BST at 2026-03-29T01:00:00Z.
    const change = Date.parse('2026-03-29T01:00:00Z');
    for (let t = change - 3 * 60_000; t <= change + 3 * 60_000; t += 30_000) {
      const want = Number(
        new Intl.DateTimeFormat('en-GB', { timeZone: 'Europe/London', hour: 'numeric', hourCycle: 'h23' }).format(t),
      );
      expect(hourOfDay(t, 'Europe/London'), new Date(t).toISOString()).toBe(want);
      expect(hourOfDay(t, 'Europe/London'), new Date(t).toISOString()).toBe(want);
    }
    // A zone half an hour off UTC: each minute is in one hour, the last millisecond of 09:59 too.
    expect(hourOfDay(Date.parse('2026-01-10T04:29:59.999Z'), 'Asia/Kolkata')).toBe(9);
    expect(hourOfDay(Date.parse('2026-01-10T04:30:00Z'), 'Asia/Kolkata')).toBe(10);
    expect(hourOfDay(Date.parse('2026-01-10T04:29:59.999Z'), 'Asia/Kolkata')).toBe(9);
  });

  it('finds a BIN by its 6, 7 or 8 first digits only', () => {
    const bins = new Map([['123456', 'six']]);
    expect(lookupBin(bins, '12345678')).toBe('six');
    expect(lookupBin(bins, '12345')).toBeUndefined();
    expect(lookupBin(new Map([['1234567', 'seven']]), '123456789')).toBe('seven');
  });

  it('compares countries only where both are known: home, IP and BIN', async () => {
    const { staticFeatures } = await import('./enrich.ts');
    const base = {
      amount_minor: 500,
      currency: 'USD',
      event_time: Date.parse('2026-03-10T08:15:00Z'),
      merchant_country: 'US',
      ip_country: null,
    };
    const account = {
      openedAt: Date.parse('2026-03-10T00:00:00Z'),
      homeCountry: 'US',
      riskTier: 'MEDIUM' as const,
      timeZone: 'UTC',
    };
    expect(staticFeatures(base, { account, binCountry: 'US' }, 'USD')).toMatchObject({
      amount_base_minor: 500,
      account_age_days: 0,
      home_country_mismatch: false,
      ip_country_mismatch: null,
      bin_country_mismatch: false,
    });
    expect(staticFeatures({ ...base, ip_country: 'US' }, { account, binCountry: 'GB' }, 'USD')).toMatchObject({
      ip_country_mismatch: false,
      bin_country_mismatch: true,
    });
    expect(staticFeatures({ ...base, ip_country: 'GB' }, {}, 'USD').ip_country_mismatch).toBeNull();
    // The base currency needs no rate; another one without a rate has no base amount.
    expect(staticFeatures({ ...base, currency: 'EUR' }, { fxRate: '2' }, 'USD').amount_base_minor).toBe(1000);
  });
});
