// The alert list's filters have indexes MariaDB uses (issue 16, item 7), proved by EXPLAIN against
// the real MariaDB on the SQL listAlerts sends: account_id, the event-time range, status; and, for
// rule_id and severity (JSON arrays MariaDB cannot index), the alert_rule_hits table migration 012
// fills by trigger: it holds exactly the alerts the JSON filter finds, and the query shape that
// reads it uses its indexes.
import type { RowDataPacket } from 'mysql2/promise';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAlerts } from '../../dashboard-api/repositories/alerts.ts';
import type { AlertListQueryT } from '../../dashboard-api/schemas/alerts.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { insertDecidedAlerts } from '../helpers/decided.ts';
import { createNamespace, type TestNamespace } from '../helpers/namespace.ts';

let ns: TestNamespace;
let pool: Pool;
const ALERTS = 4_000;
const SEVERITIES = ['low', 'medium', 'high', 'critical'] as const;
const LONG_RULE = `r-${'x'.repeat(200)}`;

/** The rule hits of alert i: common rules on most, a rare one on a few, one alert with a rule id longer than the column. */
function hits(i: number): Array<{ ruleId: string; severity: string }> {
  const out = [{ ruleId: `rule-${i % 20}`, severity: SEVERITIES[i % 4] as string }];
  if (i % 7 === 0) out.push({ ruleId: `rule-${(i + 3) % 20}`, severity: 'high' });
  if (i % 500 === 0) out.push({ ruleId: 'rare-rule', severity: 'critical' });
  if (i === 1) out.push({ ruleId: LONG_RULE, severity: 'low' });
  return out;
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  const t0 = Date.parse('2026-01-01T00:00:00Z');
  const rows = Array.from({ length: ALERTS }, (_, i) => {
    // Spread over 40 days; raised a little after the event.
    const event = new Date(t0 + i * 864_000);
    return {
      id: `a${String(i).padStart(31, '0')}`,
      tx: `tx-${i}`,
      account: `acc-${i % 400}`,
      event,
      created: new Date(event.getTime() + 5_000),
      i,
    };
  });
  await insertDecidedAlerts(
    pool,
    rows.map((r) => ({
      alertId: r.id,
      transactionId: r.tx,
      accountId: r.account,
      eventTime: r.event,
      createdAt: r.created,
      rulesetVersion: 'v1',
      ruleHits: hits(r.i),
      status: r.i % 50 === 0 ? 'IN_REVIEW' : 'OPEN',
      summary: 's',
    })),
  );
  await pool.query('ANALYZE TABLE alerts, transactions, alert_rule_hits');
}, 180_000);

afterAll(async () => {
  await pool?.end();
  await ns?.cleanup();
});

/** The SQL and arguments listAlerts sends for a query (through the real pool). */
async function sqlOf(q: AlertListQueryT): Promise<{ sql: string; args: unknown[] }> {
  let seen: { sql: string; args: unknown[] } | null = null;
  const recording = {
    query: (sql: string, args: unknown[]) => {
      seen = { sql, args };
      return pool.query(sql, args);
    },
  } as unknown as Pool;
  await listAlerts(recording, q);
  if (!seen) throw new Error('listAlerts sent no query');
  return seen;
}

/** EXPLAIN's rows: table alias → key used (and the whole plan, for a failure's message). */
async function keysOf(sql: string, args: unknown[]): Promise<Record<string, string | null> & { plan: string }> {
  const [rows] = await pool.query<RowDataPacket[]>(`EXPLAIN ${sql}`, args);
  return {
    ...Object.fromEntries(rows.map((r) => [String(r.table), r.key == null ? null : String(r.key)])),
    plan: JSON.stringify(rows),
  };
}

describe('alert list filters use their indexes (EXPLAIN)', () => {
  it('account_id: ix_alerts_account_created', async () => {
    const { sql, args } = await sqlOf({ account_id: 'acc-7' });
    expect((await keysOf(sql, args)).a).toBe('ix_alerts_account_created');
  });

  it('account_id with a cursor (a later page): ix_alerts_account_created', async () => {
    const first = await listAlerts(pool, { account_id: 'acc-7', limit: 3 });
    expect(first.next).not.toBeNull();
    const { sql, args } = await sqlOf({ account_id: 'acc-7', limit: 3, cursor: first.next as string });
    expect((await keysOf(sql, args)).a).toBe('ix_alerts_account_created');
  });

  it('an event-time range: ix_alerts_event_time', async () => {
    const { sql, args } = await sqlOf({ from: '2026-01-10T00:00:00Z', to: '2026-01-10T06:00:00Z' });
    expect((await keysOf(sql, args)).a).toBe('ix_alerts_event_time');
  });

  it('a rare status: ix_alerts_status_created', async () => {
    const { sql, args } = await sqlOf(
      // The schema's Static type loses the literal union of status (built with .map): it says undefined.
      { status: 'IN_REVIEW' } as unknown as AlertListQueryT,
    );
    const k = await keysOf(sql, args);
    expect(k.a, k.plan).toBe('ix_alerts_status_created');
  });

  it('no filter: FORCE INDEX FOR ORDER BY (ix_alerts_created): a page reads its own rows only, later pages too', async () => {
    // Without the hint MariaDB 10.11 plans a scan of every alert and a filesort for the join.
    const first = await sqlOf({ limit: 50 });
    const k = await keysOf(first.sql, first.args);
    expect(k.a, k.plan).toBe('ix_alerts_created');
    expect(k.plan).not.toContain('filesort');
    const page = await listAlerts(pool, { limit: 50 });
    const later = await sqlOf({ limit: 50, cursor: page.next as string });
    const k2 = await keysOf(later.sql, later.args);
    expect(k2.a, k2.plan).toBe('ix_alerts_created');
    expect(k2.plan).not.toContain('filesort');
  });
});

describe('rule_id and severity: alert_rule_hits (trigger-filled) matches the JSON filter and is indexed', () => {
  /** The alert ids the list finds (every page). */
  async function viaList(q: AlertListQueryT): Promise<string[]> {
    const out: string[] = [];
    let cursor: string | undefined;
    for (;;) {
      const page = await listAlerts(pool, { ...q, limit: 500, ...(cursor && { cursor }) });
      out.push(...page.items.map((i) => i.alert_id));
      if (!page.next) return out.sort();
      cursor = page.next;
    }
  }
  /** The JSON filter the list used before migration 012 (on the alert's rule hits since 013): the truth alert_rule_hits must equal. */
  const viaJson = (column: 'rule_id' | 'severity') =>
    `SELECT a.alert_id FROM alerts a
      WHERE JSON_CONTAINS(JSON_EXTRACT(a.rule_hits, '$[*].${column === 'rule_id' ? 'ruleId' : 'severity'}'), JSON_QUOTE(?))`;

  it('holds, per rule id and per severity, exactly the alerts JSON_CONTAINS finds', async () => {
    for (const [column, value] of [
      ['rule_id', 'rare-rule'],
      ['rule_id', 'rule-3'],
      ['severity', 'critical'],
      ['severity', 'low'],
    ] as const) {
      const listed = await viaList(
        (column === 'rule_id' ? { rule_id: value } : { severity: value }) as unknown as AlertListQueryT,
      );
      expect(listed.length, `${column}=${value}`).toBeGreaterThan(0);
      const [rows] = await pool.query<RowDataPacket[]>(viaJson(column), [value]);
      expect(listed, `${column}=${value}`).toEqual(rows.map((r) => String(r.alert_id)).sort());
    }
    // A rule id longer than the column neither broke the alert's insert nor went missing.
    const [[long]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM alert_rule_hits WHERE alert_id = ? AND rule_id LIKE 'r-xxx%'",
      [`a${'1'.padStart(31, '0')}`],
    );
    expect(Number(long?.n)).toBe(1);
  });

  it('the list reads alert_rule_hits by ix_alert_rule_hits_rule / ix_alert_rule_hits_severity', async () => {
    const rule = await sqlOf({ rule_id: 'rare-rule' } as AlertListQueryT);
    const [rulePlan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${rule.sql}`, rule.args);
    expect(rulePlan.map((r) => r.key)).toContain('ix_alert_rule_hits_rule');
    const sev = await sqlOf({ severity: 'critical' } as unknown as AlertListQueryT);
    const [sevPlan] = await pool.query<RowDataPacket[]>(`EXPLAIN ${sev.sql}`, sev.args);
    expect(sevPlan.map((r) => r.key)).toContain('ix_alert_rule_hits_severity');
  });

  it('a replayed alert insert (ON DUPLICATE KEY, as the sink does) adds no rows; deleting an alert removes its rows', async () => {
    const [[before]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alert_rule_hits');
    await pool.query(
      `INSERT INTO alerts (alert_id, transaction_id, account_id, decision, risk_score, summary, rule_hits, event_time, created_at)
       SELECT * FROM (SELECT alert_id, transaction_id, account_id, decision, risk_score, summary, rule_hits, event_time, created_at
                        FROM alerts LIMIT 100) AS again
       ON DUPLICATE KEY UPDATE alerts.alert_id = alerts.alert_id`,
    );
    const [[after]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alert_rule_hits');
    expect(Number(after?.n)).toBe(Number(before?.n));
    const id = `a${'0'.padStart(31, '0')}`;
    await pool.query('DELETE FROM alerts WHERE alert_id = ?', [id]);
    const [[gone]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alert_rule_hits WHERE alert_id = ?', [id]);
    expect(Number(gone?.n)).toBe(0);
  });
});
