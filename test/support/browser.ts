import { existsSync, mkdirSync } from 'node:fs';
import { AxeBuilder } from '@axe-core/playwright';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { expect } from 'vitest';
import type { TestGateway } from './gateway.js';

/**
 * Debian's Chromium driven by playwright-core (no browser download), for the web app's end-to-end
 * tests: one launch per test file, a context signed in with a person's session cookie, axe checks
 * and screenshots under test-artifacts/<folder>.
 */
export const webAppDir =
  process.env['WEB_APP_DIR'] ?? new URL('../../apps/web/dist', import.meta.url).pathname;
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';

export async function launchChromium(extraArgs: string[] = []): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      ...extraArgs,
    ],
  });
}

/** The built app is there to serve: without it every page would be the gateway's 404. */
export function expectWebAppBuilt(): void {
  expect(existsSync(`${webAppDir}/index.html`), `the web app is built in ${webAppDir}`).toBe(true);
}

/** A browser context holding the person's session cookie, as their browser would. */
export async function signedInContext(
  browser: Browser,
  gateway: TestGateway,
  cookie: string,
  viewport = { width: 1280, height: 900 },
): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport });
  const [name = '', value = ''] = cookie.split('=');
  await context.addCookies([{ name, value, url: gateway.url, httpOnly: true, sameSite: 'Lax' }]);
  return context;
}

/**
 * What most browser tests start from: the built app found, Chromium launched (with `extraArgs`)
 * and one page signed in as the person. Closing the browser closes the rest.
 */
export async function openSignedInPage(
  gateway: TestGateway,
  cookie: string,
  extraArgs: string[] = [],
): Promise<{ browser: Browser; page: Page }> {
  expectWebAppBuilt();
  const browser = await launchChromium(extraArgs);
  const context = await signedInContext(browser, gateway, cookie);
  return { browser, page: await context.newPage() };
}

/** No serious or critical WCAG A/AA violation on the page as it is now. */
export async function expectAccessible(page: Page, name: string): Promise<void> {
  const results = await new AxeBuilder({ page })
    .withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'])
    .analyze();
  const severe = results.violations
    .filter((violation) => violation.impact === 'serious' || violation.impact === 'critical')
    .map(
      (violation) =>
        `${violation.id}: ${violation.help} (${violation.nodes.length} nodes: ${violation.nodes
          .slice(0, 3)
          .map((node) => node.target.join(' '))
          .join(', ')})`,
    );
  expect(severe, `axe on ${name}`).toEqual([]);
}

/** Saves full-page screenshots into test-artifacts/<folder>/<name>.png. */
export function screenshotsIn(folder: string): (page: Page, name: string) => Promise<void> {
  const dir = new URL(`../../test-artifacts/${folder}/`, import.meta.url).pathname;
  mkdirSync(dir, { recursive: true });
  return async (page, name) => {
    await page.screenshot({ path: `${dir}${name}.png`, fullPage: true });
  };
}
