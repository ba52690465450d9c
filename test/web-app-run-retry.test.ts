import { describe, expect, it } from 'vitest';
import type { EventView } from '@stepwise/shared';
import { expectAccessible } from './support/browser.js';
import { openRunPageWorld } from './support/run-page.js';

/**
 * Retrying on the run page (issue 19; people.md, "Run"), in Debian's Chromium: a person retries a
 * module with feedback and sees the feedback beside the new output and at the next question, and
 * retries an earlier step reusing the answers to the questions that come out the same. Axe finds
 * no serious or critical violation. Screenshots go to test-artifacts/web-app-run-retry. Needs the
 * built app (WEB_APP_DIR, or apps/web/dist).
 */

const { runs, page, shoot, startRun, runUrl, timeline, seeInTimeline } =
  await openRunPageWorld('web-app-run-retry');

describe('retrying on the run page', () => {
  it('retries a module with feedback, shown beside its new output and at the next question', async () => {
    const run = await startRun({
      workflow_id: 'draft_review',
      steps: [
        {
          step_id: 'draft',
          modules: [
            {
              module_id: 'transform.template',
              name: 'write_draft',
              inputs: {
                template:
                  'A draft about cats{% if run.feedback %} (revised: {{ run.feedback }}){% endif %}',
              },
              outputs_to_state: { text: 'draft' },
            },
          ],
        },
        {
          step_id: 'review',
          modules: [
            {
              module_id: 'user.confirm',
              name: 'approve_draft',
              inputs: { message: 'Approve this draft: {{ state.draft }}' },
              outputs_to_state: { confirmed: 'approved' },
            },
          ],
        },
      ],
    });
    const runId = run.workflow_run_id;
    expect(run.status).toBe('awaiting_input');

    await page.goto(runUrl(runId));
    await seeInTimeline(/draft\.write_draft produced outputs text/);
    const retryButton = page.getByRole('button', { name: 'Retry draft.write_draft…' });
    // Cancel closes the form and gives focus back to the button that opened it.
    await retryButton.click();
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await expect.poll(() => page.locator(':focus').textContent()).toBe('Retry draft.write_draft…');
    await retryButton.click();
    const feedback = page.getByLabel('Feedback for draft.write_draft (optional)');
    await feedback.fill('Make it shorter');
    await expectAccessible(page, 'the retry form');
    await shoot(page, '05-retry-form');
    await page.getByRole('button', { name: 'Retry draft.write_draft now' }).click();

    await seeInTimeline(/You \(ada\)\s+asked to retry draft\.write_draft with feedback/);
    // Beside the module's new output, and at the question asked after it.
    const newOutput = timeline()
      .getByRole('listitem')
      .filter({ hasText: /draft\.write_draft produced outputs text/ })
      .last();
    await expect
      .poll(() => newOutput.getByText('Made after a retry with feedback').isVisible(), {
        timeout: 15_000,
      })
      .toBe(true);
    expect(await newOutput.getByText('Make it shorter').isVisible()).toBe(true);
    const question = timeline()
      .getByRole('listitem')
      .filter({ hasText: /review\.approve_draft asked/ })
      .last();
    await expect
      .poll(() => question.getByText(/Retried draft\.write_draft with feedback/).isVisible(), {
        timeout: 15_000,
      })
      .toBe(true);
    expect((await runs.state(runId)).state['draft']).toBe(
      'A draft about cats (revised: Make it shorter)',
    );
    await expectAccessible(page, 'a retried module');
    await shoot(page, '06-retried');

    // The answer page of that question says so too.
    await page.getByRole('link', { name: 'Answer the question' }).first().click();
    const note = page.getByText(/Retried draft\.write_draft with feedback/);
    await expect.poll(() => note.isVisible(), { timeout: 15_000 }).toBe(true);
    expect(await note.textContent()).toContain('Make it shorter');
    await expectAccessible(page, 'a question after a retry');
    await shoot(page, '07-answer-after-retry');
    await page.getByRole('button', { name: 'Approve' }).click();
    await expect
      .poll(async () => (await runs.get(runId)).status, { timeout: 15_000 })
      .toBe('completed');
  }, 90_000);

  it('retries an earlier step without asking again the questions that come out the same', async () => {
    const run = await startRun({
      workflow_id: 'reuse_on_retry',
      steps: [
        {
          step_id: 'topic',
          modules: [
            {
              module_id: 'transform.set',
              name: 'pick_topic',
              inputs: { value: 'cats' },
              outputs_to_state: { value: 'topic' },
            },
          ],
        },
        {
          step_id: 'ask',
          modules: [
            {
              module_id: 'user.text_input',
              name: 'name_poem',
              inputs: { prompt: 'What is the poem about {{ state.topic }} called?' },
              outputs_to_state: { value: 'title' },
            },
            { module_id: 'user.confirm', name: 'rhyme', inputs: { message: 'Should it rhyme?' } },
          ],
        },
        {
          step_id: 'publish',
          modules: [
            { module_id: 'user.confirm', name: 'go_live', inputs: { message: 'Publish it?' } },
          ],
        },
      ],
    });
    const runId = run.workflow_run_id;
    const asked = await runs.answerPending(run, { value: 'Morning' });
    const waiting = await runs.answerPending(asked, { confirmed: true });
    expect(waiting.pending_interaction?.module_name).toBe('go_live');

    await page.goto(runUrl(runId));
    await seeInTimeline(/publish\.go_live asked “Publish it\?”/);
    await page.getByRole('button', { name: 'Retry topic.pick_topic…' }).click();
    const reuse = page.getByLabel('Don’t ask again questions that come out the same');
    // Off unless the person turns it on.
    expect(await reuse.isChecked()).toBe(false);
    await reuse.check();
    await expectAccessible(page, 'the retry form with reuse of answers');
    await shoot(page, '13-retry-reusing-answers');
    await page.getByRole('button', { name: 'Retry topic.pick_topic now' }).click();

    // Back where it stood: the unchanged questions were answered as before, the last one waits.
    await seeInTimeline(/answered “Morning” as before \(reused\)/);
    await seeInTimeline(/approved “Should it rhyme\?” as before \(reused\)/);
    const now = await runs.get(runId);
    expect(now.status).toBe('awaiting_input');
    expect(now.pending_interaction?.module_name).toBe('go_live');
    const events = await runs.events(runId);
    expect(
      events.find((event: EventView) => event.event_type === 'retry_requested')?.data[
        'reuse_answers'
      ],
    ).toBe(true);
    const answers = events.filter(
      (event: EventView) => event.event_type === 'interaction_responded',
    );
    expect(answers.map((answer) => answer.data['reused_from'] ?? null)).toEqual([
      null,
      null,
      answers[0]?.event_id,
      answers[1]?.event_id,
    ]);

    // The reused answer links to the one it repeats.
    const reusedTitle = timeline()
      .getByRole('listitem')
      .filter({ hasText: /answered “Morning” as before/ })
      // The step's group holds it too: the entry is the innermost, last in document order.
      .last();
    await reusedTitle.getByRole('link', { name: /the earlier answer \(event \d+\)/ }).click();
    await expect
      .poll(() => page.locator(':focus').getAttribute('id'))
      .toBe(`event-${answers[0]?.event_id ?? ''}`);
    await expectAccessible(page, 'a timeline with reused answers');
    await shoot(page, '14-reused-answers');
  }, 90_000);
});
