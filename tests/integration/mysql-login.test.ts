// A login MySQL refuses is a configuration error: not retried (mysql2 marks it fatal, which reads
// as "a new connection may work"), and the CLI says which settings to check and exits 78.
import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { isRetriable, mysqlLoginRefused } from '../../platform/errors.ts';
import { createPool } from '../../platform/mysql.ts';

const REFUSED_URL = 'mysql://txmon_no_such_user:wrong@127.0.0.1:3306/txmon';

it('classifies a refused login from the real server as not retriable', async () => {
  const pool = createPool(loadConfig({ TXMON_MYSQL_URL: REFUSED_URL }), { connectionLimit: 1 });
  try {
    const err = await pool.query('SELECT 1').then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).not.toBeNull();
    expect(mysqlLoginRefused(err)?.message).toMatch(/Access denied for user 'txmon_no_such_user'/);
    expect(isRetriable(err)).toBe(false);
    expect(isRetriable(new Error('the batch failed', { cause: err }))).toBe(false);
  } finally {
    await pool.end();
  }
});

it('txmon exits 78 at once, naming the settings to check', () => {
  const started = Date.now();
  const run = spawnSync(process.execPath, ['bin/txmon.js', 'apikey', 'list'], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: { ...process.env, TXMON_MYSQL_URL: REFUSED_URL, TXMON_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = run.stdout + run.stderr;
  expect(run.status, out).toBe(78);
  expect(out).toContain('CONFIG_INVALID: MySQL refused this login');
  expect(out).toContain('TXMON_MYSQL_URL');
  expect(out).not.toContain('wrong');
  expect(Date.now() - started).toBeLessThan(30_000);
});

it('txmon against a database never migrated exits 78 with one line naming `txmon migrate`, no stack', () => {
  const run = spawnSync(process.execPath, ['bin/txmon.js', 'model', 'list'], {
    cwd: new URL('../../', import.meta.url).pathname,
    env: { ...process.env, TXMON_MYSQL_URL: 'mysql://root@127.0.0.1:3306/txmon_never_migrated_x', TXMON_LOG_LEVEL: 'silent' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  const out = run.stdout + run.stderr;
  expect(run.status, out).toBe(78);
  expect(out).toContain("CONFIG_INVALID: Unknown database 'txmon_never_migrated_x'");
  expect(out).toContain('txmon migrate');
  expect(out).not.toMatch(/\n\s+at /);
});
