// What the tests of deploy/ share: promtool (scripts/ensure-promtool.js finds or fetches it), and
// the metric names txmon's own code exports, which the alert rules and the dashboard may read.
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

export const ROOT = join(import.meta.dirname, '..');

/** The path of a working promtool; throws saying why there is none. */
export function promtool(): string {
  const found = spawnSync(process.execPath, [join(ROOT, 'scripts/ensure-promtool.js')], { cwd: ROOT, encoding: 'utf8' });
  if (found.status !== 0) throw new Error(`no promtool: ${found.stderr.trim()}`);
  return found.stdout.trim();
}

/** Runs promtool with `args` in `cwd`: its exit code and its output (stdout, then stderr). */
export function runPromtool(args: string[], cwd: string): { code: number; output: string } {
  const r = spawnSync(promtool(), args, { cwd, encoding: 'utf8' });
  return { code: r.status ?? -1, output: `${r.stdout}${r.stderr}` };
}

/** Every metric name txmon's code registers (`name: 'txmon_…'` outside tests). */
export function exportedMetrics(): Set<string> {
  const names = new Set<string>();
  const skip = new Set(['node_modules', '.git', '.txmon', 'dist', 'coverage', 'tests']);
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir)) {
      if (skip.has(entry)) continue;
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) walk(path);
      else if (path.endsWith('.ts') && !path.endsWith('.test.ts'))
        for (const m of readFileSync(path, 'utf8').matchAll(/name: '(txmon_[a-z0-9_]+)'/g)) names.add(m[1] as string);
    }
  };
  walk(ROOT);
  return names;
}

/** The txmon metrics an expression reads (a histogram's _bucket, _count and _sum as the histogram). */
export function metricsRead(expr: string): string[] {
  return [...expr.matchAll(/\btxmon_[a-z0-9_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''));
}
