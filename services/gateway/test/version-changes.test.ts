import { beforeAll, describe, expect, it } from 'vitest';
import {
  errorEnvelopeSchema,
  versionChangeViewSchema,
  type EventView,
  type RunView,
} from '@stepwise/shared';
import { startTestStack } from '../../../test/support/stack.js';
import type { RunsClient } from '../../../test/support/runs.js';
import { expectConsistentLog } from '../../../test/support/runs.js';

/**
 * The change text of versions.md over HTTP: `GET /runs/{id}/version-changes` and the details of
 * VERSION_MISMATCH say the same thing (the changed prompt itself, what continue_with_new leaves
 * behind, the step to restart at); the `restart_at` choice applies a change behind the position;
 * and a timeline can be read backwards from its end.
 */
const { newClient } = await startTestStack('version_changes');

let client: RunsClient;
let stranger: RunsClient;
beforeAll(async () => {
  client = await newClient('versions_owner');
  stranger = await newClient('versions_other');
});

/** A prompt rendered in step `draft`, then an approval in `review` where runs wait. */
function captions(id: string, promptText: string) {
  return {
    workflow_id: id,
    initial_state: { topic: 'cats' },
    steps: [
      {
        step_id: 'draft',
        modules: [
          {
            module_id: 'transform.template',
            name: 'render',
            inputs: { template: `${promptText}\nTopic: {{ state.topic }}\nLength: short` },
            outputs_to_state: { text: 'prompt' },
          },
        ],
      },
      {
        step_id: 'review',
        modules: [
          { module_id: 'user.confirm', name: 'approve', inputs: { message: '{{ state.prompt }}' } },
        ],
      },
    ],
  };
}

async function waitingRun(id: string): Promise<{ run: RunView; v1: string; v2: string }> {
  const v1 = await client.submitJson(captions(id, 'Write a caption.'));
  const v2 = await client.submitJson(captions(id, 'Write a funny caption.'));
  const { run } = await client.start({ workflow_version_id: v1 });
  expect(run).toMatchObject({ status: 'awaiting_input', current_step: 'review' });
  return { run, v1, v2 };
}

async function versionChanges(runId: string, versionId: string, as = client) {
  const response = await as.request(`/v1/runs/${runId}/version-changes?version_id=${versionId}`);
  return { status: response.status, body: (await response.json()) as unknown };
}

async function confirm(runId: string, body: Record<string, unknown>) {
  const response = await client.request(`/v1/runs/${runId}/resume/confirm`, {
    method: 'POST',
    json: body,
  });
  return { status: response.status, body: (await response.json()) as RunView };
}

describe('the change text of a version', () => {
  it('shows the changed prompt, warns that continuing leaves it behind, and suggests its step', async () => {
    const { run, v1, v2 } = await waitingRun('captions_text');
    const { status, body } = await versionChanges(run.workflow_run_id, v2);
    expect(status).toBe(200);
    const view = versionChangeViewSchema.parse(body);
    expect(view).toMatchObject({
      current_version: v1,
      submitted_version: v2,
      options: ['restart_at', 'continue_with_new', 'continue_with_original', 'start_fresh'],
      suggested_restart_at: 'draft',
      behind_position: [{ step_id: 'draft', module_name: 'render', change: 'changed' }],
    });
    expect(view.warning).toContain("Restart at step 'draft' to apply it");
    expect(view.changes.modules).toEqual([
      {
        step_id: 'draft',
        module_name: 'render',
        change: 'changed',
        fields: ['inputs'],
        relation: 'before',
        text_changes: [
          {
            field: 'inputs.template',
            diff: [
              '--- inputs.template (current version)',
              '+++ inputs.template (submitted version)',
              '@@ -1,3 +1,3 @@',
              '-Write a caption.',
              '+Write a funny caption.',
              ' Topic: {{ state.topic }}',
              ' Length: short',
              '',
            ].join('\n'),
          },
        ],
      },
    ]);

    // The same words come back when the new version is uploaded to resume.
    const mismatch = await client.request(`/v1/runs/${run.workflow_run_id}/resume`, {
      method: 'POST',
      json: captions('captions_text', 'Write a funny caption.'),
    });
    expect(mismatch.status).toBe(409);
    const envelope = errorEnvelopeSchema.parse(await mismatch.json());
    expect(envelope.error.code).toBe('VERSION_MISMATCH');
    expect(envelope.error.details).toEqual(view);
    expect(envelope.error.message).toContain("Restart at step 'draft'");
    expect((await client.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);
  });

  it('restart_at goes back to the suggested step and applies the change; continue_with_new does not', async () => {
    const restarting = await waitingRun('captions_restart');
    const restarted = await confirm(restarting.run.workflow_run_id, {
      choice: 'restart_at',
      submitted_version_id: restarting.v2,
    });
    expect(restarted.status).toBe(200);
    expect(restarted.body).toMatchObject({
      current_version_id: restarting.v2,
      status: 'awaiting_input',
      current_step: 'review',
    });
    expect((await client.state(restarting.run.workflow_run_id)).state['prompt']).toBe(
      'Write a funny caption.\nTopic: cats\nLength: short',
    );
    const events = await expectConsistentLog(client, restarting.run.workflow_run_id);
    expect(events.find((e) => e.event_type === 'version_switched')?.data).toMatchObject({
      restart_at: { step_id: 'draft', module_name: 'render' },
    });

    const continuing = await waitingRun('captions_continue');
    const continued = await confirm(continuing.run.workflow_run_id, {
      choice: 'continue_with_new',
      submitted_version_id: continuing.v2,
    });
    expect(continued.status).toBe(200);
    expect(continued.body.current_version_id).toBe(continuing.v2);
    // What the warning said: the step behind the position keeps its old output.
    expect((await client.state(continuing.run.workflow_run_id)).state['prompt']).toBe(
      'Write a caption.\nTopic: cats\nLength: short',
    );
  });

  it('a repeated restart_at (same Idempotency-Key) answers as the first did, after the run moved', async () => {
    const { run, v2 } = await waitingRun('captions_repeat');
    const send = () =>
      client.request(`/v1/runs/${run.workflow_run_id}/resume/confirm`, {
        method: 'POST',
        headers: { 'idempotency-key': 'restart-captions-repeat-1' },
        json: { choice: 'restart_at', submitted_version_id: v2 },
      });
    const first = await send();
    expect(first.status).toBe(200);
    const firstRun = (await first.json()) as RunView;
    // Now nothing lies behind the run's position: a fresh request would have no step to suggest.
    const view = versionChangeViewSchema.parse(
      (await versionChanges(run.workflow_run_id, v2)).body,
    );
    expect(view.suggested_restart_at).toBeNull();
    const repeat = await send();
    expect(repeat.status).toBe(200);
    expect(((await repeat.json()) as RunView).last_seq).toBe(firstRun.last_seq);
    const switches = (await client.events(run.workflow_run_id)).filter(
      (event) => event.event_type === 'version_switched',
    );
    expect(switches).toHaveLength(1);
  });

  it('for a finished run offers only start_fresh', async () => {
    const { run, v2 } = await waitingRun('captions_finished');
    const done = await client.answerPending(run, { confirmed: true });
    expect(done.status).toBe('completed');
    const view = versionChangeViewSchema.parse(
      (await versionChanges(run.workflow_run_id, v2)).body,
    );
    expect(view.options).toEqual(['start_fresh']);
    expect(view.warning).toContain('The run has ended');
  });

  it('restart_at with nothing behind the position asks for a step and changes nothing', async () => {
    const v1 = await client.submitJson(captions('captions_nothing', 'Same prompt.'));
    const later = captions('captions_nothing', 'Same prompt.');
    const v2 = await client.submitJson({
      ...later,
      steps: [
        ...later.steps,
        {
          step_id: 'again',
          modules: [{ module_id: 'user.confirm', name: 'sure', inputs: { message: 'Sure?' } }],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: v1 });
    const view = versionChangeViewSchema.parse(
      (await versionChanges(run.workflow_run_id, v2)).body,
    );
    expect(view.options).toEqual(['continue_with_new', 'continue_with_original', 'start_fresh']);
    expect(view.warning).toBeNull();

    const refused = await client.request(`/v1/runs/${run.workflow_run_id}/resume/confirm`, {
      method: 'POST',
      json: { choice: 'restart_at', submitted_version_id: v2 },
    });
    expect(refused.status).toBe(409);
    const envelope = errorEnvelopeSchema.parse(await refused.json());
    expect(envelope.error).toMatchObject({
      code: 'CONFLICT',
      details: [{ path: 'body.restart_at', message: 'required here' }],
    });
    expect((await client.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);

    const named = await confirm(run.workflow_run_id, {
      choice: 'restart_at',
      submitted_version_id: v2,
      restart_at: 'draft',
    });
    expect(named.status).toBe(200);
    expect(named.body).toMatchObject({ current_version_id: v2, current_step: 'review' });
  });

  it('a workflow submitted for a named template is refused, and stored nowhere, when it is another', async () => {
    await client.submitJson(captions('captions_named', 'First.'));
    const refused = await client.request('/v1/workflows?template=captions_named', {
      method: 'POST',
      json: captions('captions_stray', 'Stray.'),
    });
    expect(refused.status).toBe(409);
    const envelope = errorEnvelopeSchema.parse(await refused.json());
    expect(envelope.error).toMatchObject({
      code: 'CONFLICT',
      message: "that workflow is template 'captions_stray', not 'captions_named'",
      details: [{ path: 'workflow_id', message: "must be 'captions_named'" }],
    });
    expect((await client.request('/v1/templates/captions_stray')).status).toBe(404);
    const accepted = await client.request('/v1/workflows?template=captions_named', {
      method: 'POST',
      json: captions('captions_named', 'Second.'),
    });
    expect(accepted.status).toBe(201);
  });

  it("refuses another template's version, another user's run or version, and a malformed id", async () => {
    const { run, v2 } = await waitingRun('captions_refusals');
    const otherTemplate = await client.submitJson(captions('captions_elsewhere', 'Other.'));
    expect((await versionChanges(run.workflow_run_id, otherTemplate)).status).toBe(409);
    // Another user sees neither the run nor the version.
    expect((await versionChanges(run.workflow_run_id, v2, stranger)).status).toBe(404);
    const theirs = await stranger.submitJson(captions('captions_refusals', 'Theirs.'));
    expect((await versionChanges(run.workflow_run_id, theirs)).status).toBe(404);
    const malformed = await versionChanges(run.workflow_run_id, 'not-a-version');
    expect(malformed.status).toBe(400);
    expect(JSON.stringify(malformed.body)).toContain('version_id');
  });
});

describe('reading a timeline backwards', () => {
  async function backwards(runId: string, query: string, limit: number): Promise<EventView[]> {
    const pages: EventView[][] = [];
    let before = Number.MAX_SAFE_INTEGER;
    for (;;) {
      const response = await client.request(
        `/v1/runs/${runId}/events?before_seq=${before}&limit=${limit}${query}`,
      );
      expect(response.status).toBe(200);
      const page = (await response.json()) as {
        items: EventView[];
        next_before_seq: number | null;
        next_after_seq: number | null;
      };
      expect(page.next_after_seq).toBeNull();
      expect(page.items.length).toBeLessThanOrEqual(limit);
      pages.unshift(page.items);
      if (page.next_before_seq === null) return pages.flat();
      before = page.next_before_seq;
    }
  }

  it('pages from the end to the start, on the root branch and on a branch that sees its parent', async () => {
    const { run } = await waitingRun('captions_pages');
    let current = await client.answerPending(run, { confirmed: true });
    expect(current.status).toBe('completed');
    const all = await client.events(run.workflow_run_id);
    expect(await backwards(run.workflow_run_id, '', 3)).toEqual(all);
    expect(await backwards(run.workflow_run_id, '', 1000)).toEqual(all);
    // A page that holds the log's first event says there is nothing before it.
    const whole = await client.request(
      `/v1/runs/${run.workflow_run_id}/events?before_seq=${Number.MAX_SAFE_INTEGER}&limit=${all.length}`,
    );
    expect(((await whole.json()) as { next_before_seq: number | null }).next_before_seq).toBeNull();

    // The newest page opens at the end.
    const newest = await client.request(
      `/v1/runs/${run.workflow_run_id}/events?before_seq=${Number.MAX_SAFE_INTEGER}&limit=2`,
    );
    const page = (await newest.json()) as { items: EventView[]; next_before_seq: number };
    expect(page.items.map((e) => e.seq)).toEqual(all.slice(-2).map((e) => e.seq));
    expect(page.next_before_seq).toBe(all.at(-2)?.seq);

    // A branch from the approval question: its own events and its parent's up to the fork.
    const asked = all.find((e) => e.event_type === 'interaction_requested');
    const forked = await client.request(`/v1/runs/${run.workflow_run_id}/branches`, {
      method: 'POST',
      json: { from_event_id: asked?.event_id },
    });
    expect(forked.status).toBe(201);
    current = ((await forked.json()) as { run: RunView }).run;
    current = await client.answerPending(current, { confirmed: false });
    const branchEvents = await client.events(run.workflow_run_id);
    expect(branchEvents.some((e) => e.branch_id !== all[0]?.branch_id)).toBe(true);
    expect(await backwards(run.workflow_run_id, '', 2)).toEqual(branchEvents);
    expect(await backwards(run.workflow_run_id, `&branch_id=${all[0]?.branch_id}`, 4)).toEqual(all);
    // Bounded on both sides: the events strictly between after_seq and before_seq.
    const middle = await client.request(
      `/v1/runs/${run.workflow_run_id}/events?after_seq=2&before_seq=6&limit=100&branch_id=${all[0]?.branch_id}`,
    );
    expect(((await middle.json()) as { items: EventView[] }).items.map((e) => e.seq)).toEqual([
      3, 4, 5,
    ]);
  });
});
