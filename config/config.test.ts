import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';
import { ConfigError } from '../platform/errors.ts';

describe('loadConfig', () => {
  it('gives local defaults and a frozen object', () => {
    const cfg = loadConfig({});
    expect(cfg.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(cfg.mysql.database).toBe('txmon');
    expect(cfg.mysql.serverUrl).toBe('mysql://root@127.0.0.1:3306');
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.kafka.brokers)).toBe(true);
  });

  it('finds the shipped rule set from any working directory, and resolves a given one', () => {
    expect(loadConfig({}).detection.rulesFile).toMatch(/\/rules\/rules\.json$/);
    expect(loadConfig({ TXMON_RULES_FILE: 'my/rules.json' }).detection.rulesFile).toBe(`${process.cwd()}/my/rules.json`);
    expect(loadConfig({}).detection.blockScore).toBeNull();
    expect(loadConfig({ TXMON_DECISION_BLOCK_SCORE: '0.8' }).detection.blockScore).toBe(0.8);
  });

  it('parses overrides', () => {
    const cfg = loadConfig({ TXMON_KAFKA_BROKERS: 'a:1, b:2', TXMON_METRICS_PORT: '9999', TXMON_TOPIC_NAMESPACE: 'staging.' });
    expect(cfg.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(cfg.metrics.port).toBe(9999);
    expect(cfg.topicNamespace).toBe('staging.');
    expect(loadConfig({}).heapGrowingPercent).toBe(20);
    expect(loadConfig({ TXMON_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
  });

  it.each([
    ['TXMON_METRICS_PORT', 'abc'],
    ['TXMON_METRICS_PORT', '70000'],
    ['TXMON_KAFKA_BROKERS', 'nohostport'],
    ['TXMON_MYSQL_URL', 'postgres://x/y'],
    ['TXMON_TOPIC_NAMESPACE', 'no-dot'],
    ['TXMON_LOG_LEVEL', 'loud'],
    ['TXMON_DECISION_BLOCK_SCORE', '1.5'],
    ['TXMON_DRIFT_PSI_ALERT', '-1'],
    ['TXMON_MODEL_POLL_MS', '0'],
    ['TXMON_HEAP_GROWING_PERCENT', '-5'],
    ['TXMON_HEAP_GROWING_PERCENT', '12.5'],
  ])('fails fast naming %s when it is %s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ [name]: value })).toThrow(name);
  });
});

describe('docs/configuration.md', () => {
  it('documents exactly the settings the code reads', async () => {
    const { readFileSync } = await import('node:fs');
    const { CONFIG_KEYS } = await import('./config.ts');
    const doc = readFileSync(new URL('../docs/configuration.md', import.meta.url), 'utf8');
    const documented = new Set(doc.match(/TXMON_[A-Z_]+/g));
    expect([...documented].sort()).toEqual([...CONFIG_KEYS].sort());
  });
});
