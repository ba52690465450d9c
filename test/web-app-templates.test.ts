import type { Browser, JSHandle, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { expectAccessible, openSignedInPage, screenshotsIn, webAppDir } from './support/browser.js';
import { zipFiles } from './support/bundles.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import { createSignedInPerson } from './support/people.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * The Templates and Runs pages (people.md, "Templates": versions with dates and content hashes,
 * submit a zip or JSON by drag and drop, start a run with its initial state), in Debian's
 * Chromium. A person drops a zip bundle on the drop zone and sees the new version listed with its
 * content hash; drops a broken one and sees each problem by the path the API names; starts a run
 * from the initial-state form and finds the values in the run's state; and on the Runs page sees
 * the run waiting for them first, and filters by status and template (kept in the address). Axe
 * finds no serious or critical violation. Screenshots: test-artifacts/web-app-templates.
 */

const db = await useTestDatabases('web_app_templates');
const gateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db);

const tess = await createSignedInPerson(gateway, 'tess');
const runs = new RunsClient(gateway, tess.apiKey);
const shoot = screenshotsIn('web-app-templates');

/** A caption workflow whose initial state has one value of each kind the form edits. */
const captionWorkflow = {
  workflow_id: 'caption_drop',
  initial_state: { topic: 'kittens', count: 3, loud: false, tags: ['cute'] },
  steps: [
    {
      step_id: 'write',
      modules: [
        {
          module_id: 'user.text_input',
          name: 'caption',
          inputs: { prompt: 'Write a caption about {{ state.topic }}' },
          outputs_to_state: { value: 'caption' },
        },
      ],
    },
  ],
};

/** A valid zip of an invalid workflow: a step without its id, a module name that is no slug. */
const brokenWorkflow = {
  workflow_id: 'caption_broken',
  steps: [
    {
      modules: [
        {
          module_id: 'user.text_input',
          name: 'Mystery Module!',
          inputs: { prompt: 'What?' },
          outputs_to_state: { value: 'mystery' },
        },
      ],
    },
  ],
};

const goodZip = await zipFiles(new Map([['workflow.json', JSON.stringify(captionWorkflow)]]));
const brokenZip = await zipFiles(new Map([['workflow.json', JSON.stringify(brokenWorkflow)]]));

interface TemplateDetailBody {
  latest_version_id: string | null;
  versions: { workflow_version_id: string; content_hash: string; created_at: string }[];
}

async function templateDetail(name: string): Promise<TemplateDetailBody> {
  const response = await runs.request(`/v1/templates/${name}`);
  expect(response.status).toBe(200);
  return (await response.json()) as TemplateDetailBody;
}

let browser: Browser;
let page: Page;
beforeAll(async () => {
  ({ browser, page } = await openSignedInPage(gateway, tess.cookie));
});
afterAll(async () => {
  await browser?.close();
});

/**
 * Drops a file on the drop zone as a person dragging it from their desktop would: a DataTransfer
 * made in the page, holding a File of these bytes, carried by dragenter, dragover and drop.
 */
async function dropFile(zone: Locator, name: string, type: string, bytes: Buffer): Promise<void> {
  const transfer: JSHandle = await page.evaluateHandle(
    ({ base64, fileName, fileType }) => {
      const binary = atob(base64);
      const data = new Uint8Array(binary.length);
      for (let index = 0; index < binary.length; index += 1) data[index] = binary.charCodeAt(index);
      // The page's own DataTransfer (the test has no DOM types; the page has the real one).
      const page = globalThis as unknown as {
        DataTransfer: new () => { items: { add(file: unknown): unknown } };
      };
      const dataTransfer = new page.DataTransfer();
      dataTransfer.items.add(new File([data], fileName, { type: fileType }));
      return dataTransfer;
    },
    { base64: bytes.toString('base64'), fileName: name, fileType: type },
  );
  for (const event of ['dragenter', 'dragover', 'drop'])
    await zone.dispatchEvent(event, { dataTransfer: transfer });
  await transfer.dispose();
}

function dropZone(): Locator {
  return page.getByRole('group', { name: 'Drop a workflow file here' });
}

/** The runs the Runs page lists, top to bottom. */
async function runIdsShown(): Promise<(string | null)[]> {
  const rows = await page.locator('.run-row').all();
  return Promise.all(rows.map((row) => row.getAttribute('data-run-id')));
}

let versionId = '';
let waitingRun: RunView | null = null;

describe('the Templates page', () => {
  it('stores a dropped zip as a new version and lists it with its date and content hash', async () => {
    await page.goto(`${gateway.url}/app/templates`);
    await page.getByRole('heading', { level: 1, name: 'Templates' }).waitFor();
    await page.getByText('You have no templates yet.').waitFor();
    await expectAccessible(page, 'the Templates page, empty');
    await shoot(page, '01-templates-empty');

    await dropFile(dropZone(), 'caption.zip', 'application/zip', goodZip);
    const outcome = page.getByRole('status').filter({ hasText: 'New version' });
    await outcome.waitFor({ timeout: 15_000 });
    const text = (await outcome.textContent()) ?? '';
    versionId = /New version (ver_[0-9a-f-]+) of caption_drop/.exec(text)?.[1] ?? '';
    expect(versionId, text).toMatch(/^ver_/);

    // The API agrees: the template's only version, whose content hash the page must show.
    const detail = await templateDetail('caption_drop');
    expect(detail.latest_version_id).toBe(versionId);
    expect(detail.versions.map((version) => version.workflow_version_id)).toEqual([versionId]);
    const hash = detail.versions[0]?.content_hash ?? '';
    expect(hash).toMatch(/^sha256:[0-9a-f]{64}$/);

    // The template is listed; the outcome links to its page.
    const list = page.getByRole('table');
    await expect.poll(() => list.textContent()).toContain('caption_drop');
    await expectAccessible(page, 'the Templates page after a submission');
    await shoot(page, '02-new-version');

    // The same bytes again are the same version: "unchanged".
    await dropFile(dropZone(), 'caption.zip', 'application/zip', goodZip);
    const unchanged = page.getByRole('status').filter({ hasText: 'Unchanged' });
    await unchanged.waitFor({ timeout: 15_000 });
    expect(await unchanged.textContent()).toContain(versionId);

    await unchanged.getByRole('link', { name: 'caption_drop' }).click();
    await page.waitForURL(`${gateway.url}/app/templates/caption_drop`);
    const row = page.getByRole('row').filter({ hasText: versionId });
    await row.waitFor();
    // The hash, short on screen and whole in its title, is the API's.
    const hashCode = row.locator('code[title]');
    expect(await hashCode.getAttribute('title')).toBe(hash);
    expect(await hashCode.textContent()).toBe(hash.slice(0, 'sha256:'.length + 12));
    expect(await row.locator('time').getAttribute('datetime')).toBe(detail.versions[0]?.created_at);
    expect(await row.textContent()).toContain('latest');
    await expectAccessible(page, 'a template with its versions');
    await shoot(page, '03-template-versions');
  }, 60_000);

  it('shows a refused workflow with each problem by the path the API names', async () => {
    // What the API says of these bytes (a refusal stores nothing, so asking first is harmless).
    const refused = await runs.request('/v1/workflows', {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: brokenZip,
    });
    expect(refused.status).toBe(422);
    const { error } = (await refused.json()) as {
      error: { code: string; message: string; details: { path: string; message: string }[] };
    };
    expect(error.code).toBe('WORKFLOW_INVALID');
    expect(error.details.length).toBeGreaterThan(0);

    await page.goto(`${gateway.url}/app/templates`);
    await page.getByRole('heading', { level: 1, name: 'Templates' }).waitFor();
    await dropFile(dropZone(), 'broken.zip', 'application/zip', brokenZip);
    const alert = page.getByRole('alert').filter({ hasText: 'broken.zip was not accepted' });
    await alert.waitFor({ timeout: 15_000 });
    expect(await alert.textContent()).toContain(`${error.details.length} problems`);
    const problems = alert.getByRole('list', { name: 'Problems in the workflow' });
    expect(await problems.locator('.problem-path').allTextContents()).toEqual(
      error.details.map((detail) => detail.path),
    );
    expect(await problems.locator('.problem-message').allTextContents()).toEqual(
      error.details.map((detail) => detail.message),
    );
    // Both faults are named: the missing step id and the module's name.
    expect(error.details.map((detail) => detail.path).sort()).toEqual([
      'steps[0].modules[0].name',
      'steps[0].step_id',
    ]);
    // Nothing was stored under the broken workflow's name.
    expect((await runs.request('/v1/templates/caption_broken')).status).toBe(404);
    await expectAccessible(page, 'a refused submission');
    await shoot(page, '04-refused');
  }, 60_000);

  it('starts a run with the initial state typed into the form', async () => {
    await page.goto(`${gateway.url}/app/templates/caption_drop`);
    const form = page.getByRole('region', { name: 'Start a run' });
    // One field per declared key, holding the workflow's value.
    const topic = form.getByLabel('topic', { exact: true });
    await topic.waitFor({ timeout: 10_000 });
    expect(await topic.inputValue()).toBe('kittens');
    expect(await form.getByLabel('count', { exact: true }).inputValue()).toBe('3');
    expect(await form.getByLabel('count', { exact: true }).getAttribute('type')).toBe('number');
    expect(await form.getByLabel('loud', { exact: true }).isChecked()).toBe(false);
    const tags = form.getByLabel('tags', { exact: true });
    expect(JSON.parse(await tags.inputValue())).toEqual(['cute']);

    // Without a project name, and with JSON that does not parse, nothing is sent.
    await topic.fill('puppies');
    await form.getByLabel('count', { exact: true }).fill('5');
    await form.getByLabel('loud', { exact: true }).check();
    await tags.fill('["cute", "small"');
    await form.getByRole('button', { name: 'Start the run' }).click();
    await form.getByText('Give the run a project name.').waitFor();
    await form.getByText('This is not valid JSON').waitFor();
    expect(await tags.getAttribute('aria-invalid')).toBe('true');
    await expectAccessible(page, 'the start form with problems');
    await shoot(page, '05-start-form-problems');

    // A key the server refuses comes back by its path, beside the form.
    await form.getByLabel('Project name').fill('spring');
    await tags.fill('["cute", "small"]');
    await form.getByRole('button', { name: 'Add a key' }).click();
    const extra = form.getByRole('group', { name: 'Extra key 1' });
    await extra.getByLabel('Key').fill('constructor');
    await extra.getByLabel('Value').fill('nope');
    const expected = await runs.request('/v1/runs', {
      method: 'POST',
      json: {
        workflow_version_id: versionId,
        project_name: 'spring',
        initial_state: JSON.parse('{"constructor": "nope"}') as Record<string, unknown>,
      },
    });
    expect(expected.status).toBe(400);
    const refusal = (await expected.json()) as {
      error: { details: { path: string; message: string }[] };
    };
    await form.getByRole('button', { name: 'Start the run' }).click();
    const problems = form.getByRole('list', { name: 'Problems with the run' });
    await problems.waitFor({ timeout: 10_000 });
    expect(await problems.locator('.problem-path').allTextContents()).toEqual(
      refusal.error.details.map((detail) => detail.path),
    );
    // …and on the field it names: the added key.
    expect(await extra.getByLabel('Key').getAttribute('aria-invalid')).toBe('true');
    expect(await extra.textContent()).toContain(refusal.error.details[0]?.message ?? 'missing');
    await expectAccessible(page, 'the start form refused by the server');
    await shoot(page, '06-start-form-refused');

    // With a good extra key it starts, and the app opens the run's first question.
    await extra.getByLabel('Key').fill('mood');
    await extra.getByLabel('Value').fill('cheerful');
    await form.getByRole('button', { name: 'Start the run' }).click();
    await page.waitForURL(/\/app\/runs\/run_[0-9a-f]+\/interactions\/int_[0-9a-f]+$/, {
      timeout: 15_000,
    });
    const runId = /\/app\/runs\/(run_[0-9a-f]+)\//.exec(page.url())?.[1] ?? '';
    const run = await runs.get(runId);
    expect(run.status).toBe('awaiting_input');
    expect(run.project_name).toBe('spring');
    expect(run.initial_version_id).toBe(versionId);
    expect(page.url()).toContain(run.pending_interaction?.interaction_id ?? 'missing');
    const { state } = await runs.state(runId);
    expect(state).toMatchObject({
      topic: 'puppies',
      count: 5,
      loud: true,
      tags: ['cute', 'small'],
      mood: 'cheerful',
    });
    waitingRun = run;
  }, 60_000);
});

describe('the Runs page', () => {
  it('lists the runs waiting first and filters by status and template, in the address', async () => {
    expect(waitingRun, 'the previous test started a waiting run').not.toBeNull();
    const waiting = waitingRun as RunView;
    // A newer run of another template that finishes by itself.
    const quickVersion = await runs.submitJson({
      workflow_id: 'quick_done',
      steps: [
        {
          step_id: 'only',
          modules: [
            {
              module_id: 'transform.set',
              name: 'set_it',
              inputs: { value: 'done' },
              outputs_to_state: { value: 'result' },
            },
          ],
        },
      ],
    });
    const { run: done } = await runs.start(
      { workflow_version_id: quickVersion, project_name: 'autumn' },
      '?wait_ms=20000',
    );
    expect(done.status).toBe('completed');

    await page.goto(`${gateway.url}/app/runs`);
    await page.getByRole('heading', { level: 1, name: 'Runs' }).waitFor();
    const waitingList = page.getByRole('list', { name: 'Runs waiting for you' });
    const allList = page.getByRole('list', { name: 'All runs, newest first' });
    await waitingList.waitFor();
    await allList.waitFor();
    // The waiting run comes first on the page, though the finished run is newer.
    const rows = page.locator('.run-row');
    expect(await rows.first().getAttribute('data-run-id')).toBe(waiting.workflow_run_id);
    expect(await runIdsShown()).toEqual([waiting.workflow_run_id, done.workflow_run_id]);
    const first = rows.first();
    expect(await first.textContent()).toContain('Waiting for input');
    expect(await first.textContent()).toContain('step write · module caption');
    expect(
      await first.getByRole('link', { name: /^Answer the question of/ }).getAttribute('href'),
    ).toBe(
      `/app/runs/${waiting.workflow_run_id}/interactions/${waiting.pending_interaction?.interaction_id ?? ''}`,
    );
    expect(await first.getByRole('link', { name: /^caption_drop run/ }).getAttribute('href')).toBe(
      `/app/runs/${waiting.workflow_run_id}`,
    );
    expect(await allList.textContent()).toContain('Completed');
    await expectAccessible(page, 'the Runs page');
    await shoot(page, '07-runs');

    // By status: the address says so, and only the finished run is listed.
    await page.getByLabel('Status').selectOption('completed');
    await page.waitForURL(`${gateway.url}/app/runs?status=completed`);
    const filteredList = page.getByRole('list', { name: 'All runs, newest first' });
    await expect.poll(() => runIdsShown()).toEqual([done.workflow_run_id]);
    expect(await filteredList.count()).toBe(1);
    expect(await page.getByRole('heading', { name: 'Waiting for you' }).count()).toBe(0);

    // By template: only the caption run, in the waiting section.
    await page.getByLabel('Status').selectOption('');
    await page.getByLabel('Template').selectOption('caption_drop');
    await page.waitForURL(`${gateway.url}/app/runs?template=caption_drop`);
    await expect.poll(() => runIdsShown()).toEqual([waiting.workflow_run_id]);
    await expectAccessible(page, 'the Runs page filtered by template');
    await shoot(page, '08-runs-by-template');

    // A link with filters opens them: nothing waits in quick_done.
    await page.goto(`${gateway.url}/app/runs?status=awaiting_input&template=quick_done`);
    await page.getByText('No runs match these filters.').waitFor();
    expect(await page.getByLabel('Status').inputValue()).toBe('awaiting_input');
    expect(await page.getByLabel('Template').inputValue()).toBe('quick_done');
    expect(await page.locator('.run-row').count()).toBe(0);
    await expectAccessible(page, 'the Runs page with nothing matching');
    await shoot(page, '09-runs-none');

    // By project, applied from the search field.
    await page.goto(`${gateway.url}/app/runs`);
    await page.getByLabel('Project').fill('autumn');
    await page.getByRole('button', { name: 'Apply' }).click();
    await page.waitForURL(`${gateway.url}/app/runs?project=autumn`);
    await expect.poll(() => runIdsShown()).toEqual([done.workflow_run_id]);
  }, 60_000);
});
