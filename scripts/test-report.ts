/**
 * The test run's report (issue 18, item 7): vitest writes `.txmon/test-report/junit.xml` itself
 * (its junit reporter, vitest.config.ts); this reporter writes `summary.md` beside it — per
 * project, the files, cases and time; the slowest ten files; each failure with its file:line and
 * first message line; the figures test files measured (a line each in `figures/*.txt`, written
 * during the run) — and prints its path at the end of the run. A long run's log is often read
 * from its tail only (CI); the summary is the short version that stays on disk.
 */
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

export const TEST_REPORT_DIR = '.txmon/test-report';
/** Where a test file that measures leaves its figures for the summary: `<name>.txt`, one line. */
export const FIGURES_DIR = join(TEST_REPORT_DIR, 'figures');

/** The figures files written in `dir` since `sinceMs` (an earlier run's are left out), by name: `name: line`. */
export function readFigures(dir: string, sinceMs: number): string[] {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => n.endsWith('.txt'));
  } catch {
    return [];
  }
  return names
    .sort()
    .filter((n) => statSync(join(dir, n)).mtimeMs >= sinceMs)
    .map((n) => `${n.slice(0, -4)}: ${readFileSync(join(dir, n), 'utf8').trim()}`);
}

/** One test file's outcome, as the summary needs it (plain data: the formatter is tested alone). */
export interface FileResult {
  project: string;
  file: string;
  durationMs: number;
  passed: number;
  failed: number;
  skipped: number;
  failures: Array<{ name: string; at: string | null; message: string }>;
  /** An error outside any case (a hook, the file's import): the file failed though no case did. */
  fileError: string | null;
}

const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const firstLine = (s: string): string => (s.split('\n')[0] ?? '').slice(0, 300);
const cell = (s: string): string => s.replaceAll('|', '\\|');

/** The Markdown summary of a run. */
export function formatTestSummary(
  files: readonly FileResult[],
  o: { wallMs: number; finishedAt: Date; figures?: readonly string[] },
): string {
  const sum = (f: (r: FileResult) => number, rs: readonly FileResult[] = files) => rs.reduce((n, r) => n + f(r), 0);
  const failedFiles = files.filter((r) => r.failed > 0 || r.fileError !== null);
  const lines = [
    '# Test run',
    '',
    `${failedFiles.length === 0 ? 'PASSED' : 'FAILED'}: ${sum((r) => r.passed)} passed, ${sum((r) => r.failed)} failed, ` +
      `${sum((r) => r.skipped)} skipped in ${files.length} files; ${seconds(o.wallMs)} wall, finished ${o.finishedAt.toISOString()}.`,
    '',
    '| project | files | passed | failed | skipped | time in files |',
    '| ------- | ----: | -----: | -----: | ------: | ------------: |',
  ];
  const projects = [...new Set(files.map((r) => r.project))];
  for (const p of projects) {
    const rs = files.filter((r) => r.project === p);
    lines.push(
      `| ${cell(p)} | ${rs.length} | ${sum((r) => r.passed, rs)} | ${sum((r) => r.failed, rs)} | ${sum((r) => r.skipped, rs)} | ${seconds(sum((r) => r.durationMs, rs))} |`,
    );
  }
  lines.push('', '## Slowest files', '', '| file | project | time |', '| ---- | ------- | ---: |');
  for (const r of [...files].sort((a, b) => b.durationMs - a.durationMs).slice(0, 10))
    lines.push(`| ${cell(r.file)} | ${cell(r.project)} | ${seconds(r.durationMs)} |`);
  if (o.figures !== undefined && o.figures.length > 0) {
    lines.push('', '## Figures', '');
    for (const f of o.figures) lines.push(`- ${f}`);
  }
  lines.push('', '## Failures', '');
  if (failedFiles.length === 0) lines.push('None.');
  for (const r of failedFiles) {
    if (r.fileError !== null) lines.push(`- ${r.file}: ${firstLine(r.fileError)}`);
    for (const f of r.failures) lines.push(`- ${f.at ?? r.file} > ${f.name}: ${firstLine(f.message)}`);
  }
  return lines.join('\n') + '\n';
}

/** `file:line` of the first frame of a stack in the test file itself (where the assertion or the throw is). */
export function lineIn(stack: string | undefined, path: string, shown: string): string | null {
  const at = stack?.indexOf(`${path}:`) ?? -1;
  if (at < 0) return null;
  const line = /^:(\d+)/.exec((stack as string).slice(at + path.length));
  return line ? `${shown}:${line[1]}` : null;
}

/** Vitest's modules as FileResults (paths relative to `root`). */
export function fileResults(modules: ReadonlyArray<TestModule>, root: string): FileResult[] {
  return modules.map((m) => {
    const file = relative(root, m.moduleId);
    const r: FileResult = {
      project: m.project.name || 'default',
      file,
      durationMs: m.diagnostic().duration,
      passed: 0,
      failed: 0,
      skipped: 0,
      failures: [],
      fileError: null,
    };
    for (const t of m.children.allTests()) {
      const res = t.result();
      if (res.state === 'passed') r.passed++;
      else if (res.state === 'failed') {
        r.failed++;
        const err = res.errors[0];
        r.failures.push({
          name: t.fullName,
          at: lineIn(err?.stack, m.moduleId, file),
          message: err ? `${err.name ?? 'Error'}: ${err.message}` : 'failed',
        });
      } else r.skipped++;
    }
    const errors = m.errors();
    if (errors.length > 0 && r.failed === 0) r.fileError = errors.map((e) => e.message).join('; ');
    return r;
  });
}

export default class TestSummaryReporter implements Reporter {
  private started = Date.now();
  private root = process.cwd();

  onInit(ctx: { config: { root: string } }): void {
    this.started = Date.now();
    this.root = ctx.config.root;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const path = `${this.root}/${TEST_REPORT_DIR}/summary.md`;
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      formatTestSummary(fileResults(modules, this.root), {
        wallMs: Date.now() - this.started,
        finishedAt: new Date(),
        figures: readFigures(join(this.root, FIGURES_DIR), this.started),
      }),
    );
    process.stdout.write(`test report: ${relative(process.cwd(), path)} (and junit.xml beside it)\n`);
  }
}
