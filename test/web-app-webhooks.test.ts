import type { Locator } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import type { RunView, WebhookView } from '@stepwise/shared';
import { expectAccessible, openSignedInPage, screenshotsIn, webAppDir } from './support/browser.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import { createSignedInPerson } from './support/people.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';
import {
  WEBHOOK_WAIT,
  deliveryLog,
  startWebhookReceiver,
  subscription,
  verifyWebhook,
} from './support/webhook-receiver.js';

/** Run in the page: whether the element has the focus (the tests compile without DOM types). */
interface FocusableElement {
  ownerDocument: { activeElement: unknown };
}
const isFocused = (element: FocusableElement): boolean =>
  element === element.ownerDocument.activeElement;

/**
 * Webhooks and deadlines in the web app (issue 21; people.md, "Notifications and deadlines" and
 * "Settings"), in Debian's Chromium against a real gateway, resolver and in-process runner (which
 * dispatches webhooks) and a loopback receiver: a person adds a webhook in Settings and sees its
 * secret once, a question reaches the receiver and the delivery log shows it delivered, a webhook
 * Stepwise disabled is announced on every page and enabled again from Settings, a private address
 * is refused at the URL field, and deadlines read plainly in the inbox, on the answer page and in
 * the timeline. Axe finds no serious or critical violation. Screenshots go to
 * test-artifacts/web-app-webhooks. Needs the built app (WEB_APP_DIR, or apps/web/dist).
 */

const shoot = screenshotsIn('web-app-webhooks');
const db = await useTestDatabases('web_app_webhooks');
// Loopback is a private address: the receiver is reachable only because both sides allow it.
const gateway = await startTestGateway(db, {
  settings: { webAppDir, outboundAllowedHosts: ['127.0.0.1'] },
});
// The same system behind a gateway with the default outbound rules (no host allowed), for the
// refusal of a private address; the session is in the shared database, the cookie ignores ports.
const strictGateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db, {
  allowedHosts: ['127.0.0.1'],
  publicUrl: gateway.url,
  webhooks: { retryBaseMs: 100, retryMaxMs: 1_000 },
});
const receiver = await startWebhookReceiver();

const ada = await createSignedInPerson(gateway, 'ada');
const runs = new RunsClient(gateway, ada.apiKey);
const { page } = await openSignedInPage(gateway, ada.cookie);

const WAIT = { timeout: 15_000 };
const askFlow = {
  workflow_id: 'wh_ask',
  steps: [
    {
      step_id: 'ask',
      modules: [
        { module_id: 'user.text_input', name: 'codename', inputs: { prompt: 'A codename?' } },
      ],
    },
  ],
};

/** A run of one question with a deadline (`deadline` merged into the module). */
function deadlineFlow(workflowId: string, deadline: Record<string, unknown>) {
  return {
    workflow_id: workflowId,
    steps: [
      {
        step_id: 'ask',
        modules: [
          {
            module_id: 'user.text_input',
            name: 'topic',
            inputs: { prompt: 'Which topic?' },
            outputs_to_state: { value: 'topic' },
            ...deadline,
          },
        ],
      },
    ],
  };
}

async function startRun(workflow: unknown): Promise<RunView> {
  const versionId = await runs.submitJson(workflow);
  const { status, run } = await runs.start({ workflow_version_id: versionId }, '?wait_ms=15000');
  expect(status, JSON.stringify(run)).toBe(201);
  return run;
}

async function listWebhooks(): Promise<WebhookView[]> {
  const response = await runs.request('/v1/webhooks');
  expect(response.status).toBe(200);
  return ((await response.json()) as { items: WebhookView[] }).items;
}

async function see(locator: Locator): Promise<void> {
  await expect.poll(() => locator.isVisible(), WAIT).toBe(true);
}

const webhooksSection = () => page.getByRole('region', { name: 'Webhooks' });
const card = () => webhooksSection().getByTestId('webhook-card').first();

let subscriptionId = '';
let secret = '';

describe('webhooks in Settings', () => {
  it('adds a webhook: its signing secret is shown once, and gone after a reload', async () => {
    await page.goto(`${gateway.url}/app/settings`);
    await see(page.getByRole('heading', { name: 'Webhooks', level: 2 }));
    await see(webhooksSection().getByText('You have no webhooks yet.'));

    await page.getByLabel('URL', { exact: true }).fill(`${receiver.base}/ada`);
    // A question waiting is ticked to begin with; the run endings are offered beside it.
    expect(await page.getByRole('checkbox', { name: /A question waits/ }).isChecked()).toBe(true);
    await page.getByRole('checkbox', { name: /Run completed/ }).check();
    await page.getByLabel(/Only for these templates/).fill('wh_ask, deadline_default');
    await page.getByRole('radio', { name: 'Standard' }).check();
    await page.getByLabel(/Description/).fill('Ada’s receiver');
    await page.getByRole('button', { name: 'Add webhook' }).click();

    const secretField = page.getByRole('textbox', { name: 'Signing secret' });
    await see(secretField);
    secret = await secretField.inputValue();
    expect(secret).toMatch(/^whsec_/);
    // Focus is on the secret, so that it is read out and ready to copy.
    expect(await secretField.evaluate(isFocused)).toBe(true);
    await see(card().getByRole('heading', { name: `${receiver.base}/ada` }));
    await shoot(page, '01-webhook-added-secret');

    const [stored] = await listWebhooks();
    expect(stored).toMatchObject({
      url: `${receiver.base}/ada`,
      events: ['interaction.requested', 'run.completed'],
      templates: ['wh_ask', 'deadline_default'],
      format: 'standard',
      description: 'Ada’s receiver',
      status: 'enabled',
    });
    subscriptionId = stored?.subscription_id ?? '';

    await page.reload();
    await see(card().getByRole('heading', { name: `${receiver.base}/ada` }));
    expect(await page.getByRole('textbox', { name: 'Signing secret' }).count()).toBe(0);
    expect(await page.content()).not.toContain(secret);
    await expect.poll(() => card().textContent()).toMatch(/Enabled/);
    await shoot(page, '02-webhook-listed');
  }, 45_000);

  it('sends a waiting question to the receiver, and the delivery log shows it delivered', async () => {
    const run = await startRun(askFlow);
    expect(run.status).toBe('awaiting_input');
    await vi.waitFor(() => expect(receiver.at('/ada').length).toBeGreaterThan(0), WEBHOOK_WAIT);
    const request = receiver.at('/ada')[0];
    const notification = verifyWebhook(secret, request?.rawBody ?? '', request?.headers ?? {}) as {
      type: string;
      data: { workflow_run_id: string };
    };
    expect(notification.type).toBe('interaction.requested');
    expect(notification.data.workflow_run_id).toBe(run.workflow_run_id);
    await vi.waitFor(async () => {
      const [delivery] = await deliveryLog(runs, subscriptionId);
      expect(delivery?.status).toBe('delivered');
    }, WEBHOOK_WAIT);

    await card()
      .getByRole('button', { name: /^Deliveries/ })
      .click();
    const log = card().getByRole('region', { name: /Deliveries/ });
    const row = log.getByRole('row').filter({ hasText: run.workflow_run_id });
    await see(row);
    await expect.poll(() => row.textContent(), WAIT).toMatch(/Delivered/);
    const text = (await row.textContent()) ?? '';
    expect(text).toContain('A question waits');
    expect(text).toContain('HTTP 200');
    const link = row.getByRole('link', { name: run.workflow_run_id });
    expect(await link.getAttribute('href')).toBe(`/app/runs/${run.workflow_run_id}`);
    const seq = (await deliveryLog(runs, subscriptionId))[0]?.seq;
    expect(text).toContain(String(seq));

    // The filter asks the server for one status only.
    await log.getByLabel('Show').selectOption('failed');
    await see(log.getByText('No failed deliveries.'));
    await log.getByLabel('Show').selectOption('delivered');
    await see(row);

    await expectAccessible(page, 'Settings with a webhook and its delivery log');
    await shoot(page, '03-delivery-log');
  }, 60_000);

  it('shows a disabled webhook on every page, with its reason in Settings, and enables it again', async () => {
    // Arrangement only: Stepwise disables an endpoint after 3 days of failures.
    const reason =
      'every delivery has failed for 3 days (last: HTTP 500); fix the receiver, then enable the subscription again';
    await db.models.webhookSubscriptions.updateOne(
      { subscription_id: subscriptionId },
      { $set: { status: 'disabled', disabled_reason: reason, disabled_at: new Date() } },
    );

    await page.goto(`${gateway.url}/app/inbox`);
    const notice = page.getByTestId('webhook-disabled-notice');
    await see(notice);
    expect(await notice.textContent()).toContain(`A webhook was disabled: ${reason}`);
    await expectAccessible(page, 'the inbox with the disabled-webhook notice');
    await shoot(page, '04-disabled-notice-inbox');

    await notice.getByRole('link', { name: 'See it in Settings' }).click();
    await see(page.getByRole('heading', { name: 'Settings', level: 1 }));
    await see(card().getByText('Stepwise disabled this webhook'));
    // The link leads to the Webhooks section itself, past the API keys above it.
    await expect
      .poll(() => page.getByRole('heading', { name: 'Webhooks', level: 2 }).evaluate(isFocused))
      .toBe(true);
    expect(await card().textContent()).toContain(reason);
    expect(await card().textContent()).toMatch(/Disabled/);
    await shoot(page, '05-disabled-in-settings');

    await card()
      .getByRole('button', { name: /^Enable again/ })
      .click();
    await expect
      .poll(async () => (await subscription(runs, subscriptionId)).status, WAIT)
      .toBe('enabled');
    await expect.poll(() => notice.count(), WAIT).toBe(0);
    await see(webhooksSection().getByText(/is enabled: notifications are sent to it again/));
    expect((await subscription(runs, subscriptionId)).disabled_reason).toBeNull();

    // Pausing and resuming are the owner's own switch.
    await card()
      .getByRole('button', { name: /^Pause/ })
      .click();
    await expect
      .poll(async () => (await subscription(runs, subscriptionId)).status, WAIT)
      .toBe('paused');
    await see(card().getByText('Paused', { exact: true }));
    await card()
      .getByRole('button', { name: /^Resume/ })
      .click();
    await expect
      .poll(async () => (await subscription(runs, subscriptionId)).status, WAIT)
      .toBe('enabled');
  }, 60_000);

  it('shows a private address refused next to the URL field, and stores nothing', async () => {
    await page.goto(`${strictGateway.url}/app/settings`);
    await see(page.getByRole('heading', { name: 'Webhooks', level: 2 }));
    const url = page.getByLabel('URL', { exact: true });
    await url.fill('http://10.0.0.1/x');
    await page.getByRole('button', { name: 'Add webhook' }).click();

    const messages = page.locator('#webhook-url-messages .field-error');
    await see(messages);
    expect(await messages.textContent()).toMatch(/OUTBOUND_ALLOWED_HOSTS/);
    expect(await url.getAttribute('aria-invalid')).toBe('true');
    // Focus goes to the field, whose description now carries the refusal.
    expect(await url.evaluate(isFocused)).toBe(true);
    expect(await url.getAttribute('aria-describedby')).toBe('webhook-url-messages');
    expect(await page.getByRole('textbox', { name: 'Signing secret' }).count()).toBe(0);
    await expectAccessible(page, 'Settings with a refused webhook URL');
    await shoot(page, '06-private-address-refused');
    expect((await listWebhooks()).map((item) => item.url)).toEqual([`${receiver.base}/ada`]);

    // Nothing ticked is caught before anything is sent.
    await url.fill(`${receiver.base}/other`);
    await page.getByRole('checkbox', { name: /A question waits/ }).uncheck();
    await page.getByRole('button', { name: 'Add webhook' }).click();
    await see(page.getByText('Choose at least one event.'));
    expect(await listWebhooks()).toHaveLength(1);
  }, 45_000);

  it('deletes a webhook after confirmation', async () => {
    const other = await runs.request('/v1/webhooks', {
      method: 'POST',
      json: { url: `${receiver.base}/spare`, events: ['run.failed'] },
    });
    expect(other.status).toBe(201);
    await page.goto(`${gateway.url}/app/settings`);
    const spare = webhooksSection()
      .getByTestId('webhook-card')
      .filter({ hasText: `${receiver.base}/spare` });
    await see(spare);
    await spare.getByRole('button', { name: /^Delete/ }).click();
    // The confirmation takes focus on Cancel; Escape backs out of it.
    await page.keyboard.press('Escape');
    await see(spare.getByRole('button', { name: /^Delete/ }));
    await spare.getByRole('button', { name: /^Delete/ }).click();
    await spare.getByRole('button', { name: 'Yes, delete' }).click();
    await see(webhooksSection().getByText(`The webhook to ${receiver.base}/spare was deleted.`));
    expect((await listWebhooks()).map((item) => item.url)).toEqual([`${receiver.base}/ada`]);
  }, 30_000);
});

describe('deadlines in the app', () => {
  let later: RunView | null = null;

  it('shows on the answer page when the question must be answered, and what happens then', async () => {
    later = await startRun(
      deadlineFlow('deadline_later', {
        timeout: 'PT2H',
        on_timeout: 'default',
        default_response: { value: 'anything' },
      }),
    );
    const interactionId = later.pending_interaction?.interaction_id ?? '';
    expect(later.pending_interaction?.deadline?.due_at).toBeDefined();

    await page.goto(
      `${gateway.url}/app/runs/${later.workflow_run_id}/interactions/${interactionId}`,
    );
    const note = page.getByTestId('deadline-note');
    await see(note);
    expect(await note.textContent()).toMatch(
      /^Answer by .+\. If nobody answers by then, the default answer is given\.$/,
    );
    expect(await note.locator('time').getAttribute('datetime')).toBe(
      later.pending_interaction?.deadline?.due_at,
    );
    await expectAccessible(page, 'a question with a deadline');
    await shoot(page, '07-answer-deadline');
  }, 45_000);

  it('shows the deadline in the inbox row', async () => {
    const dueAt = later?.pending_interaction?.deadline?.due_at ?? '';
    await page.goto(`${gateway.url}/app/inbox`);
    const row = page.getByRole('link').filter({ hasText: 'Which topic?' });
    await see(row);
    await shoot(page, '08-inbox-deadline');
    expect(await row.textContent()).toMatch(/answer by .+, else the default answer is given/);
    expect(await row.locator('time[datetime]').last().getAttribute('datetime')).toBe(dueAt);
    if (later) await runs.answerPending(later, { value: 'in time' });
  }, 30_000);

  it('tells in the timeline that nobody answered, the default answer given, and reminders', async () => {
    const defaulted = await startRun(
      deadlineFlow('deadline_default', {
        timeout: 1_000,
        on_timeout: 'default',
        default_response: { value: 'nobody said' },
      }),
    );
    const reminded = await startRun(
      deadlineFlow('deadline_remind', {
        timeout: 1_000,
        on_timeout: 'remind',
        remind_every: 'PT1H',
      }),
    );
    await expect
      .poll(async () => (await runs.get(defaulted.workflow_run_id)).status, WEBHOOK_WAIT)
      .toBe('completed');
    await expect
      .poll(
        async () =>
          (await runs.get(reminded.workflow_run_id)).pending_interaction?.deadline?.reminders_sent,
        WEBHOOK_WAIT,
      )
      .toBe(1);

    const timeline = page.getByTestId('timeline');
    await page.goto(`${gateway.url}/app/runs/${defaulted.workflow_run_id}`);
    await see(timeline.getByText(/Nobody answered ask\.topic by .+; the default answer was given/));
    await see(
      timeline.getByText(
        'Nobody answered in time, so the default answer was given (answered “nobody said”)',
      ),
    );
    await expectAccessible(page, 'a run answered by its deadline');
    await shoot(page, '09-timeline-timed-out');

    await page.goto(`${gateway.url}/app/runs/${reminded.workflow_run_id}`);
    await see(timeline.getByText(/Reminder 1 sent: nobody had answered ask\.topic by /));
    await page.goto(
      `${gateway.url}/app/runs/${reminded.workflow_run_id}/interactions/${reminded.pending_interaction?.interaction_id ?? ''}`,
    );
    const note = page.getByTestId('deadline-note');
    await see(note);
    expect(await note.textContent()).toMatch(
      /a reminder is sent, then every 1 hour until someone answers\. 1 reminder sent so far\.$/,
    );
    await shoot(page, '10-answer-reminded');
  }, 60_000);
});
