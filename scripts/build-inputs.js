// What `npm run build` compiles and copies, and the fingerprint of it. Shared by scripts/build.js (which
// records the fingerprint in dist/build-info.json) and bin/txmon.js (which refuses to run a dist/ whose
// fingerprint no longer matches the sources beside it), so both always look at the same files.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Top-level folders of the shipped program: their TypeScript is compiled, every other file in them
 * (Lua, SQL, Avro, JSON rules, the Kafka pom) is copied beside it, since the code finds these files
 * relative to its own module (`new URL('…', import.meta.url)`). tests/, bench/ and scripts/ are not shipped.
 */
export const SOURCE_ROOTS = [
  'cli',
  'config',
  'dashboard-api',
  'detection',
  'domain',
  'migrations',
  'models',
  'ops',
  'platform',
  'processors',
  'reconciliation',
  'refdata',
  'rules',
  'runtime',
  'schemas',
  'services',
  'simulator',
  'sinks',
  'state',
  'topics',
  'types',
];

/**
 * The console's sources (issue 20): not compiled by tsc nor copied, but bundled by console/build.js
 * into dist/console/; part of the fingerprint, so an edit to them makes dist/ stale too.
 */
export const CONSOLE_ROOT = 'console';

/** Files outside the roots that change what the compiler emits. */
const CONFIG_FILES = ['tsconfig.json', 'tsconfig.build.json'];

/** Whether a path under a root is part of the build (tests and notes are not). */
function shipped(rel) {
  return !rel.endsWith('.test.ts') && !rel.endsWith('.md');
}

/** Whether a shipped file is copied as is (not compiled). */
export function isAsset(rel) {
  return !rel.endsWith('.ts');
}

function walk(root, rel, out) {
  for (const entry of readdirSync(join(root, rel), { withFileTypes: true })) {
    const child = `${rel}/${entry.name}`;
    if (entry.isDirectory()) walk(root, child, out);
    else if (entry.isFile() && shipped(child)) out.push(child);
  }
}

/** Every file the build reads, relative to the package root, sorted; roots that are absent are skipped. */
export function buildInputs(root) {
  const out = [];
  for (const dir of [...SOURCE_ROOTS, CONSOLE_ROOT]) {
    try {
      walk(root, dir, out);
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return [...out.sort(), ...CONFIG_FILES];
}

/** SHA-256 over the build inputs' paths and contents: equal fingerprints, equal dist/. */
export function sourceFingerprint(root) {
  const hash = createHash('sha256');
  for (const rel of buildInputs(root)) {
    hash.update(rel).update('\0');
    try {
      hash.update(readFileSync(join(root, rel)));
    } catch (err) {
      if (err.code !== 'ENOENT') throw err;
      hash.update('(missing)');
    }
    hash.update('\0');
  }
  return hash.digest('hex');
}
