// The Grafana dashboard (issue 23, deploy/grafana/txmon.json): a dashboard Grafana imports (its
// panels on the 24-column grid without overlaps, each with a title, a description and the
// datasource variable), whose every query is valid PromQL (promtool checks them as recording
// rules) and reads only metrics txmon exports or recording rules deploy/prometheus/alerts.yml defines.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { exportedMetrics, metricsRead, ROOT, runPromtool } from '../checks.ts';

/** A test that runs promtool: a process of its own, seconds on a busy machine. */
const PROMTOOL_TIMEOUT_MS = 60_000;

interface Panel {
  id: number;
  type: string;
  title: string;
  description?: string;
  gridPos: { h: number; w: number; x: number; y: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { uid: string } }>;
}
const dashboard = JSON.parse(readFileSync(join(import.meta.dirname, 'txmon.json'), 'utf8')) as {
  uid: string;
  title: string;
  schemaVersion: number;
  templating: { list: Array<{ name: string; type: string; query: string }> };
  panels: Panel[];
};
const queries = dashboard.panels.filter((p) => p.type !== 'row');
const exprs = queries.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));
const work = mkdtempSync(join(tmpdir(), 'txmon-dashboard-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('Grafana dashboard (deploy/grafana/txmon.json)', () => {
  it('is an importable dashboard: a uid, a Prometheus datasource variable, unique panel ids', () => {
    expect(dashboard.uid).toBe('txmon-overview');
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.templating.list).toContainEqual(
      expect.objectContaining({ name: 'datasource', type: 'datasource', query: 'prometheus' }),
    );
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('lays its panels on the grid without overlaps, each titled, described and on the datasource variable', () => {
    const cells = new Map<string, string>();
    for (const p of dashboard.panels) {
      const { x, y, w, h } = p.gridPos;
      expect(x + w, p.title).toBeLessThanOrEqual(24);
      for (let i = x; i < x + w; i++)
        for (let j = y; j < y + h; j++) {
          const key = `${i},${j}`;
          expect(cells.get(key), `${p.title} overlaps another panel at ${key}`).toBeUndefined();
          cells.set(key, p.title);
        }
    }
    for (const p of queries) {
      expect(p.title.length, `panel ${p.id}`).toBeGreaterThan(0);
      expect(p.description, p.title).toBeTruthy();
      expect(p.datasource?.uid, p.title).toBe('${datasource}');
      expect(p.targets?.length ?? 0, p.title).toBeGreaterThan(0);
    }
  });

  it(
    'queries valid PromQL (checked by promtool as recording rules)',
    () => {
      const rules = {
        groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr })) }],
      };
      writeFileSync(join(work, 'queries.yml'), stringify(rules));
      const r = runPromtool(['check', 'rules', 'queries.yml'], work);
      expect(r.output).toContain(`SUCCESS: ${exprs.length} rules found`);
      expect(r.code, r.output).toBe(0);
      // promtool is a process of its own: seconds on a busy machine (5 s timed out in one CI run).
    },
    PROMTOOL_TIMEOUT_MS,
  );

  it("reads only metrics txmon exports and the alert rules' recording rules", () => {
    const exported = exportedMetrics();
    const alerts = parse(readFileSync(join(ROOT, 'deploy/prometheus/alerts.yml'), 'utf8')) as {
      groups: Array<{ rules: Array<{ record?: string }> }>;
    };
    const recorded = new Set(alerts.groups.flatMap((g) => g.rules.flatMap((r) => (r.record ? [r.record] : []))));
    const unknown = exprs.flatMap((e) =>
      metricsRead(e.expr)
        .filter((m) => !exported.has(m))
        .map((m) => `${e.panel}: ${m}`),
    );
    expect(unknown).toEqual([]);
    const records = exprs.flatMap((e) => [...e.expr.matchAll(/\btxmon:[a-z0-9_:]+/g)].map((m) => m[0]));
    expect(records.filter((r) => !recorded.has(r))).toEqual([]);
    expect(new Set(exprs.flatMap((e) => metricsRead(e.expr))).size).toBeGreaterThan(20);
  });
});
