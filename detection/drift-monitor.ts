/**
 * Drift of live traffic against a model's training baseline: a ring of the most recent feature
 * vectors and scores, and the population stability index of each feature and of the score over it.
 * Pure (no clock, no I/O): the processor feeds it and reads it on a timer.
 */
import { psi, type Baseline } from './baseline.ts';

export interface DriftReport {
  readonly modelVersion: string;
  readonly sample: number;
  readonly scorePsi: number;
  readonly featurePsi: Readonly<Record<string, number>>;
}

export class DriftMonitor {
  private readonly vectors: Float64Array;
  private readonly scores: Float64Array;
  private next = 0;
  private filled = 0;

  constructor(
    readonly modelVersion: string,
    private readonly features: readonly string[],
    private readonly baseline: Baseline,
    readonly capacity = 5_000,
  ) {
    this.vectors = new Float64Array(capacity * features.length);
    this.scores = new Float64Array(capacity);
  }

  /** Records one scored transaction (the vector is copied). */
  add(vector: ArrayLike<number>, score: number): void {
    const cols = this.features.length;
    for (let c = 0; c < cols; c++) this.vectors[this.next * cols + c] = vector[c] as number;
    this.scores[this.next] = score;
    this.next = (this.next + 1) % this.capacity;
    if (this.filled < this.capacity) this.filled++;
  }

  /** PSI per feature and of the score over the recorded sample; null until `minSample` transactions. */
  report(minSample = 500): DriftReport | null {
    if (this.filled < minSample) return null;
    const cols = this.features.length;
    const column = new Float64Array(this.filled);
    const featurePsi: Record<string, number> = {};
    this.features.forEach((name, c) => {
      const d = this.baseline.features[name];
      if (d === undefined) return;
      for (let r = 0; r < this.filled; r++) column[r] = this.vectors[r * cols + c] as number;
      featurePsi[name] = psi(d, column);
    });
    return {
      modelVersion: this.modelVersion,
      sample: this.filled,
      scorePsi: psi(this.baseline.score, this.scores.subarray(0, this.filled)),
      featurePsi,
    };
  }
}
