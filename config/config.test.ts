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

  it('parses overrides', () => {
    const cfg = loadConfig({ TXMON_KAFKA_BROKERS: 'a:1, b:2', TXMON_METRICS_PORT: '9999', TXMON_TOPIC_NAMESPACE: 'staging.' });
    expect(cfg.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(cfg.metrics.port).toBe(9999);
    expect(cfg.topicNamespace).toBe('staging.');
  });

  it.each([
    ['TXMON_METRICS_PORT', 'abc'],
    ['TXMON_METRICS_PORT', '70000'],
    ['TXMON_KAFKA_BROKERS', 'nohostport'],
    ['TXMON_MYSQL_URL', 'postgres://x/y'],
    ['TXMON_TOPIC_NAMESPACE', 'no-dot'],
    ['TXMON_LOG_LEVEL', 'loud'],
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
