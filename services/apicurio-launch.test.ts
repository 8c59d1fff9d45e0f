// The registry's database password must not be on its command line (any local user reads that with
// `ps`), only in its environment (readable by its owner alone): the launch spec, and a real process
// started the way the registry is.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../config/config.ts';
import { registryLaunch } from './apicurio.ts';
import { spawnDetached, stopPid } from './process.ts';

const PASSWORD = 'db-Secret-42';
const cfg = loadConfig({ TXMON_MYSQL_URL: 'mysql://registry@127.0.0.1:3306/txmon', TXMON_MYSQL_PASSWORD: PASSWORD });
const dir = mkdtempSync(join(tmpdir(), 'txmon-launch-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('registry launch', () => {
  it('puts the database user on the command line and the password in the environment only', () => {
    const { args, env } = registryLaunch(cfg, 'quarkus-run.jar', true);
    expect(args).toContain('-Dapicurio.datasource.username=registry');
    expect(args.join(' ')).not.toContain(PASSWORD);
    expect(env).toEqual({ APICURIO_DATASOURCE_PASSWORD: PASSWORD });
    // In memory (Apicurio 2): no database, no password anywhere.
    expect(registryLaunch(cfg, 'x-runner.jar', false).env).toEqual({});
  });

  it('says an empty password on the command line (left out, Apicurio uses its own default and the database refuses it)', () => {
    const root = loadConfig({ TXMON_MYSQL_URL: 'mysql://root@127.0.0.1:3306/txmon' });
    const { args, env } = registryLaunch(root, 'quarkus-run.jar', true);
    expect(env).toEqual({});
    expect(args.slice(-3)).toEqual(['-Dapicurio.datasource.password=', '-jar', 'quarkus-run.jar']);
  });

  it('a process spawned with that spec has the password in /proc/<pid>/environ, not in /proc/<pid>/cmdline', async () => {
    const { args, env } = registryLaunch(cfg, 'quarkus-run.jar', true);
    // node stands in for java: the launch arguments ride along after the script.
    const pid = spawnDetached({
      command: process.execPath,
      args: ['-e', 'setTimeout(() => {}, 30000)', '--', ...args],
      env,
      cwd: dir,
      logFile: join(dir, 'out.log'),
      pidFile: join(dir, 'pid'),
    });
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      expect(cmdline).toContain('-Dapicurio.datasource.username=registry');
      expect(cmdline).not.toContain(PASSWORD);
      expect(readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')).toContain(`APICURIO_DATASOURCE_PASSWORD=${PASSWORD}`);
    } finally {
      await stopPid(pid, 5_000);
    }
  });
});
