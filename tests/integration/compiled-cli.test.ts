/**
 * The production build against the real services: the compiled CLI (plain node, production packages
 * only, scripts/production-install.ts) creates a namespace's topics, registers its Avro schemas,
 * migrates its database and runs the ingest processor (Lua scripts, rules) over a simulated stream,
 * which must leave exactly the end state the ground truth predicts.
 */
import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resetNamespace } from '../../cli/reset-namespace.ts';
import { loadConfig } from '../../config/config.ts';
import { productionInstall, type ProductionInstall } from '../../scripts/production-install.ts';
import { testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { expectEndStateOf, produceSimulated, readEndState } from '../helpers/pipeline.ts';

let prod: ProductionInstall;
let ns: TestNamespace;

beforeAll(() => {
  prod = productionInstall();
  // The namespace of helpers/namespace.ts, left empty: the compiled CLI prepares it below.
  const id = `t${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const base = loadConfig(process.env);
  const env = {
    TXMON_TOPIC_NAMESPACE: `${id}.`,
    TXMON_MYSQL_URL: `${base.mysql.serverUrl}/txmon_${id}`,
    TXMON_KEY_PREFIX: id,
    TXMON_INGEST_GROUP_ID: `${id}-ingest`,
    TXMON_RECON_GROUP_ID: `${id}-reconcile`,
    TXMON_INGEST_SESSION_TIMEOUT_MS: '6000',
  };
  const cfg = loadConfig({ ...process.env, ...env });
  ns = { id, env, cfg, cleanup: () => resetNamespace(cfg, testLogger, () => {}) };
}, 120_000);

afterAll(async () => {
  await ns?.cleanup();
  prod?.remove();
});

const txmon = (args: string[]) => prod.node(['bin/txmon.js', ...args], { ...ns.env, TXMON_LOG_LEVEL: 'warn' });

describe('the compiled CLI against the real services', () => {
  it('prepares a namespace: topics, Avro schemas (schemas/*.avsc), migrations (migrations/*.sql)', () => {
    for (const command of [['topics', 'apply'], ['schemas', 'register'], ['migrate']]) {
      const r = txmon(command);
      expect(r.status, `${command.join(' ')}: ${r.stderr}`).toBe(0);
    }
    const latest = Math.max(...readdirSync(new URL('../../migrations/', import.meta.url)).map((f) => Number.parseInt(f, 10)));
    const again = txmon(['migrate']);
    expect(again.stderr).toContain(`migrate: database ${ns.cfg.mysql.database} at version ${latest} (0 applied now)`);
  });

  it('runs the ingest processor (Lua scripts, rules) to the end state the ground truth predicts', async () => {
    const sim = await produceSimulated(ns, { seed: 11, count: 2_000, duplicateRate: 0.03, malformedRate: 0.01 });
    const child = prod.spawn(['bin/txmon.js', 'run', 'ingest', '--drain', '--metrics-port', '0'], {
      ...ns.env,
      TXMON_LOG_LEVEL: 'info',
      TXMON_LOG_PRETTY: 'false',
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, out.slice(-3000)).toBe(0);
    expectEndStateOf(await readEndState(ns), sim);
    const status = txmon(['state', 'status']);
    expect(status.status, status.stderr).toBe(0);
  });
});
