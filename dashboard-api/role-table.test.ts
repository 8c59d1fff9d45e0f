import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { README, markdownTable, readmeWithTable, routeRoles } from './role-table.ts';

describe('the README role table', () => {
  it('is the one generated from the routes (npm run docs:roles rewrites it)', async () => {
    const readme = await readFile(README, 'utf8');
    expect(await readmeWithTable(readme, await routeRoles())).toBe(readme);
  });

  it('covers every route, aggregates, pipeline, drift and the stream included; aggregates are not open to sre', async () => {
    const routes = await routeRoles();
    const of = (method: string, path: string) => routes.find((r) => r.method === method && r.path === path)?.roles;
    expect(of('GET', '/api/v1/accounts/{accountId}/aggregates')).toEqual(['analyst', 'admin']);
    expect(of('GET', '/api/v1/pipeline')).toEqual(['sre', 'admin']);
    expect(of('GET', '/api/v1/models/drift')).toBeDefined();
    expect(of('GET', '/api/v1/alerts/stream')).toEqual(['analyst', 'admin']);
    expect(of('GET', '/readyz')).toBe('public');
    expect(of('GET', '/readyz/detail')).toEqual(['sre', 'admin']);
    expect(of('GET', '/openapi.json')).toBe('public');
    expect(routes.length).toBeGreaterThanOrEqual(24);
  });

  it('a README whose table differs from the routes is rewritten (so the first test fails on it)', async () => {
    const readme = await readFile(README, 'utf8');
    const routes = await routeRoles();
    const stale = readme.replace(markdownTable(routes).split('\n')[2] as string, '');
    // The pipeline opened to analysts in the README only.
    const tampered = readme
      .split('\n')
      .map((line) => (line.includes('`GET /api/v1/pipeline`') ? line.replace('|         |  ✓', '|    ✓    |  ✓') : line))
      .join('\n');
    expect(tampered).not.toBe(readme);
    expect(await readmeWithTable(tampered, routes)).toBe(readme);
    expect(await readmeWithTable(stale, routes)).toBe(readme);
  });
});
