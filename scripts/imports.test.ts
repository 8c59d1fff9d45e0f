// The sources' imports (issue 18): no cycle anywhere (a module and what it imports form a tree a
// reader can follow from the bottom up), and the boundaries between the folders hold. Static,
// type-only and dynamic imports all count, as TypeScript's own pre-processor reads them.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const SKIP = new Set(['node_modules', 'dist', '.txmon', '.git', 'coverage']);

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir)) {
    if (SKIP.has(entry)) continue;
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) sources(p, out);
    else if (p.endsWith('.ts') && !p.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

/** Each file's relative imports that resolve to a source file of the checkout. */
function importGraph(files: readonly string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(file, 'utf8'), true, true);
    const targets: string[] = [];
    for (const { fileName } of importedFiles) {
      if (!fileName.startsWith('.')) continue;
      const target = resolve(dirname(file), fileName);
      if (target.endsWith('.ts') && existsSync(target)) targets.push(target);
    }
    graph.set(file, targets);
  }
  return graph;
}

/** The strongly connected components with more than one file (Tarjan): each is an import cycle. */
export function importCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) cycles.push(component);
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return cycles;
}

/** Folders that may not import from others: [importing folders, forbidden folders, why]. */
const BOUNDARIES: Array<[readonly string[], readonly string[], string]> = [
  [
    [
      'sinks/',
      'platform/',
      'dashboard-api/',
      'state/',
      'domain/',
      'detection/',
      'reconciliation/',
      'refdata/',
      'models/',
      'runtime/',
    ],
    ['processors/', 'cli/'],
    'the processors and the CLI are composition roots: what they wire never reaches back into them',
  ],
  [['refdata/'], ['simulator/'], 'reference data is production code; the simulator loads its world through it, not the reverse'],
];

/** A production source: not a test, not a test helper, not the bench. */
const production = (rel: string) => !rel.endsWith('.test.ts') && !rel.startsWith('tests/') && !rel.startsWith('bench/');

describe('imports', () => {
  it('finds a cycle when there is one (the check is not vacuous)', () => {
    const graph = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(importCycles(graph).map((c) => [...c].sort())).toEqual([['a', 'b', 'c']]);
    expect(importCycles(new Map([['a', ['b']]]))).toEqual([]);
  });

  it('form no cycle anywhere in the checkout', () => {
    const files = sources(ROOT);
    const graph = importGraph(files);
    // The graph is real: hundreds of files, most importing others.
    expect(files.length).toBeGreaterThan(200);
    expect([...graph.values()].filter((t) => t.length > 0).length).toBeGreaterThan(150);
    const cycles = importCycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(' → '));
    expect(cycles).toEqual([]);
  });

  it('keep the boundaries between folders, and production code imports no test helper', () => {
    const graph = importGraph(sources(ROOT));
    const crossings: string[] = [];
    for (const [file, targets] of graph) {
      const from = relative(ROOT, file);
      if (!production(from) || from.startsWith('scripts/')) continue;
      for (const t of targets) {
        const to = relative(ROOT, t);
        if (to.startsWith('tests/') && from !== 'vitest.config.ts')
          crossings.push(`${from} → ${to}: a test helper in production code`);
        for (const [importers, forbidden, why] of BOUNDARIES)
          if (importers.some((d) => from.startsWith(d)) && forbidden.some((d) => to.startsWith(d)))
            crossings.push(`${from} → ${to}: ${why}`);
      }
    }
    expect(crossings).toEqual([]);
  });
});
