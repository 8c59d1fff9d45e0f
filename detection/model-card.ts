/**
 * A model card (issue 19): what a model was trained on, how it did on the labels of its window,
 * how its score relates to fraud (calibration), how often it alerts by segment, and what it cannot
 * do. Built at training from the training rows and their scores, stored with the version; a
 * promotion refuses a model without one. Pure.
 */
import { SegmentTally, type SegmentKeys, type SegmentRow } from './segments.ts';

/** The card's format; a reader meeting a later one shows it as JSON. */
export const MODEL_CARD_FORMAT = 1;

export interface CalibrationBin {
  /** Score range [lo, hi] of the bin (training-score deciles). */
  lo: number;
  hi: number;
  rows: number;
  /** Share of the bin at or above the threshold (the model alone alerts). */
  alerting: number;
  /** Labelled rows in the bin, and the share of them that are fraud (null: none labelled). */
  labelled: number;
  fraudRate: number | null;
}

export interface ModelCard {
  format: number;
  version: string;
  training: { from: string; to: string; rows: number; labelled: number; fraud: number };
  features: string[];
  params: Record<string, unknown>;
  threshold: number;
  /** ROC AUC, PR AUC, precision and recall at the threshold on the window's labels; null without both classes. */
  evaluation: Record<string, unknown> | null;
  calibration: CalibrationBin[];
  /** The model alone (score at or above the threshold): alert rate and precision per segment of the window. */
  segments: Array<Pick<SegmentRow, 'dimension' | 'value' | 'transactions' | 'rateAfter' | 'precisionAfter' | 'labelled'>>;
  /** Features missing (no value) in more than a tenth of the window, with their share. */
  sparseFeatures: Array<{ feature: string; missing: number }>;
  limits: string[];
}

/** One training row as the card needs it: its segments and label. */
export interface CardRow {
  segments: SegmentKeys;
  label: boolean | null;
}

/** Segments smaller than this are left out of the card (their rates say little). */
const MIN_SEGMENT_ROWS = 100;

export interface CardInput {
  version: string;
  trainedFrom: Date;
  trainedTo: Date;
  features: readonly string[];
  params: Record<string, unknown>;
  threshold: number;
  evaluation: Record<string, unknown> | null;
  /** Training scores, row by row, in the order of `rows`; and the feature matrix's values (NaN: missing). */
  scores: ArrayLike<number>;
  matrix: { rows: number; cols: number; data: ArrayLike<number> };
}

/** Builds the card of a model from its training rows (in the order of `input.scores`). */
export function buildModelCard(input: CardInput, rows: readonly CardRow[]): ModelCard {
  const n = rows.length;
  if (n !== input.scores.length) throw new RangeError(`${n} rows for ${input.scores.length} scores`);
  const segments = new SegmentTally();
  let labelled = 0;
  let fraud = 0;
  rows.forEach((r, i) => {
    const alert = (input.scores[i] as number) >= input.threshold;
    segments.addKeys(r.segments, false, alert, r.label);
    if (r.label !== null) {
      labelled++;
      if (r.label) fraud++;
    }
  });
  const sparseFeatures: ModelCard['sparseFeatures'] = [];
  const { cols, data } = input.matrix;
  input.features.forEach((feature, c) => {
    let missing = 0;
    for (let r = 0; r < n; r++) if (Number.isNaN(data[r * cols + c] as number)) missing++;
    if (n > 0 && missing / n > 0.1) sparseFeatures.push({ feature, missing: round(missing / n, 4) });
  });
  const segmentRows = segments.rows().filter((s) => s.transactions >= MIN_SEGMENT_ROWS);
  const small = segments.rows().length - segmentRows.length;
  const days = (input.trainedTo.getTime() - input.trainedFrom.getTime()) / 86_400_000;
  const limits = [
    'Unsupervised: the score ranks how isolated a transaction’s features are among the training window’s, not a probability of fraud; the threshold flags a set share of the window.',
    labelled === 0 || fraud === 0 || fraud === labelled
      ? 'No usable labels in the training window (both classes needed): precision, recall and calibration against fraud are unknown.'
      : `Evaluated on the training window itself (${labelled.toLocaleString('en')} labelled rows): an optimistic figure; judge it on later traffic (txmon model evaluate --from, txmon backtest --model).`,
    ...(days < 1 ? ['Trained on less than a day of event time: daily and weekly patterns are not covered.'] : []),
    ...(sparseFeatures.length > 0
      ? [
          `Features missing in more than 10 % of the window (filled with the training median): ${sparseFeatures.map((f) => f.feature).join(', ')}.`,
        ]
      : []),
    ...(small > 0
      ? [`${small} segment(s) with fewer than ${MIN_SEGMENT_ROWS} training rows are left out of the segment table.`]
      : []),
    'Card numbers, names and other PII are not features; merchant country and channel are used only to report alert rates here, not to score.',
  ];
  return {
    format: MODEL_CARD_FORMAT,
    version: input.version,
    training: { from: input.trainedFrom.toISOString(), to: input.trainedTo.toISOString(), rows: n, labelled, fraud },
    features: [...input.features],
    params: input.params,
    threshold: input.threshold,
    evaluation: input.evaluation,
    calibration: calibration(input.scores, rows, input.threshold),
    segments: segmentRows.map((s) => ({
      dimension: s.dimension,
      value: s.value,
      transactions: s.transactions,
      rateAfter: round(s.rateAfter, 6),
      precisionAfter: Number.isNaN(s.precisionAfter) ? NaN : round(s.precisionAfter, 6),
      labelled: s.labelled,
    })),
    sparseFeatures,
    limits,
  };
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** Ten bins by training-score decile: each bin's score range, share alerting and fraud rate where labelled. */
function calibration(scores: ArrayLike<number>, rows: readonly CardRow[], threshold: number): CalibrationBin[] {
  const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => (scores[a] as number) - (scores[b] as number));
  const bins: CalibrationBin[] = [];
  const parts = Math.min(10, order.length);
  for (let b = 0; b < parts; b++) {
    const from = Math.floor((b * order.length) / parts);
    const to = Math.floor(((b + 1) * order.length) / parts);
    let alerting = 0;
    let labelled = 0;
    let fraud = 0;
    for (let k = from; k < to; k++) {
      const i = order[k] as number;
      if ((scores[i] as number) >= threshold) alerting++;
      const label = rows[i]?.label ?? null;
      if (label !== null) {
        labelled++;
        if (label) fraud++;
      }
    }
    bins.push({
      lo: round(scores[order[from] as number] as number, 6),
      hi: round(scores[order[to - 1] as number] as number, 6),
      rows: to - from,
      alerting: round(alerting / (to - from), 6),
      labelled,
      fraudRate: labelled === 0 ? null : round(fraud / labelled, 6),
    });
  }
  return bins;
}

/** The card as text for a person. */
export function formatModelCard(card: ModelCard): string {
  const pct = (x: number | null) => (x === null || Number.isNaN(x) ? 'n/a' : `${(100 * x).toFixed(2)}%`);
  const e = card.evaluation as Record<string, number> | null;
  const lines = [
    `model card: ${card.version}`,
    `  training      ${card.training.from} to ${card.training.to}: ${card.training.rows.toLocaleString('en')} transactions, ${card.training.labelled.toLocaleString('en')} labelled (${card.training.fraud.toLocaleString('en')} fraud)`,
    `  parameters    ${Object.entries(card.params)
      .map(([k, v]) => `${k} ${String(v)}`)
      .join(', ')}; threshold ${card.threshold}`,
    `  features      ${card.features.length}: ${card.features.join(', ')}`,
    `  evaluation    ${
      e === null
        ? 'none (no labels with both classes in the window)'
        : `ROC AUC ${Number(e.rocAuc).toFixed(4)}, PR AUC ${Number(e.prAuc).toFixed(4)}, precision ${Number(e.precisionAtThreshold).toFixed(3)} and recall ${Number(e.recallAtThreshold).toFixed(3)} at the threshold (on ${Number(e.labelledRows).toLocaleString('en')} labelled rows)`
    }`,
    '',
    '  calibration (training-score deciles)   rows   alerting   labelled   fraud rate',
    ...card.calibration.map(
      (b) =>
        `    ${`${b.lo.toFixed(4)} – ${b.hi.toFixed(4)}`.padEnd(34)} ${b.rows.toLocaleString('en').padStart(6)} ${pct(b.alerting).padStart(10)} ${b.labelled.toLocaleString('en').padStart(10)} ${pct(b.fraudRate).padStart(12)}`,
    ),
    '',
    '  alert rate by segment (the model alone)   transactions   alert rate   precision',
    ...card.segments.map(
      (s) =>
        `    ${`${s.dimension}=${s.value}`.padEnd(38)} ${s.transactions.toLocaleString('en').padStart(12)} ${pct(s.rateAfter).padStart(12)} ${pct(s.precisionAfter).padStart(11)}`,
    ),
    '',
    '  known limits',
    ...card.limits.map((l) => `    - ${l}`),
  ];
  return `${lines.join('\n')}\n`;
}
