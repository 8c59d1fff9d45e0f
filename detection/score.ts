/** Scores a snapshot with a model and explains the score. Pure. */
import { percentileOf, type Baseline } from './baseline.ts';
import type { FeatureSource } from '../domain/snapshot.ts';
import { modelRiskOf, type ModelVerdict } from './decide.ts';
import { FeatureSpace } from './features.ts';
import { pathContributions, scoreRow, type ForestModel } from './isolation-forest.ts';

export interface ServingModel {
  readonly version: string;
  readonly features: readonly string[];
  readonly threshold: number;
  readonly baseline: Baseline;
  readonly forest: ForestModel;
}

/** A model bound to its feature space, with a reusable vector. */
export class ModelScorer {
  private readonly space: FeatureSpace;
  private readonly vector: Float64Array<ArrayBuffer>;
  private readonly thresholdPercentile: number;

  constructor(readonly model: ServingModel) {
    this.space = new FeatureSpace(model.features);
    this.vector = new Float64Array(model.features.length);
    this.thresholdPercentile = percentileOf(model.baseline.score, model.threshold) ?? 1;
    if (model.forest.cols !== model.features.length)
      throw new RangeError(`model ${model.version}: ${model.forest.cols} columns for ${model.features.length} features`);
  }

  /** Scores a snapshot; `lastVector` and `explain` then refer to it. */
  score(snapshot: FeatureSource): number {
    return scoreRow(this.model.forest, this.space.fromSource(snapshot, this.vector));
  }

  /** The feature vector of the last scored snapshot (reused: copy it to keep it). */
  get lastVector(): Float64Array {
    return this.vector;
  }

  /** modelRisk of the verdict on `score`, without building the verdict (percentile and thresholds only). */
  risk(score: number): number {
    const percentile = percentileOf(this.model.baseline.score, score) ?? 0;
    return modelRiskOf(score, this.model.threshold, percentile, this.thresholdPercentile);
  }

  /** The verdict on the last scored snapshot: percentile against training and the `top` features that drove it. */
  explain(score: number, top = 3): ModelVerdict {
    const x = this.vector;
    let order: number[] = [];
    let shares: Float64Array | null = null;
    if (top > 0) {
      shares = pathContributions(this.model.forest, x);
      order = topColumns(shares, top);
    }
    return {
      version: this.model.version,
      score,
      threshold: this.model.threshold,
      percentile: percentileOf(this.model.baseline.score, score) ?? 0,
      thresholdPercentile: this.thresholdPercentile,
      drivers: order.map((c) => {
        const name = this.model.features[c] as string;
        const v = x[c] as number;
        const dist = this.model.baseline.features[name];
        return {
          name,
          value: Number.isNaN(v) ? null : v,
          share: Math.round(((shares as Float64Array)[c] as number) * 1000) / 1000,
          percentile: dist === undefined ? null : percentileOf(dist, v),
        };
      }),
    };
  }

  /** Score and verdict in one call. */
  verdict(snapshot: FeatureSource, top = 3): ModelVerdict {
    return this.explain(this.score(snapshot), top);
  }
}

/**
 * The `top` columns of the largest shares, largest first, ties in column order: what a stable sort
 * of every column by share, descending, then cut to `top` gives, without sorting all of them.
 */
export function topColumns(shares: Float64Array, top: number): number[] {
  const order: number[] = [];
  for (let c = 0; c < shares.length; c++) {
    const v = shares[c] as number;
    let p = order.length;
    while (p > 0 && (shares[order[p - 1] as number] as number) < v) p--;
    if (p < top) {
      order.splice(p, 0, c);
      if (order.length > top) order.length = top;
    }
  }
  return order;
}
