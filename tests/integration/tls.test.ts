// TLS end to end: txmon's own client factories, configured only through TXMON_* settings (secrets
// from *_FILE), do a real round trip with a Redis, a MariaDB and a Kafka broker that listen with TLS
// (certificates from a CA this test makes), and refuse a server their CA did not sign. The servers
// are throwaway child processes on free ports (tests/helpers/tls-servers.ts); the shared services
// are only used for the `rediss://` against a plain Redis case.
import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type TxmonConfig } from '../../config/config.ts';
import { createKafka } from '../../platform/kafka.ts';
import { createConnection, createPool, migrate } from '../../platform/mysql.ts';
import { connectOnce, createRedis, createStateRedis } from '../../platform/redis.ts';
import { dataNodes, execKeyed } from '../../platform/redis-pipelines.ts';
import { readTopic } from '../../platform/topic-reader.ts';
import { testLogger } from '../helpers/namespace.ts';
import { makeTestCa, type TestCa } from '../helpers/tls-ca.ts';
import {
  startKafkaSaslSsl,
  startMariadbTls,
  startRedisClusterTls,
  startRedisTls,
  type TestServer,
} from '../helpers/tls-servers.ts';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const PASSWORD = 'tls-test-Pa55';
let ca: TestCa;
let passwordFile: string;
let redis: TestServer;
let mariadb: TestServer;
let kafka: TestServer;
const base = loadConfig(process.env);

beforeAll(async () => {
  ca = makeTestCa();
  passwordFile = join(ca.dir, 'password');
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  // In parallel: Kafka's JVM start dominates.
  const started = await Promise.allSettled([
    startRedisTls(ca, PASSWORD),
    startMariadbTls(ca, PASSWORD, ['txmon_tls']),
    startKafkaSaslSsl(base, ca, PASSWORD),
  ]);
  // Keep what did start, so afterAll stops it even when another one failed.
  const [r, m, k] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  [redis, mariadb, kafka] = [r as TestServer, m as TestServer, k as TestServer];
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) throw failed.reason;
}, 150_000);

afterAll(async () => {
  await Promise.all([redis?.stop(), mariadb?.stop(), kafka?.stop()]);
  if (ca) rmSync(ca.dir, { recursive: true, force: true });
}, 60_000);

/** A config of the process environment plus `env` (the connection settings under test). */
const config = (env: Record<string, string>): TxmonConfig =>
  loadConfig({ ...process.env, TXMON_RETRY_MAX_BACKOFF_MS: '500', ...env });

describe('Redis over TLS', () => {
  const env = (caFile: string, extra: Record<string, string> = {}) => ({
    TXMON_REDIS_URL: `rediss://127.0.0.1:${redis.port}`,
    TXMON_REDIS_TLS_CA_FILE: caFile,
    TXMON_REDIS_USERNAME: 'txmon',
    TXMON_REDIS_PASSWORD_FILE: passwordFile,
    ...extra,
  });

  it('SET/GET and a txmon script through createRedis, as an ACL user with the password from a file', async () => {
    const cfg = config(env(ca.caFile));
    const client = createRedis(cfg);
    await connectOnce(client, cfg);
    try {
      await client.set('tls:k', 'v');
      expect(await client.get('tls:k')).toBe('v');
      expect(await client.acl('WHOAMI')).toBe('txmon');
      // A registered Lua script runs too (the processors' path: the state marker's progress.lua).
      expect(await client.txmonProgressV4(1, 'tls:{e:1}', 'p:t/0', '1', '')).toEqual([0]);
    } finally {
      client.disconnect();
    }
  });

  it('refuses a server its CA did not sign, a wrong password, and plaintext to a TLS port, each with a clear error', async () => {
    const wrongCa = config(env(ca.otherCaFile));
    await expect(connectOnce(createRedis(wrongCa), wrongCa)).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const wrongPassword = config(env(ca.caFile, { TXMON_REDIS_PASSWORD_FILE: '', TXMON_REDIS_PASSWORD: 'nope' }));
    await expect(connectOnce(createRedis(wrongPassword), wrongPassword)).rejects.toThrow(/WRONGPASS|invalid username-password/i);
    const plain = config({
      TXMON_REDIS_URL: `redis://127.0.0.1:${redis.port}`,
      TXMON_REDIS_USERNAME: 'txmon',
      TXMON_REDIS_PASSWORD_FILE: passwordFile,
    });
    const started = Date.now();
    await expect(connectOnce(createRedis(plain), plain)).rejects.toThrow(/redis: cannot connect/);
    expect(Date.now() - started).toBeLessThan(15_000);
  });

  it('`txmon state status` works over TLS, and with rediss:// against a plain Redis exits with a clear error', async () => {
    const run = (env: Record<string, string>) =>
      new Promise<{ code: number | null; out: string; ms: number }>((resolve) => {
        const started = Date.now();
        execFile(
          process.execPath,
          ['bin/txmon.js', 'state', 'status'],
          { cwd: REPO, env: { ...process.env, TXMON_KEY_PREFIX: `tls${Date.now().toString(36)}`, ...env }, timeout: 60_000 },
          (err, stdout, stderr) =>
            resolve({
              code: err ? (typeof err.code === 'number' ? err.code : null) : 0,
              out: `${stdout}${stderr}`,
              ms: Date.now() - started,
            }),
        );
      });
    const overTls = await run(env(ca.caFile));
    expect(overTls.out).toContain(`rediss://127.0.0.1:${redis.port}`);
    expect(overTls.out).toMatch(/state: marker MISSING/);
    expect(overTls.out).not.toContain(PASSWORD);
    expect(overTls.code).toBe(1);
    // The shared plain Redis, asked for TLS: it used to print the error and never exit.
    const plainRedis = new URL(base.redisUrl);
    const hang = await run({ TXMON_REDIS_URL: `rediss://${plainRedis.host}` });
    expect(hang.code).toBe(1);
    expect(hang.out).toMatch(/DEPENDENCY_UNAVAILABLE: redis: cannot connect to rediss:\/\/.*TLS is on/);
    expect(hang.ms).toBeLessThan(30_000);
  });
});

describe('Redis Cluster over TLS', () => {
  it('createStateRedis reaches every master with TLS and the ACL user, and batches scripts per node', async () => {
    const cluster = await startRedisClusterTls(ca, PASSWORD);
    try {
      const cfg = config({
        TXMON_REDIS_CLUSTER_NODES: cluster.ports.map((p) => `127.0.0.1:${p}`).join(','),
        TXMON_REDIS_TLS: 'true',
        TXMON_REDIS_TLS_CA_FILE: ca.caFile,
        TXMON_REDIS_USERNAME: 'txmon',
        TXMON_REDIS_PASSWORD_FILE: passwordFile,
      });
      const state = createStateRedis(cfg);
      await connectOnce(state, cfg);
      try {
        // Keys of many slots: one pipeline per master, each over its own TLS connection.
        const keys = Array.from({ length: 30 }, (_, i) => `tls:{k${i}}`);
        const replies = await execKeyed(
          state,
          keys.map((key) => ({ key, add: (p) => void p.txmonProgressV4(1, key, 'p:t/0', '1', '') })),
        );
        expect(replies.every(([err]) => err === null)).toBe(true);
        expect(dataNodes(state)).toHaveLength(3);
        for (const node of dataNodes(state)) expect(await node.acl('WHOAMI')).toBe('txmon');
      } finally {
        state.disconnect();
      }
      const wrongCa = config({
        TXMON_REDIS_CLUSTER_NODES: `127.0.0.1:${cluster.ports[0]}`,
        TXMON_REDIS_TLS_CA_FILE: ca.otherCaFile,
        TXMON_REDIS_USERNAME: 'txmon',
        TXMON_REDIS_PASSWORD_FILE: passwordFile,
      });
      await expect(connectOnce(createStateRedis(wrongCa), wrongCa)).rejects.toThrow(/redis: cannot connect/);
    } finally {
      await cluster.stop();
    }
  }, 90_000);
});

describe('MariaDB over TLS', () => {
  const env = (extra: Record<string, string> = {}) => ({
    TXMON_MYSQL_URL: `mysql://txmon@127.0.0.1:${mariadb.port}/txmon_tls`,
    TXMON_MYSQL_PASSWORD_FILE: passwordFile,
    TXMON_MYSQL_SSL_CA_FILE: ca.caFile,
    ...extra,
  });

  it('migrates and queries through createPool over TLS, with the password from a file', async () => {
    const cfg = config(env());
    const applied = await migrate(cfg);
    expect(applied.length).toBeGreaterThan(5);
    const pool = createPool(cfg);
    try {
      const [[row]] = await pool.query<RowDataPacket[]>("SHOW SESSION STATUS LIKE 'Ssl_version'");
      expect(String(row?.Value)).toMatch(/^TLSv1\.[23]$/);
      const [[count]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions');
      expect(Number(count?.n)).toBe(0);
    } finally {
      await pool.end();
    }
  });

  it('`txmon services status` probes it over TLS; neither it nor --help prints the password', async () => {
    const cli = (args: string[], env: Record<string, string>) =>
      new Promise<string>((resolve) => {
        execFile(
          process.execPath,
          ['bin/txmon.js', ...args],
          { cwd: REPO, env: { ...process.env, ...env }, timeout: 60_000 },
          (_err, stdout, stderr) => resolve(`${stdout}${stderr}`),
        );
      });
    const secretInUrl = {
      TXMON_MYSQL_URL: `mysql://txmon:${PASSWORD}@127.0.0.1:${mariadb.port}/txmon_tls`,
      TXMON_MYSQL_SSL_CA_FILE: ca.caFile,
    };
    const status = await cli(['services', 'status'], secretInUrl);
    // The user is REQUIRE SSL: "up" proves the probe used TLS.
    expect(status).toMatch(new RegExp(`mariadb\\s+up\\s+127\\.0\\.0\\.1:${mariadb.port}`));
    expect(status).not.toContain(PASSWORD);
    const help = await cli(['--help'], secretInUrl);
    expect(help).toContain('TXMON_MYSQL_PASSWORD_FILE');
    expect(help).not.toContain(PASSWORD);
  });

  it('refuses a server its CA did not sign; the server refuses the user without TLS', async () => {
    await expect(createConnection(config(env({ TXMON_MYSQL_SSL_CA_FILE: ca.otherCaFile })))).rejects.toThrow(
      /self[- ]signed|unable to verify|certificate/i,
    );
    await expect(createConnection(config(env({ TXMON_MYSQL_SSL_CA_FILE: '' })))).rejects.toMatchObject({
      code: 'ER_ACCESS_DENIED_ERROR',
    });
  });
});

describe('Kafka over SASL_SSL (SCRAM-SHA-512)', () => {
  const env = (extra: Record<string, string> = {}) => ({
    TXMON_KAFKA_BROKERS: `127.0.0.1:${kafka.port}`,
    TXMON_KAFKA_SSL_CA_FILE: ca.caFile,
    TXMON_KAFKA_SASL_MECHANISM: 'scram-sha-512',
    TXMON_KAFKA_SASL_USERNAME: 'txmon',
    TXMON_KAFKA_SASL_PASSWORD_FILE: passwordFile,
    ...extra,
  });

  it('creates a topic, produces and consumes through createKafka', async () => {
    const cfg = config(env());
    const client = createKafka(cfg, testLogger, '-tls-test');
    const admin = client.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic: 'tls-test', numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    const producer = client.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    try {
      await producer.send({ topic: 'tls-test', messages: [{ key: 'k', value: 'over TLS' }] });
    } finally {
      await producer.disconnect();
    }
    const read = await readTopic(createKafka(cfg, testLogger, '-tls-test'), 'tls-test', { idleMs: 500 });
    expect(read.map((m) => m.value?.toString())).toEqual(['over TLS']);
  });

  it('refuses a broker its CA did not sign, and a wrong SASL password', async () => {
    const wrongCa = createKafka(config(env({ TXMON_KAFKA_SSL_CA_FILE: ca.otherCaFile })), testLogger).admin();
    await expect(wrongCa.connect()).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
    const wrongPassword = createKafka(
      config(env({ TXMON_KAFKA_SASL_PASSWORD_FILE: '', TXMON_KAFKA_SASL_PASSWORD: 'nope' })),
      testLogger,
    ).admin();
    await expect(wrongPassword.connect()).rejects.toThrow(/SASL SCRAM-SHA-512 authentication failed|Authentication failed/i);
  });
});
