import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NUMBER, TableError, labelledTable } from './labelled-table.ts';

describe('labelledTable', () => {
  const header = ['id', 'a', 'name', 'b', 'empty', 'y'];
  const rows = [
    ['1', '0.5', 'x', '1e3', '', '0'],
    ['2', '', 'y', '-2', 'NA', '0'],
    ['3', '1.5', 'z', '?', '', '1'],
    ['4', '2', 'w', '.5', '', ''],
  ];

  it('keeps every numeric column but the label, reads missing cells as NaN and reports what it left out', () => {
    const t = labelledTable(header, rows, 'y');
    expect(t.features).toEqual(['id', 'a', 'b']);
    expect(t.excluded).toEqual([
      { column: 'name', reason: 'not numeric (e.g. "x")' },
      { column: 'empty', reason: 'no values' },
    ]);
    expect(Array.from(t.matrix.data)).toEqual([1, 0.5, 1000, 2, NaN, -2, 3, 1.5, NaN, 4, 2, 0.5]);
    expect(t.missingCells).toBe(2);
    expect(t.rowsWithMissing).toBe(2);
    expect(t.labels).toEqual([false, false, true, null]);
    expect(t.rowsWithoutLabel).toBe(1);
    expect(t.positiveLabel).toBe('1');
    expect(t.positives).toBe(1);
  });

  it('takes the named anomaly value, else the rarer one, and asks when there are more than two', () => {
    const h = ['v', 'class'];
    const named = labelledTable(
      h,
      [
        ['1', 'normal'],
        ['2', 'attack'],
        ['3', 'attack'],
        ['4', 'attack'],
      ],
      'class',
    );
    expect(named.positiveLabel).toBe('attack');
    const rare = labelledTable(
      h,
      [
        ['1', 'b'],
        ['2', 'b'],
        ['3', 'm'],
      ],
      'class',
    );
    expect(rare.positiveLabel).toBe('m');
    expect(
      labelledTable(
        h,
        [
          ['1', 'b'],
          ['2', 'b'],
          ['3', 'm'],
        ],
        'class',
        'b',
      ).labels,
    ).toEqual([true, true, false]);
    expect(() =>
      labelledTable(
        h,
        [
          ['1', 'a'],
          ['2', 'b'],
          ['3', 'c'],
        ],
        'class',
      ),
    ).toThrow(/--positive/);
    expect(() =>
      labelledTable(
        h,
        [
          ['1', 'a'],
          ['2', 'b'],
        ],
        'class',
        'z',
      ),
    ).toThrow(/not a label value/);
  });

  it('names the problem: a missing label column, ragged rows, nothing numeric', () => {
    expect(() => labelledTable(['a'], [['1'], ['2']], 'y')).toThrow(TableError);
    expect(() => labelledTable(['a'], [['1'], ['2']], 'y')).toThrow(/columns: a/);
    expect(() => labelledTable(['a', 'y'], [['1', '0'], ['2']], 'y')).toThrow(/data row 2 has 1 cells/);
    expect(() =>
      labelledTable(
        ['a', 'y'],
        [
          ['x', '0'],
          ['z', '1'],
        ],
        'y',
      ),
    ).toThrow(/no numeric column/);
  });

  it('reads numbers exactly as the old pattern did (property)', () => {
    // The pattern before issue 16 (quadratic on long digit runs that are not numbers), on short strings.
    const old = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
    fc.assert(
      fc.property(fc.stringMatching(/^[0-9.eE+\-x ]{0,12}$/), (text) => {
        expect(NUMBER.test(text), text).toBe(old.test(text));
      }),
      { numRuns: 5000 },
    );
  });

  it('leaves out a column whose cell is a 40,000-digit run that is not a number', () => {
    const long = `${'1'.repeat(40_000)}x`;
    const t = labelledTable(
      ['v', 'w', 'y'],
      [
        ['1', long, '0'],
        ['2', '3', '1'],
      ],
      'y',
    );
    expect(t.features).toEqual(['v']);
    expect(t.excluded[0]?.column).toBe('w');
  });
});
