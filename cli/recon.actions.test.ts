import { describe, expect, it } from 'vitest';
import { csvField } from './recon.actions.ts';

describe('csvField', () => {
  it('quotes what RFC 4180 needs and defuses spreadsheet formulas, keeping negative numbers', () => {
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField('=HYPERLINK("x")')).toBe(`"'=HYPERLINK(""x"")"`);
    expect(csvField('@SUM(A1)')).toBe("'@SUM(A1)");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-42')).toBe('-42');
    expect(csvField(null)).toBe('');
  });
});
