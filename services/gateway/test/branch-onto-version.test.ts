import { beforeAll, describe, expect, it } from 'vitest';
import {
  errorEnvelopeSchema,
  newId,
  replayEvents,
  type EventView,
  type RunView,
} from '@stepwise/shared';
import { startTestStack } from '../../../test/support/stack.js';
import type { RunsClient } from '../../../test/support/runs.js';

/**
 * Branching onto a version (versions.md, last section): `POST /runs/{id}/branches` with a
 * `workflow_version_id` forks onto that version of the run's template, if the fork position
 * exists in it; without one the branch keeps the version in force at its fork point.
 */
const { newClient } = await startTestStack('branch_onto_version');

let client: RunsClient;
let stranger: RunsClient;
beforeAll(async () => {
  client = await newClient('branch_owner');
  stranger = await newClient('branch_stranger');
});

/** Pick an idea, caption it, then a final value and an approval; versions differ as asked. */
function story(
  id: string,
  change: { captionPrompt?: string; finalValue?: string; dropCaption?: boolean } = {},
) {
  const pick = {
    step_id: 'pick',
    modules: [
      {
        module_id: 'user.select',
        name: 'idea',
        inputs: { prompt: 'Idea?', options: ['cat', 'dog', 'owl'] },
        outputs_to_state: { selected: 'idea' },
      },
    ],
  };
  const caption = {
    step_id: 'caption',
    modules: [
      {
        module_id: 'user.text_input',
        name: 'text',
        inputs: { prompt: change.captionPrompt ?? 'Caption for {{ state.idea }}' },
        outputs_to_state: { value: 'caption' },
      },
    ],
  };
  const finish = {
    step_id: 'finish',
    modules: [
      {
        module_id: 'transform.set',
        name: 'final',
        inputs: { value: change.finalValue ?? 'v1 final' },
        outputs_to_state: { value: 'final' },
      },
      {
        module_id: 'user.confirm',
        name: 'approve',
        inputs: { message: 'Publish?' },
        outputs_to_state: { confirmed: 'approved' },
      },
    ],
  };
  return { workflow_id: id, steps: change.dropCaption ? [pick, finish] : [pick, caption, finish] };
}

/** A run of `v1` taken to its end: idea `cat`, caption `First caption`, approved. */
async function finishedRun(v1: string): Promise<RunView> {
  const { run } = await client.start({ workflow_version_id: v1 });
  let current = await client.answerPending(run, { selected_indices: [0] });
  current = await client.answerPending(current, { value: 'First caption' });
  current = await client.answerPending(current, { confirmed: true });
  expect(current.status).toBe('completed');
  return current;
}

async function branchFrom(runId: string, body: Record<string, unknown>, as = client) {
  const response = await as.request(`/v1/runs/${runId}/branches`, { method: 'POST', json: body });
  return {
    status: response.status,
    body: (await response.json()) as {
      branch: { branch_id: string; status: string } | null;
      run: RunView;
    },
  };
}

async function branchIds(runId: string): Promise<string[]> {
  const response = await client.request(`/v1/runs/${runId}/branches`);
  expect(response.status).toBe(200);
  const { items } = (await response.json()) as { items: { branch_id: string }[] };
  return items.map((branch) => branch.branch_id);
}

function askedAt(events: EventView[], stepId: string): EventView {
  const asked = events.find(
    (e) => e.event_type === 'interaction_requested' && e.step_id === stepId,
  );
  if (!asked) throw new Error(`no question asked in step ${stepId}`);
  return asked;
}

/** The active branch's state is the fold of its visible events, as a replay gives it. */
async function expectStateIsReplay(runId: string, events: EventView[]) {
  const replayed = replayEvents(
    (await client.get(runId)).active_branch_id,
    events.map((e) => ({ ...e, event_type: e.event_type as never })),
  );
  expect((await client.state(runId)).state).toEqual(replayed.state);
}

describe('branch onto a version', () => {
  let v1: string;
  let withoutCaption: string;
  let newest: string;
  beforeAll(async () => {
    v1 = await client.submitJson(story('tale'));
    withoutCaption = await client.submitJson(story('tale', { dropCaption: true }));
    newest = await client.submitJson(
      story('tale', { captionPrompt: 'Write a caption about {{ state.idea }}', finalValue: 'v3' }),
    );
  });

  it('forks onto the newest version at a past question: asks its new text and goes on with it', async () => {
    const done = await finishedRun(v1);
    const rootEvents = await client.events(done.workflow_run_id);
    const captionAsked = askedAt(rootEvents, 'caption');

    const { status, body } = await branchFrom(done.workflow_run_id, {
      from_event_id: captionAsked.event_id,
      workflow_version_id: newest,
    });
    expect(status).toBe(201);
    const branchId = body.branch?.branch_id ?? '';
    expect(body.branch).toMatchObject({ status: 'active' });
    expect(body.run).toMatchObject({
      active_branch_id: branchId,
      current_version_id: newest,
      initial_version_id: v1,
      status: 'awaiting_input',
      current_step: 'caption',
      current_module: 'text',
    });
    // The caption module ran again under the new version: a new question with the new text.
    expect(body.run.pending_interaction?.interaction_id).not.toBe(
      captionAsked.data['interaction_id'],
    );
    expect(body.run.pending_interaction?.request).toMatchObject({
      prompt: 'Write a caption about cat',
    });

    let current = await client.answerPending(body.run, { value: 'Second caption' });
    expect(current).toMatchObject({ current_step: 'finish', current_module: 'approve' });
    current = await client.answerPending(current, { confirmed: true });
    expect(current).toMatchObject({ status: 'completed', current_version_id: newest });
    expect((await client.state(done.workflow_run_id)).state).toEqual({
      idea: 'cat',
      caption: 'Second caption',
      final: 'v3',
      approved: true,
    });

    const events = await client.events(done.workflow_run_id);
    const own = events.filter((e) => e.branch_id === branchId);
    expect(own[0]).toMatchObject({
      event_type: 'branch_created',
      data: { branch_point_event_id: captionAsked.event_id, workflow_version_id: newest },
    });
    // Every event of the branch is the new version's; nothing before the fork ran again.
    expect(new Set(own.map((e) => e.workflow_version_id))).toEqual(new Set([newest]));
    expect(own.filter((e) => e.event_type === 'module_started').map((e) => e.step_id)).toEqual([
      'caption',
      'finish',
      'finish',
    ]);
    expect(events.filter((e) => e.branch_id !== branchId)).toEqual(
      rootEvents.filter((e) => e.seq <= captionAsked.seq),
    );
    await expectStateIsReplay(done.workflow_run_id, events);

    // The branch it forked from is as it was: its events, its version, its state.
    const rootBranch = rootEvents[0]?.branch_id ?? '';
    expect(await client.events(done.workflow_run_id, `branch_id=${rootBranch}`)).toEqual(
      rootEvents,
    );
    expect(
      (await client.state(done.workflow_run_id, `?branch_id=${rootBranch}`)).state,
    ).toMatchObject({ caption: 'First caption', final: 'v1 final' });
  });

  it('refuses a version without the fork position with the reason, changing nothing', async () => {
    const done = await finishedRun(v1);
    const events = await client.events(done.workflow_run_id);
    const before = await client.get(done.workflow_run_id);
    const branchesBefore = await branchIds(done.workflow_run_id);

    const refused = await branchFrom(done.workflow_run_id, {
      from_event_id: askedAt(events, 'caption').event_id,
      workflow_version_id: withoutCaption,
    });
    expect(refused.status).toBe(409);
    const { error } = errorEnvelopeSchema.parse(refused.body);
    expect(error.code).toBe('POSITION_NOT_IN_VERSION');
    expect(error.message).toContain('caption.text');
    expect(error.details).toEqual({ position: { step_id: 'caption', module_name: 'text' } });

    const after = await client.get(done.workflow_run_id);
    expect(after.last_seq).toBe(before.last_seq);
    expect(after).toMatchObject({
      status: 'completed',
      active_branch_id: before.active_branch_id,
      current_version_id: v1,
    });
    expect(await branchIds(done.workflow_run_id)).toEqual(branchesBefore);
    expect(await client.events(done.workflow_run_id)).toEqual(events);

    // From a position that version has, the same version is taken: the caption step is gone.
    const { status, body } = await branchFrom(done.workflow_run_id, {
      from_event_id: askedAt(events, 'pick').event_id,
      workflow_version_id: withoutCaption,
    });
    expect(status).toBe(201);
    expect(body.run).toMatchObject({ current_version_id: withoutCaption, current_step: 'pick' });
    const current = await client.answerPending(body.run, { selected_indices: [1] });
    expect(current).toMatchObject({ current_step: 'finish', current_module: 'approve' });
  });

  it("answers 409 for another template's version and 404 for another user's or an unknown one", async () => {
    const done = await finishedRun(v1);
    const events = await client.events(done.workflow_run_id);
    const fromEventId = askedAt(events, 'caption').event_id;
    const otherTemplate = await client.submitJson(story('other_tale'));
    const strangersVersion = await stranger.submitJson(story('tale'));

    const wrongTemplate = await branchFrom(done.workflow_run_id, {
      from_event_id: fromEventId,
      workflow_version_id: otherTemplate,
    });
    expect(wrongTemplate.status).toBe(409);
    const conflict = errorEnvelopeSchema.parse(wrongTemplate.body).error;
    expect(conflict.code).toBe('CONFLICT');
    expect(conflict.details).toEqual([
      expect.objectContaining({ path: 'body.workflow_version_id' }),
    ]);

    for (const unknown of [strangersVersion, newId('version')]) {
      const missing = await branchFrom(done.workflow_run_id, {
        from_event_id: fromEventId,
        workflow_version_id: unknown,
      });
      expect(missing.status).toBe(404);
      expect(errorEnvelopeSchema.parse(missing.body).error.code).toBe('NOT_FOUND');
    }
    // The stranger cannot branch the owner's run, with their own version or any other.
    const strangers = await branchFrom(
      done.workflow_run_id,
      { from_event_id: fromEventId, workflow_version_id: strangersVersion },
      stranger,
    );
    expect(strangers.status).toBe(404);

    expect(await client.events(done.workflow_run_id)).toEqual(events);
    expect(await branchIds(done.workflow_run_id)).toHaveLength(1);
  });

  it('without a version, the branch keeps the one in force at its fork point', async () => {
    const done = await finishedRun(v1);
    const rootEvents = await client.events(done.workflow_run_id);
    const captionAsked = askedAt(rootEvents, 'caption');

    const { status, body } = await branchFrom(done.workflow_run_id, {
      from_event_id: captionAsked.event_id,
    });
    expect(status).toBe(201);
    expect(body.run).toMatchObject({
      current_version_id: v1,
      status: 'awaiting_input',
      current_step: 'caption',
    });
    // The same question again, its old text, nothing re-run.
    expect(body.run.pending_interaction?.interaction_id).toBe(captionAsked.data['interaction_id']);
    expect(body.run.pending_interaction?.request).toMatchObject({ prompt: 'Caption for cat' });
    const current = await client.answerPending(body.run, { value: 'Again' });
    expect(current).toMatchObject({ current_version_id: v1, current_module: 'approve' });

    const events = await client.events(done.workflow_run_id);
    const own = events.filter((e) => e.branch_id === body.branch?.branch_id);
    expect(own[0]?.event_type).toBe('branch_created');
    expect(own[0]?.data).not.toHaveProperty('workflow_version_id');
    expect(new Set(own.map((e) => e.workflow_version_id))).toEqual(new Set([v1]));
    expect((await client.state(done.workflow_run_id)).state).toMatchObject({ final: 'v1 final' });
    await expectStateIsReplay(done.workflow_run_id, events);

    // Naming the version already in force at the fork point is the same as naming none.
    const same = await branchFrom(done.workflow_run_id, {
      from_event_id: captionAsked.event_id,
      workflow_version_id: v1,
    });
    expect(same.status).toBe(201);
    expect(same.body.run).toMatchObject({ current_version_id: v1, current_step: 'caption' });
    expect(same.body.run.pending_interaction?.interaction_id).toBe(
      captionAsked.data['interaction_id'],
    );
  });
});
