import { describe, expect, it } from 'vitest';
import { isoDay, isoTime } from './iso-time.ts';

describe('isoTime and isoDay', () => {
  it('format times a Date holds, and say the number for those it cannot (never throw)', () => {
    expect(isoTime(0)).toBe('1970-01-01T00:00:00.000Z');
    expect(isoTime(8.64e15)).toBe('+275760-09-13T00:00:00.000Z');
    expect(isoTime(8.64e15 + 1)).toBe('8640000000000001 ms since 1970');
    expect(isoTime(Number.MAX_SAFE_INTEGER)).toBe('9007199254740991 ms since 1970');
    expect(isoTime(NaN)).toBe('NaN ms since 1970');
    expect(isoDay(20_000)).toBe('2024-10-04');
    expect(isoDay(2 ** 31 - 1)).toBe('2147483647 days since 1970');
  });
});
