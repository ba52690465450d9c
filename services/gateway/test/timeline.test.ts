import { beforeAll, describe, expect, it } from 'vitest';
import {
  errorEnvelopeSchema,
  type EventView,
  type RunView,
  type VersionChanges,
} from '@stepwise/shared';
import { zipFiles } from '../../../test/support/bundles.js';
import { startTestStack } from '../../../test/support/stack.js';
import type { RunsClient } from '../../../test/support/runs.js';
import { expectConsistentLog } from '../../../test/support/runs.js';

const { newClient } = await startTestStack('timeline');

let client: RunsClient;
beforeAll(async () => {
  client = await newClient('timeline');
});

/** v1 of a three-step workflow: pick, caption, then a final value and an approval. */
function story(
  id: string,
  changes: { finalValue?: string; dropCaption?: boolean; extraStep?: boolean } = {},
) {
  const steps = [
    {
      step_id: 'pick',
      modules: [
        {
          module_id: 'user.select',
          name: 'idea',
          inputs: { prompt: 'Idea?', options: ['cat', 'dog', 'owl'] },
          outputs_to_state: { selected: 'idea' },
        },
      ],
    },
    {
      step_id: 'caption',
      modules: [
        {
          module_id: 'user.text_input',
          name: 'text',
          inputs: { prompt: 'Caption for {{ state.idea }}' },
          outputs_to_state: { value: 'caption' },
        },
      ],
    },
    {
      step_id: 'finish',
      modules: [
        {
          module_id: 'transform.set',
          name: 'final',
          inputs: { value: changes.finalValue ?? 'v1 final' },
          outputs_to_state: { value: 'final' },
        },
        {
          module_id: 'user.confirm',
          name: 'approve',
          inputs: { message: 'Publish {{ state.caption }}?' },
          outputs_to_state: { confirmed: 'approved' },
        },
      ],
    },
  ];
  if (changes.dropCaption) steps.splice(1, 1);
  if (changes.extraStep)
    steps.push({
      step_id: 'share',
      modules: [
        {
          module_id: 'transform.set',
          name: 'post',
          inputs: { value: 'posted' },
          outputs_to_state: { value: 'posted' },
        },
      ],
    } as never);
  return { workflow_id: id, steps };
}

async function resume(runId: string, workflow: unknown): Promise<Response> {
  return client.request(`/v1/runs/${runId}/resume`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(workflow),
  });
}

async function confirm(runId: string, body: Record<string, unknown>) {
  const response = await client.request(`/v1/runs/${runId}/resume/confirm`, {
    method: 'POST',
    json: body,
  });
  return {
    status: response.status,
    body: (await response.json()) as RunView & { error: { code: string; details: unknown } },
  };
}

/** Starts a run of `story` v1 and takes it to its second interaction (the caption). */
async function runToCaption(id: string): Promise<{ v1: string; run: RunView }> {
  const v1 = await client.submitJson(story(id));
  const { run: started } = await client.start({ workflow_version_id: v1 });
  const run = await client.answerPending(started, { selected_indices: [0] });
  expect(run.current_step).toBe('caption');
  return { v1, run };
}

function versionsBySeq(events: EventView[]) {
  return events.map((e) => [e.seq, e.event_type, e.workflow_version_id] as const);
}

describe('resume with a changed workflow', () => {
  it('continue_with_new: 409 names the later change, the switch stamps every later event with v2', async () => {
    const { v1, run } = await runToCaption('story_new');
    const mismatch = await resume(
      run.workflow_run_id,
      story('story_new', { finalValue: 'v2 final' }),
    );
    expect(mismatch.status).toBe(409);
    const envelope = errorEnvelopeSchema.parse(await mismatch.json());
    expect(envelope.error.code).toBe('VERSION_MISMATCH');
    const details = envelope.error.details as {
      current_version: string;
      submitted_version: string;
      options: string[];
      changes: VersionChanges;
    };
    expect(details.current_version).toBe(v1);
    expect(details.options).toEqual(['continue_with_new', 'continue_with_original', 'start_fresh']);
    expect(details.changes).toEqual({
      position: { step_id: 'caption', module_name: 'text' },
      position_exists: true,
      modules: [
        {
          step_id: 'finish',
          module_name: 'final',
          change: 'changed',
          fields: ['inputs'],
          relation: 'after',
          text_changes: [
            {
              field: 'inputs.value',
              diff: '--- inputs.value (current version)\n+++ inputs.value (submitted version)\n@@ -1,1 +1,1 @@\n-v1 final\n+v2 final\n',
            },
          ],
        },
      ],
      steps: [{ step_id: 'finish', change: 'changed', fields: ['modules'], relation: 'after' }],
    });
    // A change after the position: nothing is left behind, so no warning and no restart first.
    expect(details).toMatchObject({
      behind_position: [],
      suggested_restart_at: null,
      warning: null,
    });
    // Nothing about the run changed.
    expect((await client.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);

    const v2 = details.submitted_version;
    const switched = await confirm(run.workflow_run_id, {
      choice: 'continue_with_new',
      submitted_version_id: v2,
    });
    expect(switched.status).toBe(200);
    expect(switched.body).toMatchObject({
      current_version_id: v2,
      initial_version_id: v1,
      status: 'awaiting_input',
      current_step: 'caption',
    });
    let current = await client.answerPending(switched.body, { value: 'Cat nap' });
    current = await client.answerPending(current, { confirmed: true });
    expect(current.status).toBe('completed');
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({
      final: 'v2 final',
      caption: 'Cat nap',
    });

    const events = await expectConsistentLog(client, run.workflow_run_id);
    const switchEvent = events.find((e) => e.event_type === 'version_switched');
    expect(switchEvent?.data).toMatchObject({
      from_version_id: v1,
      to_version_id: v2,
      choice: 'continue_with_new',
    });
    for (const [seq, , version] of versionsBySeq(events))
      expect(version, `seq ${seq}`).toBe(seq < (switchEvent?.seq ?? 0) ? v1 : v2);

    const template = (await (await client.request('/v1/templates/story_new')).json()) as {
      version_count: number;
      versions: { workflow_version_id: string }[];
    };
    expect(template.version_count).toBe(2);
    expect(template.versions.map((v) => v.workflow_version_id).sort()).toEqual([v1, v2].sort());
  });

  it('continue_with_original finishes on v1', async () => {
    const { v1, run } = await runToCaption('story_original');
    const mismatch = await resume(
      run.workflow_run_id,
      story('story_original', { finalValue: 'v2 final' }),
    );
    const v2 = (
      errorEnvelopeSchema.parse(await mismatch.json()).error.details as {
        submitted_version: string;
      }
    ).submitted_version;
    const kept = await confirm(run.workflow_run_id, {
      choice: 'continue_with_original',
      submitted_version_id: v2,
    });
    expect(kept.status).toBe(200);
    expect(kept.body.current_version_id).toBe(v1);
    let current = await client.answerPending(kept.body, { value: 'Cat' });
    current = await client.answerPending(current, { confirmed: true });
    expect(current.status).toBe('completed');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(events.every((e) => e.workflow_version_id === v1)).toBe(true);
    expect(events.some((e) => e.event_type === 'run_resumed')).toBe(true);
    expect((await client.state(run.workflow_run_id)).state['final']).toBe('v1 final');
  });

  it('start_fresh leaves the old run untouched and starts a new run on v2', async () => {
    const { run } = await runToCaption('story_fresh');
    const mismatch = await resume(run.workflow_run_id, story('story_fresh', { extraStep: true }));
    const details = errorEnvelopeSchema.parse(await mismatch.json()).error.details as {
      submitted_version: string;
      changes: VersionChanges;
    };
    expect(details.changes.steps).toEqual([
      { step_id: 'share', change: 'added', fields: [], relation: 'after' },
    ]);
    const before = await client.events(run.workflow_run_id);
    const fresh = await confirm(run.workflow_run_id, {
      choice: 'start_fresh',
      submitted_version_id: details.submitted_version,
    });
    expect(fresh.status).toBe(201);
    expect(fresh.body.workflow_run_id).not.toBe(run.workflow_run_id);
    expect(fresh.body).toMatchObject({
      initial_version_id: details.submitted_version,
      project_name: run.project_name,
      status: 'awaiting_input',
      current_step: 'pick',
    });
    expect(await client.events(run.workflow_run_id)).toEqual(before);
    expect((await client.get(run.workflow_run_id)).status).toBe('awaiting_input');
  });

  it('a v2 without the current step needs restart_at, which must be a step of v2', async () => {
    const { run } = await runToCaption('story_dropped');
    const mismatch = await resume(
      run.workflow_run_id,
      story('story_dropped', { dropCaption: true }),
    );
    const details = errorEnvelopeSchema.parse(await mismatch.json()).error.details as {
      submitted_version: string;
      changes: VersionChanges;
    };
    expect(details.changes.position_exists).toBe(false);
    expect(details.changes.steps).toContainEqual({
      step_id: 'caption',
      change: 'removed',
      fields: [],
      relation: 'at',
    });
    expect(details.changes.modules).toContainEqual({
      step_id: 'caption',
      module_name: 'text',
      change: 'removed',
      fields: [],
      relation: 'at',
      text_changes: expect.arrayContaining([
        expect.objectContaining({
          field: 'module_id',
          diff: expect.stringContaining('-user.text_input'),
        }),
      ]),
    });

    const refused = await confirm(run.workflow_run_id, {
      choice: 'continue_with_new',
      submitted_version_id: details.submitted_version,
    });
    expect(refused.status).toBe(409);
    expect(refused.body.error.code).toBe('POSITION_NOT_IN_VERSION');
    const wrongStep = await confirm(run.workflow_run_id, {
      choice: 'continue_with_new',
      submitted_version_id: details.submitted_version,
      restart_at: 'caption',
    });
    expect(wrongStep.status).toBe(409);
    expect(wrongStep.body.error.code).toBe('CONFLICT');
    expect((await client.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);

    const restarted = await confirm(run.workflow_run_id, {
      choice: 'continue_with_new',
      submitted_version_id: details.submitted_version,
      restart_at: 'pick',
    });
    expect(restarted.status).toBe(200);
    expect(restarted.body).toMatchObject({
      current_version_id: details.submitted_version,
      current_step: 'pick',
      current_module: 'idea',
      status: 'awaiting_input',
    });
    await expectConsistentLog(client, run.workflow_run_id);
  });

  it('the identical workflow, re-zipped, resumes without a mismatch and re-issues the same interaction', async () => {
    const files = new Map([['workflow.json', JSON.stringify(story('story_same'))]]);
    const v1 = await client.submitZip(await zipFiles(files, { date: new Date('2024-01-01') }));
    const { run } = await client.start({ workflow_version_id: v1 });
    const pendingId = run.pending_interaction?.interaction_id;
    const response = await client.request(`/v1/runs/${run.workflow_run_id}/resume`, {
      method: 'POST',
      headers: { 'content-type': 'application/zip' },
      body: await zipFiles(files, { date: new Date('2025-05-05'), level: 1 }),
    });
    expect(response.status).toBe(200);
    const resumed = (await response.json()) as RunView;
    expect(resumed).toMatchObject({ current_version_id: v1, status: 'awaiting_input' });
    expect(resumed.pending_interaction?.interaction_id).toBe(pendingId);
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(events.slice(-2).map((e) => [e.event_type, e.data['interaction_id'] ?? null])).toEqual([
      ['run_resumed', null],
      ['interaction_requested', pendingId],
    ]);
    // An empty body resumes too.
    expect(
      (await client.request(`/v1/runs/${run.workflow_run_id}/resume`, { method: 'POST' })).status,
    ).toBe(200);
  });

  it('a run in error retries its failed module on resume', async () => {
    const v1 = await client.submitJson({
      workflow_id: 'fails_once',
      steps: [
        {
          step_id: 's',
          modules: [
            {
              module_id: 'test.flaky',
              name: 'f',
              inputs: { fail_times: 1, value: 'done' },
              outputs_to_state: { value: 'v' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: v1 });
    expect(run).toMatchObject({ status: 'error', current_module: 'f' });
    const response = await client.request(`/v1/runs/${run.workflow_run_id}/resume`, {
      method: 'POST',
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'completed', error: null });
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(
      events.filter((e) => e.event_type === 'module_started').map((e) => e.data['attempt']),
    ).toEqual([1, 2]);
  });

  it('refuses a workflow of another template, and finished runs', async () => {
    const { run } = await runToCaption('story_refusals');
    const other = await resume(run.workflow_run_id, story('another_template'));
    expect(other.status).toBe(409);
    expect(errorEnvelopeSchema.parse(await other.json()).error.code).toBe('CONFLICT');
    await client.request(`/v1/runs/${run.workflow_run_id}/cancel`, { method: 'POST' });
    const finished = await client.request(`/v1/runs/${run.workflow_run_id}/resume`, {
      method: 'POST',
    });
    expect(finished.status).toBe(409);
    expect(errorEnvelopeSchema.parse(await finished.json()).error.code).toBe('RUN_FINISHED');
  });

  it('concurrent confirm and respond end in one of the serial orders, never a mix', async () => {
    for (let round = 0; round < 6; round++) {
      const { v1, run } = await runToCaption(`story_race_${round}`);
      const mismatch = await resume(
        run.workflow_run_id,
        story(`story_race_${round}`, { finalValue: 'raced' }),
      );
      const v2 = (
        errorEnvelopeSchema.parse(await mismatch.json()).error.details as {
          submitted_version: string;
        }
      ).submitted_version;
      const [switched, answered] = await Promise.all([
        confirm(run.workflow_run_id, { choice: 'continue_with_new', submitted_version_id: v2 }),
        client.answer(run.workflow_run_id, run.pending_interaction?.interaction_id ?? '', {
          value: 'racing',
        }),
      ]);
      expect(switched.status).toBe(200);
      // Answer first: the answer lands under v1, then the run switches. Switch first: the
      // interaction is asked again under v2 (a new id), so the old answer is no longer pending.
      expect([200, 409]).toContain(answered.status);
      const events = await expectConsistentLog(client, run.workflow_run_id);
      const switchSeq = events.find((e) => e.event_type === 'version_switched')?.seq ?? 0;
      for (const event of events)
        expect(event.workflow_version_id, `${event.seq} ${event.event_type}`).toBe(
          event.seq < switchSeq ? v1 : v2,
        );
      const responded = events.filter((e) => e.event_type === 'interaction_responded');
      if (answered.status === 200) expect(responded.at(-1)?.seq).toBeLessThan(switchSeq);
      else expect(responded.every((e) => e.seq < switchSeq)).toBe(true);
    }
  });
});

/** Four questions in a row, each in its own step. */
const quiz = {
  workflow_id: 'quiz',
  steps: ['q1', 'q2', 'q3', 'q4'].map((step) => ({
    step_id: step,
    modules: [
      {
        module_id: 'transform.set',
        name: 'prepare',
        inputs: { value: `asked ${step}` },
        outputs_to_state: { value: `${step}_prepared` },
      },
      {
        module_id: 'user.select',
        name: 'ask',
        inputs: { prompt: step, options: ['a', 'b', 'c'] },
        outputs_to_state: { selected: step },
      },
    ],
  })),
};

interface BranchItem {
  branch_id: string;
  parent_branch_id: string | null;
  branch_point_event_id: string | null;
  lineage: { branch_id: string; until_seq: number }[];
  status: string;
}

async function branchFrom(runId: string, eventId: string) {
  const response = await client.request(`/v1/runs/${runId}/branches`, {
    method: 'POST',
    json: { from_event_id: eventId },
  });
  return {
    status: response.status,
    body: (await response.json()) as { branch: BranchItem; run: RunView },
  };
}

describe('branches', () => {
  let versionId: string;
  beforeAll(async () => {
    versionId = await client.submitJson(quiz);
  });

  async function answeredThree() {
    const { run } = await client.start({ workflow_version_id: versionId });
    let current = run;
    for (let i = 0; i < 3; i++)
      current = await client.answerPending(current, { selected_indices: [0] });
    expect(current.current_step).toBe('q4');
    return current;
  }

  it('forks at an interaction three steps back, re-asks it without re-running the past, and keeps both paths', async () => {
    const original = await answeredThree();
    const rootBranch = original.active_branch_id;
    const rootEvents = await client.events(original.workflow_run_id);
    const q1Asked = rootEvents.find(
      (e) => e.event_type === 'interaction_requested' && e.step_id === 'q1',
    );
    const { status, body } = await branchFrom(original.workflow_run_id, q1Asked?.event_id ?? '');
    expect(status).toBe(201);
    expect(body.branch).toMatchObject({
      parent_branch_id: rootBranch,
      branch_point_event_id: q1Asked?.event_id,
      lineage: [{ branch_id: rootBranch, until_seq: q1Asked?.seq }],
      status: 'active',
    });
    expect(body.run).toMatchObject({
      active_branch_id: body.branch.branch_id,
      status: 'awaiting_input',
      current_step: 'q1',
      current_module: 'ask',
    });
    expect(body.run.pending_interaction?.interaction_id).toBe(q1Asked?.data['interaction_id']);

    let current = await client.answerPending(body.run, { selected_indices: [2] });
    for (let i = 0; i < 3; i++)
      current = await client.answerPending(current, { selected_indices: [1] });
    expect(current.status).toBe('completed');

    // The new branch: the root's events up to the fork, then its own; nothing before the fork re-ran.
    const branchEvents = await expectConsistentBranch(
      original.workflow_run_id,
      body.branch.branch_id,
    );
    const own = branchEvents.filter((e) => e.branch_id === body.branch.branch_id);
    expect(own[0]?.event_type).toBe('branch_created');
    expect(own[1]).toMatchObject({ event_type: 'interaction_responded', step_id: 'q1' });
    expect(own.filter((e) => e.event_type === 'module_started' && e.step_id === 'q1')).toEqual([]);
    expect(branchEvents.filter((e) => e.branch_id === rootBranch).map((e) => e.seq)).toEqual(
      rootEvents.filter((e) => e.seq <= (q1Asked?.seq ?? 0)).map((e) => e.seq),
    );
    expect((await client.state(original.workflow_run_id)).state).toMatchObject({
      q1: 'c',
      q2: 'b',
      q3: 'b',
      q4: 'b',
    });

    // The root branch is intact: same events, its own state, still waiting at q4.
    expect(await client.events(original.workflow_run_id, `branch_id=${rootBranch}`)).toEqual(
      rootEvents,
    );
    // Small pages cross ranges of seq where the other branch's events lie (and, for the root,
    // end in a stretch holding none of its own): the same events, in the same order.
    for (const branchId of [rootBranch, body.branch?.branch_id ?? '']) {
      const whole = await client.events(original.workflow_run_id, `branch_id=${branchId}`);
      expect(await eventsInPagesOf(original.workflow_run_id, branchId, 2)).toEqual(whole);
    }
    const rootState = await client.state(original.workflow_run_id, `?branch_id=${rootBranch}`);
    expect(rootState.state).toEqual({
      q1_prepared: 'asked q1',
      q1: 'a',
      q2_prepared: 'asked q2',
      q2: 'a',
      q3_prepared: 'asked q3',
      q3: 'a',
      q4_prepared: 'asked q4',
    });
    expect(rootState.as_of_seq).toBe(rootEvents.at(-1)?.seq);
  });

  it('two forks from one event are independent siblings', async () => {
    const original = await answeredThree();
    const rootBranch = original.active_branch_id;
    const events = await client.events(original.workflow_run_id);
    const q2Asked = events.find(
      (e) => e.event_type === 'interaction_requested' && e.step_id === 'q2',
    );
    const first = await branchFrom(original.workflow_run_id, q2Asked?.event_id ?? '');
    const firstDone = await client.answerPending(first.body.run, { selected_indices: [1] });
    const second = await branchFrom(original.workflow_run_id, q2Asked?.event_id ?? '');
    await client.answerPending(second.body.run, { selected_indices: [2] });
    expect(firstDone.active_branch_id).toBe(first.body.branch.branch_id);
    expect(second.body.branch.parent_branch_id).toBe(rootBranch);
    expect(first.body.branch.parent_branch_id).toBe(rootBranch);
    expect(second.body.branch.lineage).toEqual(first.body.branch.lineage);

    const tree = (await (
      await client.request(`/v1/runs/${original.workflow_run_id}/branches`)
    ).json()) as { items: BranchItem[] };
    expect(tree.items.map((b) => [b.branch_id, b.parent_branch_id, b.status])).toEqual([
      [rootBranch, null, 'inactive'],
      [first.body.branch.branch_id, rootBranch, 'inactive'],
      [second.body.branch.branch_id, rootBranch, 'active'],
    ]);
    const firstState = await client.state(
      original.workflow_run_id,
      `?branch_id=${first.body.branch.branch_id}`,
    );
    const secondState = await client.state(
      original.workflow_run_id,
      `?branch_id=${second.body.branch.branch_id}`,
    );
    expect(firstState.state['q2']).toBe('b');
    expect(secondState.state['q2']).toBe('c');
    expect(firstState.state['q1']).toBe('a');
    expect(secondState.state['q1']).toBe('a');
    // The second fork sees nothing of the first.
    const secondEvents = await client.events(
      original.workflow_run_id,
      `branch_id=${second.body.branch.branch_id}`,
    );
    expect(secondEvents.some((e) => e.branch_id === first.body.branch.branch_id)).toBe(false);
    await expectConsistentBranch(original.workflow_run_id, first.body.branch.branch_id);
    await expectConsistentBranch(original.workflow_run_id, second.body.branch.branch_id);
  });

  it('reopens a completed run from an earlier event, and refuses unknown events', async () => {
    const original = await answeredThree();
    const done = await client.answerPending(original, { selected_indices: [0] });
    expect(done.status).toBe('completed');
    const events = await client.events(done.workflow_run_id);
    const prepared = events.find(
      (e) =>
        e.event_type === 'module_completed' && e.step_id === 'q3' && e.module_name === 'prepare',
    );
    const { status, body } = await branchFrom(done.workflow_run_id, prepared?.event_id ?? '');
    expect(status).toBe(201);
    expect(body.run).toMatchObject({
      status: 'awaiting_input',
      current_step: 'q3',
      current_module: 'ask',
    });
    // A new interaction: asked anew on this branch because the fork came before it was asked.
    expect(body.run.pending_interaction?.interaction_id).not.toBe(
      events.find((e) => e.event_type === 'interaction_requested' && e.step_id === 'q3')?.data[
        'interaction_id'
      ],
    );
    const unknown = await branchFrom(
      done.workflow_run_id,
      'evt_01900000-0000-7000-8000-000000000000',
    );
    expect(unknown.status).toBe(404);
    const other = await answeredThree();
    const foreign = await branchFrom(other.workflow_run_id, prepared?.event_id ?? '');
    expect(foreign.status).toBe(404);
  });
});

/** The branch's events are gap-free in its own view and fold to the state the API reports. */
/** A branch's events read `limit` at a time, following `next_after_seq` to the end. */
async function eventsInPagesOf(runId: string, branchId: string, limit: number) {
  const all: EventView[] = [];
  let after = 0;
  for (let pages = 0; pages < 1_000; pages++) {
    const response = await client.request(
      `/v1/runs/${runId}/events?branch_id=${branchId}&after_seq=${after}&limit=${limit}`,
    );
    expect(response.status).toBe(200);
    const page = (await response.json()) as { items: EventView[]; next_after_seq: number | null };
    expect(page.items.length).toBeLessThanOrEqual(limit);
    all.push(...page.items);
    if (page.next_after_seq === null) return all;
    after = page.next_after_seq;
  }
  throw new Error('paging did not end');
}

async function expectConsistentBranch(runId: string, branchId: string): Promise<EventView[]> {
  const events = await client.events(runId, `branch_id=${branchId}`);
  const seqs = events.map((e) => e.seq);
  expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
  expect(new Set(seqs).size).toBe(seqs.length);
  const { replayEvents } = await import('@stepwise/shared');
  const replayed = replayEvents(
    branchId,
    events.map((e) => ({ ...e, event_type: e.event_type as never })),
  );
  expect((await client.state(runId, `?branch_id=${branchId}`)).state).toEqual(replayed.state);
  return events;
}

describe('retry on the same branch', () => {
  it('re-runs from an earlier module with feedback it can read; later events stay in the log', async () => {
    const versionId = await client.submitJson({
      workflow_id: 'drafts',
      steps: [
        {
          step_id: 'draft',
          modules: [
            {
              module_id: 'transform.template',
              name: 'write',
              inputs: {
                template: 'draft{% if run.feedback %} after "{{ run.feedback }}"{% endif %}',
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
              name: 'ok',
              inputs: { message: 'Good? {{ state.draft }}' },
              outputs_to_state: { confirmed: 'ok' },
            },
          ],
        },
      ],
    });
    const { run } = await client.start({ workflow_version_id: versionId });
    expect((await client.state(run.workflow_run_id)).state['draft']).toBe('draft');
    const retried = await client.request(`/v1/runs/${run.workflow_run_id}/retry`, {
      method: 'POST',
      json: { step_id: 'draft', feedback: 'shorter' },
    });
    expect(retried.status).toBe(200);
    const after = (await retried.json()) as RunView;
    expect(after).toMatchObject({
      status: 'awaiting_input',
      current_step: 'review',
      active_branch_id: run.active_branch_id,
    });
    expect((after.pending_interaction?.request as { message: string }).message).toBe(
      'Good? draft after "shorter"',
    );
    expect(after.pending_interaction?.interaction_id).not.toBe(
      run.pending_interaction?.interaction_id,
    );
    expect((await client.state(run.workflow_run_id)).state['draft']).toBe('draft after "shorter"');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(
      events.filter((e) => e.event_type === 'module_completed' && e.module_name === 'write'),
    ).toHaveLength(2);
    expect(events.find((e) => e.event_type === 'retry_requested')?.data).toEqual({
      target: { step_id: 'draft', module_name: 'write' },
      feedback: 'shorter',
    });
    // The old interaction is closed.
    expect(
      (
        await client.answer(run.workflow_run_id, run.pending_interaction?.interaction_id ?? '', {
          confirmed: true,
        })
      ).status,
    ).toBe(409);

    const ahead = await client.request(`/v1/runs/${run.workflow_run_id}/retry`, {
      method: 'POST',
      json: { step_id: 'nope' },
    });
    expect(ahead.status).toBe(409);
    expect(errorEnvelopeSchema.parse(await ahead.json()).error).toMatchObject({
      code: 'CONFLICT',
      details: [{ path: 'body.step_id', message: 'not in the run’s version' }],
    });
    const done = await client.answerPending(after, { confirmed: true });
    expect(done.status).toBe('completed');
    const finished = await client.request(`/v1/runs/${run.workflow_run_id}/retry`, {
      method: 'POST',
      json: { step_id: 'draft' },
    });
    expect(finished.status).toBe(409);
    expect(errorEnvelopeSchema.parse(await finished.json()).error.code).toBe('RUN_FINISHED');
  });

  it('refuses a module after the current position', async () => {
    const versionId = await client.submitJson(quiz);
    const { run } = await client.start({ workflow_version_id: versionId });
    const response = await client.request(`/v1/runs/${run.workflow_run_id}/retry`, {
      method: 'POST',
      json: { step_id: 'q3' },
    });
    expect(response.status).toBe(409);
    expect(errorEnvelopeSchema.parse(await response.json()).error.code).toBe('CONFLICT');
    expect((await client.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);
  });
});
