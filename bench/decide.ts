/**
 * The decision stage alone: decideTransaction (rules, model, decision record) over snapshots read in
 * place from the state stage's flat values (SnapshotLayout.flatSource), as the ingest does, with the
 * shipped rule set and a forest trained on the same kind of snapshots (100 trees, ψ 256, alert rate
 * 1 %). Prints µs and heap bytes per transaction and the decision mix, so a change to detection/ can
 * be measured without the services.
 *
 *   node --expose-gc --max-semi-space-size=64 --import tsx bench/decide.ts
 *
 * BENCH_DECIDE_TX (default 20000) transactions per pass. Time: the best of 5 passes (a shared
 * machine). Allocation: heapUsed growth over chunks of 1,000 transactions started right after a full
 * GC, chunks during which a GC ran left out (the semi-space flag keeps that rare); the median chunk.
 */
import { readFileSync } from 'node:fs';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import { distributionOf } from '../detection/baseline.ts';
import type { DecisionPolicy } from '../detection/decide.ts';
import { decideTransaction, type DecisionInput, type Models } from '../detection/decision-record.ts';
import { FeatureSpace } from '../detection/features.ts';
import { scoreMatrix, trainForest } from '../detection/isolation-forest.ts';
import { thresholdForRate } from '../detection/metrics.ts';
import { compileRuleSet, type RuleSet, type RuleTxField } from '../detection/rules.ts';
import { ModelScorer, type ServingModel } from '../detection/score.ts';
import type { RiskTier, StaticFeatures } from '../domain/enrich.ts';
import { entityFeatureNames, featureArray, type EntityFeatures } from '../domain/entity-features.ts';
import { Rng } from '../domain/rng.ts';
import { SNAPSHOT_ENTITIES, SnapshotLayout, type EntityFeatureSet, type FlatFeatures } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';

const TIERS: readonly RiskTier[] = ['LOW', 'LOW', 'LOW', 'MEDIUM', 'HIGH'];
const MCCS = ['5411', '5812', '5999', '4111', '7995', '5967'];

function entity(rng: Rng, busy: number): EntityFeatures {
  const c1 = rng.chance(0.02) ? rng.int(4, 9) : rng.int(0, 2);
  const c2 = c1 + rng.int(0, 3 * busy);
  const c3 = c2 + rng.int(0, 20 * busy);
  const mean = rng.lognormal(8, 1);
  const w = (count: number) => ({
    count,
    sumMinor: Math.round(count * rng.lognormal(8, 1)),
    distinctMerchants: Math.min(count, rng.int(0, 4)),
    distinctCountries: Math.min(count, rng.chance(0.02) ? rng.int(3, 7) : rng.int(0, 2)),
  });
  const first = rng.chance(0.05);
  const km = rng.chance(0.01) ? rng.float(1000, 9000) : rng.float(0, 50);
  return {
    windows: [w(c1), w(c2), w(c3)],
    amountN: first ? 1 : rng.int(2, 500),
    amountMean: mean,
    amountStd: mean * rng.float(0.1, 1.5),
    sincePrevMs: first ? null : rng.int(1_000, 86_400_000),
    travelKm: first ? null : km,
    travelKmh: first ? null : km * rng.float(0.5, 2000),
  };
}

/** A transaction's static and windowed features, roughly as the simulator's traffic looks. */
function snapshotValues(rng: Rng): { st: StaticFeatures; features: EntityFeatureSet } {
  const known = rng.chance(0.97);
  return {
    st: {
      amount_base_minor: rng.chance(0.01) ? null : Math.round(rng.lognormal(8, 1.2)),
      account_age_days: known ? rng.int(0, 3000) : null,
      account_risk_tier: known ? rng.pick(TIERS) : null,
      home_country_mismatch: known ? rng.chance(0.05) : null,
      ip_country_mismatch: rng.chance(0.3) ? null : rng.chance(0.05),
      merchant_risk_tier: rng.pick(TIERS),
      bin_country_mismatch: rng.chance(0.2) ? null : rng.chance(0.03),
      hour_of_day: rng.int(0, 23),
    },
    features: {
      account: entity(rng, 2),
      card: entity(rng, 2),
      merchant: entity(rng, 30),
      device: rng.chance(0.3) ? null : entity(rng, 1),
    },
  };
}

function tx(rng: Rng, i: number): Record<RuleTxField, unknown> & { transaction_id: string } {
  return {
    transaction_id: `tx-${i}`,
    amount_minor: rng.int(100, 500_000),
    currency: 'EUR',
    mcc: rng.pick(MCCS),
    channel: 'ECOMMERCE',
    type: 'PURCHASE',
    account_id: `acc-${rng.int(1, 2000)}`,
    merchant_id: `m-${rng.int(1, 500)}`,
    merchant_country: 'DE',
    ip_country: null,
    device_id: `dev-${rng.int(1, 3000)}`,
    card_bin: '411111',
  };
}

/** The state stage's flat values of one transaction's features (the ingest decides on these). */
function flat(features: EntityFeatureSet): FlatFeatures {
  const values: number[] = [];
  for (const e of SNAPSHOT_ENTITIES) {
    const f = features[e];
    if (f === null) values.push(...entityFeatureNames(e, DEFAULT_WINDOWS).map(() => NaN));
    else values.push(...featureArray(f).map((v) => v ?? NaN));
  }
  return { values: Float64Array.from(values), at: 0, hasDevice: features.device !== null };
}

/** A forest over every snapshot feature, trained as `txmon model train` does. */
function trainModel(layout: SnapshotLayout, rng: Rng, rows: number): ServingModel {
  const space = new FeatureSpace(layout.names);
  const data = new Float64Array(rows * space.names.length);
  const row = new Float64Array(space.names.length);
  for (let r = 0; r < rows; r++) {
    const { st, features } = snapshotValues(rng);
    data.set(space.fromSource(layout.source(st, features), row), r * space.names.length);
  }
  const matrix = { rows, cols: space.names.length, data };
  const forest = trainForest(matrix, { trees: 100, sampleSize: 256, seed: 7 });
  const scores = scoreMatrix(forest, matrix);
  const features: Record<string, ReturnType<typeof distributionOf>> = {};
  const column = new Float64Array(rows);
  space.names.forEach((name, c) => {
    for (let r = 0; r < rows; r++) column[r] = data[r * matrix.cols + c] as number;
    features[name] = distributionOf(column);
  });
  return {
    version: 'if-bench',
    features: [...space.names],
    threshold: thresholdForRate(scores, 0.01),
    baseline: { features, score: distributionOf(scores) },
    forest,
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? NaN;
}

/** The inputs, rules, models and policy of a run of `n` transactions (seeded: the same every run). */
export function setup(n: number): { inputs: DecisionInput[]; rules: RuleSet; models: Models; policy: DecisionPolicy } {
  const rng = new Rng(42);
  const layout = new SnapshotLayout(DEFAULT_WINDOWS);
  const rules = compileRuleSet(readFileSync(new URL('../rules/rules.json', import.meta.url), 'utf8'), layout.names);
  const models: Models = { active: new ModelScorer(trainModel(layout, rng, 10_000)), shadow: null };
  const inputs: DecisionInput[] = [];
  for (let i = 0; i < n; i++) {
    const { st, features } = snapshotValues(rng);
    const t = tx(rng, i);
    inputs.push({
      transactionId: t.transaction_id,
      accountId: t.account_id as string,
      eventTime: 1_750_000_000_000 + i,
      amountMinor: t.amount_minor as number,
      currency: 'EUR',
      snapshot: layout.flatSource(st, flat(features)),
      tx: t,
    });
  }
  return { inputs, rules, models, policy: { blockScore: null } };
}

/** Runs the benchmark and prints its figures. */
export function run(): void {
  const n = Number(process.env.BENCH_DECIDE_TX ?? 20_000);
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc');
  const { inputs, rules, models, policy } = setup(n);
  const decideAll = (from = 0, to = n) => {
    const out = [];
    for (let i = from; i < to; i++) out.push(decideTransaction(inputs[i] as DecisionInput, rules, models, policy, 0));
    return out;
  };
  const mix: Record<string, number> = {};
  for (const d of decideAll()) mix[d.decision] = (mix[d.decision] ?? 0) + 1;
  decideAll();

  let best = Infinity;
  for (let p = 0; p < 5; p++) {
    gc();
    const t0 = performance.now();
    decideAll();
    best = Math.min(best, performance.now() - t0);
  }

  let gcs = 0;
  const obs = new PerformanceObserver((list) => (gcs += list.getEntries().length));
  obs.observe({ entryTypes: ['gc'] });
  const chunk = 1_000;
  const perTx: number[] = [];
  const runChunks = async () => {
    for (let from = 0; from + chunk <= n; from += chunk) {
      gc();
      await new Promise((r) => setTimeout(r, 20));
      const before = gcs;
      const h0 = process.memoryUsage().heapUsed;
      const kept = decideAll(from, from + chunk);
      const h1 = process.memoryUsage().heapUsed;
      await new Promise((r) => setTimeout(r, 20));
      if (gcs === before && kept.length === chunk) perTx.push((h1 - h0) / chunk);
    }
  };
  void runChunks().then(() => {
    obs.disconnect();
    console.log(
      JSON.stringify({
        transactions: n,
        decisions: mix,
        usPerTx: Math.round((best / n) * 1000 * 100) / 100,
        heapBytesPerTx: Math.round(median(perTx)),
        chunksMeasured: perTx.length,
      }),
    );
  });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) run();
