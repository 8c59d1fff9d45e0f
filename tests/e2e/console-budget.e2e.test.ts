// Issue 20's budget, measured alone: the console's first page interactive, and a queue of 5,000
// alerts scrolled end to end in headless Chromium, each frame's interval recorded in the browser
// and the renderer's main thread traced. In the last group of files, one at a time (vitest.config.ts,
// SERIAL): a frame is late when another process takes the core, so beside the other test files the
// figures would measure the suite, not the page (docs/console.md, "Limits"). Its figures go to
// .txmon/test-report/console/budget.json and the console; what it asserts is that the measurement
// covered the whole list, not how fast it was (speed is reported, not a timed test).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../dashboard-api/auth/api-keys.ts';
import { startApi, type ApiServer } from '../../dashboard-api/server.ts';
import { createPool, type Pool } from '../../platform/mysql.ts';
import { launchChromium, openConsolePage, signIn } from '../helpers/console.ts';
import { FIGURES_DIR } from '../../scripts/test-report.ts';
import { insertDecidedAlerts } from '../helpers/decided.ts';
import { createNamespace, testLogger, type TestNamespace } from '../helpers/namespace.ts';

const SHOTS = join('.txmon', 'test-report', 'console');

let ns: TestNamespace;
let pool: Pool;
let api: ApiServer;
let browser: Browser;
const keys = { analyst: '' };

/**
 * From a Chromium trace (toplevel, devtools.timeline): the renderer main thread's time per frame, ms: busy
 * (every task it ran), and of it layout and paint (one decimal).
 */
function mainThreadPerFrame(trace: Buffer, frames: number): { busy: number; layout: number; paint: number } {
  type Event = { ph: string; name: string; pid: number; tid: number; dur?: number; args?: { name?: string } };
  const events = (JSON.parse(trace.toString('utf8')) as { traceEvents: Event[] }).traceEvents;
  const main = new Set(
    events
      .filter((e) => e.ph === 'M' && e.name === 'thread_name' && e.args?.name === 'CrRendererMain')
      .map((e) => `${e.pid}:${e.tid}`),
  );
  const sum = (name: string) =>
    events.filter((e) => e.ph === 'X' && e.name === name && main.has(`${e.pid}:${e.tid}`)).reduce((t, e) => t + (e.dur ?? 0), 0);
  const perFrame = (us: number) => Math.round(us / 100 / Math.max(1, frames)) / 10;
  return { busy: perFrame(sum('ThreadControllerImpl::RunTask')), layout: perFrame(sum('Layout')), paint: perFrame(sum('Paint')) };
}

beforeAll(async () => {
  ns = await createNamespace();
  pool = createPool(ns.cfg);
  keys.analyst = (await createApiKey(pool, 'ui-analyst', 'analyst', 'test')).key;
  api = await startApi({ ...ns.cfg, api: { ...ns.cfg.api, keyCacheMs: 0 } }, testLogger, { host: '127.0.0.1', port: 0 });
  browser = await launchChromium();
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await api?.close();
  await pool?.end();
  await ns?.cleanup();
});

describe('the console budget, measured alone', () => {
  it('budget figures: the first page interactive, and a queue of 5,000 alerts scrolled end to end (frames measured in the browser)', async () => {
    // 5,000 alerts of one account, older than the pipeline's, so the filter shows only them.
    const base = Date.parse('2025-06-01T00:00:00Z');
    await insertDecidedAlerts(
      pool,
      Array.from({ length: 5_000 }, (_, i) => ({
        alertId: `b${i.toString(16).padStart(31, '0')}`,
        transactionId: `bulk-${i}`,
        accountId: 'acc-bulk',
        eventTime: new Date(base + i * 1_000),
        createdAt: new Date(base + i * 1_000),
        summary: `REVIEW: rules: seeded alert ${i}`,
      })),
    );
    const { page, errors } = await openConsolePage(browser, api.url);
    await signIn(page, keys.analyst);
    // Interactive: from the navigation to the first alert row on screen (signed in, the API local).
    const started = Date.now();
    await page.goto('/');
    await page.locator('[role=option]').first().waitFor();
    const interactiveMs = Date.now() - started;
    const nav = (await page.evaluate(
      "(() => { const n = performance.getEntriesByType('navigation')[0]; return { domContentLoadedMs: Math.round(n.domContentLoadedEventEnd), loadMs: Math.round(n.loadEventEnd) }; })()",
    )) as { domContentLoadedMs: number; loadMs: number };

    await page.getByLabel('Account').fill('acc-bulk');
    await page.getByRole('button', { name: 'Apply' }).click();
    const list = page.locator('[role=listbox]');
    // Scrolling to the end loads the next keyset page, until all 5,000 are in.
    const loadStarted = Date.now();
    await expect
      .poll(
        async () => {
          await list.evaluate((el) => el.scrollTo(0, el.scrollHeight));
          return page.locator('.status-line').textContent();
        },
        { timeout: 60_000, interval: 50 },
      )
      .toMatch(/5000 alerts shown(?! \(more)/);
    const allLoadedMs = Date.now() - loadStarted;
    expect(await page.locator('[role=option]').count()).toBeLessThan(100); // virtualised: only what is in view
    // One smooth scroll from the top to the end over 3 s, every frame's interval recorded, and
    // Chromium's trace of it: how busy the page's main thread was per frame (script, style,
    // layout, paint), the work that decides whether a frame is on time.
    // The scroll is measured once the page is idle again and the trace has started: its frames are
    // the scroll's, not the load's. The load's garbage (5,000 alerts parsed page by page), which
    // Chromium collects in the page's idle time a moment later, is collected first, as after a pause.
    const idle =
      'new Promise((r) => requestIdleCallback(() => requestAnimationFrame(() => requestAnimationFrame(r)), { timeout: 2000 }))';
    await page.evaluate(idle);
    const cdp = await page.context().newCDPSession(page);
    await cdp.send('HeapProfiler.collectGarbage');
    await cdp.detach();
    await browser.startTracing(page, { categories: ['toplevel', 'devtools.timeline'] });
    await page.evaluate(idle);
    const frames = (await list.evaluate(
      (el) =>
        new Promise<number[]>((resolve) => {
          // (The page's own function: the test's TypeScript has no DOM library.)
          const requestAnimationFrame = (globalThis as unknown as { requestAnimationFrame: (f: (now: number) => void) => number })
            .requestAnimationFrame;
          el.scrollTo(0, 0);
          // The distance read once: a user's scroll does not make the page measure itself per frame.
          const distance = el.scrollHeight - el.clientHeight;
          const gaps: number[] = [];
          const t0 = performance.now();
          let last = t0;
          const step = (now: number) => {
            gaps.push(now - last);
            last = now;
            const f = Math.min(1, (now - t0) / 3_000);
            el.scrollTo(0, f * distance);
            if (f < 1) requestAnimationFrame(step);
            else resolve(gaps.slice(1));
          };
          requestAnimationFrame(step);
        }),
    )) as number[];
    const mainThread = mainThreadPerFrame(await browser.stopTracing(), frames.length);
    const sorted = [...frames].sort((a, b) => a - b);
    const q = (p: number) => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0) * 10) / 10;
    const budget = {
      interactive_ms: interactiveMs,
      navigation: nav,
      alerts_loaded: 5_000,
      all_pages_loaded_ms: allLoadedMs,
      scroll: {
        frames: frames.length,
        frame_p50_ms: q(0.5),
        frame_p99_ms: q(0.99),
        frame_max_ms: q(1),
        // A frame that took longer than 1.5 refresh intervals at 60 Hz: at least one was dropped.
        dropped: frames.filter((g) => g > 25).length,
        // When each such frame ended, ms into the scroll: a cluster at the start is the page's
        // warm-up, scattered ones the machine (another process took the core).
        dropped_at_ms: frames.flatMap((g, i) => (g > 25 ? [Math.round(frames.slice(0, i + 1).reduce((t, x) => t + x, 0))] : [])),
        main_thread_ms_per_frame: mainThread,
      },
    };
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, 'budget.json'), `${JSON.stringify(budget, null, 2)}\n`);
    const line = `interactive in ${interactiveMs} ms; 5,000 alerts loaded in ${allLoadedMs} ms; scroll ${frames.length} frames, p50 ${budget.scroll.frame_p50_ms} ms, p99 ${budget.scroll.frame_p99_ms} ms, ${budget.scroll.dropped} over 25 ms; main thread ${mainThread.busy} ms a frame`;
    mkdirSync(FIGURES_DIR, { recursive: true });
    writeFileSync(join(FIGURES_DIR, 'console-budget.txt'), `${line}\n`);
    console.log(
      `console budget: interactive in ${interactiveMs} ms; 5,000 alerts loaded in ${allLoadedMs} ms; scroll ${frames.length} frames, p50 ${budget.scroll.frame_p50_ms} ms, p99 ${budget.scroll.frame_p99_ms} ms, ${budget.scroll.dropped} over 25 ms${budget.scroll.dropped ? ` (at ${budget.scroll.dropped_at_ms.join(', ')} ms)` : ''}; main thread ${mainThread.busy} ms a frame (layout ${mainThread.layout}, paint ${mainThread.paint}) (${join(SHOTS, 'budget.json')})`,
    );
    // What is asserted is that the measurement happened over the whole list, not how fast it was.
    expect(frames.length).toBeGreaterThan(30);
    expect(mainThread.busy).toBeGreaterThan(0); // the trace covered the scroll
    expect(await list.evaluate((el) => el.scrollTop + el.clientHeight >= el.scrollHeight - 2)).toBe(true);
    await expect.poll(async () => page.locator('#alert-b' + (0).toString(16).padStart(31, '0')).count()).toBe(1);
    expect(errors).toEqual([]);
    await page.context().close();
  });
});
