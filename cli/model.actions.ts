/** `txmon model ...`: train, evaluate and manage isolation-forest models. */
import { readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { parse } from 'csv-parse/sync';
import { serializeForest } from '../detection/forest-file.ts';
import { scoreMatrix, trainForest } from '../detection/isolation-forest.ts';
import { TableError, labelledTable } from '../detection/labelled-table.ts';
import { averagePrecision, rocAuc } from '../detection/metrics.ts';
import { InputError } from '../platform/errors.ts';
import type { TxmonConfig } from '../config/config.ts';
import { FeatureSpace } from '../detection/features.ts';
import { rulesInForce } from '../models/rule-set-registry.ts';
import { checkBeforePromotion } from './backtest.actions.ts';
import { actorName, type LifecycleOptions } from './context.ts';
import { startCanary } from './rollout.actions.ts';
import type { ServingModel } from '../detection/score.ts';
import { createPool, withPool, type Pool } from '../platform/mysql.ts';
import { evaluateDetection, formatEvaluation, type EvaluationReport } from '../models/evaluate.ts';
import { parseTime, rangeOption } from '../models/history.ts';
import { loadLabels } from '../models/labels.ts';
import {
  listModels,
  loadModel,
  loadModelCard,
  promote,
  registerModel,
  rollback,
  shadow,
  storeModelCard,
} from '../models/model-registry.ts';
import { cardForStoredModel, trainModel } from '../models/train.ts';
import { formatModelCard } from '../detection/model-card.ts';

export interface EvalCsvOptions {
  label: string;
  positive?: string;
  header: boolean;
  trees: number;
  sampleSize: number;
  seed: number;
}

export interface EvalCsvResult {
  file: string;
  rows: number;
  features: string[];
  excludedColumns: Array<{ column: string; reason: string }>;
  label: string;
  positiveLabel: string;
  positives: number;
  labelledRows: number;
  missingCells: number;
  rowsWithMissing: number;
  trees: number;
  sampleSize: number;
  seed: number;
  rocAuc: number;
  prAuc: number;
  trainMs: number;
  scoreUsPerRow: number;
  modelBytes: number;
}

/** The delimiter the first line uses most: comma, semicolon or tab. */
function sniffDelimiter(text: string): string {
  const end = text.indexOf('\n');
  const first = end < 0 ? text : text.slice(0, end);
  const counts = [',', ';', '\t'].map((d) => [d, first.split(d).length] as const);
  counts.sort((a, b) => b[1] - a[1]);
  return counts[0]?.[0] ?? ',';
}

/** Trains unsupervised on a labelled CSV's numeric columns and reports how well the scores rank the labels. */
export function evalCsv(file: string, o: EvalCsvOptions, say: (line: string) => void): EvalCsvResult {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new InputError(`cannot read ${file}: ${(err as Error).message}`);
  }
  say(`eval-csv: reading ${file} (${(text.length / 1e6).toFixed(1)} MB)`);
  let records: string[][];
  try {
    records = parse(text, { delimiter: sniffDelimiter(text), skip_empty_lines: true, bom: true }) as string[][];
  } catch (err) {
    throw new InputError(`${file} is not valid CSV: ${(err as Error).message}`);
  }
  const header = o.header ? (records.shift() ?? []) : (records[0] ?? []).map((_, i) => `c${i}`);
  const label = o.header ? o.label : /^\d+$/.test(o.label) ? `c${o.label}` : o.label;
  let table;
  try {
    table = labelledTable(header, records, label, o.positive);
  } catch (err) {
    if (err instanceof TableError) throw new InputError(`${file}: ${err.message}`);
    throw err;
  }
  say(
    `eval-csv: ${table.matrix.rows} rows, ${table.features.length} numeric features; label ${label} = ${JSON.stringify(table.positiveLabel)} is anomalous (${table.positives} rows)`,
  );

  const t0 = performance.now();
  const model = trainForest(table.matrix, { trees: o.trees, sampleSize: o.sampleSize, seed: o.seed });
  const trainMs = performance.now() - t0;
  // Warm up on a few rows first, so the figure is the steady per-row cost and not the JIT's.
  const warm = Math.min(table.matrix.rows, 5000);
  scoreMatrix(model, { rows: warm, cols: table.matrix.cols, data: table.matrix.data.subarray(0, warm * table.matrix.cols) });
  const t1 = performance.now();
  const scores = scoreMatrix(model, table.matrix);
  const scoreMs = performance.now() - t1;

  const keptScores: number[] = [];
  const keptLabels: boolean[] = [];
  table.labels.forEach((l, i) => {
    if (l === null) return;
    keptScores.push(scores[i] as number);
    keptLabels.push(l);
  });
  return {
    file,
    rows: table.matrix.rows,
    features: table.features,
    excludedColumns: table.excluded,
    label,
    positiveLabel: table.positiveLabel,
    positives: table.positives,
    labelledRows: keptLabels.length,
    missingCells: table.missingCells,
    rowsWithMissing: table.rowsWithMissing,
    trees: model.trees,
    sampleSize: model.sampleSize,
    seed: model.seed,
    rocAuc: rocAuc(keptScores, keptLabels),
    prAuc: averagePrecision(keptScores, keptLabels),
    trainMs,
    scoreUsPerRow: (scoreMs * 1000) / table.matrix.rows,
    modelBytes: Buffer.byteLength(serializeForest(model, table.features)),
  };
}

/** The human-readable report of an eval-csv run. */
export function formatEvalCsv(r: EvalCsvResult): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const lines = [
    `${r.file}: ${n(r.rows)} rows, ${r.features.length} features, ${n(r.positives)} anomalous (${r.label} = ${r.positiveLabel}, ${((100 * r.positives) / Math.max(1, r.labelledRows)).toFixed(2)}%)`,
    `  features          ${r.features.join(', ')}`,
    `  left out          ${r.excludedColumns.length === 0 ? 'none' : r.excludedColumns.map((e) => `${e.column} (${e.reason})`).join('; ')}`,
    `  missing values    ${n(r.missingCells)} cells in ${n(r.rowsWithMissing)} rows (filled with the column median)`,
    ...(r.labelledRows < r.rows ? [`  without a label   ${n(r.rows - r.labelledRows)} rows (scored, not in the metrics)`] : []),
    `  forest            ${r.trees} trees, sample size ${r.sampleSize}, seed ${r.seed}`,
    `  ROC AUC           ${r.rocAuc.toFixed(4)}`,
    `  PR AUC (AP)       ${r.prAuc.toFixed(4)}`,
    `  training          ${r.trainMs.toFixed(1)} ms`,
    `  scoring           ${r.scoreUsPerRow.toFixed(2)} µs/row`,
    `  model size        ${n(r.modelBytes)} bytes`,
  ];
  return `${lines.join('\n')}\n`;
}

export interface TrainCliOptions {
  from?: string;
  to?: string;
  trees: number;
  sampleSize: number;
  seed: number;
  alertRate: number;
  features?: string;
  actor?: string;
}

/** `txmon model train`: trains, stores a candidate, prints its version. */
export async function trainCommand(cfg: TxmonConfig, o: TrainCliOptions, say: (line: string) => void): Promise<string> {
  const pool = createPool(cfg);
  try {
    const model = await trainModel(
      pool,
      cfg.state.windows,
      {
        ...(o.from !== undefined && { from: parseTime('--from', o.from) }),
        ...(o.to !== undefined && { to: parseTime('--to', o.to) }),
        trees: o.trees,
        sampleSize: o.sampleSize,
        seed: o.seed,
        alertRate: o.alertRate,
        ...(o.features !== undefined && {
          features: o.features
            .split(',')
            .map((f) => f.trim())
            .filter(Boolean),
        }),
      },
      say,
    );
    await registerModel(pool, model, actorName(o.actor));
    say(`model train: stored ${model.version} as a candidate (txmon model shadow|promote ${model.version})`);
    return model.version;
  } finally {
    await pool.end();
  }
}

/** `txmon model list`. */
export async function listCommand(cfg: TxmonConfig, json: boolean): Promise<string> {
  const pool = createPool(cfg);
  try {
    const models = await listModels(pool);
    if (json) return `${JSON.stringify(models)}\n`;
    if (models.length === 0) return 'no models yet: txmon model train\n';
    const f = (x: unknown) => (typeof x === 'number' ? x.toFixed(4) : '   n/a');
    const lines = ['version                              state      created (UTC)        rows      threshold  ROC AUC  PR AUC'];
    for (const m of models)
      lines.push(
        `${m.version.padEnd(36)} ${m.state.padEnd(10)} ${m.createdAt.toISOString().slice(0, 19)}  ${String(m.trainingRows).padStart(8)}  ${m.threshold.toFixed(4).padStart(9)}  ${f(m.metrics?.rocAuc).padStart(7)}  ${f(m.metrics?.prAuc).padStart(6)}`,
      );
    return `${lines.join('\n')}\n`;
  } finally {
    await pool.end();
  }
}

/** `txmon model promote|shadow|rollback`. */
export async function lifecycleCommand(
  cfg: TxmonConfig,
  action: 'promote' | 'shadow' | 'rollback',
  version: string | undefined,
  o: LifecycleOptions,
  say: (line: string) => void = () => {},
): Promise<string> {
  const pool = createPool(cfg);
  const actor = actorName(o.actor);
  try {
    if (action === 'rollback') {
      const r = await rollback(pool, actor, o.reason);
      return `model rollback: ${r.from} retired, ${r.to} active again\n`;
    }
    if (version === undefined) throw new InputError(`model ${action}: give the model version (txmon model list)`);
    if (action === 'promote') {
      await checkBeforePromotion(pool, cfg, { model: version }, o, say);
      if (o.canary !== undefined) return await startCanary(pool, cfg, 'model', version, o.canary, o);
      const r = await promote(pool, version, actor, o.reason);
      return `model promote: ${version} is active${r.previous ? `; ${r.previous} retired` : ''}\n`;
    }
    const r = await shadow(pool, version, actor, o.reason);
    return `model shadow: ${version} is scored beside the active model${r.replaced ? `; ${r.replaced} back to candidate` : ''}\n`;
  } finally {
    await pool.end();
  }
}

/** `txmon model evaluate`: rules alone, model alone, combined, on labelled transactions. */
export async function evaluateCommand(
  cfg: TxmonConfig,
  o: { model?: string; from?: string; to?: string; json?: boolean },
  say: (line: string) => void,
): Promise<{ text: string; report: EvaluationReport }> {
  const pool = createPool(cfg);
  try {
    const model = await modelForEvaluation(pool, o.model);
    const rules = (await rulesInForce(pool, cfg.detection.rulesFile, FeatureSpace.available(cfg.state.windows))).set;
    const range = rangeOption(o.from, o.to);
    const report = await evaluateDetection(pool, model, rules, { blockScore: cfg.detection.blockScore }, range, say);
    return { text: o.json ? `${JSON.stringify(report)}\n` : formatEvaluation(report), report };
  } finally {
    await pool.end();
  }
}

/** The named model, else the active one, else the newest. */
async function modelForEvaluation(pool: Pool, version: string | undefined): Promise<ServingModel> {
  const models = await listModels(pool);
  const pick =
    version !== undefined ? models.find((m) => m.version === version) : (models.find((m) => m.state === 'active') ?? models[0]);
  if (pick === undefined)
    throw new InputError(version !== undefined ? `no model ${version}` : 'no models yet: txmon model train');
  return loadModel(pool, pick.version);
}

/** `txmon labels load`. */
export async function labelsCommand(
  cfg: TxmonConfig,
  file: string,
  source: string,
  say: (line: string) => void,
): Promise<string> {
  const pool = createPool(cfg);
  try {
    const r = await loadLabels(pool, file, source, say);
    return `labels: ${r.fraud.toLocaleString('en')} fraud and ${r.legit.toLocaleString('en')} legitimate transactions from ${file} (${r.skipped.toLocaleString('en')} lines without a label)\n`;
  } finally {
    await pool.end();
  }
}

/** `txmon model card`: show a model's card, or write the card of a model trained before cards. */
export async function cardCommand(
  cfg: TxmonConfig,
  version: string,
  o: { json?: boolean; generate?: boolean; actor?: string },
  say: (line: string) => void,
): Promise<string> {
  return withPool(cfg, async (pool) => {
    let card = await loadModelCard(pool, version);
    if (card === null && o.generate) {
      card = await cardForStoredModel(pool, version, say);
      await storeModelCard(pool, card, actorName(o.actor));
      say(`model card: written for ${version}`);
    } else if (o.generate) say(`model card: ${version} has a card already (written at training); shown unchanged`);
    if (card === null)
      throw new InputError(`model ${version} has no card (trained before model cards): txmon model card ${version} --generate`);
    return o.json ? `${JSON.stringify(card)}\n` : formatModelCard(card);
  });
}
