// The rule-set registry (issue 19) against the real MariaDB: publish validates and stores a rule
// file byte for byte (the same text is one version), promote and rollback are audited, and a
// processor's watcher takes a promotion up and keeps its rules when the active one does not compile.
import { readFileSync } from 'node:fs';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FeatureSpace } from '../../detection/features.ts';
import { DEFAULT_WINDOWS } from '../../domain/windows.ts';
import {
  listRuleSets,
  loadRuleSetText,
  promoteRuleSet,
  publishRuleSet,
  rollbackRuleSet,
  rulesInForce,
  ruleSetRevision,
} from '../../models/rule-set-registry.ts';
import { InputError } from '../../platform/errors.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { RuleSetWatcher } from '../../processors/ingest/rule-set-watcher.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

const names = FeatureSpace.available(DEFAULT_WINDOWS);
const SHIPPED_FILE = new URL('../../rules/rules.json', import.meta.url).pathname;
const shipped = readFileSync(SHIPPED_FILE, 'utf8');
/** The shipped rules with `account` on the block list, as a new version. */
function edited(version: string, account: string): string {
  const spec = JSON.parse(shipped) as { version: string; lists: Record<string, string[]> };
  spec.version = version;
  spec.lists.blocked_accounts = [account];
  return `${JSON.stringify(spec, null, 2)}\n`;
}

let ns: TestNamespace;
let pool: Pool;
const by = { actor: 'alice@test', reason: 'test', source: 'test.json' };

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
}, 120_000);
afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

async function audit(): Promise<string[]> {
  const [rows] = await pool.query<RowDataPacket[]>(
    "SELECT actor, action, subject FROM audit_log WHERE action LIKE 'rules.%' ORDER BY id",
  );
  return rows.map((r) => `${r.actor as string} ${r.action as string} ${r.subject as string}`);
}

describe('the rule-set registry', () => {
  it('refuses a rule file that would not compile, storing nothing', async () => {
    const unknownVariable = shipped.replace('"account_count_1m"', '"account_count_7m"');
    expect(unknownVariable).not.toBe(shipped);
    await expect(publishRuleSet(pool, unknownVariable, names, by)).rejects.toThrow(InputError);
    await expect(publishRuleSet(pool, unknownVariable, names, by)).rejects.toThrow(
      /test\.json: rule .*unknown variable "account_count_7m"/,
    );
    await expect(publishRuleSet(pool, '{"ruleset":', names, by)).rejects.toThrow(/not JSON/);
    expect(await listRuleSets(pool)).toEqual([]);
  });

  it('publishes a text once, byte for byte, as the version its decisions will carry', async () => {
    const revision = await ruleSetRevision(pool);
    const first = await publishRuleSet(pool, shipped, names, by);
    expect(first).toEqual({ version: expect.stringMatching(/^1@[0-9a-f]{12}$/), created: true });
    expect(await publishRuleSet(pool, shipped, names, { ...by, actor: 'bob@test' })).toEqual({
      version: first.version,
      created: false,
    });
    expect((await loadRuleSetText(pool, first.version)).text).toBe(shipped);
    expect(await listRuleSets(pool)).toEqual([
      expect.objectContaining({ version: first.version, state: 'candidate', author: 'alice@test', reason: 'test', ruleCount: 9 }),
    ]);
    expect(await ruleSetRevision(pool)).toBeGreaterThan(revision);
    expect(await audit()).toEqual([`alice@test rules.publish ${first.version}`]);
  });

  it('promotes and rolls back, audited; a processor takes each change up without a restart', async () => {
    const changes: Array<string | null> = [];
    const watcher = new RuleSetWatcher(pool, names, testLogger, (active) => changes.push(active?.version ?? null));
    await watcher.refresh();
    expect(watcher.current).toBeNull(); // none active: the file decides
    expect((await rulesInForce(pool, SHIPPED_FILE, names)).source).toBe(SHIPPED_FILE);

    await expect(rollbackRuleSet(pool, 'bob@test')).rejects.toThrow('no rule set is active: nothing to roll back');
    const v1 = (await publishRuleSet(pool, shipped, names, by)).version;
    const v2 = (await publishRuleSet(pool, edited('2', 'acc-9'), names, by)).version;
    expect(v2).toMatch(/^2@/);
    await promoteRuleSet(pool, v1, 'alice@test', 'first');
    await watcher.refresh();
    expect(watcher.current?.version).toBe(v1);
    expect(await promoteRuleSet(pool, v2, 'alice@test', 'block acc-9')).toEqual({ previous: v1 });
    await watcher.refresh();
    expect(watcher.current?.version).toBe(v2);
    expect(watcher.current?.lists.blocked_accounts).toEqual(['acc-9']);
    const inForce = await rulesInForce(pool, SHIPPED_FILE, names);
    expect(inForce.set.version).toBe(v2);
    await expect(promoteRuleSet(pool, v2, 'alice@test')).rejects.toThrow(`rule set ${v2} is already active`);
    await expect(promoteRuleSet(pool, '9@000000000000', 'alice@test')).rejects.toThrow(/no rule set 9@000000000000/);

    expect(await rollbackRuleSet(pool, 'bob@test', 'too many blocks')).toEqual({ from: v2, to: v1 });
    await watcher.refresh();
    expect(watcher.current?.version).toBe(v1);
    // The one active before v1 is v2 again: a rollback of a rollback goes forward.
    expect(await rollbackRuleSet(pool, 'bob@test', 'it was fine')).toEqual({ from: v1, to: v2 });
    await watcher.refresh();
    expect(watcher.current?.version).toBe(v2);
    expect(changes).toEqual([v1, v2, v1, v2]);
    expect(Object.fromEntries((await listRuleSets(pool)).map((s) => [s.version, s.state]))).toEqual({
      [v1]: 'retired',
      [v2]: 'active',
    });
    expect(await audit()).toEqual([
      `alice@test rules.publish ${v1}`,
      `alice@test rules.publish ${v2}`,
      `alice@test rules.promote ${v1}`,
      `alice@test rules.promote ${v2}`,
      `bob@test rules.rollback ${v1}`,
      `bob@test rules.rollback ${v2}`,
    ]);
  });

  it('keeps the rules in force when the active rule set does not compile with these windows', async () => {
    const watcher = new RuleSetWatcher(pool, names, testLogger);
    await watcher.refresh();
    const before = watcher.current?.version;
    expect(before).toBeDefined();
    // Published under other windows: it reads a feature these windows lack.
    const otherWindows = [...names, 'account_count_7m'];
    const spec = JSON.parse(edited('3', 'acc-3')) as { rules: Array<{ when: unknown }> };
    spec.rules.push({
      id: 'seven-minutes',
      version: '1',
      description: 'a feature of other windows',
      severity: 'low',
      action: 'SCORE',
      when: { '>': [{ var: 'account_count_7m' }, 3] },
    } as unknown as { when: unknown });
    const v3 = (await publishRuleSet(pool, JSON.stringify(spec), otherWindows, by)).version;
    await promoteRuleSet(pool, v3, 'alice@test');
    await expect(watcher.refresh()).rejects.toThrow(
      new RegExp(`rule set ${v3.replace('.', '\\.')}: rule seven-minutes: unknown variable`),
    );
    expect(watcher.current?.version).toBe(before);
    await rollbackRuleSet(pool, 'alice@test');
    await watcher.refresh();
    expect(watcher.current?.version).toBe(before);
  });
});
