/**
 * scripts/audit.js decides what CI does with `npm audit`: fail on high/critical advisories in
 * production packages, ignore devDependencies, and say SKIPPED (not pass) when no advisory service
 * answers. Run against a mirrored advisory file served on 127.0.0.1, or a registry that refuses: no network.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = fileURLToPath(new URL('..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'txmon-audit-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// Fresh advisory ids each run: npm caches advisories by package and id.
let nextId = Date.now() * 1000;
function advisory(severity: string, range = '*') {
  const id = nextId++;
  return {
    id,
    url: `https://advisories.invalid/${id}`,
    title: `test advisory ${severity}`,
    severity,
    vulnerable_versions: range,
  };
}

function audit(args: string[], db?: Record<string, unknown[]>, env: Record<string, string> = {}) {
  const extra = [...args];
  if (db) {
    const file = join(dir, `advisories-${nextId++}.json`);
    writeFileSync(file, JSON.stringify(db));
    extra.push('--advisories', file);
  }
  return spawnSync(process.execPath, ['scripts/audit.js', ...extra], {
    cwd: repo,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 60_000,
  });
}

describe('scripts/audit.js', () => {
  it('fails on a high advisory in a production package, naming it', () => {
    const r = audit([], { fastify: [advisory('high')], vitest: [advisory('critical')] });
    expect(r.status, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/npm audit: FAILED, 1 at or above high/);
    expect(r.stdout).toMatch(/high\s+fastify: test advisory high/);
    expect(r.stdout).not.toContain('vitest'); // a devDependency never reaches production
  });

  it('passes when the only advisories are for devDependencies or below the level', () => {
    const r = audit([], { vitest: [advisory('critical')], typescript: [advisory('high')], pino: [advisory('moderate')] });
    expect(r.status, r.stdout + r.stderr).toBe(0);
    // pino and the packages that depend on it count as moderate; none reaches high.
    expect(r.stdout).toMatch(/npm audit: passed, none at or above high .*[1-9]\d* moderate, 0 high, 0 critical/);
  });

  it('fails on a moderate one with --audit-level moderate', () => {
    const r = audit(['--audit-level', 'moderate'], { pino: [advisory('moderate')] });
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(/moderate\s+pino/);
  });

  it('matches versions as npm does: an advisory for versions the lock does not hold is not a finding', () => {
    const r = audit([], { fastify: [advisory('critical', '<1.0.0')] });
    expect(r.status, r.stdout).toBe(0);
  });

  it('without an advisory service: fails with exit code 2, or with --if-reachable says SKIPPED and why', () => {
    const env = { npm_config_registry: 'http://127.0.0.1:1/' };
    const strict = audit([], undefined, env);
    expect(strict.status).toBe(2);
    expect(strict.stdout).toMatch(/npm audit: FAILED, the registry advisory service could not be reached \(.*ECONNREFUSED/);
    const lenient = audit(['--if-reachable'], undefined, env);
    expect(lenient.status).toBe(0);
    expect(lenient.stdout).toMatch(
      /^npm audit: SKIPPED, the registry advisory service could not be reached \(.*ECONNREFUSED.*\); production dependencies were not audited\.$/m,
    );
    // Two runs of npm, ~1.5 s each on an idle machine: the default 5 s was too short under CI's load (6.3 s on 2026-12-07).
  }, 30_000);
});
