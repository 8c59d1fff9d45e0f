/**
 * A production install for tests, without installing: `npm run build` into a temporary root, plus a
 * node_modules of symlinks to the lock file's production packages only (into the checkout's
 * node_modules), so the root looks like `npm run build && npm ci --omit=dev`. Processes run with
 * --preserve-symlinks: without it Node would follow a symlink to the checkout and could find a
 * devDependency (tsx, pino-pretty before it moved) from there, hiding exactly what is missing.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { productionPackages, type Lockfile } from './lockfile.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));

export interface ProductionInstall {
  root: string;
  /** `node <args>` in the root, as production runs it (no NODE_OPTIONS, no tsx). */
  node(args: string[], env?: Record<string, string>): SpawnSyncReturns<string>;
  /** The same, not waited for. */
  spawn(args: string[], env?: Record<string, string>): ChildProcess;
  remove(): void;
}

const NODE_FLAGS = ['--preserve-symlinks', '--preserve-symlinks-main'];

function productionEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.TXMON_LOG_PRETTY;
  return { ...env, ...extra };
}

/** Builds and lays out the production install (~10 s, the compile). */
export function productionInstall(): ProductionInstall {
  const root = mkdtempSync(join(tmpdir(), 'txmon-prod-'));
  execFileSync(process.execPath, ['scripts/build.js', '--out-dir', join(root, 'dist')], { cwd: REPO, stdio: 'pipe' });
  const lock = JSON.parse(readFileSync(join(REPO, 'package-lock.json'), 'utf8')) as Lockfile;
  for (const at of productionPackages(lock)) {
    if (at.split('node_modules/').length > 2) continue; // nested ones come inside their parent's folder
    if (!existsSync(join(REPO, at))) continue; // another platform's optional binary
    mkdirSync(dirname(join(root, at)), { recursive: true });
    symlinkSync(join(REPO, at), join(root, at));
  }
  for (const f of ['package.json', 'bin/txmon.js', 'bin/node-warnings.js', 'scripts/build-inputs.js']) {
    mkdirSync(dirname(join(root, f)), { recursive: true });
    cpSync(join(REPO, f), join(root, f));
  }
  return {
    root,
    node: (args, env = {}) =>
      spawnSync(process.execPath, [...NODE_FLAGS, ...args], {
        cwd: root,
        env: productionEnv(env),
        encoding: 'utf8',
        timeout: 120_000,
      }),
    spawn: (args, env = {}) =>
      spawn(process.execPath, [...NODE_FLAGS, ...args], {
        cwd: root,
        env: productionEnv(env),
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}
