import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng } from '../domain/rng.ts';
import { InputError } from '../platform/errors.ts';
import { evalCsv, formatEvalCsv } from './model.actions.ts';

const dir = mkdtempSync(join(tmpdir(), 'txmon-evalcsv-'));

/** 1,000 normal rows and 10 far-out ones labelled "outlier", with some missing cells, `sep`-separated. */
function writeCsv(name: string, sep: string): string {
  const rng = new Rng(3);
  const lines = [['x', 'y', 'note', 'kind'].join(sep)];
  for (let i = 0; i < 1010; i++) {
    const out = i >= 1000;
    const x = out ? 8 + rng.next() : rng.normal();
    const y = i % 97 === 0 ? '' : String(out ? -8 - rng.next() : rng.normal());
    lines.push([x, y, `n${i}`, out ? 'outlier' : 'inlier'].join(sep));
  }
  const file = join(dir, name);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

const options = { label: 'kind', header: true, trees: 100, sampleSize: 256, seed: 1 };

describe('txmon model eval-csv', () => {
  it('trains on the numeric columns, fills missing cells and ranks the planted anomalies first', () => {
    const lines: string[] = [];
    const r = evalCsv(writeCsv('comma.csv', ','), options, (l) => lines.push(l));
    expect(r.rows).toBe(1010);
    expect(r.features).toEqual(['x', 'y']);
    expect(r.excludedColumns.map((e) => e.column)).toEqual(['note']);
    expect(r.positiveLabel).toBe('outlier');
    expect(r.positives).toBe(10);
    expect(r.missingCells).toBe(11);
    expect(r.rocAuc).toBeGreaterThan(0.99);
    expect(r.prAuc).toBeGreaterThan(0.9);
    expect(r.modelBytes).toBeGreaterThan(1000);
    expect(r.scoreUsPerRow).toBeGreaterThan(0);
    expect(lines.some((l) => l.includes('reading'))).toBe(true);
    expect(formatEvalCsv(r)).toMatch(new RegExp(`ROC AUC +${r.rocAuc.toFixed(4)}\n`));
  });

  it('reads semicolon-separated files and headerless files by column index', () => {
    const semi = evalCsv(writeCsv('semi.csv', ';'), options, () => {});
    expect(semi.features).toEqual(['x', 'y']);
    const headerless = join(dir, 'noheader.csv');
    writeFileSync(headerless, '1,0\n2,0\n3,0\n50,1\n');
    const r = evalCsv(headerless, { ...options, label: '1', header: false }, () => {});
    expect(r.features).toEqual(['c0']);
    expect(r.positives).toBe(1);
  });

  it('fails with an input error naming the file and the problem', () => {
    expect(() => evalCsv(join(dir, 'absent.csv'), options, () => {})).toThrow(InputError);
    expect(() => evalCsv(writeCsv('x.csv', ','), { ...options, label: 'nope' }, () => {})).toThrow(
      /x\.csv: no column named "nope"/,
    );
  });
});
