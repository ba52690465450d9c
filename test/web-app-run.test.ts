import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { expectAccessible } from './support/browser.js';
import { openRunPageWorld } from './support/run-page.js';

/**
 * The run page (issue 19; people.md, "Run"), in Debian's Chromium: a person reads a run's
 * timeline, answers an earlier question again (a branch) and reads both branches, opens the run's
 * files (an image preview, a text, downloads), cancels a waiting run, and sees new events arrive
 * while the page is open. Retrying a module is in web-app-run-retry.test.ts. Axe finds no serious
 * or critical violation. Screenshots go to test-artifacts/web-app-run. Needs the built app
 * (WEB_APP_DIR, or apps/web/dist).
 */

const { gateway, ada, runs, page, shoot, startRun, runUrl, timeline, seeInTimeline, answersOn } =
  await openRunPageWorld('web-app-run');

/** What the test reads of an `<img>` (tests have no DOM lib). */
interface ImageElement {
  naturalWidth: number;
  complete: boolean;
}

describe('the run page', () => {
  it('answers an earlier question again, and both branches stay readable', async () => {
    const run = await startRun({
      workflow_id: 'poem',
      steps: [
        {
          step_id: 'title',
          modules: [
            {
              module_id: 'user.text_input',
              name: 'name_poem',
              inputs: { prompt: 'What is the poem called?' },
              outputs_to_state: { value: 'title' },
            },
          ],
        },
        {
          step_id: 'write',
          modules: [
            {
              module_id: 'transform.template',
              name: 'write_line',
              inputs: { template: 'A poem called {{ state.title }}' },
              outputs_to_state: { text: 'line' },
            },
          ],
        },
      ],
    });
    const runId = run.workflow_run_id;
    const done = await runs.answerPending(run, { value: 'Morning' });
    expect(done.status).toBe('completed');

    // The timeline opens at its newest page, read backwards.
    const eventRequests: string[] = [];
    let streamRequests = 0;
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname === `/v1/runs/${runId}/events`) eventRequests.push(url.search);
      if (url.pathname === `/v1/runs/${runId}/stream`) streamRequests += 1;
    });
    await page.goto(runUrl(runId));
    await seeInTimeline(/You \(ada\)\s+answered “Morning”/);
    await seeInTimeline(/write\.write_line produced outputs text/);
    expect(eventRequests.some((search) => /before_seq=\d+/.test(search))).toBe(true);
    expect(await page.getByText('Completed', { exact: true }).isVisible()).toBe(true);
    await expectAccessible(page, 'a completed run');
    await shoot(page, '01-completed-run');
    // A completed run gains no events: no stream is opened for it.
    expect(streamRequests).toBe(0);

    await timeline()
      .getByRole('button', { name: /Answer this again…/ })
      .first()
      .click();
    await page.getByRole('button', { name: 'Answer this again now' }).click();
    await expect
      .poll(() => page.getByText(/A new branch starts before that question/).isVisible(), {
        timeout: 15_000,
      })
      .toBe(true);
    const tree = page.getByRole('list', { name: 'Branch tree' });
    await expect.poll(() => tree.getByRole('link').count(), { timeout: 15_000 }).toBe(2);
    // The branch moves the run again: now the page follows it live.
    await expect.poll(() => streamRequests, { timeout: 15_000 }).toBeGreaterThan(0);
    await expectAccessible(page, 'a new branch, waiting');
    await shoot(page, '02-new-branch');

    await page.getByRole('link', { name: 'Answer the question' }).first().click();
    const field = page.getByLabel('What is the poem called?');
    await expect.poll(() => field.isVisible(), { timeout: 15_000 }).toBe(true);
    await field.fill('Evening');
    await page.getByRole('button', { name: 'Send answer' }).click();
    await expect
      .poll(async () => (await runs.get(runId)).status, { timeout: 15_000 })
      .toBe('completed');

    // The new branch (the active one) shows the new answer only.
    await page.goto(runUrl(runId));
    await seeInTimeline(/answered “Evening”/);
    expect(
      await timeline()
        .getByText(/answered “Morning”/)
        .count(),
    ).toBe(0);
    await shoot(page, '03-new-answer');

    // The old branch, chosen in the tree, shows the old answer only.
    const branches = (
      (await (await runs.request(`/v1/runs/${runId}/branches`)).json()) as {
        items: { branch_id: string; status: string; parent_branch_id: string | null }[];
      }
    ).items;
    expect(branches).toHaveLength(2);
    const active = branches.find((branch) => branch.status === 'active');
    const old = branches.find((branch) => branch.status === 'inactive');
    expect(active?.parent_branch_id).toBe(old?.branch_id);
    await page
      .getByRole('list', { name: 'Branch tree' })
      .getByRole('link', { name: old?.branch_id ?? '' })
      .click();
    await seeInTimeline(/answered “Morning”/);
    expect(
      await timeline()
        .getByText(/answered “Evening”/)
        .count(),
    ).toBe(0);
    expect(await page.getByText('An earlier branch (read only)').isVisible()).toBe(true);
    expect(
      await page
        .getByRole('list', { name: 'Branch tree' })
        .locator('[aria-current="true"]')
        .textContent(),
    ).toBe(old?.branch_id);
    await expectAccessible(page, 'an earlier branch');
    await shoot(page, '04-old-branch');

    expect(await answersOn(runId, old?.branch_id ?? '')).toEqual([{ value: 'Morning' }]);
    expect(await answersOn(runId, active?.branch_id ?? '')).toEqual([{ value: 'Evening' }]);
  }, 90_000);

  it('shows failures with their attempt, previews the run’s files, and downloads them', async () => {
    const png = await sharp({
      create: { width: 64, height: 48, channels: 3, background: { r: 30, g: 120, b: 200 } },
    })
      .png()
      .toBuffer();
    const run = await startRun({
      workflow_id: 'files',
      steps: [
        {
          step_id: 'make',
          modules: [
            {
              module_id: 'test.flaky',
              name: 'warm_up',
              inputs: { fail_times: 1 },
              retry: { max_attempts: 3, backoff_ms: 0 },
            },
            {
              module_id: 'artifact.save',
              name: 'save_picture',
              inputs: {
                name: 'picture.png',
                content: png.toString('base64'),
                encoding: 'base64',
                content_type: 'image/png',
              },
            },
            {
              module_id: 'artifact.save',
              name: 'save_notes',
              inputs: { name: 'notes.txt', content: 'Notes from the run: all went well.' },
            },
            {
              module_id: 'artifact.save',
              name: 'save_data',
              inputs: { name: 'data.json', content: { scenes: 3, mood: 'calm' } },
            },
          ],
        },
      ],
    });
    const runId = run.workflow_run_id;
    expect(run.status).toBe('completed');

    await page.goto(runUrl(runId));
    await seeInTimeline(/make\.warm_up failed \(attempt 1 of 3\): flaky failure on attempt 1/);
    await seeInTimeline(/make\.warm_up produced outputs/);

    const artifacts = page.getByRole('list', { name: 'Artifacts, newest first' });
    const picture = artifacts.getByRole('img', { name: 'picture.png' });
    await expect
      .poll(
        () =>
          picture.evaluate((element: ImageElement) =>
            element.complete ? element.naturalWidth : 0,
          ),
        { timeout: 15_000 },
      )
      .toBeGreaterThan(0);
    await expect
      .poll(() => artifacts.getByLabel('The text of notes.txt').textContent(), {
        timeout: 15_000,
      })
      .toContain('Notes from the run: all went well.');
    await expect
      .poll(() => artifacts.getByLabel('The text of data.json').textContent(), {
        timeout: 15_000,
      })
      .toContain('"mood": "calm"');
    await expectAccessible(page, 'the run’s files');
    await shoot(page, '08-artifacts');

    const links = artifacts.getByRole('link', { name: /^Download / });
    expect(await links.count()).toBe(3);
    for (const href of await links.evaluateAll((elements) =>
      elements.map((element) => element.getAttribute('href') ?? ''),
    )) {
      const response = await fetch(`${gateway.url}${href}`, { headers: { cookie: ada.cookie } });
      expect(response.status, href).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBeGreaterThan(0);
    }
  }, 90_000);

  it('cancels a waiting run after asking first', async () => {
    const run = await startRun({
      workflow_id: 'waiting',
      steps: [
        {
          step_id: 'ask',
          modules: [{ module_id: 'user.confirm', name: 'go_on', inputs: { message: 'Go on?' } }],
        },
      ],
    });
    const runId = run.workflow_run_id;
    expect(run.status).toBe('awaiting_input');

    await page.goto(runUrl(runId));
    await seeInTimeline(/ask\.go_on asked “Go on\?”/);
    // "Keep the run" closes the question and gives focus back to "Cancel run…".
    await page.getByRole('button', { name: 'Cancel run…' }).click();
    await page.getByRole('button', { name: 'Keep the run' }).click();
    await expect.poll(() => page.locator(':focus').textContent()).toBe('Cancel run…');
    await page.getByRole('button', { name: 'Cancel run…' }).click();
    const confirm = page.getByRole('button', { name: 'Yes, cancel the run' });
    await expect.poll(() => confirm.isVisible()).toBe(true);
    // Nothing is cancelled until the person confirms.
    expect((await runs.get(runId)).status).toBe('awaiting_input');
    await expectAccessible(page, 'the cancel confirmation');
    await shoot(page, '09-cancel-confirm');
    await confirm.click();

    await expect
      .poll(async () => (await runs.get(runId)).status, { timeout: 15_000 })
      .toBe('cancelled');
    await seeInTimeline(/You \(ada\)\s+cancelled the run/);
    // The event may arrive before the cancel's answer (or the run read again after it).
    await expect
      .poll(() => page.getByText('Cancelled', { exact: true }).isVisible(), { timeout: 15_000 })
      .toBe(true);
    expect(await page.getByRole('button', { name: 'Cancel run…' }).count()).toBe(0);
    await expectAccessible(page, 'a cancelled run');
    await shoot(page, '10-cancelled');
  }, 60_000);

  it('shows the notice of the page that led to it, with focus on it', async () => {
    // A run that completes at once: starting it from its template lands on the run page.
    await runs.submitJson({
      workflow_id: 'quick_notice',
      steps: [
        {
          step_id: 'only',
          modules: [
            {
              module_id: 'transform.set',
              name: 'set_value',
              inputs: { value: 'done' },
              outputs_to_state: { value: 'result' },
            },
          ],
        },
      ],
    });
    await page.goto(`${gateway.url}/app/templates/quick_notice`);
    const form = page.getByRole('region', { name: 'Start a run' });
    await form.getByLabel('Project name').fill('notices');
    await form.getByRole('button', { name: 'Start the run' }).click();
    await page.waitForURL(/\/app\/runs\/run_[0-9a-f]+$/, { timeout: 15_000 });
    await page.getByRole('heading', { level: 1, name: 'Run of quick_notice' }).waitFor();
    const notice = page.getByRole('status').getByText('Started a run of quick_notice.');
    expect(await notice.isVisible()).toBe(true);
    await expect
      .poll(() => page.locator(':focus').textContent())
      .toBe('Started a run of quick_notice.');
    await expectAccessible(page, 'a run page with the notice it was opened with');
    await shoot(page, '12-arrival-notice');
  }, 60_000);

  it('opens a long timeline at its end and shows earlier events on request', async () => {
    // 60 modules: some 125 events, more than the page's first read (the newest 100).
    const run = await startRun({
      workflow_id: 'long_log',
      steps: [
        {
          step_id: 'fill',
          modules: Array.from({ length: 60 }, (_, index) => ({
            module_id: 'transform.set',
            name: `set_${index}`,
            inputs: { value: index },
          })),
        },
      ],
    });
    expect(run.status).toBe('completed');
    const eventReads: string[] = [];
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.pathname.endsWith(`/v1/runs/${run.workflow_run_id}/events`))
        eventReads.push(url.search);
    });
    await page.goto(runUrl(run.workflow_run_id));
    await seeInTimeline('fill.set_59 produced outputs value');
    expect(await timeline().getByText('fill.set_0 produced outputs value').count()).toBe(0);
    // The page read the end of the log, not all of it.
    expect(eventReads.every((search) => search.includes('before_seq='))).toBe(true);

    await page.getByRole('button', { name: 'Show earlier events' }).click();
    await seeInTimeline('fill.set_0 produced outputs value');
    await seeInTimeline(/The run started in project/);
    // Nothing is left before the first event.
    await expect
      .poll(() => page.getByRole('button', { name: 'Show earlier events' }).count())
      .toBe(0);
    await expectAccessible(page, 'a long timeline read to its start');
  }, 60_000);

  it('shows new events live while the run moves', async () => {
    const run = await startRun({
      workflow_id: 'live',
      steps: [
        {
          step_id: 'check',
          modules: [
            { module_id: 'user.confirm', name: 'first', inputs: { message: 'First check?' } },
            { module_id: 'user.confirm', name: 'second', inputs: { message: 'Second check?' } },
          ],
        },
      ],
    });
    const runId = run.workflow_run_id;
    await page.goto(runUrl(runId));
    await seeInTimeline(/check\.first asked “First check\?”/);
    expect(
      await timeline()
        .getByText(/check\.second asked/)
        .count(),
    ).toBe(0);
    // A mark in the page: it is still there after the update, so the page was not reloaded.
    await page.evaluate(() => {
      (globalThis as unknown as Record<string, unknown>)['stillTheSamePage'] = true;
    });

    await runs.answerPending(run, { confirmed: true });
    await seeInTimeline(/You \(ada\)\s+approved “First check\?” at .* through API key/);
    await seeInTimeline(/check\.second asked “Second check\?”/);
    await expect
      .poll(() => page.getByText(/The run waits for an answer to/).textContent(), {
        timeout: 15_000,
      })
      .toContain('Second check?');
    expect(
      await page.evaluate(
        () => (globalThis as unknown as Record<string, unknown>)['stillTheSamePage'],
      ),
    ).toBe(true);
    await expectAccessible(page, 'a run that moved on');
    await shoot(page, '11-live');
  }, 60_000);
});
