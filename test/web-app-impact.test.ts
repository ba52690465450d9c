import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { expectAccessible, openSignedInPage, screenshotsIn, webAppDir } from './support/browser.js';
import { useTestDatabases } from './support/databases.js';
import { startTestGateway, startTestResolver } from './support/gateway.js';
import { createSignedInPerson } from './support/people.js';
import { startTestRunner } from './support/runner.js';
import { RunsClient } from './support/runs.js';

/**
 * The impact page (versions.md, "Impact report" and "Batch migration"), in Debian's Chromium. A
 * template in three versions; version 3 changes a Liquid prompt in the second step and renames the
 * last step's question. Four runs wait at different places: on version 2 at the first question
 * (the change lies ahead: it continues as is), at the caption (the changed prompt lies behind:
 * restart at draft suggested) and at the last question (its position is missing from version 3,
 * and its question changes); one on version 1 at the first question. The person opens the page
 * from the template's version row, reads each run's verdict, filters by current version (kept in
 * the address), previews two policies (a dry run: nothing moves, checked through the API), then
 * migrates the version 2 runs and follows the migration to its end; the API shows them on version
 * 3 where the policy put them, and the version 1 run untouched. Axe finds no serious or critical
 * violation. Screenshots: test-artifacts/web-app-impact.
 */

const db = await useTestDatabases('web_app_impact');
const gateway = await startTestGateway(db, { settings: { webAppDir } });
await startTestResolver(db);
await startTestRunner(db);

const ivy = await createSignedInPerson(gateway, 'ivy');
const runs = new RunsClient(gateway, ivy.apiKey);
const shoot = screenshotsIn('web-app-impact');

const template = 'caption_impact';
const oldPrompt = 'Write a caption about {{ state.topic }}.';
const newPrompt = 'Write a short, funny caption about {{ state.topic }}.';

/** A topic asked, a prompt rendered from it, a caption asked with it, a last note asked. */
function workflow(prompt: string, lastName: string, lastPrompt: string) {
  const question = (step: string, name: string, text: string, key: string) => ({
    step_id: step,
    modules: [
      {
        module_id: 'user.text_input',
        name,
        inputs: { prompt: text },
        outputs_to_state: { value: key },
      },
    ],
  });
  return {
    workflow_id: template,
    steps: [
      question('setup', 'topic', 'Which topic?', 'topic'),
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
      question('review', 'caption', '{{ state.rendered_prompt }}', 'caption'),
      question('finish', lastName, lastPrompt, 'note'),
    ],
  };
}

// Numbered by the app from the oldest: v1 is "Version 1", v3 "Version 3".
const v1 = await runs.submitJson(workflow(oldPrompt, 'note', 'Any note to add?'));
const v2 = await runs.submitJson(workflow(oldPrompt, 'note', 'A last note?'));
const v3 = await runs.submitJson(workflow(newPrompt, 'final_note', 'A last note?'));

/** Answers the run's question and waits until it is at rest again. */
async function answer(run: RunView, value: string): Promise<RunView> {
  const interactionId = run.pending_interaction?.interaction_id ?? '';
  const response = await runs.request(
    `/v1/runs/${run.workflow_run_id}/interactions/${interactionId}?wait_ms=20000`,
    { method: 'POST', json: { response: { value } } },
  );
  const body = (await response.json()) as RunView;
  expect(response.status, JSON.stringify(body)).toBe(200);
  expect(body.status).toBe('awaiting_input');
  return body;
}

/** A run of the version, answered up to the question at `step`. */
async function waitingAt(versionId: string, step: 'setup' | 'review' | 'finish') {
  const { status, run: started } = await runs.start(
    { workflow_version_id: versionId },
    '?wait_ms=20000',
  );
  expect(status).toBe(201);
  let run = started;
  expect(run.current_step).toBe('setup');
  if (step !== 'setup') run = await answer(run, 'kittens');
  if (step === 'finish') run = await answer(run, 'Cats in hats');
  expect(run.status).toBe('awaiting_input');
  expect(run.current_step).toBe(step);
  return run;
}

// Oldest first: the report lists the newest first.
const onV1 = await waitingAt(v1, 'setup');
const atTopic = await waitingAt(v2, 'setup');
const atCaption = await waitingAt(v2, 'review');
const atLastNote = await waitingAt(v2, 'finish');

let browser: Browser;
let page: Page;
beforeAll(async () => {
  ({ browser, page } = await openSignedInPage(gateway, ivy.cookie));
});
afterAll(async () => {
  await browser?.close();
});

function runsTable(): Locator {
  return page.getByRole('table', { name: 'Unfinished runs on other versions, newest first' });
}

/** The run ids the report lists, top to bottom. */
async function listedRuns(): Promise<(string | null)[]> {
  const rows = await runsTable().locator('tbody tr').all();
  return Promise.all(rows.map((row) => row.getAttribute('data-run-id')));
}

/** A row's cells as the person reads them: status, version, position, changes, verdict, question. */
async function rowText(run: RunView): Promise<string[]> {
  const row = runsTable().locator(`tr[data-run-id="${run.workflow_run_id}"]`);
  const cells = await row.locator('td').all();
  // The verdict cell's "Why" disclosure is closed: its summary is read, not what it hides.
  return Promise.all(
    cells.map(async (cell) => ((await cell.innerText()) ?? '').replace(/\s+/g, ' ').trim()),
  );
}

async function versionsOf(list: RunView[]): Promise<string[]> {
  return Promise.all(
    list.map(async (run) => (await runs.get(run.workflow_run_id)).current_version_id),
  );
}

/** The predicted or final outcome of each run in a table of outcomes, by run id. */
async function outcomesIn(table: Locator): Promise<Record<string, string>> {
  const rows = await table.locator('tbody tr').all();
  const entries = await Promise.all(
    rows.map(async (row) => [
      (await row.getAttribute('data-run-id')) ?? '',
      ((await row.locator('td').last().innerText()) ?? '').trim(),
    ]),
  );
  return Object.fromEntries(entries) as Record<string, string>;
}

const v2Runs = [atTopic, atCaption, atLastNote];

describe('the impact page', () => {
  it('lists the runs version 3 would change, each with its verdict, from the version row', async () => {
    await page.goto(`${gateway.url}/app/templates/${template}`);
    const row = page.getByRole('row').filter({ hasText: v3 });
    await row.getByRole('link', { name: `Runs this version would change (${v3})` }).click();
    await page.waitForURL(`**/app/templates/${template}/versions/${v3}/impact`);
    await page.getByRole('heading', { level: 1, name: 'Runs version 3 would change' }).waitFor();
    await expect
      .poll(listedRuns)
      .toEqual([
        atLastNote.workflow_run_id,
        atCaption.workflow_run_id,
        atTopic.workflow_run_id,
        onV1.workflow_run_id,
      ]);

    // Status, current version, position, changes before/at/after, verdict, question changes.
    const [, topicVersion, topicPosition, , topicVerdict, topicQuestion] = await rowText(atTopic);
    expect(topicVersion).toContain('Version 2');
    expect(topicPosition).toBe('setup.topic');
    expect(topicVerdict).toBe('Continues as is');
    expect(topicQuestion).toBe('No, asked the same');

    const caption = await rowText(atCaption);
    expect(caption[0]).toBe('Waiting for input');
    expect(caption[2]).toBe('review.caption');
    expect(caption[3]).toBe('1 before · 0 at · 2 after');
    expect(caption[4]).toContain('Changes behind its position — restart at draft suggested');
    expect(caption[5]).toBe('No, asked the same');

    const lastNote = await rowText(atLastNote);
    expect(lastNote[2]).toBe('finish.note');
    expect(lastNote[4]).toContain('Position missing in this version — restart at draft suggested');
    expect(lastNote[5]).toBe('Yes, it may be asked differently');

    const [, oldVersion, , , oldVerdict] = await rowText(onV1);
    expect(oldVersion).toContain('Version 1');
    expect(oldVerdict).toBe('Continues as is');

    // Each run links to its own page.
    const link = runsTable().getByRole('link', { name: atCaption.workflow_run_id });
    expect(await link.getAttribute('href')).toBe(`/app/runs/${atCaption.workflow_run_id}`);

    await expectAccessible(page, 'the impact page');
    await shoot(page, '01-impact-report');
  }, 90_000);

  it('filters by current version and status, in the address', async () => {
    await page.getByLabel('Current version', { exact: true }).selectOption(v2);
    await page.waitForURL((url) => url.searchParams.get('current_version') === v2);
    await expect
      .poll(listedRuns)
      .toEqual([atLastNote.workflow_run_id, atCaption.workflow_run_id, atTopic.workflow_run_id]);

    await page.getByLabel('Status', { exact: true }).selectOption('error');
    await page.getByText('No unfinished run matches these filters.').waitFor();
    expect(new URL(page.url()).searchParams.get('status')).toBe('error');

    await page.getByLabel('Status', { exact: true }).selectOption('awaiting_input');
    await expect.poll(listedRuns).toHaveLength(3);
    // A reload keeps the filters.
    await page.reload();
    await expect.poll(listedRuns).toHaveLength(3);
    expect(await page.getByLabel('Current version', { exact: true }).inputValue()).toBe(v2);
    expect(await page.getByLabel('Status', { exact: true }).inputValue()).toBe('awaiting_input');
  }, 90_000);

  it('previews a policy by a dry run: predicted outcomes shown, nothing moved', async () => {
    await page.getByRole('button', { name: 'Migrate these…' }).click();
    const preview = page.getByRole('button', { name: 'Preview (dry run)' });
    // Nothing can be previewed, let alone migrated, before a policy is chosen.
    expect(
      await page.getByRole('button', { name: 'Choose a policy to preview' }).isDisabled(),
    ).toBe(true);
    expect(await page.getByRole('button', { name: /^Migrate \d+ runs?$/ }).count()).toBe(0);

    await page.getByRole('radio', { name: 'Skip the runs that are behind' }).check();
    // Skipping restarts nothing, so there are no questions to reuse answers for.
    expect(await page.getByLabel('Don’t ask again questions that come out the same').count()).toBe(
      0,
    );
    await preview.click();
    const predicted = page.getByRole('table', { name: 'What the migration would do to each run' });
    await predicted.waitFor();
    expect(await outcomesIn(predicted)).toEqual({
      [atTopic.workflow_run_id]: 'Would move and go on where it stands',
      [atCaption.workflow_run_id]:
        'Would be skipped: 1 change lies behind its position (review.caption)',
      [atLastNote.workflow_run_id]:
        'Would be skipped: the target version has no finish.note, where the run stands',
    });
    await shoot(page, '02-preview-skip-if-behind');

    // Another policy hides that preview until it is previewed in its turn.
    await page.getByRole('radio', { name: 'Restart at the earliest change' }).check();
    await page.getByText('The policy or the filters changed since the preview').waitFor();
    expect(await predicted.count()).toBe(0);
    await preview.click();
    await predicted.waitFor();
    expect(await outcomesIn(predicted)).toEqual({
      [atTopic.workflow_run_id]: 'Would move and go on where it stands',
      [atCaption.workflow_run_id]: 'Would move and restart at draft',
      [atLastNote.workflow_run_id]: 'Would move and restart at draft',
    });
    const counts = page.locator('.migration-preview .outcome-counts');
    expect(await counts.locator('[data-count="switched"] dd').innerText()).toBe('1');
    expect(await counts.locator('[data-count="restarted_at"] dd').innerText()).toBe('2');
    await expectAccessible(page, 'the impact page with a preview');
    await shoot(page, '03-preview-restart');

    // A dry run writes nothing: every run is where it was.
    expect(await versionsOf(v2Runs)).toEqual([v2, v2, v2]);
    expect((await runs.get(atCaption.workflow_run_id)).current_step).toBe('review');
    expect((await runs.get(atLastNote.workflow_run_id)).current_step).toBe('finish');
    expect(await versionsOf([onV1])).toEqual([v1]);
  }, 90_000);

  it('migrates the previewed runs and follows the migration to its end', async () => {
    // A restart may reuse earlier answers: the choice is offered with that policy, off at first.
    const reuse = page.getByLabel('Don’t ask again questions that come out the same');
    expect(await reuse.isChecked()).toBe(false);
    await reuse.check();
    await page.getByRole('button', { name: 'Migrate 3 runs' }).click();
    await page.getByRole('heading', { name: 'Migration finished' }).waitFor({ timeout: 60_000 });
    const progress = page.locator('#migration-progress-bar');
    expect(await progress.getAttribute('max')).toBe('3');
    expect(await progress.getAttribute('value')).toBe('3');
    await page.getByText('Finished: 3 of 3 runs done.').waitFor();
    const doneCounts = page.locator('.migration-progress .outcome-counts');
    expect(await doneCounts.locator('[data-count="switched"] dd').innerText()).toBe('1');
    expect(await doneCounts.locator('[data-count="restarted_at"] dd').innerText()).toBe('2');
    expect(await doneCounts.locator('[data-count="failed"] dd').innerText()).toBe('0');
    const done = page.getByRole('table', { name: 'What the migration did to each run' });
    expect(await outcomesIn(done)).toEqual({
      [atTopic.workflow_run_id]: 'Moved; goes on where it stood',
      [atCaption.workflow_run_id]: 'Moved; restarted at draft',
      [atLastNote.workflow_run_id]: 'Moved; restarted at draft',
    });

    // The runs are on version 3 where the policy put them; the version 1 run was not taken.
    expect(await versionsOf(v2Runs)).toEqual([v3, v3, v3]);
    const topic = await runs.get(atTopic.workflow_run_id);
    expect(topic.current_step).toBe('setup');
    for (const restarted of [atCaption, atLastNote]) {
      await expect
        .poll(async () => (await runs.get(restarted.workflow_run_id)).current_step, {
          timeout: 20_000,
        })
        .toBe('review');
      const state = await runs.state(restarted.workflow_run_id);
      expect(state.state['rendered_prompt']).toBe('Write a short, funny caption about kittens.');
    }
    expect(await versionsOf([onV1])).toEqual([v1]);
    // The restarts were asked to reuse answers (the changed caption question is asked all the same).
    const switched = (await runs.events(atCaption.workflow_run_id)).find(
      (event) => event.event_type === 'version_switched',
    );
    expect(switched?.data['reuse_answers']).toBe(true);

    // The report is read again: under these filters no run is left.
    await page.getByText('No unfinished run matches these filters.').waitFor();
    await expectAccessible(page, 'the impact page after a migration');
    await shoot(page, '04-migration-finished');

    // Without the filters, only the version 1 run is left to change.
    await page.getByLabel('Current version', { exact: true }).selectOption('');
    await page.getByLabel('Status', { exact: true }).selectOption('');
    await expect.poll(listedRuns).toEqual([onV1.workflow_run_id]);
    await shoot(page, '05-report-after-migration');
  }, 120_000);
});
