import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { lookupSql } from './lookup-stored.ts';

/** The statement as mysql2 formats `IN (?)` with the ids (what lookupStored sent before lookupSql). */
const viaMysql2 = (ids: readonly string[]) =>
  mysql.format(lookupSql(['x']).replace(/IN \('x'\)$/, 'IN (?)'), [[...ids]], false, 'Z');

describe('lookupSql', () => {
  it('writes the ids as mysql2 escapes them, one tuple', () => {
    const ids = ['tx-1', "it's", 'back\\slash', 'nul\0', 'ünï', '"q"', '\n\r\t\x1a'];
    expect(lookupSql(ids)).toBe(viaMysql2(ids));
    expect(lookupSql(['a', 'b']).endsWith("IN ('a', 'b')")).toBe(true);
  });

  it('equals mysql2’s text for any ids', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 20 }), (ids) => {
        expect(lookupSql(ids)).toBe(viaMysql2(ids));
      }),
    );
  });

  it('refuses an empty list (IN () is not SQL)', () => {
    expect(() => lookupSql([])).toThrow(RangeError);
  });
});
