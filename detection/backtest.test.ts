import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SnapshotWriter, snapshotFeatureNames, vectorSource } from '../domain/snapshot.ts';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import {
  Backtest,
  storedDecisionOf,
  formatBacktest,
  type BacktestRow,
  type Candidate,
  type ChangedDecision,
} from './backtest.ts';
import { inputOf, model, ruleSets, transaction, type Transaction } from './decision.fixture.ts';
import { decideTransaction, type Models } from './decision-record.ts';
import { compileRuleSet, type RuleSet } from './rules.ts';
import { ModelScorer } from './score.ts';

const writer = new SnapshotWriter(DEFAULT_WINDOWS);
const names = Object.freeze(snapshotFeatureNames(DEFAULT_WINDOWS));
const DAY = 86_400_000;

/**
 * What the ingest stores for a transaction decided live: the decision, and the snapshot as the sink
 * writes it (a JSON vector in the layout's order, NaN as null), read back as a backtest reads it.
 */
function storedRow(t: Transaction, i: number, rules: RuleSet, models: Models, label: boolean | null = null): BacktestRow {
  const live = { ...inputOf({ ...t, inPlace: true }, i), eventTime: Date.UTC(2026, 0, 1) + (i % 3) * DAY + i };
  const rec = decideTransaction(live, rules, models, { blockScore: null }, 0);
  const values = JSON.parse(writer.values(t.st, t.features)) as unknown[];
  return {
    ...live,
    snapshot: vectorSource(names, values),
    stored: storedDecisionOf(rec),
    label,
  };
}

describe('Backtest', () => {
  const [shipped] = ruleSets() as [RuleSet];
  const scorer = new ModelScorer(model('m-live', 1));
  const live: Models = { active: scorer, shadow: null };

  it('reproduces every decision and risk score the ingest made, from the stored vectors (the live candidate)', () => {
    fc.assert(
      fc.property(fc.array(transaction, { minLength: 1, maxLength: 40 }), fc.boolean(), (txs, withModel) => {
        const models: Models = withModel ? live : { active: null, shadow: null };
        const changed: ChangedDecision[] = [];
        const backtest = new Backtest({ rules: shipped, model: models.active, policy: { blockScore: null } }, (c) =>
          changed.push(c),
        );
        const rows = txs.map((t, i) => storedRow(t, i, shipped, models));
        for (const r of rows) backtest.add(r);
        const report = backtest.report();
        expect(changed).toEqual([]);
        expect(report.changed).toBe(0);
        expect(report.riskChanged).toBe(0);
        expect(report.transactions).toBe(rows.length);
        for (const d of ['ALLOW', 'REVIEW', 'BLOCK'] as const)
          expect(report.transitions[d][d]).toBe(rows.filter((r) => r.stored.decision === d).length);
        for (const day of report.alertsPerDay) expect(day.after).toBe(day.before);
        expect(report.baseline.rulesetVersions).toEqual({ [shipped.version]: rows.length });
      }),
      { numRuns: 150 },
    );
  });

  it('predicts what a rule edit changes: the transitions, the changed transactions, hits per rule, alerts per day', () => {
    const txs = fc.sample(transaction, { numRuns: 400, seed: 11 });
    const rows = txs.map((t, i) => storedRow(t, i, shipped, live));
    // The edit: acc-3 on the block list.
    const edited = compileRuleSet(
      JSON.stringify({
        ruleset: 'edit',
        version: '2',
        lists: { blocked_accounts: ['acc-3'] },
        rules: [
          {
            id: 'blocked-account',
            version: '1',
            description: 'Account on the block list',
            severity: 'critical',
            action: 'BLOCK',
            when: { in: [{ var: 'account_id' }, { var: 'lists.blocked_accounts' }] },
          },
        ],
      }),
      names,
    );
    const changed: ChangedDecision[] = [];
    const backtest = new Backtest({ rules: edited, model: scorer, policy: { blockScore: null } }, (c) => changed.push(c));
    for (const r of rows) backtest.add(r);
    const report = backtest.report();

    // Every acc-3 transaction is blocked now; the others are decided by the model alone.
    const expected = rows.map((r, i) => {
      const alone = decideTransaction(inputOf(txs[i] as Transaction, i), edited, live, { blockScore: null }, 0).decision;
      return r.accountId === 'acc-3' ? 'BLOCK' : alone;
    });
    expect(rows.filter((r) => r.accountId === 'acc-3').length).toBeGreaterThan(20);
    const transitions = {
      ALLOW: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
      REVIEW: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
      BLOCK: { ALLOW: 0, REVIEW: 0, BLOCK: 0 },
    };
    rows.forEach((r, i) => transitions[r.stored.decision][expected[i] as 'ALLOW']++);
    expect(report.transitions).toEqual(transitions);
    const changedIds = rows.filter((r, i) => r.stored.decision !== expected[i]).map((r) => r.transactionId);
    expect(changed.map((c) => c.transactionId)).toEqual(changedIds);
    expect(report.changed).toBe(changedIds.length);
    expect(
      changed.filter((c) => c.to === 'BLOCK').every((c) => c.accountId === 'acc-3' && c.rules.includes('blocked-account')),
    ).toBe(true);
    expect(report.rules).toEqual([
      expect.objectContaining({
        ruleId: 'blocked-account',
        hits: rows.filter((r) => r.accountId === 'acc-3').length,
        onAlerts: rows.filter((r) => r.accountId === 'acc-3').length,
        onStoredAlerts: rows.filter((r) => r.accountId === 'acc-3' && r.stored.decision !== 'ALLOW').length,
      }),
    ]);
    // Alerts per day of event time, before and after.
    const perDay = new Map<string, { before: number; after: number }>();
    rows.forEach((r, i) => {
      const day = new Date(r.eventTime).toISOString().slice(0, 10);
      const d = perDay.get(day) ?? { before: 0, after: 0 };
      if (r.stored.decision !== 'ALLOW') d.before++;
      if (expected[i] !== 'ALLOW') d.after++;
      perDay.set(day, d);
    });
    expect(report.alertsPerDay).toEqual([...perDay.entries()].sort().map(([day, d]) => ({ day, ...d })));
    const text = formatBacktest(report);
    expect(text).toContain(`changed: ${changedIds.length.toLocaleString('en')} of 400`);
    expect(text).toMatch(/blocked-account\s+BLOCK\s+critical/);
  });

  it('measures precision, recall and PR AUC on labelled transactions before and after', () => {
    const txs = fc.sample(transaction, { numRuns: 300, seed: 5 });
    // Labelled: fraud exactly where the shipped rules and the model alerted.
    const rows = txs.map((t, i) => {
      const r = storedRow(t, i, shipped, live);
      return { ...r, label: r.stored.decision !== 'ALLOW' };
    });
    const candidate: Candidate = { rules: shipped, model: scorer, policy: { blockScore: null } };
    const same = new Backtest(candidate);
    for (const r of rows) same.add(r);
    const report = same.report();
    const alerts = rows.filter((r) => r.label).length;
    expect(report.labelled).toMatchObject({ rows: 300, positives: alerts });
    expect(report.labelled?.before).toEqual(report.labelled?.after);
    expect(report.labelled?.before).toMatchObject({ precision: 1, recall: 1, alerts });

    // Rules alone (no model): what the model alone found is missed now.
    const rulesAlone = new Backtest({ ...candidate, model: null });
    for (const r of rows) rulesAlone.add(r);
    const after = rulesAlone.report().labelled?.after;
    const found = rows.filter(
      (r, i) =>
        r.label &&
        decideTransaction(inputOf(txs[i] as Transaction, i), shipped, { active: null, shadow: null }, { blockScore: null }, 0)
          .decision !== 'ALLOW',
    ).length;
    expect(found).toBeLessThan(alerts);
    expect(after).toMatchObject({ precision: 1, recall: found / alerts, alerts: found });
    // Unlabelled history: no quality figures, said so.
    const unlabelled = new Backtest(candidate);
    unlabelled.add(storedRow(txs[0] as Transaction, 0, shipped, live));
    expect(unlabelled.report().labelled).toBeNull();
    expect(formatBacktest(unlabelled.report())).toContain('no labelled transactions');
  });

  it('names the fields its rules read that MySQL does not store', () => {
    const bin = compileRuleSet(
      JSON.stringify({
        ruleset: 'bin',
        version: '1',
        rules: [
          {
            id: 'bin',
            version: '1',
            description: 'a BIN',
            severity: 'low',
            action: 'SCORE',
            when: { '==': [{ var: 'card_bin' }, '424242'] },
          },
        ],
      }),
      names,
    );
    const report = new Backtest({ rules: bin, model: null, policy: { blockScore: null } }).report();
    expect(report.unstoredFields).toEqual(['card_bin']);
    expect(formatBacktest(report)).toContain('read card_bin, which MySQL does not store');
    expect(new Backtest({ rules: shipped, model: null, policy: { blockScore: null } }).report().unstoredFields).toEqual([]);
  });
});
