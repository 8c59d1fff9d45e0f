import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FeatureSpace } from '../../detection/features.ts';
import { DEFAULT_WINDOWS } from '../../domain/windows.ts';
import { ConfigError } from '../../platform/errors.ts';
import { createLogger } from '../../platform/logger.ts';
import { RulesSource } from './rules-source.ts';

const names = FeatureSpace.available(DEFAULT_WINDOWS);
const logger = createLogger({ level: 'silent' });
const shipped = readFileSync(new URL('../../rules/rules.json', import.meta.url), 'utf8');

function tempRules(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'txmon-rules-')), 'rules.json');
  writeFileSync(file, text);
  return file;
}

describe('RulesSource', () => {
  it('refuses a bad file at start-up, naming TXMON_RULES_FILE and the problem', () => {
    const file = tempRules('{"ruleset": "x"}');
    expect(() => new RulesSource(file, names, logger)).toThrow(ConfigError);
    expect(() => new RulesSource(file, names, logger)).toThrow(/TXMON_RULES_FILE=.*rules\.json.*: version/);
  });

  it('takes up a valid edit and keeps the previous rules on a bad one', () => {
    const file = tempRules(shipped);
    const events: string[] = [];
    const source = new RulesSource(file, names, logger, {
      reloaded: (set) => events.push(`ok ${set.version}`),
      failed: (err) => events.push(`failed ${err.message}`),
    });
    const first = source.current.version;
    expect(source.check()).toBe(false); // unchanged

    const edited = JSON.parse(shipped) as { version: string; lists: Record<string, string[]> };
    edited.version = '2';
    edited.lists.blocked_accounts = ['acc-1'];
    writeFileSync(file, JSON.stringify(edited));
    expect(source.check()).toBe(true);
    expect(source.current.version).toMatch(/^2@/);
    expect(source.current.lists.blocked_accounts).toEqual(['acc-1']);

    writeFileSync(file, JSON.stringify({ ...edited, rules: [{ id: 'x' }] }));
    expect(source.check()).toBe(false);
    expect(source.current.version).toMatch(/^2@/);
    expect(events).toHaveLength(2);
    expect(events[0]).toMatch(/^ok 2@/);
    expect(events[1]).toMatch(/^failed rules\.0/);
    expect(first).toMatch(/^1@/);
  });
});
