/**
 * `npm run mutation`'s report (issue 22): Stryker's JSON report (.txmon/mutation/mutation.json, the
 * mutation-testing-report-schema) as a mutation score per module, each against its bar — 85 % for
 * money, dedup and matching code, 70 % for the rest — written to .txmon/test-report/mutation.md and
 * mutation.json beside the test report, with the surviving mutants of the modules below their bar.
 * Exits 1 when a module is below it.
 *
 *   npm run mutation [-- --mutate reconciliation/match.ts]   (Stryker, then this report)
 *   node --import tsx scripts/mutation-report.ts --report-only [report.json]
 *
 * Stryker's arguments pass through (`--mutate <glob>` narrows a run: every pure module at once is
 * ~5,500 mutants, hours on this 2-core machine; one module, minutes).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Money, dedup and matching: the code whose mistakes cost money or double-count. */
export const HIGH_BAR_MODULES: readonly string[] = [
  'domain/currencies.ts',
  'domain/transaction.ts',
  'domain/settlement.ts',
  'reconciliation/match.ts',
  'reconciliation/settlement-csv.ts',
  'reconciliation/changes.ts',
];
export const HIGH_BAR = 0.85;
export const BAR = 0.7;

type Status = 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
interface Mutant {
  mutatorName: string;
  replacement?: string;
  status: Status;
  location: { start: { line: number; column: number } };
}
export interface StrykerReport {
  files: Record<string, { mutants: Mutant[] }>;
}

export interface ModuleScore {
  module: string;
  mutants: number;
  killed: number;
  survived: number;
  noCoverage: number;
  /** (killed + timeout) / (every mutant but compile and runtime errors and ignored ones). */
  score: number;
  bar: number;
  met: boolean;
  survivors: string[];
}

/** The score of each mutated file, worst first against its bar. */
export function scoreModules(report: StrykerReport): ModuleScore[] {
  return Object.entries(report.files)
    .map(([path, f]) => {
      const module = path.replace(/\\/g, '/').replace(ROOT, '').replace(/^\//, '');
      const valid = f.mutants.filter((m) => m.status !== 'CompileError' && m.status !== 'RuntimeError' && m.status !== 'Ignored');
      const killed = valid.filter((m) => m.status === 'Killed' || m.status === 'Timeout').length;
      const bar = HIGH_BAR_MODULES.includes(module) ? HIGH_BAR : BAR;
      const score = valid.length === 0 ? 1 : killed / valid.length;
      return {
        module,
        mutants: valid.length,
        killed,
        survived: valid.filter((m) => m.status === 'Survived').length,
        noCoverage: valid.filter((m) => m.status === 'NoCoverage').length,
        score,
        bar,
        met: score >= bar,
        survivors: valid
          .filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')
          .map(
            (m) =>
              `${module}:${m.location.start.line}:${m.location.start.column} ${m.mutatorName}${m.replacement === undefined ? '' : ` → ${m.replacement.replace(/\s+/g, ' ').slice(0, 60)}`}${m.status === 'NoCoverage' ? ' (no test runs it)' : ''}`,
          ),
      };
    })
    .sort((a, b) => a.score - a.bar - (b.score - b.bar) || (a.module < b.module ? -1 : 1));
}

export function formatMutation(scores: readonly ModuleScore[]): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
  const total = scores.reduce((a, s) => ({ mutants: a.mutants + s.mutants, killed: a.killed + s.killed }), {
    mutants: 0,
    killed: 0,
  });
  const lines = [
    '# Mutation score (issue 22)',
    '',
    `Stryker over the pure modules (stryker.config.json): ${total.killed} of ${total.mutants} mutants killed (${pct(total.mutants === 0 ? 1 : total.killed / total.mutants)}). Bar: ${pct(HIGH_BAR)} for money, dedup and matching (${HIGH_BAR_MODULES.join(', ')}), ${pct(BAR)} for the rest.`,
    '',
    '| module | score | bar | mutants | survived | not covered | |',
    '| ------ | ----: | --: | ------: | -------: | ----------: | - |',
    ...scores.map(
      (s) =>
        `| \`${s.module}\` | ${pct(s.score)} | ${pct(s.bar)} | ${s.mutants} | ${s.survived} | ${s.noCoverage} | ${s.met ? 'met' : '**NOT met**'} |`,
    ),
  ];
  const below = scores.filter((s) => !s.met);
  if (below.length > 0) {
    lines.push('', '## Surviving mutants of the modules below their bar', '');
    for (const s of below) for (const m of s.survivors.slice(0, 40)) lines.push(`- ${m}`);
  }
  return `${lines.join('\n')}\n`;
}

function main(): void {
  const args = process.argv.slice(2);
  const reportOnly = args.includes('--report-only');
  const file = reportOnly
    ? (args.find((a) => a !== '--report-only') ?? join(ROOT, '.txmon/mutation/mutation.json'))
    : join(ROOT, '.txmon/mutation/mutation.json');
  if (!reportOnly) {
    // A report left by an earlier run must not pass for this one's.
    rmSync(file, { force: true });
    const run = spawnSync(process.execPath, [join(ROOT, 'node_modules/@stryker-mutator/core/bin/stryker.js'), 'run', ...args], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    if (run.status !== 0) {
      process.stderr.write(`mutation: stryker exited ${run.status}\n`);
      process.exit(run.status ?? 1);
    }
  }
  if (!existsSync(file)) {
    process.stderr.write(`mutation: no Stryker report at ${file} (run \`npm run mutation\`)\n`);
    process.exit(2);
  }
  const scores = scoreModules(JSON.parse(readFileSync(file, 'utf8')) as StrykerReport);
  const dir = join(ROOT, '.txmon/test-report');
  mkdirSync(dir, { recursive: true });
  const text = formatMutation(scores);
  writeFileSync(join(dir, 'mutation.md'), text);
  writeFileSync(join(dir, 'mutation.json'), `${JSON.stringify(scores, null, 2)}\n`);
  process.stdout.write(text);
  process.stderr.write('mutation: written to .txmon/test-report/mutation.md and mutation.json\n');
  if (scores.some((s) => !s.met)) process.exitCode = 1;
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
