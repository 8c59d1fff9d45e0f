/**
 * Issue 22's log-template figures (`npm run bench:logs`, and step (g) of `npm run bench`): Drain's
 * grouping accuracy on txmon's own logs, whose true templates come from their call sites
 * (bench/log-truth.ts), and its parsing speed in lines/s. Needs no services.
 *
 *   node --import tsx bench/logs.ts [corpus files...] [--json]
 *
 * Default corpus: tests/fixtures/logs/*.log.gz (their README says how each was recorded).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { groupingAccuracy, LogTemplateMiner, messageOf } from '../ops/log-templates.ts';
import { callSitePatterns, labelMessages } from './log-truth.ts';

export const RESULT_TAG = 'logs-result ';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'tests/fixtures/logs');

export interface LogsBenchResult {
  lines: number;
  labelled: number;
  trueTemplates: number;
  predictedTemplates: number;
  /** Share of labelled lines whose predicted group is exactly their true group. */
  groupingAccuracy: number;
  /** Share of true templates whose lines form exactly one predicted group. */
  templatesExact: number;
  linesPerSecond: number;
  /** The largest predicted groups holding lines of more than one true template, and the true templates split most. */
  merged: Array<{ template: string; truths: number; lines: number }>;
  split: Array<{ truth: string; groups: number; lines: number }>;
}

export const FIXTURE_DIR = FIXTURES;

export function readCorpus(files: readonly string[]): string[] {
  const lines: string[] = [];
  for (const f of files) {
    const bytes = readFileSync(f);
    const text = (bytes[0] === 0x1f && bytes[1] === 0x8b ? gunzipSync(bytes) : bytes).toString('utf8');
    for (const l of text.split('\n')) if (l !== '') lines.push(l);
  }
  return lines;
}

export function measure(lines: readonly string[], o: { root?: string; speed?: boolean } = {}): LogsBenchResult {
  const messages = lines.map(messageOf);
  const truth = labelMessages(messages, callSitePatterns(o.root ?? ROOT));
  const miner = new LogTemplateMiner();
  const predicted = messages.map((m) => miner.add(m).id);
  const ga = groupingAccuracy(truth, predicted);

  // Per true template: the predicted groups its lines went to; per predicted group: the truths in it.
  const groupsOfTruth = new Map<string, Map<number, number>>();
  const truthsOfGroup = new Map<number, Map<string, number>>();
  truth.forEach((t, i) => {
    if (t === undefined) return;
    const p = predicted[i] as number;
    const g = groupsOfTruth.get(t) ?? new Map<number, number>();
    g.set(p, (g.get(p) ?? 0) + 1);
    groupsOfTruth.set(t, g);
    const u = truthsOfGroup.get(p) ?? new Map<string, number>();
    u.set(t, (u.get(t) ?? 0) + 1);
    truthsOfGroup.set(p, u);
  });
  let exact = 0;
  for (const groups of groupsOfTruth.values()) {
    const [only] = groups.keys();
    if (groups.size === 1 && truthsOfGroup.get(only as number)?.size === 1) exact++;
  }
  const templates = miner.templates();
  const sum = (m: Map<unknown, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
  const merged = [...truthsOfGroup.entries()]
    .filter(([, truths]) => truths.size > 1)
    .map(([id, truths]) => ({ template: (templates[id - 1]?.tokens ?? []).join(' '), truths: truths.size, lines: sum(truths) }))
    .sort((a, b) => b.lines - a.lines)
    .slice(0, 5);
  const split = [...groupsOfTruth.entries()]
    .filter(([, groups]) => groups.size > 1)
    .map(([t, groups]) => ({ truth: t, groups: groups.size, lines: sum(groups) }))
    .sort((a, b) => b.lines - a.lines)
    .slice(0, 5);

  // Speed: the whole of Drain's work per line (JSON's msg, masking, the tree, the update), best of 5
  // over at least 200,000 lines (the corpus repeated), in a fresh miner each time.
  const reps = Math.max(1, Math.ceil(200_000 / Math.max(1, lines.length)));
  let best = Infinity;
  for (let run = 0; run < (o.speed === false ? 0 : 5); run++) {
    const m = new LogTemplateMiner();
    const t0 = performance.now();
    for (let r = 0; r < reps; r++) for (const l of lines) m.add(messageOf(l));
    best = Math.min(best, performance.now() - t0);
  }
  return {
    lines: lines.length,
    labelled: truth.filter((t) => t !== undefined).length,
    trueTemplates: groupsOfTruth.size,
    predictedTemplates: templates.length,
    groupingAccuracy: ga,
    templatesExact: groupsOfTruth.size === 0 ? 0 : exact / groupsOfTruth.size,
    linesPerSecond: o.speed === false ? 0 : (lines.length * reps) / (best / 1000),
    merged,
    split,
  };
}

function main(): void {
  const args = process.argv.slice(2).filter((a) => a !== '--json');
  const files =
    args.length > 0
      ? args
      : readdirSync(FIXTURES)
          .filter((f) => f.endsWith('.log.gz'))
          .sort()
          .map((f) => join(FIXTURES, f));
  const r = measure(readCorpus(files));
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  console.log(
    `  log templates (Drain)         ${files.length} file(s), ${r.lines.toLocaleString('en')} lines, ${r.labelled.toLocaleString('en')} labelled by their call site`,
  );
  console.log(
    `  grouping accuracy             ${pct(r.groupingAccuracy)} of labelled lines; ${pct(r.templatesExact)} of ${r.trueTemplates} true templates grouped exactly (${r.predictedTemplates} predicted)`,
  );
  console.log(
    `  parsing speed                 ${Math.round(r.linesPerSecond).toLocaleString('en')} lines/s (best of 5, ≥ 200,000 lines)`,
  );
  for (const m of r.merged) console.log(`    merged: ${m.truths} call sites, ${m.lines} lines in "${m.template.slice(0, 100)}"`);
  for (const s of r.split) console.log(`    split:  "${s.truth.slice(0, 100)}" over ${s.groups} groups (${s.lines} lines)`);
  if (process.argv.includes('--json')) process.stdout.write(`${RESULT_TAG}${JSON.stringify(r)}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
