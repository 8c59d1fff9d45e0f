import { describe, expect, it } from 'vitest';
import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatTestSummary, lineIn, readFigures, type FileResult } from './test-report.ts';

const file = (o: Partial<FileResult> & { file: string }): FileResult => ({
  project: 'unit',
  durationMs: 1000,
  passed: 1,
  failed: 0,
  skipped: 0,
  failures: [],
  fileError: null,
  ...o,
});

describe('formatTestSummary', () => {
  it('sums per project, lists the ten slowest files first, and says PASSED with no failures', () => {
    const files = [
      ...Array.from({ length: 11 }, (_, i) => file({ file: `a/f${i}.test.ts`, durationMs: (i + 1) * 1000 })),
      file({ file: 'tests/x.test.ts', project: 'integration', passed: 3, skipped: 2, durationMs: 60_500 }),
    ];
    const md = formatTestSummary(files, { wallMs: 90_000, finishedAt: new Date('2026-12-05T17:00:00Z') });
    expect(md).toContain('PASSED: 14 passed, 0 failed, 2 skipped in 12 files; 90.0 s wall, finished 2026-12-05T17:00:00.000Z.');
    expect(md).toContain('| unit | 11 | 11 | 0 | 0 | 66.0 s |');
    expect(md).toContain('| integration | 1 | 3 | 0 | 2 | 60.5 s |');
    const slowest = md.split('## Slowest files')[1]?.split('## Failures')[0] ?? '';
    const rows = slowest.split('\n').filter((l) => l.startsWith('| ') && !l.startsWith('| file') && !l.startsWith('| --'));
    expect(rows).toHaveLength(10);
    expect(rows[0]).toBe('| tests/x.test.ts | integration | 60.5 s |');
    expect(rows[1]).toBe('| a/f10.test.ts | unit | 11.0 s |');
    expect(slowest).not.toContain('a/f0.test.ts'); // the eleventh slowest
    expect(md).toContain('## Failures\n\nNone.');
  });

  it('lists each failure with its file:line and first message line, and a file that failed outside its cases', () => {
    const md = formatTestSummary(
      [
        file({
          file: 'tests/y.test.ts',
          failed: 1,
          failures: [
            { name: 'grp fails | here', at: 'tests/y.test.ts:12', message: 'AssertionError: expected 1 to be 2\n  at …' },
          ],
        }),
        file({ file: 'tests/z.test.ts', passed: 0, fileError: 'setup broke\nstack' }),
      ],
      { wallMs: 1000, finishedAt: new Date(0) },
    );
    expect(md).toContain('FAILED: 1 passed, 1 failed, 0 skipped in 2 files');
    expect(md).toContain('- tests/y.test.ts:12 > grp fails | here: AssertionError: expected 1 to be 2\n');
    expect(md).toContain('- tests/z.test.ts: setup broke\n');
    expect(md).not.toContain('None.');
  });
});

describe('figures', () => {
  it("lists the figures files of this run (not an earlier run's) before the failures", () => {
    const dir = mkdtempSync(join(tmpdir(), 'figures-'));
    writeFileSync(join(dir, 'console-budget.txt'), 'scroll 180 frames, 0 over 25 ms\n');
    writeFileSync(join(dir, 'old.txt'), 'from yesterday');
    utimesSync(join(dir, 'old.txt'), new Date(1_000), new Date(1_000));
    writeFileSync(join(dir, 'notes.md'), 'not a figure');
    const figures = readFigures(dir, Date.now() - 60_000);
    expect(figures).toEqual(['console-budget: scroll 180 frames, 0 over 25 ms']);
    const md = formatTestSummary([file({ file: 'a.test.ts' })], { wallMs: 1, finishedAt: new Date(0), figures });
    expect(md).toContain('## Figures\n\n- console-budget: scroll 180 frames, 0 over 25 ms\n\n## Failures');
    expect(formatTestSummary([file({ file: 'a.test.ts' })], { wallMs: 1, finishedAt: new Date(0) })).not.toContain('## Figures');
    expect(readFigures(join(dir, 'missing'), 0)).toEqual([]);
  });
});

describe('lineIn', () => {
  it('finds the first frame in the test file, not in a helper it called', () => {
    const stack =
      'Error: x\n    at h (/r/tests/helpers/a.ts:5:3)\n    at /r/tests/y.test.ts:12:9\n    at /r/tests/y.test.ts:40:1';
    expect(lineIn(stack, '/r/tests/y.test.ts', 'tests/y.test.ts')).toBe('tests/y.test.ts:12');
    expect(lineIn(stack, '/r/tests/z.test.ts', 'tests/z.test.ts')).toBeNull();
    expect(lineIn(undefined, '/r/tests/y.test.ts', 'tests/y.test.ts')).toBeNull();
  });
});
