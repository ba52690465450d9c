import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { expectAccessible, openSignedInPage, screenshotsIn, webAppDir } from './support/browser.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import { createSignedInPerson } from './support/people.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * The Versions page (people.md, "Versions"; versions.md, "The diff shows the change itself"), in
 * Debian's Chromium. A template's v2 changes the Liquid text of a module the waiting run has
 * already passed (and a module after its question). For each of the four choices, on its own
 * fresh run, the person opens the page, chooses v2 from the list (once by uploading it on the
 * spot), reads the unified diff of the old and new text and the warning naming the step behind
 * the position (restart_at offered first), confirms, and the API shows the run where that choice
 * puts it. An upload of another template's workflow is refused (nothing stored), and an ended
 * run is offered only a new run. Axe finds no serious or critical violation. Screenshots: test-artifacts/web-app-versions.
 */

const db = await useTestDatabases('web_app_versions');
const gateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db);

const ada = await createSignedInPerson(gateway, 'ada');
const runs = new RunsClient(gateway, ada.apiKey);
const shoot = screenshotsIn('web-app-versions');

const oldPrompt = 'Write a caption about {{ state.topic }}.';
const newPrompt = 'Write a short, funny caption about {{ state.topic }}.';

/** The template: a topic set, a prompt rendered from it, a question asked with it, a summary. */
function workflow(prompt: string, summary: string) {
  return {
    workflow_id: 'caption_versions',
    steps: [
      {
        step_id: 'setup',
        modules: [
          {
            module_id: 'transform.set',
            name: 'pick_topic',
            inputs: { value: 'kittens' },
            outputs_to_state: { value: 'topic' },
          },
        ],
      },
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.template',
            name: 'render_prompt',
            inputs: { template: prompt },
            outputs_to_state: { text: 'rendered_prompt' },
          },
        ],
      },
      {
        step_id: 'review',
        modules: [
          {
            module_id: 'user.text_input',
            name: 'caption',
            inputs: { prompt: '{{ state.rendered_prompt }}' },
            outputs_to_state: { value: 'caption' },
          },
        ],
      },
      {
        step_id: 'publish',
        modules: [
          {
            module_id: 'transform.template',
            name: 'summary',
            inputs: { template: summary },
            outputs_to_state: { text: 'summary' },
          },
        ],
      },
    ],
  };
}

const v1Workflow = workflow(oldPrompt, 'Caption: {{ state.caption }}');
const v2Workflow = workflow(newPrompt, 'Published caption: {{ state.caption }}');
const v1 = await runs.submitJson(v1Workflow);
const v2 = await runs.submitJson(v2Workflow);

const oldRendered = 'Write a caption about kittens.';
const newRendered = 'Write a short, funny caption about kittens.';

let browser: Browser;
let page: Page;
beforeAll(async () => {
  ({ browser, page } = await openSignedInPage(gateway, ada.cookie));
});
afterAll(async () => {
  await browser?.close();
});

/** A fresh run of v1, waiting on its question (past the prompt that v2 changes). */
async function waitingRun(): Promise<RunView> {
  const { status, run } = await runs.start({ workflow_version_id: v1 }, '?wait_ms=20000');
  expect(status).toBe(201);
  expect(run.status).toBe('awaiting_input');
  expect(run.current_step).toBe('review');
  expect((await runs.state(run.workflow_run_id)).state['rendered_prompt']).toBe(oldRendered);
  return run;
}

async function openVersionsPage(run: RunView): Promise<void> {
  await page.goto(`${gateway.url}/app/runs/${run.workflow_run_id}/versions`);
  await page.getByRole('heading', { level: 1, name: 'Change the run’s version' }).waitFor();
  // The run as it stands: its template, version and position.
  const summary = page.locator('.run-summary');
  await expect.poll(() => summary.textContent()).toContain(v1);
  expect(await summary.textContent()).toContain('step review · module caption');
  expect(await summary.textContent()).toContain('Waiting for input');
  // The run's own version is listed, marked and not selectable.
  const current = page.getByRole('radio', { name: new RegExp(v1) });
  await current.waitFor();
  expect(await current.isDisabled()).toBe(true);
  expect(await page.locator('.version-current').textContent()).toContain(
    'The run’s current version',
  );
}

function chooseFromList(): Promise<void> {
  return page.getByRole('radio', { name: new RegExp(v2) }).check();
}

/** The diff, the warning and the choices, as the page shows them for v2. */
async function expectChangesShown(): Promise<void> {
  await page.getByRole('heading', { level: 2, name: 'What changes with version 2' }).waitFor();
  const before = page.getByRole('region', { name: 'Before the run’s position' });
  await before.waitFor();
  const diff = before.locator('pre.diff-text');
  await expect.poll(() => diff.count()).toBe(1);
  const removed = await diff.locator('del').allTextContents();
  const added = await diff.locator('ins').allTextContents();
  // The old and the new prompt line, each keeping its prefix.
  expect(removed).toEqual([`-${oldPrompt}`]);
  expect(added).toEqual([`+${newPrompt}`]);
  expect(await before.textContent()).toContain('draft / render_prompt');
  expect(await before.locator('figcaption').textContent()).toBe('inputs.template');
  // The change after the position is shown in its own group, with its text too.
  const after = page.getByRole('region', { name: 'After the position' });
  expect(await after.locator('ins').allTextContents()).toEqual([
    '+Published caption: {{ state.caption }}',
  ]);

  // The plain warning names the module behind the position and the step to restart at.
  const warning = page.getByRole('alert').filter({ hasText: 'behind the run’s position' });
  const warningText = (await warning.textContent()) ?? '';
  expect(warningText).toContain('draft.render_prompt');
  expect(warningText).toContain("Restart at step 'draft'");

  // restart_at comes first and is preselected, with the suggested step.
  const choices = page.getByRole('group', { name: 'What should happen to the run?' });
  const radios = choices.getByRole('radio');
  expect(
    await radios.evaluateAll((inputs) => inputs.map((input) => input.getAttribute('value'))),
  ).toEqual(['restart_at', 'continue_with_new', 'continue_with_original', 'start_fresh']);
  expect(await radios.first().isChecked()).toBe(true);
  expect(await choices.getByLabel('Step to go back to').inputValue()).toBe('draft');
}

/** Picks a choice, confirms, and waits for the page the app goes to (the run's question). */
async function confirm(label: string, button: string): Promise<string> {
  await page.getByRole('radio', { name: label }).check();
  await page.getByRole('button', { name: button }).click();
  await page.waitForURL(/\/app\/runs\/[^/]+\/interactions\/[^/]+$/);
  const runId = /\/app\/runs\/([^/]+)\//.exec(new URL(page.url()).pathname)?.[1] ?? '';
  expect(runId).toMatch(/^run_/);
  return runId;
}

describe('the Versions page', () => {
  it('continue_with_new: the run moves onto v2 where it stands; the earlier module is not re-run', async () => {
    const run = await waitingRun();
    await openVersionsPage(run);
    await chooseFromList();
    await expectChangesShown();
    await expectAccessible(page, 'the Versions page with a diff shown');
    await shoot(page, '01-diff-and-choices');

    const runId = await confirm(
      'Use the new version from where the run stands',
      'Continue with the new version',
    );
    expect(runId).toBe(run.workflow_run_id);
    const after = await runs.get(runId);
    expect(after.current_version_id).toBe(v2);
    expect(after.status).toBe('awaiting_input');
    expect(after.current_step).toBe('review');
    expect(after.current_module).toBe('caption');
    // The prompt v2 changed was not rendered again: the question keeps the old one.
    expect(after.pending_interaction?.request).toMatchObject({ prompt: oldRendered });
    expect((await runs.state(runId)).state['rendered_prompt']).toBe(oldRendered);
    await shoot(page, '02-after-continue-with-new');
  }, 60_000);

  it('continue_with_original: the run stays on v1 (v2 uploaded on the spot)', async () => {
    const run = await waitingRun();
    await openVersionsPage(run);
    const file = page.getByLabel('Upload a workflow file (.zip or .json)');

    // A file that is no workflow is refused, and each problem is named by its path.
    await file.setInputFiles({
      name: 'broken.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify({ workflow_id: 'caption_versions', steps: 'none' })),
    });
    const refusal = page.getByRole('alert').filter({ hasText: 'broken.json was not accepted' });
    await refusal.waitFor();
    expect(await refusal.locator('.problem-list').textContent()).toContain('steps');
    await shoot(page, '03-upload-refused');

    // A workflow of another template is refused by the gateway, and nothing is stored.
    await file.setInputFiles({
      name: 'other.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify({ ...v2Workflow, workflow_id: 'caption_other' })),
    });
    const otherRefusal = page
      .getByRole('alert')
      .filter({ hasText: 'other.json is not a version of caption_versions: nothing was stored' });
    await otherRefusal.waitFor();
    expect(await otherRefusal.textContent()).toContain(
      "that workflow is template 'caption_other', not 'caption_versions'",
    );
    expect(await otherRefusal.locator('.problem-list').textContent()).toBe(
      "workflow_id: must be 'caption_versions'",
    );
    expect((await runs.request('/v1/templates/caption_other')).status).toBe(404);

    // v2 uploaded as a file: the same content is the same version, and it is the one compared.
    await file.setInputFiles({
      name: 'caption_versions.json',
      mimeType: 'application/json',
      buffer: Buffer.from(JSON.stringify(v2Workflow, null, 2)),
    });
    await page.getByText(`caption_versions.json is version ${v2} (already stored).`).waitFor();
    expect(await page.getByRole('radio', { name: new RegExp(v2) }).isChecked()).toBe(true);
    await expectChangesShown();
    await shoot(page, '04-uploaded-v2');

    const runId = await confirm('Keep the run on its current version', 'Keep the current version');
    expect(runId).toBe(run.workflow_run_id);
    const after = await runs.get(runId);
    expect(after.current_version_id).toBe(v1);
    expect(after.status).toBe('awaiting_input');
    expect((await runs.state(runId)).state['rendered_prompt']).toBe(oldRendered);
  }, 60_000);

  it('start_fresh: a new run of v2 starts; this one stays on v1', async () => {
    const run = await waitingRun();
    await openVersionsPage(run);
    await chooseFromList();
    await expectChangesShown();

    const runId = await confirm('Start a new run of the new version', 'Start a new run');
    expect(runId).not.toBe(run.workflow_run_id);
    const fresh = await runs.get(runId);
    expect(fresh.current_version_id).toBe(v2);
    expect(fresh.initial_version_id).toBe(v2);
    expect(fresh.status).toBe('awaiting_input');
    expect((await runs.state(runId)).state['rendered_prompt']).toBe(newRendered);
    expect((await runs.get(run.workflow_run_id)).current_version_id).toBe(v1);
    await shoot(page, '05-after-start-fresh');
  }, 60_000);

  it('an ended run: only a new run of v2 is offered, preselected', async () => {
    const run = await waitingRun();
    const cancelled = await runs.request(`/v1/runs/${run.workflow_run_id}/cancel?wait_ms=5000`, {
      method: 'POST',
    });
    expect(cancelled.status).toBe(200);
    await expect
      .poll(async () => (await runs.get(run.workflow_run_id)).status, { timeout: 15_000 })
      .toBe('cancelled');

    await page.goto(`${gateway.url}/app/runs/${run.workflow_run_id}/versions`);
    await page.getByRole('heading', { level: 1, name: 'Change the run’s version' }).waitFor();
    await page.getByText('This run has ended').waitFor();
    await chooseFromList();
    await page.getByRole('heading', { level: 2, name: 'What changes with version 2' }).waitFor();
    const warning = page.getByRole('alert').filter({ hasText: 'The run has ended' });
    await warning.waitFor();
    const choices = page.getByRole('group', { name: 'What should happen to the run?' });
    const radios = choices.getByRole('radio');
    await expect
      .poll(() =>
        radios.evaluateAll((inputs) => inputs.map((input) => input.getAttribute('value'))),
      )
      .toEqual(['start_fresh']);
    expect(await radios.first().isChecked()).toBe(true);
    await expectAccessible(page, 'the Versions page of an ended run');
    await shoot(page, '06-ended-run');

    await page.getByRole('button', { name: 'Start a new run' }).click();
    await page.waitForURL(/\/app\/runs\/[^/]+\/interactions\/[^/]+$/);
    const runId = /\/app\/runs\/([^/]+)\//.exec(new URL(page.url()).pathname)?.[1] ?? '';
    expect(runId).not.toBe(run.workflow_run_id);
    expect((await runs.get(runId)).current_version_id).toBe(v2);
    expect((await runs.get(run.workflow_run_id)).status).toBe('cancelled');
  }, 60_000);

  it('restart_at: the run moves onto v2 and goes back to the step holding the change', async () => {
    const run = await waitingRun();
    await openVersionsPage(run);
    await chooseFromList();
    await expectChangesShown();

    const runId = await confirm('Use the new version and go back to a step', 'Go back to draft');
    expect(runId).toBe(run.workflow_run_id);
    const after = await runs.get(runId);
    expect(after.current_version_id).toBe(v2);
    expect(after.status).toBe('awaiting_input');
    // The changed module ran again: the question is asked anew with the new prompt.
    expect((await runs.state(runId)).state['rendered_prompt']).toBe(newRendered);
    expect(after.pending_interaction?.interaction_id).not.toBe(
      run.pending_interaction?.interaction_id,
    );
    expect(after.pending_interaction?.request).toMatchObject({ prompt: newRendered });
    // The answer page the app went to shows that question.
    await page.getByText(newRendered).first().waitFor();
    await shoot(page, '07-after-restart-at');
  }, 60_000);
});
