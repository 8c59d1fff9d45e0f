/**
 * The pure part of `npm run hotspots` (issue 22): which files are source, their complexity and size,
 * the risk score and its reasons, the fix-commit rule, and precision and recall of a ranking.
 *
 * The score: each file's percentile rank (0 the lowest, 1 the highest) in churn (commits, then lines
 * changed), complexity and size, and its uncovered share of lines, weighted 0.4, 0.3, 0.1 and 0.2
 * (0.5, 0.375, 0.125 without coverage). Churn first: relative churn is the strongest single
 * predictor of defect density in the literature (Nagappan and Ball, ICSE 2005), complexity next,
 * size mostly through both; untested code hides what the others predict.
 */
import ts from 'typescript';

export interface FileFacts {
  path: string;
  /** Commits that changed it. */
  commits: number;
  linesChanged: number;
  /** Non-blank lines. */
  size: number;
  /** 1 + decision points (branches, loops, cases, catches, short-circuits). */
  complexity: number;
  /** Share of its lines the unit tests run (0-1), or null when not measured. */
  coverage: number | null;
}

export interface RankedFile extends FileFacts {
  risk: number;
  why: string;
}

const EXCLUDED_DIRS = /^(tests|bench|node_modules|dist|\.txmon)\//;

/** Product source: TypeScript outside tests/ and bench/, not a test, fixture or declaration file. */
export function isSourceFile(path: string): boolean {
  return /\.tsx?$/.test(path) && !/\.(test|fixture)\.tsx?$/.test(path) && !path.endsWith('.d.ts') && !EXCLUDED_DIRS.test(path);
}

export function linesOf(text: string): number {
  let n = 0;
  for (const line of text.split('\n')) if (line.trim() !== '') n++;
  return n;
}

const SHORT_CIRCUIT = new Set([
  ts.SyntaxKind.AmpersandAmpersandToken,
  ts.SyntaxKind.BarBarToken,
  ts.SyntaxKind.QuestionQuestionToken,
  ts.SyntaxKind.AmpersandAmpersandEqualsToken,
  ts.SyntaxKind.BarBarEqualsToken,
  ts.SyntaxKind.QuestionQuestionEqualsToken,
]);

/** Cyclomatic complexity of a whole file: 1 + its decision points (McCabe, counted on the AST). */
export function complexityOf(text: string, path = 'file.ts'): number {
  const src = ts.createSourceFile(
    path,
    text,
    ts.ScriptTarget.Latest,
    false,
    path.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS,
  );
  let decisions = 0;
  const visit = (node: ts.Node): void => {
    switch (node.kind) {
      case ts.SyntaxKind.IfStatement:
      case ts.SyntaxKind.ConditionalExpression:
      case ts.SyntaxKind.ForStatement:
      case ts.SyntaxKind.ForInStatement:
      case ts.SyntaxKind.ForOfStatement:
      case ts.SyntaxKind.WhileStatement:
      case ts.SyntaxKind.DoStatement:
      case ts.SyntaxKind.CaseClause:
      case ts.SyntaxKind.CatchClause:
        decisions++;
        break;
      case ts.SyntaxKind.BinaryExpression:
        if (SHORT_CIRCUIT.has((node as ts.BinaryExpression).operatorToken.kind)) decisions++;
        break;
      default:
        break;
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return 1 + decisions;
}

/** Each value's percentile rank among `values` (ties share the lower rank): 0 the lowest, 1 the highest. */
export function percentileRanks(values: readonly number[]): number[] {
  if (values.length <= 1) return values.map(() => 0);
  const sorted = [...values].sort((a, b) => a - b);
  const first = new Map<number, number>();
  sorted.forEach((v, i) => {
    if (!first.has(v)) first.set(v, i);
  });
  return values.map((v) => (first.get(v) as number) / (values.length - 1));
}

/** The files by risk, highest first, each with the reasons it ranks where it does. */
export function rankFiles(files: readonly FileFacts[]): RankedFile[] {
  // Churn: commits first, lines changed breaking ties (a file rewritten often outranks one touched once).
  const churn = percentileRanks(files.map((f) => f.commits + f.linesChanged / 1e9));
  const complexity = percentileRanks(files.map((f) => f.complexity));
  const size = percentileRanks(files.map((f) => f.size));
  const covered = files.some((f) => f.coverage !== null);
  return files
    .map((f, i) => {
      const c = churn[i] as number;
      const x = complexity[i] as number;
      const s = size[i] as number;
      const uncovered = f.coverage === null ? 0.5 : 1 - f.coverage;
      const risk = covered ? 0.4 * c + 0.3 * x + 0.1 * s + 0.2 * uncovered : 0.5 * c + 0.375 * x + 0.125 * s;
      const why: string[] = [];
      if (c >= 0.75) why.push(`changed in ${f.commits} commits (top ${Math.max(1, Math.round((1 - c) * 100))} %)`);
      if (x >= 0.75) why.push(`complexity ${f.complexity} (top ${Math.max(1, Math.round((1 - x) * 100))} %)`);
      if (s >= 0.9) why.push(`${f.size} lines`);
      if (f.coverage !== null && f.coverage < 0.6) why.push(`${Math.round(f.coverage * 100)} % of lines run by unit tests`);
      return { ...f, risk, why: why.length > 0 ? why.join('; ') : 'no single factor stands out' };
    })
    .sort((a, b) => b.risk - a.risk || (a.path < b.path ? -1 : 1));
}

/**
 * A commit that fixes a defect, by its subject: fix, fixes, fixed, bug, regression — but not the
 * bench's "fixed load" or Drain's "fixed-depth", which are names, not repairs.
 */
export function isFixCommit(subject: string): boolean {
  const s = subject.replace(/\bfixed[ -](load|depth|rate|offered|point)s?\b/gi, '');
  return /\b(fix|fixes|fixed|bug|bugs|regression)\b/i.test(s);
}

/** Precision@10 and recall of a ranking against the files later fixed. */
export function evaluateRanking(
  name: string,
  ranked: readonly string[],
  fixed: ReadonlySet<string>,
): { name: string; hits: number; precision: number; recall: number; fixed: number } {
  const hits = ranked.slice(0, 10).filter((p) => fixed.has(p)).length;
  return { name, hits, precision: hits / 10, recall: fixed.size === 0 ? 0 : hits / fixed.size, fixed: fixed.size };
}
