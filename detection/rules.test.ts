import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DEFAULT_WINDOWS } from '../domain/windows.ts';
import { objectSource } from '../domain/snapshot.ts';
import { FeatureSpace } from './features.ts';
import { RuleSetError, compileRuleSet, evaluateRules, ruleContext, type RuleTxField } from './rules.ts';

const names = FeatureSpace.available(DEFAULT_WINDOWS);
const tx: Record<RuleTxField, unknown> = {
  amount_minor: 250_000,
  currency: 'USD',
  mcc: '7995',
  channel: 'ECOMMERCE',
  type: 'PURCHASE',
  account_id: 'acc-1',
  merchant_id: 'm-1',
  merchant_country: 'US',
  ip_country: null,
  device_id: 'dev-1',
  card_bin: null,
};

function set(rules: unknown[], lists: Record<string, string[]> = {}, version = '7') {
  return JSON.stringify({ ruleset: 't', version, lists, rules });
}
const rule = (over: Record<string, unknown> = {}) => ({
  id: 'big',
  version: '1',
  description: 'big amount',
  severity: 'high',
  action: 'REVIEW',
  when: { '>': [{ var: 'amount_base_minor' }, 1000] },
  detail: 'amount {amount_base_minor} at {merchant_id}',
  ...over,
});

describe('compileRuleSet', () => {
  it('compiles the shipped rule set', () => {
    const rs = compileRuleSet(readFileSync(new URL('../rules/rules.json', import.meta.url), 'utf8'), names);
    expect(rs.rules.length).toBeGreaterThanOrEqual(9);
    expect(rs.version).toMatch(/^1@[0-9a-f]{12}$/);
  });

  it('lists the features its enabled rules read, or null when a variable is computed at run time', () => {
    const rs = compileRuleSet(
      set([
        rule(),
        rule({ id: 'off', enabled: false, when: { '>': [{ var: 'card_count_1h' }, 1] } }),
        rule({ id: 'vel', when: { '>': [{ var: 'account_count_1h' }, 5] }, detail: '{account_sum_1h} at {merchant_id}' }),
      ]),
      names,
    );
    expect([...(rs.reads ?? [])].sort()).toEqual(['account_count_1h', 'account_sum_1h', 'amount_base_minor']);
    // The transaction fields too (a disabled rule's are not read).
    expect(rs.readsTx).toEqual(['merchant_id']);
    const dyn = compileRuleSet(set([rule({ when: { '>': [{ var: { cat: ['amount_', 'base_minor'] } }, 1] } })]), names);
    expect(dyn.reads).toBeNull();
  });

  it('decides the same from the features it reads as from the whole snapshot (shipped rules, random snapshots)', () => {
    const rs = compileRuleSet(readFileSync(new URL('../rules/rules.json', import.meta.url), 'utf8'), names);
    expect(rs.reads?.length).toBeGreaterThan(0);
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 2_000_000 }), fc.double({ min: 0, max: 1e5 })), {
          minLength: names.length,
          maxLength: names.length,
        }),
        fc.integer({ min: 0, max: 5_000_000 }),
        (values, amount) => {
          const snapshot = Object.fromEntries(names.map((n, i) => [n, values[i]]));
          const t = { ...tx, amount_minor: amount };
          const full = evaluateRules(rs, ruleContext(objectSource(snapshot), t, rs.lists), 0);
          const subset = evaluateRules(rs, ruleContext(objectSource(snapshot), t, rs.lists, rs.reads), 0);
          expect(subset).toEqual(full);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('versions a rule set by its declared version and its content', () => {
    const a = compileRuleSet(set([rule()]), names);
    const b = compileRuleSet(set([rule({ detail: 'other text' })]), names);
    expect(a.version.split('@')[0]).toBe('7');
    expect(b.version).not.toBe(a.version);
  });

  it('refuses unknown variables, placeholders, operators, repeated ids and bad fields, naming the rule', () => {
    expect(() => compileRuleSet(set([rule({ when: { '>': [{ var: 'amount_base_minr' }, 1] } })]), names)).toThrow(
      /rule big: unknown variable "amount_base_minr"/,
    );
    expect(() => compileRuleSet(set([rule({ detail: '{nope}' })]), names)).toThrow(/unknown \{nope\}/);
    expect(() => compileRuleSet(set([rule({ when: { frobnicate: [1] } })]), names)).toThrow(/rule big: invalid condition/);
    expect(() => compileRuleSet(set([rule(), rule()]), names)).toThrow(/id repeats/);
    expect(() => compileRuleSet(set([rule({ severity: 'huge' })]), names)).toThrow(/rules\.0\.severity/);
    expect(() => compileRuleSet(set([rule({ colour: 'red' })]), names)).toThrow(/rules\.0/);
    expect(() => compileRuleSet('{', names)).toThrow(RuleSetError);
  });
});

describe('evaluateRules', () => {
  const snapshot = Object.fromEntries(names.map((n) => [n, null])) as Record<string, unknown>;

  it('reports hits with their detail, and reads a missing feature as false in any comparison', () => {
    const rs = compileRuleSet(
      set([
        rule(),
        rule({ id: 'small', when: { '<': [{ var: 'account_amount_mean' }, 5] }, detail: 'mean {account_amount_mean}' }),
      ]),
      names,
    );
    const hits = evaluateRules(rs, ruleContext(objectSource({ ...snapshot, amount_base_minor: 5000 }), tx, rs.lists), 0);
    expect(hits).toEqual([
      { ruleId: 'big', ruleVersion: '1', severity: 'high', action: 'REVIEW', detail: 'amount 5000 at m-1', snoozed: false },
    ]);
    // A division by zero does not hold either, and is not an error.
    const div = compileRuleSet(
      set([rule({ when: { '<': [{ '/': [{ var: 'amount_base_minor' }, { var: 'account_count_1h' }] }, 5] } })]),
      names,
    );
    const errors = { count: 0 };
    const zero = { ...snapshot, amount_base_minor: 1, account_count_1h: 0 };
    expect(evaluateRules(div, ruleContext(objectSource(zero), tx, div.lists), 0, errors)).toEqual([]);
    expect(errors.count).toBe(0);
  });

  it('reads lists and transaction fields', () => {
    const rs = compileRuleSet(
      set([rule({ id: 'bl', action: 'BLOCK', when: { in: [{ var: 'account_id' }, { var: 'lists.blocked' }] } })], {
        blocked: ['acc-1'],
      }),
      names,
    );
    expect(evaluateRules(rs, ruleContext(objectSource(snapshot), tx, rs.lists), 0).map((h) => h.ruleId)).toEqual(['bl']);
    expect(evaluateRules(rs, ruleContext(objectSource(snapshot), { ...tx, account_id: 'acc-2' }, rs.lists), 0)).toEqual([]);
  });

  it('marks a hit snoozed before the snooze ends, in event time', () => {
    const rs = compileRuleSet(set([rule({ snooze_until: '2026-06-01T00:00:00Z' })]), names);
    const ctx = ruleContext(objectSource({ ...snapshot, amount_base_minor: 5000 }), tx, rs.lists);
    expect(evaluateRules(rs, ctx, Date.parse('2026-05-31T23:59:59Z'))[0]?.snoozed).toBe(true);
    expect(evaluateRules(rs, ctx, Date.parse('2026-06-01T00:00:00Z'))[0]?.snoozed).toBe(false);
  });

  it('skips disabled rules', () => {
    const rs = compileRuleSet(set([rule({ enabled: false }), rule({ id: 'other' })]), names);
    expect(rs.rules.map((r) => r.id)).toEqual(['other']);
  });
});
