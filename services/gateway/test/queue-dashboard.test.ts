import { existsSync, mkdirSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { useTestDatabases } from '../../../test/support/databases.js';
import { TEST_ADMIN_TOKEN, startTestGateway } from '../../../test/support/gateway.js';

const db = await useTestDatabases('queue_dashboard');
const gateway = await startTestGateway(db);

/** Debian's Chromium (installed by .ci/run); the tests never download a browser. */
const chromiumPath = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const artifacts = new URL('../../../test-artifacts/', import.meta.url).pathname;

describe('the queue dashboard', () => {
  it('asks a browser for HTTP Basic and refuses a wrong password', async () => {
    const anonymous = await fetch(`${gateway.url}/admin/queues`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const wrong = await fetch(`${gateway.url}/admin/queues`, {
      headers: { authorization: `Basic ${Buffer.from('admin:nope').toString('base64')}` },
    });
    expect(wrong.status).toBe(401);
  });

  it('lists every queue in a real browser', async () => {
    expect(existsSync(chromiumPath), `Chromium at ${chromiumPath} (apt-get install chromium)`).toBe(
      true,
    );
    const browser = await chromium.launch({
      executablePath: chromiumPath,
      headless: true,
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
    try {
      const context = await browser.newContext({
        httpCredentials: { username: 'admin', password: TEST_ADMIN_TOKEN },
        viewport: { width: 1280, height: 800 },
      });
      const page = await context.newPage();
      const response = await page.goto(`${gateway.url}/admin/queues`);
      expect(response?.status()).toBe(200);
      for (const queue of ['resolve', 'runs', 'maintenance']) {
        await page.getByText(queue, { exact: true }).first().waitFor({ timeout: 15_000 });
      }
      mkdirSync(artifacts, { recursive: true });
      await page.screenshot({ path: `${artifacts}/queue-dashboard.png`, fullPage: true });
      expect(existsSync(`${artifacts}/queue-dashboard.png`)).toBe(true);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
