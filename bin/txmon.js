#!/usr/bin/env node
// Entry point for `npx txmon`. It runs compiled JavaScript whenever it can, so no loader thread
// sits in the processors (issue 17), and never a build that differs from the sources beside it:
// - dist/ built from exactly these sources (the fingerprint `npm run build` recorded equals theirs,
//   or no sources are beside it, as in a production image): dist/ with plain node. `npm run demo`
//   and `npm run bench` build first, so they run this way.
// - otherwise, tsx installed (a development checkout with an edit since the last build, or none
//   built): the TypeScript sources through tsx, as the tests do.
// - otherwise (production without a usable build): refuses to start, saying which command to run.
// See docs/operations.md, "Building for production".
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { quietKnownWarnings } from './node-warnings.js';

quietKnownWarnings();

const root = new URL('../', import.meta.url);

function tsxInstalled() {
  try {
    import.meta.resolve('tsx/esm/api');
    return true;
  } catch {
    return false;
  }
}

function refuse(message) {
  process.stderr.write(`txmon: ${message}\n`);
  process.exit(1);
}

/** 'fresh', 'stale' (with when it was built) or 'none'. */
async function buildState() {
  const info = new URL('dist/build-info.json', root);
  if (!existsSync(info)) return { state: 'none' };
  const built = JSON.parse(readFileSync(info, 'utf8'));
  if (!existsSync(new URL('cli/main.ts', root))) return { state: 'fresh' };
  const { sourceFingerprint } = await import('../scripts/build-inputs.js');
  return built.fingerprint === sourceFingerprint(fileURLToPath(root))
    ? { state: 'fresh' }
    : { state: 'stale', builtAt: built.builtAt };
}

let main;
const build = await buildState();
if (build.state === 'fresh') {
  // Stack traces name the TypeScript files and lines (the build writes source maps).
  process.setSourceMapsEnabled(true);
  ({ main } = await import('../dist/cli/main.js'));
} else if (tsxInstalled()) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
} else if (build.state === 'stale') {
  refuse(`dist/ (built ${build.builtAt}) does not match the sources beside it: run \`npm run build\` again.`);
} else {
  refuse('no build in dist/ and tsx is not installed: run `npm run build` (needs the devDependencies).');
}
await main(process.argv);
