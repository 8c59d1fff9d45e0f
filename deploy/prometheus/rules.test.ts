// The alert rules (issue 23): valid for Prometheus, each one's behaviour proved by promtool's unit
// tests on synthetic series (a case where it fires and one where it does not), each one documented
// in the runbook, and every metric they read one that txmon exports. promtool comes from
// scripts/ensure-promtool.js (npm test fetches it first; no server is installed).
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { exportedMetrics, metricsRead, ROOT as root, runPromtool } from '../checks.ts';

/** A test that runs promtool: a process of its own, seconds on a busy machine. */
const PROMTOOL_TIMEOUT_MS = 60_000;

const here = import.meta.dirname;

interface Rule {
  alert?: string;
  record?: string;
  expr: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface RuleFile {
  groups: Array<{ name: string; rules: Rule[] }>;
}
interface TestFile {
  tests: Array<{ name: string; alert_rule_test?: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
}

const rules = (parse(readFileSync(join(here, 'alerts.yml'), 'utf8')) as RuleFile).groups.flatMap((g) => g.rules);
const alerts = rules.filter((r): r is Rule & { alert: string } => r.alert !== undefined);
const cases = (parse(readFileSync(join(here, 'alerts.test.yml'), 'utf8')) as TestFile).tests.flatMap(
  (t) => t.alert_rule_test ?? [],
);

const run = (args: string[]) => runPromtool(args, here);

describe('Prometheus alert rules (deploy/prometheus)', () => {
  it(
    'are valid rules, and the example configurations (static, Kubernetes) are valid',
    () => {
      const rulesCheck = run(['check', 'rules', 'alerts.yml']);
      expect(rulesCheck.output).toContain(`SUCCESS: ${rules.length} rules found`);
      expect(rulesCheck.code).toBe(0);
      for (const config of ['prometheus.yml', 'kubernetes-scrape.yml']) {
        const configCheck = run(['check', 'config', '--syntax-only', config]);
        expect(configCheck.code, `${config}: ${configCheck.output}`).toBe(0);
      }
      // promtool is a process of its own: seconds on a busy machine (5 s timed out in one CI run).
    },
    PROMTOOL_TIMEOUT_MS,
  );

  it(
    'pass their unit tests on synthetic series (promtool test rules)',
    () => {
      const r = run(['test', 'rules', 'alerts.test.yml']);
      expect(r.output).toContain('SUCCESS');
      expect(r.code, r.output).toBe(0);
      // promtool is a process of its own: seconds on a busy machine (5 s timed out in one CI run).
    },
    PROMTOOL_TIMEOUT_MS,
  );

  it('each alert has a case where it fires and one where it does not', () => {
    for (const { alert } of alerts) {
      const mine = cases.filter((c) => c.alertname === alert);
      expect(
        mine.some((c) => c.exp_alerts.length > 0),
        `${alert} never fires in alerts.test.yml`,
      ).toBe(true);
      expect(
        mine.some((c) => c.exp_alerts.length === 0),
        `${alert} has no case where it stays quiet`,
      ).toBe(true);
    }
  });

  it('each alert has a severity, a summary, a description and a runbook section of its name', () => {
    const runbook = readFileSync(join(root, 'docs/runbook.md'), 'utf8');
    const sections = new Set([...runbook.matchAll(/^## (\S+)$/gm)].map((m) => m[1] as string));
    for (const a of alerts) {
      expect(['page', 'ticket'], a.alert).toContain(a.labels?.severity);
      expect(a.annotations?.summary, a.alert).toBeTruthy();
      expect(a.annotations?.description, a.alert).toBeTruthy();
      expect(a.annotations?.runbook_url, a.alert).toBe(`docs/runbook.md#${a.alert.toLowerCase()}`);
      expect(sections.has(a.alert), `docs/runbook.md has no section "## ${a.alert}"`).toBe(true);
    }
    // And the runbook documents no alert that is gone.
    expect([...sections].sort()).toEqual(alerts.map((a) => a.alert).sort());
  });

  it('read only metrics txmon exports', () => {
    const exported = exportedMetrics();
    expect(exported.size).toBeGreaterThan(40);
    const used = new Set(rules.flatMap((r) => metricsRead(r.expr)));
    const unknown = [...used].filter((n) => !exported.has(n));
    expect(unknown, `metrics not exported by txmon (${relative(root, here)}/alerts.yml)`).toEqual([]);
    expect(used.size).toBeGreaterThan(10);
  });
});
