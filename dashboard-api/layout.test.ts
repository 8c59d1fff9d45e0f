/**
 * The API's rooms (issue 18): routes are thin. Their SQL lives in repositories/ (one per area) and
 * their TypeBox schemas in schemas/, so a route file reads as what each path allows, answers and
 * refuses. A route that grows a query or an inline schema fails here, naming the file and line.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const routesDir = new URL('./routes/', import.meta.url);
const routes = readdirSync(routesDir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));

/** `file:line: text` of each line that matches. */
function offending(pattern: RegExp): string[] {
  return routes.flatMap((f) =>
    readFileSync(new URL(f, routesDir), 'utf8')
      .split('\n')
      .flatMap((line, i) => (pattern.test(line) ? [`routes/${f}:${i + 1}: ${line.trim()}`] : [])),
  );
}

describe('dashboard-api layout', () => {
  it('has route files to check (the check is not vacuous)', () => {
    expect(routes).toEqual(expect.arrayContaining(['alerts.ts', 'health.ts', 'models.ts', 'pipeline.ts']));
  });

  it('routes hold no SQL: no statement and no query call', () => {
    expect(offending(/\b(SELECT|INSERT INTO|UPDATE \w+ SET|DELETE FROM)\b|\.(query|execute)\s*[<(]/)).toEqual([]);
  });

  it('routes build no schema: every TypeBox schema is in schemas/', () => {
    expect(offending(/from 'typebox'|\bType\.\w+\(/)).toEqual([]);
  });
});
