#!/usr/bin/env node
// Entry point for `npx txmon`. What is installed decides what runs, so there is no flag to forget:
// - tsx installed (a development checkout, devDependencies present): the TypeScript sources through
//   tsx. dist/ is never used here, so a stale build cannot run by accident.
// - tsx absent (production: `npm run build`, then `npm ci --omit=dev`): the compiled dist/ with plain
//   node, no loader and no esbuild binary. When the sources sit beside dist/, their fingerprint must
//   equal the one the build recorded; otherwise (sources updated, build forgotten) it refuses to start.
// See docs/operations.md, "Building for production".
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

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

let main;
if (tsxInstalled()) {
  const { register } = await import('tsx/esm/api');
  register();
  ({ main } = await import('../cli/main.ts'));
} else {
  const info = new URL('dist/build-info.json', root);
  if (!existsSync(info)) refuse('no build in dist/ and tsx is not installed: run `npm run build` (needs the devDependencies).');
  if (existsSync(new URL('cli/main.ts', root))) {
    const { sourceFingerprint } = await import('../scripts/build-inputs.js');
    const built = JSON.parse(readFileSync(info, 'utf8'));
    if (built.fingerprint !== sourceFingerprint(fileURLToPath(root)))
      refuse(`dist/ (built ${built.builtAt}) does not match the sources beside it: run \`npm run build\` again.`);
  }
  // Stack traces name the TypeScript files and lines (the build writes source maps).
  process.setSourceMapsEnabled(true);
  ({ main } = await import('../dist/cli/main.js'));
}
await main(process.argv);
