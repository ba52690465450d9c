import { setTimeout as sleep } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import type { RunView } from '@stepwise/shared';
import { errorEnvelopeSchema, queueKeyPrefix } from '@stepwise/shared';
import { startTestStack } from './support/stack.js';
import { expectConsistentLog } from './support/runs.js';
import { dueAtOf, interactionOf, ofType, runWaiter } from './support/deadline-runs.js';

/**
 * Deadlines through the HTTP API (people.md, "Notifications and deadlines"; workflows.md,
 * "Deadlines"), with a gateway, resolver and runner in this process on real Redis and MongoDB and
 * deadlines of a second or two: each `on_timeout` policy, a default that only the rendered question
 * can refuse, what a submission may not declare, a run answered in time, and answers that race
 * their deadline. Restarts and lost timers are in deadlines-restart.test.ts.
 */
const { db, gateway, newClient } = await startTestStack('deadlines');
const client = await newClient('waiter');
/** The runner's queue, to see the timers it set (BullMQ keeps completed jobs for a day). */
const runQueue = new Queue('runs', {
  connection: db.redis,
  prefix: queueKeyPrefix(db.queuePrefix, 'runs'),
});
afterAll(() => runQueue.close());

/** Conditions are polled for, with room to spare: a slow machine waits, it does not fail. */
const WAIT = { timeout: 20_000, interval: 100 };

type Module = Record<string, unknown>;
const workflow = (workflowId: string, steps: { step_id: string; modules: Module[] }[]) => ({
  workflow_id: workflowId,
  initial_state: { options: ['a', 'b'] },
  steps,
});
const step = (stepId: string, module: Module) => ({ step_id: stepId, modules: [module] });

/** Starts a run of `versionId` and returns it once its first question is asked. */
async function asked(versionId: string): Promise<RunView> {
  const { status, run } = await client.start({ workflow_version_id: versionId }, '?wait_ms=10000');
  expect(status, JSON.stringify(run)).toBe(201);
  expect(run.status).toBe('awaiting_input');
  expect(run.pending_interaction?.deadline).toBeDefined();
  return run;
}

const runWhen = runWaiter(client, WAIT);

/** Waits until the timer job set for this deadline has run (whatever it found to do). */
async function timerRan(interactionId: string, dueAt: string): Promise<void> {
  const jobId = `deadline-${interactionId}-${Date.parse(dueAt)}`;
  await vi.waitFor(async () => {
    const state = await (await runQueue.getJob(jobId))?.getState();
    if (state !== 'completed') throw new Error(`timer ${jobId} is ${state ?? 'missing'}`);
  }, WAIT);
}

describe('on_timeout: fail', () => {
  it('times the question out, fails the module and the run, and refuses a late answer', async () => {
    const versionId = await client.submitJson(
      workflow('deadline_fail', [
        step('ask', {
          module_id: 'user.confirm',
          name: 'approve',
          inputs: { message: 'Ship it?' },
          timeout: 1_500,
          on_timeout: 'fail',
        }),
      ]),
    );
    const run = await asked(versionId);
    const interactionId = interactionOf(run);
    expect(run.pending_interaction?.deadline).toMatchObject({ on_timeout: 'fail' });
    const requested = ofType(await client.events(run.workflow_run_id), 'interaction_requested');
    const deadline = requested[0]?.data['deadline'] as { asked_at: string } | undefined;
    expect(deadline).toEqual({
      asked_at: expect.any(String),
      due_at: dueAtOf(run),
      on_timeout: 'fail',
    });
    // The inbox's waiting_since is the time the question was asked, reminders or not.
    expect(Date.parse(dueAtOf(run)) - Date.parse(deadline?.asked_at ?? '')).toBe(1_500);
    // Fixed when asked: the timeout after the moment the question was put (the event's time is
    // read as it is written, a moment later).
    const askedAt = Date.parse(requested[0]?.timestamp ?? '');
    expect(Date.parse(dueAtOf(run)) - askedAt).toBeGreaterThan(0);
    expect(Date.parse(dueAtOf(run)) - askedAt).toBeLessThanOrEqual(1_500);

    const failed = await runWhen(run.workflow_run_id, (r) => r.status !== 'awaiting_input');
    expect(failed.status).toBe('error');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    const after = events.filter((event) => event.seq > (requested[0]?.seq ?? 0));
    expect(after.map((event) => event.event_type)).toEqual([
      'interaction_timed_out',
      'module_failed',
      'run_failed',
    ]);
    expect(after[0]).toMatchObject({
      step_id: 'ask',
      module_name: 'approve',
      actor: null,
      data: { interaction_id: interactionId, on_timeout: 'fail', due_at: dueAtOf(run) },
    });
    // A timer never acts before its deadline.
    expect(Date.parse(after[0]?.timestamp ?? '')).toBeGreaterThanOrEqual(Date.parse(dueAtOf(run)));
    expect(after[1]?.data).toMatchObject({
      error: { code: 'INTERACTION_TIMED_OUT', message: expect.stringContaining(dueAtOf(run)) },
      will_retry: false,
    });
    const commands = await db.models.runCommands.collection
      .find({ workflow_run_id: run.workflow_run_id, type: 'timeout' })
      .toArray();
    expect(commands.map((command) => [command['status'], command['payload']])).toEqual([
      ['applied', { interaction_id: interactionId, due_at: dueAtOf(run) }],
    ]);

    const late = await client.answer(run.workflow_run_id, interactionId, { confirmed: true });
    expect(late.status).toBe(409);
    expect(late.body.error.code).toBe('INTERACTION_NOT_PENDING');
  });
});

describe('on_timeout: default', () => {
  it('answers a select with its default_response, and the run completes with it', async () => {
    const versionId = await client.submitJson(
      workflow('deadline_default_select', [
        step('pick', {
          module_id: 'user.select',
          name: 'colour',
          inputs: { prompt: 'Which colour?', options: ['red', 'green'] },
          outputs_to_state: { selected: 'colour' },
          timeout: 'PT1.5S',
          on_timeout: 'default',
          default_response: { selected_indices: [1] },
        }),
        step('echo', {
          module_id: 'transform.set',
          name: 'echo',
          inputs: { value: 'chosen: {{ state.colour }}' },
          outputs_to_state: { value: 'echoed' },
        }),
      ]),
    );
    const run = await asked(versionId);
    expect(run.pending_interaction?.deadline).toMatchObject({ on_timeout: 'default' });
    const done = await runWhen(run.workflow_run_id, (r) => r.status !== 'awaiting_input');
    expect(done.status).toBe('completed');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    const timedOut = ofType(events, 'interaction_timed_out');
    const responded = ofType(events, 'interaction_responded');
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]?.data).toEqual({
      interaction_id: interactionOf(run),
      on_timeout: 'default',
      due_at: dueAtOf(run),
    });
    expect(responded).toHaveLength(1);
    expect(responded[0]).toMatchObject({
      seq: (timedOut[0]?.seq ?? 0) + 1,
      actor: null,
      data: {
        interaction_id: interactionOf(run),
        response: { selected_indices: [1] },
        timed_out: true,
      },
    });
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({
      colour: 'green',
      echoed: 'chosen: green',
    });
  });

  it('answers a text input with its default_response, and the run goes on to the next question', async () => {
    const versionId = await client.submitJson(
      workflow('deadline_default_text', [
        step('name', {
          module_id: 'user.text_input',
          name: 'name',
          inputs: { prompt: 'A name?' },
          outputs_to_state: { value: 'name' },
          timeout: 1_500,
          on_timeout: 'default',
          default_response: { value: 'nobody said' },
        }),
        step('check', {
          module_id: 'user.confirm',
          name: 'check',
          inputs: { message: 'Keep "{{ state.name }}"?' },
        }),
      ]),
    );
    const run = await asked(versionId);
    const moved = await runWhen(run.workflow_run_id, (r) => r.current_step === 'check');
    expect(moved.status).toBe('awaiting_input');
    // The next question has no deadline of its own, and shows the default's output.
    expect(moved.pending_interaction?.deadline).toBeUndefined();
    expect(moved.pending_interaction?.request).toMatchObject({
      message: 'Keep "nobody said"?',
    });
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({ name: 'nobody said' });
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(ofType(events, 'interaction_responded').map((event) => event.data)).toEqual([
      { interaction_id: interactionOf(run), response: { value: 'nobody said' }, timed_out: true },
    ]);
  });

  it('fails the module with the reason when the default does not fit the rendered question', async () => {
    // The options come from state: only the question as asked can say index 5 does not exist.
    const versionId = await client.submitJson(
      workflow('deadline_default_invalid', [
        step('pick', {
          module_id: 'user.select',
          name: 'option',
          inputs: { prompt: 'Which?', options: '{{ state.options }}' },
          timeout: 1_500,
          on_timeout: 'default',
          default_response: { selected_indices: [5] },
        }),
      ]),
    );
    const run = await asked(versionId);
    expect(run.pending_interaction?.request).toMatchObject({
      options: [{ value: 'a' }, { value: 'b' }],
    });
    const failed = await runWhen(run.workflow_run_id, (r) => r.status !== 'awaiting_input');
    expect(failed.status).toBe('error');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(events.slice(-3).map((event) => event.event_type)).toEqual([
      'interaction_timed_out',
      'module_failed',
      'run_failed',
    ]);
    expect(ofType(events, 'interaction_responded')).toEqual([]);
    const error = ofType(events, 'module_failed')[0]?.data['error'] as Record<string, unknown>;
    expect(error['code']).toBe('DEFAULT_RESPONSE_INVALID');
    expect(error['message']).toMatch(/default_response/);
    expect(error['message']).toMatch(/index 5 is out of range \(0-1\)/);
  });
});

describe('on_timeout: remind', () => {
  it('reminds every interval while the question waits, and stops once it is answered', async () => {
    const versionId = await client.submitJson(
      workflow('deadline_remind', [
        step('ask', {
          module_id: 'user.text_input',
          name: 'topic',
          inputs: { prompt: 'Topic?' },
          outputs_to_state: { value: 'topic' },
          timeout: 1_500,
          on_timeout: 'remind',
          remind_every: 'PT1S',
        }),
      ]),
    );
    const run = await asked(versionId);
    const interactionId = interactionOf(run);
    expect(run.pending_interaction?.deadline).toMatchObject({
      on_timeout: 'remind',
      remind_every_ms: 1_000,
    });
    const reminded = await vi.waitFor(async () => {
      const now = await client.get(run.workflow_run_id);
      const events = (await client.events(run.workflow_run_id)).filter(
        (e) => e.seq <= now.last_seq,
      );
      const reminders = ofType(events, 'reminder_sent');
      if (reminders.length < 2) throw new Error(`${reminders.length} reminders so far`);
      return { now, reminders };
    }, WAIT);
    // Each reminder is the next, due when the one before said, and names the one after.
    let dueAt = dueAtOf(run);
    reminded.reminders.forEach((event, index) => {
      expect(event.data).toEqual({
        interaction_id: interactionId,
        reminder: index + 1,
        due_at: dueAt,
        next_due_at: expect.any(String) as unknown,
      });
      expect(Date.parse(String(event.data['next_due_at']))).toBeGreaterThan(Date.parse(dueAt));
      expect(Date.parse(event.timestamp)).toBeGreaterThanOrEqual(Date.parse(dueAt));
      dueAt = String(event.data['next_due_at']);
    });
    // The question stays open, its deadline moved on to the next reminder.
    expect(reminded.now.status).toBe('awaiting_input');
    expect(reminded.now.pending_interaction).toMatchObject({
      interaction_id: interactionId,
      deadline: { due_at: dueAt, reminders_sent: reminded.reminders.length },
    });

    // Reminders commit events while the run waits; the inbox still says since when it waits.
    const inbox = (await (await client.request('/v1/me/interactions')).json()) as {
      items: { workflow_run_id: string; waiting_since: string }[];
    };
    const requested = ofType(await client.events(run.workflow_run_id), 'interaction_requested');
    const askedAt = (requested[0]?.data['deadline'] as { asked_at?: string } | undefined)?.asked_at;
    expect(askedAt).toEqual(expect.any(String));
    expect(
      inbox.items.find((item) => item.workflow_run_id === run.workflow_run_id)?.waiting_since,
    ).toBe(askedAt);

    const answered = await client.answerPending(reminded.now, { value: 'otters' });
    expect(answered.status).toBe('completed');
    const atAnswer = await client.events(run.workflow_run_id);
    const answer = ofType(atAnswer, 'interaction_responded');
    expect(answer.map((event) => event.data)).toEqual([
      { interaction_id: interactionId, response: { value: 'otters' } },
    ]);
    // The reminder due after the answer finds nothing to do; two more intervals bring nothing.
    const lastReminder = ofType(atAnswer, 'reminder_sent').at(-1);
    await timerRan(interactionId, String(lastReminder?.data['next_due_at']));
    await sleep(2_000);
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(events).toEqual(atAnswer);
    expect(ofType(events, 'interaction_timed_out')).toEqual([]);
    expect((await client.state(run.workflow_run_id)).state).toMatchObject({ topic: 'otters' });
  });
});

describe('deadlines at submission', () => {
  const confirm = { module_id: 'user.confirm', name: 'ok', inputs: { message: 'OK?' } };
  it.each([
    {
      name: 'a default_response the module does not take',
      id: 'refused_default_shape',
      module: {
        ...confirm,
        timeout: 'PT5S',
        on_timeout: 'default',
        default_response: { confirmed: 'yes' },
      },
      path: 'steps[0].modules[0].default_response.confirmed',
    },
    {
      name: 'on_timeout default without default_response',
      id: 'refused_default_missing',
      module: { ...confirm, timeout: 'PT5S', on_timeout: 'default' },
      path: 'steps[0].modules[0].default_response',
    },
    {
      name: 'a timeout on a module that asks nobody',
      id: 'refused_not_interactive',
      module: { module_id: 'transform.set', name: 'set', inputs: { value: 1 }, timeout: 'PT5S' },
      path: 'steps[0].modules[0].timeout',
    },
    {
      name: 'a duration in months',
      id: 'refused_months',
      module: { ...confirm, timeout: 'P1M' },
      path: 'steps[0].modules[0].timeout',
    },
  ])('refuses $name (422 at its path), storing nothing', async ({ id, module, path }) => {
    const response = await gateway.request('/v1/workflows', {
      method: 'POST',
      token: client.token,
      json: workflow(id, [step('only', module)]),
    });
    expect(response.status).toBe(422);
    const envelope = errorEnvelopeSchema.parse(await response.json());
    expect(envelope.error.code).toBe('WORKFLOW_INVALID');
    expect(envelope.error.details).toEqual([expect.objectContaining({ path })]);
    const template = await client.request(`/v1/templates/${id}`);
    expect(template.status).toBe(404);
  });
});

describe('a deadline whose command key the owner used first', () => {
  it('still times the question out', async () => {
    const versionId = await client.submitJson(
      workflow('deadline_key_taken', [
        step('ask', {
          module_id: 'user.confirm',
          name: 'ask',
          inputs: { message: 'Sure?' },
          timeout: 1_500,
        }),
      ]),
    );
    const run = await asked(versionId);
    // Keys share one space per user, and this one is made of what the API shows.
    const key = `stepwise-deadline:${interactionOf(run)}:${dueAtOf(run)}`;
    const refused = await client.answer(
      run.workflow_run_id,
      interactionOf(run),
      { confirmed: 'maybe' },
      { 'idempotency-key': key },
    );
    expect([refused.status, refused.body.error.code]).toEqual([422, 'INTERACTION_INVALID']);
    const failed = await runWhen(run.workflow_run_id, (r) => r.status !== 'awaiting_input');
    expect(failed.status).toBe('error');
    const events = await expectConsistentLog(client, run.workflow_run_id);
    expect(ofType(events, 'interaction_timed_out').map((event) => event.data)).toEqual([
      { interaction_id: interactionOf(run), on_timeout: 'fail', due_at: dueAtOf(run) },
    ]);
  });
});

/** A question with a deadline, then one without: a timer that acted on the wrong one would show. */
const twoQuestions = (workflowId: string, deadline: Module) =>
  workflow(workflowId, [
    step('ask', {
      module_id: 'user.select',
      name: 'who',
      inputs: { prompt: 'Who answers?', options: ['person', 'deadline'] },
      outputs_to_state: { selected: 'who' },
      ...deadline,
    }),
    step('after', { module_id: 'user.confirm', name: 'after', inputs: { message: 'Done?' } }),
  ]);

describe('a question answered before its deadline', () => {
  it('is never touched by its timer, though the run waits at the next question', async () => {
    const versionId = await client.submitJson(
      twoQuestions('deadline_in_time', { timeout: 1_500, on_timeout: 'fail' }),
    );
    const run = await asked(versionId);
    const answered = await client.answerPending(run, { selected_indices: [0] });
    expect(answered.current_step).toBe('after');
    const before = await client.events(run.workflow_run_id);
    // The timer was set, and has run by now: it found nothing to do.
    await timerRan(interactionOf(run), dueAtOf(run));
    const after = await expectConsistentLog(client, run.workflow_run_id);
    expect(after).toEqual(before);
    const now = await client.get(run.workflow_run_id);
    expect(now.last_seq).toBe(answered.last_seq);
    expect(now.status).toBe('awaiting_input');
    expect(
      await db.models.runCommands.collection.countDocuments({
        workflow_run_id: run.workflow_run_id,
        type: 'timeout',
      }),
    ).toBe(0);
  });
});

describe('answers that race their deadline', () => {
  it('let the person or the deadline answer each question, never both', async () => {
    const RUNS = 20;
    const versionId = await client.submitJson(
      twoQuestions('deadline_race', {
        timeout: 2_000,
        on_timeout: 'default',
        default_response: { selected_indices: [1] },
      }),
    );
    const runs = await Promise.all(Array.from({ length: RUNS }, () => asked(versionId)));
    // Each answer is sent at its own moment around the deadline: 300 ms before to 300 ms after.
    const replies = await Promise.all(
      runs.map(async (run, index) => {
        const offset = -300 + Math.round((600 * index) / (RUNS - 1));
        await sleep(Math.max(0, Date.parse(dueAtOf(run)) + offset - Date.now()));
        const reply = await client.request(
          `/v1/runs/${run.workflow_run_id}/interactions/${interactionOf(run)}?wait_ms=20000`,
          { method: 'POST', json: { response: { selected_indices: [0] } } },
        );
        const body = (await reply.json()) as { error?: { code: string; message: string } };
        return { run, status: reply.status, code: body.error?.code ?? null };
      }),
    );
    const outcomes = [];
    for (const { run, status, code } of replies) {
      const runId = run.workflow_run_id;
      // Whoever won, the run goes on to the next question.
      await runWhen(runId, (r) => r.current_step === 'after');
      const events = (await expectConsistentLog(client, runId)).filter(
        (event) => event.data['interaction_id'] === interactionOf(run),
      );
      const responded = ofType(events, 'interaction_responded');
      const seen = {
        status,
        code,
        byPerson: responded.filter((event) => event.data['timed_out'] === undefined).length,
        timedOut: ofType(events, 'interaction_timed_out').length,
        byDefault: responded.filter((event) => event.data['timed_out'] === true).length,
        who: (await client.state(runId)).state['who'],
      };
      // The reply tells the person what the log says: their answer, or a clear 409.
      expect(seen, runId).toEqual(
        status === 200
          ? { status, code: null, byPerson: 1, timedOut: 0, byDefault: 0, who: 'person' }
          : {
              status: 409,
              code: 'INTERACTION_NOT_PENDING',
              byPerson: 0,
              timedOut: 1,
              byDefault: 1,
              who: 'deadline',
            },
      );
      outcomes.push(seen.who);
    }
    expect(outcomes).toHaveLength(RUNS);
  });
});
