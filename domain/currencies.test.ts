import { describe, expect, it } from 'vitest';
import { formatMinor, minorUnits } from './currencies.ts';

describe('formatMinor', () => {
  it('writes minor units as the exact decimal amount of the currency', () => {
    expect(formatMinor(1234n, 'USD')).toBe('12.34');
    expect(formatMinor('-5', 'USD')).toBe('-0.05');
    expect(formatMinor(1234n, 'JPY')).toBe('1234');
    expect(formatMinor(1n, 'KWD')).toBe('0.001');
    expect(formatMinor('9007199254740993', 'USD')).toBe('90071992547409.93');
    expect(minorUnits('KWD')).toBe(3);
  });
});
