import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { buildProgram } from './main.ts';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const README = join(ROOT, 'README.md');
const read = (p: string) => readFileSync(p, 'utf8');

/** The relative link targets of a markdown file (no URLs, no in-page anchors), anchors cut off. */
function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = (m[1] as string).split('#')[0] as string;
    if (target === '' || /^[a-z]+:/i.test(target)) continue;
    out.push(target);
  }
  return out;
}

describe('the README', () => {
  it('is short enough to read in ten minutes (150 lines at most; the detail lives in docs/)', () => {
    expect(read(README).trimEnd().split('\n').length).toBeLessThanOrEqual(150);
  });

  it('and the docs link only to files that exist', () => {
    const files = [README, ...readdirSync(join(ROOT, 'docs')).map((f) => join(ROOT, 'docs', f))].filter((f) => f.endsWith('.md'));
    // The README's own links are found (the pattern is not vacuous): its documentation table alone has 13.
    expect(relativeLinks(read(README)).length).toBeGreaterThanOrEqual(13);
    const broken: string[] = [];
    for (const f of files)
      for (const target of relativeLinks(read(f)))
        if (!existsSync(resolve(dirname(f), target))) broken.push(`${f.slice(ROOT.length + 1)} → ${target}`);
    expect(broken).toEqual([]);
  });

  it('names every command `txmon --help` lists, and every processor `txmon run` starts', () => {
    const readme = read(README);
    const program = buildProgram();
    const missing: string[] = [];
    for (const cmd of program.commands) {
      if (cmd.name() === 'help') continue;
      if (!readme.includes(`\`txmon ${cmd.name()}`)) missing.push(cmd.name());
      if (cmd.name() === 'run')
        for (const sub of cmd.commands) if (!readme.includes(`\`txmon run ${sub.name()}`)) missing.push(`run ${sub.name()}`);
    }
    expect(missing).toEqual([]);
  });
});
