// The local service manager against the real machine: starts (or reuses) Kafka, the registry,
// MariaDB and Redis, and leaves them running for the other integration tests.
import { describe, it, expect } from 'vitest';
import { loadConfig } from '../../config/config.ts';
import { servicesStatus, servicesUp, serviceLogPath } from '../../services/manager.ts';

const cfg = loadConfig(process.env);
// a cold first start downloads ~200 MB of jars from Maven Central
const COLD_START_MS = 5 * 60_000;

describe('services', () => {
  it(
    'servicesUp brings all four up and servicesStatus reports them running',
    async () => {
      const lines: string[] = [];
      const up = await servicesUp(cfg, (l) => lines.push(l));
      expect(up.map((s) => s.name).sort()).toEqual(['kafka', 'mariadb', 'redis', 'registry']);

      const status = await servicesStatus(cfg);
      for (const s of status) expect(s, `${s.name}: ${s.detail}`).toMatchObject({ running: true });
      expect(status.find((s) => s.name === 'mariadb')?.managed).toBe(false);
      expect(status.find((s) => s.name === 'redis')?.managed).toBe(false);
    },
    COLD_START_MS,
  );

  it('servicesUp is idempotent: a second run starts nothing and keeps the same pids', async () => {
    const first = await servicesUp(cfg, () => undefined);
    const lines: string[] = [];
    const started = Date.now();
    const second = await servicesUp(cfg, (l) => lines.push(l));

    expect(Date.now() - started).toBeLessThan(10_000);
    expect(lines.filter((l) => /starting|resolving|downloading|formatting/.test(l))).toEqual([]);
    const pids = (list: typeof first) => Object.fromEntries(list.map((s) => [s.name, s.pid]));
    expect(pids(second)).toEqual(pids(first));
  }, 60_000);

  it('serviceLogPath points inside the services home', () => {
    expect(serviceLogPath(cfg, 'kafka').startsWith(cfg.services.home)).toBe(true);
    expect(serviceLogPath(cfg, 'registry').startsWith(cfg.services.home)).toBe(true);
  });
});
