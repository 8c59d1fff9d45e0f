// Staged rollouts (issue 19) against the real MariaDB: start, grow, complete and roll back, one at a
// time and audited; the guardrails read the arms' counts as the sink writes them and roll a canary
// back by themselves with their evidence; a CLI step SIGKILLed between its change and its commit
// leaves the rollout as it was.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { PoolConnection, RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DecisionRecord } from '../../detection/decision-record.ts';
import { FeatureSpace } from '../../detection/features.ts';
import { DEFAULT_WINDOWS } from '../../domain/windows.ts';
import {
  checkRollout,
  completeRollout,
  growRollout,
  listRollouts,
  rollBackRollout,
  runningRollout,
  startRollout,
  type GuardrailLimits,
} from '../../models/rollout.ts';
import { listRuleSets, publishRuleSet } from '../../models/rule-set-registry.ts';
import { inTransaction, createPool, type Pool } from '../../platform/mysql.ts';
import { rolloutCounts, storeRolloutCounts } from '../../sinks/decision-counts.sink.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

const REPO = new URL('../../', import.meta.url).pathname;
const names = FeatureSpace.available(DEFAULT_WINDOWS);
const shipped = readFileSync(new URL('../../rules/rules.json', import.meta.url), 'utf8');
const version = (v: string) => shipped.replace('"version": "1"', `"version": "${v}"`);
const LIMITS: GuardrailLimits = { maxAlertRateFactor: 2, maxReviewQueueGrowth: 1, maxScorePsi: 0.25, minDecisions: 100 };
const by = { actor: 'alice@test' };

let ns: TestNamespace;
let pool: Pool;
let v2 = '';
let v3 = '';

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  v2 = (await publishRuleSet(pool, version('2'), names, { ...by, reason: 'r', source: 't' })).version;
  v3 = (await publishRuleSet(pool, version('3'), names, { ...by, reason: 'r', source: 't' })).version;
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

function txmon(extraEnv: Record<string, string>, ...args: string[]) {
  return spawnSync(process.execPath, ['bin/txmon.js', ...args], {
    cwd: REPO,
    env: { ...process.env, ...ns.env, TXMON_LOG_LEVEL: 'warn', ...extraEnv },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

async function audits(): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT action, actor FROM audit_log WHERE action LIKE 'rollout.%' ORDER BY id",
  );
  return rows.map((r) => `${r.action as string} ${r.actor as string}`);
}

/** Decisions of one arm as the sink counts them, in one MySQL transaction as the sink does. */
async function decided(
  id: number,
  arm: 'canary' | 'control',
  partition: number,
  decisions: Record<'ALLOW' | 'REVIEW' | 'BLOCK', number>,
) {
  const rows: Array<{ tx: { transaction_id: string }; position: { partition: number } }> = [];
  const records = new Map<string, DecisionRecord>();
  for (const [decision, n] of Object.entries(decisions))
    for (let i = 0; i < n; i++) {
      const transactionId = `${id}-${arm}-${partition}-${decision}-${i}-${Math.random()}`;
      rows.push({ tx: { transaction_id: transactionId }, position: { partition } });
      records.set(transactionId, { decision, rollout: { id, arm } } as unknown as DecisionRecord);
    }
  await inTransaction(pool, (conn: PoolConnection) => storeRolloutCounts(conn, rolloutCounts(rows, records), 10_000));
}

describe('staged rollouts', () => {
  it('start, grow and complete, one at a time, each step audited', async () => {
    const r = await startRollout(pool, 'rules', v2, 1_000, { ...by, reason: 'canary' });
    expect(r).toMatchObject({ kind: 'rules', version: v2, controlVersion: null, shareBp: 1_000, state: 'running' });
    await expect(startRollout(pool, 'rules', v3, 1_000, by)).rejects.toThrow(
      `rollout ${r.id} of rule set ${v2} is running (10%)`,
    );
    await expect(growRollout(pool, 500, by)).rejects.toThrow('is at 10% already');
    expect((await growRollout(pool, 5_000, by)).shareBp).toBe(5_000);
    expect((await runningRollout(pool))?.shareBp).toBe(5_000);
    await completeRollout(pool, by);
    expect(await runningRollout(pool)).toBeNull();
    expect((await listRuleSets(pool)).find((s) => s.version === v2)?.state).toBe('active');
    await expect(growRollout(pool, 6_000, by)).rejects.toThrow('no rollout is running');
    expect(await audits()).toEqual(['rollout.start alice@test', 'rollout.grow alice@test', 'rollout.complete alice@test']);
  });

  it('a guardrail rolls a canary back by itself, with its evidence, once however many processes check', async () => {
    const r = await startRollout(pool, 'rules', v3, 2_000, by);
    expect(r.controlVersion).toBe(v2);
    // Below the minimum of decisions the alert rate is not judged yet.
    await decided(r.id, 'canary', 0, { ALLOW: 40, REVIEW: 40, BLOCK: 0 });
    await decided(r.id, 'control', 0, { ALLOW: 950, REVIEW: 50, BLOCK: 0 });
    const early = await checkRollout(pool, LIMITS, async () => null);
    expect(early).toMatchObject({ rolledBack: false, evidence: { crossed: [] } });
    expect((await runningRollout(pool))?.evidence?.canary).toEqual({ decisions: 80, alerts: 40, reviews: 40 });
    // Two partitions' batches later the canary alerts at 50 % against the control's 5 %.
    await decided(r.id, 'canary', 1, { ALLOW: 40, REVIEW: 30, BLOCK: 10 });
    const checks = await Promise.all([1, 2, 3].map(() => checkRollout(pool, LIMITS, async () => null)));
    expect(checks.filter((c) => c?.rolledBack)).toHaveLength(1);
    const ended = (await listRollouts(pool)).find((x) => x.id === r.id);
    expect(ended?.state).toBe('rolled_back');
    expect(ended?.evidence).toMatchObject({ canary: { decisions: 160, alerts: 80 }, control: { decisions: 1_000, alerts: 50 } });
    expect(ended?.evidence?.crossed[0]).toMatch(
      /^alert rate 50\.00% on the canary against 5\.00% on the control \(10\.00× > 2×\)/,
    );
    const [rows] = await pool.query<RowDataPacket[]>("SELECT actor, detail FROM audit_log WHERE action = 'rollout.rollback'");
    expect(rows).toHaveLength(1);
    const detail = (typeof rows[0]?.detail === 'string' ? JSON.parse(rows[0].detail) : rows[0]?.detail) as {
      evidence: { crossed: string[] };
    };
    expect(rows[0]?.actor).toBe('guardrail');
    expect(detail.evidence.crossed).toEqual(ended?.evidence?.crossed);
    // The control stayed active throughout.
    expect((await listRuleSets(pool)).find((s) => s.version === v2)?.state).toBe('active');
  });

  it('a rollout step SIGKILLed after its change and before its commit leaves the rollout as it was', async () => {
    const r = await startRollout(pool, 'rules', v3, 1_000, by);
    const before = await audits();
    const killed = txmon({ TXMON_FAULT_ROLLOUT_STEP: 'true' }, 'rollout', 'grow', '50%', '--actor', 'bob');
    expect(killed.signal).toBe('SIGKILL');
    expect((await runningRollout(pool))?.shareBp).toBe(1_000);
    expect(await audits()).toEqual(before);
    const grown = txmon({}, 'rollout', 'grow', '50%', '--actor', 'bob');
    expect(grown.status, grown.stderr).toBe(0);
    expect(grown.stdout).toContain(`rollout ${r.id}: ${v3} now decides for 50% of accounts`);
    const rolledBack = txmon({ TXMON_FAULT_ROLLOUT_STEP: 'true' }, 'rollout', 'rollback', '--actor', 'bob');
    expect(rolledBack.signal).toBe('SIGKILL');
    expect((await runningRollout(pool))?.state).toBe('running');
    expect(txmon({}, 'rollout', 'rollback', '--actor', 'bob', '--reason', 'by hand').status).toBe(0);
    expect(await runningRollout(pool)).toBeNull();
    const status = txmon({}, 'rollout', 'status');
    expect(status.stdout).toContain('no rollout is running');
    expect(status.stdout).toMatch(/rolled_back .*guardrail: alert rate/);
    expect((await audits()).slice(before.length)).toEqual(['rollout.grow bob', 'rollout.rollback bob']);
    await expect(rollBackRollout(pool, by)).rejects.toThrow('no rollout is running');
  });
});
