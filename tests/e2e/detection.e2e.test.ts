// Detection end to end: history without a model → `txmon model train` / promote / shadow from the
// real CLI → traffic scored by the active and shadow models with SIGKILLs mid-stream (alerts exactly
// once on the alerts topic, read_committed) → a promotion and a rule edit taken up by a running
// processor without a restart, and a rule set published and promoted through the registry (it wins
// over the file) → backtests that reproduce what was decided → rollback, all audited.
import { spawnSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inCanary } from '../../detection/canary.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { createRegistry } from '../../platform/schema-registry.ts';
import { sleep } from '../../platform/retry.ts';
import { waitUntil } from '../../services/process.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { groupLag } from '../../platform/batch-consumer.ts';
import { generateEvents } from '../../simulator/generate.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import {
  expectDecisionsExactlyOnce,
  killAtRandomPoints,
  produceSimulated,
  readEndState,
  spawnIngest,
} from '../helpers/pipeline.ts';

const REPO = new URL('../../', import.meta.url).pathname;
// Event-time ranges that hold each phase's traffic alone (late events run up to 3 h behind).
const PHASE2 = { from: '2026-01-01T12:00:00Z', to: '2026-01-02T12:00:00Z' };
const PHASE3_FROM = '2026-01-02T12:00:00Z';
const PHASE4_FROM = '2026-01-04T12:00:00Z';
let ns: TestNamespace;
let pool: Pool;
let rulesFile: string;

function txmon(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/txmon.js', ...args], {
    cwd: REPO,
    env: { ...process.env, ...ns.env, TXMON_LOG_LEVEL: 'warn' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Waits (up to 2 minutes) until the ingest's group has no lag on `topic`. */
async function drained(topic: string): Promise<void> {
  const admin = createKafka(ns.cfg, testLogger).admin();
  await admin.connect();
  try {
    const deadline = Date.now() + 120_000;
    while ((await groupLag(admin, ns.cfg.ingest.groupId, topic)) > 0 && Date.now() < deadline) await sleep(250);
  } finally {
    await admin.disconnect();
  }
}

async function rows(sql: string, values: unknown[] = []): Promise<RowDataPacket[]> {
  const [r] = await pool.query<RowDataPacket[]>(sql, values);
  return r;
}

beforeAll(async () => {
  rulesFile = join(tmpdir(), `txmon-rules-${Date.now()}.json`);
  copyFileSync(new URL('../../rules/rules.json', import.meta.url), rulesFile);
  ns = await createNamespace({
    TXMON_RULES_FILE: rulesFile,
    TXMON_RULES_RELOAD_MS: '300',
    TXMON_MODEL_POLL_MS: '300',
    TXMON_INGEST_MAX_BYTES_PER_PARTITION: '16384',
  });
  pool = createPool(ns.cfg);
});
afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

describe('detection', () => {
  let active = '';
  let shadowVersion = '';
  let registryRules = '';

  it('decides history with rules alone, then trains, lists, promotes and shadows models from the CLI', async () => {
    await produceSimulated(ns, { seed: 21, count: 6_000 });
    const run = spawnIngest(ns);
    expect(await run.exited, run.output()).toBe(0);
    expectDecisionsExactlyOnce(await readEndState(ns));
    expect(await rows('SELECT COUNT(*) AS n FROM decisions WHERE model_version IS NOT NULL')).toEqual([{ n: 0 }]);

    const labels = txmon('labels', 'load', join(tmpdir(), `${ns.id}-ground-truth.jsonl`));
    expect(labels.status, labels.stderr).toBe(0);
    expect(labels.stdout).toMatch(/labels: [\d,]+ fraud and [\d,]+ legitimate/);

    const trained = txmon('model', 'train', '--alert-rate', '0.02', '--seed', '3');
    expect(trained.status, trained.stderr).toBe(0);
    active = trained.stdout.trim();
    expect(active).toMatch(/^if-\d{8}T\d{6}Z-[0-9a-f]{8}$/);
    expect(trained.stderr).toMatch(/ROC AUC 0\.\d{4}/);
    const second = txmon('model', 'train', '--alert-rate', '0.02', '--seed', '4', '--trees', '50');
    expect(second.status, second.stderr).toBe(0);
    shadowVersion = second.stdout.trim();
    expect(shadowVersion).not.toBe(active);

    // Each has its card from training: the window, evaluation on the labels, calibration, segments, limits.
    const card = JSON.parse(txmon('model', 'card', active, '--json').stdout) as {
      training: { rows: number; labelled: number; fraud: number };
      calibration: Array<{ rows: number; fraudRate: number | null }>;
      segments: Array<{ dimension: string }>;
      evaluation: { rocAuc: number } | null;
      limits: string[];
    };
    const trainedRows = Number((await rows('SELECT training_rows AS n FROM models WHERE version = ?', [active]))[0]?.n);
    expect(card.training.rows).toBe(trainedRows);
    expect(card.training.fraud).toBeGreaterThan(0);
    expect(card.evaluation?.rocAuc).toBeGreaterThan(0.5);
    expect(card.calibration).toHaveLength(10);
    expect(card.calibration.reduce((a, b) => a + b.rows, 0)).toBe(trainedRows);
    // Fraud concentrates in the highest-scoring decile.
    expect(card.calibration[9]?.fraudRate).toBeGreaterThan(card.calibration[0]?.fraudRate ?? 1);
    expect(new Set(card.segments.map((x) => x.dimension))).toEqual(new Set(['channel', 'merchant_country', 'account_age_band']));
    expect(card.limits.join(' ')).toContain('Unsupervised');

    // A model without a card (as one trained before cards) is refused promotion until one is written,
    // and the card written afterwards is the one training wrote.
    const secondCard = txmon('model', 'card', shadowVersion, '--json').stdout;
    await pool.query('UPDATE models SET card = NULL WHERE version = ?', [shadowVersion]);
    const uncarded = txmon('model', 'promote', shadowVersion, '--no-check');
    expect(uncarded.status).toBe(2);
    expect(uncarded.stderr).toContain(`model ${shadowVersion} has no model card`);
    const generated = txmon('model', 'card', shadowVersion, '--generate', '--json', '--actor', 'e2e');
    expect(generated.status, generated.stderr).toBe(0);
    expect(JSON.parse(generated.stdout)).toEqual(JSON.parse(secondCard));

    // (The check a promotion runs first is tested on the rule sets below.)
    expect(txmon('model', 'promote', active, '--no-check', '--actor', 'e2e', '--reason', 'first model').status).toBe(0);
    expect(txmon('model', 'shadow', shadowVersion, '--actor', 'e2e').status).toBe(0);
    const listed = JSON.parse(txmon('model', 'list', '--json').stdout) as Array<{ version: string; state: string }>;
    expect(Object.fromEntries(listed.map((m) => [m.version, m.state]))).toEqual({
      [active]: 'active',
      [shadowVersion]: 'shadow',
    });
    // The first active model has nothing to roll back to: a clear refusal, exit code 2.
    const refused = txmon('model', 'rollback');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toContain('there is none to roll back to');
  });

  it('scores new traffic with the active and shadow models; SIGKILLs lose no alert and repeat none', async () => {
    await produceSimulated(ns, { seed: 22, count: 8_000, startTime: Date.parse('2026-01-02T00:00:00Z') });
    expect(await killAtRandomPoints(ns, 2)).toBeGreaterThan(0);
    const run = spawnIngest(ns);
    expect(await run.exited, run.output()).toBe(0);
    const state = await readEndState(ns);
    expectDecisionsExactlyOnce(state);

    const scored = await rows(
      "SELECT COUNT(*) AS n, COUNT(DISTINCT model_version) AS models, SUM(shadow_model_version = ?) AS shadowed, SUM(shadow_score IS NULL) AS noShadow FROM decisions WHERE transaction_id LIKE 'tx-22-%'",
      [shadowVersion],
    );
    expect(scored[0]).toMatchObject({ models: 1, noShadow: '0' });
    expect(Number(scored[0]?.shadowed)).toBe(Number(scored[0]?.n));
    expect(await rows("SELECT DISTINCT model_version AS v FROM decisions WHERE transaction_id LIKE 'tx-22-%'")).toEqual([
      { v: active },
    ]);

    // The model alone sends some transactions to review, explained by the features that drove it.
    const modelOnly = await rows(
      "SELECT explanation FROM decisions WHERE transaction_id LIKE 'tx-22-%' AND decision = 'REVIEW' AND JSON_LENGTH(rule_hits) = 0",
    );
    expect(modelOnly.length).toBeGreaterThan(0);
    const explanation = (
      typeof modelOnly[0]?.explanation === 'string' ? JSON.parse(modelOnly[0].explanation) : modelOnly[0]?.explanation
    ) as {
      summary: string;
      model: { drivers: Array<{ name: string; share: number }> };
    };
    expect(explanation.summary).toMatch(/^REVIEW: model if-.* >= threshold .*; driven by /);
    expect(explanation.model.drivers.length).toBe(3);

    // Alerts on the topic are registry-framed Avro that any consumer can decode with the registry.
    const registry = createRegistry(ns.cfg);
    const messages = await readTopic(createKafka(ns.cfg, testLogger), topicName(ns.cfg.topicNamespace, 'alerts'));
    const decoded = (await registry.decode(messages[messages.length - 1]?.value as Buffer)) as Record<string, unknown>;
    expect(decoded).toMatchObject({ decision: expect.stringMatching(/^(REVIEW|BLOCK)$/), ruleset_version: expect.any(String) });
    const stored = await rows('SELECT alert_id, transaction_id FROM alerts WHERE alert_id = ?', [decoded.alert_id]);
    expect(stored[0]?.transaction_id).toBe(decoded.transaction_id);

    // The rules and model in force, backtested over what they decided (killed and replayed
    // included), reproduce every stored decision and risk score.
    const csv = join(tmpdir(), `${ns.id}-changed.csv`);
    const bt = txmon('backtest', '--from', PHASE2.from, '--to', PHASE2.to, '--json', '--changed-csv', csv);
    expect(bt.status, bt.stderr).toBe(0);
    const n = Number((await rows("SELECT COUNT(*) AS n FROM transactions WHERE transaction_id LIKE 'tx-22-%'"))[0]?.n);
    expect(JSON.parse(bt.stdout)).toMatchObject({
      transactions: n,
      changed: 0,
      riskChanged: 0,
      undecided: 0,
      candidate: { modelVersion: active },
      baseline: { modelVersions: { [active]: n } },
      transitions: { ALLOW: { REVIEW: 0, BLOCK: 0 }, REVIEW: { ALLOW: 0, BLOCK: 0 }, BLOCK: { ALLOW: 0, REVIEW: 0 } },
    });
    expect(readFileSync(csv, 'utf8')).toBe(
      'transaction_id,event_time,account_id,stored,candidate,risk_before,risk_after,rules\n',
    );
    expect(bt.stderr).toMatch(/decided again in [\d.]+ s \([\d,]+ tx\/s of compute\)/);
  });

  it('a running processor takes up model promotions, rule edits, shadowed and promoted rule sets and staged rollouts (one rolled back by its guardrail) without a restart; all audited', async () => {
    const topic = topicName(ns.cfg.topicNamespace, 'transactions');
    const phase3 = { seed: 23, count: 2_000, startTime: Date.parse('2026-01-03T00:00:00Z') };
    // The busiest account of the coming traffic goes on the block list.
    const counts = new Map<string, number>();
    for (const e of generateEvents({ ...DEFAULT_SIM_OPTIONS, ...phase3 }))
      if (e.kind === 'valid') counts.set(e.tx.account_id, (counts.get(e.tx.account_id) ?? 0) + 1);
    const busiest = [...counts.entries()].sort((a, b) => b[1] - a[1]);
    const blockedAccount = busiest[0]?.[0] as string;
    // The second busiest goes on the block list of a rule set in shadow.
    const shadowBlocked = busiest[1]?.[0] as string;
    // One processor for every phase below: each change reaches it while it runs. Its guardrail checks
    // are quick for the rollouts at the end (and a model rollout is not judged on its scores' drift
    // here: a few hundred of another day's).
    const running = spawnIngest(ns, [], {
      TXMON_ROLLOUT_CHECK_MS: '300',
      TXMON_ROLLOUT_MIN_DECISIONS: '100',
      TXMON_ROLLOUT_MAX_SCORE_PSI: '100',
    });
    let noisyVersion = '';
    /** Waits until the running processor has logged `line` more than `times` times, failing with its output. */
    const logged = async (line: string, times = 0) => {
      const count = () => running.output().split(line).length - 1;
      const r = await waitUntil(async () => count() > times, { timeoutMs: 30_000, intervalMs: 50 });
      expect(r.ok, `${line}: ${running.output().slice(-3000)}`).toBe(true);
    };
    /** Waits for a log line of the processor that `match` accepts (`what` names it in a failure). */
    const loggedLine = async (what: string, match: (line: string) => boolean) => {
      const r = await waitUntil(async () => running.output().split('\n').some(match), { timeoutMs: 30_000, intervalMs: 50 });
      expect(r.ok, `${what}: ${running.output().slice(-3000)}`).toBe(true);
    };
    try {
      // Running (its rules and models loaded, both watched) before the changes.
      await logged('ingest running');
      const modelChanges = running.output().split('models changed').length - 1;
      expect(txmon('model', 'promote', shadowVersion, '--no-check', '--actor', 'e2e').status).toBe(0);
      const rules = JSON.parse(readFileSync(rulesFile, 'utf8')) as { version: string; lists: Record<string, string[]> };
      rules.lists.blocked_accounts = [blockedAccount];
      writeFileSync(rulesFile, JSON.stringify(rules));
      // Both taken up by the running process before the traffic comes.
      await logged('models changed', modelChanges);
      await logged('rule set reloaded');
      // Then version 2, which blocks the second busiest account too, published and put in shadow:
      // it decides beside the file's rules without acting.
      const published = join(tmpdir(), `${ns.id}-rules-v2.json`);
      writeFileSync(
        published,
        JSON.stringify(
          { ...rules, version: '2', lists: { ...rules.lists, blocked_accounts: [blockedAccount, shadowBlocked] } },
          null,
          2,
        ),
      );
      const publish = txmon('rules', 'publish', published, '--actor', 'e2e', '--reason', 'block the two busiest accounts');
      expect(publish.status, publish.stderr).toBe(0);
      registryRules = publish.stdout.trim();
      expect(registryRules).toMatch(/^2@[0-9a-f]{12}$/);
      expect(txmon('rules', 'shadow', registryRules, '--actor', 'e2e').status).toBe(0);
      await logged('shadow rule set changed');
      await produceSimulated(ns, phase3);
      await drained(topic);
      expect(await rows("SELECT DISTINCT model_version AS v FROM decisions WHERE transaction_id LIKE 'tx-23-%'")).toEqual([
        { v: shadowVersion },
      ]);
      const blocked = await rows(
        "SELECT decision, COUNT(*) AS n FROM decisions WHERE transaction_id LIKE 'tx-23-%' AND account_id = ? GROUP BY decision",
        [blockedAccount],
      );
      expect(blocked.map((r) => r.decision)).toEqual(['BLOCK']);
      expect(running.output()).toContain('rule set reloaded');
      const fileRules = await rows("SELECT DISTINCT ruleset_version AS v FROM transactions WHERE transaction_id LIKE 'tx-23-%'");
      expect(fileRules).toEqual([{ v: expect.stringMatching(/^1@/) }]);
      expectDecisionsExactlyOnce(await readEndState(ns));

      // What the shadow rule set observed is what a backtest of it predicts on the same traffic.
      const report = txmon('rules', 'shadow-report', registryRules, '--json');
      expect(report.status, report.stderr).toBe(0);
      const observed = JSON.parse(report.stdout) as { transactions: number; transitions: Record<string, Record<string, number>> };
      const predicted = txmon('backtest', '--rules', registryRules, '--from', PHASE3_FROM, '--to', PHASE4_FROM, '--json');
      expect(predicted.status, predicted.stderr).toBe(0);
      const prediction = JSON.parse(predicted.stdout) as typeof observed;
      expect(prediction.transitions).toEqual(observed.transitions);
      expect(observed.transactions).toBe(
        Number((await rows("SELECT COUNT(*) AS n FROM transactions WHERE transaction_id LIKE 'tx-23-%'"))[0]?.n),
      );
      const secondRows = await rows(
        "SELECT COUNT(*) AS n FROM transactions WHERE transaction_id LIKE 'tx-23-%' AND account_id = ? AND decision <> 'BLOCK'",
        [shadowBlocked],
      );
      expect(Number(secondRows[0]?.n)).toBeGreaterThan(0);
      expect((observed.transitions.ALLOW?.BLOCK ?? 0) + (observed.transitions.REVIEW?.BLOCK ?? 0)).toBe(Number(secondRows[0]?.n));

      // What the processor decided after the edit and the promotion is what a backtest of them says.
      const same = txmon('backtest', '--from', PHASE3_FROM, '--to', PHASE4_FROM, '--json');
      expect(same.status, same.stderr).toBe(0);
      const n = Number((await rows("SELECT COUNT(*) AS n FROM transactions WHERE transaction_id LIKE 'tx-23-%'"))[0]?.n);
      expect(JSON.parse(same.stdout)).toMatchObject({
        transactions: n,
        changed: 0,
        riskChanged: 0,
        candidate: { modelVersion: shadowVersion },
      });
      // The rules and model before them would have let the blocked account's transactions through (or
      // reviewed them): each of them changes from BLOCK, and nothing else leaves BLOCK.
      const before = txmon(
        'backtest',
        '--from',
        PHASE3_FROM,
        '--to',
        PHASE4_FROM,
        '--rules',
        'rules/rules.json',
        '--model',
        active,
        '--changed-csv',
        '-',
      );
      expect(before.status, before.stderr).toBe(0);
      const changed = before.stdout
        .trim()
        .split('\n')
        .slice(1)
        .map((line) => line.split(','));
      const blockedRows = Number(blocked[0]?.n);
      const unblocked = changed.filter((c) => c[2] === blockedAccount && c[3] === 'BLOCK' && c[4] !== 'BLOCK');
      // The rules before the edit block nothing (empty lists) and no block score is set.
      expect(unblocked.length).toBe(blockedRows);
      expect(blockedRows).toBeGreaterThan(0);
      expect(changed.filter((c) => c[3] === 'BLOCK' && c[2] !== blockedAccount)).toEqual([]);
      expect(before.stderr).toMatch(/stored ↓ candidate →/);

      // A rule set that reviews every e-commerce purchase: its promotion's check flags the segment,
      // and --strict refuses it, changing nothing.
      const noisy = JSON.parse(readFileSync(rulesFile, 'utf8')) as { version: string; rules: unknown[] };
      noisy.version = '3';
      noisy.rules.push({
        id: 'all-ecommerce',
        version: '1',
        description: 'every e-commerce purchase',
        severity: 'medium',
        action: 'REVIEW',
        when: { '==': [{ var: 'channel' }, 'ECOMMERCE'] },
      });
      const noisyFile = join(tmpdir(), `${ns.id}-rules-v3.json`);
      writeFileSync(noisyFile, JSON.stringify(noisy));
      noisyVersion = txmon('rules', 'publish', noisyFile, '--reason', 'too broad').stdout.trim();
      const refused = txmon('rules', 'promote', noisyVersion, '--strict', '--actor', 'e2e');
      expect(refused.status, refused.stderr).toBe(2);
      expect(refused.stderr).toMatch(/WARNING: channel=ECOMMERCE: alert rate [\d.]+% → [\d.]+%/);
      expect(refused.stderr).toContain('promotion refused (--strict)');
      expect(await rows('SELECT state FROM rule_sets WHERE version = ?', [noisyVersion])).toEqual([{ state: 'candidate' }]);

      // Version 2 promoted while a processor runs: it decides the next traffic, as its backtest says.
      const phase4 = { seed: 24, count: 300, startTime: Date.parse('2026-01-05T00:00:00Z') };
      const ruleChanges = running.output().split('rule set in force changed').length - 1;
      const promotion = txmon('rules', 'promote', registryRules, '--actor', 'e2e', '--reason', 'shadow looked right');
      expect(promotion.status, promotion.stderr).toBe(0);
      expect(promotion.stderr).toMatch(/check: [\d,]+ of [\d,]+ decisions would change/);
      await logged('rule set in force changed', ruleChanges);
      await produceSimulated(ns, phase4);
      await drained(topic);
      expect(await rows("SELECT DISTINCT ruleset_version AS v FROM transactions WHERE transaction_id LIKE 'tx-24-%'")).toEqual([
        { v: registryRules },
      ]);
      const promoted = txmon('backtest', '--from', PHASE4_FROM, '--json');
      expect(promoted.status, promoted.stderr).toBe(0);
      expect(JSON.parse(promoted.stdout)).toMatchObject({
        changed: 0,
        riskChanged: 0,
        candidate: { rulesetVersion: registryRules },
      });

      // The noisy rule set as a staged rollout to half the accounts: the processor decides the canary's
      // accounts with it and the others with version 2, until a guardrail rolls it back by itself.
      const phase5 = { seed: 25, count: 600, startTime: Date.parse('2026-01-07T00:00:00Z') };
      // Traffic after the rollback: every account on version 2 again, and on the first model, rolled out to all.
      const phase5b = { seed: 26, count: 200, startTime: Date.parse('2026-01-08T00:00:00Z') };
      const started = txmon('rules', 'promote', noisyVersion, '--canary', '50%', '--no-check', '--actor', 'e2e');
      expect(started.status, started.stderr).toBe(0);
      expect(started.stdout).toMatch(
        new RegExp(`rollout \\d+: rule set ${noisyVersion} decides for 50% of accounts \\(the rest stay on ${registryRules}\\)`),
      );
      await logged('rollout changed');
      await produceSimulated(ns, phase5);
      await logged('rollout rolled back by a guardrail');
      // The rollback shows in the processor's metrics too.
      const metricsUrl = /"url":"(http:[^"]+\/metrics)"/.exec(running.output())?.[1];
      expect(metricsUrl, running.output().slice(-2000)).toBeDefined();
      const scraped = await (await fetch(metricsUrl as string)).text();
      expect(scraped).toMatch(/^txmon_detection_rollout_guardrail_rollbacks_total\{kind="rules"\} 1$/m);
      await drained(topic);
      // A model rollout to every account: the first model decides the next traffic, then is promoted.
      const modelCanary = txmon('model', 'promote', active, '--canary', '100%', '--no-check', '--actor', 'e2e');
      expect(modelCanary.status, modelCanary.stderr).toBe(0);
      expect(modelCanary.stdout).toContain(`model ${active} decides for 100% of accounts (the rest stay on ${shadowVersion})`);
      // This rollout's own line: the rule set's rollback is logged as a change too, by the watcher's
      // poll after it, which can come after this promote (then counting changes returned too early).
      await loggedLine(
        `the model rollout of ${active} taken up`,
        (l) => l.includes('"msg":"rollout changed"') && l.includes(`"kind":"model","version":"${active}"`),
      );
      await produceSimulated(ns, phase5b);
      await drained(topic);
      const status = JSON.parse(txmon('rollout', 'status', '--json').stdout) as {
        running: unknown;
        recent: Array<{ version: string; state: string; evidence: { crossed: string[]; canary: { decisions: number } } }>;
      };
      // The model rollout still runs (completed below); the rule set's was rolled back by its guardrail.
      expect(status.running).toMatchObject({ kind: 'model', version: active, shareBp: 10_000 });
      expect(status.recent[1]).toMatchObject({ version: noisyVersion, state: 'rolled_back' });
      expect(status.recent[1]?.evidence.crossed[0]).toMatch(/^alert rate [\d.]+% on the canary against [\d.]+% on the control/);
      expect(status.recent[1]?.evidence.canary.decisions).toBeGreaterThanOrEqual(100);
      // The noisy rules decided only for the canary's accounts, and nothing after the rollback.
      const decided5 = await rows("SELECT account_id, ruleset_version FROM transactions WHERE transaction_id LIKE 'tx-25-%'");
      const byNoisy = decided5.filter((r) => r.ruleset_version === noisyVersion);
      expect(byNoisy.length).toBeGreaterThan(0);
      expect(byNoisy.every((r) => inCanary(r.account_id as string, 5_000))).toBe(true);
      expect(
        decided5.filter((r) => !inCanary(r.account_id as string, 5_000)).every((r) => r.ruleset_version === registryRules),
      ).toBe(true);
      const after = await rows(
        "SELECT DISTINCT ruleset_version AS rules, model_version AS model FROM transactions WHERE transaction_id LIKE 'tx-26-%'",
      );
      expect(after).toEqual([{ rules: registryRules, model: active }]);
      const completed = txmon('rollout', 'complete', '--actor', 'e2e');
      expect(completed.status, completed.stderr).toBe(0);
      expect(
        Object.fromEntries(
          (JSON.parse(txmon('model', 'list', '--json').stdout) as Array<{ version: string; state: string }>).map((m) => [
            m.version,
            m.state,
          ]),
        ),
      ).toEqual({ [active]: 'active', [shadowVersion]: 'retired' });
    } finally {
      running.child.kill('SIGTERM');
      expect(await running.exited, running.output()).toBe(0);
    }

    const rolled = txmon('model', 'rollback', '--actor', 'e2e', '--reason', 'test');
    expect(rolled.status, rolled.stderr).toBe(0);
    expect(rolled.stdout).toContain(`${active} retired, ${shadowVersion} active again`);
    const audit = await rows('SELECT actor, action, subject FROM audit_log ORDER BY id');
    expect(audit.map((a) => `${a.action} ${a.subject}`)).toEqual([
      `model.train ${active}`,
      `model.train ${shadowVersion}`,
      `model.card ${shadowVersion}`,
      `model.promote ${active}`,
      `model.shadow ${shadowVersion}`,
      `model.promote ${shadowVersion}`,
      `rules.publish ${registryRules}`,
      `rules.shadow ${registryRules}`,
      `rules.publish ${noisyVersion}`,
      `rules.promote ${registryRules}`,
      `rollout.start ${noisyVersion}`,
      `rollout.rollback ${noisyVersion}`,
      `rollout.start ${active}`,
      `model.promote ${active}`,
      `rollout.complete ${active}`,
      `model.rollback ${shadowVersion}`,
    ]);
    // Append-only: MySQL itself refuses to edit the audit log.
    await expect(pool.query("UPDATE audit_log SET actor = 'someone else'")).rejects.toThrow(/append-only/);
  });
});
