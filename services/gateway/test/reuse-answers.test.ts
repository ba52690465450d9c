import { describe, expect, it } from 'vitest';
import type { EventView, RunView } from '@stepwise/shared';
import { startTestStack } from '../../../test/support/stack.js';

/**
 * Reusing answers (versions.md): a run that goes back with `reuse_answers: true` is asked only the
 * questions whose request changed; the others are answered with the earlier answer, and the log
 * names it (`reused_from`). Without the flag every question is asked again.
 */
const { newClient } = await startTestStack('reuse_answers');
const client = await newClient('reuser');

/** Three questions, then a last one; v2 asks the third differently. */
function questions(version: 1 | 2) {
  const ask = (step: string, message: string) => ({
    step_id: step,
    modules: [
      {
        module_id: 'user.select',
        name: 'ask',
        inputs: { prompt: message, options: ['yes', 'no', 'maybe'] },
        outputs_to_state: { selected: step },
      },
    ],
  });
  return {
    workflow_id: 'reused_questions',
    steps: [
      ask('first', 'Is the title right?'),
      ask('second', 'Is the length right?'),
      ask('third', version === 1 ? 'Is the tone right?' : 'Is the tone friendly enough?'),
      ask('publish', 'Publish it?'),
    ],
  };
}

const v1 = await client.submitJson(questions(1));
const v2 = await client.submitJson(questions(2));

/** A run that answered the three questions ('no', 'maybe', 'yes') and waits at `publish`. */
async function answeredThree(): Promise<RunView> {
  let { run } = await client.start({ workflow_version_id: v1 }, '?wait_ms=10000');
  for (const choice of [1, 2, 0])
    run = await client.answerPending(run, { selected_indices: [choice] });
  expect(run.current_step).toBe('publish');
  return run;
}

async function post(path: string, body: unknown): Promise<RunView> {
  const response = await client.request(`${path}?wait_ms=10000`, { method: 'POST', json: body });
  const answer = (await response.json()) as RunView;
  expect(response.status, JSON.stringify(answer)).toBe(200);
  return answer;
}

/** The events after `seq`: what going back did. */
async function eventsAfter(runId: string, seq: number): Promise<EventView[]> {
  return (await client.events(runId)).filter((event) => event.seq > seq);
}

describe('reuse_answers', () => {
  it('a restart two questions back with one prompt changed asks only that one', async () => {
    const run = await answeredThree();
    const earlier = await client.events(run.workflow_run_id);
    const moved = await post(`/v1/runs/${run.workflow_run_id}/resume/confirm`, {
      choice: 'restart_at',
      submitted_version_id: v2,
      restart_at: 'first',
      reuse_answers: true,
    });
    expect(moved.status).toBe('awaiting_input');
    expect(moved.current_step).toBe('third');
    const after = await eventsAfter(run.workflow_run_id, earlier.at(-1)?.seq ?? 0);
    const reused = after.filter((event) => event.event_type === 'interaction_responded');
    expect(reused.map((event) => event.step_id)).toEqual(['first', 'second']);
    // Each names the answer it reuses, and carries it.
    const answers = new Map(
      earlier
        .filter((event) => event.event_type === 'interaction_responded')
        .map((event) => [event.event_id, event]),
    );
    for (const event of reused) {
      const source = answers.get(String(event.data['reused_from']));
      expect(source?.step_id).toBe(event.step_id);
      expect(event.data['response']).toEqual(source?.data['response']);
    }
    // The state the reused answers wrote is the one the person's answers wrote.
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({
      first: 'no',
      second: 'maybe',
    });
    // The changed question is asked, and answering it goes on to the last one.
    const answered = await client.answerPending(moved, { selected_indices: [1] });
    expect(answered.current_step).toBe('publish');
  });

  it('without the flag, every question is asked again', async () => {
    const run = await answeredThree();
    const earlier = await client.events(run.workflow_run_id);
    const moved = await post(`/v1/runs/${run.workflow_run_id}/resume/confirm`, {
      choice: 'restart_at',
      submitted_version_id: v2,
      restart_at: 'first',
    });
    expect(moved.current_step).toBe('first');
    let current = moved;
    for (const step of ['first', 'second', 'third']) {
      expect(current.current_step).toBe(step);
      current = await client.answerPending(current, { selected_indices: [0] });
    }
    const after = await eventsAfter(run.workflow_run_id, earlier.at(-1)?.seq ?? 0);
    expect(after.filter((event) => event.data['reused_from'] !== undefined)).toEqual([]);
  });

  it('a retry with nothing changed reuses every answer and returns to where the run stood', async () => {
    const run = await answeredThree();
    const moved = await post(`/v1/runs/${run.workflow_run_id}/retry`, {
      step_id: 'first',
      reuse_answers: true,
    });
    expect(moved.current_step).toBe('publish');
    const responded = (await client.events(run.workflow_run_id)).filter(
      (event) => event.event_type === 'interaction_responded',
    );
    expect(responded.map((event) => Boolean(event.data['reused_from']))).toEqual([
      false,
      false,
      false,
      true,
      true,
      true,
    ]);
  });

  it('a branch from the first question asks it again and reuses the answers after it', async () => {
    const run = await answeredThree();
    const events = await client.events(run.workflow_run_id);
    const firstAsked = events.find(
      (event) => event.event_type === 'interaction_requested' && event.step_id === 'first',
    );
    const response = await client.request(
      `/v1/runs/${run.workflow_run_id}/branches?wait_ms=10000`,
      {
        method: 'POST',
        json: { from_event_id: firstAsked?.event_id, reuse_answers: true },
      },
    );
    expect(response.status).toBe(201);
    const { run: branched } = (await response.json()) as { run: RunView };
    // The question at the fork point is the one to answer again: it is asked.
    expect(branched.current_step).toBe('first');
    // Answered differently; the questions after it, asked as before on the parent branch, are not.
    const answered = await client.answerPending(branched, { selected_indices: [2] });
    expect(answered.current_step).toBe('publish');
    const state = await client.state(run.workflow_run_id);
    expect(state.branch_id).toBe(answered.active_branch_id);
    expect(state.state).toMatchObject({ first: 'maybe', second: 'maybe', third: 'yes' });
    const onBranch = (await client.events(run.workflow_run_id)).filter(
      (event) => event.branch_id === answered.active_branch_id,
    );
    expect(
      onBranch
        .filter((event) => event.event_type === 'interaction_responded')
        .map((event) => [event.step_id, event.data['reused_from'] !== undefined]),
    ).toEqual([
      ['first', false],
      ['second', true],
      ['third', true],
    ]);
  });
});
