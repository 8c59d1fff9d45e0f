/**
 * `npm run hotspots` (issue 22): where defects are likely, per source file — churn (commits and lines
 * changed, from git), complexity (decision points, from the TypeScript AST), size (non-blank lines)
 * and test coverage (vitest's v8 coverage of the unit tests) combined into one ranked risk list,
 * printed with the top ten and why, and written to the test report (.txmon/test-report/hotspots.md
 * and .json). Then it checks itself on txmon's own history: ranked from the first 60 % of the commits,
 * how many of the files later touched by fix commits were in its top ten, against a churn-only and a
 * size-only ranking.
 *
 *   npm run hotspots [-- --no-coverage] [--split 0.6] [--json]
 *
 * The pure parts (scores, ranks, complexity, the fix-commit rule, precision and recall) are in
 * scripts/hotspots-model.ts with their tests.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  complexityOf,
  evaluateRanking,
  isFixCommit,
  isSourceFile,
  linesOf,
  rankFiles,
  type FileFacts,
  type RankedFile,
} from './hotspots-model.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPORT_DIR = join(ROOT, '.txmon/test-report');
const COVERAGE_DIR = join(ROOT, '.txmon/coverage');
const git = (...args: string[]) => execFileSync('git', args, { cwd: ROOT, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
const say = (line: string) => process.stderr.write(`${line}\n`);

interface Commit {
  sha: string;
  subject: string;
  files: Array<{ path: string; changed: number }>;
}

/** Every commit, oldest first, with the files it changed (renames followed to their new path). */
function history(): Commit[] {
  const out = git('log', '--reverse', '--no-merges', '--numstat', '--format=@@%H%x09%s');
  const commits: Commit[] = [];
  for (const line of out.split('\n')) {
    if (line.startsWith('@@')) {
      const [sha, ...subject] = line.slice(2).split('\t');
      commits.push({ sha: sha as string, subject: subject.join('\t'), files: [] });
    } else if (line.trim() !== '') {
      const [added, deleted, rawPath] = line.split('\t');
      const path = renamedTo(rawPath as string);
      const changed = (Number(added) || 0) + (Number(deleted) || 0);
      commits.at(-1)?.files.push({ path, changed });
    }
  }
  return commits;
}

/** `a/{b => c}/d` and `a => b` as git prints renames: the new path. */
function renamedTo(path: string): string {
  const braces = /\{([^{}]*) => ([^{}]*)\}/.exec(path);
  if (braces) return path.replace(braces[0], braces[2] as string).replace(/\/\//g, '/');
  const arrow = path.indexOf(' => ');
  return arrow >= 0 ? path.slice(arrow + 4) : path;
}

/** Facts of each source file at a commit (contents read from git, so any point of history works). */
function factsAt(sha: string, commits: readonly Commit[], coverage: ReadonlyMap<string, number> | null): FileFacts[] {
  const files = git('ls-tree', '-r', '--name-only', sha).split('\n').filter(isSourceFile);
  const churn = new Map<string, { commits: number; lines: number }>();
  for (const c of commits)
    for (const f of c.files) {
      const e = churn.get(f.path) ?? { commits: 0, lines: 0 };
      e.commits++;
      e.lines += f.changed;
      churn.set(f.path, e);
    }
  return files.map((path) => {
    const text = git('show', `${sha}:${path}`);
    const c = churn.get(path) ?? { commits: 0, lines: 0 };
    return {
      path,
      commits: c.commits,
      linesChanged: c.lines,
      size: linesOf(text),
      complexity: complexityOf(text, path),
      coverage: coverage?.get(path) ?? null,
    };
  });
}

/** Line coverage per file from a v8 coverage run of the unit tests (null when it could not run). */
function unitCoverage(): Map<string, number> | null {
  say('hotspots: measuring line coverage (the unit tests under v8 coverage, ~2 min) ...');
  // A summary left by an earlier run must not pass for this one's.
  rmSync(COVERAGE_DIR, { recursive: true, force: true });
  const run = spawnSync(
    process.execPath,
    [
      join(ROOT, 'node_modules/vitest/vitest.mjs'),
      'run',
      '--project',
      'unit',
      '--coverage.enabled',
      '--coverage.provider=v8',
      '--coverage.reporter=json-summary',
      `--coverage.reportsDirectory=${COVERAGE_DIR}`,
      '--reporter=dot',
    ],
    { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 64 * 1024 * 1024 },
  );
  const file = join(COVERAGE_DIR, 'coverage-summary.json');
  if (!existsSync(file)) {
    say(`hotspots: no coverage (the run exited ${run.status}); ranking without it`);
    return null;
  }
  if (run.status !== 0) say(`hotspots: the unit tests exited ${run.status} under coverage; the coverage they produced is used`);
  const summary = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { lines: { pct: number } }>;
  const out = new Map<string, number>();
  for (const [path, s] of Object.entries(summary))
    if (path !== 'total') out.set(path.replace(`${ROOT}`, '').replace(/^\//, ''), s.lines.pct / 100);
  return out;
}

function markdown(ranked: readonly RankedFile[], validation: ReturnType<typeof evaluateRanking>[], meta: string): string {
  const rows = ranked
    .slice(0, 10)
    .map(
      (r, i) =>
        `| ${i + 1} | \`${r.path}\` | ${r.risk.toFixed(2)} | ${r.commits} | ${r.complexity} | ${r.size} | ${r.coverage === null ? '–' : `${Math.round(r.coverage * 100)} %`} | ${r.why} |`,
    );
  const checks = validation.map(
    (v) =>
      `| ${v.name} | ${v.hits} of 10 | ${(v.precision * 100).toFixed(0)} % | ${(v.recall * 100).toFixed(0)} % of ${v.fixed} |`,
  );
  return [
    '# Hotspots (issue 22)',
    '',
    meta,
    '',
    '| # | file | risk | commits | complexity | lines | coverage | why |',
    '| - | ---- | ---- | ------- | ---------- | ----- | -------- | --- |',
    ...rows,
    '',
    "## Checked on txmon's history",
    '',
    '| ranking | top ten later fixed | precision@10 | recall |',
    '| ------- | ------------------- | ------------ | ------ |',
    ...checks,
    '',
  ].join('\n');
}

function main(): void {
  const args = process.argv.slice(2);
  const withCoverage = !args.includes('--no-coverage');
  const splitAt = Number(args[args.indexOf('--split') + 1] ?? 0.6);
  const split = args.includes('--split') && splitAt > 0 && splitAt < 1 ? splitAt : 0.6;
  const commits = history();
  const head = git('rev-parse', 'HEAD').trim();
  const coverage = withCoverage ? unitCoverage() : null;
  say(`hotspots: ${commits.length} commits; ranking the source files at ${head.slice(0, 12)} ...`);
  const ranked = rankFiles(factsAt(head, commits, coverage));

  // The check: facts as they were at the split, fixes after it.
  if (commits.length < 10) {
    say(
      `hotspots: ${commits.length} commits (a shallow clone?): too few to check the ranking on history; fetch the whole history`,
    );
    process.exitCode = 2;
    return;
  }
  const cut = Math.floor(commits.length * split);
  const before = commits.slice(0, cut);
  const after = commits.slice(cut);
  const at = before.at(-1)?.sha as string;
  const past = factsAt(at, before, null);
  const existed = new Set(past.map((f) => f.path));
  const fixed = new Set(
    after
      .filter((c) => isFixCommit(c.subject))
      .flatMap((c) => c.files.map((f) => f.path))
      .filter((p) => existed.has(p)),
  );
  const validation = [
    evaluateRanking(
      'risk (churn, complexity, size)',
      rankFiles(past).map((r) => r.path),
      fixed,
    ),
    evaluateRanking(
      'churn only',
      [...past].sort((a, b) => b.commits - a.commits || b.linesChanged - a.linesChanged).map((f) => f.path),
      fixed,
    ),
    evaluateRanking(
      'size only',
      [...past].sort((a, b) => b.size - a.size).map((f) => f.path),
      fixed,
    ),
  ];
  const meta = `${ranked.length} source files at ${head.slice(0, 12)}, ${commits.length} commits; coverage: ${coverage === null ? 'not measured' : 'v8 line coverage of the unit tests'}. Checked on history: ranked at commit ${cut} of ${commits.length} (${at.slice(0, 12)}), against the ${fixed.size} files fix commits touched after it (${after.filter((c) => isFixCommit(c.subject)).length} fix commits).`;

  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(join(REPORT_DIR, 'hotspots.md'), markdown(ranked, validation, meta));
  writeFileSync(join(REPORT_DIR, 'hotspots.json'), `${JSON.stringify({ head, files: ranked, validation }, null, 2)}\n`);
  if (args.includes('--json')) {
    process.stdout.write(`${JSON.stringify({ head, top: ranked.slice(0, 10), validation })}\n`);
    return;
  }
  process.stdout.write(`${markdown(ranked, validation, meta)}\n`);
  say(`hotspots: written to ${join('.txmon/test-report', 'hotspots.md')} and hotspots.json`);
}

main();
