// Reconciliation at volume and under crashes: a 25,000-transaction simulated run ends with the
// status the simulator's ground truth predicts for every reference (a volume at which every status
// and both shapes occur over a hundred times each; the large runs belong to the bench and the demo); a run killed (SIGKILL) several
// times mid-stream ends the same, with every exception change published exactly once.
import { afterAll, describe, expect, it } from 'vitest';
import { startReconcile } from '../../processors/reconcile/main.ts';
import { RECON_STATUSES } from '../../reconciliation/match.ts';
import { DEFAULT_SIM_OPTIONS, type SimOptions } from '../../simulator/types.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { produceSimulated } from '../helpers/pipeline.ts';
import {
  expectStatusesOf,
  killReconcileAtRandomPoints,
  produceSimulatedSettlements,
  readReconState,
  spawnReconcile,
} from '../helpers/recon.ts';

const namespaces: TestNamespace[] = [];
afterAll(async () => {
  for (const ns of namespaces) await ns.cleanup();
});

async function simulated(opts: Partial<SimOptions>, env: Record<string, string> = {}) {
  const ns = await createNamespace(env);
  namespaces.push(ns);
  const simOpts = { ...DEFAULT_SIM_OPTIONS, ...opts };
  await produceSimulated(ns, simOpts);
  const settlements = await produceSimulatedSettlements(ns, simOpts);
  return { ns, ...settlements };
}

describe('reconciliation at volume', () => {
  it('a 25,000-transaction run reconciles with the counts the ground truth predicts', async () => {
    const { ns, truth, summary } = await simulated({ seed: 21, count: 25_000 });
    const started = Date.now();
    const proc = await startReconcile(ns.cfg, testLogger, { drain: true });
    await proc.done;
    const seconds = (Date.now() - started) / 1000;
    const state = await readReconState(ns);
    expectStatusesOf(state, truth);
    const counts: Record<string, number> = {};
    for (const s of Object.values(state.statuses)) counts[s] = (counts[s] ?? 0) + 1;
    for (const [status, n] of Object.entries(summary.expected)) expect(counts[status] ?? 0, status).toBe(n);
    // Every exception kind and both shapes are in the run.
    for (const s of RECON_STATUSES.filter((x) => x !== 'PENDING')) expect(counts[s] ?? 0, s).toBeGreaterThan(0);
    expect(summary.one_to_n).toBeGreaterThan(100);
    expect(summary.n_to_one).toBeGreaterThan(100);
    expect(state.settlements).toBe(summary.lines);
    expect(state.unpublished).toBe(0);
    expect(state.publishedIds).toEqual(state.eventIds);
    console.info(
      `reconcile: ${summary.transactions.toLocaleString('en')} transactions, ${summary.lines.toLocaleString('en')} lines, ${truth.length.toLocaleString('en')} references in ${seconds.toFixed(1)} s`,
    );
  });

  it('SIGKILL at random points loses nothing, doubles nothing and publishes each change once', async () => {
    // Small fetches make many batches, so kills land between and inside batch effects.
    const { ns, truth } = await simulated({ seed: 22, count: 10_000 }, { TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384' });
    const lagAfterKills = await killReconcileAtRandomPoints(ns, 4);
    expect(lagAfterKills).toBeGreaterThan(0);
    const final = spawnReconcile(ns, ['--drain']);
    expect(await final.exited, final.output()).toBe(0);
    const state = await readReconState(ns);
    expectStatusesOf(state, truth);
    expect(state.unpublished).toBe(0);
    expect(state.publishedIds).toEqual(state.eventIds);
    expect(new Set(state.publishedIds).size).toBe(state.publishedIds.length);
  });
});
