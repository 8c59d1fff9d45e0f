// The console (issue 20) in a real browser: headless Debian Chromium driven by playwright-core,
// against the dashboard API as `txmon run api` starts it (startApi: the console's files, sessions),
// on alerts the real pipeline wrote (simulated transactions through the ingest). An analyst signs in,
// sees the queue, watches a newly raised alert arrive live, opens one with the keyboard, resolves it
// as fraud (the label is in MySQL and the audit log names the analyst) and adds a note with an HTML
// payload (shown as text, never run); an SRE sees no triage, and the pipeline page; sign-out and a
// revoked key end the session. Screenshots of each page at 1280×800 and 390×844 go to
// .txmon/test-report/console/. The budget (interactive time, a 5,000-alert scroll's frames) is
// measured alone, in console-budget.e2e.test.ts.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { RowDataPacket } from 'mysql2/promise';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, revokeApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { startApi, type ApiServer } from '../../dashboard-api/server.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { startIngest } from '../../processors/ingest/main.ts';
import { promote, registerModel, shadow } from '../../models/model-registry.ts';
import { trainModel } from '../../models/train.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';
import { produceSimulated, transactionEncoder } from '../helpers/pipeline.ts';
import { containsPan } from '../../domain/pan.ts';
import { sampleTransaction } from '../../domain/transaction.fixture.ts';
import { createKafka } from '../../platform/kafka.ts';
import { topicName } from '../../topics/topics.ts';
import { produceSimulatedSettlements } from '../helpers/recon.ts';
import { startReconcile } from '../../processors/reconcile/main.ts';
import { publishRuleSet } from '../../models/rule-set-registry.ts';
import { FeatureSpace } from '../../detection/features.ts';
import { DEFAULT_SIM_OPTIONS } from '../../simulator/types.ts';
import { slowStep } from '../helpers/slow-step.ts';
import { launchChromium, openConsolePage, signIn, VIEWPORTS } from '../helpers/console.ts';
import type { OpsAlert } from '../../ops/alerts.ts';
import { writeOpsAlerts } from '../../sinks/ops-alerts.sink.ts';

const SHOTS = join('.txmon', 'test-report', 'console');
/** A merchant id that is valid input (printable ASCII, no space) and HTML that would run if rendered as such. */
const XSS_MERCHANT = '<img/src=x/onerror=window.__xss=3>';
/** A rule's reason that would run if rendered as HTML. */
const XSS_DETAIL = '<script>window.__xss=4</script><b onmouseover=window.__xss=5>bold</b>';
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** Every page's accessibility findings, written beside the screenshots. */
const a11y: Array<{ page: string; viewport: string; violations: Array<{ id: string; impact: string | null; nodes: number }> }> =
  [];

let ns: TestNamespace;
let pool: Pool;
let api: ApiServer;
let browser: Browser;
const keys = { analyst: '', sre: '', admin: '' };

async function drainIngest(): Promise<void> {
  const ingest = await startIngest(ns.cfg, testLogger, { drain: true });
  await ingest.done;
}

async function alertCount(): Promise<number> {
  const [[row]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM alerts');
  return Number(row?.n);
}

/** A fresh browser context (its own cookies) at a viewport, with the page's errors collected. */
function openPage(viewport: keyof typeof VIEWPORTS = 'desktop'): Promise<{ page: Page; errors: string[] }> {
  return openConsolePage(browser, api.url, viewport);
}

/**
 * Every chart on the page: a labelled canvas (its text alternative) with pixels drawn on it.
 * Returns how many there are.
 */
async function expectChartsDrawn(page: Page): Promise<number> {
  const charts = page.locator('canvas[role=img]');
  const n = await charts.count();
  for (let i = 0; i < n; i++) {
    const chart = charts.nth(i);
    expect(await chart.getAttribute('aria-label')).toMatch(/\w+ \S+/);
    await expect
      .poll(() =>
        chart.evaluate((c) => {
          const canvas = c as unknown as {
            width: number;
            height: number;
            getContext(t: '2d'): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } };
          };
          const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
          let painted = 0;
          for (let j = 3; j < data.length; j += 4) if ((data[j] ?? 0) > 0) painted++;
          return painted;
        }),
      )
      .toBeGreaterThan(500);
  }
  return n;
}

/**
 * A screenshot of the page into the report folder, and axe-core's check of it (WCAG 2.x A and AA
 * rules): no serious or critical violation. axe runs through the DevTools protocol, which the page's
 * CSP does not govern (the page itself allows no inline script).
 */
async function shoot(page: Page, name: string): Promise<void> {
  mkdirSync(SHOTS, { recursive: true });
  const size = page.viewportSize();
  const viewport = `${size?.width ?? 0}x${size?.height ?? 0}`;
  // The viewport as a user first sees it (a full-page shot of a long list costs seconds of CPU to encode).
  await page.screenshot({ path: join(SHOTS, `${name}-${viewport}.png`) });
  if (await page.evaluate("typeof window.axe === 'undefined'")) await page.evaluate(AXE);
  const result = (await page.evaluate(
    "axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] } })",
  )) as { violations: Array<{ id: string; impact: string | null; help: string; nodes: Array<{ target: string[] }> }> };
  const violations = result.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  a11y.push({ page: name, viewport, violations });
  const grave = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  expect(
    grave.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`),
    `${name} at ${viewport}`,
  ).toEqual([]);
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  const sim = { ...DEFAULT_SIM_OPTIONS, seed: 41, count: 2_500 };
  await slowStep('produce transactions', () => produceSimulated(ns, sim));
  await slowStep('produce settlements', () => produceSimulatedSettlements(ns, sim));
  await slowStep('ingest drain', drainIngest);
  await slowStep('reconcile drain', async () => (await startReconcile(ns.cfg, testLogger, { drain: true })).done);
  // A model active from here on: the alerts the later ingest raises carry its verdict and drivers.
  await slowStep('train a model', async () => {
    const model = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 30, sampleSize: 128, seed: 3, alertRate: 0.02 },
      () => {},
    );
    await registerModel(pool, model, 'test');
    await promote(pool, model.version, 'test');
  });
  for (const role of ['analyst', 'sre', 'admin'] as const)
    keys[role] = (await createApiKey(pool, `ui-${role}`, role, 'test')).key;
  api = await startApi({ ...ns.cfg, api: { ...ns.cfg.api, keyCacheMs: 0 } }, testLogger, { host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  writeFileSync(join(SHOTS, 'accessibility.json'), `${JSON.stringify(a11y, null, 2)}\n`);
  await browser?.close();
  await api?.close();
  await pool?.end();
  await ns?.cleanup();
});

describe('the console in headless Chromium', () => {
  it('a bad key gets a clear message and no session', async () => {
    const { page, errors } = await openPage();
    await shoot(page, 'sign-in');
    await page.getByLabel('API key').fill('txk_000000000000_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('the API key is unknown or revoked');
    expect(await page.context().cookies()).toEqual([]);
    expect(errors, errors.join('\n')).toEqual([]);
    await page.context().close();
  });

  it('an analyst works the queue: live alerts, keyboard, resolve as fraud, a note shown as text', async () => {
    const before = await alertCount();
    expect(before).toBeGreaterThan(0);
    const { page, errors } = await openPage();
    await signIn(page, keys.analyst);
    // The cookie is HttpOnly: the page's script cannot read it.
    expect(await page.evaluate('document.cookie')).not.toContain('txmon_session');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'txmon_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });

    const shown = page.locator('.status-line');
    await expect.poll(() => shown.textContent()).toMatch(/Live/);
    await expect.poll(async () => page.locator('[role=option]').count()).toBeGreaterThan(0);
    await shoot(page, 'alerts');

    // A newly raised alert appears without a reload: more transactions through the real ingest.
    const firstBefore = await page.locator('[role=option]').first().getAttribute('id');
    // And a burst on one account from a merchant whose id is an HTML payload (the id's rules allow
    // any printable ASCII): the velocity rule alerts on it, and the page must show the id as text.
    const [[latest]] = await pool.query<RowDataPacket[]>('SELECT MAX(event_time) AS t FROM transactions');
    const from = (latest?.t as Date).getTime() + 1_000;
    const encode = await transactionEncoder(ns);
    // A rule whose reason (its detail) is a script, published and promoted through the API by an
    // admin: the ingest below decides with it, and its hit on the burst carries that text.
    const rules = JSON.parse(readFileSync(ns.cfg.detection.rulesFile, 'utf8')) as { rules: unknown[] };
    rules.rules.push({
      id: 'xss-probe',
      version: '1',
      description: 'a probe whose reason is markup',
      severity: 'high',
      action: 'REVIEW',
      when: { '==': [{ var: 'merchant_id' }, XSS_MERCHANT] },
      detail: `${XSS_DETAIL} at {merchant_id}`,
    });
    const asAdmin = { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' };
    const published = await fetch(`${api.url}/api/v1/rules`, {
      method: 'POST',
      headers: asAdmin,
      body: JSON.stringify({ text: JSON.stringify(rules), reason: 'console test: a reason that is markup' }),
    });
    expect(published.status, await published.clone().text()).toBe(201);
    const { version: probeRules } = (await published.json()) as { version: string };
    const promoted = await fetch(`${api.url}/api/v1/rules/${encodeURIComponent(probeRules)}/promote`, {
      method: 'POST',
      headers: asAdmin,
      body: JSON.stringify({ reason: 'console test', check: false }),
    });
    expect(promoted.status, await promoted.clone().text()).toBe(200);
    await slowStep('produce and ingest more transactions', async () => {
      await produceSimulated(ns, { seed: 42, count: 1_500 });
      const producer = createKafka(ns.cfg, testLogger).producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      await producer.send({
        topic: topicName(ns.cfg.topicNamespace, 'transactions'),
        acks: -1,
        messages: Array.from({ length: 16 }, (_, i) =>
          sampleTransaction({
            transaction_id: `tx-xss-${i}`,
            idempotency_key: `idem-xss-${i}`,
            account_id: 'acc-xss',
            merchant_id: XSS_MERCHANT,
            event_time: from + i * 2_000,
          }),
        ).map((tx) => ({ key: tx.account_id, value: encode(tx) })),
      });
      await producer.disconnect();
      await drainIngest();
    });
    const after = await alertCount();
    expect(after).toBeGreaterThan(before);
    await expect
      .poll(async () => page.locator('[role=option]').first().getAttribute('id'), { timeout: 15_000 })
      .not.toBe(firstBefore);
    const [[newest]] = await pool.query<RowDataPacket[]>(
      'SELECT alert_id FROM alerts ORDER BY created_at DESC, alert_id DESC LIMIT 1',
    );
    await expect.poll(async () => page.locator(`#alert-${String(newest?.alert_id)}`).count(), { timeout: 15_000 }).toBe(1);

    // Keyboard: focus the list, j to the second alert, Enter opens it.
    await page.locator('[role=listbox]').focus();
    await page.keyboard.press('j');
    const chosen = (await page.locator('[role=option][aria-selected=true]').getAttribute('id'))?.replace('alert-', '');
    expect(chosen).toMatch(/^[0-9a-f]{32}$/);
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Rule hits' }).waitFor();
    expect(page.url()).toContain(`#/alerts/${chosen}`);
    // Raised after the model became active: the features that drove its score, drawn.
    await page.getByRole('heading', { name: "What drove the model's score" }).waitFor();
    // And the account's recent activity from the live windows, bucket by bucket, drawn too.
    await page.getByRole('heading', { name: 'Recent activity' }).waitFor();
    expect(await expectChartsDrawn(page)).toBe(2);
    await shoot(page, 'alert-detail');

    // No card data on the page (the API returns none): no PAN-like digit runs.
    const text = await page.locator('main').innerText();
    expect(containsPan(text), text).toBe(false);
    // Nor the card's token, last four digits or BIN, nor coordinates (the API returns none of them).
    const [[card]] = await pool.query<RowDataPacket[]>(
      'SELECT t.card_token FROM transactions t JOIN alerts a ON a.transaction_id = t.transaction_id WHERE a.alert_id = ?',
      [chosen],
    );
    expect(text).not.toContain(String(card?.card_token));
    expect(text).not.toMatch(/latitude|longitude|card_last4|card_bin|\btok_/i);

    // A note with an HTML payload is shown as text and never run.
    const payload = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>';
    await page.getByLabel('Note').fill(payload);
    await page.getByRole('button', { name: 'Add note' }).click();
    await expect.poll(() => page.locator('.history').textContent()).toContain(payload);
    expect(await page.evaluate('window.__xss')).toBeUndefined();
    expect(await page.locator('.history img').count()).toBe(0);

    // The live windows and the account's alerts as a timeline.
    await page.getByRole('heading', { name: 'Live windows' }).waitFor();
    await expect.poll(() => page.locator('.windows tbody tr').count()).toBeGreaterThan(0);
    await expect.poll(() => page.locator('.timeline').textContent()).toContain('this alert');
    // The timeline's table: its buckets add up to the 24-hour window's count (the largest window,
    // shown first), and the 1-hour window's buttons redraw it.
    await page.getByText("The 24h window's buckets as a table").click();
    const perBucket = (await page.locator('.activity tbody tr td:nth-child(2)').allTextContents()).map(Number);
    const in24h = Number(await page.locator('.windows tbody tr').nth(2).locator('td').nth(1).textContent());
    expect(perBucket.reduce((a, b) => a + b, 0)).toBe(in24h);
    await page.getByRole('button', { name: '1h', exact: true }).click();
    await page.getByText("The 1h window's buckets as a table").waitFor();

    await page.getByLabel('Note').fill('card seen in a known fraud ring');
    await page.getByRole('button', { name: 'Resolve as fraud' }).click();
    await expect.poll(() => page.locator('.facts').nth(1).textContent()).toContain('CONFIRMED_FRAUD');
    const [[label]] = await pool.query<RowDataPacket[]>(
      'SELECT l.label FROM labels l JOIN alerts a ON a.transaction_id = l.transaction_id WHERE a.alert_id = ?',
      [chosen],
    );
    expect(String(label?.label)).toBe('fraud');
    const [[audit]] = await pool.query<RowDataPacket[]>(
      "SELECT actor FROM audit_log WHERE action = 'alert.resolve' AND subject = ? ORDER BY id DESC LIMIT 1",
      [`alert:${chosen}`],
    );
    expect(String(audit?.actor)).toMatch(/^ui-analyst \(key [0-9a-f]{12}\)$/);

    // Someone else closes an alert this page shows as open: the page's action gets a 409, says so,
    // and shows the alert as it is now.
    const [[other]] = await pool.query<RowDataPacket[]>(
      "SELECT alert_id, transaction_id FROM alerts WHERE status = 'OPEN' AND alert_id <> ? ORDER BY created_at DESC LIMIT 1",
      [chosen],
    );
    await page.goto(`/#/alerts/${String(other?.alert_id)}`);
    // (Another alert's page: nothing of the one before is shown while it loads.)
    await page.getByRole('heading', { name: 'Rule hits' }).waitFor();
    expect(await page.locator('.facts').first().textContent()).toContain(String(other?.transaction_id));
    expect(await page.locator('.facts').nth(1).textContent()).toContain('OPEN');
    const elsewhere = await fetch(`${api.url}/api/v1/alerts/${String(other?.alert_id)}/resolve`, {
      method: 'POST',
      headers: { authorization: `Bearer ${keys.admin}`, 'content-type': 'application/json' },
      body: JSON.stringify({ label: 'legitimate' }),
    });
    expect(elsewhere.status, await elsewhere.clone().text()).toBe(200);
    await page.getByRole('button', { name: 'Resolve as fraud' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toMatch(/^Not done: the alert changed meanwhile \(alert \w+ is FALSE_POSITIVE; /);
    await expect.poll(() => page.locator('.facts').nth(1).textContent()).toContain('FALSE_POSITIVE');
    expect(await page.getByRole('button', { name: 'Resolve as fraud' }).isDisabled()).toBe(true);

    // The alert on the hostile merchant: its id shown as text, nothing run, no element made of it.
    const [[hostile]] = await pool.query<RowDataPacket[]>("SELECT alert_id FROM alerts WHERE account_id = 'acc-xss' LIMIT 1");
    expect(hostile, 'the burst raised an alert').toBeDefined();
    await page.goto(`/#/alerts/${String(hostile?.alert_id)}`);
    await expect.poll(() => page.locator('.facts').first().textContent()).toContain(XSS_MERCHANT);
    expect(await page.locator('.hits').textContent()).toContain(`${XSS_DETAIL} at ${XSS_MERCHANT}`);
    expect(await page.locator('main img, main script, main b').count()).toBe(0);
    expect(await page.evaluate('window.__xss')).toBeUndefined();

    // Sign-out: back to the sign-in page; the old cookie no longer opens anything.
    const old = (await page.context().cookies()).find((c) => c.name === 'txmon_session');
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('API key').waitFor();
    const res = await fetch(`${api.url}/api/v1/alerts`, { headers: { cookie: `txmon_session=${old?.value}` } });
    expect(res.status).toBe(401);
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('an SRE sees the pipeline, ops-watch’s incident and breach forecast, and no alerts or triage; phone-sized pages render too', async () => {
    // ops-watch's alerts as its sink writes them: an open incident, an open forecast, a closed one.
    const now = Date.now();
    const lagSeries = 'ingest:txmon_ingest_consumer_lag_records{partition="0"}';
    const incident: OpsAlert = {
      alertId: 'ops-ui-incident',
      revision: 2,
      kind: 'ANOMALY',
      status: 'OPEN',
      openedAt: now - 60_000,
      updatedAt: now - 30_000,
      closedAt: null,
      firstMover: lagSeries,
      summary: `${lagSeries} moved first (8200 against a baseline of 101, score 2210.4); 1 more series moved with it`,
      evidence: [
        { series: lagSeries, startedAt: now - 75_000, value: 8_200, baseline: 101, score: 2210.4 },
        {
          series: 'ingest:p99(txmon_ingest_record_to_commit_seconds)',
          startedAt: now - 60_000,
          value: 2.4,
          baseline: 0.05,
          score: 41.2,
        },
      ],
      forecast: null,
    };
    await writeOpsAlerts(pool, [
      incident,
      {
        ...incident,
        alertId: 'ops-ui-forecast',
        revision: 1,
        kind: 'SLO_FORECAST',
        summary: `${lagSeries} at 8200 is forecast to reach 100000 in about 240 s`,
        evidence: [],
        forecast: {
          series: lagSeries,
          limit: 100_000,
          value: 8_200,
          expectedAt: now + 210_000,
          earliestAt: now + 120_000,
          latestAt: null,
        },
      },
      {
        ...incident,
        alertId: 'ops-ui-old',
        status: 'CLOSED',
        openedAt: now - 7_200_000,
        closedAt: now - 7_000_000,
        summary: 'ingest:up moved first',
      },
    ]);
    for (const viewport of ['desktop', 'phone'] as const) {
      const { page, errors } = await openPage(viewport);
      await signIn(page, keys.sre);
      await page.getByRole('heading', { name: 'Consumer groups' }).waitFor();
      await page.getByRole('heading', { name: /^Incident since .* moved first$/ }).waitFor();
      expect(await page.getByRole('heading', { name: 'Ops alerts (ops-watch)' }).count()).toBe(1);
      expect(await page.locator('.ops-evidence tbody tr td:first-child').allTextContents()).toEqual([
        lagSeries,
        'ingest:p99(txmon_ingest_record_to_commit_seconds)',
      ]);
      expect(await page.getByRole('heading', { name: `SLO breach forecast: ${lagSeries}` }).count()).toBe(1);
      expect(await page.getByText('Recently closed (1)').count()).toBe(1);
      // The live lag chart and the forecast's.
      expect(await expectChartsDrawn(page)).toBe(2);
      // Each dependency's readiness, as /readyz/detail reports it.
      await page.getByRole('heading', { name: /^Readiness: / }).waitFor();
      const deps = await page.locator('.readiness tbody tr td:first-child').allTextContents();
      expect(deps).toEqual(expect.arrayContaining(['mysql', 'redis', 'kafka']));
      expect(await page.getByRole('link', { name: 'Alerts' }).count()).toBe(0);
      expect(await page.getByRole('button', { name: /Resolve|Acknowledge/ }).count()).toBe(0);
      await shoot(page, 'pipeline');
      // Asking for the queue by its address shows the role's home page, not alerts.
      await page.goto('/#/alerts');
      expect(await page.locator('[role=listbox]').count()).toBe(0);
      expect(errors).toEqual([]);
      await page.context().close();
    }
    const { page } = await openPage('phone');
    await shoot(page, 'sign-in');
    await signIn(page, keys.analyst);
    await expect.poll(async () => page.locator('[role=option]').count()).toBeGreaterThan(0);
    await shoot(page, 'alerts');
    await page.locator('[role=option]').first().click();
    await page.getByRole('heading', { name: 'Rule hits' }).waitFor();
    await shoot(page, 'alert-detail');
    await page.context().close();
  });

  it('an admin promotes the shadow model, confirmed, with a reason; other roles see models without any action', async () => {
    const model = await trainModel(
      pool,
      ns.cfg.state.windows,
      { trees: 20, sampleSize: 128, seed: 7, alertRate: 0.01 },
      () => {},
    );
    await registerModel(pool, model, 'test');
    await shadow(pool, model.version, 'test');

    const sre = await openPage('phone');
    await signIn(sre.page, keys.sre);
    await sre.page.getByRole('link', { name: 'Models' }).click();
    await sre.page.getByRole('cell', { name: model.version }).waitFor();
    expect(await sre.page.getByRole('button', { name: /Promote|Shadow|Roll back/ }).count()).toBe(0);
    // Every role reads a model's card.
    await sre.page.getByRole('row').filter({ hasText: model.version }).getByRole('button', { name: 'Card' }).click();
    await sre.page.getByRole('heading', { name: `Model card of ${model.version}` }).waitFor();
    await sre.page.getByRole('heading', { name: 'Known limits' }).waitFor();
    // The active model's drift per hour of event time, drawn (its decisions: the later ingest's).
    await sre.page.getByRole('heading', { name: 'Drift over time' }).waitFor();
    await sre.page.locator('canvas[role=img]').first().waitFor();
    expect(await sre.page.locator('canvas[role=img]').first().getAttribute('aria-label')).toMatch(
      /^Drift of if-.* per hour of event time: score PSI /,
    );
    expect(await expectChartsDrawn(sre.page)).toBe(1);
    await shoot(sre.page, 'models');
    await sre.page.context().close();

    const { page, errors } = await openPage();
    await signIn(page, keys.admin);
    await page.getByRole('link', { name: 'Models' }).click();
    const row = page.getByRole('row').filter({ hasText: model.version });
    await row.getByRole('cell', { name: 'shadow', exact: true }).waitFor();
    await row.getByRole('button', { name: 'Promote…' }).click();
    await page.getByRole('heading', { name: `Promote ${model.version}?` }).waitFor();
    await shoot(page, 'models-confirm');
    await page.getByLabel('Reason').fill('shadow scores agree with the analysts');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => page.locator('.done').textContent(), { timeout: 60_000 })
      .toMatch(new RegExp(`^${model.version} is active`));
    const [[stored]] = await pool.query<RowDataPacket[]>('SELECT state FROM models WHERE version = ?', [model.version]);
    expect(String(stored?.state)).toBe('active');
    const [[audit]] = await pool.query<RowDataPacket[]>(
      "SELECT actor, detail FROM audit_log WHERE action = 'model.promote' ORDER BY id DESC LIMIT 1",
    );
    expect(String(audit?.actor)).toMatch(/^ui-admin \(key [0-9a-f]{12}\)$/);
    expect(JSON.stringify(audit?.detail)).toContain('shadow scores agree with the analysts');
    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('finance ops reconcile: the summary, an exception resolved with a note and its revision, the CSV export', async () => {
    const [[open]] = await pool.query<RowDataPacket[]>(
      "SELECT reference, revision FROM recon_results WHERE status NOT IN ('PENDING', 'MATCHED') AND resolution IS NULL ORDER BY reference LIMIT 1",
    );
    expect(open).toBeDefined();
    const reference = String(open?.reference);
    const { page, errors } = await openPage();
    await signIn(page, keys.analyst);
    await page.getByRole('link', { name: 'Reconciliation' }).click();
    await page.getByRole('heading', { name: /^Summary/ }).waitFor();
    await page.locator('.summary tbody tr').first().waitFor();
    expect(await expectChartsDrawn(page)).toBeGreaterThanOrEqual(1);
    await shoot(page, 'reconciliation');

    // The CSV of every open exception the filters select, amounts exact.
    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: 'Export CSV' }).click(),
    ]);
    const csv = readFileSync(String(await download.path()), 'utf8');
    const [[openCount]] = await pool.query<RowDataPacket[]>(
      "SELECT COUNT(*) AS n FROM recon_results WHERE status NOT IN ('PENDING', 'MATCHED') AND resolution IS NULL",
    );
    expect(csv.trimEnd().split('\r\n')).toHaveLength(Number(openCount?.n) + 1);
    expect(csv).toContain(`\r\n${reference},`);

    const item = page.locator('.exception').filter({ hasText: reference });
    await item.getByLabel(`Note for ${reference}`).fill('fee deducted by the acquirer');
    await item.getByRole('button', { name: 'Resolve', exact: true }).click();
    await expect.poll(() => page.locator('.done').textContent()).toMatch(new RegExp(`^${reference}: RESOLVED \\(`));
    const [[after]] = await pool.query<RowDataPacket[]>('SELECT resolution, resolved_by FROM recon_results WHERE reference = ?', [
      reference,
    ]);
    expect(String(after?.resolution)).toBe('RESOLVED');
    expect(String(after?.resolved_by)).toMatch(/^ui-analyst \(key [0-9a-f]{12}\)$/);
    expect(errors).toEqual([]);
    await page.context().close();

    // An SRE reads it without the write controls.
    const sre = await openPage('phone');
    await signIn(sre.page, keys.sre);
    await sre.page.getByRole('link', { name: 'Reconciliation' }).click();
    await sre.page.locator('.summary tbody tr').first().waitFor();
    expect(await sre.page.getByRole('button', { name: /^(Resolve|Accept)$/ }).count()).toBe(0);
    await shoot(sre.page, 'reconciliation');
    await sre.page.context().close();
  });

  it('detection changes: an admin runs a published rule set in shadow and reads its report; an analyst sees no action', async () => {
    const text = readFileSync(ns.cfg.detection.rulesFile, 'utf8');
    const { version } = await publishRuleSet(pool, text, FeatureSpace.available(ns.cfg.state.windows), {
      actor: 'test',
      reason: 'console test',
      source: 'test',
    });
    const { page, errors } = await openPage();
    await signIn(page, keys.admin);
    await page.getByRole('link', { name: 'Detection changes' }).click();
    const row = page.locator('table.rule-sets').getByRole('row').filter({ hasText: version });
    await row.getByRole('button', { name: 'Shadow…' }).click();
    await page.getByLabel('Reason').fill('compare before promoting');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect
      .poll(() => page.locator('.done').textContent())
      .toMatch(new RegExp(`Run rule set ${version.replace(/[.@]/g, '\\$&')} in shadow: done`));
    const [[state]] = await pool.query<RowDataPacket[]>('SELECT state FROM rule_sets WHERE version = ?', [version]);
    expect(String(state?.state)).toBe('shadow');
    await row.getByRole('button', { name: 'Shadow report' }).click();
    await page.getByRole('heading', { name: `Shadow report of ${version}` }).waitFor();
    // A backtest of it over the stored decisions: the transition table, and as many decisions as MySQL holds.
    await row.getByRole('button', { name: 'Backtest' }).click();
    await page.getByRole('heading', { name: `Backtest of ${version}` }).waitFor();
    const [[decided]] = await pool.query<RowDataPacket[]>('SELECT COUNT(*) AS n FROM transactions WHERE decision IS NOT NULL');
    expect(await page.locator('#bt-h + p').textContent()).toMatch(
      new RegExp(`^${Number(decided?.n).toLocaleString('en')} stored decisions from `),
    );
    await page.getByRole('table', { name: "Stored decision (rows) against the candidate's (columns)" }).waitFor();
    await shoot(page, 'detection');

    // A staged rollout of it to a fifth of the accounts, then rolled back, each step confirmed with
    // a reason: the rollout's audit trail names the admin and the reasons.
    await page.getByLabel('Share of accounts for a new rollout (0–1)').fill('0.2');
    await row.getByRole('button', { name: 'Roll out…' }).click();
    await page.getByLabel('Reason').fill('a fifth first');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('.done').textContent()).toMatch(/out to 20\.0 % of accounts: done/);
    await page.getByRole('button', { name: 'Roll back…' }).click();
    await page.getByLabel('Reason').fill('seen enough');
    await page.getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => page.locator('.done').textContent()).toBe('Roll the running rollout back: done.');
    const [[rollout]] = await pool.query<RowDataPacket[]>('SELECT id, state FROM rollouts ORDER BY id DESC LIMIT 1');
    expect(String(rollout?.state)).toBe('rolled_back');
    expect(errors).toEqual([]);
    await page.context().close();

    const analyst = await openPage('phone');
    await signIn(analyst.page, keys.analyst);
    await analyst.page.getByRole('link', { name: 'Detection changes' }).click();
    await analyst.page.locator('table.rule-sets').getByRole('row').filter({ hasText: version }).waitFor();
    expect(await analyst.page.getByRole('button', { name: /Promote|Shadow…|Roll out|Grow|Complete|Roll back/ }).count()).toBe(0);
    // Every role reads the trail: who started the rollout and rolled it back, and why.
    await analyst.page.getByText(new RegExp(`^Audit trail of rollout ${String(rollout?.id)} \\(`)).click();
    const trail = await analyst.page.locator('.trail[open] li').allTextContents();
    expect(trail).toHaveLength(2);
    expect(trail[0]).toMatch(/ · ui-admin \(key [0-9a-f]{12}\) · started at 20 % · “a fifth first”$/);
    expect(trail[1]).toMatch(/ · ui-admin \(key [0-9a-f]{12}\) · rolled back · “seen enough”$/);
    await shoot(analyst.page, 'detection');
    await analyst.page.context().close();
  });

  it('a session ends at its expiry: the page returns to the sign-in page by itself, saying so', async () => {
    // Its own API with 4-second sessions (the setting's floor is a minute; startApi takes the value).
    const short = await startApi({ ...ns.cfg, api: { ...ns.cfg.api, keyCacheMs: 0, sessionTtlMs: 4_000 } }, testLogger, {
      host: '127.0.0.1',
      port: 0,
    });
    try {
      const context = await browser.newContext({ viewport: VIEWPORTS.desktop, baseURL: short.url });
      const page = await context.newPage();
      await page.goto('/');
      await signIn(page, keys.sre);
      const cookie = (await context.cookies()).find((c) => c.name === 'txmon_session');
      expect(cookie?.value).toMatch(/^txs_/);
      await page.getByRole('heading', { name: 'Consumer groups' }).waitFor();
      await page.getByLabel('API key').waitFor({ timeout: 10_000 });
      expect(await page.getByRole('status').textContent()).toBe('Your session expired: sign in again.');
      // And the API agrees: the session's token, sent again by hand, is refused now.
      const res = await fetch(`${short.url}/api/v1/pipeline`, { headers: { cookie: `txmon_session=${cookie?.value}` } });
      expect(res.status).toBe(401);
      await context.close();
    } finally {
      await short.close();
    }
  });

  it('a revoked key’s session ends: the next request returns to the sign-in page, saying why', async () => {
    const doomed = await createApiKey(pool, 'ui-doomed', 'analyst', 'test');
    const { page } = await openPage();
    await signIn(page, doomed.key);
    await expect.poll(async () => page.locator('[role=option]').count()).toBeGreaterThan(0);
    expect(await revokeApiKey(pool, doomed.keyId, 'test')).toBe(true);
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByLabel('API key').waitFor();
    await expect.poll(() => page.getByRole('status').textContent()).toMatch(/signed out: the session has ended/);
    await page.context().close();
  });
});
