/**
 * Each integration test gets its own namespace: topics, consumer group, database and Redis key
 * prefix, so tests cannot see each other's data.
 */
import { randomBytes } from 'node:crypto';
import { loadConfig, type TxmonConfig } from '../../config/config.ts';
import { createLogger } from '../../platform/logger.ts';
import { resetNamespace } from '../../cli/reset-namespace.ts';
import { prepareNamespace } from '../../cli/prepare-namespace.ts';
import { slowStep } from './slow-step.ts';

export interface TestNamespace {
  id: string;
  env: Record<string, string>;
  cfg: TxmonConfig;
  /** Drops the namespace's topics, database and keys. */
  cleanup(): Promise<void>;
}

export const testLogger = createLogger({ level: process.env.TXMON_TEST_LOG_LEVEL ?? 'silent' });

/** Creates topics, registers schemas and migrates a fresh database for one test. */
export async function createNamespace(extraEnv: Record<string, string> = {}): Promise<TestNamespace> {
  const ns = namespaceOf(`t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`, extraEnv);
  await slowStep(`prepare namespace ${ns.id} (topics, schemas, migrations)`, () => prepareNamespace(ns.cfg, testLogger));
  return ns;
}

/** The namespace `id` as createNamespace made it (with the same `extraEnv`): to read one a run kept. */
export function namespaceOf(id: string, extraEnv: Record<string, string> = {}): TestNamespace {
  const base = loadConfig(process.env);
  const env: Record<string, string> = {
    TXMON_TOPIC_NAMESPACE: `${id}.`,
    TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_${id}`,
    TXMON_KEY_PREFIX: id,
    TXMON_INGEST_GROUP_ID: `${id}-ingest`,
    TXMON_RECON_GROUP_ID: `${id}-reconcile`,
    TXMON_INGEST_SESSION_TIMEOUT_MS: '6000',
    TXMON_RETRY_MAX_BACKOFF_MS: '2000',
    ...extraEnv,
  };
  const cfg = loadConfig({ ...process.env, ...env });
  return {
    id,
    env,
    cfg,
    cleanup: () => resetNamespace(cfg, testLogger, () => {}),
  };
}
