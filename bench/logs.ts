/**
 * Issue 22's log-template figures (`npm run bench:logs`, and step (g) of `npm run bench`): Drain's
 * grouping accuracy on txmon's own logs, whose true templates come from their call sites
 * (bench/log-truth.ts), and its parsing speed in lines/s. Needs no services.
 *
 *   node --import tsx bench/logs.ts [corpus files...] [--sweep] [--json]
 *
 * Then the public labelled sets (bench/public-logs.ts); --sweep adds the grouping accuracy of each
 * corpus at Drain's similarity 0.3–0.9.
 *
 * Default corpus: tests/fixtures/logs/*.log.gz (their README says how each was recorded).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipOrPlainText } from '../platform/gzip-text.ts';
import { LogTemplateMiner, messageOf } from '../ops/log-templates.ts';
import { groupScores, type GroupScores } from './log-scores.ts';
import { measurePublic, publicLines, similaritySweep, type PublicSetResult } from './public-logs.ts';
import { callSitePatterns, labelMessages } from './log-truth.ts';

export const RESULT_TAG = 'logs-result ';
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = join(ROOT, 'tests/fixtures/logs');

/**
 * Drain on txmon's own logs (groupingAccuracy: the share of labelled lines whose predicted group is
 * exactly their true group; templatesExact: the share of true templates whose lines form exactly one
 * predicted group), its speed, and (from main) the public labelled sets.
 */
export interface LogsBenchResult extends GroupScores {
  lines: number;
  linesPerSecond: number;
  /** bench/public-logs.ts's results (main only: measure() leaves it out). */
  publicSets?: PublicSetResult[];
}

export const FIXTURE_DIR = FIXTURES;

export function readCorpus(files: readonly string[]): string[] {
  const lines: string[] = [];
  for (const f of files) {
    const bytes = readFileSync(f);
    const text = gzipOrPlainText(bytes);
    for (const l of text.split('\n')) if (l !== '') lines.push(l);
  }
  return lines;
}

export function measure(lines: readonly string[], o: { root?: string; speed?: boolean } = {}): LogsBenchResult {
  const messages = lines.map(messageOf);
  const truth = labelMessages(messages, callSitePatterns(o.root ?? ROOT));
  const miner = new LogTemplateMiner();
  const predicted = messages.map((m) => miner.add(m).id);
  const scores = groupScores(truth, predicted, miner);

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
    ...scores,
    linesPerSecond: o.speed === false ? 0 : (lines.length * reps) / (best / 1000),
  };
}

function main(): void {
  const args = process.argv.slice(2).filter((a) => a !== '--json' && a !== '--sweep');
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
  // The public labelled sets (tests/fixtures/public/hue): not LogHub's, which is kept for an independent check.
  const publicSets = measurePublic();
  console.log('  public labelled logs (HiBench, CTS: Xu et al., FSE 2023; tests/fixtures/public/hue)');
  for (const l of publicLines(publicSets)) console.log(l);
  if (process.argv.includes('--sweep')) {
    console.log(
      "  grouping accuracy by Drain's similarity (depth 4): txmon's own logs, then each public set's single-line events",
    );
    const messages = readCorpus(files).map(messageOf);
    const truth = labelMessages(messages, callSitePatterns(ROOT));
    for (const row of similaritySweep({ messages, truth })) console.log(`    ${row}`);
  }
  if (process.argv.includes('--json')) process.stdout.write(`${RESULT_TAG}${JSON.stringify({ ...r, publicSets })}\n`);
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) main();
