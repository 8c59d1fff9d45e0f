/** Headless Chromium against the console: what the console's end-to-end files share. */
import { chromium, type Browser, type Page } from 'playwright-core';

export const VIEWPORTS = { desktop: { width: 1280, height: 800 }, phone: { width: 390, height: 844 } } as const;
const CHROMIUM = process.env.TXMON_CHROMIUM || '/usr/bin/chromium';

/** Debian's Chromium (scripts/ensure-chromium.js installs it), headless, nothing fetched in the background. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** A fresh browser context (its own cookies) at a viewport, on the console at `baseURL`, with the page's errors collected. */
export async function openConsolePage(
  browser: Browser,
  baseURL: string,
  viewport: keyof typeof VIEWPORTS = 'desktop',
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: VIEWPORTS[viewport], baseURL });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (err) => errors.push(err.message));
  page.on('console', (msg) => {
    // A 4xx the page expects and shows (a 401 after sign-out, a 409 drift without an active model) is
    // logged by Chromium as a failed resource; anything else the page logs as an error is a failure.
    if (msg.type() === 'error' && !/^Failed to load resource: .* status of 4\d\d /.test(msg.text())) errors.push(msg.text());
  });
  await page.goto('/');
  return { page, errors };
}

export async function signIn(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
}
