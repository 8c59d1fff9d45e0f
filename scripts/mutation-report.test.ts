import { describe, expect, it } from 'vitest';
import { formatMutation, scoreModules, type StrykerReport } from './mutation-report.ts';

const mutant = (status: string, line = 1) => ({
  mutatorName: 'ArithmeticOperator',
  replacement: 'a - b',
  status,
  location: { start: { line, column: 3 } },
});

describe('mutation report', () => {
  it('scores each module against its bar (85 % money, dedup, matching; 70 % the rest), worst first, with its survivors', () => {
    const report = {
      files: {
        'reconciliation/match.ts': {
          mutants: [...Array.from({ length: 8 }, () => mutant('Killed')), mutant('Timeout'), mutant('Survived', 42)],
        },
        'detection/rules.ts': {
          mutants: [
            mutant('Killed'),
            mutant('Killed'),
            mutant('Killed'),
            mutant('NoCoverage', 7),
            mutant('CompileError'),
            mutant('Ignored'),
          ],
        },
      },
    } as unknown as StrykerReport;
    const [rules, match] = scoreModules(report);
    expect(match).toMatchObject({
      module: 'reconciliation/match.ts',
      mutants: 10,
      killed: 9,
      survived: 1,
      score: 0.9,
      bar: 0.85,
      met: true,
    });
    expect(rules).toMatchObject({
      module: 'detection/rules.ts',
      mutants: 4,
      killed: 3,
      noCoverage: 1,
      score: 0.75,
      bar: 0.7,
      met: true,
    });
    expect(rules?.survivors).toEqual(['detection/rules.ts:7:3 ArithmeticOperator → a - b (no test runs it)']);
    const low = scoreModules({
      files: { 'domain/currencies.ts': { mutants: [mutant('Killed'), mutant('Survived', 9)] } },
    } as unknown as StrykerReport);
    expect(low[0]).toMatchObject({ score: 0.5, bar: 0.85, met: false });
    const text = formatMutation(low);
    expect(text).toContain('| `domain/currencies.ts` | 50.0 % | 85.0 % | 2 | 1 | 0 | **NOT met** |');
    expect(text).toContain('- domain/currencies.ts:9:3 ArithmeticOperator → a - b');
  });
});
