import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig, requireOpsApiToken } from './config.ts';
import { redactUrl } from './secrets.ts';
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
    expect(loadConfig({}).heapGrowingPercent).toBe(50);
    expect(loadConfig({ TXMON_HEAP_GROWING_PERCENT: '0' }).heapGrowingPercent).toBe(0);
  });

  it('replicates topics as told: one replica by default, min.insync.replicas one below a factor of 3 or more, never above the factor', () => {
    expect(loadConfig({}).topicReplication).toEqual({ factor: 1, minInsync: 1 });
    expect(loadConfig({ TXMON_TOPIC_REPLICATION_FACTOR: '2' }).topicReplication).toEqual({ factor: 2, minInsync: 1 });
    expect(loadConfig({ TXMON_TOPIC_REPLICATION_FACTOR: '3' }).topicReplication).toEqual({ factor: 3, minInsync: 2 });
    expect(loadConfig({ TXMON_TOPIC_REPLICATION_FACTOR: '5', TXMON_TOPIC_MIN_INSYNC_REPLICAS: '3' }).topicReplication).toEqual({
      factor: 5,
      minInsync: 3,
    });
    expect(() => loadConfig({ TXMON_TOPIC_MIN_INSYNC_REPLICAS: '2' })).toThrow(
      /TXMON_TOPIC_MIN_INSYNC_REPLICAS=2: must not exceed TXMON_TOPIC_REPLICATION_FACTOR \(1\)/,
    );
    expect(() => loadConfig({ TXMON_TOPIC_REPLICATION_FACTOR: '0' })).toThrow(/TXMON_TOPIC_REPLICATION_FACTOR/);
  });

  it('ops-watch scrapes the processors at their configured ports unless told its targets', () => {
    expect(loadConfig({ TXMON_RECON_METRICS_PORT: '9999' }).ops.targets).toEqual([
      { name: 'ingest', url: 'http://127.0.0.1:9464/metrics' },
      { name: 'reconcile', url: 'http://127.0.0.1:9999/metrics' },
    ]);
    expect(
      loadConfig({
        TXMON_OPS_TARGETS: 'ingest-a=http://10.0.0.5:9464/metrics, api=https://api:8080/metrics',
        TXMON_OPS_API_TOKEN: 'sre-key',
      }).ops.targets,
    ).toEqual([
      { name: 'ingest-a', url: 'http://10.0.0.5:9464/metrics' },
      { name: 'api', url: 'https://api:8080/metrics' },
    ]);
  });

  it('ops-watch scrapes the API too when given a key for its /metrics, and refuses an api target without one', () => {
    const withKey = loadConfig({ TXMON_OPS_API_TOKEN: 'k-123', TXMON_API_PORT: '8181' }).ops;
    expect(withKey.targets.map((t) => `${t.name}=${t.url}`)).toEqual([
      'ingest=http://127.0.0.1:9464/metrics',
      'reconcile=http://127.0.0.1:9465/metrics',
      'api=http://127.0.0.1:8181/metrics',
    ]);
    expect(withKey.apiToken?.reveal()).toBe('k-123');
    // A secret: it never prints.
    expect(JSON.stringify(withKey)).not.toContain('k-123');
    expect(loadConfig({}).ops.apiToken).toBeNull();
    // The targets are shared configuration: every process loads them; ops-watch alone refuses an api target without a key.
    const noKey = loadConfig({ TXMON_OPS_TARGETS: 'ingest=http://a:1/metrics,api=http://b:2/metrics' }).ops;
    expect(() => requireOpsApiToken(withKey)).not.toThrow();
    expect(() => requireOpsApiToken(noKey)).toThrow(
      'invalid configuration: TXMON_OPS_TARGETS: names an api target, whose /metrics needs a key: set TXMON_OPS_API_TOKEN(_FILE) to an sre or admin key',
    );
    // A header value: one key, printable, no line breaks; the error names the setting, never the value.
    expect(() => loadConfig({ TXMON_OPS_API_TOKEN: 'txk_secret\nsecond line' })).toThrow(
      'invalid configuration: TXMON_OPS_API_TOKEN: must be one API key: printable ASCII without spaces or line breaks',
    );
    let refused = '';
    try {
      loadConfig({ TXMON_OPS_API_TOKEN: 'txk_secret second' });
    } catch (err) {
      refused = (err as Error).message;
    }
    expect(refused).toContain('TXMON_OPS_API_TOKEN: must be one API key');
    expect(refused).not.toContain('txk_secret');
    expect(() => loadConfig({ TXMON_OPS_API_TOKEN: 'a', TXMON_OPS_API_TOKEN_FILE: '/x' })).toThrow(
      /TXMON_OPS_API_TOKEN and TXMON_OPS_API_TOKEN_FILE are both set/,
    );
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
    ['TXMON_OPS_TARGETS', 'ingest:9464'],
    ['TXMON_OPS_SCRAPE_MS', '500'],
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
    const documented = new Set(doc.match(/TXMON_[A-Z0-9_]+/g));
    expect([...documented].sort()).toEqual([...CONFIG_KEYS].sort());
  });
});

describe('connection security settings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'txmon-config-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const p = join(dir, name);
    writeFileSync(p, content, { mode: 0o600 });
    return p;
  };

  it('reads a secret from its _FILE once, without the trailing newline, and never prints it', () => {
    const cfg = loadConfig({ TXMON_MYSQL_PASSWORD_FILE: file('mysql-pw', 's3cret-db\n') });
    expect(cfg.mysql.password?.reveal()).toBe('s3cret-db');
    expect(JSON.stringify(cfg.mysql)).not.toContain('s3cret-db');
    expect(inspect(cfg, { depth: 10 })).not.toContain('s3cret-db');
    expect(String(cfg.mysql.password)).toBe('[redacted]');
  });

  it('refuses a secret given both directly and as a file, naming both settings', () => {
    const set = { TXMON_REDIS_PASSWORD: 'x', TXMON_REDIS_PASSWORD_FILE: file('redis-pw', 'y') };
    expect(() => loadConfig(set)).toThrow(/TXMON_REDIS_PASSWORD and TXMON_REDIS_PASSWORD_FILE are both set/);
  });

  it('fails naming the _FILE setting when the file cannot be read, and never shows file contents', () => {
    expect(() => loadConfig({ TXMON_KAFKA_SASL_PASSWORD_FILE: join(dir, 'missing') })).toThrow(
      /TXMON_KAFKA_SASL_PASSWORD_FILE=.*missing.*ENOENT/,
    );
    expect(() => loadConfig({ TXMON_KAFKA_SSL_CA_FILE: join(dir, 'nope.pem') })).toThrow(/TXMON_KAFKA_SSL_CA_FILE=.*ENOENT/);
    expect(() => loadConfig({ TXMON_MYSQL_API_PASSWORD_FILE: file('empty', '\n') })).toThrow(
      /TXMON_MYSQL_API_PASSWORD_FILE.*empty/,
    );
  });

  it('never echoes a secret or a URL password in a config error', () => {
    let message = '';
    try {
      loadConfig({ TXMON_MYSQL_URL: 'mysql://app:hunter22@db:3306/bad-name!' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('TXMON_MYSQL_URL');
    expect(message).not.toContain('hunter22');
    expect(() => loadConfig({ TXMON_MYSQL_URL: 'mysql://app:hunter22@db:3306/x', TXMON_MYSQL_PASSWORD: 'other' })).toThrow(
      /TXMON_MYSQL_PASSWORD: TXMON_MYSQL_URL carries a password too/,
    );
  });

  it('builds Kafka TLS + SASL, and refuses half a configuration naming the setting', () => {
    const ca = file('ca.pem', 'CA PEM');
    const cfg = loadConfig({
      TXMON_KAFKA_SSL_CA_FILE: ca,
      TXMON_KAFKA_SASL_MECHANISM: 'scram-sha-512',
      TXMON_KAFKA_SASL_USERNAME: 'ingest',
      TXMON_KAFKA_SASL_PASSWORD_FILE: file('kafka-pw', 'k-pw'),
    });
    expect(cfg.kafka.ssl?.ca?.toString()).toBe('CA PEM');
    expect(cfg.kafka.sasl?.mechanism).toBe('scram-sha-512');
    expect(cfg.kafka.sasl?.password.reveal()).toBe('k-pw');
    expect(loadConfig({}).kafka.ssl).toBeNull();
    expect(loadConfig({}).kafka.sasl).toBeNull();
    expect(() => loadConfig({ TXMON_KAFKA_SASL_MECHANISM: 'plain' })).toThrow(/TXMON_KAFKA_SASL_USERNAME/);
    expect(() => loadConfig({ TXMON_KAFKA_SASL_USERNAME: 'u', TXMON_KAFKA_SASL_PASSWORD: 'p' })).toThrow(
      /TXMON_KAFKA_SASL_MECHANISM/,
    );
    expect(() => loadConfig({ TXMON_KAFKA_SASL_MECHANISM: 'gssapi' })).toThrow(/TXMON_KAFKA_SASL_MECHANISM/);
    expect(() => loadConfig({ TXMON_KAFKA_SSL: 'false', TXMON_KAFKA_SSL_CA_FILE: ca })).toThrow(/TXMON_KAFKA_SSL:/);
    expect(() => loadConfig({ TXMON_KAFKA_SSL_CERT_FILE: ca })).toThrow(/TXMON_KAFKA_SSL_CERT_FILE/);
  });

  it('turns Redis TLS on for rediss:// or TXMON_REDIS_TLS, with the password and ACL user from settings', () => {
    expect(loadConfig({}).redis).toEqual({ username: undefined, password: undefined, tls: null });
    expect(loadConfig({ TXMON_REDIS_URL: 'rediss://cache:6380' }).redis.tls).toEqual({});
    const ca = file('redis-ca.pem', 'R CA');
    const cfg = loadConfig({
      TXMON_REDIS_TLS: 'true',
      TXMON_REDIS_TLS_CA_FILE: ca,
      TXMON_REDIS_USERNAME: 'txmon',
      TXMON_REDIS_PASSWORD_FILE: file('r-pw', 'r-pw'),
      TXMON_REDIS_CLUSTER_NODES: 'a:1,b:2',
    });
    expect(cfg.redis.tls?.ca?.toString()).toBe('R CA');
    expect(cfg.redis.username).toBe('txmon');
    expect(cfg.redis.password?.reveal()).toBe('r-pw');
    expect(loadConfig({ TXMON_REDIS_URL: 'redis://u:p%40ss@h:1' }).redis.password?.reveal()).toBe('p@ss');
    expect(() => loadConfig({ TXMON_REDIS_URL: 'rediss://h:1', TXMON_REDIS_TLS: 'false' })).toThrow(/TXMON_REDIS_TLS:/);
  });

  it('takes registry basic auth or a bearer token, not both', () => {
    expect(loadConfig({}).registryAuth).toBeNull();
    const basic = loadConfig({ TXMON_REGISTRY_USERNAME: 'u', TXMON_REGISTRY_PASSWORD: 'p' }).registryAuth;
    expect(basic?.kind).toBe('basic');
    expect(loadConfig({ TXMON_REGISTRY_TOKEN_FILE: file('tok', 'tkn\n') }).registryAuth).toMatchObject({ kind: 'bearer' });
    expect(() => loadConfig({ TXMON_REGISTRY_USERNAME: 'u' })).toThrow(/TXMON_REGISTRY_USERNAME/);
    expect(() => loadConfig({ TXMON_REGISTRY_USERNAME: 'u', TXMON_REGISTRY_PASSWORD: 'p', TXMON_REGISTRY_TOKEN: 't' })).toThrow(
      /TXMON_REGISTRY_TOKEN/,
    );
  });

  it('reads the least-privilege users’ passwords; a role without one is not configured', () => {
    const cfg = loadConfig({ TXMON_MYSQL_API_PASSWORD: 'a', TXMON_MYSQL_INGEST_PASSWORD_FILE: file('i', 'i') });
    expect(Object.keys(cfg.mysql.rolePasswords).sort()).toEqual(['api', 'ingest']);
    expect(cfg.mysql.userPrefix).toBe('txmon');
    expect(() => loadConfig({ TXMON_MYSQL_USER_PREFIX: 'bad-prefix' })).toThrow(/TXMON_MYSQL_USER_PREFIX/);
  });

  it('redactUrl hides the password of any URL and keeps the rest', () => {
    expect(redactUrl('mysql://app:pw@db:3306/x')).toBe('mysql://app:[redacted]@db:3306/x');
    expect(redactUrl('rediss://:pw@cache:6380')).toBe('rediss://:[redacted]@cache:6380');
    expect(redactUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9%!$&'()*+,;=._~-]{1,20}$/), (pw) => {
        expect(redactUrl(`mysql://user:${pw}@host:1/db`)).toBe('mysql://user:[redacted]@host:1/db');
      }),
    );
  });
});
