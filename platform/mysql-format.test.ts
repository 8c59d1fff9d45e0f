// The pool's queryFormat must format exactly as mysql2 does (sql-escaper with the pool's settings),
// skipping only the scan of a statement that has no values to put in.
import fc from 'fast-check';
import mysql from 'mysql2';
import { describe, expect, it } from 'vitest';
import { formatQuery } from './mysql.ts';

const sqlText = fc.string({
  unit: fc.constantFrom('?', '??', "'", '"', '`', '\\', '#', '-- ', '/*', '*/', ' ', 'a', '\n', ',', '('),
  maxLength: 30,
});
const value = fc.oneof(
  fc.string(),
  fc.double(),
  fc.integer(),
  fc.boolean(),
  fc.constant(null),
  fc.date({ noInvalidDate: false }),
  fc.array(fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxLength: 3 }),
);

describe('formatQuery', () => {
  it("formats as mysql2's own formatter does, for any statement and values", () => {
    fc.assert(
      fc.property(
        sqlText,
        fc.oneof(fc.constant(undefined), fc.constant(null), fc.array(value, { maxLength: 4 })),
        (sql, values) => {
          expect(formatQuery(sql, values, 'Z')).toBe(mysql.format(sql, values as mysql.SqlValue, false, 'Z'));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('sends a statement without values as it is', () => {
    const sql = "INSERT INTO t VALUES ('?', 'a\\'b') -- ?";
    expect(formatQuery(sql, [], 'Z')).toBe(sql);
    expect(formatQuery(sql, undefined, 'Z')).toBe(sql);
    expect(formatQuery('SELECT ?', [new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6))], 'Z')).toBe("SELECT '2026-01-02 03:04:05.006'");
  });
});
