// ml-isolation-forest 0.1.0 ships no types; this declares the part the benchmark and baseline test use.
declare module 'ml-isolation-forest' {
  export class IsolationForest {
    constructor(options?: { nEstimators?: number });
    /** The trees; each leaf keeps the training rows that reached it. */
    forest: unknown[];
    /** Grows every tree on all of `rows` (the library has no sub-sampling). */
    train(rows: number[][]): void;
    /** Anomaly scores in (0, 1], one per row. */
    predict(rows: number[][]): number[];
  }
}
