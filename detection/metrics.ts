/** Ranking metrics for labelled scores (higher score = more likely positive). Pure. */

function checkLengths(scores: ArrayLike<number>, labels: ArrayLike<boolean>): void {
  if (scores.length !== labels.length) throw new RangeError(`${scores.length} scores but ${labels.length} labels`);
  for (let i = 0; i < scores.length; i++) if (Number.isNaN(scores[i] as number)) throw new RangeError(`score ${i} is NaN`);
}

/** Indices sorted by descending score. */
function descending(scores: ArrayLike<number>): Int32Array {
  const order = new Int32Array(scores.length);
  for (let i = 0; i < order.length; i++) order[i] = i;
  return order.sort((a, b) => (scores[b] as number) - (scores[a] as number));
}

/**
 * ROC AUC: the probability that a random positive scores above a random negative, ties counting
 * one half (Mann-Whitney U with mid-ranks). NaN when either class is empty.
 */
export function rocAuc(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  checkLengths(scores, labels);
  const order = descending(scores);
  let positives = 0;
  let negatives = 0;
  let pairs = 0; // minus the lost pairs, ties as 1/2
  let negativesAbove = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i] as number] as number;
    let tiedPos = 0;
    let tiedNeg = 0;
    for (; i < order.length && scores[order[i] as number] === s; i++) {
      if (labels[order[i] as number]) tiedPos++;
      else tiedNeg++;
    }
    // Counted as losses: a positive loses to every negative above it and ties with those beside it.
    pairs -= tiedPos * negativesAbove + (tiedPos * tiedNeg) / 2;
    positives += tiedPos;
    negatives += tiedNeg;
    negativesAbove += tiedNeg;
  }
  if (positives === 0 || negatives === 0) return NaN;
  return (positives * negatives + pairs) / (positives * negatives);
}

/**
 * PR AUC as average precision: Σ (R_k − R_{k−1}) · P_k over the distinct score thresholds, from
 * the highest down (the step-wise definition, with no interpolation). NaN without positives.
 */
export function averagePrecision(scores: ArrayLike<number>, labels: ArrayLike<boolean>): number {
  checkLengths(scores, labels);
  const order = descending(scores);
  let positives = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) positives++;
  if (positives === 0) return NaN;
  let tp = 0;
  let seen = 0;
  let ap = 0;
  for (let i = 0; i < order.length;) {
    const s = scores[order[i] as number] as number;
    let gained = 0;
    for (; i < order.length && scores[order[i] as number] === s; i++) {
      seen++;
      if (labels[order[i] as number]) gained++;
    }
    tp += gained;
    if (gained > 0) ap += (gained / positives) * (tp / seen);
  }
  return ap;
}

export interface ThresholdStats {
  readonly threshold: number;
  /** Share of rows at or above the threshold. */
  readonly alertRate: number;
  readonly precision: number;
  readonly recall: number;
  readonly truePositives: number;
  readonly flagged: number;
}

/** Precision, recall and alert rate when every score ≥ threshold is flagged. */
export function atThreshold(scores: ArrayLike<number>, labels: ArrayLike<boolean>, threshold: number): ThresholdStats {
  checkLengths(scores, labels);
  let flagged = 0;
  let tp = 0;
  let positives = 0;
  for (let i = 0; i < scores.length; i++) {
    const hit = (scores[i] as number) >= threshold;
    if (labels[i]) positives++;
    if (hit) {
      flagged++;
      if (labels[i]) tp++;
    }
  }
  return {
    threshold,
    alertRate: scores.length === 0 ? 0 : flagged / scores.length,
    precision: flagged === 0 ? NaN : tp / flagged,
    recall: positives === 0 ? NaN : tp / positives,
    truePositives: tp,
    flagged,
  };
}

/**
 * The threshold that flags at most `rate` of the rows: the smallest score among the top
 * ⌊rate·n⌋ rows, raised past ties that would flag more. Infinity when nothing may be flagged.
 */
export function thresholdForRate(scores: ArrayLike<number>, rate: number): number {
  if (!(rate >= 0 && rate <= 1)) throw new RangeError(`rate must be in [0, 1], got ${rate}`);
  const sorted = Float64Array.from(scores).sort().reverse();
  const k = Math.floor(rate * sorted.length);
  if (k === 0) return Infinity;
  let cut = sorted[k - 1] as number;
  // Ties at the cut would flag more than k rows: move up to the next distinct score.
  if (k < sorted.length && sorted[k] === cut) {
    let j = k - 1;
    while (j >= 0 && sorted[j] === cut) j--;
    if (j < 0) return Infinity;
    cut = sorted[j] as number;
  }
  return cut;
}
