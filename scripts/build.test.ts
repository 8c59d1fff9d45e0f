/**
 * `npm run build` and the compiled CLI as production runs it: plain `node`, no tsx, and a
 * node_modules holding only the production packages of package-lock.json (scripts/production-install.ts).
 */
import {
  appendFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildInputs, CONSOLE_ROOT } from './build-inputs.js';
import { REPO as repo, productionInstall, type ProductionInstall } from './production-install.ts';

let prod: ProductionInstall;
let root: string;
const node = (args: string[], env: Record<string, string> = {}) => prod.node(args, env);
const txmon = (args: string[], env: Record<string, string> = {}) => prod.node(['bin/txmon.js', ...args], env);

beforeAll(() => {
  prod = productionInstall();
  root = prod.root;
}, 120_000);

afterAll(() => prod?.remove());

describe('the compiled CLI in a production install', () => {
  it('has no tsx to fall back on (the install is what --omit=dev gives)', () => {
    const r = node(['--input-type=module', '-e', "await import('tsx/esm/api')"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Cannot find package 'tsx'/);
  });

  it('prints its help from dist/', () => {
    const r = txmon(['--help']);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: txmon/);
    for (const command of ['services', 'run', 'migrate', 'settlements', 'model', 'demo']) expect(r.stdout).toContain(command);
  });

  it('runs a command end to end, with pretty logs (pino-pretty must be a production dependency)', () => {
    const csv = join(root, 'settlements.csv');
    writeFileSync(
      csv,
      'settlement_id,transaction_reference,amount_minor,currency,settlement_date\ns1,r1,100,USD,2026-01-01\ns2,r2,abc,USD,2026-01-01\n',
    );
    const r = txmon(['settlements', 'import', '--dry-run', '--json', csv], { TXMON_LOG_PRETTY: 'true' });
    expect(r.status, r.stderr).toBe(2); // one bad line
    expect(JSON.parse(r.stdout)).toMatchObject({ dryRun: true, lines: 2, valid: 1, bad: 1, badByClass: { PARSE_FAILED: 1 } });
  });

  it('finds the files it reads at run time (Avro schemas, Lua scripts, rules, migrations) beside the compiled code', () => {
    const script = `
      const { avroType } = await import('./dist/schemas/index.js');
      const schemas = ['transaction', 'settlement', 'alert', 'dead-letter', 'recon-exception'].map((n) => avroType(n).name);
      const { loadLua } = await import('./dist/platform/redis.js');
      const lua = ['progress.lua', 'checkpoint.lua'].map((f) => loadLua(f));
      const { defineScripts } = await import('./dist/platform/redis.js');
      const scripts = [];
      defineScripts({ defineCommand: (name, { lua }) => scripts.push([name, lua.length]) });
      const { loadConfig } = await import('./dist/config/config.js');
      const { FeatureSpace } = await import('./dist/detection/features.js');
      const { readRuleSet } = await import('./dist/processors/ingest/rules-source.js');
      const cfg = loadConfig({});
      const rules = readRuleSet(cfg.detection.rulesFile, FeatureSpace.available(cfg.state.windows));
      const { loadConsole } = await import('./dist/dashboard-api/console.js');
      const ui = await loadConsole();
      const consoleFiles = 'files' in ui ? [...ui.files.keys()].sort() : ui.missing;
      console.log(JSON.stringify({ schemas, consoleFiles, luaIncludesLeft: lua.filter((s) => s.includes('-- @include')).length,
        luaChars: lua.map((s) => s.length), scripts, rulesFile: cfg.detection.rulesFile, rules: rules.rules.length }));`;
    const r = node(['--input-type=module', '-e', script]);
    expect(r.status, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as {
      schemas: string[];
      luaIncludesLeft: number;
      luaChars: number[];
      scripts: Array<[string, number]>;
      rulesFile: string;
      rules: number;
      consoleFiles: string[] | string;
    };
    // The console's bundle is in dist/ (no esbuild in a production install to build it).
    expect(out.consoleFiles).toEqual(['app.css', 'app.js', 'index.html']);
    expect(out.schemas).toHaveLength(5);
    expect(out.luaIncludesLeft).toBe(0);
    for (const n of out.luaChars) expect(n).toBeGreaterThan(100);
    expect(out.scripts.map(([name]) => name)).toContain('txmonCheckpointV1');
    for (const [, n] of out.scripts) expect(n).toBeGreaterThan(100);
    expect(out.rulesFile).toBe(join(root, 'dist', 'rules', 'rules.json'));
    expect(out.rules).toBeGreaterThan(0);
    const sql = (dir: string) =>
      readdirSync(dir)
        .filter((f) => f.endsWith('.sql'))
        .sort();
    expect(sql(join(root, 'dist', 'migrations'))).toEqual(sql(join(repo, 'migrations')));
    expect(existsSync(join(root, 'dist', 'services', 'kafka', 'pom.xml'))).toBe(true);
  });

  it('ships no tests, no TypeScript sources and nothing outside the source roots', () => {
    const files: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true }))
        if (e.isDirectory()) walk(join(dir, e.name));
        else files.push(join(dir, e.name).slice(join(root, 'dist').length + 1));
    };
    walk(join(root, 'dist'));
    expect(files.filter((f) => f.endsWith('.ts') || f.includes('.test.'))).toEqual([]);
    expect(files.filter((f) => /^(tests|bench|scripts)\//.test(f))).toEqual([]);
    expect(files).toContain('cli/main.js');
  });

  it('refuses a dist/ that does not match the sources beside it, and runs one that does', () => {
    for (const rel of buildInputs(repo)) {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      cpSync(join(repo, rel), join(root, rel));
    }
    expect(txmon(['--help']).status).toBe(0);
    appendFileSync(join(root, 'cli', 'main.ts'), '\n// edited after the build\n');
    const stale = txmon(['--help']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toMatch(/dist\/ \(built .*\) does not match the sources beside it: run `npm run build` again/);
    expect(stale.stdout).toBe('');
  });

  it('with tsx installed (a development checkout) runs a fresh dist/ without a loader, and the sources when they changed since the build', () => {
    // The sources beside dist/ are the repository's plus the previous test's edit: stale.
    const marker = 'ran from dist/';
    appendFileSync(join(root, 'dist', 'cli', 'main.js'), `\nprocess.stderr.write(${JSON.stringify(`${marker}\n`)});\n`);
    // tsx and what it loads (esbuild and its platform binary), linked from the checkout's install.
    const links = ['tsx', 'esbuild', '@esbuild'].map((name) => join(root, 'node_modules', name));
    for (const link of links)
      symlinkSync(join(repo, 'node_modules', link.slice(join(root, 'node_modules').length + 1)), link, 'dir');
    try {
      const stale = txmon(['--help']);
      expect(stale.status, stale.stderr).toBe(0);
      expect(stale.stdout).toMatch(/^Usage: txmon/);
      expect(stale.stderr).not.toContain(marker);
      cpSync(join(repo, 'cli', 'main.ts'), join(root, 'cli', 'main.ts')); // the edit undone: fresh again
      const fresh = txmon(['--help']);
      expect(fresh.status, fresh.stderr).toBe(0);
      expect(fresh.stderr).toContain(marker);
    } finally {
      for (const link of links) rmSync(link);
    }
  });

  it('says to build when there is no dist/', () => {
    rmSync(join(root, 'dist', 'build-info.json'));
    const r = txmon(['--help']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/no build in dist\/ and tsx is not installed: run `npm run build`/);
  });
});

describe('the build inputs', () => {
  it('cover every top-level folder of TypeScript that the program needs (a new one must be added to the build)', () => {
    const tsconfig = JSON.parse(readFileSync(join(repo, 'tsconfig.build.json'), 'utf8')) as { include: string[] };
    const compiled = tsconfig.include.map((g) => g.replace('/**/*.ts', ''));
    // deploy/ holds the deployment files (manifests, alert rules, dashboard) and their tests' helper, not program code.
    const notShipped = ['bench', 'bin', 'deploy', 'node_modules', 'scripts', 'tests', 'dist', '.txmon', '.git'];
    // The console's TypeScript is bundled by esbuild (console/build.js), not compiled by tsc.
    const bundled = [CONSOLE_ROOT];
    const withTs = readdirSync(repo, { withFileTypes: true })
      .filter((e) => e.isDirectory() && !notShipped.includes(e.name) && !bundled.includes(e.name))
      .filter((e) => readdirSync(join(repo, e.name), { recursive: true }).some((f) => String(f).endsWith('.ts')))
      .map((e) => e.name);
    expect(compiled.sort()).toEqual(withTs.sort());
    const inputs = new Set(buildInputs(repo).map((f) => f.split('/')[0]));
    for (const dir of [...compiled, ...bundled]) expect(inputs).toContain(dir);
  });
});
