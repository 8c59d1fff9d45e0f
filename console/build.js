// The console's bundle (issue 20): console/src/main.tsx and what it imports (Preact, wouter-preact),
// bundled by esbuild into one minified app.js, beside index.html and app.css. `npm run build` writes
// it into dist/console/ (scripts/build.js); the dashboard API, run from the TypeScript sources, builds
// it in memory at start-up instead (dashboard-api/console.ts), so a development checkout always serves
// the console beside it. Plain JavaScript so scripts/build.js can import it without tsx.
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const here = (rel) => fileURLToPath(new URL(rel, import.meta.url));

/** The console's files: name → contents (index.html, app.js, app.css). */
export async function consoleFiles() {
  const { build } = await import('esbuild');
  const out = await build({
    entryPoints: [here('./src/main.tsx')],
    bundle: true,
    minify: true,
    format: 'esm',
    target: ['chrome120', 'firefox120', 'safari17'],
    jsx: 'automatic',
    jsxImportSource: 'preact',
    write: false,
    outfile: 'app.js',
    legalComments: 'none',
    logLevel: 'silent',
  });
  const js = out.outputFiles.find((f) => f.path.endsWith('app.js'));
  if (!js) throw new Error('esbuild wrote no app.js');
  return {
    'index.html': readFileSync(here('./index.html')),
    'app.css': readFileSync(here('./app.css')),
    'app.js': Buffer.from(js.contents),
  };
}
