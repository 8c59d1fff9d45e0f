// `npm run build`: compiles the TypeScript into dist/ (plain ESM that `node` runs without tsx), copies
// the files the code reads at run time beside it, and records the sources' fingerprint in
// dist/build-info.json for bin/txmon.js. `--out-dir <dir>` builds elsewhere (the build test does).
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildInputs, CONSOLE_ROOT, isAsset, sourceFingerprint } from './build-inputs.js';
import { consoleFiles } from '../console/build.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const at = args.indexOf('--out-dir');
if (at >= 0 && !args[at + 1]) throw new Error('--out-dir needs a directory');
const outDir = resolve(at >= 0 ? args[at + 1] : join(root, 'dist'));

const started = Date.now();
// The fingerprint is taken before compiling, so an edit during the build makes the result stale, not wrong.
const fingerprint = sourceFingerprint(root);
// A clean directory: a module deleted from the sources must not live on in dist/.
rmSync(outDir, { recursive: true, force: true });
const tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json'), '--outDir', outDir], {
  cwd: root,
  stdio: 'inherit',
});

let assets = 0;
for (const rel of buildInputs(root)) {
  if (!isAsset(rel) || !rel.includes('/')) continue; // tsconfig*.json sit at the top and are not shipped
  if (rel.startsWith(`${CONSOLE_ROOT}/`)) continue; // bundled below, not copied
  mkdirSync(dirname(join(outDir, rel)), { recursive: true });
  cpSync(join(root, rel), join(outDir, rel));
  assets++;
}
// The console: one bundle beside its page and styles (console/build.js).
mkdirSync(join(outDir, 'console'), { recursive: true });
for (const [name, body] of Object.entries(await consoleFiles())) writeFileSync(join(outDir, 'console', name), body);
writeFileSync(
  join(outDir, 'build-info.json'),
  `${JSON.stringify({ fingerprint, builtAt: new Date().toISOString(), node: process.version }, null, 2)}\n`,
);
console.error(`[txmon] built ${outDir} (${assets} files copied) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
