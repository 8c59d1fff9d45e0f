import { describe, expect, it } from 'vitest';
import {
  complexityOf,
  evaluateRanking,
  isFixCommit,
  isSourceFile,
  linesOf,
  percentileRanks,
  rankFiles,
  type FileFacts,
} from './hotspots-model.ts';

describe('hotspots model', () => {
  it('counts decision points on the AST: branches, loops, cases, catches and short-circuits, not the words in strings', () => {
    expect(complexityOf('const a = 1;')).toBe(1);
    const code = `
      function f(x: number, y?: string) {
        if (x > 1 && y) return 1;          // if, &&
        for (const c of y ?? '') {}         // for-of, ??
        while (x-- > 0) x = x > 5 ? 1 : 2;  // while, ?:
        switch (x) { case 1: break; case 2: break; default: }  // 2 cases
        try { g(); } catch { /* if while for */ }             // catch
        const s = "if (a && b) || c";
        return s;
      }`;
    expect(complexityOf(code)).toBe(1 + 2 + 2 + 2 + 2 + 1);
    expect(complexityOf('export const C = () => <div>{a && <b />}</div>;', 'c.tsx')).toBe(2);
  });

  it('counts non-blank lines, and takes only product sources', () => {
    expect(linesOf('a\n\n  \nb\n')).toBe(2);
    expect(isSourceFile('state/codec.ts')).toBe(true);
    expect(isSourceFile('console/src/app.tsx')).toBe(true);
    for (const p of [
      'state/codec.test.ts',
      'domain/pan.fixture.ts',
      'types/x.d.ts',
      'tests/helpers/a.ts',
      'bench/run.ts',
      'README.md',
    ])
      expect(isSourceFile(p), p).toBe(false);
  });

  it('ranks values by percentile, ties sharing the lower rank', () => {
    expect(percentileRanks([10, 20, 20, 40])).toEqual([0, 1 / 3, 1 / 3, 1]);
    expect(percentileRanks([5])).toEqual([0]);
  });

  it('puts the churned, complex, large, untested file first and says why; coverage changes the order', () => {
    const f = (path: string, commits: number, complexity: number, size: number, coverage: number | null): FileFacts => ({
      path,
      commits,
      linesChanged: commits * 10,
      size,
      complexity,
      coverage,
    });
    const files = [
      f('quiet.ts', 1, 2, 20, 0.9),
      f('busy.ts', 40, 90, 800, 0.2),
      f('mid.ts', 10, 30, 200, 0.95),
      f('mid2.ts', 10, 30, 200, 0.1),
    ];
    const ranked = rankFiles(files);
    expect(ranked.map((r) => r.path)).toEqual(['busy.ts', 'mid2.ts', 'mid.ts', 'quiet.ts']);
    expect(ranked[0]?.why).toMatch(/changed in 40 commits .*complexity 90 .*800 lines.*20 % of lines run by unit tests/);
    expect(ranked.at(-1)?.why).toBe('no single factor stands out');
    // Without coverage the two middle files tie on every other factor: the path orders them.
    expect(rankFiles(files.map((x) => ({ ...x, coverage: null }))).map((r) => r.path)).toEqual([
      'busy.ts',
      'mid.ts',
      'mid2.ts',
      'quiet.ts',
    ]);
  });

  it('knows a fix commit by its subject, not the bench’s “fixed load” or Drain’s “fixed-depth”', () => {
    for (const s of [
      'Fix the checkpoint race',
      'Review fixes: a shared-only checkpoint…',
      'Test fix: the apikey CLI test',
      'state: a bug in the codec',
      'a regression of the fence',
    ])
      expect(isFixCommit(s), s).toBe(true);
    for (const s of [
      'bench (c): the fixed load is measured after the warm-up',
      'Drain log templates (masking, fixed-depth tree)',
      'docs: prefix the issue',
    ])
      expect(isFixCommit(s), s).toBe(false);
  });

  it('scores a ranking by precision@10 and recall against the files later fixed', () => {
    const ranked = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k'];
    expect(evaluateRanking('x', ranked, new Set(['a', 'c', 'k', 'z']))).toEqual({
      name: 'x',
      hits: 2,
      precision: 0.2,
      recall: 0.5,
      fixed: 4,
    });
    expect(evaluateRanking('x', ranked, new Set()).recall).toBe(0);
  });
});
