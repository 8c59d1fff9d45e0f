// The settlement import over files generated from schemas/settlement.avsc (issue 22): a header of the
// schema's field names and rows of schema-generated values (edges first) written as CSV cells, most
// of them near a valid line (all but up to three cells from one), some with cells missing or extra.
// At least 10,000 lines a run: each is a settlement, a repeat or a bad line with its class and
// reason, once, at its own line number; nothing throws; no card number in a message or a raw line.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { containsPan } from '../domain/pan.ts';
import { isoDay, isoTime } from '../domain/iso-time.ts';
import { validateSettlement, type Settlement } from '../domain/settlement.ts';
import { validateTransaction } from '../domain/transaction.ts';
import { sampleTransaction } from '../domain/transaction.fixture.ts';
import { schemaText } from '../schemas/index.ts';
import { avroArbitrary } from '../tests/helpers/avro-arbitrary.ts';
import { parseSettlementCsv } from './settlement-csv.ts';

type Field = { name: string; type: unknown };
const schema = JSON.parse(schemaText('settlement')) as { type: 'record'; fields: Field[] };
const NOW = 1_796_000_000_000;
const DAY = 86_400_000;
const logical = (f: Field) =>
  typeof f.type === 'object' && f.type !== null ? (f.type as { logicalType?: string }).logicalType : undefined;

/** A line the import accepts at NOW. */
const validSettlement = (id: string): Settlement => ({
  settlement_id: `s-${id}`,
  transaction_reference: `tx-${id}`,
  amount_minor: 1999,
  currency: 'USD',
  settlement_date: Math.floor(NOW / DAY),
  batch_id: 'b-1',
  fee_minor: 0,
  event_time: NOW - 3_600_000,
});

/** A generated value as a bank would write its cell: dates and times as text (mostly), numbers in decimal. */
function cellText(f: Field, v: unknown, asText: boolean): string {
  if (logical(f) === 'date') return asText ? isoDay(v as number) : String(v);
  if (logical(f) === 'timestamp-millis') return asText ? isoTime(v as number) : String(v);
  return String(v);
}

/** RFC 4180 quoting where a cell needs it. */
const csvCell = (text: string) => (/[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text);

const anySettlement = avroArbitrary(schema) as fc.Arbitrary<Record<string, unknown>>;
const row = fc
  .tuple(
    anySettlement,
    fc.subarray(
      schema.fields.map((f) => f.name),
      { maxLength: 3 },
    ),
    fc.uuid(),
    fc.boolean(),
    fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -2, max: 2 }) }),
  )
  .map(([any, drawn, id, asText, widthChange]) => {
    const base = validSettlement(id) as unknown as Record<string, unknown>;
    const cells = schema.fields.map((f) => {
      const value = drawn.includes(f.name) || !(f.name in base) ? any[f.name] : base[f.name];
      return csvCell(cellText(f, value, asText || !drawn.includes(f.name)));
    });
    // Cells missing or extra (empty or not), as a broken export has them.
    if (widthChange < 0) cells.splice(cells.length + widthChange);
    for (let i = 0; i < widthChange; i++) cells.push(i === 0 ? '' : 'extra');
    return cells.join(',');
  });

describe('the settlement import, on files generated from the Avro schema', () => {
  it(
    'property: ≥ 10,000 lines, each a settlement, a repeat or a bad line with a reason, once; never a throw; no card number shown',
    { timeout: 60_000 },
    () => {
      const header = schema.fields.map((f) => f.name).join(',');
      const counts = { lines: 0, settlement: 0, repeat: 0, bad: 0 };
      fc.assert(
        fc.property(fc.array(row, { minLength: 125, maxLength: 160 }), (rows) => {
          const items = parseSettlementCsv(`${header}\n${rows.join('\n')}\n`, {
            defaultBatchId: 'file-1',
            importTime: NOW,
            maxFutureSkewMs: 300_000,
          });
          expect(items[0]?.kind).toBe('header');
          const data = items.slice(1);
          // One item per row, at the line the row starts on (a quoted cell's line breaks push the next rows down).
          expect(data.map((i) => i.line)).toEqual(startLines(rows));
          for (const item of data) {
            if (item.kind === 'bad') {
              expect(item.message.length).toBeGreaterThan(0);
              expect(containsPan(item.message)).toBe(false);
              expect(containsPan(item.raw)).toBe(false);
            } else if (item.kind === 'settlement') {
              // What it accepts, the validator accepts (with the import's clock).
              expect(validateSettlement(item.settlement, { recordTimestamp: NOW, maxFutureSkewMs: 300_000 }).ok).toBe(true);
            }
            counts[item.kind as 'settlement' | 'repeat' | 'bad']++;
          }
          counts.lines += rows.length;
        }),
        { numRuns: 80 },
      );
      expect(counts.lines).toBeGreaterThanOrEqual(10_000);
      expect(counts.settlement + counts.repeat + counts.bad).toBe(counts.lines);
      expect(counts.settlement).toBeGreaterThan(0);
      expect(counts.bad).toBeGreaterThan(0);
    },
  );
});

/** The line each row starts on, the header being line 1 (CRLF, CR and LF each end a line, as the reader counts). */
function startLines(rows: readonly string[]): number[] {
  const out: number[] = [];
  let line = 2;
  for (const r of rows) {
    out.push(line);
    line += r.split(/\r\n|\r|\n/).length;
  }
  return out;
}

describe('found by the generated records (issue 22), kept as examples', () => {
  const limits = { recordTimestamp: NOW, maxFutureSkewMs: 300_000 };
  const settlement = validSettlement('1');

  it('a time or a date beyond what a Date holds is a validation problem, not a RangeError', () => {
    const far = validateTransaction(sampleTransaction({ event_time: 2 ** 53 - 2 }), limits);
    expect(far.ok).toBe(false);
    const late = validateSettlement({ ...settlement, event_time: 9e15 }, limits);
    expect(late.ok).toBe(false);
    const ahead = validateSettlement({ ...settlement, settlement_date: 2 ** 31 - 1 }, limits);
    expect(ahead).toMatchObject({
      ok: false,
      problems: [expect.stringMatching(/^settlement_date 2147483647 days since 1970 is more than/)],
    });
  });

  it('a card number typed into an amount or a time is described in the reason, never quoted', () => {
    const pan = 4_111_111_111_111_111; // Luhn-valid, a test card's number
    const tx = validateTransaction(sampleTransaction({ amount_minor: pan }), limits);
    expect(tx.ok).toBe(false);
    if (!tx.ok) {
      expect(tx.problems.join('; ')).toContain('a 16-digit number (not shown: it reads as a card number)');
      expect(containsPan(tx.problems.join('; '))).toBe(false);
    }
    const s = validateSettlement({ ...settlement, fee_minor: -pan }, limits);
    expect(s.ok).toBe(false);
    if (!s.ok) expect(containsPan(s.problems.join('; '))).toBe(false);
    // Below the amount bound too (an Amex test number, 15 digits): refused as a card number, not stored.
    for (const amount of [378_282_246_310_005, 4_222_222_222_222]) {
      expect(validateTransaction(sampleTransaction({ amount_minor: amount }), limits)).toMatchObject({
        ok: false,
        code: 'PAN_DETECTED',
      });
      expect(validateSettlement({ ...settlement, amount_minor: -amount }, limits)).toMatchObject({
        ok: false,
        code: 'PAN_DETECTED',
      });
    }
  });
});
