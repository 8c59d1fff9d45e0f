// Topics as code and migrations against the real broker and MariaDB: idempotent, drift reported.
import { readdirSync } from 'node:fs';
import kafkajs from 'kafkajs';
import mysql from 'mysql2/promise';
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '../../platform/kafka.ts';
import { migrate } from '../../platform/mysql.ts';
import { applyTopics } from '../../topics/apply.ts';
import { TOPICS, topicName } from '../../topics/topics.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
beforeAll(async () => {
  ns = await createNamespace();
});
afterAll(async () => {
  await ns?.cleanup();
});

describe('topics apply', () => {
  it('creates every topic with its partitions, then reports them unchanged', async () => {
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    try {
      const reports = await applyTopics(admin, ns.cfg.topicNamespace);
      expect(reports.map((r) => [r.action, r.drift])).toEqual(Object.keys(TOPICS).map(() => ['exists', []]));
      const meta = await admin.fetchTopicMetadata({ topics: [topicName(ns.cfg.topicNamespace, 'transactions')] });
      expect(meta.topics[0]?.partitions.length).toBe(TOPICS.transactions.partitions);
    } finally {
      await admin.disconnect();
    }
  });

  it('reports drift when the broker differs from the code', async () => {
    const admin = createKafka(ns.cfg, testLogger).admin();
    await admin.connect();
    try {
      const name = topicName(ns.cfg.topicNamespace, 'transactionsDlq');
      await admin.alterConfigs({
        validateOnly: false,
        resources: [{ type: kafkajs.ConfigResourceTypes.TOPIC, name, configEntries: [{ name: 'retention.ms', value: '1000' }] }],
      });
      const reports = await applyTopics(admin, ns.cfg.topicNamespace);
      const dlq = reports.find((r) => r.topic === name);
      expect(dlq?.drift.join(' ')).toMatch(/retention\.ms: broker has 1000, code says \d+/);
    } finally {
      await admin.disconnect();
    }
  });
});

describe('migrate', () => {
  it('is safe to re-run and enforces a unique transaction_id', async () => {
    expect(await migrate(ns.cfg)).toEqual([]); // already applied by createNamespace
    const conn = await mysql.createConnection({ uri: ns.cfg.mysql.url });
    try {
      const [idx] = await conn.query<RowDataPacket[]>(
        "SHOW INDEX FROM transactions WHERE Key_name = 'uq_transactions_transaction_id'",
      );
      expect(idx[0]?.Non_unique).toBe(0);
      const [versions] = await conn.query<RowDataPacket[]>('SELECT version FROM schema_migrations ORDER BY version');
      // postgrator keeps a version-0 row for the empty database; every do-file is applied, in order
      const files = readdirSync(new URL('../../migrations/', import.meta.url))
        .filter((f) => f.includes('.do.'))
        .map((f) => Number(f.split('.')[0]))
        .sort((a, b) => a - b);
      expect(files.length).toBeGreaterThanOrEqual(4);
      expect(versions.map((v) => Number(v.version)).filter((v) => v > 0)).toEqual(files);
    } finally {
      await conn.end();
    }
  });
});
