/**
 * The production dependency tree as package-lock.json records it, resolved the way Node resolves
 * modules, so a test can prove what `npm ci --omit=dev` installs without installing it.
 */

/** One entry of a lockfile v2/v3 `packages` map. */
export interface LockPackage {
  version?: string;
  dev?: boolean;
  optional?: boolean;
  devOptional?: boolean;
  hasInstallScript?: boolean;
  link?: boolean;
  resolved?: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  peerDependenciesMeta?: Record<string, { optional?: boolean }>;
}

export interface Lockfile {
  lockfileVersion: number;
  packages: Record<string, LockPackage>;
}

/** The package name of a location such as `node_modules/a/node_modules/@s/b` (`@s/b`). */
export function packageName(location: string): string {
  const at = location.lastIndexOf('node_modules/');
  return location.slice(at + 'node_modules/'.length);
}

/** Where `name` required from the package at `from` is found: the nearest node_modules up the tree. */
function resolveFrom(lock: Lockfile, from: string, name: string): string | undefined {
  let dir = from;
  for (;;) {
    const candidate = dir === '' ? `node_modules/${name}` : `${dir}/node_modules/${name}`;
    if (lock.packages[candidate]) return candidate;
    if (dir === '') return undefined;
    const up = dir.lastIndexOf('/node_modules/');
    dir = up < 0 ? '' : dir.slice(0, up);
  }
}

/**
 * Locations of every package reachable from the root's dependencies and optionalDependencies (not its
 * devDependencies), following each package's dependencies, optional and peer dependencies. Optional
 * ones absent from the lock (another platform's binaries) are skipped; a missing required one throws.
 */
export function productionPackages(lock: Lockfile): Set<string> {
  if (lock.lockfileVersion < 2) throw new Error(`lockfileVersion ${lock.lockfileVersion}: need 2 or 3 (a packages map)`);
  const root = lock.packages[''];
  if (!root) throw new Error('the lockfile has no root package entry');
  const seen = new Set<string>();
  const visit = (from: string, pkg: LockPackage) => {
    const required = { ...pkg.dependencies, ...pkg.peerDependencies };
    const names = [...Object.keys(required), ...Object.keys(pkg.optionalDependencies ?? {})];
    for (const name of names) {
      const at = resolveFrom(lock, from, name);
      if (at === undefined) {
        const optional = name in (pkg.optionalDependencies ?? {}) || pkg.peerDependenciesMeta?.[name]?.optional === true;
        if (optional) continue;
        throw new Error(`${from || 'the root'} needs ${name}, which the lockfile does not hold`);
      }
      if (seen.has(at)) continue;
      seen.add(at);
      visit(at, lock.packages[at]!);
    }
  };
  visit('', { dependencies: root.dependencies, optionalDependencies: root.optionalDependencies });
  return seen;
}
