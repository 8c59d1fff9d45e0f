import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

const script = new URL('./ensure-install.js', import.meta.url).pathname;
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('scripts/ensure-install.js', () => {
  it('never reinstalls a linked node_modules (a worktree sharing another checkout’s install), even when the lock file is newer', () => {
    const root = mkdtempSync(join(tmpdir(), 'txmon-ensure-'));
    dirs.push(root);
    // The install another checkout owns: marker older than this checkout's lock file.
    const shared = join(root, 'shared-node_modules');
    mkdirSync(join(shared, 'tsx'), { recursive: true });
    writeFileSync(join(shared, '.package-lock.json'), '{}');
    writeFileSync(join(shared, 'tsx', 'package.json'), '{}');
    const old = new Date('2020-01-01');
    utimesSync(join(shared, '.package-lock.json'), old, old);
    const checkout = join(root, 'worktree');
    mkdirSync(checkout);
    writeFileSync(join(checkout, 'package-lock.json'), '{"lockfileVersion":3,"packages":{}}');
    symlinkSync(shared, join(checkout, 'node_modules'));

    const run = spawnSync(process.execPath, [script], { cwd: checkout, encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/node_modules is a link to .*shared-node_modules: not reinstalling/);
    expect(readdirSync(shared).sort()).toEqual(['.package-lock.json', 'tsx']);
  });
});
