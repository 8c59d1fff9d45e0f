/**
 * The true template of a txmon log line, from its call site (issue 22's measure of grouping
 * accuracy): every `log.info(…, 'message')`-style call and every `say(…)` in txmon's sources is
 * read with the TypeScript compiler; its last argument, a string or a template literal, is the
 * template (`${…}` parts are its parameters). A line's message matched by a call site's pattern is
 * labelled with that template's text; the most specific pattern wins (most literal characters), and
 * call sites with the same text are one template. Lines no call site matches (a dependency's own
 * logs, messages built elsewhere) stay unlabelled and are left out of the measure.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import ts from 'typescript';

export interface CallSitePattern {
  /** The template's text: the literal parts with `<*>` for each `${…}`. */
  text: string;
  /** Where it was found first (file:line). */
  site: string;
  regex: RegExp;
  literalChars: number;
}

const LOG_METHODS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'say', 'log']);
const SKIP_DIRS = new Set(['node_modules', 'dist', '.git', '.txmon', 'tests', 'console']);

function sourceFiles(root: string, dir = root, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) sourceFiles(root, join(dir, e.name), out);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(join(dir, e.name));
  }
  return out;
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function calleeName(e: ts.Expression): string | undefined {
  if (ts.isIdentifier(e)) return e.text;
  if (ts.isPropertyAccessExpression(e)) return e.name.text;
  return undefined;
}

/** Every log and `say` call site of the sources under `root` whose message is a literal. */
export function callSitePatterns(root: string): CallSitePattern[] {
  const byText = new Map<string, CallSitePattern>();
  for (const file of sourceFiles(root)) {
    const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
    const visit = (node: ts.Node): void => {
      if (ts.isCallExpression(node) && node.arguments.length > 0) {
        const name = calleeName(node.expression);
        const last = node.arguments[node.arguments.length - 1] as ts.Expression;
        if (name !== undefined && LOG_METHODS.has(name)) {
          let parts: string[] | undefined;
          if (ts.isStringLiteral(last) || ts.isNoSubstitutionTemplateLiteral(last)) parts = [last.text];
          else if (ts.isTemplateExpression(last)) parts = [last.head.text, ...last.templateSpans.map((s) => s.literal.text)];
          // One line per pattern: a multi-line message is split by the log file into lines no pattern names.
          if (parts !== undefined && !parts.some((p) => p.includes('\n'))) {
            const text = parts.join('<*>');
            // A pattern with no word of its own (`${a}: ${b}`) would match any line: not a template.
            if (!byText.has(text) && /[A-Za-z]{3,}/.test(parts.join(' '))) {
              const { line } = src.getLineAndCharacterOfPosition(node.getStart());
              byText.set(text, {
                text,
                site: `${relative(root, file)}:${line + 1}`,
                regex: new RegExp(`^${parts.map(escapeRegex).join('[\\s\\S]*?')}$`),
                literalChars: parts.reduce((n, p) => n + p.length, 0),
              });
            }
          }
        }
      }
      ts.forEachChild(node, visit);
    };
    visit(src);
  }
  // Most specific first, so the first match is the one to take.
  return [...byText.values()].sort((a, b) => b.literalChars - a.literalChars || (a.text < b.text ? -1 : 1));
}

/** Each message's true template (its call site's text), or undefined where no call site matches. */
export function labelMessages(messages: readonly string[], patterns: readonly CallSitePattern[]): Array<string | undefined> {
  const cache = new Map<string, string | undefined>();
  return messages.map((m) => {
    if (cache.has(m)) return cache.get(m);
    const hit = patterns.find((p) => p.regex.test(m))?.text;
    cache.set(m, hit);
    return hit;
  });
}
