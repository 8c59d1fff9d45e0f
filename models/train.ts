/**
 * `txmon model train`: an isolation forest trained on the feature snapshots stored in MySQL over a
 * time range, with its threshold (from a target alert rate), training baselines (for drift and
 * explanations) and, where labels exist, its evaluation. Stored as a candidate.
 */
import { performance } from 'node:perf_hooks';
import { distributionOf, type Baseline } from '../detection/baseline.ts';
import { FeatureSpace } from '../detection/features.ts';
import { serializeForest, parseForest } from '../detection/forest-file.ts';
import { scoreMatrix, trainForest } from '../detection/isolation-forest.ts';
import { atThreshold, averagePrecision, rocAuc, thresholdForRate } from '../detection/metrics.ts';
import type { WindowSpec } from '../domain/windows.ts';
import { InputError } from '../platform/errors.ts';
import type { Pool } from '../platform/mysql.ts';
import { MatrixBuilder, readHistory, storedRange, type HistoryRange } from './history.ts';
import { buildModelCard, type CardRow, type ModelCard } from '../detection/model-card.ts';
import { segmentKeysOf, type SegmentKeys } from '../detection/segments.ts';
import { listModels, loadModel, type ModelParams, type NewModel } from './model-registry.ts';

export interface TrainOptions {
  from?: Date;
  to?: Date;
  trees: number;
  sampleSize: number;
  seed: number;
  /** Share of training transactions the model alone should flag; sets the threshold. */
  alertRate: number;
  /** Feature names (default: every feature of the snapshot). */
  features?: string[];
}

/** Labelled evaluation of scores at a threshold. */
export function evaluation(scores: ArrayLike<number>, labels: ReadonlyArray<boolean | null>, threshold: number) {
  const s: number[] = [];
  const l: boolean[] = [];
  labels.forEach((x, i) => {
    if (x === null) return;
    s.push(scores[i] as number);
    l.push(x);
  });
  const positives = l.filter(Boolean).length;
  if (positives === 0 || positives === l.length) return null;
  const at = atThreshold(s, l, threshold);
  return {
    labelledRows: l.length,
    positives,
    rocAuc: rocAuc(s, l),
    prAuc: averagePrecision(s, l),
    precisionAtThreshold: at.precision,
    recallAtThreshold: at.recall,
    alertRate: at.alertRate,
  };
}

const stamp = (d: Date) =>
  d
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');

/** Trains a model from MySQL's history; `say` gets progress lines. */
export async function trainModel(
  pool: Pool,
  windows: readonly WindowSpec[],
  o: TrainOptions,
  say: (line: string) => void,
): Promise<NewModel> {
  const available = await storedRange(pool);
  if (available === null) throw new InputError('no transactions with feature snapshots in MySQL: run the ingest first');
  const range: HistoryRange = { from: o.from ?? available.from, to: o.to ?? available.to };
  if (range.to <= range.from)
    throw new InputError(`empty training window: ${range.from.toISOString()} .. ${range.to.toISOString()}`);
  const space = new FeatureSpace(o.features ?? FeatureSpace.available(windows));
  const missing = space.missingFrom(windows);
  if (missing.length > 0) throw new InputError(`unknown features: ${missing.join(', ')}`);

  say(`model train: reading snapshots from ${range.from.toISOString()} to ${range.to.toISOString()} ...`);
  const builder = new MatrixBuilder(space);
  const read: Array<boolean | null> = [];
  const segments: SegmentKeys[] = [];
  const keys: Array<{ t: number; id: string }> = [];
  let lastSaid = 0;
  const rows = await readHistory(
    pool,
    range,
    (r) => {
      builder.add(r.snapshot);
      read.push(r.label);
      segments.push(segmentKeysOf(r.tx, r.snapshot));
      keys.push({ t: r.eventTime, id: r.transactionId });
    },
    (n) => {
      if (n - lastSaid >= 50_000) {
        say(`model train: ${n.toLocaleString('en')} rows read`);
        lastSaid = n;
      }
    },
  );
  if (rows < 2) throw new InputError(`${rows} transactions in the training window: need at least 2`);
  // In event-time order, not the order rows happened to be inserted in: the same stored history,
  // options and seed give the same model whatever the ingest's batch interleaving was.
  const stored = builder.matrix();
  const order = keys
    .map((_, i) => i)
    .sort((a, b) => {
      const ka = keys[a] as { t: number; id: string };
      const kb = keys[b] as { t: number; id: string };
      return ka.t - kb.t || (ka.id < kb.id ? -1 : ka.id > kb.id ? 1 : 0);
    });
  const matrix = { rows: stored.rows, cols: stored.cols, data: new Float64Array(stored.rows * stored.cols) };
  order.forEach((from, to) =>
    matrix.data.set(stored.data.subarray(from * stored.cols, (from + 1) * stored.cols), to * stored.cols),
  );
  const labels = order.map((i) => read[i] as boolean | null);
  say(
    `model train: ${rows.toLocaleString('en')} rows × ${space.names.length} features; training ${o.trees} trees (ψ = ${o.sampleSize}) ...`,
  );
  const t0 = performance.now();
  const forest = trainForest(matrix, { trees: o.trees, sampleSize: o.sampleSize, seed: o.seed });
  const trainMs = performance.now() - t0;
  const scores = scoreMatrix(forest, matrix);
  const threshold = thresholdForRate(scores, o.alertRate);
  if (!Number.isFinite(threshold))
    throw new InputError(`alert rate ${o.alertRate} flags no transaction of ${rows}: raise --alert-rate or train on more rows`);

  const baseline: Baseline = { features: {}, score: distributionOf(scores) };
  const column = new Float64Array(matrix.rows);
  space.names.forEach((name, c) => {
    for (let r = 0; r < matrix.rows; r++) column[r] = matrix.data[r * matrix.cols + c] as number;
    baseline.features[name] = distributionOf(column);
  });

  const forestText = serializeForest(forest, space.names);
  const { checksum } = parseForest(forestText);
  const params: ModelParams = { trees: o.trees, sampleSize: forest.sampleSize, seed: o.seed, targetAlertRate: o.alertRate };
  const evalResult = evaluation(scores, labels, threshold);
  const version = `if-${stamp(new Date())}-${checksum.slice(7, 15)}`;
  say(
    `model train: ${version}: threshold ${threshold.toFixed(4)} (alert rate ${o.alertRate}), trained in ${trainMs.toFixed(0)} ms, ${forestText.length.toLocaleString('en')} bytes`,
  );
  if (evalResult)
    say(
      `model train: on ${evalResult.labelledRows.toLocaleString('en')} labelled rows: ROC AUC ${evalResult.rocAuc.toFixed(4)}, PR AUC ${evalResult.prAuc.toFixed(4)}, precision ${evalResult.precisionAtThreshold.toFixed(3)} and recall ${evalResult.recallAtThreshold.toFixed(3)} at the threshold`,
    );
  else say('model train: no labelled data in the window (both classes needed): no evaluation');
  const card = buildModelCard(
    {
      version,
      trainedFrom: range.from,
      trainedTo: range.to,
      features: space.names,
      params: { ...params },
      threshold,
      evaluation: evalResult === null ? null : { ...evalResult },
      scores,
      matrix,
    },
    order.map((i, k) => ({ segments: segments[i] as SegmentKeys, label: labels[k] ?? null })),
  );
  say(
    `model train: card written (${card.segments.length} segments, ${card.limits.length} known limits: txmon model card ${version})`,
  );
  return {
    version,
    card,
    trainedFrom: range.from,
    trainedTo: range.to,
    trainingRows: rows,
    params,
    features: [...space.names],
    threshold,
    baseline,
    metrics: evalResult === null ? { trainMs } : { ...evalResult, trainMs },
    checksum,
    forest: forestText,
  };
}

/**
 * The card of a model trained before cards existed: its training window read again and scored with
 * its stored forest (`txmon model card <v> --generate`). The evaluation is the one stored at training.
 */
export async function cardForStoredModel(pool: Pool, version: string, say: (line: string) => void): Promise<ModelCard> {
  const summary = (await listModels(pool)).find((m) => m.version === version);
  if (summary === undefined) throw new InputError(`no model ${version} (txmon model list shows them)`);
  const model = await loadModel(pool, version);
  const space = new FeatureSpace(model.features);
  const builder = new MatrixBuilder(space);
  const rows: CardRow[] = [];
  say(
    `model card: reading ${version}'s training window, ${summary.trainedFrom.toISOString()} to ${summary.trainedTo.toISOString()} ...`,
  );
  await readHistory(pool, { from: summary.trainedFrom, to: summary.trainedTo }, (r) => {
    builder.add(r.snapshot);
    rows.push({ segments: segmentKeysOf(r.tx, r.snapshot), label: r.label });
  });
  if (rows.length === 0) throw new InputError(`model ${version}: its training window holds no stored transactions any more`);
  const matrix = builder.matrix();
  const { trainMs: _trainMs, ...evaluation } = summary.metrics ?? {};
  return buildModelCard(
    {
      version,
      trainedFrom: summary.trainedFrom,
      trainedTo: summary.trainedTo,
      features: model.features,
      params: { ...summary.params },
      threshold: model.threshold,
      evaluation: 'rocAuc' in evaluation ? evaluation : null,
      scores: scoreMatrix(model.forest, matrix),
      matrix,
    },
    rows,
  );
}
