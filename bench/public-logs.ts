/**
 * Issue 22's public labelled log sets: Drain's grouping accuracy on HiBench and CTS, the two data
 * sets of Xu et al., "Hue: A User-Adaptive Parser for Hybrid Logs" (ESEC/FSE 2023), from
 * logpai/hybridlogparser (MIT), vendored in tests/fixtures/public/hue (its README says what, from
 * where and what was changed). Huawei logs, not LogHub's. Printed by `npm run bench:logs` and step
 * (g) of `npm run bench`; needs no services.
 *
 * Each message of a set is labelled with its event id: `s…` a single-line event, `m…` a multi-line
 * message (an exception, a command's output), `t…` a table. A flattened message joins its physical
 * lines with the two characters `/n` and starts with a header (`[17:50:30] `, `[2][main] `), which
 * the log-parsing benchmarks split off with a per-set log format before parsing the content.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipOrPlainText } from '../platform/gzip-text.ts';
import { DEFAULT_DRAIN, groupingAccuracy, LogTemplateMiner, type DrainOptions } from '../ops/log-templates.ts';
import { groupScores, type GroupScores } from './log-scores.ts';

export const HUE_DIR = fileURLToPath(new URL('../tests/fixtures/public/hue', import.meta.url));

/** A set: its file prefix and the header each of its messages starts with. */
export interface PublicLogSet {
  name: string;
  header: RegExp;
}

export const HUE_SETS: readonly PublicLogSet[] = [
  // `[2][main] ` or `[2][<thread number>] `
  { name: 'CTS', header: /^\[\d+\]\[[^\]]*\] ?/ },
  // `[17:50:30] `
  { name: 'HiBench', header: /^\[\d{2}:\d{2}:\d{2}\] ?/ },
];

export type MessageKind = 'single-line' | 'multi-line' | 'table';

export interface LabelledMessage {
  /** The message's content: header removed, its lines joined by a space. */
  content: string;
  /** The message as the file holds it, header included (its lines joined by a space). */
  raw: string;
  /** The event id the set's authors gave it. */
  label: string;
  kind: MessageKind;
}

const KINDS: Readonly<Record<string, MessageKind>> = { s: 'single-line', m: 'multi-line', t: 'table' };

function gunzipped(path: string): string {
  const bytes = readFileSync(path);
  return gzipOrPlainText(bytes);
}

const linesOf = (text: string): string[] => text.split('\n').filter((l, i, all) => l !== '' || i < all.length - 1);

/** Reads one set's flattened messages and their labels (`<name>_2k_flatten.log.gz`, `<name>_2k.log_structured_flatten.csv.gz`). */
export function readHueSet(dir: string, set: PublicLogSet): LabelledMessage[] {
  const logFile = join(dir, `${set.name}_2k_flatten.log.gz`);
  const labelFile = join(dir, `${set.name}_2k.log_structured_flatten.csv.gz`);
  const lines = linesOf(gunzipped(logFile));
  const labelLines = linesOf(gunzipped(labelFile));
  if (labelLines[0]?.trim() !== 'EventId') throw new Error(`${labelFile}: line 1 must be the header EventId`);
  const labels = labelLines.slice(1).map((l) => l.trim());
  if (labels.length !== lines.length)
    throw new Error(`${set.name}: ${lines.length} messages in ${logFile} but ${labels.length} labels in ${labelFile}`);
  return lines.map((line, i) => {
    const label = labels[i] as string;
    const kind = KINDS[label.charAt(0)];
    if (kind === undefined || !/^[smt]\d+$/.test(label))
      throw new Error(`${labelFile}: line ${i + 2}: label ${JSON.stringify(label)} is not s<n>, m<n> or t<n>`);
    const header = set.header.exec(line);
    if (header === null) throw new Error(`${logFile}: line ${i + 1} does not start with ${set.name}'s header ${set.header}`);
    const text = (s: string): string => s.split('/n').join(' ').trim();
    return { content: text(line.slice(header[0].length)), raw: text(line), label, kind };
  });
}

export interface PublicSetResult extends GroupScores {
  set: string;
  /** The messages measured: the single-line events alone, or every message. */
  view: 'single-line' | 'all';
  /** Whether Drain saw the content (header removed, as the benchmarks do) or the raw message. */
  input: 'content' | 'raw';
  /** Drain's depth and similarity for this result (the defaults, or the best of SWEEP on this set). */
  depth: number;
  similarity: number;
  /**
   * Where the parameters come from: Drain's defaults (what `txmon logs cluster` runs), the best of
   * SWEEP on this set's own labels (an upper bound, not a prediction), or the Hue authors' Drain run
   * of the set (AUTHORS_DRAIN: their depth and similarity, without their per-set expressions).
   */
  settings: 'defaults' | 'tuned' | 'authors';
  messages: number;
}

/** The grid the tuned figures are the best of: what the log-parsing benchmarks tune Drain over per data set. */
export const SWEEP = {
  // The default depth first: a tie keeps it.
  depth: [4, 3, 5, 6],
  similarity: [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
} as const;

/**
 * The depth and similarity of the Hue authors' Drain run of each set (Siyuexi/Hue at dade149,
 * `benchmark/Drain_benchmark.py`); their six per-set masking expressions are not txmon's.
 */
export const AUTHORS_DRAIN: Readonly<Record<string, Pick<DrainOptions, 'depth' | 'similarity'>>> = {
  CTS: { depth: 4, similarity: 0.65 },
  HiBench: { depth: 4, similarity: 0.6 },
};

/** Drain (the given depth and similarity, Drain's defaults unless said; a fresh miner) over one view of a set, scored against its labels. */
export function measureSet(
  set: string,
  messages: readonly LabelledMessage[],
  view: PublicSetResult['view'],
  input: PublicSetResult['input'] = 'content',
  opts: Pick<DrainOptions, 'depth' | 'similarity'> = DEFAULT_DRAIN,
): PublicSetResult {
  const chosen = view === 'all' ? messages : messages.filter((m) => m.kind === 'single-line');
  const miner = new LogTemplateMiner(opts);
  const predicted = chosen.map((m) => miner.add(input === 'content' ? m.content : m.raw).id);
  return {
    set,
    view,
    input,
    depth: opts.depth,
    similarity: opts.similarity,
    settings: 'defaults',
    messages: chosen.length,
    ...groupScores(
      chosen.map((m) => m.label),
      predicted,
      miner,
    ),
  };
}

/** The best grouping accuracy over SWEEP for one view (ties: the first in SWEEP's order, the default depth first). */
export function tunedSet(set: string, messages: readonly LabelledMessage[], view: PublicSetResult['view']): PublicSetResult {
  let best: PublicSetResult | null = null;
  for (const depth of SWEEP.depth)
    for (const similarity of SWEEP.similarity) {
      const r = measureSet(set, messages, view, 'content', { depth, similarity });
      if (best === null || r.groupingAccuracy > best.groupingAccuracy) best = r;
    }
  return { ...(best as PublicSetResult), settings: 'tuned' };
}

/**
 * Every set: single-line events and all messages at Drain's defaults (what `txmon logs cluster`
 * runs), the single-line events raw (header kept), all messages at the Hue authors' Drain settings,
 * and each view's best over SWEEP.
 */
export function measurePublic(dir = HUE_DIR, o: { tuned?: boolean } = {}): PublicSetResult[] {
  const out: PublicSetResult[] = [];
  for (const set of HUE_SETS) {
    const messages = readHueSet(dir, set);
    out.push(measureSet(set.name, messages, 'single-line'));
    out.push(measureSet(set.name, messages, 'single-line', 'raw'));
    out.push(measureSet(set.name, messages, 'all'));
    const authors = AUTHORS_DRAIN[set.name];
    if (authors !== undefined) out.push({ ...measureSet(set.name, messages, 'all', 'content', authors), settings: 'authors' });
    if (o.tuned !== false) {
      out.push(tunedSet(set.name, messages, 'single-line'));
      out.push(tunedSet(set.name, messages, 'all'));
    }
  }
  return out;
}

/** One line per result, for `npm run bench:logs`. */
export function publicLines(results: readonly PublicSetResult[]): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  return results.map(
    (r) =>
      `  ${`${r.set}, ${r.view === 'all' ? 'all messages' : 'single-line events'}${r.input === 'raw' ? ', raw' : ''}${r.settings === 'defaults' ? '' : `, ${r.settings === 'tuned' ? 'tuned' : "the authors' settings"} (depth ${r.depth}, similarity ${r.similarity})`}`.padEnd(58)} ` +
      `${r.messages.toLocaleString('en')} messages, ${r.trueTemplates} true templates: grouping accuracy ${pct(r.groupingAccuracy)}; ` +
      `${pct(r.templatesExact)} of true templates grouped exactly (${r.predictedTemplates} predicted)`,
  );
}

/**
 * Grouping accuracy at depth 4 and each similarity of SWEEP, one line each: txmon's own logs
 * (`own`: messages and their call-site truth) and each public set's single-line events. How far the
 * default (0.4) is from what each corpus wants, and whether one threshold serves them all.
 */
export function similaritySweep(
  own: { messages: readonly string[]; truth: ReadonlyArray<string | undefined> },
  dir = HUE_DIR,
): string[] {
  const sets = HUE_SETS.map((set) => ({ name: set.name, messages: readHueSet(dir, set) }));
  const pct = (x: number): string => `${(100 * x).toFixed(1)} %`;
  return SWEEP.similarity.map((similarity) => {
    const miner = new LogTemplateMiner({ depth: 4, similarity });
    const predicted = own.messages.map((m) => miner.add(m).id);
    const cells = sets.map(
      (s) =>
        `${s.name} ${pct(measureSet(s.name, s.messages, 'single-line', 'content', { depth: 4, similarity }).groupingAccuracy)}`,
    );
    return `similarity ${similarity.toFixed(1)}: txmon's own ${pct(groupingAccuracy(own.truth, predicted))}, ${cells.join(', ')}`;
  });
}
