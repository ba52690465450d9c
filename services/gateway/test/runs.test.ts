import { beforeAll, describe, expect, it } from 'vitest';
import { eventViewSchema } from '@stepwise/shared';
import { exampleBundle } from '../../../test/support/bundles.js';
import { useTestDatabases } from '../../../test/support/databases.js';
import {
  createTestUser,
  startTestGateway,
  startTestResolver,
} from '../../../test/support/gateway.js';
import { startTestRunner } from '../../../test/support/runner.js';
import { RunsClient, expectConsistentLog } from '../../../test/support/runs.js';

const db = await useTestDatabases('runs');
const gateway = await startTestGateway(db);
await startTestResolver(db);
await startTestRunner(db);

let alice: RunsClient;
let exampleVersion: string;
beforeAll(async () => {
  alice = new RunsClient(gateway, (await createTestUser(gateway, 'alice')).api_key);
  exampleVersion = await alice.submitZip(await exampleBundle());
});

describe('the example workflow end to end', () => {
  it('starts, waits for each person, completes, and its log replays to its state', async () => {
    const { status, run: started } = await alice.start({
      workflow_version_id: exampleVersion,
      project_name: 'cats-weekly',
      initial_state: { topic: 'kittens' },
    });
    expect(status).toBe(201);
    expect(started).toMatchObject({
      status: 'awaiting_input',
      current_step: 'ideas',
      current_module: 'choose_idea',
      project_name: 'cats-weekly',
    });
    const options = (started.pending_interaction?.request as { options: { value: string }[] })
      .options;
    expect(options.map((o) => o.value)).toEqual([
      'kittens asleep in a sunbeam',
      'kittens versus a cucumber',
      'kittens discovering a mirror',
      'kittens at 3 a.m.',
    ]);

    let run = await alice.answerPending(started, { selected_indices: [1] });
    expect(run).toMatchObject({ current_step: 'caption', current_module: 'write_caption' });
    expect((run.pending_interaction?.request as { default: string }).default).toBe(
      'Kittens versus a cucumber',
    );
    run = await alice.answerPending(run, { value: 'Who wins?' });
    expect(run.current_module).toBe('clip_settings');
    run = await alice.answerPending(run, { values: { duration_s: 20, mood: 'funny' } });
    expect(run.current_module).toBe('approve');
    expect((run.pending_interaction?.request as { message: string }).message).toBe(
      'Publish "Who wins?" (funny, 20 s)?\n',
    );
    run = await alice.answerPending(run, { confirmed: true });
    expect(run).toMatchObject({ status: 'completed', pending_interaction: null, error: null });

    const events = await expectConsistentLog(alice, run.workflow_run_id);
    for (const event of events) {
      eventViewSchema.parse(event);
      expect(event.workflow_version_id).toBe(exampleVersion);
      expect(event.branch_id).toBe(run.active_branch_id);
      expect(event.correlation_id).toMatch(/^corr_/);
    }
    expect(
      events.map(
        (e) =>
          `${e.event_type}${e.module_name ? `:${e.module_name}` : e.step_id ? `:${e.step_id}` : ''}`,
      ),
    ).toEqual([
      'run_created',
      'step_started:ideas',
      'module_started:seed_ideas',
      'module_completed:seed_ideas',
      'module_started:choose_idea',
      'interaction_requested:choose_idea',
      'interaction_responded:choose_idea',
      'module_completed:choose_idea',
      'step_completed:ideas',
      'step_started:caption',
      'module_started:write_caption',
      'interaction_requested:write_caption',
      'interaction_responded:write_caption',
      'module_completed:write_caption',
      'module_started:clip_settings',
      'interaction_requested:clip_settings',
      'interaction_responded:clip_settings',
      'module_completed:clip_settings',
      'step_completed:caption',
      'step_started:prompt',
      'module_started:render_prompt',
      'module_completed:render_prompt',
      'module_started:mark_music',
      'module_completed:mark_music',
      'step_completed:prompt',
      'step_started:review',
      'module_started:approve',
      'interaction_requested:approve',
      'interaction_responded:approve',
      'module_completed:approve',
      'step_completed:review',
      'run_completed',
    ]);
    // Each event type carries the data runs.md gives it.
    const dataKeys: Record<string, string[]> = {
      run_created: ['initial_state', 'project_name', 'workflow_version_id'],
      step_started: [],
      step_completed: [],
      module_started: ['attempt', 'effects', 'idempotency_key', 'inputs'],
      module_completed: ['outputs', 'state_changes'],
      interaction_requested: ['interaction_id', 'module_id', 'request'],
      interaction_responded: ['interaction_id', 'response'],
      run_completed: ['state'],
    };
    for (const event of events)
      expect(Object.keys(event.data).sort(), event.event_type).toEqual(dataKeys[event.event_type]);
    expect(events[0]?.data).toEqual({
      project_name: 'cats-weekly',
      initial_state: { topic: 'kittens', platform: 'shorts' },
      workflow_version_id: exampleVersion,
    });
    const requested = events.find((e) => e.event_type === 'interaction_requested');
    const responded = events.find((e) => e.event_type === 'interaction_responded');
    expect(responded?.data['interaction_id']).toBe(requested?.data['interaction_id']);
    expect(responded?.data['response']).toEqual({ selected_indices: [1] });
    expect(
      events.find((e) => e.module_name === 'choose_idea' && e.event_type === 'module_completed')
        ?.data,
    ).toEqual({
      outputs: { selected: 'kittens versus a cucumber', selected_indices: [1] },
      state_changes: { idea: 'kittens versus a cucumber' },
    });
    expect(new Set(events.map((e) => e.timestamp)).size).toBeGreaterThan(1);

    const state = await alice.state(run.workflow_run_id);
    expect(state.state).toMatchObject({
      topic: 'kittens',
      idea: 'kittens versus a cucumber',
      caption: 'Who wins?',
      approved: true,
      soundtrack: 'with music',
      settings: { duration_s: 20, mood: 'funny', music: true },
    });
    expect(state.state['video_prompt']).toContain('A 20-second vertical clip for shorts.');
  });
});

/** A workflow of the given steps, each a list of modules. */
function workflow(
  id: string,
  steps: Record<string, unknown[]>,
  extra: Record<string, unknown> = {},
) {
  return {
    workflow_id: id,
    steps: Object.entries(steps).map(([step_id, modules]) => ({ step_id, modules })),
    ...extra,
  };
}

describe('interactions', () => {
  let versionId: string;
  beforeAll(async () => {
    versionId = await alice.submitJson(
      workflow('asks', {
        pick: [
          {
            module_id: 'user.select',
            name: 'pick',
            inputs: { prompt: 'Pick', options: ['a', 'b', 'c'] },
            outputs_to_state: { selected: 'choice' },
          },
        ],
        name: [
          {
            module_id: 'user.text_input',
            name: 'name',
            inputs: { prompt: 'Name?', pattern: '[a-z]+', max_length: 5 },
            outputs_to_state: { value: 'name' },
          },
        ],
        form: [
          {
            module_id: 'user.form',
            name: 'form',
            inputs: {
              fields: [
                { name: 'n', type: 'number', min: 1, max: 3 },
                { name: 'kind', type: 'enum', options: ['x', 'y'] },
              ],
            },
            outputs_to_state: { values: 'form' },
          },
        ],
      }),
    );
  });

  it('refuses invalid responses with 422 listing every error, and appends nothing', async () => {
    const { run } = await alice.start({ workflow_version_id: versionId });
    const id = run.pending_interaction?.interaction_id ?? '';
    const cases: [unknown, string[]][] = [
      [{ selected_indices: [7] }, ['response.selected_indices[0]']],
      [{ selected_indices: [0, 1] }, ['response.selected_indices']],
      [{ selected_indices: 'zero' }, ['response.selected_indices']],
      [{ choice: 0 }, ['response']],
    ];
    for (const [response, paths] of cases) {
      const { status, body } = await alice.answer(run.workflow_run_id, id, response);
      expect(status, JSON.stringify(response)).toBe(422);
      expect(body.error.code).toBe('INTERACTION_INVALID');
      expect(
        (body.error.details as { path: string }[]).map((d) => d.path).sort(),
        JSON.stringify(body),
      ).toEqual(expect.arrayContaining(paths));
    }
    // Not an answer of any module (the document says an answer is an object): refused at the edge.
    for (const response of ['a', 7, null, [0]]) {
      const { status, body } = await alice.answer(run.workflow_run_id, id, response);
      expect(status, JSON.stringify(response)).toBe(400);
      expect(body.error.code).toBe('BAD_REQUEST');
    }
    expect((await alice.get(run.workflow_run_id)).last_seq).toBe(run.last_seq);

    let next = await alice.answerPending(run, { selected_indices: [2] });
    const textId = next.pending_interaction?.interaction_id ?? '';
    const mismatch = await alice.answer(next.workflow_run_id, textId, { value: 'ABCDEFG' });
    expect(mismatch.status).toBe(422);
    expect((mismatch.body.error.details as { message: string }[]).map((d) => d.message)).toEqual([
      'must be at most 5 characters',
      'must match the pattern [a-z]+',
    ]);
    const wrongType = await alice.answer(next.workflow_run_id, textId, { value: 42 });
    expect(wrongType.status).toBe(422);
    next = await alice.answerPending(next, { value: 'ada' });

    const form = await alice.answer(
      next.workflow_run_id,
      next.pending_interaction?.interaction_id ?? '',
      { values: { n: 9, kind: 'z', extra: true } },
    );
    expect(form.status).toBe(422);
    expect((form.body.error.details as { path: string }[]).map((d) => d.path).sort()).toEqual([
      'response.values.extra',
      'response.values.kind',
      'response.values.n',
    ]);
    next = await alice.answerPending(next, { values: { n: 2, kind: 'y' } });
    expect(next.status).toBe('completed');
    expect((await alice.state(next.workflow_run_id)).state).toEqual({
      choice: 'c',
      name: 'ada',
      form: { n: 2, kind: 'y' },
    });
    await expectConsistentLog(alice, next.workflow_run_id);
  });

  it('answers 409 to a second answer, and lets exactly one of 10 concurrent answers win', async () => {
    const { run } = await alice.start({ workflow_version_id: versionId });
    const id = run.pending_interaction?.interaction_id ?? '';
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        alice.answer(run.workflow_run_id, id, { selected_indices: [i % 3] }),
      ),
    );
    expect(answers.filter((a) => a.status === 200)).toHaveLength(1);
    const losers = answers.filter((a) => a.status !== 200);
    expect(losers.map((a) => a.status)).toEqual(Array(9).fill(409));
    expect(losers.every((a) => a.body.error.code === 'INTERACTION_NOT_PENDING')).toBe(true);
    const events = await expectConsistentLog(alice, run.workflow_run_id);
    expect(events.filter((e) => e.event_type === 'interaction_responded')).toHaveLength(1);
    const again = await alice.answer(run.workflow_run_id, id, { selected_indices: [0] });
    expect(again.status).toBe(409);
  });

  it('answers 409 INTERACTION_NOT_PENDING to an interaction id that is not pending', async () => {
    const { run } = await alice.start({ workflow_version_id: versionId });
    const { status, body } = await alice.answer(
      run.workflow_run_id,
      'int_000000000000000000000000',
      { selected_indices: [0] },
    );
    expect(status).toBe(409);
    expect(body.error.code).toBe('INTERACTION_NOT_PENDING');
  });
});

describe('cancel, retry and plugins', () => {
  it('cancels a waiting run, then refuses to cancel it again', async () => {
    const versionId = await alice.submitJson(
      workflow('cancel_me', {
        s: [{ module_id: 'user.confirm', name: 'ok', inputs: { message: 'ok?' } }],
      }),
    );
    const { run } = await alice.start({ workflow_version_id: versionId });
    const cancelled = await alice.request(`/v1/runs/${run.workflow_run_id}/cancel`, {
      method: 'POST',
    });
    expect(cancelled.status).toBe(200);
    expect(await cancelled.json()).toMatchObject({
      status: 'cancelled',
      pending_interaction: null,
    });
    const again = await alice.request(`/v1/runs/${run.workflow_run_id}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(((await again.json()) as { error: { code: string } }).error.code).toBe('RUN_FINISHED');
    const answer = await alice.answer(
      run.workflow_run_id,
      run.pending_interaction?.interaction_id ?? '',
      { confirmed: true },
    );
    expect(answer.status).toBe(409);
    await expectConsistentLog(alice, run.workflow_run_id);
  });

  it('retries a failing module with backoff, then succeeds; without retries left the run errors', async () => {
    const versionId = await alice.submitJson(
      workflow('flaky', {
        s: [
          {
            module_id: 'test.flaky',
            name: 'twice',
            inputs: { fail_times: 2, value: 'ok' },
            retry: { max_attempts: 3, backoff_ms: 50 },
            outputs_to_state: { attempts: 'attempts' },
          },
          {
            module_id: 'test.flaky',
            name: 'never',
            inputs: { fail_times: 5 },
            retry: { max_attempts: 2, backoff_ms: 20 },
          },
        ],
      }),
    );
    const { run } = await alice.start({ workflow_version_id: versionId });
    const settled = await alice.get(run.workflow_run_id, '?wait=true&wait_ms=10000');
    expect(settled).toMatchObject({
      status: 'error',
      current_module: 'never',
      error: { code: 'MODULE_ERROR', message: 'flaky failure on attempt 2' },
    });
    const events = await expectConsistentLog(alice, run.workflow_run_id);
    const failures = events
      .filter((e) => e.event_type === 'module_failed')
      .map((e) => [e.module_name, e.data['attempt'], e.data['will_retry']]);
    expect(failures).toEqual([
      ['twice', 1, true],
      ['twice', 2, true],
      ['never', 1, true],
      ['never', 2, false],
    ]);
    expect((await alice.state(run.workflow_run_id)).state['attempts']).toBe(3);
  });

  it('runs an interactive plugin module', async () => {
    const versionId = await alice.submitJson(
      workflow('vote', {
        s: [
          {
            module_id: 'test.vote',
            name: 'v',
            inputs: { question: 'Ship it?' },
            outputs_to_state: { approved: 'shipped' },
          },
        ],
      }),
    );
    const { run } = await alice.start({ workflow_version_id: versionId });
    expect(run.pending_interaction).toMatchObject({
      module_id: 'test.vote',
      request: { question: 'Ship it?' },
    });
    expect(
      (
        await alice.answer(run.workflow_run_id, run.pending_interaction?.interaction_id ?? '', {
          answer: 'maybe',
        })
      ).status,
    ).toBe(422);
    const done = await alice.answerPending(run, { answer: 'yes' });
    expect(done.status).toBe('completed');
    expect((await alice.state(run.workflow_run_id)).state).toEqual({ shipped: true });
  });
});

describe('templating', () => {
  it('passes native values, honours when, and names an undefined variable', async () => {
    const versionId = await alice.submitJson(
      workflow(
        'templating',
        {
          s: [
            {
              module_id: 'transform.set',
              name: 'list',
              inputs: { value: '{{ config.items | reverse }}' },
              outputs_to_state: { value: 'items' },
            },
            {
              module_id: 'transform.set',
              name: 'count',
              inputs: { value: '{{ state.items | size }}' },
              outputs_to_state: { value: 'count' },
            },
            {
              module_id: 'transform.set',
              name: 'text',
              inputs: { value: 'n={{ state.count }}' },
              outputs_to_state: { value: 'text' },
            },
            {
              module_id: 'transform.set',
              name: 'skipped',
              when: 'state.count > 5',
              inputs: { value: 1 },
              outputs_to_state: { value: 'never' },
            },
            {
              module_id: 'transform.set',
              name: 'taken',
              when: "state.mode == 'fast' and state.count > 2",
              inputs: { value: '{{ run.project_name }}' },
              outputs_to_state: { value: 'project' },
            },
            {
              module_id: 'transform.set',
              name: 'broken',
              inputs: { value: '{{ state.missing.deep }}' },
            },
          ],
        },
        { config: { items: [1, 2, 3] }, initial_state: { mode: 'fast' } },
      ),
    );
    const { run } = await alice.start({ workflow_version_id: versionId, project_name: 'proj' });
    expect(run).toMatchObject({
      status: 'error',
      current_module: 'broken',
      error: { code: 'TEMPLATE_ERROR' },
    });
    expect(run.error?.message).toContain('undefined variable: state.missing');
    expect((await alice.state(run.workflow_run_id)).state).toEqual({
      mode: 'fast',
      items: [3, 2, 1],
      count: 3,
      text: 'n=3',
      project: 'proj',
    });
    const events = await expectConsistentLog(alice, run.workflow_run_id);
    expect(events.find((e) => e.event_type === 'module_skipped')).toMatchObject({
      module_name: 'skipped',
      data: { when: 'state.count > 5' },
    });
  });

  it.each([
    ['a prototype', '{{ state.constructor.name }}', /undefined variable: state\.constructor/],
    ['__proto__', '{{ state.__proto__ }}', /undefined variable: state\.__proto__/],
    ['a loop', '{% for i in (1..100000000) %}{{ i }}{% endfor %}', /limit exceeded/],
    [
      'a huge string',
      '{% assign s = "xxxxxxxxxxxxxxxx" %}{% for i in (1..40) %}{% assign s = s | append: s %}{% endfor %}{{ s }}',
      /limit exceeded/,
    ],
  ])(
    'a template that reaches for %s fails its module with a clear error; the worker goes on',
    async (_name, template, message) => {
      const versionId = await alice.submitJson(
        workflow(`hostile_${Math.random().toString(36).slice(2, 8)}`, {
          s: [{ module_id: 'transform.template', name: 't', inputs: { template } }],
        }),
      );
      const { run } = await alice.start({ workflow_version_id: versionId });
      expect(run.status).toBe('error');
      expect(run.error?.code).toBe('TEMPLATE_ERROR');
      expect(run.error?.message).toMatch(message);
      const healthy = await alice.start({ workflow_version_id: exampleVersion });
      expect(healthy.run.status).toBe('awaiting_input');
    },
  );
});

describe('correlation ids', () => {
  it("stamps every event of a command with the client's X-Correlation-Id", async () => {
    const { run } = await alice.start({ workflow_version_id: exampleVersion });
    const answer = await alice.answer(
      run.workflow_run_id,
      run.pending_interaction?.interaction_id ?? '',
      { selected_indices: [0] },
      { 'x-correlation-id': 'client-trace-42' },
    );
    expect(answer.status).toBe(200);
    const events = await alice.events(run.workflow_run_id);
    const caused = events.filter((e) => e.seq > run.last_seq);
    expect(caused.length).toBeGreaterThan(2);
    expect(caused.every((e) => e.correlation_id === 'client-trace-42')).toBe(true);
    expect(
      events
        .filter((e) => e.seq <= run.last_seq)
        .every((e) => e.correlation_id !== 'client-trace-42'),
    ).toBe(true);
  });
});
