import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { packageName, productionPackages, type Lockfile } from './lockfile.ts';

const lock = JSON.parse(readFileSync(new URL('../package-lock.json', import.meta.url), 'utf8')) as Lockfile;
const manifest = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/**
 * Production packages allowed to run an install script. A new one in this list is a supply-chain
 * decision (code run at `npm ci` on the build machine), so the test fails until someone reviews it.
 */
const INSTALL_SCRIPTS_ALLOWED = ['msgpackr-extract', 'protobufjs'];

describe('the production dependency tree in package-lock.json', () => {
  const prod = productionPackages(lock);
  const names = new Set([...prod].map(packageName));

  it('holds no tsx and no esbuild (no TypeScript loader, no native binary with an install script)', () => {
    expect([...names].filter((n) => n === 'tsx' || n === 'esbuild' || n.startsWith('@esbuild/'))).toEqual([]);
    expect(manifest.dependencies).not.toHaveProperty('tsx');
    expect(manifest.devDependencies).toHaveProperty('tsx');
    expect(lock.packages['node_modules/tsx']?.dev).toBe(true);
    expect(lock.packages['node_modules/esbuild']?.dev).toBe(true);
  });

  it('holds every runtime dependency, pino-pretty included (the CLI logs through it at a terminal)', () => {
    for (const name of Object.keys(manifest.dependencies)) expect(names).toContain(name);
    expect(names).toContain('pino-pretty');
    expect(names).not.toContain('typescript');
    expect(names).not.toContain('vitest');
  });

  it('agrees with the dev flags npm wrote into the lock file, so `npm ci --omit=dev` installs exactly this', () => {
    const npmProd = Object.entries(lock.packages)
      .filter(([at, p]) => at !== '' && !p.dev && !p.devOptional)
      .map(([at]) => at)
      .sort();
    expect([...prod].sort()).toEqual(npmProd);
  });

  it('runs install scripts only from the reviewed packages', () => {
    const withScripts = [...prod].filter((at) => lock.packages[at]?.hasInstallScript).map(packageName);
    expect([...new Set(withScripts)].sort()).toEqual(INSTALL_SCRIPTS_ALLOWED);
  });
});

describe('productionPackages', () => {
  const fake = (packages: Lockfile['packages']): Lockfile => ({ lockfileVersion: 3, packages });

  it('resolves like Node: the nearest node_modules first, then up the tree; dev-only packages are left out', () => {
    const got = productionPackages(
      fake({
        '': { dependencies: { a: '^1' }, devDependencies: { d: '^1' } } as never,
        'node_modules/a': { dependencies: { b: '^2', c: '^1' } },
        'node_modules/a/node_modules/b': { dependencies: { c: '^1' } },
        'node_modules/b': { dependencies: { d: '^1' } },
        'node_modules/c': {},
        'node_modules/d': { dev: true },
      }),
    );
    expect([...got].sort()).toEqual(['node_modules/a', 'node_modules/a/node_modules/b', 'node_modules/c']);
  });

  it('skips optional dependencies the lock does not hold, and throws on a missing required one', () => {
    const base = { '': { dependencies: { a: '^1' } }, 'node_modules/a': { optionalDependencies: { x: '^1' } } };
    expect([...productionPackages(fake(base))]).toEqual(['node_modules/a']);
    expect(() => productionPackages(fake({ ...base, 'node_modules/a': { dependencies: { y: '^1' } } }))).toThrow(
      /node_modules\/a needs y/,
    );
  });

  it('follows peer dependencies (a peer is installed for production too)', () => {
    const got = productionPackages(
      fake({
        '': { dependencies: { plugin: '^1' } },
        'node_modules/plugin': { peerDependencies: { host: '^1' } },
        'node_modules/host': {},
      }),
    );
    expect(got).toContain('node_modules/host');
  });
});
