/**
 * How Drain's groups compare with the true templates of the lines (issue 22's measure, for txmon's
 * own logs in bench/logs.ts and the public sets in bench/public-logs.ts).
 */
import type { LogTemplateMiner } from '../ops/log-templates.ts';

/** How Drain's groups compare with the true templates: grouping accuracy, templates grouped exactly, the worst merges and splits. */
export interface GroupScores {
  labelled: number;
  trueTemplates: number;
  predictedTemplates: number;
  groupingAccuracy: number;
  templatesExact: number;
  /** The largest predicted groups holding lines of more than one true template. */
  merged: Array<{ template: string; truths: number; lines: number }>;
  /** The true templates split over most groups. */
  split: Array<{ truth: string; groups: number; lines: number }>;
}

/** Scores `predicted` (Drain's template id per line, from `miner`) against `truth` (undefined: not labelled, left out). */
export function groupScores(
  truth: ReadonlyArray<string | undefined>,
  predicted: readonly number[],
  miner: LogTemplateMiner,
): GroupScores {
  if (truth.length !== predicted.length) throw new RangeError('truth and predicted differ in length');
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
  // A true template is grouped exactly when its lines are one group holding no other: its lines are
  // then the lines grouping accuracy counts right (ops/log-templates.ts groupingAccuracy, the same definition).
  let exact = 0;
  let rightLines = 0;
  let labelled = 0;
  for (const groups of groupsOfTruth.values()) {
    const [only] = groups.keys();
    const lines = [...groups.values()].reduce((a, b) => a + b, 0);
    labelled += lines;
    if (groups.size === 1 && truthsOfGroup.get(only as number)?.size === 1) {
      exact++;
      rightLines += lines;
    }
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

  return {
    labelled,
    trueTemplates: groupsOfTruth.size,
    predictedTemplates: templates.length,
    groupingAccuracy: labelled === 0 ? 0 : rightLines / labelled,
    templatesExact: groupsOfTruth.size === 0 ? 0 : exact / groupsOfTruth.size,
    merged,
    split,
  };
}
