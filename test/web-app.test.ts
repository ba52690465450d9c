import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  expectAccessible,
  expectWebAppBuilt,
  launchChromium,
  screenshotsIn,
  webAppDir,
} from './support/browser.js';
import { exampleBundle } from './support/bundles.js';
import { useTestDatabases } from './support/databases.js';
import {
  TEST_ADMIN_TOKEN,
  createTestUser,
  startTestGateway,
  startTestResolver,
} from './support/gateway.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * The web app end to end (issue 17): in Debian's Chromium, a person invited by the admin sets a
 * password, sees what waits for them, answers a whole pet-clips run (each question type once),
 * sees a new question arrive without reload, and signs out; another person sees none of it. Axe
 * finds no serious or critical violation on the pages. Screenshots go to test-artifacts/web-app.
 */

const shoot = screenshotsIn('web-app');

const db = await useTestDatabases('web_app');
const gateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db);

let browser: Browser;
beforeAll(async () => {
  expectWebAppBuilt();
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

async function invitationUrl(userId: string): Promise<string> {
  const response = await gateway.request(`/v1/admin/users/${userId}/invitations`, {
    method: 'POST',
    token: TEST_ADMIN_TOKEN,
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { url: string }).url;
}

/** Opens an invitation in a fresh browser context and sets the password: signed in. */
async function acceptInBrowser(
  url: string,
  password: string,
): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  await page.goto(url);
  await page.getByLabel('Password', { exact: true }).fill(password);
  await page.getByLabel('Password again').fill(password);
  return { context, page };
}

const ada = await createTestUser(gateway, 'ada');
const bob = await createTestUser(gateway, 'bob');
const adaRuns = new RunsClient(gateway, ada.api_key);

async function startPetClipsRun(project: string, topic: string): Promise<string> {
  const { run } = await adaRuns.start({
    workflow_template_name: 'pet_clips',
    project_name: project,
    initial_state: { topic },
  });
  return run.workflow_run_id;
}

describe('serving the web app', () => {
  it('never caches the page, caches hashed assets for ever, allows no inline script', async () => {
    const page = await fetch(`${gateway.url}/app/inbox`);
    expect(page.status).toBe(200);
    expect(page.headers.get('cache-control')).toBe('no-cache');
    const csp = page.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    const html = await page.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const asset = /src="(\/app\/assets\/[^"]+\.js)"/.exec(html)?.[1] ?? '';
    const script = await fetch(`${gateway.url}${asset}`);
    expect(script.status).toBe(200);
    expect(script.headers.get('cache-control')).toMatch(/max-age=31536000.*immutable/);
    const missing = await fetch(`${gateway.url}/app/assets/nope-123.js`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { error: { code: string } }).error.code).toBe('NOT_FOUND');
  });
});

describe('the web app', () => {
  let adaPage: Page;
  let adaContext: BrowserContext;
  let firstRun = '';
  let secondRun = '';

  it('takes an invitation: the person sets a password and lands in their inbox', async () => {
    const upload = await gateway.request('/v1/workflows', {
      method: 'POST',
      token: ada.api_key,
      headers: { 'content-type': 'application/zip' },
      body: new Uint8Array(await exampleBundle()),
    });
    expect(upload.status).toBe(201);
    firstRun = await startPetClipsRun('first-clip', 'dogs');

    const opened = await acceptInBrowser(
      await invitationUrl(ada.user.user_id),
      'ada passphrase 2026',
    );
    adaContext = opened.context;
    adaPage = opened.page;
    await expectAccessible(adaPage, 'the invitation page');
    await shoot(adaPage, '01-invitation');
    await adaPage.getByRole('button', { name: 'Set password and sign in' }).click();

    await expect.poll(() => adaPage.getByRole('heading', { name: 'Inbox' }).isVisible()).toBe(true);
    const rows = adaPage.getByRole('list', { name: 'Waiting questions' }).getByRole('link');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    await expect.poll(() => adaPage.title()).toMatch(/^\(1\) Inbox/);
    await expectAccessible(adaPage, 'the inbox');
    await shoot(adaPage, '02-inbox');
  }, 60_000);

  it('answers a whole pet-clips run in the browser, each question type once', async () => {
    await adaPage
      .getByRole('list', { name: 'Waiting questions' })
      .getByRole('link')
      .first()
      .click();
    // user.select: the option cards
    await expect
      .poll(() => adaPage.getByText('Which idea should we film?').isVisible(), { timeout: 10_000 })
      .toBe(true);
    await expectAccessible(adaPage, 'a select question');
    await shoot(adaPage, '03-select');
    await adaPage.getByLabel(/dogs versus a cucumber/).check();
    // A double click sends one answer: the second click finds the button disabled or repeats
    // the same Idempotency-Key.
    await adaPage.getByRole('button', { name: 'Send choice' }).dblclick();

    // user.text_input: checked as the person types
    const caption = adaPage.getByLabel(/Caption for "dogs versus a cucumber"/);
    await expect.poll(() => caption.isVisible(), { timeout: 10_000 }).toBe(true);
    await caption.fill('W');
    await expect
      .poll(() => adaPage.getByRole('button', { name: 'Send answer' }).isDisabled())
      .toBe(true);
    await caption.fill('Who wins?');
    await expectAccessible(adaPage, 'a text question');
    await shoot(adaPage, '04-text');
    // Keyboard only from here: Enter in the field sends it.
    await caption.press('Enter');

    // user.form: labelled fields
    const mood = adaPage.getByLabel(/mood/i);
    await expect.poll(() => mood.isVisible(), { timeout: 10_000 }).toBe(true);
    await adaPage.getByLabel(/duration/i).fill('20');
    await mood.selectOption('funny');
    await expectAccessible(adaPage, 'a form question');
    await shoot(adaPage, '05-form');
    await adaPage.getByRole('button', { name: 'Send answer' }).click();

    // user.confirm: the content to approve beside the question
    const approve = adaPage.getByRole('button', { name: 'Approve' });
    await expect.poll(() => approve.isVisible(), { timeout: 10_000 }).toBe(true);
    await expect
      .poll(() =>
        adaPage
          .getByText(/A 20-second vertical clip/)
          .first()
          .isVisible(),
      )
      .toBe(true);
    await expectAccessible(adaPage, 'a confirm question with its context');
    await shoot(adaPage, '06-confirm');
    await approve.focus();
    await adaPage.keyboard.press('Enter');

    await expect
      .poll(async () => (await adaRuns.get(firstRun)).status, { timeout: 15_000 })
      .toBe('completed');
    const answered = (await adaRuns.events(firstRun)).filter(
      (event) => event.event_type === 'interaction_responded',
    );
    expect(answered.map((event) => event.module_name)).toEqual([
      'choose_idea',
      'write_caption',
      'clip_settings',
      'approve',
    ]);
    // Each answer records who gave it: ada, through her session, not a key.
    expect(answered.every((event) => event.actor?.session_id?.startsWith('ses_'))).toBe(true);
    const { state } = await adaRuns.state(firstRun);
    expect(state).toMatchObject({
      idea: 'dogs versus a cucumber',
      caption: 'Who wins?',
      settings: { duration_s: 20, mood: 'funny' },
      approved: true,
    });
    await expect.poll(() => adaPage.getByRole('heading', { name: 'Inbox' }).isVisible()).toBe(true);
    await shoot(adaPage, '07-inbox-after');
  }, 90_000);

  it('shows a new waiting run in the open inbox without a reload', async () => {
    await adaPage.goto(`${gateway.url}/app/inbox`);
    const rows = adaPage.getByRole('list', { name: 'Waiting questions' }).getByRole('link');
    await expect.poll(() => rows.count()).toBe(0);
    const navigations: string[] = [];
    adaPage.on('framenavigated', (frame) => navigations.push(frame.url()));
    secondRun = await startPetClipsRun('second-clip', 'cats');
    await expect.poll(() => rows.count(), { timeout: 10_000 }).toBe(1);
    expect(navigations).toEqual([]);
    await expect.poll(() => adaPage.title()).toMatch(/^\(1\) Inbox/);
  }, 30_000);

  it('shows another person none of it', async () => {
    const { context, page } = await acceptInBrowser(
      await invitationUrl(bob.user.user_id),
      'bob passphrase 2026',
    );
    await page.getByRole('button', { name: 'Set password and sign in' }).click();
    await expect.poll(() => page.getByRole('heading', { name: 'Inbox' }).isVisible()).toBe(true);
    await expect
      .poll(() =>
        page
          .getByText(/nothing (is )?waiting/i)
          .first()
          .isVisible(),
      )
      .toBe(true);
    expect(await page.getByRole('list', { name: 'Waiting questions' }).count()).toBe(0);
    // And his session reaches none of ada's runs through the API either.
    const status = await page.evaluate(
      async (runId) => (await fetch(`/v1/runs/${runId}`)).status,
      firstRun,
    );
    expect(status).toBe(404);
    // Nor can he answer her waiting question with his own session and CSRF token.
    const waiting = await adaRuns.get(secondRun);
    const answer = await page.evaluate(
      async ({ runId, interactionId }) => {
        const session = (await (await fetch('/v1/me/session')).json()) as { csrf_token: string };
        const response = await fetch(`/v1/runs/${runId}/interactions/${interactionId}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-csrf-token': session.csrf_token },
          body: JSON.stringify({ response: { selected_indices: [0] } }),
        });
        return response.status;
      },
      {
        runId: secondRun,
        interactionId: waiting.pending_interaction?.interaction_id ?? '',
      },
    );
    expect(answer).toBe(404);
    expect((await adaRuns.get(secondRun)).status).toBe('awaiting_input');
    await shoot(page, '08-other-person');
    await context.close();
  }, 30_000);

  it('manages API keys and the password in Settings', async () => {
    await adaPage
      .getByRole('navigation', { name: 'Main' })
      .getByRole('link', { name: 'Settings' })
      .click();
    await expect
      .poll(() => adaPage.getByRole('heading', { name: 'Settings', level: 1 }).isVisible())
      .toBe(true);
    await expectAccessible(adaPage, 'the settings page');

    await adaPage.getByRole('button', { name: 'Create API key' }).click();
    const secretField = adaPage.getByRole('textbox', { name: 'New API key' });
    await expect.poll(() => secretField.isVisible()).toBe(true);
    const secret = await secretField.inputValue();
    expect(secret).toMatch(/^sk_/);
    await shoot(adaPage, '10-settings-new-key');
    const asProgram = () =>
      fetch(`${gateway.url}/v1/me`, { headers: { authorization: `Bearer ${secret}` } });
    expect((await asProgram()).status).toBe(200);
    await adaPage.getByRole('button', { name: 'Hide the key' }).click();
    await adaPage.getByRole('button', { name: `Revoke key ${secret.slice(0, 10)}` }).click();
    await adaPage.getByRole('button', { name: 'Yes, revoke' }).click();
    await expect.poll(async () => (await asProgram()).status, { timeout: 10_000 }).toBe(401);

    await adaPage.getByLabel('Current password').fill('ada passphrase 2026');
    await adaPage.getByLabel('New password', { exact: true }).fill('ada changed passphrase');
    await adaPage.getByLabel('New password again').fill('ada changed passphrase');
    await adaPage.getByRole('button', { name: 'Change password' }).click();
    await expect
      .poll(() => adaPage.getByText(/Your password was changed/).isVisible(), { timeout: 10_000 })
      .toBe(true);
    const signIn = (password: string) =>
      gateway.request('/v1/auth/sessions', { method: 'POST', json: { login: 'ada', password } });
    expect((await signIn('ada passphrase 2026')).status).toBe(401);
    expect((await signIn('ada changed passphrase')).status).toBe(201);
    await shoot(adaPage, '11-settings-password');
  }, 45_000);

  it('signs out: the session cookie no longer works', async () => {
    const cookie = (await adaContext.cookies()).find((c) => c.name === 'stepwise_session');
    expect(cookie?.httpOnly).toBe(true);
    await adaPage.getByRole('button', { name: 'Sign out' }).click();
    await expect
      .poll(() => adaPage.getByRole('button', { name: 'Sign in' }).isVisible(), { timeout: 10_000 })
      .toBe(true);
    await expectAccessible(adaPage, 'the sign-in page');
    await shoot(adaPage, '09-signed-out');
    const replayed = await fetch(`${gateway.url}/v1/me`, {
      headers: { cookie: `stepwise_session=${cookie?.value ?? ''}` },
    });
    expect(replayed.status).toBe(401);

    // Signing in again through the form, with the password changed in Settings.
    await adaPage.getByLabel('Username or email').fill('ada@example.com');
    await adaPage.getByLabel('Password').fill('not her password');
    await adaPage.getByRole('button', { name: 'Sign in' }).click();
    await expect
      .poll(() => adaPage.getByRole('alert').first().isVisible(), { timeout: 10_000 })
      .toBe(true);
    await adaPage.getByLabel('Password').fill('ada changed passphrase');
    await adaPage.getByLabel('Password').press('Enter');
    await expect
      .poll(() => adaPage.getByRole('heading', { name: 'Inbox' }).isVisible(), { timeout: 10_000 })
      .toBe(true);
    await adaContext.close();
  }, 30_000);
});
